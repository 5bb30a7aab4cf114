"""The ``heas-envs`` command: list the environments, show their parameters and run episodes
with a built-in policy."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from heas_envs.core.params import MAX_SEED, MAX_STEPS, check_int, show_value
from heas_envs.registration import (
    ENV_ARGUMENTS,
    env_params_class,
    env_spec,
    list_envs,
    make_parallel,
)

POLICIES = ("random", "heuristic")
#: The most episodes one ``heas-envs run`` plays.
MAX_EPISODES = 1_000_000
_MAX_DIGITS = 30  # longer numbers on the command line are refused before they are parsed


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def key_values(
    items: Sequence[str],
    what: str,
    *,
    strings: bool = False,
    error: type[Exception] = UsageError,
) -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict, each value read as JSON.

    Args:
        items: The items.
        what: The option or setting they come from, for messages.
        strings: Keep a value that is not JSON as a string (``proposal=random``); else refuse it.
        error: The exception raised.

    Raises:
        UsageError (or ``error``): An item without ``=`` or key, a key given twice, or (without
            ``strings``) a value that is not JSON.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise error(f"{what} takes KEY=VALUE items, got {item!r}")
        if key in out:
            raise error(f"{what} gives {key!r} twice; give each key once")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            if not strings:
                raise error(f"{what} {key}: {text!r} is not a JSON value") from None
            out[key] = text
    return out


#: Commands added by other packages (``agents`` adds ``train``): name -> (help, configure, run).
EXTRA_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable]] = {}


def register_command(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> None:
    """Add the subcommand ``name`` to ``heas-envs``: ``configure`` adds its arguments to its
    parser, ``run(args)`` runs it and returns the exit status (a ``ValueError`` or
    :class:`UsageError` it raises is printed as one line, status 2). This keeps ``heas_envs``
    free of imports from the packages that extend it."""
    EXTRA_COMMANDS[name] = (help, configure, run)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def run_episodes(
    env_id: str,
    episodes: int = 1,
    steps: int | None = None,
    seed: int = 0,
    policy: str = "heuristic",
    params: dict[str, Any] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes of ``env_id``; one summary row per episode.

    Episode ``k`` is reset with seed ``seed + k``; random play draws from a generator seeded
    the same way, so every row can be reproduced alone.

    Args:
        env_id: A registered env id.
        episodes: Number of episodes, in [1, :data:`MAX_EPISODES`].
        steps: Ticks per episode (the env's ``max_steps``); default: the env's default.
        seed: Seed of the first episode, in [0, :data:`MAX_SEED`] (and so is the last one's).
        policy: ``"heuristic"`` (the model's reference policy) or ``"random"``.
        params: Model parameters.
        progress: Show a progress bar on standard error.

    Returns:
        Rows with ``episode``, ``seed``, ``steps``, ``return/<role>`` (mean over the role's
        agents of their summed rewards) and the streams' episode metrics.

    Raises:
        ValueError: An argument outside its range, an unknown env id or parameter, or both
            ``steps`` and ``params["max_steps"]``.
    """
    from tqdm import tqdm

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    episodes = check_int("episodes", episodes, 1, MAX_EPISODES)
    seed = check_int("seed", seed, 0, MAX_SEED)
    if seed + episodes - 1 > MAX_SEED:
        raise ValueError(
            f"the last episode's seed, seed + episodes - 1 = {seed + episodes - 1}, must be "
            f"<= {MAX_SEED} (2**63 - 1)"
        )
    params = dict(params or {})
    if steps is not None:
        if params.get("max_steps") is not None:
            raise ValueError("give steps or the parameter max_steps, not both")
        params["max_steps"] = check_int("steps", steps, 1, MAX_STEPS)
    env = make_parallel(env_id, **params)
    rows = []
    for k in tqdm(range(episodes), desc=env_id, disable=not progress, file=sys.stderr):
        rng = np.random.default_rng(seed + k)
        obs, alive = env.reset_arrays(seed=seed + k)
        returns = {r: np.zeros(len(a)) for r, a in alive.items()}
        n = 0
        while env.agents:
            actions = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
            out = env.step_arrays(actions)
            for role, r in out.rewards.items():
                returns[role] += r
            n += 1
        row: dict[str, Any] = {"episode": k, "seed": seed + k, "steps": n}
        ever_alive = env.ever_alive
        for role, ret in returns.items():
            ever = ever_alive[role]
            row[f"return/{role}"] = float(ret[ever].mean()) if ever.any() else 0.0
        row.update(env.episode_metrics())
        rows.append(row)
    env.close()
    return rows


