"""Tests of the Boltzmann wealth model: conservation, Gini, Mesa's statistics, conformance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from heas_envs.core import Context, make_model
from heas_envs.core.grid import grid_neighbours
from heas_envs.models.boltzmann import (
    BoltzmannEnv,
    RandomWalk,
    boltzmann_spec,
    gini,
    gives_in_turn_order,
)


def test_total_wealth_is_conserved_exactly_over_random_ticks() -> None:
    env = BoltzmannEnv(n_agents=60, width=5, height=5, initial_wealth=3, max_steps=3000)
    env.reset_arrays(seed=1)
    rng = np.random.default_rng(2)
    wealth_key = "give.wealth"
    for _ in range(3000):
        out = env.step_arrays(env.random_actions(rng))
        wealth = env.model.ctx[wealth_key]
        assert wealth.dtype.kind == "i"
        assert int(wealth.sum()) == 60 * 3
        assert wealth.min() >= 0
        assert out.rewards["agent"].sum() == pytest.approx(0.0, abs=1e-9)  # zero-sum


def test_wealth_is_conserved_in_each_of_four_batched_worlds() -> None:
    model = make_model(
        boltzmann_spec(**BoltzmannEnv(n_agents=40, width=4, height=4).params), n_worlds=4
    )
    model.reset(seed=3)
    rng = np.random.default_rng(4)
    for _ in range(500):
        model.advance({"agent": rng.integers(0, 9, size=(4, 40))})
    wealth = model.ctx["give.wealth"]
    assert wealth.sum(axis=1).tolist() == [40, 40, 40, 40]
    assert len({tuple(w) for w in wealth}) == 4  # the worlds evolve independently
    assert model.metrics_step()["inequality.gini"].shape == (4,)


def test_gini_matches_the_pairwise_definition_and_mesas_formula() -> None:
    rng = np.random.default_rng(5)
    wealth = rng.integers(0, 10, size=(20, 37))
    wealth[:, 0] += 1  # never all zero
    n = wealth.shape[1]
    pairwise = np.abs(wealth[:, :, None] - wealth[:, None, :]).sum(axis=(1, 2))
    direct = pairwise / (2 * n * wealth.sum(axis=1))
    np.testing.assert_allclose(gini(wealth), direct, rtol=1e-12)
    for row, value in zip(wealth, gini(wealth), strict=True):
        x = sorted(row.tolist())  # Mesa's compute_gini, verbatim
        b = sum(xi * (n - i) for i, xi in enumerate(x)) / (n * sum(x))
        assert value == pytest.approx(1 + (1 / n) - 2 * b, abs=1e-12)
    assert gini(np.full((1, 10), 4))[0] == pytest.approx(0.0, abs=1e-12)
    assert gini(np.array([[0] * 9 + [10]]))[0] == pytest.approx(0.9)


def test_gini_metric_equals_direct_computation_every_tick() -> None:
    env = BoltzmannEnv(max_steps=50)
    env.reset_arrays(seed=6)
    assert env.metrics()["inequality.gini"] == 0.0  # everyone starts equal
    for _ in range(50):
        env.step_arrays(env.heuristic_actions())
        w = env.model.ctx["give.wealth"][0]
        pairwise = np.abs(w[:, None] - w[None, :]).sum() / (2 * w.size * w.sum())
        assert env.metrics()["inequality.gini"] == pytest.approx(pairwise, abs=1e-12)
    history = env.episode_metrics()
    assert 0.0 < history["inequality.mean_gini"] < history["inequality.final_gini"] + 0.2


def test_first_tick_gini_matches_mesa() -> None:
    # Mesa 3.3.1, 400 seeds: mean Gini 0.493 after step 1, share without wealth 0.347.
    model = make_model(boltzmann_spec(**BoltzmannEnv().params), n_worlds=300)
    model.reset(seed=7)
    model.advance({"agent": np.zeros((300, 100), dtype=np.int64)})
    metrics = model.metrics_step()
    assert 0.47 < metrics["inequality.gini"].mean() < 0.52
    assert 0.32 < metrics["inequality.zero_share"].mean() < 0.37


def test_gini_rises_from_zero_to_mesas_range_under_the_mesa_rule() -> None:
    # Mesa 3.3.1, 10 seeds: Gini averaged over steps 200-500 is 0.646-0.659 (mean 0.651).
    model = make_model(boltzmann_spec(**BoltzmannEnv().params), n_worlds=5)
    model.reset(seed=8)
    assert model.metrics_step()["inequality.gini"].tolist() == [0.0] * 5
    later = []
    for tick in range(300):
        model.advance({"agent": np.zeros((5, 100), dtype=np.int64)})
        if tick >= 200:
            later.append(model.metrics_step()["inequality.gini"])
    assert 0.55 < np.mean(later) < 0.75


def test_keep_action_freezes_every_wealth() -> None:
    env = BoltzmannEnv(max_steps=20)
    env.reset_arrays(seed=9)
    keep = np.full(100, env.action_space("agent_0").n - 1)
    for _ in range(20):
        out = env.step_arrays({"agent": keep})
        assert (env.model.ctx["give.wealth"] == 1).all()
        assert not out.rewards["agent"].any()
        assert env.metrics()["give.transfers"] == 0.0


def test_candidate_action_moves_one_unit_to_that_cellmate() -> None:
    env = BoltzmannEnv(max_steps=10)
    obs, _ = env.reset_arrays(seed=10)
    k_max = env.model.groups["agent"][0].n_candidates
    giver = int(np.flatnonzero(obs["agent"][:, 3 + 1])[0])  # has a second candidate
    receiver = int(env.model.ctx["move.candidates"][0, giver, 1])
    actions = np.full(100, k_max)  # everybody keeps...
    actions[giver] = 1  # ...but the giver, who gives to candidate 1
    out = env.step_arrays({"agent": actions})
    wealth = env.model.ctx["give.wealth"][0]
    assert wealth[giver] == 0 and wealth[receiver] == 2
    assert wealth.sum() == 100 and (np.delete(wealth, [giver, receiver]) == 1).all()
    assert out.rewards["agent"][giver] == -1.0 and out.rewards["agent"][receiver] == 1.0


def test_a_unit_received_before_ones_turn_is_passed_on_but_not_one_received_after() -> None:
    # Agent 1 (turn 0) gives to agent 0 (turn 1), who has nothing but gives it on to agent 2.
    gave = gives_in_turn_order(np.array([0, 1, 0]), np.array([2, 0, -1]), np.array([1, 0, 2]))
    assert gave.tolist() == [True, True, False]
    # Same gifts, but agent 0's turn (0) comes before agent 1's (1): agent 0 cannot give.
    gave = gives_in_turn_order(np.array([0, 1, 0]), np.array([2, 0, -1]), np.array([0, 1, 2]))
    assert gave.tolist() == [False, True, False]
    # A chain of three passes within one tick.
    gave = gives_in_turn_order(
        np.array([1, 0, 0, 0]), np.array([1, 2, 3, -1]), np.array([0, 1, 2, 3])
    )
    assert gave.tolist() == [True, True, True, False]


def test_candidates_are_the_cellmates_met_at_ones_turn_in_mesas_order() -> None:
    width, height, n = 3, 3, 30
    walk = RandomWalk("move", n_agents=n, width=width, height=height, n_candidates=n)
    ctx = Context(n_worlds=2)
    ctx.rng = np.random.default_rng(11)
    old = ctx.rng.integers(0, width * height, size=(2, n))
    walk._move(ctx, old)
    new, turn = ctx["move.cell"], ctx["move.turn"]
    table, count = grid_neighbours(width, height, moore=True, torus=False)
    for b, i in itertools.product(range(2), range(n)):
        assert new[b, i] in table[old[b, i], : count[old[b, i]]]
        expected = {
            j
            for j in range(n)
            if j != i
            and (
                (turn[b, j] < turn[b, i] and new[b, j] == new[b, i])
                or (turn[b, j] > turn[b, i] and old[b, j] == new[b, i])
            )
        }
        listed = ctx["move.candidates"][b, i]
        assert set(listed[listed >= 0].tolist()) == expected
        assert (listed >= 0).sum() == len(expected) == ctx["move.n_cellmates"][b, i]
    assert sorted(turn[0].tolist()) == list(range(n))


def test_grid_neighbours_follow_mesas_moore_grid_without_wrapping() -> None:
    table, count = grid_neighbours(3, 3, moore=True, torus=False)
    assert count.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    assert sorted(table[0, :3].tolist()) == [1, 3, 4]
    table, count = grid_neighbours(2, 3, moore=False, torus=True)  # x wraps onto itself
    assert count.tolist() == [3] * 6


def test_ten_thousand_random_ticks_keep_observations_finite_and_inside_the_space() -> None:
    env = BoltzmannEnv(max_steps=10_000)
    space = env.observation_space("agent_0")
    obs, _ = env.reset_arrays(seed=12)
    rng = np.random.default_rng(13)
    for tick in range(10_000):
        out = env.step_arrays(env.random_actions(rng))
        o = out.obs["agent"]
        assert np.isfinite(o).all() and np.isfinite(out.rewards["agent"]).all()
        if tick % 500 == 0:
            assert all(space.contains(row) for row in o)
    assert out.truncated["agent"].all()


def test_mean_episode_return_is_zero_for_every_policy() -> None:
    # Why there is no heuristic-beats-random test: the rewards are zero-sum.
    env = BoltzmannEnv(max_steps=50)
    rng = np.random.default_rng(14)
    for policy in ("heuristic", "random"):
        env.reset_arrays(seed=15)
        total = np.zeros(100)
        for _ in range(50):
            acts = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
            total += env.step_arrays(acts).rewards["agent"]
        assert total.sum() == 0.0


@pytest.mark.parametrize(
    "bad",
    [
        {"n_agents": 0},
        {"width": 0},
        {"height": 1.5},
        {"initial_wealth": 0},
        {"n_candidates": 65},
        {"max_steps": 0},
        {"render_mode": 3},
    ],
)
def test_invalid_parameters_are_refused_by_name(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        BoltzmannEnv(**bad)


def test_documented_arguments_match_the_signature() -> None:
    from heas_envs.checks import documented_arguments, signature_arguments

    assert documented_arguments(BoltzmannEnv) == signature_arguments(BoltzmannEnv)


def test_pettingzoo_parallel_and_aec_api() -> None:
    parallel_api_test(BoltzmannEnv(n_agents=20, width=4, height=4, max_steps=300), num_cycles=1000)
    api_test(parallel_to_aec(BoltzmannEnv(n_agents=20, width=4, height=4)), num_cycles=1000)


def test_check_env_passes() -> None:
    from heas_envs.checks import check_env

    check_env(lambda: BoltzmannEnv(n_agents=20, width=4, height=4, max_steps=100))
