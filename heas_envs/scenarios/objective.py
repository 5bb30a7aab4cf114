"""Objective: what an agent is paid, kept apart from the reward the env defines.

An :class:`Objective` maps the env's rewards and per-step metrics to one role's reward: a
weighted sum of metrics (``metrics={key: weight}``) or another role's reward negated
(``negate=<role>``: an attacker whose objective is the defender's loss). It is data (a frozen
dataclass that round-trips through JSON) and one mechanism: :meth:`Objective.wrap` applies it
with the :class:`~heas_envs.scenarios.wrappers.ObjectiveReward` scenario wrapper, the wrapper
a tournament's scenario names; the trainers (``agents.sb3.train_sb3``, ``agents.evo.train_evo``)
take an objective as ``reward_objective`` and train on the wrapped worlds.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heas_envs.core.params import show_value

#: How another role's rewards are reduced to one number before negation.
REDUCTIONS = ("mean", "sum")

_FIELDS = ("role", "metrics", "negate", "slots", "reduce")


@dataclass(frozen=True)
class Objective:
    """The reward of ``role``'s agents (all, or ``slots``) as an objective of its own.

    Give exactly one of:

    - ``metrics``: a weighted sum of the env's per-step metrics after the step,
      ``sum(w * env.metrics()[k] for k, w in metrics.items())``;
    - ``negate``: another role's reward negated: ``-mean`` (or ``-sum``, ``reduce``) of the
      rewards that role's reported agents get in the step.

    Building one validates what can be checked without an env and normalises the values
    (weights become floats, slots a tuple), so ``Objective.from_dict(o.to_dict()) == o``.

    Example:
        >>> attacker = Objective("attacker", negate="defender")
        >>> env = attacker.wrap(heas_envs.make_parallel("heas_envs/PowerGrid-v0"))

    Args:
        role: The role whose reward is replaced.
        metrics: Weights by metric key (``env.metrics()`` keys, ``"<stream>.<metric>"``).
        negate: The role whose reward, negated, is the objective (not ``role``).
        slots: The slots of ``role`` that get the objective (default: all).
        reduce: ``"mean"`` or ``"sum"`` over the other role's reported agents.

    Raises:
        ValueError: Neither or both of ``metrics`` and ``negate``; an empty role; a weight
            that is not a finite number; ``negate == role``; bad slots; an unknown
            ``reduce``.
    """

    role: str
    metrics: Mapping[str, float] | None = None
    negate: str | None = None
    slots: Sequence[int] | None = None
    reduce: str = "mean"

    def __post_init__(self) -> None:
        role, metrics, negate = self.role, self.metrics, self.negate
        if not isinstance(role, str) or not role:
            raise ValueError(f"Objective: role must be a role name, got {role!r}")
        if (metrics is None) == (negate is None):
            raise ValueError(
                "Objective takes exactly one objective: metrics={key: weight} (a weighted "
                "sum of env.metrics()) or negate=<role> (that role's reward negated)"
            )
        if metrics is not None:
            ok = isinstance(metrics, Mapping) and len(metrics) > 0
            ok = ok and all(
                isinstance(k, str)
                and isinstance(w, numbers.Real)
                and not isinstance(w, bool)
                and np.isfinite(w)
                for k, w in metrics.items()
            )
            if not ok:
                raise ValueError(
                    "Objective: metrics must be a non-empty mapping from metric key to a "
                    f"finite weight, got {show_value(metrics)}"
                )
            object.__setattr__(self, "metrics", {k: float(w) for k, w in metrics.items()})
        if negate is not None and (not isinstance(negate, str) or negate == role):
            raise ValueError(
                f"Objective: negate must name another role than {role!r}, got {negate!r}"
            )
        if self.reduce not in REDUCTIONS:
            raise ValueError(
                f"Objective: reduce must be one of {list(REDUCTIONS)}, got {self.reduce!r}"
            )
        from heas_envs.scenarios.wrappers.base import check_slots  # the wrappers import us

        slots = check_slots("Objective: slots", self.slots)
        object.__setattr__(self, "slots", None if slots is None else tuple(slots))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The objective as JSON values (the ``ObjectiveReward`` wrapper's arguments)."""
        return {
            "role": self.role,
            "metrics": None if self.metrics is None else dict(self.metrics),
            "negate": self.negate,
            "slots": None if self.slots is None else list(self.slots),
            "reduce": self.reduce,
        }

    @classmethod
    def of(
        cls, value: Objective | Mapping[str, Any], role: str | None = None, what: str = "trained"
    ) -> Objective:
        """``value`` as an objective (an :class:`Objective`, or its :meth:`to_dict` mapping),
        checked to be the objective of ``role`` (the role that is ``what``) when one is given.

        Raises:
            ValueError: An invalid objective, or one of another role than ``role``.
        """
        objective = value if isinstance(value, Objective) else cls.from_dict(value)
        if role is not None and objective.role != role:
            raise ValueError(
                f"reward_objective is the objective of role {objective.role!r}; give one of "
                f"the {what} role {role!r}"
            )
        return objective

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objective:
        """The objective of a :meth:`to_dict` mapping (keys left out take their defaults).

        Raises:
            ValueError: ``data`` is not a mapping, has unknown keys or no ``role``, or the
                objective is invalid.
        """
        if not isinstance(data, Mapping) or "role" not in data:
            raise ValueError(
                'an objective is a mapping {"role": ..., "metrics": {...}} or {"role": ..., '
                f'"negate": ...}}; got {show_value(data)}'
            )
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown objective keys {unknown}; valid keys: {sorted(_FIELDS)}")
        return cls(**data)

    # -- against an env --------------------------------------------------------------------------
    def check_env(self, env: Any) -> None:
        """Raise a ``ValueError`` unless ``role``, ``negate`` and ``slots`` exist in ``env``
        (a parallel env, batched worlds, or a scenario wrapper of either); the message lists
        the valid roles or slots."""
        from heas_envs.scenarios.wrappers.base import check_slots_in, group_of

        group_of(env, "Objective", self.role)
        check_slots_in(env, "Objective", self.role, list(self.slots) if self.slots else None)
        if self.negate is not None:
            group_of(env, "Objective: negate", self.negate)

    def check_metrics(self, available: Mapping[str, Any]) -> None:
        """Raise a ``ValueError`` listing ``available`` if a weighted key is not in it."""
        unknown = sorted(set(self.metrics or ()) - set(available))
        if unknown:
            raise ValueError(
                f"Objective: unknown metric keys {unknown}; the env's metrics are "
                f"{sorted(available)}"
            )

    def value(
        self,
        rewards: Mapping[str, np.ndarray],
        metrics: Mapping[str, Any] | None = None,
        shown: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The objective's value: a scalar for one world's ``[n]`` rewards, ``[B]`` for
        batched worlds' ``[B, n]``.

        Args:
            rewards: The env's rewards by role.
            metrics: The env's metrics after the step (needed for a ``metrics`` objective).
            shown: By role, the agents reported in the step (default: all); a ``negate``
                objective reduces over the other role's reported agents only.

        Raises:
            ValueError: A ``metrics`` objective without ``metrics``, or a key missing there.
        """
        if self.metrics is not None:
            if metrics is None:
                raise ValueError("Objective: a metrics objective needs the env's metrics")
            self.check_metrics(metrics)
            return sum(
                w * np.asarray(metrics[k], dtype=np.float64) for k, w in self.metrics.items()
            )
        other = np.asarray(rewards[self.negate], dtype=np.float64)
        seen = np.ones(other.shape, dtype=bool) if shown is None else shown[self.negate]
        total = np.where(seen, other, 0.0).sum(axis=-1)
        if self.reduce == "sum":
            return -total
        return -total / np.maximum(seen.sum(axis=-1), 1)

    def rewards(
        self,
        rewards: Mapping[str, np.ndarray],
        metrics: Mapping[str, Any] | None = None,
        shown: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """``role``'s rewards under the objective: ``[..., n]`` like ``rewards[role]``, the
        objective's value for its reported agents among ``slots``, the env's reward for the
        others.

        Args:
            rewards: The env's rewards by role (``[n]`` per role, or ``[B, n]``).
            metrics: The env's metrics after the step (a ``metrics`` objective).
            shown: By role, the agents reported in the step (default: all).

        Raises:
            ValueError: Slots beyond the role's agents, or missing metrics.
        """
        own = np.asarray(rewards[self.role], dtype=np.float64)
        n = own.shape[-1]
        if self.slots is not None and max(self.slots) >= n:
            raise ValueError(
                f"Objective: slots {[s for s in self.slots if s >= n]} do not exist; role "
                f"{self.role!r} has slots 0..{n - 1}"
            )
        mask = np.zeros(n, dtype=bool)
        mask[list(self.slots) if self.slots is not None else slice(None)] = True
        if shown is not None:
            mask = shown[self.role] & mask
        value = np.asarray(self.value(rewards, metrics, shown), dtype=np.float64)[..., None]
        return np.where(mask, value, own)

    def wrap(self, env: Any) -> Any:
        """``env`` wrapped by :class:`~heas_envs.scenarios.wrappers.ObjectiveReward` with this
        objective (its batched version over batched worlds)."""
        from heas_envs.scenarios.wrappers.registry import apply_wrapper

        return apply_wrapper(env, ("ObjectiveReward", self.to_dict()))
