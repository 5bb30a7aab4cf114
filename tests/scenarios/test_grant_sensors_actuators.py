"""GrantSensorsActuators: granted subsets shrink the spaces; the others are held at defaults."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import heas_envs
from heas_envs.scenarios import Scenario, wrapper_specs
from heas_envs.scenarios.wrappers import GrantSensorsActuators, apply_wrapper

ENTERPRISE = "heas_envs/Enterprise-v0"
MARKET = "heas_envs/Market-v0"
PARAMS = {"n_firms": 3, "government_agent": True, "government_period": 1}
GRANT = {
    # out of the model's order on purpose: the space keeps the model's order
    "sensors": {"firm": ["tax", "demand", "balance"]},
    "actuators": {"firm": ["effort", "output"], "government": ["tax"]},
    "defaults": {"firm": {"investment": 0.2}},
}


def base_env():
    return heas_envs.make_parallel(ENTERPRISE, **PARAMS)


def indices(names, chosen):
    return [list(names).index(n) for n in chosen]


def test_spaces_shrink_to_the_granted_components_with_their_bounds():
    inner = base_env()
    env = GrantSensorsActuators(base_env(), **GRANT)
    firm = inner.group("firm")
    obs_idx = indices(firm.observation_names, ["demand", "balance", "tax"])
    act_idx = indices(firm.action_names, ["output", "effort"])
    space = env.observation_space("firm_1")
    assert space.shape == (3,) and space is env.observation_spaces["firm_1"]
    assert np.array_equal(space.low, firm.observation_space.low[obs_idx])
    assert np.array_equal(space.high, firm.observation_space.high[obs_idx])
    assert env.action_space("firm_0").shape == (2,)
    assert env.action_space("government_0").shape == (1,)
    assert env.observation_space("government_0") == inner.observation_space("government_0")
    assert env.granted("firm") == {
        "observation": ["demand", "balance", "tax"],
        "action": [
            "output",
            "effort",
        ],
    }
    assert np.array_equal(act_idx, [0, 2])


def full_actions(inner, given):
    """The unwrapped env's actions: granted components from ``given``, the rest held."""
    out = {}
    for agent, a in given.items():
        if agent.startswith("firm"):
            out[agent] = np.array([a[0], 0.2, a[1]])  # output, investment (declared), effort
        else:  # government: tax granted, the rest at the midpoint of [0, 1]
            out[agent] = np.array([a[0], 0.5, 0.5, 0.5])
    return out


def test_observations_are_the_inner_ones_and_held_components_follow_the_defaults():
    env = GrantSensorsActuators(base_env(), **GRANT)
    twin = base_env()
    idx = indices(twin.group("firm").observation_names, ["demand", "balance", "tax"])
    obs, _ = env.reset(seed=5)
    ref, _ = twin.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(4):
        assert obs.keys() == ref.keys()
        for agent in obs:
            want = ref[agent][idx] if agent.startswith("firm") else ref[agent]
            assert np.array_equal(obs[agent], want)
        given = {a: rng.uniform(0, 1, size=env.action_space(a).shape) for a in env.agents}
        obs, rew, *_ = env.step(given)
        ref, ref_rew, *_ = twin.step(full_actions(twin, given))
        assert rew == ref_rew
    assert env.metrics() == twin.metrics()


def test_the_array_api_expands_like_the_dict_api():
    a = GrantSensorsActuators(base_env(), **GRANT)
    b = GrantSensorsActuators(base_env(), **GRANT)
    oa, _ = a.reset_arrays(seed=2)
    ob, _ = b.reset(seed=2)
    assert oa["firm"].shape == (3, 3)
    acts = {"firm": np.full((3, 2), 0.7), "government": np.full((1, 1), 0.1)}
    out = a.step_arrays(acts)
    obs, rew, *_ = b.step(b.agent_actions(acts))
    assert np.array_equal(out.obs["firm"][1], obs["firm_1"])
    assert out.rewards["firm"][2] == rew["firm_2"]
    assert np.array_equal(a.observations["firm"], out.obs["firm"])


