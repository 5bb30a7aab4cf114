"""ObjectiveReward: a role's reward replaced by an objective of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heas_envs.env.vector import VectorStep
from heas_envs.scenarios.objective import Objective
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    VectorScenarioWrapper,
    engine_of,
    probe_model,
)


class ObjectiveReward(ScenarioWrapper):
    """The reward of ``role``'s agents (all, or ``slots``) replaced by an objective.

    The wrapper applies an :class:`~heas_envs.scenarios.Objective` (``Objective(role,
    metrics, negate, slots, reduce)``; :meth:`Objective.wrap` builds this wrapper).

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
        self._objective = Objective.from_dict(args)
        self._objective.check_env(env)
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
        """The arguments as JSON values (validated by :class:`~heas_envs.scenarios.Objective`)."""
        return Objective(role, metrics, negate, slots, reduce).to_dict()

    @property
    def objective(self) -> Objective:
        """The objective this wrapper applies."""
        return self._objective

    def _reset_hook(self, seed: int | None) -> None:
        if not self._checked:
            self._objective.check_metrics(self.env.metrics())
            self._checked = True

    def _transform_rewards(
        self, rewards: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        metrics = self.env.metrics() if self._args["metrics"] else None
        return {**rewards, self._args["role"]: self._objective.rewards(rewards, metrics, shown)}


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
        self._objective = Objective.from_dict(args)
        self._objective.check_env(engine)
        if engine.single_env is not None:
            self._objective.check_metrics(probe_model(engine.single_env).metrics_step())
        super().__init__(venv, args)

    @property
    def objective(self) -> Objective:
        """The objective this wrapper applies."""
        return self._objective

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
        role = self._args["role"]
        new = self._objective.rewards(out.rewards, metrics, shown)
        return out._replace(rewards={**out.rewards, role: new})


ObjectiveReward.vector_class = ObjectiveRewardVector
