"""The HEAS paper's enterprise tournament: the heuristic firm against random play (and an
evolved firm policy, when one is given or found under ``runs/``) on the 32 scenarios.

    python scripts/tournament_demo.py                          # enterprise32, 20 episodes
    python scripts/tournament_demo.py --episodes 5 --evo runs/Enterprise-v0__firm__SNES__...
    python scripts/tournament_demo.py --set market-volatility-regulator --backend process

Every participant plays every firm of a scenario (the scenario's focal agents) on the same
episode seeds; the store and CSVs go to ``--out`` and a run there is resumed. It prints the
scenarios each participant won, its mean normalised score (0: the worse of heuristic and random,
1: the better) with the IQM and its interval, its rating, the winners of the four voting rules
and whether they agree.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agents.participants import Participant
from agents.tournament import Tournament
from heas_envs.scenarios import scenario_set


def newest_evolved_firm(root: Path = Path("runs")) -> Path | None:
    """The newest EvoTorch run of the enterprise firm under ``root`` with a ``best.pt``."""
    runs = sorted(root.glob("Enterprise-v0__firm__*/best.pt"), key=lambda p: p.stat().st_mtime)
    return runs[-1].parent if runs else None


def main(argv: list[str] | None = None) -> int:
    """Run the tournament and print the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="enterprise32", help="a named scenario set")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per scenario")
    parser.add_argument("--seed", type=int, default=0, help="the tournament's seed")
    parser.add_argument("--evo", default=None, help="an EvoTorch run directory (default: newest)")
    parser.add_argument("--no-evo", action="store_true", help="heuristic against random only")
    parser.add_argument("--out", default="runs/tournament_demo", help="store and CSVs")
    parser.add_argument("--backend", default="inprocess", help="inprocess, process or ray")
    parser.add_argument("--n-jobs", type=int, default=2, help="workers of process or ray")
    args = parser.parse_args(argv)

    participants = [Participant.heuristic(), Participant.random(0)]
    evo = None if args.no_evo else (Path(args.evo) if args.evo else newest_evolved_firm())
    if evo is not None:
        participants.append(Participant.from_evo(evo, name="evolved"))
    scenarios = scenario_set(args.set)
    out = Path(args.out)
    tournament = Tournament(
        scenarios,
        participants,
        episodes=args.episodes,
        seed=args.seed,
        store=out / "results.sqlite",
        backend=args.backend,
        n_jobs=args.n_jobs,
    )
    start = time.perf_counter()
    played = tournament.play(progress=True)
    seconds = time.perf_counter() - start
    results = tournament.results()
    results.to_csv(out)
    matches = played * args.episodes
    print(
        f"{args.set}: {len(scenarios)} scenarios x {len(participants)} participants x "
        f"{args.episodes} episodes; {played} batches ({matches} episodes) played in {seconds:.1f} s"
        + (f" ({matches / seconds:.0f} episodes/s)" if played else " (all stored already)")
    )
    if evo is not None:
        print(f"evolved: {evo}")
    scores = results.scores
    iqm = results.intervals.query("statistic == 'iqm'").set_index("participant")
    ratings = results.ratings.set_index("participant")["ordinal"]
    for p in participants:
        mine = scores[scores["participant"] == p.name]
        row = iqm.loc[p.name]
        print(
            f"{p.name:10s} won {int(mine['won'].sum()):2d}/{len(scenarios)} scenarios, "
            f"normalised mean {mine['normalised'].mean():6.3f}, IQM {row['estimate']:6.3f} "
            f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}], rating {ratings[p.name]:6.2f}"
        )
    for rule, winners in results.winners.items():
        print(f"{rule:9s} winner: {', '.join(winners) or 'none (no Condorcet winner)'}")
    agree = len({tuple(w) for w in results.winners.values()}) == 1
    print(f"the voting rules {'agree' if agree else 'disagree'}; tables in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
