"""NoisyObservations: Gaussian noise on the observations of some roles."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core.params import show_value
from heas_envs.core.random import world_seeds
from heas_envs.env.vector import VectorStep
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    VectorScenarioWrapper,
    check_roles,
    engine_of,
    group_of,
    json_value,
    seeded_generator,
)


class NoisyObservations(ScenarioWrapper):
    """Observations of the given roles plus Gaussian noise of standard deviation ``scale``.

    Every step (and reset) draws one standard normal array per noisy role over all its slots,
    ``[n_agents, *obs_shape]``, in the order of ``roles``, and adds ``scale`` times it to the
    rows of the agents reported in that step (rows of absent slots stay zeros). With ``clip``
    the result is clipped into the observation space, so the space still holds every
    observation (checkers and clients expect it); without it the noise is exactly Gaussian.

    The draws come from the wrapper's own generator, created at ``reset(seed)`` from the seed
    and the roles (``reset()`` without a seed continues it): the same seed repeats the noise,
    and the model's own random stream is untouched, so the noise-free trajectory under the same
    actions is the unwrapped env's. The dict API and the array API draw the same noise.

    Batched worlds: supported. World ``b`` of a :class:`~heas_envs.env.VectorWorldsEnv` reset
    with seed ``s_b`` gets the noise of a single env reset with ``s_b``, through its
    automatic resets (both modes; in ``"same_step"`` mode ``info["final_obs"]`` is noisy too).

    Example:
        >>> env = NoisyObservations(heas_envs.make_parallel("heas_envs/Market-v0"), 0.1,
        ...                         roles=["trader"])

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        scale: The noise's standard deviation, a number >= 0 or a list broadcast to each noisy
            role's observation shape (one value per feature).
        roles: The roles whose observations are noisy (default: every role).
        clip: Clip the noisy observations into the observation space.

    Raises:
        ValueError: A negative or non-finite scale, one that does not fit a role's
            observation shape, an unknown role (the message lists the roles), or a ``clip``
            that is not a bool.
    """

    _changes_obs = True

    def __init__(
        self,
        env: Any,
        scale: float | Sequence[float],
        roles: Sequence[str] | None = None,
        clip: bool = True,
    ) -> None:
        self.require_env(env)
        args = self.check_args(scale, roles, clip)
        self._noise = _RoleNoise(env.unwrapped, args)
        super().__init__(env, args)
        self._rng: np.random.Generator | None = None

    @classmethod
    def check_args(
        cls, scale: float | Sequence[float], roles: Sequence[str] | None = None, clip: bool = True
    ) -> dict[str, Any]:
        """``{"scale": ..., "roles": [...] or None, "clip": bool}`` as JSON values."""
        flat = np.asarray(scale, dtype=object).reshape(-1)
        numeric = len(flat) > 0 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in flat
        )
        if not numeric or isinstance(scale, (str, Mapping)):
            raise ValueError(
                "NoisyObservations: scale must be a number >= 0 or a list of them (one per "
                f"observation feature), got {show_value(scale)}"
            )
        values = np.asarray(scale, dtype=np.float64)
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(
                f"NoisyObservations: scale must be finite and >= 0, got {show_value(scale)}"
            )
        if not isinstance(clip, (bool, np.bool_)):
            raise ValueError(f"NoisyObservations: clip must be True or False, got {clip!r}")
        return {
            "scale": json_value("scale", scale),
            "roles": check_roles("NoisyObservations: roles", roles),
            "clip": bool(clip),
        }

    def _reset_hook(self, seed: int | None) -> None:
        if seed is not None or self._rng is None:
            self._rng = seeded_generator(seed, self._noise.salt)

    def _transform_obs(
        self, obs: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        assert self._rng is not None
        return self._noise.apply(obs, shown, self._rng)


class NoisyObservationsVector(VectorScenarioWrapper):
    """:class:`NoisyObservations` over batched worlds: one generator per world, seeded from
    the world's seed, so that world ``b`` gets the noise of a single env seeded ``s_b``."""

    parallel_class = NoisyObservations

    def __init__(
        self,
        venv: Any,
        scale: float | Sequence[float],
        roles: Sequence[str] | None = None,
        clip: bool = True,
    ) -> None:
        args = NoisyObservations.check_args(scale, roles, clip)
        engine = engine_of(venv)
        self._noise = _RoleNoise(engine, args)
        super().__init__(venv, args)
        self._rngs: list[np.random.Generator | None] = [None] * engine.num_worlds
        self._obs: dict[str, np.ndarray] = {}

    def reset(
        self, seed: int | Sequence[int] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every world; the noise generators follow the worlds' seeds."""
        obs, info = self.venv.reset(seed=seed, options=options)
        seeds = world_seeds(seed, len(self._rngs))
        for b, s in enumerate(seeds):
            if s is not None or self._rngs[b] is None:
                self._rngs[b] = seeded_generator(s, self._noise.salt)
        self._obs = self._batch(obs, info["alive"], np.ones(len(self._rngs), dtype=bool))
        return _copies(self._obs), info

    def step(self, actions: Mapping[str, Any]) -> VectorStep:
        """One step of every world, the reported observations noisy."""
        out = self.venv.step(actions)
        info = dict(out.info)
        every = np.ones(len(self._rngs), dtype=bool)
        ended = info["ended"] if self.unwrapped.autoreset == "same_step" else ~every
        if ended.any():  # the final observations first: a single env draws them before reset
            final_shown = {r: a | out.terminated[r] for r, a in info["final_alive"].items()}
            info["final_obs"] = self._batch(info["final_obs"], final_shown, ended)
        shown = {r: a | (out.terminated[r] & ~ended[:, None]) for r, a in out.alive.items()}
        self._obs = self._batch(out.obs, shown, every)
        return out._replace(obs=_copies(self._obs), info=info)

    def _batch(
        self, obs: Mapping[str, np.ndarray], shown: Mapping[str, np.ndarray], worlds: np.ndarray
    ) -> dict[str, np.ndarray]:
        out = dict(obs)
        rows = {r: np.array(o) for r, o in obs.items() if r in self._noise.roles}
        for b in np.flatnonzero(worlds).tolist():
            world = self._noise.apply(
                {r: o[b] for r, o in rows.items()}, {r: shown[r][b] for r in rows}, self._rngs[b]
            )
            for r in rows:
                rows[r][b] = world[r]
        out.update(rows)
        return out

    @property
    def observations(self) -> dict[str, np.ndarray]:
        """The last (noisy) observations per role, ``[B, n_agents, *obs]`` (copies)."""
        return _copies(self._obs)

    def heuristic_actions(
        self, obs: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The model's reference policy on ``obs`` (default: the last noisy observations)."""
        return self.venv.heuristic_actions(self.observations if obs is None else obs)


NoisyObservations.vector_class = NoisyObservationsVector


class _RoleNoise:
    """The noise of one wrapper: roles, per-feature scales and bounds; one world's draws."""

    def __init__(self, env: Any, args: Mapping[str, Any]) -> None:
        self.roles = args["roles"] or list(env.roles)
        self.clip = args["clip"]
        self.salt = "NoisyObservations:" + ",".join(self.roles)
        self.scale, self.bounds = {}, {}
        for role in self.roles:
            space = group_of(env, "NoisyObservations", role).observation_space
            if not isinstance(space, spaces.Box):
                raise ValueError(
                    f"NoisyObservations adds noise to Box observations; role {role!r} observes "
                    f"{space}"
                )
            try:
                self.scale[role] = np.broadcast_to(np.asarray(args["scale"], float), space.shape)
            except ValueError:
                raise ValueError(
                    f"NoisyObservations: a scale of shape {np.shape(args['scale'])} does not fit "
                    f"the observations of role {role!r}, of shape {space.shape}"
                ) from None
            self.bounds[role] = (space.low, space.high, space.dtype)

    def apply(
        self,
        obs: Mapping[str, np.ndarray],
        shown: Mapping[str, np.ndarray],
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """One world's observations with noise: one dense draw per role, ``[n, *obs]``."""
        out = dict(obs)
        for role in self.roles:
            o = obs[role]
            noise = rng.standard_normal(o.shape) * self.scale[role]
            mask = shown[role].reshape(shown[role].shape + (1,) * (o.ndim - 1))
            noisy = np.where(mask, o + noise, o)
            low, high, dtype = self.bounds[role]
            if self.clip:
                noisy = np.clip(noisy, low, high)
            out[role] = noisy.astype(dtype)
        return out


def _copies(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in arrays.items()}
