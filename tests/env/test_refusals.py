"""Refused input changes nothing, in every view; errors name what was wrong.

Each test here failed before its fix (the defects of the client-conformance issue).
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from conftest import Watchers, toy_spec

import heas_envs
from heas_envs.core import LayerSpec, StreamSpec, make_model
from heas_envs.env import HierarchicalParallelEnv
from heas_envs.env.parallel import aec_view

MARKET = "heas_envs/Market-v0"
NOT_REAL = ["0.5", b"0.5", 0.5 + 0j, np.array([0.5 + 1j]), None, 10**400, [object()]]


def market_actions(env, value=0.25):
    return {a: np.full(env.action_space(a).shape, value, np.float32) for a in env.agents}


def gym_episode(env, refused=None, steps=12):
    """Observations and rewards of an episode; ``refused`` is tried (and refused) at step 3."""
    obs, _ = env.reset(seed=5)
    out = [obs]
    for t in range(steps):
        if t == 3 and refused is not None:
            with pytest.raises(ValueError, match="agent 'trader_0'"):
                env.step(refused)
        obs, reward, *_ = env.step(np.array([0.3], np.float32))
        out += [obs, [reward]]
    return np.concatenate(out)


def test_a_refused_gymnasium_step_leaves_the_random_background_unchanged():
    clean = gym_episode(gymnasium.make(MARKET, background="random"))
    for bad in (np.array([np.nan]), np.array([3.0]), "0.3"):
        refused = gym_episode(gymnasium.make(MARKET, background="random"), refused=bad)
        assert np.array_equal(clean, refused), bad


def aec_rewards(env, refuse_at=None):
    env.reset(seed=2)
    rewards, asked = [], []
    for step, agent in enumerate(env.agent_iter(max_iter=60)):
        _, reward, term, trunc, _ = env.last()
        rewards.append(reward)
        if term or trunc:
            env.step(None)
            continue
        if step == refuse_at:
            with pytest.raises(ValueError, match=f"agent '{agent}'"):
                env.step(np.array([7.0], np.float32))
            asked.append((agent, env.agent_selection))
        env.step(np.array([0.1], np.float32))
    return rewards, asked


def test_the_aec_view_asks_the_same_agent_again_after_a_refused_action():
    clean, _ = aec_rewards(heas_envs.models.market.env(n_traders=3))
    refused, asked = aec_rewards(heas_envs.models.market.env(n_traders=3), refuse_at=2)
    assert asked == [("trader_2", "trader_2")]  # the refused agent is still the one to act
    assert refused == clean
    env = aec_view(heas_envs.make_parallel(MARKET, n_traders=3))  # the same for any env of ours
    assert aec_rewards(env)[0] == clean


class Keepers(Watchers):
    """A second role that outlives the watchers."""

    role = "keeper"


def two_role_env():
    spec = [*toy_spec(death={0: 0, 1: 0, 2: 0}), LayerSpec([StreamSpec("keepers", Keepers)])]
    return HierarchicalParallelEnv(make_model(spec), max_steps=5)


def test_the_dict_step_runs_on_when_one_role_has_no_live_agent():
    env = two_role_env()
    env.reset(seed=0)
    zeros = {a: np.zeros(1, np.float32) for a in env.agents}
    _, _, term, _, _ = env.step(zeros)
    assert [a for a, t in term.items() if t] == ["watcher_0", "watcher_1", "watcher_2"]
    obs, *_ = env.step({a: np.zeros(1, np.float32) for a in env.agents})  # only keepers live
    assert sorted(obs) == ["keeper_0", "keeper_1", "keeper_2"] and env.tick == 2


def test_returned_observations_are_copies_of_the_state():
    env = heas_envs.make_parallel(MARKET, n_traders=3)
    obs, _ = env.reset(seed=0)
    state = env.state().copy()
    obs["trader_0"][:] = 99.0
    env.observations["trader"][:] = 99.0
    arrays, _ = env.reset_arrays(seed=0)
    arrays["trader"][:] = 99.0
    assert np.array_equal(env.state(), state)
    out = env.step_arrays(env.heuristic_actions())
    after = env.state().copy()
    out.obs["trader"][:] = 99.0
    obs, *_ = env.step(market_actions(env))
    before_edit = env.state().copy()
    obs["regulator_0"][:] = 99.0
    assert np.array_equal(env.state(), before_edit) and not np.array_equal(after, before_edit)


@pytest.mark.parametrize("bad", NOT_REAL, ids=repr)
def test_actions_that_are_not_real_numbers_are_refused_by_agent(bad):
    env = heas_envs.make_parallel(MARKET, n_traders=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action .* for agent 'trader_1'.*Box"):
        env.step({**market_actions(env), "trader_1": bad})
    with pytest.raises(ValueError, match="actions of role 'trader' must be real numbers"):
        env.step_arrays({"trader": [bad] * 3, "regulator": np.zeros((1, 1))})
    assert env.tick == 0


def test_tensors_are_accepted_as_actions_even_with_requires_grad():
    env, same = (
        heas_envs.make_parallel(MARKET, n_traders=2),
        heas_envs.make_parallel(MARKET, n_traders=2),
    )
    env.reset(seed=0), same.reset(seed=0)
    grad = torch.full((1,), 0.25, requires_grad=True)
    a = env.step({**market_actions(env), "trader_0": grad})
    b = same.step(market_actions(same))
    assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])


@pytest.mark.parametrize("bad", [None, [0.1], "trader_0", 3])
def test_step_refuses_a_non_mapping_with_a_value_error(bad):
    env = heas_envs.make_parallel(MARKET, n_traders=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="step takes a dict from live agent id to action"):
        env.step(bad)
    with pytest.raises(ValueError, match="step_arrays takes a mapping from role"):
        env.step_arrays(bad)


@pytest.mark.parametrize("seed", [-1, 2**63, 10**400, 1.5, "3", True, np.float64(2.0)], ids=repr)
def test_bad_seeds_are_refused_with_a_message_about_the_seed(seed):
    env = heas_envs.make_parallel(MARKET, n_traders=2)
    with pytest.raises(ValueError, match=r"seed must be .*integer in \[0, 2\*\*63 - 1\]"):
        env.reset(seed=seed)
    with pytest.raises(ValueError, match="seed must be"):
        gymnasium.make(MARKET).reset(seed=seed)


def test_numpy_integer_seeds_are_accepted():
    env = heas_envs.make_parallel(MARKET, n_traders=2)
    a, _ = env.reset(seed=np.int64(4))
    b, _ = env.reset(seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("call", ["metrics", "episode_metrics", "render", "state"])
def test_calls_before_the_first_reset_ask_for_reset(call):
    env = heas_envs.make_parallel(MARKET, render_mode="ansi")
    with pytest.raises(RuntimeError, match=r"call reset\(\) before"):
        getattr(env, call)()
