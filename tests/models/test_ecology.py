"""Invariants of the Ecology metacommunity model."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from heas_envs.core import make_model
from heas_envs.models.ecology import (
    EcologyEnv,
    coefficient_of_variation,
    disperse,
    ecology_spec,
    parallel_env,
    raw_env,
)

N_PATCHES = 12


def run_episode(env: EcologyEnv, seed: int, policy: str) -> float:
    """Mean per-manager return of one episode under ``policy`` ("heuristic" or "random")."""
    env.reset_arrays(seed)
    rng = np.random.default_rng(seed + 1000)
    total = np.zeros(env.params["n_patches"])
    for _ in range(env.max_steps):
        actions = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
        total += env.step_arrays(actions).rewards["manager"]
    return float(total.mean())


def test_10000_random_ticks_keep_populations_non_negative_and_outputs_finite_in_space():
    env = EcologyEnv(max_steps=10_000)
    obs, _ = env.reset_arrays(seed=0)
    space = env.observation_space("manager_0")
    rng = np.random.default_rng(0)
    ctx = env.model.ctx
    lowest_prey = lowest_pred = np.inf
    for _ in range(10_000):
        out = env.step_arrays(env.random_actions(rng))
        prey, pred = ctx["movement.prey"], ctx["movement.predators"]
        lowest_prey = min(lowest_prey, prey.min(), ctx["prey.biomass"].min())
        lowest_pred = min(lowest_pred, pred.min(), ctx["predators.biomass"].min())
        o, r = out.obs["manager"], out.rewards["manager"]
        assert np.isfinite(o).all() and np.isfinite(r).all()
        assert (o >= space.low).all() and (o <= space.high).all()
        assert np.isfinite(prey).all() and np.isfinite(pred).all()
    assert lowest_prey >= 0.0 and lowest_pred >= 0.0
    assert env.agents == []  # truncated at max_steps
    assert all(np.isfinite(v) for v in env.episode_metrics().values())


@pytest.mark.parametrize(
    "params",
    [
        dict(
            growth_rate=3.0, climate_effect=1.0, quality_effect=1.0, amplitude=1.0, shock_prob=1.0
        ),
        dict(conversion=10.0, mortality=0.0, attack_rate=1.0, predator_dispersal=1.0),
        dict(n_patches=1, extinction_threshold=0.0, fragmentation=0.0, move_cost=0.0),
        dict(n_patches=2, max_dispersal=1.0, carrying_capacity=1e9, prey0=1e9, predators0=0.0),
        dict(carrying_capacity=1e-9, growth_rate=1e-9, season_period=1.0, fragmentation=1.0),
    ],
)
def test_extreme_parameters_keep_populations_non_negative_and_obs_in_space(params):
    env = EcologyEnv(max_steps=1000, **params)
    env.reset_arrays(seed=3)
    space = env.observation_space("manager_0")
    rng = np.random.default_rng(3)
    for _ in range(1000):
        out = env.step_arrays(env.random_actions(rng))
        o = out.obs["manager"]
        assert space.contains(o[0]) and ((o >= space.low) & (o <= space.high)).all()
        assert np.isfinite(out.rewards["manager"]).all()
        assert (env.model.ctx["movement.prey"] >= 0).all()
        assert (env.model.ctx["movement.predators"] >= 0).all()


def test_extinctions_are_counted_once_per_population_that_dies():
    # no climate noise, no links; predators all die in tick 1 (mortality 1, no conversion)
    env = EcologyEnv(
        n_patches=3,
        amplitude=0.0,
        shock_prob=0.0,
        fragmentation=1.0,
        mortality=1.0,
        conversion=0.0,
        max_steps=10,
    )
    env.reset_arrays(seed=0)
    ctx = env.model.ctx
    prey = ctx["movement.prey"].copy()
    prey[0, 0] = 0.5  # below the threshold of 1: the prey of patch 0 dies out this tick
    ctx["movement.prey"] = prey
    hold = {"manager": np.tile([0.5, 0.0], (3, 1))}
    env.step_arrays(hold)
    np.testing.assert_array_equal(ctx["movement.prey_extinctions"][0], [True, False, False])
    np.testing.assert_array_equal(ctx["movement.predator_extinctions"][0], [True, True, True])
    np.testing.assert_array_equal(ctx["movement.prey"][0] == 0, [True, False, False])
    metrics = env.metrics()
    assert metrics["aggregate.extinctions"] == 4.0
    assert metrics["aggregate.total_extinctions"] == 4.0
    assert metrics["aggregate.empty_patches"] == 1.0
    env.step_arrays(hold)  # already-empty populations are not counted again
    assert env.metrics()["aggregate.extinctions"] == 0.0
    assert env.episode_metrics()["aggregate.extinctions"] == 4.0
    assert env.episode_metrics()["aggregate.extinct_fraction"] == 1.0


def test_cv_metric_equals_numpy_std_over_mean_of_patch_prey():
    env = EcologyEnv(shock_prob=0.5)
    env.reset_arrays(seed=5)
    rng = np.random.default_rng(5)
    for _ in range(30):
        env.step_arrays(env.random_actions(rng))
    prey = env.model.ctx["movement.prey"][0]
    expected = np.std(prey) / np.mean(prey)
    assert expected > 0.01  # the patches really differ
    assert env.metrics()["aggregate.cv"] == pytest.approx(expected, rel=1e-12)
    assert env.metrics()["aggregate.mean_biomass"] == pytest.approx(np.mean(prey), rel=1e-12)
    assert coefficient_of_variation(np.zeros((1, 4)))[0] == 0.0


def test_episode_cv_is_temporal_cv_of_mean_prey_biomass():
    env = EcologyEnv(max_steps=50)
    env.reset_arrays(seed=2)
    rng = np.random.default_rng(2)
    means, spatial = [], []
    for _ in range(50):
        env.step_arrays(env.random_actions(rng))
        means.append(env.metrics()["aggregate.mean_biomass"])
        spatial.append(env.metrics()["aggregate.cv"])
    episode = env.episode_metrics()
    assert episode["aggregate.mean_biomass"] == pytest.approx(np.mean(means), rel=1e-9)
    assert episode["aggregate.cv"] == pytest.approx(np.std(means) / np.mean(means), rel=1e-6)
    assert episode["aggregate.mean_cv"] == pytest.approx(np.mean(spatial), rel=1e-9)


def test_reward_is_patch_prey_biomass_over_carrying_capacity():
    env = EcologyEnv(carrying_capacity=500.0)
    env.reset_arrays(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        out = env.step_arrays(env.random_actions(rng))
    np.testing.assert_allclose(out.rewards["manager"], env.model.ctx["movement.prey"][0] / 500.0)


def test_one_tick_follows_the_documented_equations():
    p = dict(growth_rate=0.55, carrying_capacity=1000.0, climate_effect=0.3, quality_effect=0.2)
    p.update(attack_rate=0.01, conversion=0.1, mortality=0.15, fragmentation=0.0)
    p.update(move_cost=0.25, max_dispersal=0.2, predator_dispersal=0.05, season_period=12.0)
    env = EcologyEnv(n_patches=4, amplitude=0.4, shock_prob=0.0, prey0=100.0, predators0=20.0, **p)
    env.reset_arrays(seed=0)
    env.step_arrays({"manager": np.tile([0.0, 0.0], (4, 1))})  # tick 0
    ctx = env.model.ctx
    x, y = ctx["movement.prey"][0].copy(), ctx["movement.predators"][0].copy()
    np.testing.assert_allclose(x, 100.0)  # risk 0: no growth and no predation
    np.testing.assert_allclose(y, 20.0 * 0.85 * (1 - 0.05 * 0.25))  # a quarter of movers die
    risk = np.array([0.25, 0.5, 0.75, 0.875])  # exact in float32, the action dtype
    disp = np.array([1.0, 0.0, 0.5, 0.0])
    env.step_arrays({"manager": np.stack([risk, disp], axis=1)})  # tick 1
    climate = 0.4 * np.sin(2 * np.pi * 1 / 12.0)
    forage = risk * (1 + 0.2 * 1.0)
    grown = x + 0.55 * (1 + 0.3 * climate) * forage * x * (1 - x / 1000.0)
    eaten = 0.01 * risk * forage * x * y
    x1, y1 = grown - eaten, y + 0.1 * eaten - 0.15 * y
    out_x, out_y = 0.2 * disp * x1, 0.05 * y1  # every patch has two intact links
    in_x = 0.75 * (np.roll(out_x, 1) + np.roll(out_x, -1)) / 2
    in_y = 0.75 * (np.roll(out_y, 1) + np.roll(out_y, -1)) / 2
    np.testing.assert_allclose(ctx["climate.value"][0], climate)
    np.testing.assert_allclose(ctx["movement.prey"][0], x1 - out_x + in_x, rtol=1e-12)
    np.testing.assert_allclose(ctx["movement.predators"][0], y1 - out_y + in_y, rtol=1e-12)


def test_dispersal_conserves_migrants_up_to_move_cost_and_isolated_patches_send_nothing():
    rng = np.random.default_rng(0)
    amount = rng.uniform(0, 10, (3, 7))
    right = (rng.random((3, 7)) < 0.5).astype(float)
    left = np.roll(right, 1, axis=1)
    sent, arrived = disperse(amount, left, right, survival=0.7)
    np.testing.assert_allclose(arrived.sum(axis=1), 0.7 * sent.sum(axis=1))
    isolated = (left + right) == 0
    assert isolated.any()
    assert (sent[isolated] == 0).all() and (sent[~isolated] == amount[~isolated]).all()


def test_predation_never_takes_more_prey_than_there_are():
    env = EcologyEnv(n_patches=2, attack_rate=1.0, predators0=1000.0, fragmentation=1.0)
    env.reset_arrays(seed=0)
    env.step_arrays({"manager": np.ones((2, 2), dtype=np.float32)})
    ctx = env.model.ctx
    assert (ctx["prey.biomass"] == 0).all()
    # predators gained exactly conversion * the prey there were (100 grown a little)
    assert (ctx["prey.eaten"][0] > 100.0).all() and (ctx["prey.eaten"][0] < 200.0).all()


def test_same_seed_repeats_and_other_seed_changes_the_episode():
    def trajectory(seed: int) -> np.ndarray:
        env = EcologyEnv(max_steps=40)
        env.reset_arrays(seed)
        hold = {"manager": np.tile([0.5, 0.5], (N_PATCHES, 1))}
        return np.stack([env.step_arrays(hold).obs["manager"] for _ in range(40)])

    np.testing.assert_array_equal(trajectory(7), trajectory(7))
    assert not np.array_equal(trajectory(7), trajectory(8))


def test_batched_model_runs_four_independent_worlds():
    model = make_model(ecology_spec(**EcologyEnv(n_patches=6, shock_prob=0.3).params), n_worlds=4)
    model.reset(seed=0)
    group = model.groups["manager"][0]
    rng = np.random.default_rng(0)
    for _ in range(200):
        model.advance({"manager": rng.uniform(0, 1, (4, 6, 2))})
        obs = group.observe(model.ctx)
        assert obs.shape == (4, 6, 8) and np.isfinite(obs).all()
        assert (model.ctx["movement.prey"] >= 0).all()
    assert group.reward(model.ctx).shape == (4, 6)
    assert group.heuristic(obs).shape == (4, 6, 2)
    metrics = model.metrics_step()
    assert all(v.shape == (4,) for v in metrics.values())
    assert len(set(np.round(metrics["aggregate.mean_biomass"], 9))) == 4  # the worlds differ
    assert all(v.shape == (4,) for v in model.metrics_episode().values())


def test_heuristic_beats_random_on_mean_episode_return():
    env = EcologyEnv(max_steps=100)
    heuristic = np.mean([run_episode(env, s, "heuristic") for s in range(4)])
    random = np.mean([run_episode(env, s, "random") for s in range(4)])
    assert heuristic > random + 10.0


def test_heuristic_risk_is_the_myopic_optimum():
    group = make_model(ecology_spec(**EcologyEnv(n_patches=3).params)).groups["manager"][0]
    obs = np.zeros((3, 8), dtype=np.float32)
    obs[:, 0] = [0.5, 0.5, 1.2]  # prey / K
    obs[:, 1] = [1.0, 0.0, 1.0]  # predation pressure
    act = group.heuristic(obs)
    np.testing.assert_allclose(act[:, 0], [0.25, 1.0, 0.0])
    np.testing.assert_allclose(act[:, 1], 0.0)


@pytest.mark.parametrize(
    "name, value",
    [
        ("n_patches", 0),
        ("amplitude", 1.5),
        ("shock_prob", -0.1),
        ("growth_rate", 0.0),
        ("carrying_capacity", float("nan")),
        ("max_steps", 0),
        ("move_cost", 2.0),
    ],
)
def test_invalid_parameters_are_refused_with_their_name(name, value):
    with pytest.raises(ValueError, match=name):
        EcologyEnv(**{name: value})


def test_documented_args_match_the_signature():
    doc = EcologyEnv.__doc__.split("Args:")[1].split("Version history")[0]
    documented = re.findall(r"^    (\w+) \(", doc, flags=re.M)
    assert documented == list(inspect.signature(EcologyEnv.__init__).parameters)[1:]


def test_module_level_constructors():
    assert isinstance(parallel_env(n_patches=3), EcologyEnv)
    aec = raw_env(n_patches=3)
    aec.reset(seed=0)
    assert aec.agents == ["manager_0", "manager_1", "manager_2"]
