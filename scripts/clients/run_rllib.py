# Needs a SEPARATE venv: ray[rllib] 2.60 pins gymnasium==1.2.2 (the project's venv has 1.4):
#   python3 -m venv .venv-rllib
#   .venv-rllib/bin/pip install "torch==2.13.0" "ray[rllib]==2.60.0" -e .
#   .venv-rllib/bin/python scripts/clients/run_rllib.py --steps 300 --seed 0 [--ppo]
"""Run a heas_envs model with births and deaths through RLlib, via FixedSlots.

RLlib's ``ParallelPettingZooEnv`` takes its agent ids and spaces from the agents alive at
``reset`` (a newborn would have none), and its episodes refuse an agent's data after its
termination. :class:`heas_envs.wrappers.FixedSlots` shows every slot from ``reset``, with
``alive`` in its infos and done flags only at the episode's end. The script steps the economy
for ``--steps`` steps with random actions (resetting at the episode's end) and counts the
births and deaths the ``alive`` flags show; ``--ppo`` also runs one PPO training iteration
(new API stack, one shared module for all citizens, no remote env runners).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import heas_envs
from heas_envs.wrappers import FixedSlots

try:
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
except ImportError as err:  # ray without rllib's extras, or the project's own venv
    raise SystemExit(
        f"run_rllib.py needs ray[rllib]==2.60.0 in its own venv (see the comment at the top "
        f"of this file): {err}"
    ) from None

ENV_NAME = "heas_economy_fixed_slots"


def make_env(config: dict[str, Any] | None = None) -> ParallelPettingZooEnv:
    """The economy (model parameters from ``config``) through FixedSlots, for RLlib."""
    return ParallelPettingZooEnv(
        FixedSlots(heas_envs.make_parallel("heas_envs/Economy-v0", **(config or {})))
    )


def alive_set(infos: dict[str, dict]) -> set[str]:
    """The slots whose ``alive`` info is true."""
    return {a for a, info in infos.items() if info.get("alive")}


def random_rollout(steps: int, seed: int, max_steps: int) -> tuple[int, int, int, tuple]:
    """``steps`` steps with random actions; ``(births, deaths, episodes ended, obs shape)``."""
    env = make_env({"max_steps": max_steps})
    env.action_space.seed(seed)
    obs, infos = env.reset(seed=seed)
    alive = alive_set(infos)
    births = deaths = episodes = 0
    for _ in range(steps):
        actions = {a: env.action_space[a].sample() for a in obs}
        obs, rewards, terminated, truncated, infos = env.step(actions)
        now = alive_set(infos)
        births, deaths = births + len(now - alive), deaths + len(alive - now)
        alive = now
        if terminated["__all__"] or truncated["__all__"]:
            episodes += 1
            obs, infos = env.reset()
            alive = alive_set(infos)
    shape = (len(obs), *np.shape(next(iter(obs.values()))))
    return births, deaths, episodes, shape


def ppo_iteration(seed: int, max_steps: int, batch: int) -> dict[str, Any]:
    """One PPO training iteration on the economy; a few numbers of its result."""
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_env)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = (
            PPOConfig()
            .environment(ENV_NAME, env_config={"max_steps": max_steps})
            .multi_agent(policies={"citizen"}, policy_mapping_fn=lambda agent, *a, **k: "citizen")
            .env_runners(num_env_runners=0)
            .training(train_batch_size_per_learner=batch, minibatch_size=batch // 2, num_epochs=1)
            .debugging(seed=seed)
        )
        algo = config.build_algo()
        result = algo.train()
        algo.stop()
    finally:
        ray.shutdown()
    runners, learner = result["env_runners"], result["learners"]["citizen"]
    return {
        "env_steps": int(runners["num_env_steps_sampled"]),
        "episodes": int(runners["num_episodes"]),
        "module_steps_trained": int(learner["num_module_steps_trained"]),
        "policy_loss": float(learner["policy_loss"]),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run and print one line per part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="random-action steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=300, help="economy episode length")
    parser.add_argument("--ppo", action="store_true", help="also run one PPO iteration")
    parser.add_argument("--ppo-batch", type=int, default=300, help="env steps per PPO batch")
    args = parser.parse_args(argv)

    births, deaths, episodes, shape = random_rollout(args.steps, args.seed, args.max_steps)
    print(
        f"rllib: {args.steps} steps, {births} births, {deaths} deaths, obs shape {shape}, "
        f"{episodes} episodes ended"
    )
    if args.ppo:
        out = ppo_iteration(args.seed, args.max_steps, args.ppo_batch)
        print(
            f"rllib ppo: 1 iteration, {out['env_steps']} env steps, {out['episodes']} episodes, "
            f"{out['module_steps_trained']} agent steps trained, "
            f"policy loss {out['policy_loss']:.4f}"
        )


if __name__ == "__main__":
    main()
