"""Run a heas_envs model with births and deaths through SuperSuit, via FixedSlots.

Needs ``pip install supersuit`` (3.11). SuperSuit's vector env needs every possible agent
present after every step; :class:`heas_envs.wrappers.FixedSlots` provides that. The script
turns the env into a vector env of one sub-env per slot (``pettingzoo_env_to_vec_env_v1``),
concatenates copies (``concat_vec_envs_v1``) and steps it with random actions, counting the
births and deaths that the ``alive`` infos show. Roles with different spaces (the market's
traders and regulator) are padded to common spaces first (``pad_observations_v0``,
``clip_actions_v0``, ``pad_action_space_v0``). ``--frames K`` first stacks ``K`` frames with
SuperSuit's plain wrappers (``dtype_v0``, ``frame_stack_v1``); ``--sb3 N`` also trains
Stable-Baselines3's PPO for ``N`` timesteps on the vector env.

    python scripts/clients/run_supersuit.py --steps 300 --seed 0

Known SuperSuit 3.11 bugs met on the way (the script avoids them):

- its SB3 vector env has no ``seed()``: ``PPO(..., seed=0)`` (and ``venv.seed(0)``) raise
  ``AttributeError: 'ConcatVecEnv' object has no attribute 'seed'``; seed through
  ``reset(seed=...)`` instead (SB3's ``set_random_seed`` seeds torch and numpy).
- ``black_death_v3`` decides the episode is over with ``(terminations & truncations).all()``
  (``&`` for ``|``), so it never reports the end: it steps the ended env once more (one step
  late with PettingZoo's envs; ours raise). It also keeps the agents of ``reset`` only, so the
  unborn slots of a model with births are missing and the vector env refuses it.
- its vector env overwrites the last step's infos with the next episode's reset infos of the
  same keys (here ``alive``): the births and deaths of an episode's last step are not visible,
  so the counts below skip the auto-reset steps.
- not a bug, a cost: SuperSuit's plain wrappers run a parallel env through PettingZoo's
  ``parallel_to_aec`` and back, whose ``step`` is quadratic in the number of slots (every
  agent's sub-step sums every agent's reward through chains of ``__getattr__``): at 200 slots
  ``--frames 2`` costs about 0.2 s per step, against 10 ms without it.
"""

from __future__ import annotations

import argparse

import numpy as np
import supersuit as ss
from pettingzoo import ParallelEnv

import heas_envs
from heas_envs.wrappers import FixedSlots


def alive_flags(infos: list[dict]) -> np.ndarray:
    """The ``alive`` flags of every sub-env (slot) of the vector env."""
    return np.array([bool(info["alive"]) for info in infos])


def uniform_spaces(env: FixedSlots) -> bool:
    """Whether every slot has the same observation and action space (SuperSuit's vector env
    needs it)."""
    first = env.possible_agents[0]
    return all(
        env.observation_space(a) == env.observation_space(first)
        and env.action_space(a) == env.action_space(first)
        for a in env.possible_agents
    )


def pad_spaces(env: FixedSlots) -> ParallelEnv:
    """Pad the roles' observations and actions to common spaces.

    ``pad_action_space_v0`` gives every slot the union of the action boxes, so an action can
    lie outside the slot's own space (a regulator's tax below 0), which the env refuses:
    ``clip_actions_v0`` under it clips each action into the slot's own space first.
    """
    return ss.pad_action_space_v0(ss.clip_actions_v0(ss.pad_observations_v0(env)))


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the vector env and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="vector env steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default="heas_envs/Economy-v0")
    parser.add_argument("--max-steps", type=int, default=300, help="episode length")
    parser.add_argument("--copies", type=int, default=2, help="concatenated copies of the env")
    parser.add_argument("--frames", type=int, default=0, help="frames to stack (0: none)")
    parser.add_argument("--sb3", type=int, default=0, help="PPO timesteps to train (0: none)")
    args = parser.parse_args(argv)

    env = FixedSlots(heas_envs.make_parallel(args.env, max_steps=args.max_steps))
    if not uniform_spaces(env):  # e.g. the market's traders and regulator
        env = pad_spaces(env)
    if args.frames:
        env = ss.frame_stack_v1(ss.dtype_v0(env, np.float32), args.frames)
    vec = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = ss.concat_vec_envs_v1(vec, args.copies, num_cpus=0, base_class="gymnasium")
    venv.action_space.seed(args.seed)

    obs, infos = venv.reset(seed=args.seed)
    alive = alive_flags(infos)
    births = deaths = episodes = 0
    n_slots = len(env.possible_agents)
    for _ in range(args.steps):
        actions = np.stack([venv.action_space.sample() for _ in range(venv.num_envs)])
        obs, rewards, terminated, truncated, infos = venv.step(actions)
        now = alive_flags(infos)
        done = (terminated | truncated).astype(bool).reshape(args.copies, n_slots).all(axis=1)
        keep = ~np.repeat(done, n_slots)  # an auto-reset step shows the next episode's flags
        births += int((now & ~alive & keep).sum())
        deaths += int((alive & ~now & keep).sum())
        episodes += int(done.sum())
        alive = now
    print(
        f"supersuit: {args.steps} steps x {args.copies} envs, {births} births, {deaths} deaths, "
        f"obs shape {tuple(obs.shape)}, {episodes} episodes ended, {int(alive.sum())} alive"
    )
    venv.close()

    if args.sb3:
        from stable_baselines3 import PPO

        sb3_env = ss.concat_vec_envs_v1(vec, 1, num_cpus=0, base_class="stable_baselines3")
        # PPO(seed=...) and sb3_env.reset(seed=...) call the missing seed(): seed the
        # gymnasium vector env under it; PPO's own reset() then continues its random stream
        sb3_env.venv.reset(seed=args.seed)
        model = PPO("MlpPolicy", sb3_env, n_steps=16, batch_size=n_slots * 4, n_epochs=1)
        model.learn(args.sb3)
        print(f"supersuit+sb3: PPO trained {model.num_timesteps} timesteps over {n_slots} slots")


if __name__ == "__main__":
    main()
