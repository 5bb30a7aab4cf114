"""batch_run: Mesa's sweep semantics, rows that a hand-stepped env reproduces, a policy per
role, the same rows on every back end and however the work is split, and clear errors."""

from __future__ import annotations

import operator
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import MORTAL_ECONOMY as MORTAL
from conftest import InlineRay

import heas_envs
import heas_envs.data.batch as batch_module
from heas_envs.data import batch_run, run_seed
from heas_envs.env.background import background_generator
from heas_envs.env.vector import sample_actions

MARKET = "heas_envs/Market-v0"
ECONOMY = "heas_envs/Economy-v0"


def test_runs_cover_the_cartesian_product_times_the_iterations():
    parameters = {"n_traders": [2, 3], "volatility": (0.01, 0.02, 0.03), "regulator": True}
    rows = batch_run(MARKET, parameters, iterations=2, max_steps=3, display_progress=False)
    frame = pd.DataFrame(rows)
    assert len(frame) == 12 and list(frame["Step"].unique()) == [3]  # period -1: the last step
    assert list(frame["RunId"]) == list(range(12))
    assert list(frame["iteration"]) == [0, 1] * 6
    combos = list(zip(frame["n_traders"], frame["volatility"]))[::2]
    assert combos == [(n, v) for n in (2, 3) for v in (0.01, 0.02, 0.03)]
    assert frame["regulator"].all() and frame["seed"].nunique() == 12
    assert {"price.price", "regulator.tax", "metrics.volatility"} <= set(frame.columns)


def test_a_string_is_a_constant():
    rows = batch_run(
        "heas_envs/Enterprise-v0",
        {"regime": "directive", "n_firms": [2, 3]},
        max_steps=2,
        display_progress=False,
    )
    assert [(r["regime"], r["n_firms"]) for r in rows] == [("directive", 2), ("directive", 3)]


@pytest.mark.parametrize(
    "period, steps", [(-1, [7]), (1, list(range(8))), (3, [0, 3, 6, 7]), (7, [0, 7]), (20, [0, 7])]
)
def test_data_collection_period(period, steps):
    rows = batch_run(
        MARKET, {"n_traders": 2}, max_steps=7, data_collection_period=period, display_progress=False
    )
    assert [r["Step"] for r in rows] == steps


def test_runs_that_end_early_stop_at_their_end_and_keep_their_last_step():
    rows = batch_run(
        ECONOMY,
        MORTAL,
        iterations=4,
        data_collection_period=4,
        policies="random",
        display_progress=False,
    )
    frame = pd.DataFrame(rows)
    for _, run in frame.groupby("RunId"):
        end = run["Step"].max()
        assert run["demography.population"].iloc[-1] == 0 and end < MORTAL["max_steps"]
        assert list(run["Step"]) == sorted({*range(0, end + 1, 4), end})
    assert frame.groupby("RunId")["Step"].max().nunique() > 1  # the worlds ended apart


def test_the_rows_are_what_stepping_the_env_by_hand_gives():
    params = {"n_traders": 3, "max_steps": 6}
    rows = batch_run(
        MARKET,
        params,
        data_collection_period=1,
        policies={"regulator": "random"},
        seed=5,
        display_progress=False,
    )
    env = heas_envs.make_parallel(MARKET, **params)
    seed = run_seed(5, env.params, 0)
    env.reset(seed=seed)
    rng = background_generator(seed)  # random play's generator of a world with this seed
    expected = [env.metrics()]
    while env.agents:
        actions = env.heuristic_actions()
        actions["regulator"] = sample_actions(env.group("regulator").action_space, 1, rng)
        env.step_arrays(actions)
        expected.append(env.metrics())
    assert [r["seed"] for r in rows] == [seed] * 7
    got = [{k: r[k] for k in expected[0]} for r in rows]
    assert got == expected


