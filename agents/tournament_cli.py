"""``heas-envs tournament``: play participants across scenarios, store and print the results.

Scenarios come from a JSON file (``--scenarios FILE``: a list of scenario objects, or
``{"scenarios": [...]}``), a named set (``--set enterprise32``; see
:func:`heas_envs.scenarios.list_scenario_sets`) or an inline grid (``--grid ENV_ID
KEY=V1,V2 ...``, :func:`heas_envs.scenarios.make_grid`). Participants are
``--participant [NAME=]heuristic|random[:SEED]|sb3:PATH|evo:RUN_DIR|planner[:KEY=VALUE,...]``
(repeatable;
:func:`agents.participants.parse_participant`); the heuristic and random baselines join when
absent. ``--out DIR`` receives the store ``results.sqlite``, one CSV per table and
``report.html`` (the tables and their plots in one self-contained page,
:func:`heas_envs.vis.write_report`; ``--no-report`` leaves it out); ``--resume`` continues a run stored there (the same
options give the same run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from heas_envs.cli import UsageError, _bounded_int, register_command

STORE_NAME = "results.sqlite"


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``heas-envs tournament``."""
    from agents.tournament import BACKENDS, MODES

    parser.description = (
        "Play participants on every scenario with common random numbers; store the matches in "
        "DIR/results.sqlite (resumable) and write the tables as CSVs and an HTML report "
        "(DIR/report.html) there."
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--scenarios", metavar="FILE", help="a JSON file of scenarios")
    where.add_argument("--set", metavar="NAME", help="a named scenario set, e.g. enterprise32")
    where.add_argument(
        "--grid",
        nargs="+",
        metavar="ITEM",
        help="an inline grid: ENV_ID, then KEY=V1,V2,... per varied parameter (the cross "
        "product, e.g. --grid heas_envs/Enterprise-v0 n_firms=2,6 costs=0.3,0.5)",
    )
    parser.add_argument(
        "--participant",
        action="append",
        default=[],
        metavar="SPEC",
        help="[NAME=]heuristic, random[:SEED], sb3:PATH, evo:RUN_DIR or "
        "planner[:walkers=32,horizon=10,...] (repeatable; the heuristic and random baselines "
        "join when absent)",
    )
    parser.add_argument(
        "--episodes",
        type=_bounded_int("episodes", 1, 1_000_000),
        default=10,
        help="episodes per scenario (default 10)",
    )
    parser.add_argument(
        "--seed",
        type=_bounded_int("seed", 0, 2**63 - 1, "2**63 - 1"),
        default=0,
        help="the tournament's seed (default 0)",
    )
    parser.add_argument("--mode", choices=MODES, default="focal", help="default focal")
    parser.add_argument(
        "--collect-period",
        type=_bounded_int("collect-period", 0, 1_000_000),
        default=0,
        help="keep every K-th step's metrics (default 0: none)",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=None,
        metavar="NAME",
        help="a participant that normalises scores (repeatable; default: heuristic and random)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="where results go")
    parser.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    parser.add_argument(
        "--backend", choices=BACKENDS, default="inprocess", help="default inprocess"
    )
    parser.add_argument(
        "--n-jobs",
        type=_bounded_int("n-jobs", 1, 4096),
        default=1,
        help="worker processes (process) or CPUs (a local ray); default 1",
    )
    parser.add_argument("--ray-address", default=None, help="a Ray cluster to join (ray)")
    parser.add_argument(
        "--threads",
        type=_bounded_int("threads", 0, 1024),
        default=0,
        help="torch threads for torch participants (0: HEAS_TORCH_THREADS or 1)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a progress bar on standard error (default on)",
    )
    parser.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write DIR/report.html, the tables and their plots in one page (default on)",
    )


def scenarios_from_args(args: argparse.Namespace) -> list[Any]:
    """The scenarios that ``--scenarios``, ``--set`` or ``--grid`` name.

    Raises:
        UsageError: An unreadable file or a malformed grid.
        ValueError: An invalid scenario, set name or parameter.
    """
    from heas_envs.registration import env_params_class
    from heas_envs.scenarios import Scenario, make_grid, scenario_set

    if args.set is not None:
        return scenario_set(args.set)
    if args.scenarios is not None:
        try:
            data = json.loads(Path(args.scenarios).read_text())
        except OSError as err:
            raise UsageError(
                f"--scenarios: cannot read {args.scenarios!r}: {err.strerror}"
            ) from None
        except json.JSONDecodeError as err:
            raise UsageError(f"--scenarios: {args.scenarios!r} is not JSON: {err}") from None
        if isinstance(data, dict) and "scenarios" in data:
            data = data["scenarios"]
        if not isinstance(data, list) or not data:
            raise UsageError(
                '--scenarios: the file must hold a non-empty list of scenarios or {"scenarios": '
                "[...]}"
            )
        return [Scenario.from_dict(item) for item in data]
    env_id, *items = args.grid
    if not items:
        raise UsageError("--grid takes an env id, then KEY=V1,V2,... for each varied parameter")
    declared = env_params_class(env_id)
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key or not text:
            raise UsageError(f"--grid takes KEY=V1,V2,... after the env id, got {item!r}")
        if key in grid:
            raise UsageError(f"--grid: {key!r} is given twice")
        grid[key] = [declared.parse_text(key, v, env_id=env_id) for v in text.split(",")]
    return make_grid(env_id, grid)


def run_tournament(args: argparse.Namespace) -> int:
    """Run ``heas-envs tournament``: play, store, write the CSVs, print a summary."""
    from agents.participants import parse_participant
    from agents.tournament import Tournament

    scenarios = scenarios_from_args(args)
    participants = [parse_participant(text) for text in args.participant]
    if any(p.kind in ("sb3", "evo", "module") for p in participants):
        from agents.threads import set_torch_threads

        set_torch_threads(args.threads or None)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; give a directory")
    tournament = Tournament(
        scenarios,
        participants,
        episodes=args.episodes,
        seed=args.seed,
        mode=args.mode,
        collect_period=args.collect_period,
        store=out / STORE_NAME,  # created once the arguments are known to be good
        backend=args.backend,
        n_jobs=args.n_jobs,
        ray_address=args.ray_address,
        baselines=args.baseline,
    )
    try:
        results = tournament.run(resume=args.resume, progress=args.progress)
        matches = tournament.store.counts(results.run_id)["matches"]
    finally:
        tournament.store.close()
    paths = results.to_csv(out)
    print(summary(results, tournament, matches))
    print(f"results: {out / STORE_NAME} and {', '.join(p.name for p in paths)} in {out}")
    sys.stdout.flush()
    if args.report:
        report = write_tournament_report(results, tournament, out, progress=args.progress)
        print(f"report: {report}")
        sys.stdout.flush()
    return 0


def write_tournament_report(
    results: Any, tournament: Any, out: Path, progress: bool = False
) -> Path:
    """Write ``out/report.html``: the tournament's plots and tables, the winners of every
    voting rule at the top (:func:`heas_envs.vis.write_report`)."""
    import matplotlib

    from heas_envs.vis import write_report

    matplotlib.use("Agg")  # a command writes files, it opens no window
    notes = [
        f"{len(tournament.scenarios)} scenarios x {len(tournament.participants)} participants x "
        f"{tournament.episodes} episodes ({tournament.mode}), seed {tournament.seed}, "
        f"run {results.run_id}"
    ]
    notes += [
        f"{rule} winner: {', '.join(won) if won else 'none'}"
        for rule, won in results.winners.items()
    ]
    return write_report(
        results.tables(), out, title="Tournament report", notes=notes, progress=progress
    )


def summary(results: Any, tournament: Any, matches: int) -> str:
    """A few lines: the run, each participant's scenarios won, normalised mean, IQM with its
    interval and rating, and the winners of every voting rule."""
    import pandas as pd

    names = [p.name for p in tournament.participants]
    lines = [
        f"run {results.run_id}: {len(tournament.scenarios)} scenarios x {len(names)} "
        f"participants x {tournament.episodes} episodes ({tournament.mode}), {matches} matches "
        "stored"
    ]
    scores, intervals = results.scores, results.intervals.set_index(["participant", "statistic"])
    ratings = results.ratings.set_index("participant")
    rows = []
    for name in names:
        mine = scores[scores["participant"] == name]
        iqm = intervals.loc[(name, "iqm")] if (name, "iqm") in intervals.index else None
        rows.append(
            {
                "participant": name,
                "won": int(mine["won"].sum()),
                "normalised": mine["normalised"].mean(),
                "iqm": None if iqm is None else iqm["estimate"],
                "iqm 95% CI": None
                if iqm is None
                else f"[{iqm['ci_low']:.3g}, {iqm['ci_high']:.3g}]",
                "rating": ratings.loc[name, "ordinal"] if name in ratings.index else None,
            }
        )
    table = pd.DataFrame(rows).set_index("participant")
    lines.append(table.to_string(float_format=lambda v: f"{v:.3g}"))
    for rule, won in results.winners.items():
        lines.append(f"{rule} winner: {', '.join(won) if won else 'none'}")
    return "\n".join(lines)


register_command(
    "tournament",
    "play participants across scenarios; store, score, vote and rate",
    configure,
    run_tournament,
)
