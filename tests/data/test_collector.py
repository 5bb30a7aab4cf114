"""DataCollector: one row per world and collection, one per live (or just dead) agent, values
that are the env's own, Mesa's DataFrames, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import heas_envs
from heas_envs.data import DataCollector


def mean_position(env):
    return env.observations["trader"][:, :, 5].mean(axis=1)


def test_model_rows_are_the_metrics_of_every_world_and_callables_see_the_env():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=3, n_traders=2, max_steps=5)
    dc = DataCollector({"price": "price.price", "pos": mean_position})
    obs, _ = env.reset(seed=[4, 5, 6])
    dc.collect(env, step=0)
    out = env.step(env.heuristic_actions(obs))
    dc.collect(env, step=1, result=out, worlds=[0, 2])
    prices = env.metrics()["price.price"]
    frame = dc.get_model_vars_dataframe()
    assert list(frame.index) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]
    assert frame.loc[(0, 1), "price"] == 100.0  # the start price, before any step
    assert frame.loc[(1, 0), "price"] == prices[0] and frame.loc[(1, 2), "price"] == prices[2]
    assert frame.loc[(1, 2), "pos"] == pytest.approx(mean_position(env)[2])


def test_no_model_reporters_records_every_metric():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=2)
    env.reset(seed=0)
    dc = DataCollector()
    dc.collect(env)  # Step: each world's ticks
    assert dc.model_rows[0] == {
        "Step": 0,
        "World": 0,
        **{k: v[0] for k, v in env.metrics().items()},
    }


def test_agent_rows_cover_live_agents_and_those_that_die_in_the_step(make_toy_env):
    env = make_toy_env(max_steps=4, n_agents=3, death={1: 1})  # slot 1 dies in tick 2
    dc = DataCollector({}, {"reward": "reward", "alive": "alive", "seen": "obs[0]"})
    env.reset(seed=0)
    dc.collect(env)  # a PettingZoo env: its one world
    rewards = []
    while env.agents:
        out = env.step_arrays({"watcher": np.zeros((3, 1))})
        rewards.append(out.rewards["watcher"])
        dc.collect(env, result=out)
    frame = dc.get_agent_vars_dataframe()
    assert frame.index.names == ["Step", "World", "AgentID"]
    ids = {s: list(frame.loc[s].index.get_level_values("AgentID")) for s in range(5)}
    assert ids[0] == ids[1] == ["watcher_0", "watcher_1", "watcher_2"]
    assert ids[2] == ["watcher_0", "watcher_1", "watcher_2"]  # watcher_1's last row
    assert ids[3] == ids[4] == ["watcher_0", "watcher_2"]
    assert frame.loc[(2, 0, "watcher_1"), "alive"] == False  # noqa: E712  (numpy bool)
    assert frame.loc[(1, 0, "watcher_2"), "alive"] == True  # noqa: E712
    assert np.isnan(frame.loc[(0, 0, "watcher_0"), "reward"])  # no step yet: no reward
    assert dc.agent_rows[0]["reward"] is None
    assert frame.loc[(2, 0, "watcher_1"), "reward"] == rewards[1][1]
    assert frame.loc[(3, 0, "watcher_2"), "reward"] == rewards[2][2]
    assert frame.loc[(3, 0, "watcher_0"), "seen"] == 2.0  # the clock read in tick 3


def test_agent_reporter_functions_and_roles():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=2)
    env.reset(seed=1)
    dc = DataCollector({}, {"slot": lambda env, role: np.tile(np.arange(2.0), (2, 1))}, ["trader"])
    dc.collect(env, step=0)
    assert [(r["World"], r["AgentID"], r["slot"]) for r in dc.agent_rows] == [
        (0, "trader_0", 0.0),
        (0, "trader_1", 1.0),
        (1, "trader_0", 0.0),
        (1, "trader_1", 1.0),
    ]


@pytest.mark.parametrize(
    "model, agent, message",
    [
        ({"p": 3}, None, "model_reporters['p'] must be a string or a function"),
        ({}, {"x": "wealth"}, "unknown field 'wealth'; use one of ['reward', 'alive'], 'obs[k]'"),
        ({"Step": "price.price"}, None, "reporter names ['Step'] are row columns"),
        ([("p", "price.price")], None, "model_reporters must be a mapping"),
    ],
)
def test_bad_reporters_are_refused(model, agent, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DataCollector(model, agent)


def test_collect_refuses_unknown_metrics_wrong_shapes_and_features_beyond_the_observation():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"'price' is not a metric of this env; its metrics: \["):
        DataCollector({"p": "price"}).collect(env)
    with pytest.raises(ValueError, match=r"must have shape \(2,\) \(one value per world\)"):
        DataCollector({"p": lambda env: np.zeros(3)}).collect(env)
    with pytest.raises(
        ValueError, match=r"obs\[6\] is beyond the observation of role 'regulator' \(5"
    ):
        DataCollector({}, {"o": "obs[6]"}).collect(env)
    with pytest.raises(ValueError, match=r"roles \['firm'\] are not roles of this env"):
        DataCollector({}, {"a": "alive"}, ["firm"]).collect(env)
    with pytest.raises(TypeError, match="collect takes batched worlds"):
        DataCollector().collect(object())
