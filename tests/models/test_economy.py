"""Tests of the economy: conservation in trade, demography over a slot pool, decision layers."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from heas_envs.checks import documented_arguments, signature_arguments
from heas_envs.core import make_model
from heas_envs.env.parallel import sample_actions
from heas_envs.models.economy import (
    PHASES,
    EconomyEnv,
    Layout,
    clear_market,
    economy_spec,
    gini,
)


def batched_model(n_worlds: int = 4, **params):
    """The economy as a bare model of ``n_worlds`` worlds, reset with seed 0."""
    cfg = EconomyEnv(**params).config
    model = make_model(economy_spec(cfg), n_worlds=n_worlds)
    model.reset(seed=0)
    return model, cfg


def random_batch(model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    group = model.groups["citizen"][0]
    acts = sample_actions(group.action_space, model.n_worlds * group.n_agents, rng)
    return {"citizen": acts.reshape(model.n_worlds, group.n_agents, -1)}


def total(model, key: str) -> np.ndarray:
    """Per world and good, the total of the holdings ``key`` over all slots."""
    return model.ctx[key].sum(axis=1)


# -- trade ------------------------------------------------------------------------------------
def test_trade_conserves_every_good_in_every_world_on_every_tick():
    model, cfg = batched_model(n_worlds=4)
    rng = np.random.default_rng(1)
    volume = 0.0
    for _ in range(60):
        model.advance(random_batch(model, rng))
        before, after = total(model, "production.holdings"), total(model, "trade.holdings")
        assert before.shape == (4, cfg.n_goods)
        np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-12)
        volume += model.ctx["trade.volume"].sum()
    assert volume > 1.0  # goods did change hands


def test_clear_market_conserves_and_stays_non_negative_on_extreme_inputs():
    rng = np.random.default_rng(2)
    b, k, g = 6, 9, 3
    holdings = rng.exponential(1.0, (b, k, g)) * rng.choice([0.0, 1e-9, 1.0, 1e6], (b, k, g))
    holdings[0] = 0.0  # a world with no goods at all
    holdings[1, :, 0] = 0.0  # a good nobody holds
    preference = rng.dirichlet(np.full(g, 0.2), (b, k))
    willing = rng.choice([0.0, 0.3, 1.0], (b, k))
    willing[2] = 0.0  # nobody trades
    willing[3, 1:] = 0.0  # one trader alone
    for iterations, rate in [(1, 1.0), (8, 0.5), (100, 1.0)]:
        out, unit = clear_market(holdings, preference, willing, iterations, rate)
        assert np.isfinite(out).all() and np.isfinite(unit).all()
        assert (out >= 0.0).all()
        np.testing.assert_allclose(out.sum(axis=1), holdings.sum(axis=1), rtol=1e-12, atol=1e-9)
        unwilling = willing == 0.0
        np.testing.assert_array_equal(out[unwilling], holdings[unwilling])
        np.testing.assert_allclose(unit.mean(axis=1), 1.0)


def test_clear_market_swaps_goods_between_traders_who_want_each_others():
    holdings = np.array([[[4.0, 0.5], [0.5, 4.0]]])  # trader 0 holds good 0, trader 1 good 1
    preference = np.array([[[0.1, 0.9], [0.9, 0.1]]])  # each prefers what the other holds
    out, _ = clear_market(holdings, preference, np.ones((1, 2)), 8, 0.5)
    assert out[0, 0, 1] > 1.5 and out[0, 1, 0] > 1.5  # at least a gain of 1 unit each
    utility = lambda x: (preference * np.log(0.1 + x)).sum(axis=-1)  # noqa: E731
    assert (utility(out) > utility(holdings) + 0.3).all()  # both traders gain


# -- demography -------------------------------------------------------------------------------
def test_holdings_weights_and_population_stay_valid_in_four_worlds():
    model, cfg = batched_model(n_worlds=4)
    rng = np.random.default_rng(3)
    populations = []
    for _ in range(400):
        model.advance(random_batch(model, rng))
        ctx = model.ctx
        alive = ctx["demography.alive"]
        for key in ("production.holdings", "trade.holdings", "consumption.holdings"):
            assert (ctx[key] >= 0.0).all(), key
        assert (ctx["demography.holdings"][~alive] == 0.0).all()  # the dead hold nothing
        weights = ctx["demography.weights"][alive]
        assert (weights >= 0.0).all()
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
        populations.append(alive.sum(axis=1))
    populations = np.array(populations)
    assert (populations >= 0).all() and (populations <= cfg.max_population).all()
    assert len({tuple(p) for p in populations.T}) == 4  # the worlds evolve independently


def test_births_take_fresh_slots_and_never_a_dead_one():
    env = EconomyEnv(n_agents=10, max_population=400, max_steps=1500)
    obs, alive = env.reset_arrays(seed=4)
    rng = np.random.default_rng(4)
    ever = alive["citizen"].copy()
    dead = np.zeros_like(ever)
    births = deaths = 0
    last_first_free = int(np.flatnonzero(~ever)[0])
    before = alive["citizen"]
    for _ in range(1500):
        out = env.step_arrays(env.random_actions(rng))
        now = out.alive["citizen"]
        born, died = now & ~before, before & ~now
        assert not (born & ever).any()  # a newborn takes a slot that never lived
        assert not (now & dead).any()  # and the dead never come back
        if born.any():  # slots are handed out in order: the newborns fill the next ones
            slots = np.flatnonzero(born)
            np.testing.assert_array_equal(
                slots, np.arange(last_first_free, last_first_free + len(slots))
            )
            last_first_free += len(slots)
        np.testing.assert_array_equal(out.terminated["citizen"], died)
        ever |= now
        dead |= died
        births += int(born.sum())
        deaths += int(died.sum())
        before = now
    assert births > 100 and deaths > 100
    assert births + 10 == int(ever.sum()) == last_first_free


def test_no_births_once_the_pool_is_used_up():
    env = EconomyEnv(n_agents=10, max_population=13, max_steps=400)
    _, alive = env.reset_arrays(seed=5)
    rng = np.random.default_rng(5)
    ever = alive["citizen"].copy()
    while env.agents:
        ever |= env.step_arrays(env.random_actions(rng)).alive["citizen"]
    metrics = env.episode_metrics()
    assert metrics["demography.total_births"] == 3.0
    assert metrics["demography.total_deaths"] == 13.0  # all die: the population ages out
    assert ever.all() and env.tick < 400


def test_10000_random_ticks_with_births_deaths_and_no_nan():
    env = EconomyEnv(n_agents=5, max_age=1000, max_population=500, max_steps=10_000)
    space = env.observation_space("citizen_0")
    low, high = space.low, space.high
    env.reset_arrays(seed=6)
    rng = np.random.default_rng(6)
    smallest = np.inf
    for tick in range(10_000):
        out = env.step_arrays(env.random_actions(rng))
        obs, rewards = out.obs["citizen"], out.rewards["citizen"]
        assert np.isfinite(obs).all() and np.isfinite(rewards).all(), tick
        assert ((obs >= low) & (obs <= high)).all(), tick
        smallest = min(smallest, int(out.alive["citizen"].sum()))
    assert not env.agents and env.tick == 10_000 and smallest > 0
    metrics = env.episode_metrics()
    assert metrics["demography.total_births"] > 100
    assert metrics["demography.total_deaths"] > 100
    assert all(np.isfinite(v) for v in metrics.values())


# -- decision layers --------------------------------------------------------------------------
def test_layer_decision_visits_the_four_decision_layers_in_order_every_tick():
    env = EconomyEnv(decision="layer", max_steps=30)
    lay = Layout.of(2, 4)
    obs, alive = env.reset_arrays(seed=7)
    obs, alive = obs["citizen"], alive["citizen"]
    rng = np.random.default_rng(7)
    layers, phases = [], []
    while env.agents:
        assert env.agents == [f"citizen_{i}" for i in np.flatnonzero(alive)]  # everyone decides
        phase = obs[alive][:, lay.phase]
        assert (phase == phase[0]).all() and phase[0].sum() == 1.0
        phases.append(PHASES[int(np.argmax(phase[0]))])
        layers.append(env.model.ctx.layer)
        out = env.step_arrays(env.random_actions(rng))
        obs, alive = out.obs["citizen"], out.alive["citizen"]
        paid = np.abs(out.rewards["citizen"]).sum() > 0
        assert paid == (phases[-1] == "consumption")  # the reward comes once a tick completes
    assert phases == list(PHASES) * 30
    assert layers == [0, 2, 3, 4] * 30  # L1 broadcast, L3 production, L4 trade, L5 consumption


def test_layer_decision_matches_tick_decision_given_the_same_actions():
    tick_env, layer_env = EconomyEnv(max_steps=80), EconomyEnv(decision="layer", max_steps=80)
    tick_env.reset_arrays(seed=8)
    layer_env.reset_arrays(seed=8)
    rng = np.random.default_rng(8)
    for _ in range(80):
        actions = tick_env.random_actions(rng)
        expected = tick_env.step_arrays(actions)
        rewards = np.zeros_like(expected.rewards["citizen"])
        for _ in PHASES:
            out = layer_env.step_arrays(actions)
            rewards += out.rewards["citizen"]
        np.testing.assert_array_equal(out.alive["citizen"], expected.alive["citizen"])
        np.testing.assert_allclose(rewards, expected.rewards["citizen"], rtol=1e-12)
        np.testing.assert_allclose(out.obs["citizen"][:, 4:], expected.obs["citizen"][:, 4:])
    assert not layer_env.agents and not tick_env.agents and layer_env.tick == tick_env.tick == 80


def test_layer_decision_uses_only_the_active_slice_of_the_action():
    envs = [EconomyEnv(decision="layer", max_steps=40) for _ in range(2)]
    for e in envs:
        e.reset_arrays(seed=9)
    lay = Layout.of(2, 4)
    parts = [
        np.r_[lay.signal, lay.query, lay.focus],
        np.r_[lay.job, lay.effort],
        np.r_[lay.preference, lay.willingness],
        np.r_[lay.consumption],
    ]
    rng = np.random.default_rng(9)
    for step in range(160):
        active = parts[step % 4]
        base = envs[0].random_actions(rng)["citizen"]
        other = envs[0].random_actions(rng)["citizen"]
        other[:, active] = base[:, active]  # the same active slice, different everything else
        a, b = envs[0].step_arrays({"citizen": base}), envs[1].step_arrays({"citizen": other})
        np.testing.assert_array_equal(a.obs["citizen"], b.obs["citizen"])
        np.testing.assert_array_equal(a.rewards["citizen"], b.rewards["citizen"])


@pytest.mark.parametrize("decision", ["tick", "layer"])
def test_pettingzoo_parallel_and_aec_api(decision):
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        parallel_api_test(EconomyEnv(decision=decision), num_cycles=1000)
        api_test(parallel_to_aec(EconomyEnv(decision=decision, max_steps=150)), num_cycles=200)
    bad = {
        str(w.message)
        for w in caught
        if "dead last turn" in str(w.message) or "Live agent" in str(w.message)
    }
    assert not bad


# -- policies, metrics, parameters ------------------------------------------------------------
def test_heuristic_beats_random_play_on_mean_episode_return():
    env = EconomyEnv(max_steps=200)

    def mean_return(seed: int, heuristic: bool) -> float:
        """The return of a citizen, averaged over every citizen that lived in the episode."""
        _, alive = env.reset_arrays(seed=seed)
        rng = np.random.default_rng(100 + seed)
        returns = np.zeros(env.config.max_population)
        ever = alive["citizen"].copy()
        while env.agents:
            actions = env.heuristic_actions() if heuristic else env.random_actions(rng)
            out = env.step_arrays(actions)
            returns += out.rewards["citizen"]
            ever |= out.alive["citizen"]
        return float(returns[ever].mean())

    seeds = range(4)
    heuristic = np.mean([mean_return(s, True) for s in seeds])
    random = np.mean([mean_return(s, False) for s in seeds])
    assert heuristic > 1.3 * random


def test_gini_matches_the_pairwise_definition_on_the_live_entries():
    rng = np.random.default_rng(10)
    values = rng.exponential(1.0, (5, 12))
    mask = rng.random((5, 12)) < 0.6
    mask[0] = False  # nobody alive: 0
    values[1] = 0.0  # all zero: 0
    got = gini(values, mask)
    for b in range(2, 5):
        x = values[b, mask[b]]
        expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
        assert got[b] == pytest.approx(expected)
    assert got[0] == 0.0 and got[1] == 0.0
    assert gini(np.array([[1.0, 1.0, 5.0]]), np.array([[True, True, False]]))[0] == 0.0


def test_metrics_report_jobs_population_births_deaths_and_volume():
    env = EconomyEnv(n_goods=3, max_steps=100)
    env.reset_arrays(seed=11)
    rng = np.random.default_rng(11)
    births = deaths = 0.0
    while env.agents:
        env.step_arrays(env.random_actions(rng))
        m = env.metrics()
        shares = [m[f"production.job_share_{g}"] for g in range(3)]
        assert sum(shares) == pytest.approx(1.0)
        # the model's population (a child born in the final tick is not handed over as an agent)
        population = env.model.groups["citizen"][0].alive(env.model.ctx)[0].sum()
        assert m["demography.population"] == population
        assert (
            0.0 <= m["demography.gini_wealth"] <= 1.0 and 0.0 <= m["consumption.gini_reward"] <= 1.0
        )
        assert 0.0 <= m["social.attention_entropy"] <= 1.0 + 1e-9
        births += m["demography.births"]
        deaths += m["demography.deaths"]
    episode = env.episode_metrics()
    assert episode["demography.total_births"] == births > 0
    assert episode["demography.total_deaths"] == deaths > 0
    assert episode["trade.total_volume"] > 0
    assert episode["demography.final_population"] == population


def test_documented_arguments_match_the_signature():
    assert documented_arguments(EconomyEnv) == signature_arguments(EconomyEnv)


def test_spaces_have_the_documented_sizes():
    env = EconomyEnv(n_goods=3, signal_dim=5)
    assert env.observation_space("citizen_0").shape == (9 + 5 * 3 + 5,)
    assert env.action_space("citizen_0").shape == (2 * 5 + 3 * 3 + 3,)
    assert len(env.possible_agents) == 200


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_goods=1), "n_goods"),
        (dict(decision="turn"), "decision"),
        (dict(max_population=5), "max_population"),
        (dict(trade_rate=2.0), "trade_rate"),
        (dict(land=0.0), "land"),
        (dict(spoilage=float("nan")), "spoilage"),
    ],
)
def test_invalid_parameters_raise_a_clear_error(params, match):
    with pytest.raises(ValueError, match=match):
        EconomyEnv(**params)
