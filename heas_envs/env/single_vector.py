"""The batched single-agent view: ``gymnasium.make_vec(env_id, num_envs=B)``.

One focal agent per world, ``B`` worlds stepped together by one
:class:`~heas_envs.env.vector.VectorWorldsEnv`; the other agents of every world are driven
by a background policy evaluated batched over the worlds. Sub-env ``b`` follows, bit for bit,
the :class:`~heas_envs.env.SingleAgentEnv` that ``gymnasium.make(env_id)`` builds, reset with
world ``b``'s seed and given the same actions: Gymnasium's own ``SyncVectorEnv`` over those
envs (``vectorization_mode="sync"``) and this view return the same arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from heas_envs.core.params import check_seed, show_value
from heas_envs.env.background import (
    Background,
    background_actions,
    background_generator,
    role_policies,
)
from heas_envs.env.vector import VectorWorldsEnv, as_real_array

_MODES = {
    AutoresetMode.NEXT_STEP: "next_step",
    AutoresetMode.SAME_STEP: "same_step",
    "next_step": "next_step",
    "same_step": "same_step",
    "NextStep": "next_step",
    "SameStep": "same_step",
}


class SingleAgentVectorEnv(VectorEnv):
    """``B`` worlds of a registered model, one focal agent each, as a Gymnasium ``VectorEnv``.

    Args:
        env_id: A registered env id.
        num_envs: The number of worlds B.
        focal_agent: The agent controlled in every world; default: the first agent of the
            registry's focal role.
        background: As for :class:`~heas_envs.env.SingleAgentEnv`: ``"heuristic"``,
            ``"random"`` (each world draws from its own generator, seeded as the world is), a
            function of one role's observations ``[B, n_agents, *obs]``, or a mapping by role.
        autoreset_mode: ``"next_step"`` (Gymnasium's default) or ``"same_step"`` (the final
            observation goes to ``infos["final_obs"]``, as Gymnasium's ``SyncVectorEnv`` does
            in that mode; what Stable-Baselines3's adapter needs), or an ``AutoresetMode``.
        **params: Parameters of the model.

    ``reset(seed=s)`` seeds world ``b`` with ``s + b``, as Gymnasium's vector envs do; a list
    gives each world its seed.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int = 1,
        focal_agent: str | None = None,
        background: Background = "heuristic",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **params: Any,
    ) -> None:
        from heas_envs.registration import env_spec, make_vec

        if autoreset_mode not in _MODES:
            raise ValueError(
                f"autoreset_mode must be 'next_step' or 'same_step' (or an AutoresetMode of "
                f"those), got {show_value(autoreset_mode)}"
            )
        mode = _MODES[autoreset_mode]
        template = _template(env_id, params)
        focal = focal_agent if focal_agent is not None else f"{env_spec(env_id).focal_role}_0"
        self.focal_role, self.focal_index = template.slot(focal)
        self.focal_agent = focal
        self.worlds: VectorWorldsEnv = make_vec(
            env_id,
            num_worlds=num_envs,
            autoreset=mode,
            focal=(self.focal_role, self.focal_index),
            **params,
        )
        self.num_envs = self.worlds.num_worlds
        self.background = role_policies(background, self.worlds.roles)
        self.single_observation_space = template.observation_space(focal)
        self.single_action_space = template.action_space(focal)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {
            "autoreset_mode": AutoresetMode.NEXT_STEP
            if mode == "next_step"
            else AutoresetMode.SAME_STEP,
            "render_modes": [],
        }
        self.render_mode = None
        self._generators: list[np.random.Generator] = []
        self._pending = np.zeros(self.num_envs, dtype=bool)
        self._obs: dict[str, np.ndarray] = {}

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every world; ``seed`` an integer (world ``b`` gets ``seed + b``), a list of one
        seed per world, or ``None``. Returns the focal observations ``[B, *obs]`` and ``{}``."""
        seeds = _seeds(seed, self.num_envs)
        obs, _ = self.worlds.reset(seeds)
        if seeds is not None or not self._generators:
            self._generators = [background_generator(s) for s in (seeds or [None] * self.num_envs)]
            self._np_random = self._generators[0]
        self._obs = obs
        self._pending[:] = False
        return obs[self.focal_role][:, self.focal_index], {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Act for the focal agent of every world (``[B, *act]``); the background acts for
        the others. An invalid action raises a ``ValueError`` naming the world and nothing
        changes, the random background's generators included."""
        if not self._obs:
            raise RuntimeError("call reset() before step()")
        states = [g.bit_generator.state for g in self._generators]
        role, i = self.focal_role, self.focal_index
        try:
            batch = self._background_actions()
            rows = np.array(batch[role], dtype=np.float64)
            focal = _focal_rows(actions, rows.shape[:1] + rows.shape[2:], self.focal_agent)
            rows[:, i] = focal
            batch[role] = rows
            out = self.worlds.step(batch)
        except Exception:
            for g, state in zip(self._generators, states):
                g.bit_generator.state = state
            raise
        self._obs = out.obs
        self._pending = out.info["ended"] & (self.worlds.autoreset == "next_step")
        infos: dict[str, Any] = {}
        if "final_obs" in out.info:
            ended = out.info["ended"]
            final = np.full(self.num_envs, None, dtype=object)
            final_info = np.full(self.num_envs, None, dtype=object)
            for b in np.flatnonzero(ended).tolist():
                final[b] = out.info["final_obs"][role][b, i]
                final_info[b] = {}
            infos = {
                "final_obs": final,
                "_final_obs": ended.copy(),
                "final_info": final_info,
                "_final_info": ended.copy(),
            }
        return (
            out.obs[role][:, i],
            out.rewards[role][:, i],
            out.terminated[role][:, i],
            out.truncated[role][:, i],
            infos,
        )

    def _background_actions(self) -> dict[str, np.ndarray]:
        return background_actions(
            self.worlds, self.background, self._obs, self._generators, skip=self._pending
        )

    def close(self, **kwargs: Any) -> None:
        """Close the worlds (no resources are held)."""
        self.worlds.close()


def _template(env_id: str, params: dict[str, Any]) -> Any:
    from heas_envs.registration import make_parallel

    return make_parallel(env_id, **params)


def _seeds(seed: Any, n: int) -> list[int] | None:
    if seed is None:
        return None
    if isinstance(seed, (list, tuple, np.ndarray)):
        if len(seed) != n:
            raise ValueError(
                f"seed must be one integer or a list of one seed per world ({n}); got "
                f"{len(seed)} seeds"
            )
        return [check_seed(s, name=f"seed of world {b}") for b, s in enumerate(seed)]
    first = check_seed(seed)
    if first + n - 1 > 2**63 - 1:
        raise ValueError(f"seed {first} + {n - 1} worlds exceeds 2**63 - 1")
    return [first + b for b in range(n)]


def _focal_rows(actions: Any, shape: tuple[int, ...], agent: str) -> np.ndarray:
    raw = as_real_array(actions)
    if raw is None or raw.shape != shape:
        got = show_value(actions) if raw is None else f"shape {raw.shape}"
        raise ValueError(
            f"actions of the focal agent {agent!r} must be real numbers of shape {shape} "
            f"(one row per world), got {got}"
        )
    return raw
