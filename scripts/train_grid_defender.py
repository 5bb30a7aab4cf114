"""Train the power grid's defender with one PPO learner and several inference workers.

    python scripts/train_grid_defender.py                       # about 3 minutes on 2 cores
    python scripts/train_grid_defender.py --quick               # a smoke run, seconds
    python scripts/train_grid_defender.py --workers 4 --backend ray --iterations 40

Trains ``defender`` of ``heas_envs/PowerGrid-v0`` against the heuristic attacker with
:func:`agents.learner.train_workers` (the learner updates PPO, the workers collect with the
pushed weights), then evaluates on 32 fresh seeds (10_000 ...) the trained, the heuristic and
the random defender against the heuristic attacker: mean return with a 95% percentile
bootstrap interval, the mean share of load served and the mean redispatch cost per tick. Prints the wall time split into
collecting and learning. Unless ``--no-attacker``, it then trains the attacker the same way,
on ``Objective("attacker", negate="defender")`` against the heuristic defender, and prints the
heuristic defender's return, served load and redispatch cost under the trained, the
heuristic and the random attacker.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from agents.learner import BACKENDS, WorkersResult, train_workers
from agents.participants import module_act
from agents.rollout import evaluate
from agents.tournament import N_RESAMPLES, bootstrap_mean
from heas_envs.scenarios.objective import Objective

ENV_ID = "heas_envs/PowerGrid-v0"
EVAL_SEEDS = list(range(10_000, 10_032))
SERVED = "grid.mean_served"
COST = "grid.mean_cost"  # the defender's redispatch cost per tick


def interval(returns: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """The mean of ``returns`` and its 95% percentile bootstrap interval."""
    low, high = bootstrap_mean(np.asarray(returns, dtype=np.float64), [seed], N_RESAMPLES)
    return float(np.mean(returns)), low, high


def served_and_cost(episodes: Any) -> tuple[float, float]:
    """The mean share of load served and the mean redispatch cost per tick of ``episodes``."""
    return float(episodes.metrics[SERVED].mean()), float(episodes.metrics[COST].mean())


def train(args: argparse.Namespace, role: str, iterations: int, **kwargs: Any) -> WorkersResult:
    """Train ``role`` with the script's worker settings."""
    return train_workers(
        ENV_ID,
        role,
        n_workers=args.workers,
        worlds_per_worker=args.worlds_per_worker,
        n_steps=args.n_steps,
        iterations=iterations,
        seed=args.seed,
        backend=args.backend,
        algo_kwargs={"batch_size": args.batch_size, "n_epochs": args.n_epochs},
        run_root=args.run_root,
        **kwargs,
    )


def timing_row(name: str, result: WorkersResult, wall: float) -> str:
    """A markdown row of the run's wall times."""
    collect, learn = sum(result.collect_seconds), sum(result.learn_seconds)
    steps = result.model.num_timesteps
    share = collect / (collect + learn) if collect + learn else float("nan")
    return (
        f"| {name} | {len(result.collect_seconds)} | {steps} | {wall:.1f} | {collect:.1f} | "
        f"{learn:.1f} | {share:.0%} | {steps / wall:.0f} |"
    )


def main(argv: list[str] | None = None) -> None:
    """Train, evaluate and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="inference workers")
    parser.add_argument("--iterations", type=int, default=None, help="defender iterations")
    parser.add_argument("--attacker-iterations", type=int, default=None)
    parser.add_argument("--backend", choices=BACKENDS, default="process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worlds-per-worker", type=int, default=4)
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-epochs", type=int, default=5)
    parser.add_argument("--run-root", default="runs")
    parser.add_argument("--no-attacker", action="store_true", help="skip the attacker part")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2 iterations in-process, evaluated on 4 seeds",
    )
    args = parser.parse_args(argv)
    seeds = EVAL_SEEDS
    if args.quick:
        args.n_steps, args.worlds_per_worker, args.batch_size = 16, 2, 32
        args.backend, seeds = "inprocess", EVAL_SEEDS[:4]
    iterations = args.iterations or (2 if args.quick else 300)
    attacker_iterations = args.attacker_iterations or (2 if args.quick else 200)

    print(
        f"PPO on {ENV_ID}: {args.workers} {args.backend} workers x {args.worlds_per_worker} "
        f"worlds x {args.n_steps} steps per iteration, seed {args.seed}\n"
    )
    start = time.perf_counter()
    defender = train(args, "defender", iterations)
    defender_wall = time.perf_counter() - start
    print(f"defender run: {defender.run_dir}\n")

    rows = []
    for name, policy in (
        ("PPO (workers)", defender.actor),
        ("heuristic", "heuristic"),
        ("random", "random"),
    ):
        episodes = evaluate(ENV_ID, "defender", policy, seeds, metric_names=[SERVED, COST])
        rows.append((name, *interval(episodes.returns), *served_and_cost(episodes)))
    print(f"Defender vs the heuristic attacker, {len(seeds)} seeds:\n")
    print("| defender | mean return | 95% CI | mean served | mean cost |")
    print("|---|---|---|---|---|")
    for name, mean, low, high, served, cost in rows:
        print(f"| {name} | {mean:.3f} | [{low:.3f}, {high:.3f}] | {served:.3f} | {cost:.3f} |")

    timings = [timing_row("defender", defender, defender_wall)]
    if not args.no_attacker:
        start = time.perf_counter()
        attacker = train(
            args,
            "attacker",
            attacker_iterations,
            reward_objective=Objective("attacker", negate="defender"),
        )
        attacker_wall = time.perf_counter() - start
        timings.append(timing_row("attacker", attacker, attacker_wall))
        print(f"\nattacker run: {attacker.run_dir}\n")
        print(f"Heuristic defender under each attacker, {len(seeds)} seeds:\n")
        print("| attacker | defender's mean return | 95% CI | mean served | mean cost |")
        print("|---|---|---|---|---|")
        for name, policy in (
            ("PPO (workers)", module_act(attacker.actor)),
            ("heuristic", "heuristic"),
            ("random", "random"),
        ):
            episodes = evaluate(
                ENV_ID,
                "defender",
                "heuristic",
                seeds,
                background={"attacker": policy},
                metric_names=[SERVED, COST],
            )
            mean, low, high = interval(episodes.returns)
            served, cost = served_and_cost(episodes)
            print(f"| {name} | {mean:.3f} | [{low:.3f}, {high:.3f}] | {served:.3f} | {cost:.3f} |")

    print(
        "\nWall times (seconds; collect: weights pushed to experience back; learn: PPO update):\n"
    )
    print("| run | iterations | seat-steps | wall | collect | learn | collect share | steps/s |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(timings))


if __name__ == "__main__":
    main()
