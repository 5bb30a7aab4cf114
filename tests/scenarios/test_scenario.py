"""Scenario as data: validation, exact JSON round trips, building envs, grids and named sets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from heas_envs.scenarios import (
    BackgroundPopulation,
    Focal,
    NoisyObservations,
    Scenario,
    WrapperSpec,
    list_scenario_sets,
    make_grid,
    scenario_set,
    wrapper_specs,
)

MARKET = "heas_envs/Market-v0"

EVERY_WRAPPER = [
    ("OverrideParams", {"params": {"n_traders": 4}}),
    ("ShockSchedule", {"shocks": [{"tick": 2, "key": "price.price", "value": 50}]}),
    ("NoisyObservations", {"scale": [0.1] * 8, "roles": ("trader",)}),
    ("DelayActions", {"delay": 2, "roles": ["regulator"], "fill": "zeros"}),
    ("BackgroundPopulation", {"role": "trader", "pool": "mixed", "slots": (2, 3)}),
    ("ObjectiveReward", {"role": "regulator", "negate": "trader", "reduce": "sum"}),
]


def full_scenario() -> Scenario:
    return Scenario(
        "everything",
        MARKET,
        {"volatility": 0.02, "regulator_period": 5},
        wrappers=EVERY_WRAPPER,
        focal={"role": "trader", "slots": [0, 1]},
        background="random",
    )


def test_json_round_trip_is_exact_with_every_wrapper():
    s = full_scenario()
    text = s.to_json()
    back = Scenario.from_json(text)
    assert back == s
    assert back.to_json() == text
    assert Scenario.from_dict(json.loads(text)) == s
    # normalised once, at construction: tuples are lists, a shock's default op is filled in
    assert s.wrappers[2].args["roles"] == ["trader"]
    assert s.wrappers[1].args["shocks"][0] == {
        "tick": 2,
        "key": "price.price",
        "op": "set",
        "value": 50,
    }
    assert s.focal == Focal("trader", (0, 1))
    assert hash(back) == hash(s) and len({s, back}) == 1  # usable as a key of result tables


def test_params_are_normalised_to_their_declared_types_and_order():
    s = Scenario("a", MARKET, {"regulator_period": 5, "volatility": 1e-2, "drift": 0})
    assert list(s.params) == ["drift", "volatility", "regulator_period"]  # declaration order
    assert s.params["drift"] == 0.0 and isinstance(s.params["drift"], float)
    assert Scenario.from_json(s.to_json()) == s


def test_defaults_focal_role_of_the_registry_and_heuristic_background():
    s = Scenario("plain", "heas_envs/Ecology-v0")
    assert s.focal == Focal("manager") and s.background == "heuristic"
    assert s.to_dict() == {
        "name": "plain",
        "env_id": "heas_envs/Ecology-v0",
        "params": {},
        "wrappers": [],
        "focal": {"role": "manager", "slots": None},
        "background": "heuristic",
    }


def test_make_env_applies_params_then_wrappers_in_order():
    s = full_scenario()
    env = s.make_env()
    assert wrapper_specs(env) == list(s.wrappers)  # the chain re-creates the scenario's specs
    chain, inner = [], env
    while inner is not inner.unwrapped:
        chain.append(type(inner).__name__)
        inner = inner.env
    assert chain == [name for name, _ in EVERY_WRAPPER[::-1]]  # the last spec is outermost
    base = env.unwrapped
    assert base.model_params.volatility == 0.02 and base.model_params.n_traders == 4
    assert env.possible_agents == ["trader_0", "trader_1", "regulator_0"]  # 2, 3 driven
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert set(obs) == set(env.possible_agents)


def test_make_focal_env_leaves_only_the_focal_agents():
    s = Scenario("one trader", MARKET, {"max_steps": 20}, focal={"role": "trader", "slots": [1]})
    env = s.make_focal_env()
    assert env.possible_agents == ["trader_1"]
    assert s.focal_agents() == ["trader_1"]
    parallel_api_test(env, num_cycles=25)
    # the others follow the background: the heuristic of the unwrapped env
    env.reset(seed=3)
    ref = s.make_env()
    ref.reset_arrays(seed=3)
    for _ in range(5):
        out = env.step({"trader_1": np.array([0.5], dtype=np.float32)})
        actions = ref.heuristic_actions()
        actions["trader"][1] = 0.5
        ref_out = ref.step_arrays(actions)
        assert np.array_equal(out[0]["trader_1"], ref_out.obs["trader"][1])


def test_make_focal_env_drives_whole_roles_with_a_pool():
    s = Scenario("traders", MARKET, {"max_steps": 10}, background="mixed")
    env = s.make_focal_env()
    assert env.possible_agents == [f"trader_{i}" for i in range(10)]
    assert isinstance(env, BackgroundPopulation)
    env.reset(seed=1)
    assert set(env.episode_policies) == {"regulator_0"}
    assert env.episode_policies["regulator_0"] in ("heuristic", "random", "zeros")


def test_make_vec_builds_batched_worlds_with_the_params():
    s = Scenario("vec", MARKET, {"n_traders": 3}, wrappers=[("NoisyObservations", {"scale": 0.1})])
    venv = s.make_vec(4)
    obs, _ = venv.reset(seed=0)
    assert obs["trader"].shape == (4, 3, 8)
    assert venv.unwrapped.params["n_traders"] == 3


def test_make_vec_refuses_wrappers_without_a_batched_version():
    s = Scenario("d", MARKET, wrappers=[("DelayActions", {"delay": 1})])
    with pytest.raises(NotImplementedError, match="DelayActions does not run on batched worlds"):
        s.make_vec(2)
    s = Scenario("b", MARKET, wrappers=[("BackgroundPopulation", {"role": "trader"})])
    with pytest.raises(NotImplementedError, match="BackgroundPopulation"):
        s.make_vec(2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"env_id": "heas_envs/Nope-v0"}, r"unknown env id .*valid ids: \['heas_envs/Market-v0'"),
        ({"params": {"volatilty": 0.1}}, r"unknown parameter\(s\) \['volatilty'\].*'volatility'"),
        ({"params": {"volatility": 5.0}}, r"volatility must be a finite number in \[0, 0.2\]"),
        ({"params": {"tax": 0.05}}, r"tax must be a finite number in \[0, 0.01\]"),
        ({"params": [1]}, "params must be a mapping"),
        ({"wrappers": [("Shake", {})]}, r"unknown scenario wrapper 'Shake'; wrappers: \["),
        ({"wrappers": [("DelayActions", {"delai": 1})]}, r"unknown argument\(s\) \['delai'\]"),
        ({"wrappers": [("DelayActions", {})]}, r"needs argument\(s\) \['delay'\]"),
        ({"wrappers": [("OverrideParams", {"params": {"n_trader": 2}})]}, "valid parameters"),
        ({"wrappers": "NoisyObservations"}, "wrappers must be a list"),
        ({"background": "smart"}, r"unknown background policies \['smart'\]; policies: \["),
        ({"focal": {"role": "trader", "slots": [0, 0]}}, "focal slots repeats a slot"),
        ({"focal": {"role": "trader", "slot": [0]}}, r"unknown focal keys \['slot'\]"),
        ({"name": ""}, "a scenario name must be a non-empty string"),
    ],
)
def test_bad_scenarios_raise_with_what_is_valid(kwargs, match):
    fields = {"name": "s", "env_id": MARKET, **kwargs}
    with pytest.raises(ValueError, match=match):
        Scenario(**fields)


def test_focal_agents_must_exist_in_the_env():
    with pytest.raises(ValueError, match=r"focal: unknown role 'firm'; roles are \['trader'"):
        Scenario("s", MARKET, focal="firm").make_env()
    with pytest.raises(ValueError, match=r"slots \[10\] do not exist; role 'trader' has slots 0"):
        Scenario("s", MARKET, focal={"role": "trader", "slots": [10]}).make_env()
    # the regulator exists only when it is on
    with pytest.raises(ValueError, match="unknown role 'regulator'"):
        Scenario("s", MARKET, {"regulator": False}, focal="regulator").make_env()


def test_from_dict_and_from_json_refuse_bad_data():
    with pytest.raises(ValueError, match=r"unknown scenario keys \['seed'\]"):
        Scenario.from_dict({"name": "a", "env_id": MARKET, "seed": 1})
    with pytest.raises(ValueError, match=r"a scenario needs \['env_id'\]"):
        Scenario.from_dict({"name": "a"})
    with pytest.raises(ValueError, match="could not be read"):
        Scenario.from_json("{not json")
    with pytest.raises(ValueError, match="unknown wrapper spec keys"):
        WrapperSpec.from_dict({"name": "DelayActions", "args": {"delay": 1}, "extra": 0})


def test_make_grid_names_count_and_order():
    grid = make_grid(
        MARKET,
        {"volatility": [0.02, 0.05, 0.1], "tax": [0.0, 0.005]},
        base={"n_traders": 5},
        background="random",
    )
    assert len(grid) == 6
    assert [s.name for s in grid] == [
        "volatility=0.02,tax=0.0",
        "volatility=0.02,tax=0.005",
        "volatility=0.05,tax=0.0",
        "volatility=0.05,tax=0.005",
        "volatility=0.1,tax=0.0",
        "volatility=0.1,tax=0.005",
    ]
    assert grid[3].params == {"n_traders": 5, "volatility": 0.05, "tax": 0.005}
    assert all(s.background == "random" for s in grid)
    bools = make_grid(MARKET, {"regulator": [True, False], "window": [3]})
    assert [s.name for s in bools] == ["regulator=True,window=3", "regulator=False,window=3"]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (({},), {}, "param_lists must be a non-empty mapping"),
        (({"volatility": []},), {}, "grid values of 'volatility' must be a non-empty list"),
        (({"volatility": [0.1, 0.1]},), {}, "repeat a value"),
        (({"volatility": [0.1]},), {"base": {"volatility": 0.2}}, "both in base and in the grid"),
        (({"volatility": [0.1]},), {"name": "x"}, "leave out name"),
        (({"volatility": [0.1]},), {"seed": 1}, r"unknown scenario fields \['seed'\]"),
        (({"volatiliti": [0.1]},), {}, r"unknown parameter\(s\) \['volatiliti'\]"),
    ],
)
def test_make_grid_refuses_bad_grids(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_grid(MARKET, *args, **kwargs)


def test_named_sets_have_their_sizes_and_unique_names():
    assert list_scenario_sets() == [
        "enterprise32",
        "ecology-climate-fragmentation",
        "market-volatility-regulator",
    ]
    sizes = {
        "enterprise32": 32,
        "ecology-climate-fragmentation": 9,
        "market-volatility-regulator": 8,
    }
    for name, size in sizes.items():
        scenarios = scenario_set(name)
        assert len(scenarios) == size
        assert len({s.name for s in scenarios}) == size
        assert all(Scenario.from_json(s.to_json()) == s for s in scenarios)
    with pytest.raises(ValueError, match=r"unknown scenario set 'x'; sets: \['enterprise32'"):
        scenario_set("x")


def test_enterprise32_is_the_paper_grid():
    from heas_envs.models.enterprise import SCENARIOS

    scenarios = scenario_set("enterprise32")
    assert [s.name for s in scenarios] == [d["name"] for d in SCENARIOS]
    first = scenarios[0]
    assert first.env_id == "heas_envs/Enterprise-v0"
    assert first.params == {k: v for k, v in SCENARIOS[0].items() if k != "name"}
    assert {s.params["n_firms"] for s in scenarios} == {2, 6}


def test_market_grid_switches_the_regulator_off():
    scenarios = {s.name: s for s in scenario_set("market-volatility-regulator")}
    off = scenarios["volatility=0.05,regulator=False"].make_env()
    on = scenarios["volatility=0.05,regulator=True"].make_env()
    assert off.roles == ["trader"] and on.roles == ["trader", "regulator"]
    off.reset(seed=0)
    for _ in range(12):
        off.step(off.agent_actions(off.heuristic_actions()))
    assert off.metrics()["regulator.tax"] == 0.0  # no regulator: the fixed tax, 0


def test_ecology_grid_crosses_amplitude_and_fragmentation():
    scenarios = scenario_set("ecology-climate-fragmentation")
    assert {(s.params["amplitude"], s.params["fragmentation"]) for s in scenarios} == {
        (a, f) for a in (0.0, 0.4, 0.8) for f in (0.0, 0.2, 0.5)
    }


@pytest.mark.parametrize(
    "set_name", ["enterprise32", "ecology-climate-fragmentation", "market-volatility-regulator"]
)
def test_every_scenario_of_the_named_sets_builds_and_steps(set_name):
    for s in scenario_set(set_name):
        env = s.make_env()
        obs, _ = env.reset(seed=0)
        assert set(obs) == set(env.agents)
        for _ in range(3):
            obs, rewards, *_ = env.step(env.agent_actions(env.heuristic_actions()))
        assert env.tick == 3 and all(np.isfinite(list(rewards.values())))
        assert env.unwrapped.model_params.as_dict().items() >= s.params.items()


def test_noisy_scenario_json_re_creates_the_same_noise():
    s = Scenario("n", MARKET, wrappers=[("NoisyObservations", {"scale": 0.3, "clip": False})])
    a = s.make_env()
    b = Scenario.from_json(s.to_json()).make_env()
    assert isinstance(a, NoisyObservations)
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    assert all(np.array_equal(oa[k], ob[k]) for k in oa)
