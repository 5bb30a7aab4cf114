"""The registry of scenario wrappers by name, and building wrappers from their specs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from heas_envs.env.vector import VectorWorldsEnv
from heas_envs.scenarios.wrappers.background_population import BackgroundPopulation
from heas_envs.scenarios.wrappers.base import ScenarioWrapper, VectorScenarioWrapper, WrapperSpec
from heas_envs.scenarios.wrappers.delay_actions import DelayActions
from heas_envs.scenarios.wrappers.grant_sensors_actuators import GrantSensorsActuators
from heas_envs.scenarios.wrappers.noisy_observations import NoisyObservations
from heas_envs.scenarios.wrappers.objective_reward import ObjectiveReward
from heas_envs.scenarios.wrappers.override_params import OverrideParams
from heas_envs.scenarios.wrappers.shock_schedule import ShockSchedule

#: The scenario wrappers by name (the class name): what a :class:`WrapperSpec` may name.
WRAPPERS: dict[str, type[ScenarioWrapper]] = {
    cls.__name__: cls
    for cls in (
        OverrideParams,
        ShockSchedule,
        NoisyObservations,
        DelayActions,
        BackgroundPopulation,
        ObjectiveReward,
        GrantSensorsActuators,
    )
}


def register_wrapper(cls: type[ScenarioWrapper]) -> None:
    """Add a scenario wrapper class under its class name (so that specs can name it).

    Raises:
        ValueError: The name is taken, or ``cls`` is not a :class:`ScenarioWrapper` subclass.
    """
    if not (isinstance(cls, type) and issubclass(cls, ScenarioWrapper)):
        raise ValueError(f"register_wrapper takes a ScenarioWrapper subclass, got {cls!r}")
    if cls.__name__ in WRAPPERS:
        raise ValueError(f"a wrapper named {cls.__name__!r} is registered already")
    WRAPPERS[cls.__name__] = cls


def list_wrappers() -> list[str]:
    """The names of the registered scenario wrappers."""
    return list(WRAPPERS)


def wrapper_class(name: str) -> type[ScenarioWrapper]:
    """The wrapper class registered as ``name``.

    Raises:
        ValueError: An unknown name (the message lists the registered ones).
    """
    if not isinstance(name, str) or name not in WRAPPERS:
        raise ValueError(f"unknown scenario wrapper {name!r}; wrappers: {list_wrappers()}")
    return WRAPPERS[name]


def is_batched(env: Any) -> bool:
    """Whether ``env`` is batched worlds (a :class:`~heas_envs.env.VectorWorldsEnv` or a
    vector scenario wrapper of one)."""
    return isinstance(env, (VectorWorldsEnv, VectorScenarioWrapper))


def apply_wrapper(env: Any, spec: WrapperSpec | Any) -> Any:
    """``env`` wrapped as ``spec`` says: the parallel wrapper over a parallel env, its batched
    counterpart over batched worlds.

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv`, a
            :class:`~heas_envs.env.VectorWorldsEnv`, or a scenario wrapper of either.
        spec: A :class:`WrapperSpec` (or a mapping or ``(name, args)`` pair,
            :meth:`WrapperSpec.coerce`).

    Raises:
        ValueError: An invalid spec, or arguments that do not fit ``env``.
        NotImplementedError: ``env`` is batched and the wrapper has no batched version
            (``DelayActions``, ``BackgroundPopulation``, ``GrantSensorsActuators``).
    """
    spec = WrapperSpec.coerce(spec)
    cls = wrapper_class(spec.name)
    if not is_batched(env):
        return cls(env, **spec.args)
    if cls.vector_class is None:
        note = getattr(cls, "vector_note", "it has no batched version")
        raise NotImplementedError(
            f"{spec.name} does not run on batched worlds: {note}; use it on single envs "
            "(Scenario.make_env)"
        )
    return cls.vector_class(env, **spec.args)


def apply_wrappers(env: Any, specs: Iterable[WrapperSpec | Any]) -> Any:
    """``env`` wrapped by each of ``specs`` in turn (the first innermost)."""
    for spec in specs:
        env = apply_wrapper(env, spec)
    return env


def wrapper_specs(env: Any) -> list[WrapperSpec]:
    """The specs of the scenario wrappers around ``env``'s base, innermost first (what
    :func:`apply_wrappers` takes to build the same chain again).

    Raises:
        TypeError: A wrapper in the chain is not a scenario wrapper (it has no spec).
    """
    specs = []
    while isinstance(env, (ScenarioWrapper, VectorScenarioWrapper)):
        specs.append(env.spec())
        env = env.env if isinstance(env, ScenarioWrapper) else env.venv
    if not isinstance(env, VectorWorldsEnv) and getattr(env, "unwrapped", env) is not env:
        raise TypeError(
            f"{type(env).__name__} in the chain is not a scenario wrapper, so it has no spec to "
            "rebuild it from; put scenario wrappers directly over the env"
        )
    return specs[::-1]
