"""The swarm planner's evidence: a tournament of the planner, the heuristic and random play on
several models, with intervals and paired differences.

    python scripts/evidence_planner.py                 # every case, 24 episodes (minutes)
    python scripts/evidence_planner.py --only ecology grid-attacker --episodes 32
    python scripts/evidence_planner.py --quick         # a smoke test (seconds)

Each case is one :class:`~agents.tournament.Tournament` of one scenario (the model's default
parameters; the focal role named) and three participants: ``Participant.planner`` with the
case's settings, ``heuristic`` and ``random``, with common random numbers (every participant
plays the same episode seeds). For each case the script prints, per participant, the mean
return with its 95% bootstrap interval and the normalised score (0 = the worse of heuristic
and random, 1 = the better) with the interval of its interquartile mean (the tournament's
``scores`` and ``intervals`` tables), then the paired per-episode differences planner -
heuristic and planner - random with 95% bootstrap intervals and the episodes the planner won,
and the tournament's wall time.

Results (markdown) go to stdout, progress lines to stderr, stores and CSVs to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence_output import emit, markdown_table, progress, run_sections  # noqa: E402

from agents.participants import Participant  # noqa: E402
from agents.tournament import Tournament, bootstrap_mean  # noqa: E402
from heas_envs.scenarios import Scenario  # noqa: E402

#: name -> (env id, focal role, planner settings)
CASES = {
    "ecology": ("heas_envs/Ecology-v0", "manager", {"walkers": 16, "horizon": 30, "noise": 0.1}),
    "grid-attacker": (
        "heas_envs/PowerGrid-v0",
        "attacker",
        {"walkers": 32, "horizon": 10, "noise": 0.2},
    ),
    "grid-defender": (
        "heas_envs/PowerGrid-v0",
        "defender",
        {"walkers": 32, "horizon": 10, "noise": 0.2},
    ),
    "enterprise": ("heas_envs/Enterprise-v0", "firm", {"walkers": 32, "horizon": 10, "noise": 0.1}),
}


def run_case(name: str, args: argparse.Namespace) -> None:
    """Play one case's tournament and print its tables."""
    env_id, role, settings = CASES[name]
    params = {"max_steps": 12} if args.quick else {}
    if args.quick:
        settings = {**settings, "walkers": 4, "horizon": 3}
    scenario = Scenario(name, env_id, params, focal=role)
    players = [Participant.planner(**settings), Participant.heuristic(), Participant.random()]
    progress(f"{name}: {args.episodes} episodes of {env_id} ({role}), planner {settings}")
    start = time.perf_counter()
    results = Tournament(
        [scenario],
        players,
        episodes=args.episodes,
        seed=args.seed,
        backend=args.backend,
        n_jobs=args.n_jobs,
        store=Path(args.out) / f"{name}.sqlite",
    ).run(progress=False)
    seconds = time.perf_counter() - start
    results.to_csv(Path(args.out) / name)
    scores = results.scores.set_index("participant")
    intervals = results.intervals.set_index(["participant", "statistic"])
    rows = []
    for p in ("planner", "heuristic", "random"):
        s, iqm = scores.loc[p], intervals.loc[(p, "iqm")]
        rows.append(
            [
                p,
                f"{s['mean']:.4g} [{s['ci_low']:.4g}, {s['ci_high']:.4g}]",
                f"{s['normalised']:.4f}",
                f"{iqm['estimate']:.4f} [{iqm['ci_low']:.4f}, {iqm['ci_high']:.4f}]",
            ]
        )
    emit(f"### {name}: {env_id}, focal {role}, {args.episodes} episodes, planner {settings}")
    emit()
    emit(
        markdown_table(
            ["participant", "mean return [95% CI]", "normalised", "IQM of normalised [95% CI]"],
            rows,
        )
    )
    emit()
    returns = results.episodes.pivot(index="episode", columns="participant", values="return")
    diffs = []
    for other in ("heuristic", "random"):
        d = (returns["planner"] - returns[other]).to_numpy()
        low, high = bootstrap_mean(d, [args.seed, len(d)])
        wins = int((d > 0).sum())
        diffs.append(
            [f"planner - {other}", f"{d.mean():.4g} [{low:.4g}, {high:.4g}]", f"{wins}/{len(d)}"]
        )
    emit(markdown_table(["paired difference", "mean [95% CI]", "episodes won"], diffs))
    emit()
    emit(f"Tournament wall time {seconds:.1f} s ({args.backend}, {args.n_jobs} workers).")
    emit()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run the chosen cases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=["inprocess", "process", "ray"], default="process")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/evidence_planner")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.backend, args.n_jobs = min(args.episodes, 3), "inprocess", 1
    Path(args.out).mkdir(parents=True, exist_ok=True)
    run_sections({name: (lambda n=name: run_case(n, args)) for name in CASES}, args.only)


if __name__ == "__main__":
    main()
