"""Stable-Baselines3 on the batched single-agent view: a Gymnasium ``VectorEnv`` as an SB3 ``VecEnv``.

SB3 steps its own ``VecEnv`` API: ``reset()`` returns only observations, ``step_wait()`` returns
``(obs, rewards, dones, infos)`` with one info dict per env, and an env whose episode ended
has already been reset, its last observation in ``infos[b]["terminal_observation"]`` and
``infos[b]["TimeLimit.truncated"]`` saying whether the episode was cut by the time limit.
That is Gymnasium's same-step autoreset, so :class:`SB3VecEnv` wraps a vector env in that
mode (``gymnasium.make_vec(env_id, num_envs=B, autoreset_mode="same_step")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices


class SB3VecEnv(VecEnv):
    """A Gymnasium ``VectorEnv`` in same-step autoreset mode, as SB3's ``VecEnv``.

    ``seed(s)`` (SB3 calls it from ``model.set_random_seed``/``learn``) seeds sub-env ``b``
    with ``s + b`` at the next reset, as SB3's own vec envs do.

    Args:
        venv: The vector env; its ``metadata["autoreset_mode"]`` must be ``SAME_STEP``.

    Raises:
        ValueError: The vector env resets in another mode.
    """

    def __init__(self, venv: gymnasium.vector.VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3VecEnv needs a vector env in same-step autoreset mode (SB3 expects the "
                f"reset observation with the final one in the infos); got {mode!r}: build it "
                'with autoreset_mode="same_step"'
            )
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        """Reset every env with the seeds and options set since the last reset."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options[0] or None
        obs, _ = self.venv.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every env; ended ones are reset, their final observation in the infos."""
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for b in np.flatnonzero(dones).tolist():
            infos[b]["terminal_observation"] = info["final_obs"][b]
            infos[b]["TimeLimit.truncated"] = bool(truncated[b] and not terminated[b])
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        """Close the vector env."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The vector env's attribute ``attr_name``, once per selected env."""
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on the vector env (shared by all its sub-envs)."""
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """Call ``method_name`` of the vector env once (its sub-envs are one batch)."""
        result = getattr(self.venv, method_name)(*method_args, **kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(
        self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """No sub-env is a wrapped ``gymnasium.Env``: they are worlds of one batch."""
        return [False] * len(self._get_indices(indices))

    def _get_indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


def make_sb3_vec_env(env_id: str, num_envs: int = 8, **kwargs: Any) -> SB3VecEnv:
    """SB3's ``VecEnv`` of ``num_envs`` batched worlds of ``env_id`` (single-agent view):
    ``gymnasium.make_vec(env_id, num_envs=num_envs, autoreset_mode="same_step", **kwargs)``."""
    return SB3VecEnv(
        gymnasium.make_vec(env_id, num_envs=num_envs, autoreset_mode="same_step", **kwargs)
    )
