"""The PettingZoo adapter: dicts, death and birth, invalid input, trace, state, rendering."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import toy_env

import heas_envs
from heas_envs.checks import check_env
from heas_envs.env.parallel import HierarchicalParallelEnv


def zeros(env):
    return {a: np.zeros(1, dtype=np.float32) for a in env.agents}


def test_a_dead_agent_is_terminated_once_and_removed():
    env = toy_env(death={1: 1})
    env.reset(seed=0)
    env.step(zeros(env))
    obs, rew, term, trunc, info = env.step(zeros(env))  # tick 1: watcher_1 dies
    assert term == {"watcher_0": False, "watcher_1": True, "watcher_2": False}
    assert (
        set(obs) == set(rew) == set(trunc) == set(info) == {"watcher_0", "watcher_1", "watcher_2"}
    )
    assert env.agents == ["watcher_0", "watcher_2"]
    obs, *_ = env.step(zeros(env))
    assert "watcher_1" not in obs


def test_actions_for_dead_or_unborn_agents_are_ignored_and_unknown_ids_refused():
    env, same = toy_env(death={1: 0}, unborn=(2,)), toy_env(death={1: 0}, unborn=(2,))
    env.reset(seed=0), same.reset(seed=0)
    env.step(zeros(env)), same.step(zeros(same))
    assert env.agents == ["watcher_0"]
    extra = {"watcher_1": np.full(1, 0.5), "watcher_2": "not even an action"}
    out = env.step({**zeros(env), **extra})  # dead watcher_1, unborn watcher_2: ignored
    assert (
        np.asarray(out[0]["watcher_0"]).tolist() == same.step(zeros(same))[0]["watcher_0"].tolist()
    )
    with pytest.raises(ValueError, match=r"unknown agents \['watcher_9'\]"):
        env.step({**zeros(env), "watcher_9": np.zeros(1)})


def test_a_newborn_appears_in_all_five_dicts_in_its_birth_step():
    env = toy_env(n_agents=3, unborn=(2,), birth_tick=1)
    obs, info = env.reset(seed=0)
    assert set(obs) == {"watcher_0", "watcher_1"}
    env.step(zeros(env))
    out = env.step(zeros(env))
    for d in out:
        assert "watcher_2" in d
    assert "watcher_2" in env.agents and out[2]["watcher_2"] is False


def test_the_toy_env_with_death_and_birth_passes_check_env():
    check_env(lambda: toy_env(max_steps=8, death={0: 3}, unborn=(2,), birth_tick=2), num_cycles=20)


def test_a_revived_slot_is_a_model_bug():
    env = toy_env(death={0: 0}, birth_tick=2)
    env.reset(seed=0)
    env.model.streams[1].unborn = (0,)  # a faulty model: it "gives birth" in a dead slot
    env.step(zeros(env))
    env.step(zeros(env))
    with pytest.raises(RuntimeError, match="came back to life"):
        env.step(zeros(env))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([np.nan]), r"invalid action \[nan\] for agent 'trader_3'.*Box\(-1.0, 1.0"),
        (np.array([1.5]), r"invalid action \[1.5\] for agent 'trader_3'"),
        (np.array([0.1, 0.2]), r"for agent 'trader_3': expected shape \(1,\)"),
        ("buy", r"for agent 'trader_3'"),
    ],
)
def test_invalid_actions_name_the_agent_and_the_space(bad, match):
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=5)
    env.reset(seed=0)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    with pytest.raises(ValueError, match=match):
        env.step({**actions, "trader_3": bad})


def test_unknown_and_missing_agents_are_refused():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=2)
    env.reset(seed=0)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    with pytest.raises(ValueError, match=r"unknown agents \['trader_9'\]"):
        env.step({**actions, "trader_9": np.zeros(1)})
    del actions["trader_1"]
    with pytest.raises(ValueError, match="no action for live agents.*trader_1"):
        env.step(actions)


def test_step_arrays_refuses_bad_shapes_and_unknown_roles():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=4)
    env.reset_arrays(seed=0)
    with pytest.raises(
        ValueError, match=r"actions of role 'trader' have shape \(3, 1\); expected \(4, 1\)"
    ):
        env.step_arrays({"trader": np.zeros((3, 1)), "regulator": np.zeros((1, 1))})
    with pytest.raises(ValueError, match=r"unknown roles \['broker'\]"):
        env.step_arrays({"trader": np.zeros((4, 1)), "regulator": np.zeros((1, 1)), "broker": 0})


def test_dict_and_array_apis_give_the_same_trajectory():
    a = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=4)
    b = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=4)
    a.reset(seed=3)
    b.reset_arrays(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(30):
        acts = a.random_actions(rng)
        obs, rew, *_ = a.step(a.agent_actions(acts))
        out = b.step_arrays(acts)
        assert np.array_equal(obs["trader_2"], out.obs["trader"][2])
        assert rew["regulator_0"] == out.rewards["regulator"][0]


def test_substep_trace_lists_each_layer_with_its_metrics_in_order():
    env = heas_envs.make_parallel("heas_envs/Market-v0")
    env.reset(seed=0)
    env.step({a: env.action_space(a).sample() for a in env.agents})
    with pytest.raises(RuntimeError, match="set record_trace = True"):
        _ = env.substep_trace  # off unless asked for: it costs a metrics call per stream
    env.record_trace = True
    env.step({a: env.action_space(a).sample() for a in env.agents})
    trace = env.substep_trace
    assert [t.layer for t in trace] == ["L1 price", "L2 traders", "L3 regulator"]
    assert trace[0].tick == 1 and trace[0].streams == ["price"]
    assert trace[0].metrics["price.price"] == env.metrics()["price.price"]
    assert "regulator.tax" in trace[2].metrics


def test_state_matches_state_space_and_render_is_text():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=3, render_mode="ansi")
    env.reset(seed=0)
    assert env.state().shape == env.state_space.shape == (3 * 8 + 5,)
    text = env.render()
    assert text.startswith("market_v0 tick 0/200") and "price.price = 100" in text
    assert env.metadata["name"] == "market_v0"


def test_truncation_at_max_steps_ends_the_episode():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=2, max_steps=3)
    env.reset(seed=0)
    for _ in range(2):
        *_, trunc, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
        assert not any(trunc.values())
    *_, trunc, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert all(trunc.values()) and env.agents == []
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})


def test_env_refuses_a_batched_model_and_warns_on_an_unknown_render_mode():
    from heas_envs.core import make_model
    from heas_envs.models.market import MarketEnv, market_spec

    with pytest.raises(ValueError, match="steps one world"):
        HierarchicalParallelEnv(make_model(market_spec(**MarketEnv().params), n_worlds=2))
    with pytest.warns(UserWarning, match="render_mode 'video' is not supported"):
        env = heas_envs.make_parallel("heas_envs/Market-v0", render_mode="video")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render\\(\\) called with render_mode='video'"):
        assert env.render() is None
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        heas_envs.make_parallel("heas_envs/Market-v0", render_mode=3)


def test_an_agent_born_in_the_truncation_step_is_not_reported():
    check_env(lambda: toy_env(max_steps=3, unborn=(2,), birth_tick=2), num_cycles=10)
    env = toy_env(max_steps=3, unborn=(2,), birth_tick=2)
    env.reset(seed=0)
    for _ in range(2):
        env.step(zeros(env))
    out = env.step(zeros(env))
    assert all("watcher_2" not in d for d in out) and env.agents == []


def test_step_arrays_needs_no_actions_for_a_role_whose_agents_are_all_dead():
    env = toy_env(max_steps=5, n_agents=2, death={0: 0, 1: 0})
    env.reset_arrays(seed=0)
    out = env.step_arrays({"watcher": np.zeros((2, 1))})
    assert out.terminated["watcher"].tolist() == [True, True] and env.agents == []
    env = toy_env(max_steps=5, n_agents=2, unborn=(0, 1), birth_tick=3)
    env.reset_arrays(seed=0)
    out = env.step_arrays({})  # nobody alive yet; the model still runs its group
    assert not out.alive["watcher"].any() and env.tick == 1
