"""``heas-envs sweep``: a parameter sweep (:func:`heas_envs.data.batch_run`) from the command line.

``--param KEY=VALUE`` holds a parameter constant; ``--param KEY=V1,V2,...`` (comma-separated
JSON literals) or ``--param 'KEY=[V1, V2]'`` (a JSON list: for strings with commas) sweeps it.
The runs are the cross product of the swept parameters, ``--iterations`` of each. The command
prints the mean of every model reporter at the last step of the runs of each combination, and
writes every row to ``--out FILE.csv`` (Mesa's layout: ``RunId``, ``iteration``, ``Step``,
``seed``, the parameters, the reporters).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from heas_envs.cli import UsageError, _bounded_int, parse_params, register_command
from heas_envs.core.params import MAX_SEED, MAX_STEPS

#: Longest JSON list one ``--param`` takes.
MAX_LIST_TEXT = 10_000


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``heas-envs sweep``."""
    from heas_envs.data.backends import BACKENDS
    from heas_envs.data.batch import MAX_ITERATIONS

    parser.description = (
        "Run an env over the cross product of parameter values, several iterations each; "
        "print the mean of each reporter at the last step per combination, write every row "
        "to --out as CSV."
    )
    parser.add_argument("env_id", help="a registered env id (see `heas-envs list`)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE[,VALUE...]",
        help="a model parameter held constant (one value) or swept (comma-separated JSON "
        "literals, or a JSON list); see `heas-envs params ENV_ID`",
    )
    parser.add_argument(
        "--iterations",
        metavar="N",
        type=_bounded_int("iterations", 1, MAX_ITERATIONS),
        default=1,
        help="runs of each combination (default 1)",
    )
    parser.add_argument(
        "--steps",
        metavar="N",
        type=_bounded_int("steps", 1, MAX_STEPS),
        default=None,
        help="steps of a run (default: the env's max_steps)",
    )
    parser.add_argument(
        "--period",
        metavar="K",
        type=_bounded_int("period", -1, MAX_STEPS),
        default=-1,
        help="keep every K-th step and the last (1: every step; default -1: the last only)",
    )
    parser.add_argument(
        "--seed",
        metavar="S",
        type=_bounded_int("seed", 0, MAX_SEED, "2**63 - 1"),
        default=0,
        help="the sweep's seed (default 0)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="[ROLE=]NAME",
        help="heuristic or random, for one role (ROLE=NAME, repeatable; other roles play the "
        "heuristic) or for every role (NAME)",
    )
    parser.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="KEY",
        help="a per-step metric to record (repeatable; default: every one)",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=None,
        metavar="FIELD",
        help="an agent reporter (reward, alive or obs[k]; repeatable): one row per agent",
    )
    parser.add_argument(
        "--agent-role",
        action="append",
        default=None,
        metavar="ROLE",
        help="a role whose agents get rows (repeatable; default: every role)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where runs go (default: inprocess, or process with --n-jobs > 1)",
    )
    parser.add_argument(
        "--n-jobs",
        metavar="N",
        type=_bounded_int("n-jobs", 1, 4096),
        default=1,
        help="worker processes (process) or CPUs (a local ray); default 1",
    )
    parser.add_argument(
        "--ray-address", metavar="ADDRESS", default=None, help="a Ray cluster to join (ray)"
    )
    parser.add_argument("--out", default=None, metavar="FILE.csv", help="write every row here")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on standard error (default: when it is a terminal)",
    )