def parse_params(env_id: str, items: Sequence[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` items as model parameters of ``env_id``, each value parsed by the
    declaration (:meth:`~heas_envs.core.params.ModelParams.parse_text`).

    Raises:
        ValueError: An unknown env id or parameter (listing the valid ones), a key given
            twice, an env argument (``render_mode``, ``max_cycles``) or a value that is not
            of the parameter's type.
    """
    declared = env_params_class(env_id)
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param takes KEY=VALUE, got {show_value(item, note_kind=False)}")
        if key in ENV_ARGUMENTS or key == "env_id":
            raise ValueError(
                f"--param sets model parameters; {key} is not one (the env id is the "
                f"positional argument, max_cycles is --steps); valid parameters: "
                f"{sorted(declared.names())}"
            )
        if key in params:
            raise ValueError(f"--param {show_value(key, note_kind=False)} is given twice")
        params[key] = declared.parse_text(key, text, env_id=env_id)
    return params


def _bounded_int(name: str, low: int, high: int, high_text: str | None = None) -> Callable:
    """An argparse ``type`` for an integer in ``[low, high]`` (long text refused unparsed)."""

    def parse(text: str) -> int:
        bounds = f"[{low}, {high_text or high}]"
        if len(text) > _MAX_DIGITS or not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer in {bounds}, got {show_value(text, note_kind=False)}"
            )
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be an integer in {bounds}, got {value}")
        return value

    parse.__name__ = name
    return parse


def add_param_argument(
    parser: argparse.ArgumentParser, help: str = "a model parameter (see `heas-envs params ENV_ID`)"
) -> None:
    """Add the repeatable ``--param KEY=VALUE`` option (read by :func:`parse_params`)."""
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=help)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``heas-envs``."""
    parser = _Parser(prog="heas-envs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the env ids with a one-line description")
    show = sub.add_parser(
        "params", help="the parameters of an env: name, type, default, range, meaning"
    )
    show.add_argument("env_id", help="a registered env id (see `heas-envs list`)")
    show.add_argument("--json", action="store_true", help="print the JSON schema instead")
    run = sub.add_parser("run", help="run episodes and print a summary table")
    run.add_argument("env_id", help="a registered env id (see `heas-envs list`)")
    run.add_argument(
        "--episodes",
        type=_bounded_int("episodes", 1, MAX_EPISODES),
        default=3,
        help=f"number of episodes, at most {MAX_EPISODES} (default 3)",
    )
    run.add_argument(
        "--steps",
        type=_bounded_int("steps", 1, MAX_STEPS),
        default=None,
        help="ticks per episode (default: the env's max_steps)",
    )
    run.add_argument(
        "--seed",
        type=_bounded_int("seed", 0, MAX_SEED, "2**63 - 1"),
        default=0,
        help="seed of the first episode, in [0, 2**63 - 1] (default 0)",
    )
    run.add_argument("--policy", choices=POLICIES, default="heuristic", help="who acts")
    add_param_argument(run)
    run.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    for name, (text, configure, _) in EXTRA_COMMANDS.items():
        configure(sub.add_parser(name, help=text))
    return parser


def params_table(env_id: str) -> str:
    """The parameters of ``env_id`` as a text table: name, type, default, range, meaning.

    Defaults are written as ``--param`` takes them (JSON literals).
    """
    rows = [("name", "type", "default", "range", "meaning")]
    for i in env_params_class(env_id).describe():
        rows.append((i.name, i.type_name, json.dumps(i.default), i.range_text(), i.doc))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``heas-envs``; returns the exit status.

    Bad input prints one line starting with ``error:`` on standard error and returns 2;
    Ctrl-C prints ``interrupted`` and returns 130; a closed standard output (``| head``)
    ends quietly with 141.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            for env_id in list_envs():
                print(f"{env_id:28s} {env_spec(env_id).description}")
            return 0
        if args.command in EXTRA_COMMANDS:
            return EXTRA_COMMANDS[args.command][2](args)
        if args.command == "params":
            if args.json:
                print(json.dumps(env_params_class(args.env_id).json_schema(), indent=2))
            else:
                print(params_table(args.env_id))
            return 0
        env_spec(args.env_id)  # an unknown id first
        params = parse_params(args.env_id, args.param)
        if args.steps is not None and "max_steps" in params:
            raise UsageError("give --steps or --param max_steps, not both")
        rows = run_episodes(
            args.env_id,
            episodes=args.episodes,
            steps=args.steps,
            seed=args.seed,
            policy=args.policy,
            params=params,
            progress=not args.json and sys.stderr.isatty(),
        )
    except (UsageError, ValueError) as err:
        message = " ".join(str(err).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 50):
            print(
                pd.DataFrame(rows).set_index("episode").to_string(float_format=lambda v: f"{v:.4g}")
            )
    sys.stdout.flush()  # a closed pipe shows here, inside main, not at interpreter exit
    return 0


def _silence_stdout() -> None:
    """Point standard output at ``/dev/null`` so that the flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
