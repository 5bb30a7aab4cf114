"""A short demo: the registered models, heuristic vs random play, and a quick PPO run.

    python scripts/demo.py [--timesteps 6000] [--episodes 5]

1. Lists the registered environments.
2. Plays the market with the heuristic traders and with random traders (same seeds).
3. Trains a PPO patch manager on the single-agent view ``gymnasium.make("heas_envs/Ecology-v0")``
   (the other managers play the model's heuristic) and compares its return with a random
   manager's and the heuristic's in that same view, on the same seeds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch

import heas_envs
from agents.threads import set_torch_threads
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
    threads: int = 1
    """Torch threads (one is fastest for these small networks on few cores)."""


def focal_return(env: gymnasium.Env, act, seed: int) -> float:
    """The focal agent's return over one episode with policy ``act(obs)``."""
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
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        """Print the steps done after every rollout."""

        def _on_rollout_end(self) -> None:
            rate = self.num_timesteps / (time.perf_counter() - started)
            print(f"  PPO {self.num_timesteps}/{args.timesteps} steps ({rate:.0f} steps/s)")

        def _on_step(self) -> bool:
            return True

    threads = set_torch_threads(args.threads)
    print(f"Training PPO on the ecology patch manager with {threads} torch thread(s):")
    torch.manual_seed(args.seed)
    env = gymnasium.make("heas_envs/Ecology-v0", max_steps=100)
    model = PPO("MlpPolicy", env, n_steps=500, batch_size=100, seed=args.seed, verbose=0)
    started = time.perf_counter()
    model.learn(total_timesteps=args.timesteps, callback=Progress())
    seeds = range(1000 + args.seed, 1000 + args.seed + args.episodes)
    rng = np.random.default_rng(args.seed)
    low, high = env.action_space.low, env.action_space.high
    manager = env.unwrapped.parallel.group("manager")
    policies = {
        "PPO": lambda o: model.predict(o, deterministic=True)[0],
        "random": lambda o: rng.uniform(low, high).astype(np.float32),
        "heuristic": lambda o: manager.heuristic(o[None])[0],
    }
    returns = {
        name: np.mean([focal_return(env, act, s) for s in seeds]) for name, act in policies.items()
    }
    print(
        f"Ecology patch manager, PPO after {args.timesteps} steps: mean return "
        + ", ".join(f"{name} {value:.2f}" for name, value in returns.items())
        + f" ({args.episodes} episodes of 100 ticks, same seeds)"
    )


if __name__ == "__main__":
    main()
