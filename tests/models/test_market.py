"""The market model: accounting, price impact, the regulator's period, the circuit breaker."""

from __future__ import annotations

import numpy as np
import pytest

import heas_envs
from heas_envs.cli import run_episodes
from heas_envs.models.market import PRICE_BAND


def test_reward_is_marked_to_market_profit_minus_costs_and_tax():
    env = heas_envs.make_parallel(
        "heas_envs/Market-v0",
        n_traders=2,
        volatility=0.0,
        impact=0.0,
        drift=0.001,
        cost=0.001,
        tax=0.002,
        regulator=False,
    )
    env.reset_arrays(seed=0)
    p0 = 100.0 * np.exp(0.001)
    out = env.step_arrays({"trader": np.array([[1.0], [-0.5]])})
    fees0 = (0.001 + 0.002) * np.array([1.0, 0.5]) * p0
    assert np.allclose(out.rewards["trader"], -fees0 / 100.0)
    p1 = p0 * np.exp(0.001)
    out = env.step_arrays({"trader": np.array([[0.0], [0.0]])})
    assert np.allclose(out.rewards["trader"], np.array([1.0, -0.5]) * (p1 - p0) / 100.0)


def test_net_order_flow_moves_the_next_price_by_the_impact():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=3, volatility=0.0, impact=0.01)
    env.reset_arrays(seed=0)
    buy = {"trader": np.ones((3, 1)), "regulator": np.zeros((1, 1))}
    env.step_arrays(buy)
    assert env.metrics()["price.log_return"] == pytest.approx(0.0, abs=1e-12)  # no flow yet
    env.step_arrays(buy)
    assert env.metrics()["price.log_return"] == pytest.approx(0.01)


def test_the_regulator_changes_the_tax_on_its_period_only():
    env = heas_envs.make_parallel(
        "heas_envs/Market-v0", n_traders=2, regulator_period=3, max_tax=0.01
    )
    env.reset_arrays(seed=0)
    taxes = []
    for t in range(7):
        env.step_arrays({"trader": np.zeros((2, 1)), "regulator": np.array([[t / 10]])})
        taxes.append(round(env.metrics()["regulator.tax"], 6))
    assert taxes == [0.0, 0.0, 0.0, 0.003, 0.003, 0.003, 0.006]


def test_the_regulator_observes_when_its_action_applies():
    env = heas_envs.make_parallel("heas_envs/Market-v0", n_traders=2, regulator_period=2)
    obs, _ = env.reset_arrays(seed=0)
    flags = [obs["regulator"][0, 4]]
    for _ in range(3):
        flags.append(env.step_arrays(env.heuristic_actions()).obs["regulator"][0, 4])
    assert flags == [1.0, 0.0, 1.0, 0.0]


def test_the_circuit_breaker_keeps_long_episodes_finite():
    env = heas_envs.make_parallel(
        "heas_envs/Market-v0", n_traders=2, drift=0.01, volatility=0.2, max_steps=3000
    )
    env.reset_arrays(seed=0)
    rng = np.random.default_rng(0)
    prices = []
    while env.agents:
        env.step_arrays(env.random_actions(rng))
        prices.append(env.metrics()["price.price"])
    assert max(prices) == pytest.approx(100.0 * PRICE_BAND)
    assert np.isfinite(prices).all()


def test_momentum_traders_lose_less_than_random_traders():
    heuristic = run_episodes("heas_envs/Market-v0", episodes=10, policy="heuristic")
    random = run_episodes("heas_envs/Market-v0", episodes=10, policy="random")
    mean = lambda rows: np.mean([r["return/trader"] for r in rows])  # noqa: E731
    assert mean(heuristic) > mean(random)


def test_ten_thousand_random_ticks_keep_prices_in_band_and_outputs_finite_in_space():
    env = heas_envs.make_parallel("heas_envs/Market-v0", max_steps=10_000)
    spaces = {r: env.observation_space(f"{r}_0") for r in env.roles}
    env.reset_arrays(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10_000):
        out = env.step_arrays(env.random_actions(rng))
        for role, obs in out.obs.items():
            assert np.isfinite(obs).all() and np.isfinite(out.rewards[role]).all(), role
            assert ((obs >= spaces[role].low) & (obs <= spaces[role].high)).all(), role
        price = env.model.ctx["price.price"][0]
        assert 100.0 / PRICE_BAND <= price <= 100.0 * PRICE_BAND
    assert out.truncated["trader"].all() and env.agents == []
