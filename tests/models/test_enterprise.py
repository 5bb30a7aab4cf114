"""Tests of the enterprise model: accounting invariants, the aggregator, scenarios, API."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

from heas_envs.core import make_model
from heas_envs.models.enterprise import (
    SCENARIOS,
    EnterpriseEnv,
    enterprise_spec,
    leader_mask,
)

QUIET_MARKET = dict(shock_amp=0.0, growth_rate=0.0, market_power=0.0)


def firm_actions(n: int, output: float, invest: float, effort: float) -> np.ndarray:
    return np.tile(np.array([output, invest, effort], dtype=np.float32), (n, 1))


def episode_return(env: EnterpriseEnv, seed: int, policy: str) -> dict[str, float]:
    env.reset_arrays(seed)
    rng = np.random.default_rng(seed)
    total: dict[str, float] = {}
    while True:
        actions = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
        out = env.step_arrays(actions)
        for role, r in out.rewards.items():
            total[role] = total.get(role, 0.0) + float(r.mean())
        if any(t.any() for t in out.truncated.values()):
            return total


# -- scenarios ------------------------------------------------------------------------------------
def test_scenarios_are_the_papers_32_distinct_grid_points_and_each_builds_an_env():
    assert len(SCENARIOS) == 32
    names = [s["name"] for s in SCENARIOS]
    assert len(set(names)) == 32
    params = {tuple(sorted((k, v) for k, v in s.items() if k != "name")) for s in SCENARIOS}
    assert len(params) == 32
    grid = {k: sorted({s[k] for s in SCENARIOS}) for k in SCENARIOS[0] if k != "name"}
    assert grid == {
        "regime": ["coop", "directive"],
        "base_demand": [80.0, 120.0],
        "audit_prob": [0.1, 0.4],
        "n_firms": [2, 6],
        "costs": [0.3, 0.5],
    }
    for scenario in SCENARIOS:
        kwargs = {k: v for k, v in scenario.items() if k != "name"}
        env = EnterpriseEnv(**kwargs)
        obs, _ = env.reset_arrays(0)
        assert obs["firm"].shape == (kwargs["n_firms"], 15)
        out = env.step_arrays(env.heuristic_actions())
        assert np.isfinite(out.rewards["firm"]).all()


# -- the aggregator -------------------------------------------------------------------------------
@pytest.mark.parametrize("n_worlds", [1, 4])
def test_aggregator_running_sums_equal_brute_force_recomputation_over_history(n_worlds):
    params = dict(n_firms=5, welfare_weight=0.7, risk_penalty=0.4, audit_cost=0.3)
    model = make_model(enterprise_spec(**EnterpriseEnv(**params).params), n_worlds=n_worlds)
    model.reset(seed=3)
    rng = np.random.default_rng(3)
    agg = next(s for s in model.streams if s.name == "agg")
    history: dict[str, list[np.ndarray]] = {"profit": [], "welfare": [], "compliance": []}
    for _ in range(60):
        actions = rng.uniform(0, 1, size=(n_worlds, 5, 3))
        actions[:, :2, 0] = 0.0  # some firms produce nothing some ticks
        model.advance({"firm": actions})
        ctx = model.ctx
        output, effort = ctx["firms.output"], ctx["firms.effort"]
        total = output.sum(axis=1)
        compliance = np.where(
            total > 0, (effort * output).sum(axis=1) / np.maximum(total, 1e-300), 1.0
        )
        mean_profit = ctx["payoff.profit"].mean(axis=1)
        welfare = (
            0.7 * mean_profit
            + ctx["payoff.fiscal"] / 5
            - 0.3 * ctx["government.audit_intensity"]
            - 0.4 * (1.0 - compliance)
        )
        history["profit"].append(mean_profit)
        history["welfare"].append(welfare)
        history["compliance"].append(compliance)
        profits = np.stack(history["profit"])  # [T, B]
        np.testing.assert_allclose(ctx["agg.mean_profit"], mean_profit, rtol=1e-12)
        np.testing.assert_allclose(
            ctx["agg.var_profit"], profits.var(axis=0), rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(ctx["agg.stability"], 1 / (1 + profits.var(axis=0)), rtol=1e-9)
        np.testing.assert_allclose(ctx["agg.compliance"], compliance, rtol=1e-12)
        np.testing.assert_allclose(ctx["agg.welfare"], welfare, rtol=1e-12, atol=1e-12)
    episode = agg.metrics_episode(model.ctx)
    np.testing.assert_allclose(
        episode["mean_welfare"], np.mean(history["welfare"], axis=0), rtol=1e-9
    )
    np.testing.assert_allclose(
        episode["mean_profit"], np.mean(history["profit"], axis=0), rtol=1e-9
    )
    np.testing.assert_allclose(
        episode["mean_compliance"], np.mean(history["compliance"], axis=0), rtol=1e-9
    )
    assert not hasattr(agg, "_hist")  # no stored history


# -- accounting -----------------------------------------------------------------------------------
def test_profit_is_the_sum_of_its_flows_and_balance_accumulates_profit():
    params = dict(n_firms=6, subsidy=0.3, bargain_rule="compliance", side_payment=0.4)
    model = make_model(enterprise_spec(**EnterpriseEnv(**params).params), n_worlds=3)
    model.reset(seed=11)
    rng = np.random.default_rng(11)
    ctx = model.ctx
    balance = ctx["payoff.balance"].copy()
    for _ in range(40):
        model.advance({"firm": rng.uniform(0, 1, size=(3, 6, 3))})
        output, effort = ctx["firms.output"], ctx["firms.effort"]
        subsidy = ctx["government.subsidy"][:, None] * effort * output
        expected = (
            ctx["firms.operating_profit"]
            - ctx["firms.investment_cost"]
            - 0.3 * effort * output
            + subsidy
            - ctx["payoff.fine"]
            - ctx["government.tax"][:, None]
            + ctx["alliance.transfer"]
        )
        np.testing.assert_allclose(ctx["payoff.profit"], expected, rtol=1e-12, atol=1e-12)
        balance = balance + ctx["payoff.profit"]
        np.testing.assert_allclose(ctx["payoff.balance"], balance, rtol=1e-12)
        fiscal = 6 * ctx["government.tax"] + ctx["payoff.fine"].sum(1) - subsidy.sum(1)
        np.testing.assert_allclose(ctx["payoff.fiscal"], fiscal, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ctx["alliance.transfer"].sum(axis=1), 0.0, atol=1e-12)


def test_compliance_bargain_rule_moves_the_pool_to_compliant_firms():
    env = EnterpriseEnv(n_firms=4, bargain_rule="compliance", side_payment=0.5, **QUIET_MARKET)
    env.reset_arrays(0)
    actions = firm_actions(4, 1.0, 0.0, 1.0)
    actions[2:, 2] = 0.0  # firms 2 and 3 make no compliance effort
    env.step_arrays({"firm": actions})
    transfer = env.model.ctx["alliance.transfer"][0]
    paid = 0.5 * np.maximum(env.model.ctx["firms.operating_profit"][0], 0.0)
    np.testing.assert_allclose(transfer[2:], -paid[2:])
    np.testing.assert_allclose(transfer[:2], paid.sum() / 2 - paid[:2])
    assert transfer[:2].min() > 0


def test_market_clears_at_the_price_signal_when_supply_meets_demand():
    env = EnterpriseEnv(n_firms=3, **QUIET_MARKET)
    env.reset_arrays(0)
    env.step_arrays({"firm": firm_actions(3, 1.0, 0.0, 1.0)})
    ctx = env.model.ctx
    assert ctx["market.price_signal"][0] == pytest.approx(1.0)
    assert ctx["firms.price"][0] == pytest.approx(1.0)  # supply 3 = demand 3 * 100 / 100
    np.testing.assert_allclose(ctx["firms.operating_profit"][0], 1.0 - 0.4)
    env.reset_arrays(0)
    env.step_arrays({"firm": firm_actions(3, 0.5, 0.0, 1.0)})
    assert env.model.ctx["firms.price"][0] == pytest.approx(2 * 3 / (3 + 1.5))


def test_capacity_depreciates_and_grows_with_investment():
    env = EnterpriseEnv(n_firms=2, investment_rate=0.2, depreciation=0.1, capital_price=3.0)
    env.reset_arrays(0)
    actions = firm_actions(2, 1.0, 0.0, 1.0)
    actions[1, 1] = 0.5
    env.step_arrays({"firm": actions})
    ctx = env.model.ctx
    np.testing.assert_allclose(ctx["firms.capacity"][0], [0.9, 0.9 + 0.2 * 0.5])
    np.testing.assert_allclose(ctx["firms.investment_cost"][0], [0.0, 0.5 * 0.2 * 3.0])


def test_full_compliance_is_never_fined():
    env = EnterpriseEnv(n_firms=5, audit_prob=1.0, penalty_intensity=5.0, max_steps=30)
    env.reset_arrays(1)
    for _ in range(30):
        env.step_arrays({"firm": firm_actions(5, 1.0, 0.5, 1.0)})
        assert env.model.ctx["payoff.fine"].sum() == 0.0
        assert env.model.ctx["agg.compliance"][0] == 1.0


def test_without_audits_only_the_leading_firm_pays_the_target_penalty():
    env = EnterpriseEnv(n_firms=4, audit_prob=0.0, audit_intensity=0.0, penalty_intensity=0.7)
    env.reset_arrays(0)
    env.step_arrays({"firm": firm_actions(4, 1.0, 0.0, 0.25)})
    fine = env.model.ctx["payoff.fine"][0]
    np.testing.assert_allclose(fine, [0.7 * 0.75 * 1.0, 0.0, 0.0, 0.0])  # firm_0 leads on ties
    balance = np.array([[3.0, 9.0, -1.0, 9.0]])
    np.testing.assert_array_equal(leader_mask(balance), [[0.0, 1.0, 0.0, 0.0]])


def test_audits_happen_at_the_combined_audit_probability():
    env = EnterpriseEnv(n_firms=50, audit_prob=0.3, audit_intensity=0.2, max_steps=200)
    env.reset_arrays(5)
    audited = []
    for _ in range(200):
        env.step_arrays({"firm": firm_actions(50, 1.0, 0.1, 0.0)})
        audited.append(env.model.ctx["payoff.audited"][0].mean())
    p = 1 - 0.7 * 0.8
    assert env.model.ctx["regime.audit_prob"][0] == pytest.approx(p)
    assert np.mean(audited) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / 10_000))


def test_regime_scales_subsidy_and_penalty_as_in_heas():
    coop = EnterpriseEnv(regime="coop", subsidy=0.4, penalty_rate=0.2)
    directive = EnterpriseEnv(regime="directive", subsidy=0.4, penalty_rate=0.2)
    for env, subsidy, penalty in ((coop, 0.4, 0.1), (directive, 0.2, 0.2)):
        env.reset_arrays(0)
        env.step_arrays(env.heuristic_actions())
        assert env.metrics()["government.subsidy"] == pytest.approx(subsidy)
        assert env.metrics()["government.penalty_rate"] == pytest.approx(penalty)


def test_episode_seed_reaches_the_model_random_generator():
    def demands(seed):
        env = EnterpriseEnv()
        env.reset_arrays(seed)
        out = []
        for _ in range(10):
            env.step_arrays(env.heuristic_actions())
            out.append(env.metrics()["market.demand"])
        return out

    assert demands(7) == demands(7)
    assert demands(7) != demands(8)


# -- the government agent -------------------------------------------------------------------------
def test_government_acts_only_every_period_ticks_and_its_observation_says_when():
    env = EnterpriseEnv(government_agent=True, government_period=3, max_steps=12)
    obs, _ = env.reset_arrays(0)
    assert env.roles == ["government", "firm"]
    rng = np.random.default_rng(0)
    taxes, flags = [], [obs["government"][0, 9]]
    for _ in range(12):
        actions = {"firm": env.heuristic_actions()["firm"]}
        actions["government"] = rng.uniform(0, 1, size=(1, 4)).astype(np.float32)
        out = env.step_arrays(actions)
        taxes.append(env.metrics()["government.tax"])
        flags.append(out.obs["government"][0, 9])
        assert out.rewards["government"][0] == pytest.approx(env.metrics()["agg.welfare"])
    assert taxes[0] != pytest.approx(0.1)  # the government acted on tick 0
    for t in range(1, 12):
        assert (taxes[t] != taxes[t - 1]) == (t % 3 == 0)
    np.testing.assert_array_equal(flags, [float(t % 3 == 0) for t in range(13)])
    gov = env.model.groups["government"][0]
    assert gov.heuristic(np.zeros((1, 10), np.float32))[0, 1] == pytest.approx(0.475)
    mean_tax = env.episode_metrics()["government.mean_tax"]
    assert mean_tax == pytest.approx(np.mean(taxes))  # each setting weighted by ticks held


# -- robustness and size --------------------------------------------------------------------------
def test_no_nan_or_inf_and_observations_in_space_over_10000_random_ticks():
    env = EnterpriseEnv(
        government_agent=True, government_period=7, growth_rate=0.1, shock_amp=2.0, atr=1.0,
        depreciation=0.0, capital_price=0.0, max_steps=10_000,
    )  # fmt: skip
    env.reset_arrays(0)
    env.model.record_trace = False
    rng = np.random.default_rng(0)
    spaces = {r: env.observation_space(f"{r}_0") for r in env.roles}
    for _ in range(10_000):
        out = env.step_arrays(env.random_actions(rng))
        for role, obs in out.obs.items():
            assert np.isfinite(obs).all() and spaces[role].contains(obs[0])
            assert np.isfinite(out.rewards[role]).all()
    assert out.truncated["firm"].all()
    assert all(np.isfinite(v) for v in env.episode_metrics().values())


def test_batched_model_of_four_worlds_steps_independent_worlds():
    model = make_model(
        enterprise_spec(**EnterpriseEnv(n_firms=6, government_agent=True).params), n_worlds=4
    )
    model.reset(seed=0)
    firms, gov = model.groups["firm"][0], model.groups["government"][0]
    for _ in range(20):
        obs_f, obs_g = firms.observe(model.ctx), gov.observe(model.ctx)
        assert obs_f.shape == (4, 6, 15) and obs_g.shape == (4, 1, 10)
        model.advance({"firm": firms.heuristic(obs_f), "government": gov.heuristic(obs_g)})
    assert firms.reward(model.ctx).shape == (4, 6) and gov.reward(model.ctx).shape == (4, 1)
    demand = model.ctx["market.demand"]
    assert len(set(demand.round(9))) == 4  # independent shocks per world
    assert all(v.shape == (4,) for v in model.metrics_step().values())
    assert all(v.shape == (4,) for v in model.metrics_episode().values())


def test_heuristic_firms_earn_more_than_random_firms():
    env = EnterpriseEnv()
    heuristic = [episode_return(env, s, "heuristic")["firm"] for s in range(5)]
    random = [episode_return(env, s, "random")["firm"] for s in range(5)]
    assert np.mean(heuristic) > np.mean(random) + 2.0


def test_heuristic_government_yields_more_welfare_than_a_random_one():
    env = EnterpriseEnv(government_agent=True)
    welfare = {"heuristic": [], "random": []}
    for seed in range(5):
        for policy in welfare:
            env.reset_arrays(seed)
            rng = np.random.default_rng(seed)
            total = 0.0
            for _ in range(env.max_steps):
                actions = env.heuristic_actions()
                if policy == "random":
                    actions["government"] = env.random_actions(rng)["government"]
                total += float(env.step_arrays(actions).rewards["government"][0])
            welfare[policy].append(total)
    assert np.mean(welfare["heuristic"]) > np.mean(welfare["random"])


# -- API and documentation ------------------------------------------------------------------------
@pytest.mark.parametrize("government_agent", [False, True])
def test_pettingzoo_parallel_and_aec_api(government_agent):
    parallel_api_test(EnterpriseEnv(government_agent=government_agent), num_cycles=1000)
    api_test(parallel_to_aec(EnterpriseEnv(government_agent=government_agent)), num_cycles=1000)


def test_documented_args_equal_the_signature():
    doc = EnterpriseEnv.__doc__
    args = re.findall(r"^    (\w+) \(", doc.split("Args:")[1].split("Version history")[0], re.M)
    assert args == list(inspect.signature(EnterpriseEnv.__init__).parameters)[1:]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_firms", 0),
        ("regime", "compete"),
        ("tax", 0.6),
        ("audit_prob", 1.5),
        ("costs", float("nan")),
        ("bargain_rule", "nash"),
        ("government_agent", 1),
        ("government_period", 0),
        ("max_steps", 0),
    ],
)
def test_invalid_parameters_raise_an_error_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        EnterpriseEnv(**{name: value})
