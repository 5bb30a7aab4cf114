"""Scenario wrappers over batched worlds: world b follows the wrapped single env seeded s_b."""

from __future__ import annotations

import numpy as np
import pytest

import heas_envs
from heas_envs.scenarios import Scenario, apply_wrapper, wrapper_specs
from heas_envs.scenarios.wrappers.noisy_observations import NoisyObservationsVector
from heas_envs.scenarios.wrappers.override_params import OverrideParamsVector
from heas_envs.scenarios.wrappers.shock_schedule import ShockScheduleVector

MARKET = "heas_envs/Market-v0"
SEEDS = [5, 6, 7]

STACK = [
    ("ShockSchedule", {"shocks": [{"tick": 3, "key": "price.price", "value": 50.0}]}),
    ("OverrideParams", {"params": {"n_traders": 4, "max_steps": 7}}),
    ("NoisyObservations", {"scale": 0.05, "clip": False}),
    ("ShockSchedule", {"shocks": [{"tick": 3, "key": "price.price", "op": "add", "value": 1.0}]}),
    ("ObjectiveReward", {"role": "trader", "negate": "regulator"}),
]


def play_both(scenario, autoreset, steps=16):
    """Step batched worlds and one single env per world with the same actions; return the
    batched and the single results, step by step."""
    venv = scenario.make_vec(len(SEEDS), autoreset=autoreset)
    singles = [scenario.make_env() for _ in SEEDS]
    obs, _ = venv.reset(seed=SEEDS)
    single_obs = [e.reset_arrays(seed=s)[0] for e, s in zip(singles, SEEDS)]
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(steps):
        for b in range(len(SEEDS)):
            for role in obs:
                assert np.array_equal(obs[role][b], single_obs[b][role]), (b, role)
        actions = venv.unwrapped.random_actions(rng)
        out = venv.step(actions)
        for b, env in enumerate(singles):
            if autoreset == "next_step" and out.info["autoreset"][b]:
                single_obs[b] = env.reset_arrays()[0]
                continue
            step = env.step_arrays({r: a[b] for r, a in actions.items()})
            single_obs[b] = step.obs
            for role in step.rewards:
                assert np.array_equal(out.rewards[role][b], step.rewards[role]), (b, role)
            checked += 1
            if out.info["ended"][b]:
                assert env.unwrapped.worlds.ended.all()
                if autoreset == "same_step":
                    for role in step.obs:
                        assert np.array_equal(out.info["final_obs"][role][b], step.obs[role])
                    single_obs[b] = env.reset_arrays()[0]
        obs = out.obs
    return venv, checked


@pytest.mark.parametrize("autoreset", ["next_step", "same_step"])
def test_batched_worlds_follow_the_wrapped_single_envs_through_resets(autoreset):
    s = Scenario("stack", MARKET, {"volatility": 0.02}, wrappers=STACK)
    venv, checked = play_both(s, autoreset)
    assert checked >= 40  # steps compared, over two automatic resets per world
    assert wrapper_specs(venv) == list(s.wrappers)
    assert venv.unwrapped.params["n_traders"] == 4


def test_batched_shocks_hit_every_cohort_in_schedule_order():
    s = Scenario(
        "order",
        MARKET,
        {"max_steps": 5},
        wrappers=[
            ("ShockSchedule", {"shocks": [{"tick": 1, "key": "price.price", "value": 10.0}]}),
            ("NoisyObservations", {"scale": 0.1}),
            (
                "ShockSchedule",
                {"shocks": [{"tick": 1, "key": "price.price", "op": "multiply", "value": 3.0}]},
            ),
        ],
    )
    venv = s.make_vec(2, autoreset="same_step")
    assert isinstance(venv, ShockScheduleVector)
    single = s.make_env()
    venv.reset(seed=[0, 1])
    single.reset(seed=0)
    for _ in range(2):
        venv.step(venv.unwrapped.heuristic_actions())
        single.step_arrays(single.unwrapped.heuristic_actions())
    assert np.array_equal(venv.metrics()["price.price"], [30.0, 30.0])  # set, then multiply
    assert single.metrics()["price.price"] == 30.0
    for _ in range(5):  # through the reset: the new cohort's models have the shocks too
        venv.step(venv.unwrapped.heuristic_actions())
    assert np.array_equal(venv.metrics()["price.price"], [30.0, 30.0])


def test_batched_override_params_rebuilds_the_worlds():
    venv = heas_envs.make_vec(MARKET, 3, autoreset="same_step", n_traders=5)
    wrapped = apply_wrapper(venv, ("OverrideParams", {"params": {"volatility": 0.1}}))
    assert isinstance(wrapped, OverrideParamsVector)
    engine = wrapped.unwrapped
    assert engine is not venv and engine.params["volatility"] == 0.1
    assert engine.params["n_traders"] == 5 and engine.num_worlds == 3
    assert engine.autoreset == "same_step"
    assert venv.params["volatility"] == 0.01  # the given worlds are left as they were


def test_batched_noise_repeats_with_the_seeds_and_differs_between_worlds():
    def first_obs(seed):
        venv = apply_wrapper(heas_envs.make_vec(MARKET, 2), ("NoisyObservations", {"scale": 0.3}))
        assert isinstance(venv, NoisyObservationsVector)
        obs, _ = venv.reset(seed=seed)
        return obs["trader"]

    a = first_obs(3)
    assert np.array_equal(a, first_obs(3))
    assert not np.array_equal(a, first_obs(4))
    assert not np.array_equal(a[0], a[1])  # world 1 has a seed of its own


def test_batched_metrics_objective_matches_the_single_env():
    spec = ("ObjectiveReward", {"role": "trader", "metrics": {"metrics.volatility": -1.0}})
    s = Scenario("calm", MARKET, {"max_steps": 4}, wrappers=[spec])
    _, checked = play_both(s, "next_step", steps=10)
    assert checked >= 24


def test_batched_versions_refuse_what_they_cannot_do():
    spec = ("ObjectiveReward", {"role": "trader", "metrics": {"metrics.volatility": -1.0}})
    with pytest.raises(NotImplementedError, match="needs autoreset='next_step'"):
        apply_wrapper(heas_envs.make_vec(MARKET, 2, autoreset="same_step"), spec)
    for name, args in [
        ("DelayActions", {"delay": 1}),
        ("BackgroundPopulation", {"role": "trader"}),
    ]:
        with pytest.raises(NotImplementedError, match=f"{name} does not run on batched worlds"):
            apply_wrapper(heas_envs.make_vec(MARKET, 2), (name, args))
    shock = ("ShockSchedule", {"shocks": [{"tick": 1, "key": "price.prize", "value": 1.0}]})
    with pytest.raises(ValueError, match="unknown context key 'price.prize'"):
        apply_wrapper(heas_envs.make_vec(MARKET, 2), shock)
