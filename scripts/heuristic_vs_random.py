"""Mean episode return of each role under the model's heuristic and under random play.

    python scripts/heuristic_vs_random.py                 # every env, 20 seeds
    python scripts/heuristic_vs_random.py --env heas_envs/Market-v0 --seeds 5

Both policies play the same seeds (0 .. seeds-1) at the env's default parameters; a role's
return is the mean over its agents of their summed rewards, then the mean (and standard
error) over seeds.
"""

from __future__ import annotations

import argparse

import numpy as np

import heas_envs
from heas_envs.cli import run_episodes


def compare(env_id: str, seeds: int) -> list[tuple[str, str, float, float]]:
    """Rows ``(role, policy, mean, standard error)`` for one env."""
    rows = []
    for policy in ("heuristic", "random"):
        episodes = run_episodes(env_id, episodes=seeds, seed=0, policy=policy)
        for key in [k for k in episodes[0] if k.startswith("return/")]:
            values = np.array([e[key] for e in episodes])
            sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
            rows.append((key.removeprefix("return/"), policy, float(values.mean()), float(sem)))
    return rows


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", nargs="*", default=None, help="env ids (default: all)")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    print(f"{'env':28s} {'role':12s} {'policy':10s} {'mean return':>12s} {'s.e.':>9s}")
    for env_id in args.env or heas_envs.list_envs():
        for role, policy, mean, sem in compare(env_id, args.seeds):
            print(f"{env_id:28s} {role:12s} {policy:10s} {mean:12.4f} {sem:9.4f}", flush=True)


if __name__ == "__main__":
    main()
