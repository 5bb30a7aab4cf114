"""OverrideParams: the same model with some parameters changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from heas_envs.core.params import show_value
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    VectorScenarioWrapper,
    json_value,
    reapply_chain,
    rebuild_engine,
)


class OverrideParams(ScenarioWrapper):
    """The wrapped env rebuilt with some model parameters changed.

    The base env (``env.unwrapped``, a :class:`~heas_envs.env.model_env.ModelEnv`) is built
    again with its parameters updated by ``params`` (its render mode and trace setting kept),
    and the scenario wrappers between ``env`` and the base are applied again, from their specs,
    on the new base. So the wrapper may sit anywhere in a chain of scenario wrappers and acts
    as if it were the first; ``env`` itself is left as it was.

    Batched worlds: supported. Over a :class:`~heas_envs.env.VectorWorldsEnv` (from
    :func:`heas_envs.make_vec`) the worlds are built again by ``make_vec`` with the same number
    of worlds, autoreset mode, focal agent and trace setting.

    Example:
        >>> env = OverrideParams(heas_envs.make_parallel("heas_envs/Market-v0"),
        ...                      {"volatility": 0.05})
        >>> env.unwrapped.model_params.volatility
        0.05

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` with declared parameters, or a
            scenario wrapper of one.
        params: Parameter values by name (see ``heas-envs params ID``).

    Raises:
        ValueError: ``params`` is empty or not a mapping, names an unknown parameter (the
            message lists the valid ones) or gives a value outside its range; or the base env
            declares no parameters.
    """

    def __init__(self, env: Any, params: Mapping[str, Any]) -> None:
        self.require_env(env)
        args = self.check_args(params)
        base = env.unwrapped
        declared = getattr(base, "Params", None)
        if declared is None or not hasattr(base, "model_params"):
            raise ValueError(
                f"OverrideParams needs an env with declared parameters (a ModelEnv, as "
                f"heas_envs.make_parallel builds); {type(base).__name__} declares none"
            )
        merged = declared.from_kwargs(
            {**base.model_params.as_dict(), **args["params"]}, env_id=type(base).__name__
        )
        fresh = type(base)(**merged.as_dict(), render_mode=base.render_mode)
        fresh.record_trace = base.record_trace
        super().__init__(reapply_chain(env, fresh), args)

    @classmethod
    def check_args(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """``{"params": {...}}`` as JSON values; the names and values are checked against the
        env's declaration when the wrapper is built (and by a Scenario, which knows its env)."""
        if not isinstance(params, Mapping) or not params:
            raise ValueError(
                "OverrideParams takes a non-empty mapping from parameter name to value, got "
                f"{show_value(params)}"
            )
        return {"params": json_value("params", dict(params))}


class OverrideParamsVector(VectorScenarioWrapper):
    """:class:`OverrideParams` over batched worlds: the worlds built again with the
    parameters updated (:func:`~heas_envs.scenarios.wrappers.base.rebuild_engine`; the vector
    wrappers below applied again on them).

    Raises:
        ValueError: As :class:`OverrideParams`, or the worlds were not built by ``make_vec``.
    """

    parallel_class = OverrideParams

    def __init__(self, venv: Any, params: Mapping[str, Any]) -> None:
        args = OverrideParams.check_args(params)
        fresh = rebuild_engine(venv, params=args["params"])
        super().__init__(reapply_chain(venv, fresh), args)


OverrideParams.vector_class = OverrideParamsVector
