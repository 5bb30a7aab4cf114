"""Scenario wrappers: change a model without editing it, each re-creatable from its spec.

One wrapper per module, named verb + target: :class:`OverrideParams`, :class:`ShockSchedule`,
:class:`NoisyObservations`, :class:`DelayActions`, :class:`BackgroundPopulation`,
:class:`ObjectiveReward`, :class:`GrantSensorsActuators`. :data:`WRAPPERS` holds them by name;
:func:`apply_wrapper` builds one from a :class:`WrapperSpec` over a parallel env or batched
worlds.
"""

from heas_envs.scenarios.wrappers.background_population import BackgroundPopulation
from heas_envs.scenarios.wrappers.base import ScenarioWrapper, VectorScenarioWrapper, WrapperSpec
from heas_envs.scenarios.wrappers.delay_actions import DelayActions
from heas_envs.scenarios.wrappers.grant_sensors_actuators import GrantSensorsActuators
from heas_envs.scenarios.wrappers.noisy_observations import NoisyObservations
from heas_envs.scenarios.wrappers.objective_reward import ObjectiveReward
from heas_envs.scenarios.wrappers.override_params import OverrideParams
from heas_envs.scenarios.wrappers.registry import (
    WRAPPERS,
    apply_wrapper,
    apply_wrappers,
    is_batched,
    list_wrappers,
    register_wrapper,
    wrapper_class,
    wrapper_specs,
)
from heas_envs.scenarios.wrappers.shock_schedule import ShockSchedule

__all__ = [
    "WRAPPERS",
    "BackgroundPopulation",
    "DelayActions",
    "GrantSensorsActuators",
    "NoisyObservations",
    "ObjectiveReward",
    "OverrideParams",
    "ScenarioWrapper",
    "ShockSchedule",
    "VectorScenarioWrapper",
    "WrapperSpec",
    "apply_wrapper",
    "apply_wrappers",
    "is_batched",
    "list_wrappers",
    "register_wrapper",
    "wrapper_class",
    "wrapper_specs",
]
