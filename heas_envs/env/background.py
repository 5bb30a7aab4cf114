"""Background policies: what drives the agents that the caller does not control.

A background is ``"heuristic"`` (the model's reference policy), ``"random"`` (uniform actions,
each world drawing from its own generator), a function mapping one role's observations
``[B, n_agents, *obs]`` to actions ``[B, n_agents, *act]``, or a mapping from role to any of
these (roles left out play the heuristic). The single-agent views, the SB3 adapter and the
EvoTorch problem all use :func:`role_policies` and :func:`background_actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from heas_envs.env.vector import VectorWorldsEnv, sample_actions

#: A background policy of one role: observations ``[B, n_agents, *obs]`` -> actions.
RolePolicy = Callable[[np.ndarray], np.ndarray]
Background = str | RolePolicy | Mapping[str, str | RolePolicy]
BACKGROUND_NAMES = ("heuristic", "random")
#: Mixed into a world's seed for its random background, so that random agents never draw the
#: bits the world's own model draws from ``np.random.default_rng(seed)``.
BACKGROUND_SALT = 0x6261636B  # "back"


def background_generator(seed: int | None) -> np.random.Generator:
    """The random background's generator of a world seeded ``seed`` (``None``: fresh entropy):
    a stream independent of the world's own, and the same in every view of that world."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence([int(seed), BACKGROUND_SALT]))


def role_policies(background: Background, roles: Sequence[str]) -> dict[str, str | RolePolicy]:
    """``background`` resolved to one policy per role.

    Raises:
        ValueError: An unknown role or policy name, or a policy that is neither a name nor
            callable.
    """
    if isinstance(background, Mapping):
        unknown = set(background) - set(roles)
        if unknown:
            raise ValueError(
                f"background names unknown roles {sorted(unknown)}; roles are {list(roles)}"
            )
        chosen = {r: background.get(r, "heuristic") for r in roles}
    else:
        chosen = dict.fromkeys(roles, background)
    for role, policy in chosen.items():
        if isinstance(policy, str) and policy not in BACKGROUND_NAMES:
            raise ValueError(
                f"background policy {policy!r} for role {role!r} is unknown; use one of "
                f"{list(BACKGROUND_NAMES)}, a function of observations, or a mapping by role"
            )
        if not isinstance(policy, str) and not callable(policy):
            raise ValueError(
                f"background policy for role {role!r} must be a name or callable, got {policy!r}"
            )
    return chosen


def background_actions(
    worlds: VectorWorldsEnv,
    policies: Mapping[str, str | RolePolicy],
    obs: Mapping[str, np.ndarray],
    generators: Sequence[np.random.Generator],
    skip: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every role's background actions ``[B, n_agents, *act]`` for the observations ``obs``.

    Args:
        worlds: The worlds (their heuristic, spaces and slot counts).
        policies: One policy per role (:func:`role_policies`).
        obs: Per role, ``[B, n_agents, *obs]``.
        generators: One generator per world, for random play.
        skip: ``[B]`` worlds that draw nothing (zeros: worlds being reset by this step, which
            a single env would not step).
    """
    out: dict[str, np.ndarray] = {}
    heuristic = [r for r, p in policies.items() if p == "heuristic"]
    if heuristic:
        out.update(worlds.heuristic_actions({r: obs[r] for r in heuristic}))
    for role, policy in policies.items():
        if policy == "random":
            group, shape = worlds.groups[role], worlds.action_shapes[role]
            out[role] = np.stack(
                [
                    np.zeros((group.n_agents, *shape))
                    if skip is not None and skip[b]
                    else sample_actions(group.action_space, group.n_agents, g)
                    for b, g in enumerate(generators)
                ]
            )
        elif policy != "heuristic":
            out[role] = np.asarray(policy(obs[role]))
    return out
