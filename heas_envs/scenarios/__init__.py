"""Scenarios: what is played (an env, parameters, wrappers, focal agents, background) as data.

:class:`Scenario` round-trips through JSON and builds its env (:meth:`Scenario.make_env`,
:meth:`Scenario.make_focal_env`, :meth:`Scenario.make_vec`); :func:`make_grid` builds the
cross product of parameter lists; :func:`scenario_set` gives the named sets. The scenario
wrappers (:mod:`heas_envs.scenarios.wrappers`) change a model without editing it; the named
background policies and pools are in :mod:`heas_envs.scenarios.policies`.
"""

from heas_envs.scenarios.objective import Objective
from heas_envs.scenarios.policies import (
    BACKGROUND_POLICIES,
    POLICY_POOLS,
    list_policies,
    list_pools,
    register_policy,
    register_pool,
)
from heas_envs.scenarios.scenario import Focal, Scenario, make_grid
from heas_envs.scenarios.sets import list_scenario_sets, register_scenario_set, scenario_set
from heas_envs.scenarios.wrappers import (
    WRAPPERS,
    BackgroundPopulation,
    DelayActions,
    NoisyObservations,
    ObjectiveReward,
    OverrideParams,
    ShockSchedule,
    WrapperSpec,
    apply_wrapper,
    apply_wrappers,
    wrapper_specs,
)

__all__ = [
    "BACKGROUND_POLICIES",
    "POLICY_POOLS",
    "WRAPPERS",
    "BackgroundPopulation",
    "DelayActions",
    "Focal",
    "NoisyObservations",
    "Objective",
    "ObjectiveReward",
    "OverrideParams",
    "Scenario",
    "ShockSchedule",
    "WrapperSpec",
    "apply_wrapper",
    "apply_wrappers",
    "list_policies",
    "list_pools",
    "list_scenario_sets",
    "make_grid",
    "register_policy",
    "register_pool",
    "register_scenario_set",
    "scenario_set",
    "wrapper_specs",
]
