"""Steps per second of registered envs through the dict API and the array API, side by side.

    python scripts/benchmark_envs.py                                   # every env, default and 10x size
    python scripts/benchmark_envs.py --env heas_envs/Market-v0 --sizes 10 1000

Actions are uniformly random (drawn once per step from one generator, outside the timed call
for the array API, inside it for the dict API since building the dict is part of its cost).
Each figure is the best of ``--repeats`` runs of ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import heas_envs
from heas_envs.registration import env_spec


def steps_per_second(
    env_id: str, size: dict[str, int], api: str, steps: int, repeats: int
) -> float:
    """Best-of-``repeats`` env steps per second for one env, size parameters and API."""
    env = heas_envs.make_parallel(env_id, max_steps=steps + 1, **size)
    best = 0.0
    for r in range(repeats):
        rng = np.random.default_rng(r)
        env.reset_arrays(seed=r)
        elapsed = 0.0
        for _ in range(steps):
            actions = env.random_actions(rng)
            if api == "array":
                t0 = time.perf_counter()
                env.step_arrays(actions)
            else:
                t0 = time.perf_counter()
                env.step(env.agent_actions(actions))
            elapsed += time.perf_counter() - t0
        best = max(best, steps / elapsed)
    return best


def main() -> None:
    """Print a table of steps per second."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", nargs="*", default=None, help="env ids (default: all)")
    parser.add_argument(
        "--sizes",
        nargs="*",
        type=int,
        default=None,
        help="values of the env's size parameter (default: the default size and 10x agents)",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header = f"{'env':28s} {'size':>22s} {'dict steps/s':>13s} {'array steps/s':>14s}"
    print(f"{header} {'array/dict':>10s}")
    for env_id in args.env or heas_envs.list_envs():
        spec = env_spec(env_id)
        if args.sizes:
            sizes = [{spec.size_param: n} for n in args.sizes]
        else:
            sizes = [spec.scaled_params(1), spec.scaled_params(10)]
        for size in sizes:
            d = steps_per_second(env_id, size, "dict", args.steps, args.repeats)
            a = steps_per_second(env_id, size, "array", args.steps, args.repeats)
            label = f"{spec.size_param}={size[spec.size_param]}"
            print(f"{env_id:28s} {label:>22s} {d:13.0f} {a:14.0f} {a / d:10.1f}", flush=True)


if __name__ == "__main__":
    main()
