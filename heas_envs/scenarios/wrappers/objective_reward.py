"""ObjectiveReward: a role's reward replaced by an objective of its own."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heas_envs.core.params import show_value
from heas_envs.env.vector import VectorStep
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    VectorScenarioWrapper,
    check_slots,
    check_slots_in,
    engine_of,
    group_of,
    probe_model,
)

#: How another role's rewards are reduced to one number before negation.
REDUCTIONS = ("mean", "sum")


class ObjectiveReward(ScenarioWrapper):
    """The reward of ``role``'s agents (all, or ``slots``) replaced by an objective.

    Two objectives, give exactly one:

    - ``metrics``: a weighted sum of the env's per-step metrics after the step,
      ``sum(w * env.metrics()[k] for k, w in metrics.items())`` (for instance
      ``{"metrics.volatility": -1.0}``: a trader paid for calm markets);
    - ``negate``: another role's reward negated, ``-mean`` (or ``-sum``, ``reduce``) of the
      rewards that role's reported agents get in the step: an attacker whose objective is the
      defender's loss.

    Every reported agent of ``role`` (among ``slots``) gets the objective's value in every
    step; other agents keep their rewards. The objective is computed from the rewards that
    reach the wrapper (an ``ObjectiveReward`` below changes what a ``negate`` above sees).

    Batched worlds: supported: ``negate`` in both autoreset modes, ``metrics`` with
    ``autoreset="next_step"`` only (``NotImplementedError`` otherwise: in ``"same_step"`` mode
    the metrics of an ended world are already the next episode's). Worlds being reset by a
    step get reward 0, as from the env.

    Example:
        >>> env = ObjectiveReward(heas_envs.make_parallel("heas_envs/Market-v0"), "trader",
        ...                       negate="regulator")

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        role: The role whose reward is replaced.
        metrics: Weights by metric key (``env.metrics()`` keys, ``"<stream>.<metric>"``).
        negate: The role whose reward, negated, is the objective (not ``role``).
        slots: The slots of ``role`` that get the objective (default: all).
        reduce: ``"mean"`` or ``"sum"`` over the other role's reported agents.

    Raises:
        ValueError: Neither or both of ``metrics`` and ``negate``; an unknown role, slot or
            metric key (the message lists the valid ones); a weight that is not a finite
            number; ``negate == role``; an unknown ``reduce``.
    """

    _changes_rewards = True

    def __init__(
        self,
        env: Any,
        role: str,
        metrics: Mapping[str, float] | None = None,
        negate: str | None = None,
        slots: Sequence[int] | None = None,
        reduce: str = "mean",
    ) -> None:
        self.require_env(env)
        args = self.check_args(role, metrics, negate, slots, reduce)
        self._objective = _Objective(env, args)
        probe = probe_model(env)
        if probe is not None:
            self._objective.check_metrics(probe.metrics_step())
        super().__init__(env, args)
        self._checked = probe is not None

    @classmethod
    def check_args(
        cls,
        role: str,
        metrics: Mapping[str, float] | None = None,
        negate: str | None = None,
        slots: Sequence[int] | None = None,
        reduce: str = "mean",
    ) -> dict[str, Any]:
        """The arguments as JSON values."""
        if not isinstance(role, str) or not role:
            raise ValueError(f"ObjectiveReward: role must be a role name, got {role!r}")
        if (metrics is None) == (negate is None):
            raise ValueError(
                "ObjectiveReward takes exactly one objective: metrics={key: weight} (a weighted "
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
                    "ObjectiveReward: metrics must be a non-empty mapping from metric key to a "
                    f"finite weight, got {show_value(metrics)}"
                )
            metrics = {k: float(w) for k, w in metrics.items()}
        if negate is not None and (not isinstance(negate, str) or negate == role):
            raise ValueError(
                f"ObjectiveReward: negate must name another role than {role!r}, got {negate!r}"
            )
        if reduce not in REDUCTIONS:
            raise ValueError(
                f"ObjectiveReward: reduce must be one of {list(REDUCTIONS)}, got {reduce!r}"
            )
        return {
            "role": role,
            "metrics": metrics,
            "negate": negate,
            "slots": check_slots("ObjectiveReward: slots", slots),
            "reduce": reduce,
        }

    def _reset_hook(self, seed: int | None) -> None:
        if not self._checked:
            self._objective.check_metrics(self.env.metrics())
            self._checked = True

    def _transform_rewards(
        self, rewards: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        metrics = self.env.metrics() if self._args["metrics"] else None
        value = self._objective.value(rewards, shown, metrics)
        return self._objective.replace(rewards, shown, value)


class ObjectiveRewardVector(VectorScenarioWrapper):
    """:class:`ObjectiveReward` over batched worlds (``[B]`` objective values).

    Raises:
        NotImplementedError: ``metrics`` over worlds with ``autoreset="same_step"``.
    """

    parallel_class = ObjectiveReward

    def __init__(
        self,
        venv: Any,
        role: str,
        metrics: Mapping[str, float] | None = None,
        negate: str | None = None,
        slots: Sequence[int] | None = None,
        reduce: str = "mean",
    ) -> None:
        args = ObjectiveReward.check_args(role, metrics, negate, slots, reduce)
        engine = engine_of(venv)
        if args["metrics"] and engine.autoreset == "same_step":
            raise NotImplementedError(
                "ObjectiveReward with metrics over batched worlds needs autoreset='next_step': "
                "with 'same_step' the metrics of an ended world are already the next episode's"
            )
        self._objective = _Objective(engine, args)
        if engine.single_env is not None:
            self._objective.check_metrics(probe_model(engine.single_env).metrics_step())
        super().__init__(venv, args)

    def step(self, actions: Mapping[str, Any]) -> VectorStep:
        """One step of every world, ``role``'s rewards replaced by the objective."""
        out = self.venv.step(actions)
        info = out.info
        alive = out.alive
        if "final_alive" in info:  # same_step: the ended worlds' rewards are their final step's
            ended = info["ended"][:, None]
            alive = {r: np.where(ended, info["final_alive"][r], a) for r, a in alive.items()}
        resetting = info.get("autoreset", np.zeros(len(info["ended"]), dtype=bool))[:, None]
        shown = {r: (a | out.terminated[r]) & ~resetting for r, a in alive.items()}
        metrics = self.venv.metrics() if self._args["metrics"] else None
        value = self._objective.value(out.rewards, shown, metrics)
        return out._replace(rewards=self._objective.replace(out.rewards, shown, value))


ObjectiveReward.vector_class = ObjectiveRewardVector


class _Objective:
    """The objective of one wrapper, on rewards ``[..., n]`` and metrics ``[...]``."""

    def __init__(self, env: Any, args: Mapping[str, Any]) -> None:
        self.args = args
        role = args["role"]
        group = group_of(env, "ObjectiveReward", role)
        check_slots_in(env, "ObjectiveReward", role, args["slots"])
        if args["negate"] is not None:
            group_of(env, "ObjectiveReward: negate", args["negate"])
        self.slot_mask = np.zeros(group.n_agents, dtype=bool)
        self.slot_mask[args["slots"] if args["slots"] is not None else slice(None)] = True

    def check_metrics(self, available: Mapping[str, Any]) -> None:
        """Raise a ``ValueError`` listing ``available`` if a weighted key is not in it."""
        unknown = sorted(set(self.args["metrics"] or ()) - set(available))
        if unknown:
            raise ValueError(
                f"ObjectiveReward: unknown metric keys {unknown}; the env's metrics are "
                f"{sorted(available)}"
            )

    def value(
        self,
        rewards: Mapping[str, np.ndarray],
        shown: Mapping[str, np.ndarray],
        metrics: Mapping[str, Any] | None,
    ) -> np.ndarray:
        """The objective: a scalar (one world) or ``[B]``."""
        if metrics is not None:
            return sum(
                w * np.asarray(metrics[k], dtype=np.float64)
                for k, w in self.args["metrics"].items()
            )
        other = self.args["negate"]
        seen = shown[other]
        total = np.where(seen, rewards[other], 0.0).sum(axis=-1)
        if self.args["reduce"] == "sum":
            return -total
        return -total / np.maximum(seen.sum(axis=-1), 1)

    def replace(
        self, rewards: Mapping[str, np.ndarray], shown: Mapping[str, np.ndarray], value: Any
    ) -> dict[str, np.ndarray]:
        """``rewards`` with ``value`` for the reported agents of the role among the slots."""
        role = self.args["role"]
        mask = shown[role] & self.slot_mask
        value = np.asarray(value, dtype=np.float64)[..., None]
        return {**rewards, role: np.where(mask, value, rewards[role])}
