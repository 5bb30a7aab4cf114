"""Run a heas_envs model with births and deaths through TorchRL, via FixedSlots.

Needs ``pip install "torch==2.13.0" torchrl==0.14.1`` (which brings tensordict 0.14.3).
TorchRL's ``PettingZooWrapper`` fills a tensor over every possible agent of each group and ends
the episode as soon as any agent is done; :class:`heas_envs.wrappers.FixedSlots` shows every
slot at every step, with ``alive`` in its infos (TorchRL puts it at
``(group, "info", "alive")``) and done flags only at the episode's end. The script rolls the
economy out for ``--steps`` steps with random actions (``env.rollout``, resetting at the
episode's end), counts the births and deaths the ``alive`` flags show, then rolls out a model
with a ``Discrete`` action space (Boltzmann wealth) with categorical and with one-hot actions,
where FixedSlots' ``action_mask`` becomes TorchRL's action mask.

    python scripts/clients/run_torchrl.py --steps 300 --seed 0

Use ``PettingZooWrapper(env=...)``: the by-name ``PettingZooEnv(task=...)`` does not find the
heas_envs ids.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import torch
from torchrl.envs import PettingZooWrapper

import heas_envs
from heas_envs.wrappers import FixedSlots


def torchrl_env(
    env_id: str, seed: int, params: dict[str, Any] | None = None, **wrapper_kwargs: Any
) -> PettingZooWrapper:
    """``env_id`` (with model ``params``) through FixedSlots, wrapped for TorchRL.

    TorchRL makes one group per role; ``wrapper_kwargs`` go to its ``PettingZooWrapper``.
    """
    inner = heas_envs.make_parallel(env_id, **(params or {}))
    with warnings.catch_warnings():  # "PettingZoo in TorchRL is tested using version 1.24.3"
        warnings.simplefilter("ignore", UserWarning)
        return PettingZooWrapper(env=FixedSlots(inner), use_mask=True, seed=seed, **wrapper_kwargs)


def births_and_deaths(rollout: torch.Tensor, group: str) -> tuple[int, int]:
    """Births and deaths in a rollout: ``alive`` flags turning on and off within a step."""
    before = rollout[group, "info", "alive"].bool()
    after = rollout["next", group, "info", "alive"].bool()
    return int((after & ~before).sum()), int((before & ~after).sum())


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, run the rollouts and print one line for each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="rollout steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=300, help="economy episode length")
    parser.add_argument("--discrete-steps", type=int, default=60, help="Boltzmann rollout steps")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)  # the random actions come from torch's generator

    env = torchrl_env("heas_envs/Economy-v0", args.seed, params={"max_steps": args.max_steps})
    rollout = env.rollout(args.steps, break_when_any_done=False)
    births, deaths = births_and_deaths(rollout, "citizen")
    obs = rollout["citizen", "observation"]
    episodes = int(rollout["next", "done"].sum())
    print(
        f"torchrl: {rollout.batch_size[0]} steps, {births} births, {deaths} deaths, "
        f"obs shape {tuple(obs.shape)}, {episodes} episodes ended, "
        f"{int(rollout['next', 'citizen', 'info', 'alive'][-1].sum())} alive"
    )
    env.close()

    for categorical in (True, False):
        env = torchrl_env(
            "heas_envs/Boltzmann-v0",
            args.seed,
            params={"max_steps": 50},
            categorical_actions=categorical,
        )
        rollout = env.rollout(args.discrete_steps, break_when_any_done=False)
        mask = rollout["agent", "action_mask"]
        action = rollout["agent", "action"]
        kind = "categorical" if categorical else "one-hot"
        print(
            f"torchrl discrete ({kind}): {rollout.batch_size[0]} steps, action shape "
            f"{tuple(action.shape)}, action_mask shape {tuple(mask.shape)}, "
            f"{int(rollout['next', 'done'].sum())} episodes ended"
        )
        env.close()


if __name__ == "__main__":
    main()