def test_a_run_keeps_its_seed_and_rows_when_the_sweep_around_it_changes():
    kw = dict(iterations=2, data_collection_period=1, policies="random", display_progress=False)
    swept = batch_run(MARKET, {"n_traders": [2, 3]}, max_steps=4, **kw)
    alone = batch_run(MARKET, {"volatility": 0.01, "n_traders": 3}, max_steps=4, **kw)
    longer = batch_run(MARKET, {"n_traders": 3}, max_steps=8, **kw)
    same = lambda row: {k: v for k, v in row.items() if k not in ("RunId", "volatility")}  # noqa: E731
    threes = [same(r) for r in swept if r["n_traders"] == 3]
    assert threes == [same(r) for r in alone]  # volatility 0.01 is the default
    assert threes == [same(r) for r in longer if r["Step"] <= 4]  # more steps: the same start


def test_agent_rows_are_one_per_live_agent_and_one_last_row_per_death():
    rows = batch_run(
        ECONOMY,
        MORTAL,
        iterations=2,
        data_collection_period=1,
        agent_reporters={"alive": "alive", "reward": "reward"},
        display_progress=False,
    )
    frame = pd.DataFrame(rows)
    assert frame["AgentID"].notna().all()
    for _, at in frame.groupby(["RunId", "Step"]):
        assert at["alive"].sum() == at["demography.population"].iloc[0]
        assert at["AgentID"].is_unique
    for _, agent in frame.dropna(subset=["AgentID"]).groupby(["RunId", "AgentID"]):
        alive = list(agent["alive"])
        assert alive[:-1] == [True] * (len(alive) - 1)  # rows stop at the death
        assert list(agent["Step"]) == list(range(agent["Step"].min(), agent["Step"].max() + 1))
    assert (~frame["alive"].astype(bool)).sum() > 0


def test_a_step_without_agents_to_report_is_one_row_of_model_data_as_in_mesa():
    rows = batch_run(
        MARKET,
        {"n_traders": 2, "max_steps": 2},
        data_collection_period=1,
        agent_reporters={"alive": "alive"},
        agent_roles=["regulator"],
        display_progress=False,
    )
    assert [(r["Step"], r["AgentID"]) for r in rows] == [(s, "regulator_0") for s in range(3)]
    rows = batch_run(
        MARKET,
        {"n_traders": 2, "max_steps": 2},
        agent_reporters={"alive": "alive"},
        agent_roles=[],
        display_progress=False,
    )
    assert len(rows) == 1 and "AgentID" not in rows[0] and "price.price" in rows[0]


def test_a_policy_per_role():
    kw = dict(parameters={"n_traders": 3}, max_steps=30, display_progress=False)
    heuristic = pd.DataFrame(batch_run(MARKET, **kw))
    assert heuristic.equals(pd.DataFrame(batch_run(MARKET, policies="heuristic", **kw)))
    regulator = pd.DataFrame(batch_run(MARKET, policies={"regulator": "random"}, **kw))
    traders = pd.DataFrame(batch_run(MARKET, policies={"trader": "random"}, **kw))
    assert regulator["regulator.tax"][0] != heuristic["regulator.tax"][0]
    assert traders["traders.volume"][0] != heuristic["traders.volume"][0]
    assert traders["traders.volume"][0] != regulator["traders.volume"][0]
    zero = lambda obs: np.zeros((*obs.shape[:2], 1))  # noqa: E731
    still = batch_run(MARKET, policies={"trader": zero}, **kw)
    assert still[0]["traders.volume"] == 0.0


#: A sweep whose runs end at different steps, with random play and a function as reporter
#: (``methodcaller`` pickles by name, so workers need not import this test module).
SPLIT = dict(
    parameters={**MORTAL, "birth_rate": [0.2, 0.5]},
    data_collection_period=3,
    policies="random",
    model_reporters={
        "population": "demography.population",
        "ticks": operator.methodcaller("ticks"),
    },
    agent_reporters={"reward": "reward"},
    display_progress=False,
)