def sweep_parameters(env_id: str, items: list[str]) -> dict[str, Any]:
    """``--param`` items as :func:`~heas_envs.data.batch_run` parameters: one value is a
    constant, several (``V1,V2`` or a JSON list) a list to sweep.

    Raises:
        UsageError: A malformed item, a key given twice or a JSON list that is not one.
        ValueError: An unknown parameter or a value that is not of its type (from
            :func:`heas_envs.cli.parse_params`).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key or not text.strip():
            raise UsageError(f"--param takes KEY=VALUE[,VALUE...], got {item!r}")
        if key in out:
            raise UsageError(f"--param {key!r} is given twice")
        if text.strip().startswith("["):
            if len(text) > MAX_LIST_TEXT:
                raise UsageError(f"--param {key}: the list is too long (at most {MAX_LIST_TEXT})")
            try:
                values = json.loads(text)
            except json.JSONDecodeError as err:
                raise UsageError(f"--param {key}: {text!r} is not a JSON list: {err}") from None
            if not isinstance(values, list) or not values:
                raise UsageError(f"--param {key}: give a non-empty JSON list, got {text!r}")
            texts = [json.dumps(v) for v in values]
        else:
            texts = text.split(",")
        parsed = [parse_params(env_id, [f"{key}={t}"])[key] for t in texts]
        out[key] = parsed[0] if len(parsed) == 1 else parsed
    return out


def sweep_policies(items: list[str]) -> Any:
    """``--policy`` items: ``NAME`` alone (every role) or ``ROLE=NAME`` items (a mapping)."""
    if not items:
        return None
    bare = [i for i in items if "=" not in i]
    if bare:
        if len(items) > 1:
            raise UsageError(
                "--policy NAME sets every role's policy; give it alone, or ROLE=NAME items"
            )
        return bare[0]
    policies: dict[str, str] = {}
    for item in items:
        role, _, name = item.partition("=")
        if not role or not name:
            raise UsageError(f"--policy takes [ROLE=]NAME, got {item!r}")
        if role in policies:
            raise UsageError(f"--policy: role {role!r} is given twice")
        policies[role] = name
    return policies


def run_sweep(args: argparse.Namespace) -> int:
    """Run ``heas-envs sweep``: the sweep, the summary table, the CSV."""
    import pandas as pd

    from heas_envs.data.batch import batch_run
    from heas_envs.registration import env_spec

    env_spec(args.env_id)  # an unknown id first
    parameters = sweep_parameters(args.env_id, args.param)
    if args.steps is not None and "max_steps" in parameters:
        raise UsageError("give --steps or --param max_steps, not both")
    if args.period == 0:
        raise UsageError(
            "--period must be -1 (the last step of each run), 1 (every step) or K > 1 (every "
            "K-th step and the last), got 0"
        )
    out = None if args.out is None else _writable(args.out)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    rows = batch_run(
        args.env_id,
        parameters,
        number_processes=args.n_jobs,
        iterations=args.iterations,
        data_collection_period=args.period,
        max_steps=args.steps,
        display_progress=progress,
        policies=sweep_policies(args.policy),
        model_reporters=None if args.metric is None else {k: k for k in args.metric},
        agent_reporters=None if args.agent is None else {f: f for f in args.agent},
        agent_roles=args.agent_role,
        seed=args.seed,
        backend=args.backend,
        ray_address=args.ray_address,
    )
    frame = pd.DataFrame(rows)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(out, index=False)
        except OSError as err:
            raise UsageError(f"--out: cannot write {args.out!r}: {err.strerror}") from None
    print(summary(frame, parameters, args.iterations, args.agent or []))
    if out is not None:
        print(f"{len(frame)} rows written to {out}")
    sys.stdout.flush()
    return 0


def summary(
    frame: Any, parameters: dict[str, Any], iterations: int, agent_columns: list[str]
) -> str:
    """One line of counts, then per combination of the swept parameters (those given a list
    in ``parameters``): its runs, their mean last Step and the mean of every model reporter
    there."""
    import pandas as pd

    swept = [k for k, v in parameters.items() if isinstance(v, list)]
    last = frame[frame["Step"] == frame.groupby("RunId")["Step"].transform("max")]
    last = last.drop_duplicates("RunId")  # agent rows repeat the run's model values
    fixed = {"RunId", "iteration", "seed", "AgentID", *parameters, *agent_columns}
    values = [c for c in last.columns if c not in fixed]
    runs = last["RunId"].nunique()
    head = (
        f"{_count(runs // iterations, 'combination')} x {_count(iterations, 'iteration')}: "
        f"{_count(runs, 'run')}, {_count(len(frame), 'row')}; means at the last step of each run:"
    )
    keys = swept or (lambda _: "all")
    table = last.groupby(keys, sort=False, dropna=False)[values].mean()
    table.insert(0, "runs", last.groupby(keys, sort=False, dropna=False)["RunId"].count())
    table = table.rename(columns={"Step": "last Step"})
    with pd.option_context("display.width", 250, "display.max_columns", 100):
        return head + "\n" + table.to_string(float_format=lambda v: f"{v:.4g}")


def _writable(text: str) -> Path:
    """``--out`` as a path that can be written once the sweep is done (its missing
    directories are made then), checked before the sweep starts."""
    out = Path(text)
    if out.is_dir():
        raise UsageError(f"--out {text!r} is a directory; give a file path")
    existing = out.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"--out {text!r}: {str(existing)!r} is not a writable directory")
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


register_command("sweep", "a parameter sweep: batch runs with collected data", configure, run_sweep)
