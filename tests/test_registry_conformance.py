"""Conformance of every registered env: check_env, Gymnasium and SB3 checkers, random stress.

The 10,000-tick run of each model lives in its own test module (``tests/models/``), once per
model, with the model's own invariants.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import heas_envs
from heas_envs.checks import documented_arguments, signature_arguments
from heas_envs.registration import env_parameters, env_spec

ENV_IDS = heas_envs.list_envs()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env(env_id):
    heas_envs.check_env(lambda: heas_envs.make_parallel(env_id), num_cycles=60)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pettingzoo_module_conventions(env_id):
    module = __import__(env_spec(env_id).entry_point.split(":")[0], fromlist=["_"])
    par = module.parallel_env(max_steps=5)
    aec = module.env(max_steps=5)
    par.reset(seed=0)
    aec.reset(seed=0)
    assert set(aec.possible_agents) == set(par.possible_agents)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_single_agent_view_passes_gymnasium_and_sb3_checkers(env_id):
    gymnasium_check_env(gymnasium.make(env_id).unwrapped, skip_render_check=True)
    sb3_check_env(gymnasium.make(env_id).unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_documented_arguments_equal_the_signature(env_id):
    cls = env_spec(env_id).load()
    assert documented_arguments(cls) == signature_arguments(cls)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_parameter_lists_the_valid_ones(env_id):
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['no_such_param'\].*max_steps"):
        heas_envs.make_parallel(env_id, no_such_param=1)


def test_unknown_id_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid ids: .*Market-v0"):
        heas_envs.make_parallel("heas_envs/Nope-v0")


def perturbed_params(env_id: str, factors: list[float], flips: list[bool]) -> dict:
    """The env's numeric defaults scaled by the drawn factors (booleans maybe flipped)."""
    params = {}
    numeric = [
        (k, v)
        for k, v in env_parameters(env_id).items()
        if isinstance(v, (int, float)) and k != "max_steps"
    ]
    for (key, default), factor, flip in zip(numeric, factors, flips):
        if isinstance(default, bool):
            params[key] = default != flip
        elif isinstance(default, int):
            params[key] = max(1, min(round(default * factor), 4 * max(default, 1)))
        else:
            params[key] = default * factor
    return params


@pytest.mark.parametrize("env_id", ENV_IDS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    factors=st.lists(st.floats(0.25, 2.0), min_size=40, max_size=40),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_random_params_and_actions_stay_finite(env_id, seed, factors, flips):
    try:
        env = heas_envs.make_parallel(
            env_id, max_steps=300, **perturbed_params(env_id, factors, flips)
        )
    except ValueError:
        assume(False)  # a drawn combination outside the documented ranges is refused; fine
    rng = np.random.default_rng(seed)
    obs, _ = env.reset_arrays(seed=seed)
    while env.agents:
        out = env.step_arrays(env.random_actions(rng))
        for role in out.obs:
            assert np.isfinite(out.obs[role]).all(), role
            assert np.isfinite(out.rewards[role]).all(), role
    assert all(np.isfinite(v) for v in env.episode_metrics().values())
