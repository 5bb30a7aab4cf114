"""The single-agent Gymnasium view: one focal agent, the others driven by a background policy."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium
import numpy as np

from heas_envs.core.params import check_seed
from heas_envs.env.background import (
    Background,
    background_actions,
    background_generator,
    role_policies,
)
from heas_envs.env.parallel import RENDER_MODES, HierarchicalParallelEnv
from heas_envs.env.vector import Snapshot


class SingleAgentEnv(gymnasium.Env):
    """One agent of a hierarchical env as a Gymnasium env.

    ``gymnasium.make("heas_envs/Market-v0", background="random", n_traders=20)`` builds it:
    the focal agent (by default the first agent of the registered focal role) is controlled
    through ``step``; every other agent is driven by ``background``.

    Args:
        env_id: A registered env id.
        focal_agent: The agent controlled through this view; default: the first agent of the
            registry's focal role.
        background: ``"heuristic"`` (the model's reference policy), ``"random"``, a function
            mapping one role's observations ``[n_agents, *obs]`` to its actions, or a mapping
            from role to any of these (roles left out play the heuristic).
        render_mode: ``None``, ``"human"``, ``"ansi"`` or ``"rgb_array"`` (the parallel env's
            rendering; another value is kept with a warning, as ``gymnasium.make`` does).
        **params: Parameters of the model.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        env_id: str,
        focal_agent: str | None = None,
        background: Background = "heuristic",
        render_mode: str | None = None,
        **params: Any,
    ) -> None:
        from heas_envs.registration import env_spec, make_parallel

        self.parallel: HierarchicalParallelEnv = make_parallel(
            env_id, render_mode=render_mode, **params
        )
        spec = env_spec(env_id)
        focal = focal_agent if focal_agent is not None else f"{spec.focal_role}_0"
        self.focal_role, self.focal_index = self.parallel.slot(focal)
        self.focal_agent = focal
        self.observation_space = self.parallel.observation_space(focal)
        self.action_space = self.parallel.action_space(focal)
        self.render_mode = render_mode
        self.background = role_policies(background, self.parallel.roles)
        self._batched = {  # a function of [n_agents, *obs] here; the batched helper passes [1, ...]
            r: (lambda o, p=p: np.asarray(p(o[0]))[None]) if callable(p) else p
            for r, p in self.background.items()
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset the model (the same seed repeats the episode) and return the focal observation."""
        super().reset(seed=check_seed(seed))
        if seed is not None:  # the random background's own stream, not the model's bits
            self._np_random = background_generator(seed)
        obs, alive = self.parallel.reset_arrays(seed=seed)
        if not alive[self.focal_role][self.focal_index]:
            raise RuntimeError(f"the focal agent {self.focal_agent!r} is not alive at reset")
        return obs[self.focal_role][self.focal_index], {}

    def step(self, action: Any):
        """Act for the focal agent; the background policy acts for the others.

        An invalid focal action (or a failing background policy) raises before anything
        changes, the random background's generator included.
        """
        row = self.parallel.check_action(self.focal_agent, action)
        state = self.np_random.bit_generator.state
        role, i = self.focal_role, self.focal_index
        try:
            actions = self._background_actions()
            actions[role] = np.array(actions[role], dtype=np.float64)
            actions[role][i] = row
            out = self.parallel.step_arrays(actions)
        except Exception:
            self.np_random.bit_generator.state = state
            raise
        info = self.parallel.metrics()
        return (
            out.obs[role][i],
            float(out.rewards[role][i]),
            bool(out.terminated[role][i]),
            bool(out.truncated[role][i]),
            info,
        )

    def _background_actions(self) -> dict[str, np.ndarray]:
        obs = {r: o[None] for r, o in self.parallel.observations.items()}
        batch = background_actions(self.parallel.worlds, self._batched, obs, [self.np_random])
        return {r: a[0] for r, a in batch.items()}

    def snapshot(self) -> Snapshot:
        """The exact state of the env: the parallel env's snapshot
        (:meth:`HierarchicalParallelEnv.snapshot`) and the background policy's generator, so
        that :meth:`restore` then ``step`` repeats, bit for bit, what stepping from here would do.

        Raises:
            RuntimeError: ``reset`` was never called.
        """
        inner = self.parallel.snapshot()
        return Snapshot(self, (inner, copy.deepcopy(self.np_random)))

    def restore(self, snap: Snapshot) -> None:
        """Put the env back in the state of ``snap`` (which stays valid for more restores).

        Raises:
            ValueError: ``snap`` is not a snapshot taken by this env's :meth:`snapshot`.
        """
        ours = (
            isinstance(snap, Snapshot)
            and snap._owner is self
            and isinstance(snap._state[1], np.random.Generator)
        )
        if not ours:
            raise ValueError(
                "restore takes a Snapshot taken by this env's snapshot(), got "
                f"{type(snap).__name__}"
            )
        state = snap._state
        self.parallel.restore(state[0])
        self._np_random = copy.deepcopy(state[1])

    def render(self) -> str | np.ndarray | None:
        """The parallel env's rendering (text, or a picture with ``render_mode="rgb_array"``)."""
        return self.parallel.render()

    def close(self) -> None:
        """Close the parallel env."""
        self.parallel.close()