def test_heuristic_reads_granted_observations_and_gives_granted_actions():
    env = GrantSensorsActuators(base_env(), **GRANT)
    env.reset(seed=3)
    own = env.heuristic_actions()
    assert own["firm"].shape == (3, 2) and own["government"].shape == (1, 1)
    again = env.heuristic_actions({"firm": env.observations["firm"]})
    assert np.array_equal(again["firm"], own["firm"])
    env.step(env.agent_actions(own))  # the heuristic's actions are valid in the granted spaces


def test_a_discrete_action_is_granted_whole():
    inner = heas_envs.make_parallel("heas_envs/Boltzmann-v0")
    env = GrantSensorsActuators(
        inner, sensors={"agent": ["wealth", "turn"]}, actuators={"agent": ["give_to"]}
    )
    assert env.action_space("agent_0") == inner.group("agent").action_space
    obs, _ = env.reset(seed=0)
    assert obs["agent_0"].shape == (2,)
    env.step(env.agent_actions(env.heuristic_actions()))


def test_pettingzoo_parallel_api():
    parallel_api_test(GrantSensorsActuators(base_env(), **GRANT), num_cycles=20)


def test_scenario_json_round_trip_re_creates_the_wrapper():
    s = Scenario("sensing", ENTERPRISE, PARAMS, wrappers=[("GrantSensorsActuators", GRANT)])
    back = Scenario.from_json(s.to_json())
    assert back == s
    a, b = s.make_env(), back.make_env()
    assert isinstance(b, GrantSensorsActuators)
    assert wrapper_specs(b) == list(s.wrappers)
    assert b.observation_space("firm_0") == a.observation_space("firm_0")
    oa, _ = a.reset(seed=9)
    ob, _ = b.reset(seed=9)
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)


def test_batched_worlds_are_refused():
    with pytest.raises(NotImplementedError, match="GrantSensorsActuators does not run on batched"):
        apply_wrapper(heas_envs.make_vec(MARKET, 2), ("GrantSensorsActuators", GRANT))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sensors": {"firms": ["tax"]}}, r"unknown role 'firms'; roles are \[.*'firm'"),
        ({"sensors": {"firm": ["taxes"]}}, r"unknown observation name\(s\) \['taxes'\].*'demand'"),
        ({"actuators": {"firm": ["invest"]}}, r"unknown action name\(s\).*'investment'"),
        ({"actuators": {"firm": []}}, "non-empty list"),
        ({"actuators": {"firm": ["output", "output"]}}, "repeat a name"),
        (
            {"actuators": {"firm": ["output"]}, "defaults": {"firm": {"output": 0.1}}},
            "which is granted",
        ),
        (
            {"actuators": {"firm": ["output"]}, "defaults": {"firm": {"effort": 2.0}}},
            "outside its bounds",
        ),
        (
            {"actuators": {"firm": ["output"]}, "defaults": {"firm": {"effrt": 0.1}}},
            r"unknown action component 'effrt'.*'effort'",
        ),
        ({"sensors": {"firm": ["tax"]}, "defaults": {"firm": {"effort": 0.1}}}, "not in actuators"),
        ({}, "give sensors or actuators"),
    ],
)
def test_bad_arguments_raise_with_the_valid_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GrantSensorsActuators(base_env(), **kwargs)


def test_actions_outside_the_granted_space_raise():
    env = GrantSensorsActuators(base_env(), **GRANT)
    env.reset(seed=0)
    actions = env.agent_actions(env.heuristic_actions())
    with pytest.raises(ValueError, match="firm_0"):
        env.step({**actions, "firm_0": np.array([0.5, 0.5, 0.5])})  # the full shape
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        env.step_arrays({"firm": np.zeros((3, 3)), "government": np.zeros((1, 1))})


def test_a_second_grant_over_the_first_is_refused():
    once = GrantSensorsActuators(base_env(), sensors={"firm": ["tax"]})
    with pytest.raises(ValueError, match="give both grants to one wrapper"):
        GrantSensorsActuators(once, actuators={"firm": ["output"]})