def test_a_run_has_the_same_rows_however_the_runs_are_split_and_on_two_processes(monkeypatch):
    one = batch_run(ECONOMY, iterations=3, **SPLIT)
    assert one == batch_run(ECONOMY, iterations=3, number_processes=2, **SPLIT)
    monkeypatch.setattr(
        batch_module, "MAX_WORLDS", 2
    )  # each combination in two batches: [0, 1], [2]
    assert one == batch_run(ECONOMY, iterations=3, **SPLIT)
    fewer = batch_run(ECONOMY, iterations=2, **SPLIT)  # other worlds in the batch: same runs
    drop = lambda rows: [{k: v for k, v in r.items() if k != "RunId"} for r in rows]  # noqa: E731
    assert drop(fewer) == drop([r for r in one if r["iteration"] < 2])
    assert [r["ticks"] for r in one] == [r["Step"] for r in one]


def test_a_role_that_a_combination_lacks_plays_and_reports_nothing_there():
    rows = batch_run(
        MARKET,
        {"regulator": [True, False], "n_traders": 2},
        max_steps=3,
        policies={"regulator": "random"},
        agent_reporters={"reward": "reward"},
        agent_roles=["regulator"],
        display_progress=False,
    )
    assert [(r["regulator"], r.get("AgentID")) for r in rows] == [
        (True, "regulator_0"),
        (False, None),  # no regulator: one row of model data
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(parameters={"speed": [1, 2]}), "unknown parameter(s) ['speed'] for heas_envs/Market"),
        (dict(parameters={"n_traders": [2, 0]}), "n_traders must be an integer in [1, 500000]"),
        (dict(parameters={"n_traders": []}), "parameter 'n_traders' has an empty list"),
        (dict(parameters={"n_traders": [2, 2]}), "parameter 'n_traders' repeats a value"),
        (dict(data_collection_period=0), "data_collection_period must be -1"),
        (dict(data_collection_period=-2), "data_collection_period must be an integer in [-1,"),
        (dict(iterations=0), "iterations must be an integer in [1, 1000000]"),
        (dict(policies={"firm": "random"}), "policies name unknown roles ['firm']; roles are"),
        (dict(policies={"trader": "smart"}), "policy of role 'trader' must be one of"),
        (dict(max_steps=5, parameters={"max_steps": 4}), "give max_steps or the parameter"),
        (dict(number_processes=2, backend="inprocess"), "number_processes=2 needs backend"),
        (dict(backend="dask"), "backend must be one of ['inprocess', 'process', 'ray']"),
        (dict(model_reporters={"p": "price"}), "'price' is not a metric of the env"),
        (
            dict(model_reporters={"n_traders": "price.price"}, parameters={"n_traders": 2}),
            "are columns",
        ),
        (
            dict(
                number_processes=2, model_reporters={"p": lambda env: env.metrics()["price.price"]}
            ),
            "backend 'process' sends policies and reporters to other processes; "
            "model_reporters['p'] (<function",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_runs(kwargs, message):
    with pytest.raises(ValueError) as err:
        batch_run(MARKET, display_progress=False, **kwargs)
    assert message in str(err.value)


def test_an_unknown_env_id_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown env id 'heas_envs/Nope-v0'; valid ids"):
        batch_run("heas_envs/Nope-v0")


def test_the_ray_back_end_gives_the_rows_of_one_process_and_leaves_no_ray_running(monkeypatch):
    """Ray's API on a stand-in (``conftest.InlineRay``): the sweep's tasks go through the runner
    the tournament uses too, whose real Ray is started in tests/agents/test_tournament_ray.py."""
    ray = InlineRay(running=False, cpus=1)
    monkeypatch.setitem(sys.modules, "ray", ray)
    kw = dict(iterations=2, **SPLIT)
    assert batch_run(ECONOMY, backend="ray", number_processes=2, **kw) == batch_run(ECONOMY, **kw)
    assert [i["num_cpus"] for i in ray.inits] == [2] and not ray.running
