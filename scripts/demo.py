"""A short demo: the registered models, heuristic vs random play, and a quick PPO run.

    python scripts/demo.py [--timesteps 6000] [--episodes 5]

1. Lists the registered environments.
2. Plays the market with the heuristic traders and with random traders (same seeds).
3. Trains a PPO trader on the single-agent view ``gymnasium.make("heas_envs/Market-v0")``
   (the other traders and the regulator play the model's heuristic) and compares its return
   with a random trader's in that same view, on the same seeds.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch

import heas_envs
from heas_envs.cli import run_episodes


@dataclass
class Args:
    """Demo arguments."""

    timesteps: int = 6000
    """PPO training steps."""
    episodes: int = 5
    """Evaluation episodes per policy."""
    seed: int = 0
    """Seed of training and of the first evaluation episode."""


def focal_return(env: gymnasium.Env, act, seed: int) -> float:
    """The focal trader's return over one episode with policy ``act(obs)``."""
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += reward
        done = terminated or truncated
    return total


def main() -> None:
    """Run the demo."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for name, default in vars(Args()).items():
        parser.add_argument(f"--{name}", type=int, default=default)
    args = Args(**vars(parser.parse_args()))

    print("Registered environments:", ", ".join(heas_envs.list_envs()))
    for policy in ("heuristic", "random"):
        rows = run_episodes(
            "heas_envs/Market-v0", episodes=args.episodes, seed=args.seed, policy=policy
        )
        print(
            f"Market, every trader {policy:9s}: mean trader return "
            f"{np.mean([r['return/trader'] for r in rows]):+.4f}, mean volatility "
            f"{np.mean([r['metrics.mean_volatility'] for r in rows]):.5f}"
        )

    from stable_baselines3 import PPO

    torch.manual_seed(args.seed)
    env = gymnasium.make("heas_envs/Market-v0", max_steps=100)
    model = PPO("MlpPolicy", env, n_steps=500, batch_size=100, seed=args.seed, verbose=0)
    model.learn(total_timesteps=args.timesteps, progress_bar=False)
    seeds = range(1000 + args.seed, 1000 + args.seed + args.episodes)
    trained = [
        focal_return(env, lambda o: model.predict(o, deterministic=True)[0], s) for s in seeds
    ]
    rng = np.random.default_rng(args.seed)
    random = [
        focal_return(env, lambda o: rng.uniform(-1, 1, size=1).astype(np.float32), s) for s in seeds
    ]
    print(
        f"PPO trader after {args.timesteps} steps: mean return {np.mean(trained):+.4f} "
        f"vs random trader {np.mean(random):+.4f} ({args.episodes} episodes, same seeds)"
    )


if __name__ == "__main__":
    main()
