"""Train PPO on every registered id through SB3's own `make_vec_env` and `SubprocVecEnv`.

The check of the client-conformance issue: a user's first call, with no extra arguments.
Run as a file (``python scripts/sb3_subproc.py``): SubprocVecEnv's workers re-import the main
module, and it imports ``heas_envs``, which registers the ids. (From a notebook or a test, where
the main module is not a file, pass ``"heas_envs:heas_envs/Market-v0"``: Gymnasium imports the
module before looking the id up.)

    python scripts/sb3_subproc.py --timesteps 2048
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import heas_envs
from agents.threads import set_torch_threads


def main() -> None:
    """Train and print one line per id: steps, wall time and the mean episode reward seen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=2048, help="PPO steps per id")
    parser.add_argument("--n-envs", type=int, default=2, help="SubprocVecEnv workers")
    parser.add_argument("--ids", nargs="*", default=heas_envs.list_envs(), help="env ids")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    set_torch_threads(args.threads)
    for env_id in args.ids:
        start = time.perf_counter()
        venv = make_vec_env(env_id, n_envs=args.n_envs, vec_env_cls=SubprocVecEnv, seed=0)
        n_steps = max(8, args.timesteps // args.n_envs // 2)
        model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=n_steps, n_epochs=2, seed=0)
        model.learn(args.timesteps)
        rewards = [ep["r"] for ep in model.ep_info_buffer]
        mean = f"{np.mean(rewards):.3f}" if rewards else "n/a (no episode ended)"
        print(
            f"{env_id}: PPO trained {model.num_timesteps} steps on {args.n_envs} SubprocVecEnv "
            f"workers in {time.perf_counter() - start:.1f} s; mean episode reward {mean}",
            flush=True,
        )
        venv.close()


if __name__ == "__main__":
    main()
