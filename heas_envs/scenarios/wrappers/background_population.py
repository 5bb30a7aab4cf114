"""BackgroundPopulation: agents of a role driven by a policy drawn from a pool each episode."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heas_envs.core.params import show_value
from heas_envs.env.vector import as_real_array
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    action_shape,
    check_slots,
    check_slots_in,
    group_of,
    json_value,
    seeded_generator,
    zero_action,
)


class BackgroundPopulation(ScenarioWrapper):
    """Agents of ``role`` (all, or the given ``slots``) played by a policy from ``pool``.

    At every ``reset`` the wrapper draws the episode's policy from the pool (with
    ``per_agent``, one policy per driven agent), with probabilities ``weights`` (default:
    uniform), from its own generator: created at ``reset(seed)`` from the seed, the role and
    the slots (``reset()`` without a seed continues it), so the same seed repeats the draws and
    the model's own random stream is untouched. Policies that draw (``"random"``) draw from the
    same generator. :attr:`episode_policies` says who plays what in the current episode.

    The driven agents leave the dict API: ``possible_agents``, ``agents`` and every returned
    dict hold the other agents only, and an action for a driven agent raises. The array API
    keeps every slot (one array per role over all slots, as the env's): rows of driven slots
    in the given actions are replaced by the policy's, and a role whose every slot is driven
    may be left out. The policy sees the observations the wrapped env gives (so a noise
    wrapper below it is seen by the background too).

    The episode of the remaining agents may end before the env's (they all die while driven
    agents live): ``agents`` is then empty, as at any episode end.

    Policies are names of :data:`~heas_envs.scenarios.policies.BACKGROUND_POLICIES`
    (``"heuristic"``, ``"random"``, ``"zeros"``, and those registered with
    :func:`~heas_envs.scenarios.policies.register_policy`), so that a scenario names them.

    Batched worlds: not supported (``NotImplementedError``): each world would draw its policy
    at its own automatic resets; give each world's background to the batched env's actions.

    Example:
        >>> env = BackgroundPopulation(heas_envs.make_parallel("heas_envs/Market-v0"),
        ...                            "trader", pool="mixed", slots=[1, 2, 3])

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        role: The role of the driven agents.
        pool: A policy name, a pool name (:data:`~heas_envs.scenarios.policies.POLICY_POOLS`)
            or a list of policy names.
        slots: The driven slots of ``role`` (default: all of them).
        weights: Draw probabilities, one per policy of the pool (normalised; default uniform).
        per_agent: Draw one policy per driven agent instead of one for all.

    Raises:
        ValueError: An unknown role, slot, policy or pool (the message lists the valid ones),
            weights of the wrong length or not positive, or a ``per_agent`` that is not a bool.
    """

    _changes_actions = True
    vector_note = "each world would draw its background policy at its own automatic resets"

    def __init__(
        self,
        env: Any,
        role: str,
        pool: str | Sequence[str] = "heuristic",
        slots: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
        per_agent: bool = False,
    ) -> None:
        from heas_envs.scenarios.policies import resolve_pool

        self.require_env(env)
        args = self.check_args(role, pool, slots, weights, per_agent)
        self._group = group_of(env, "BackgroundPopulation", role)
        check_slots_in(env, "BackgroundPopulation", role, args["slots"])
        self._members = resolve_pool(args["pool"])
        if args["weights"] is not None and len(args["weights"]) != len(self._members):
            raise ValueError(
                f"BackgroundPopulation: {len(args['weights'])} weights for a pool of "
                f"{len(self._members)} policies {list(self._members)}"
            )
        super().__init__(env, args)
        self._slots = (
            args["slots"] if args["slots"] is not None else list(range(self._group.n_agents))
        )
        self._driven = {f"{role}_{i}" for i in self._slots}
        self.possible_agents = [a for a in env.possible_agents if a not in self._driven]
        weights = np.asarray(args["weights"] or [1.0] * len(self._members), dtype=np.float64)
        self._p = weights / weights.sum()
        self._salt = f"BackgroundPopulation:{role}:{self._slots}"
        self._rng: np.random.Generator | None = None
        self._policies: dict[str, Any] = {}
        self._rows: dict[str, np.ndarray] = {}
        #: The policy name of every driven agent in the current episode.
        self.episode_policies: dict[str, str] = {}

    @classmethod
    def check_args(
        cls,
        role: str,
        pool: str | Sequence[str] = "heuristic",
        slots: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
        per_agent: bool = False,
    ) -> dict[str, Any]:
        """The arguments as JSON values (the pool's names checked against the registry)."""
        from heas_envs.scenarios.policies import resolve_pool

        if not isinstance(role, str) or not role:
            raise ValueError(f"BackgroundPopulation: role must be a role name, got {role!r}")
        resolve_pool(pool)
        if weights is not None:
            ok = isinstance(weights, Sequence) and not isinstance(weights, str) and len(weights)
            ok = ok and all(
                isinstance(w, numbers.Real) and not isinstance(w, bool) and w > 0 for w in weights
            )
            if not ok:
                raise ValueError(
                    "BackgroundPopulation: weights must be None or a list of positive numbers, "
                    f"one per policy of the pool; got {show_value(weights)}"
                )
        if not isinstance(per_agent, (bool, np.bool_)):
            raise ValueError(
                f"BackgroundPopulation: per_agent must be True or False, got {per_agent!r}"
            )
        return {
            "role": role,
            "pool": json_value("pool", pool),
            "slots": check_slots("BackgroundPopulation: slots", slots),
            "weights": json_value("weights", weights),
            "per_agent": bool(per_agent),
        }

    @property
    def agents(self) -> list[str]:  # type: ignore[override]
        """The live agents that are not driven."""
        return [a for a in self.env.agents if a not in self._driven]

    def _reset_hook(self, seed: int | None) -> None:
        from heas_envs.scenarios.policies import make_policy

        if seed is not None or self._rng is None:
            self._rng = seeded_generator(seed, self._salt)
        draws = len(self._slots) if self._args["per_agent"] else 1
        chosen = [self._members[k] for k in self._rng.choice(len(self._members), draws, p=self._p)]
        if not self._args["per_agent"]:
            chosen = chosen * len(self._slots)
        role = self._args["role"]
        self.episode_policies = {f"{role}_{i}": name for i, name in zip(self._slots, chosen)}
        self._policies = {name: make_policy(name, self.env, role, self._rng) for name in chosen}
        self._rows = {
            name: np.array([i for i, c in zip(self._slots, chosen) if c == name])
            for name in self._policies
        }

    def _transform_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        role = self._args["role"]
        group = self._group
        shape = (group.n_agents, *action_shape(group.action_space))
        given = actions.get(role)
        if given is None:
            if len(self._slots) < group.n_agents:
                raise ValueError(
                    f"no actions for role {role!r}: only slots {self._slots} of it are driven "
                    f"by the background; give an array of shape {shape}"
                )
            rows = np.broadcast_to(zero_action(group.action_space), shape).copy()
        else:
            rows = as_real_array(given)
            if rows is None or rows.shape != shape:
                raise ValueError(
                    f"actions of role {role!r} must be real numbers of shape {shape}, got "
                    f"{show_value(given)}"
                )
            rows = rows.copy()
        obs = self.env.observations[role]
        for name, policy in self._policies.items():
            idx = self._rows[name]
            rows[idx] = np.asarray(policy(obs), dtype=np.float64)[idx]
        return {**actions, role: rows}

    def _actions_by_role(self, actions: Any) -> dict[str, np.ndarray]:
        if isinstance(actions, Mapping):
            driven = sorted(a for a in actions if a in self._driven)
            if driven:
                raise ValueError(
                    f"agents {driven[:8]} are driven by the background population "
                    f"({self.episode_policies.get(driven[0], 'a pool policy')}); leave them out"
                )
        return super()._actions_by_role(actions)

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, Any], dict[str, dict]]:
        """Reset and draw the episode's background policies; the driven agents are left out."""
        obs, infos = super().reset(seed=seed, options=options)
        return self._own(obs), self._own(infos)

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One step: the given agents' actions, the background's for the driven agents."""
        return tuple(self._own(d) for d in super().step(actions))  # type: ignore[return-value]

    def _own(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {a: v for a, v in values.items() if a not in self._driven}
