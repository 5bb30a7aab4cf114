"""Every model names its observation features and action components, one name per component."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

import heas_envs
from heas_envs.registration import list_envs

#: Every registered id with its defaults, plus the variants that add a role or change a size.
CASES = [(env_id, {}) for env_id in list_envs()] + [
    ("heas_envs/Enterprise-v0", {"government_agent": True}),
    ("heas_envs/Market-v0", {"window": 3}),
    ("heas_envs/Economy-v0", {"n_goods": 3, "signal_dim": 2}),
    ("heas_envs/Boltzmann-v0", {"n_candidates": 2}),
]


def flat_size(space: spaces.Space) -> int:
    return 1 if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))


@pytest.mark.parametrize(("env_id", "params"), CASES, ids=lambda v: str(v))
def test_every_role_names_each_component_once(env_id, params):
    env = heas_envs.make_parallel(env_id, **params)
    for role, group in env.worlds.groups.items():
        obs, act = group.observation_names, group.action_names
        assert len(obs) == flat_size(group.observation_space), role
        assert len(act) == flat_size(group.action_space), role
        assert len(set(obs)) == len(obs) and len(set(act)) == len(act), role
        assert all(isinstance(n, str) and n for n in (*obs, *act)), role


def test_names_follow_the_parameters():
    market = heas_envs.make_parallel("heas_envs/Market-v0", window=3).worlds.groups["trader"]
    assert market.observation_names == (
        "return_lag_3",
        "return_lag_2",
        "return_lag_1",
        "position",
        "profit",
        "tax",
    )
    citizen = heas_envs.make_parallel("heas_envs/Economy-v0", n_goods=3, signal_dim=2)
    names = citizen.worlds.groups["citizen"].action_names
    assert names[:5] == ("signal_0", "signal_1", "query_0", "query_1", "focus")
    assert names[-3:] == ("consume_0", "consume_1", "consume_2")


def test_economy_names_sit_at_the_layout_indices():
    group = heas_envs.make_parallel("heas_envs/Economy-v0", n_goods=3, signal_dim=2)
    group = group.worlds.groups["citizen"]
    lay, obs, act = group.layout, group.observation_names, group.action_names
    assert [obs[lay.age], obs[lay.hunger], obs[lay.population]] == ["age", "hunger", "population"]
    assert obs[lay.prices] == ("price_0", "price_1", "price_2")
    assert obs[lay.social] == ("social_signal_0", "social_signal_1")
    assert [act[lay.focus], act[lay.effort], act[lay.willingness]] == [
        "focus",
        "effort",
        "willingness",
    ]
    assert act[lay.job] == ("job_score_0", "job_score_1", "job_score_2")
