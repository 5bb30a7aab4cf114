"""Named background policies and pools of them, for scenarios and background populations.

A scenario names the policy that drives its non-focal agents, so the name must mean the same
policy wherever the scenario is played. :data:`BACKGROUND_POLICIES` maps a name to a factory
``factory(env, role, rng)`` returning a policy of one role, a function from the role's
observations ``[..., n_agents, *obs]`` to its actions ``[..., n_agents, *act]`` (``rng``: the
generator of the wrapper that plays it, seeded by the env's reset seed). :data:`POLICY_POOLS`
maps a pool name to policy names; a background population draws one of them per episode.

Built in: ``"heuristic"`` (the model's reference policy), ``"random"`` (uniform actions) and
``"zeros"`` (the zero action: zeros clipped into a ``Box``, the first action of a
``Discrete``), and the pool ``"mixed"`` of the three. The policy side (``agents``) adds
trained policies with :func:`register_policy`; ``heas_envs`` never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from heas_envs.core.params import show_value
from heas_envs.env.vector import sample_actions
from heas_envs.scenarios.wrappers.base import action_shape, group_of, zero_action

#: A policy of one role: observations ``[..., n_agents, *obs]`` -> actions.
RolePolicy = Callable[[np.ndarray], np.ndarray]
#: ``factory(env, role, rng)`` -> the policy of ``role`` in ``env``.
PolicyFactory = Callable[[Any, str, np.random.Generator], RolePolicy]


def _heuristic(env: Any, role: str, rng: np.random.Generator) -> RolePolicy:
    return lambda obs: np.asarray(env.heuristic_actions({role: obs})[role])


def _random(env: Any, role: str, rng: np.random.Generator) -> RolePolicy:
    group = group_of(env, "random policy", role)
    obs_dims = len(group.observation_space.shape)
    return lambda obs: sample_actions(group.action_space, obs.shape[: obs.ndim - obs_dims], rng)


def _zeros(env: Any, role: str, rng: np.random.Generator) -> RolePolicy:
    group = group_of(env, "zeros policy", role)
    space, obs_dims = group.action_space, len(group.observation_space.shape)
    zero = zero_action(space)
    return lambda obs: np.broadcast_to(
        zero, (*obs.shape[: obs.ndim - obs_dims], *action_shape(space))
    ).copy()


BACKGROUND_POLICIES: dict[str, PolicyFactory] = {
    "heuristic": _heuristic,
    "random": _random,
    "zeros": _zeros,
}
POLICY_POOLS: dict[str, tuple[str, ...]] = {"mixed": ("heuristic", "random", "zeros")}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Add a named background policy (``factory(env, role, rng)`` -> policy of the role).

    Raises:
        ValueError: The name is taken (by a policy or a pool), or ``factory`` is not callable.
    """
    _check_new_name(name)
    if not callable(factory):
        raise ValueError(f"the factory of policy {name!r} must be callable, got {factory!r}")
    BACKGROUND_POLICIES[name] = factory


def register_pool(name: str, members: Sequence[str]) -> None:
    """Add a named pool of registered policy names.

    Raises:
        ValueError: The name is taken, the pool is empty, or a member is not a policy.
    """
    _check_new_name(name)
    POLICY_POOLS[name] = resolve_pool(list(members))


def list_policies() -> list[str]:
    """The names of the registered background policies."""
    return list(BACKGROUND_POLICIES)


def list_pools() -> list[str]:
    """The names of the registered policy pools."""
    return list(POLICY_POOLS)


def resolve_pool(pool: str | Sequence[str]) -> tuple[str, ...]:
    """The policy names of ``pool``: a policy name (a pool of one), a pool name, or a list of
    policy names.

    Raises:
        ValueError: An unknown name (the message lists the policies and pools) or an empty
            list.
    """
    if isinstance(pool, str):
        if pool in POLICY_POOLS:
            return POLICY_POOLS[pool]
        pool = [pool]
    if not isinstance(pool, Sequence) or not pool:
        raise ValueError(
            f"a policy pool is a policy or pool name or a non-empty list of policy names, got "
            f"{show_value(pool)}"
        )
    unknown = [p for p in pool if not isinstance(p, str) or p not in BACKGROUND_POLICIES]
    if unknown:
        raise ValueError(
            f"unknown background policies {unknown}; policies: {list_policies()}, pools: "
            f"{list_pools()}"
        )
    return tuple(pool)


def make_policy(name: str, env: Any, role: str, rng: np.random.Generator) -> RolePolicy:
    """The policy ``name`` of ``role`` in ``env``, drawing from ``rng`` where it draws.

    Raises:
        ValueError: An unknown policy name (the message lists them) or role.
    """
    if name not in BACKGROUND_POLICIES:
        raise ValueError(f"unknown background policy {name!r}; policies: {list_policies()}")
    return BACKGROUND_POLICIES[name](env, role, rng)


def _check_new_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a policy or pool name must be a non-empty string, got {name!r}")
    if name in BACKGROUND_POLICIES or name in POLICY_POOLS:
        raise ValueError(f"{name!r} is registered already (policies and pools share names)")
