"""Enterprise: firms choose output, investment and compliance under a government and a regulator.

The HEAS paper's enterprise-regulation case study (``heas.experiments.enterprise`` in
``heas==1.0.2``) made into a multi-agent model: the firms' fixed rule there becomes a decision.

| | |
|---|---|
| Id | ``heas_envs/Enterprise-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives one firm) |
| Agents | ``firm_0`` ... ``firm_{n_firms-1}``; ``government_0`` (with ``government_agent=True``) |
| Firm action | ``Box(0, 1, (3,))``: output (share of own capacity), investment (share of the largest investment ``investment_rate``), compliance effort |
| Firm observation | ``Box((15,))``, see below |
| Firm reward | this tick's profit (revenue - production cost - investment - compliance cost + subsidy - fine - tax + alliance transfer), in balance units |
| Government action | ``Box(0, 1, (4,))``: tax / 0.5, audit intensity, subsidy / 0.5, penalty rate / 0.5; applied on ticks that are multiples of ``government_period`` |
| Government observation | ``Box((10,))``, see below |
| Government reward | this tick's welfare (``agg.welfare``) |
| State | every slot's observation, flattened |
| Names | firm action ``output``, ``investment``, ``effort``; government action ``tax``, ``audit_intensity``, ``subsidy``, ``penalty_rate``; observations as in the tables below (the groups' ``observation_names`` and ``action_names``) |

Firm observation (what the firm sees after a tick, before it decides the next one):

| index | name | meaning | range |
|---|---|---|---|
| 0 | ``demand`` | demand per firm, ``demand / 100`` (HEAS's ``demand / 100``), clipped | [0, 100] |
| 1 | ``price`` | market price of the tick, clipped | [0, 10] |
| 2 | ``price_signal`` | price signal of the tick, clipped | [0, 10] |
| 3 | ``capacity`` | own capacity (for the next tick) | [0, 100] |
| 4 | ``balance`` | own balance / 100, clipped | [-100, 100] |
| 5 | ``output_share`` | own share of the tick's total output | [0, 1] |
| 6 | ``tax`` | tax (lump sum per firm and tick) | [0, 0.5] |
| 7 | ``audit_prob`` | audit probability of the tick | [0, 1] |
| 8 | ``subsidy`` | subsidy per unit of compliant output (after the regime) | [0, 0.5] |
| 9 | ``penalty_rate`` | penalty rate (after the regime) | [0, 0.5] |
| 10 | ``leader`` | 1 if the firm leads in balance (the regulator's target next tick) | [0, 1] |
| 11 | ``penalty_intensity`` | ``penalty_intensity`` (the target's extra penalty per unit violation) | [0, 10] |
| 12 | ``alliance`` | 1 if the alliance was active this tick | [0, 1] |
| 13 | ``costs`` | ``costs`` (production cost per unit) | [0, 2] |
| 14 | ``compliance_cost`` | ``compliance_cost`` (per unit of output at full effort) | [0, 2] |

Government observation: 0 ``mean_profit``, mean firm profit of the tick (clipped to
[-10, 10]), 1 ``compliance`` [0, 1], 2 ``welfare`` (clipped to [-10, 10]), 3
``profit_variance``, profit variance so far (clipped to [0, 100]), 4-7 ``tax``,
``audit_intensity``, ``subsidy``, ``penalty_rate``: its current settings as action shares
(tax / 0.5, audit intensity, subsidy / 0.5, penalty / 0.5) [0, 1], 8 ``demand``, demand per
firm (clipped to [0, 100]), 9 ``acts_next``, 1 when its next action is applied (the next
tick is a multiple of ``government_period``).

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 | ``government`` (agent group ``government`` every ``government_period`` ticks, else a fixed policy) | ``agg.mean_profit``, ``agg.compliance``, ``agg.welfare``, ``agg.var_profit``, ``market.demand`` (agent only) | ``policy``, ``tax``, ``audit_intensity``, ``subsidy``, ``penalty_rate`` |
| L1 | ``regime`` (industry regime) | ``government.audit_intensity``, ``payoff.balance`` (last tick) | ``audit_prob``, ``leader``, ``penalty_intensity`` |
| L1 | ``market`` (market signal) | ``firms.output`` (last tick) | ``demand``, ``price_signal``, ``shock`` |
| L2 | ``firms`` (agent group ``firm``) | ``market.demand``, ``market.price_signal``; for observations and rewards ``government.tax``, ``government.subsidy``, ``government.penalty_rate``, ``regime.audit_prob``, ``regime.penalty_intensity``, ``payoff.balance``, ``payoff.profit``, ``alliance.active`` | ``output``, ``capacity``, ``effort``, ``price``, ``operating_profit``, ``investment_cost`` |
| L2 | ``alliance`` (alliance mediator) | ``firms.operating_profit``, ``firms.effort``, ``payoff.balance`` (last tick) | ``active``, ``transfer`` |
| L2 | ``payoff`` (payoff accounting) | ``firms.output``, ``firms.effort``, ``firms.operating_profit``, ``firms.investment_cost``, ``government.tax``, ``government.subsidy``, ``government.penalty_rate``, ``regime.audit_prob``, ``regime.leader``, ``regime.penalty_intensity``, ``alliance.transfer`` | ``profit``, ``balance``, ``fine``, ``audited``, ``fiscal`` |
| L3 | ``agg`` (aggregator) | ``payoff.profit``, ``payoff.fiscal``, ``firms.output``, ``firms.effort``, ``government.audit_intensity`` | ``mean_profit``, ``var_profit``, ``compliance``, ``stability``, ``welfare`` |

Dynamics of tick ``t`` (``n`` firms; firm ``i`` acts ``(q_i, k_i, c_i)``):

- Government (HEAS ``GovernmentPolicy``): the regime scales the subsidy and penalty rate,
  ``coop``: subsidy x 1, penalty x 0.5; ``directive``: subsidy x 0.5, penalty x 1.
- Industry regime (HEAS ``IndustryRegime``): audit probability
  ``p = 1 - (1 - audit_prob) (1 - audit_intensity)`` (the regulator and the government audit
  independently); the target is the firm with the largest balance (the first on ties).
- Market signal (HEAS ``MarketSignal``): ``shock ~ N(0, shock_amp)``,
  ``demand = max(0, base_demand (1 + growth_rate t + shock))``,
  ``price_signal = max(0.1, 1 + atr shock + market_power (HHI - 1/n))`` with ``HHI`` the
  Herfindahl index of last tick's output shares.
- Firms: output ``Y_i = q_i K_i``; the market clears at
  ``P = price_signal * 2 Q / (Q + S)`` with ``Q = n demand / 100`` the quantity demanded and
  ``S = sum Y_i`` (``P = price_signal`` when supply meets demand, at most ``2 price_signal``);
  operating profit ``(P - costs) Y_i``; investment costs ``k_i investment_rate capital_price``
  and capacity becomes ``min(100, (1 - depreciation) K_i + investment_rate k_i)``.
- Alliance (HEAS ``AllianceMediator``): active when ``alliance`` and the firms' total balance
  is positive; each firm pays ``side_payment * max(operating profit, 0)`` into a pool split
  equally (``bargain_rule="equal"``) or in proportion to compliance effort (``"compliance"``).
  Transfers sum to zero.
- Payoff accounting: each firm is audited with probability ``p`` (one uniform draw per firm per
  tick). Violation ``v_i = 1 - c_i``; fine
  ``v_i Y_i (audited_i (1 + penalty_rate) + leader_i penalty_intensity)``; compliance cost
  ``compliance_cost c_i Y_i``; subsidy ``subsidy c_i Y_i``; lump-sum ``tax``. Profit is the
  sum of these flows; ``balance += profit``. ``fiscal`` is the government's net revenue
  (taxes + fines - subsidies).
- Aggregator (HEAS ``AggregatorFirm``), from running sums (Welford for the variance), never
  the stored history: ``mean_profit`` = mean firm profit of the tick; ``var_profit`` = the
  variance of ``mean_profit`` over the ticks so far; ``compliance`` = output-weighted mean
  effort (1 when nothing is produced); ``stability = 1 / (1 + var_profit)``;
  ``welfare = welfare_weight mean_profit + fiscal / n - audit_cost audit_intensity
  - risk_penalty (1 - compliance)``.

Metrics (per tick): ``government.tax``, ``government.audit_intensity``, ``government.subsidy``,
``government.penalty_rate``, ``regime.audit_prob``, ``market.demand``, ``market.price_signal``,
``firms.mean_output``, ``firms.mean_capacity``, ``firms.mean_effort``, ``firms.price``,
``alliance.active``, ``alliance.pooled``, ``payoff.mean_profit``, ``payoff.mean_balance``,
``payoff.fines``, ``payoff.fiscal``, ``agg.mean_profit``, ``agg.var_profit``,
``agg.compliance``, ``agg.stability``, ``agg.welfare``. Per episode: ``government.mean_tax``,
``government.mean_audit_intensity`` (each setting weighted by the ticks it held),
``regime.final_audit_prob``, ``market.final_demand``, ``firms.total_output``,
``alliance.active_share``, ``payoff.final_mean_balance``, ``payoff.total_fines``,
``agg.mean_welfare``, ``agg.mean_profit``, ``agg.var_profit``, ``agg.mean_compliance``,
``agg.stability``.

Heuristics: a firm complies fully when the expected fine per unit of violation
(``p (1 + penalty_rate) + leader penalty_intensity``) is at least the net compliance cost
(``compliance_cost - subsidy``) and not at all otherwise; with ``u`` its unit cost
(production plus the cheaper of compliance and expected fine) it aims at the output that
maximises the firms' joint profit at the observed demand and price signal,
``demand / 100 * (sqrt(2 price_signal / u) - 1)`` per firm (the cartel optimum of the
market-clearing price), produces it as far as capacity allows and invests so that capacity
tracks it. The government keeps tax and subsidy and moves audit intensity and penalty by half
the gap between 0.95 and the observed compliance.

Scenarios: ``SCENARIOS`` holds the 32 scenarios of the paper's grid as in
``heas.experiments.enterprise.make_32_scenarios``: regime x base demand (80, 120) x audit
probability (0.1, 0.4) x number of firms (2, 6) x costs (0.3, 0.5).

Deviations from ``heas==1.0.2`` and why:

- Firms decide (output, investment, compliance effort) instead of the fixed rule
  ``action = max(0, demand / 100 - costs) (1 - 0.02 i)``, compliance ``action >= 0.05``; the
  market clears on their total output so that decisions matter.
- The regimes are ``"coop"`` and ``"directive"`` (the issue's names); HEAS's grid says
  ``"compete"`` and its code treats every regime but ``"coop"`` alike, so the scenarios say
  ``"directive"`` where HEAS says ``"compete"``.
- Audit intensity, subsidy and penalty rate act on the firms (HEAS computes and never uses
  them); audits are drawn, not charged in expectation.
- The market-power term uses output concentration instead of ``0.01 * max balance``, whose
  feedback on prices grows without bound over long episodes.
- ``PayoffAccounting``'s constant ``strategy`` bonus (+2 or -1 per firm per tick),
  ``AllianceRule`` and ``GroupGamingRule`` (constants that only shift metrics) are left out;
  the payoff stream does the firms' accounts instead.
- ``mean_profit`` is the mean profit flow of the tick, not the mean balance (a stock whose
  variance over time mostly measures its trend); welfare adds the government's net fiscal
  revenue and audit cost, so taxes are transfers rather than losses.
- The episode seed reaches the model's random generator; the aggregator keeps running sums.
- HEAS's default ``side_payment`` is 0 (an inert alliance); here it is 0.1.

Version history: v0 (initial release).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core import (
    AgentGroup,
    Context,
    LayerSpec,
    Stream,
    StreamSpec,
    make_model,
)
from heas_envs.core.model import Model
from heas_envs.core.params import MAX_STEPS, ModelParams, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

#: Largest tax, subsidy and penalty rate (the bounds of HEAS's ``ENTERPRISE_SCHEMA`` genes).
MAX_TAX, MAX_SUBSIDY, MAX_PENALTY = 0.5, 0.5, 0.5
DEMAND_UNIT = 100.0  # demand of one firm's unit of output (HEAS: intensity = demand / 100)
MAX_CAPACITY = 100.0
REGIMES = ("coop", "directive")
BARGAIN_RULES = ("equal", "compliance")
#: Regime factors on (subsidy, penalty rate), as in HEAS's ``GovernmentPolicy``.
REGIME_FACTORS = {"coop": (1.0, 0.5), "directive": (0.5, 1.0)}
N_FIRM_OBS, N_GOV_OBS = 15, 10


def effective_policy(shares: np.ndarray, regime: str) -> dict[str, np.ndarray]:
    """Policy values from action shares ``[B, 4]`` (tax, audit, subsidy, penalty) and a regime."""
    shares = np.clip(shares, 0.0, 1.0)
    sub_f, pen_f = REGIME_FACTORS[regime]
    return {
        "tax": shares[:, 0] * MAX_TAX,
        "audit_intensity": shares[:, 1],
        "subsidy": shares[:, 2] * MAX_SUBSIDY * sub_f,
        "penalty_rate": shares[:, 3] * MAX_PENALTY * pen_f,
    }


class GovernmentPolicy(Stream):
    """The government's policy when no agent sets it: constants, scaled by the regime."""

    writes = ("policy", "tax", "audit_intensity", "subsidy", "penalty_rate")

    def __init__(
        self,
        name: str,
        regime: str,
        tax: float,
        audit_intensity: float,
        subsidy: float,
        penalty_rate: float,
    ) -> None:
        super().__init__(name)
        self.regime = regime
        self.initial = np.array(
            [tax / MAX_TAX, audit_intensity, subsidy / MAX_SUBSIDY, penalty_rate / MAX_PENALTY]
        )

    def reset(self, ctx: Context) -> None:
        self._write(ctx, np.tile(self.initial, (ctx.n_worlds, 1)))
        self._held = np.zeros((ctx.n_worlds, 2))  # (tax, audit) x ticks held, up to _since
        self._since = 0

    def set(self, ctx: Context, shares: np.ndarray) -> None:
        """Set the policy from action shares ``[B, 4]`` from this tick on."""
        self._held += self._tax_audit(ctx) * (ctx.tick - self._since)
        self._since = ctx.tick
        self._write(ctx, shares)

    def _write(self, ctx: Context, shares: np.ndarray) -> None:
        self.write(ctx, "policy", np.clip(shares, 0.0, 1.0))
        for k, v in effective_policy(shares, self.regime).items():
            self.write(ctx, k, v)

    def _tax_audit(self, ctx: Context) -> np.ndarray:
        return np.stack([ctx[self.key("tax")], ctx[self.key("audit_intensity")]], axis=1)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {k: ctx[self.key(k)] for k in ("tax", "audit_intensity", "subsidy", "penalty_rate")}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        held = self._held + self._tax_audit(ctx) * (ctx.tick - self._since)
        means = held / max(ctx.tick, 1) if ctx.tick else self._tax_audit(ctx)
        return {"mean_tax": means[:, 0], "mean_audit_intensity": means[:, 1]}


class Government(AgentGroup):
    """A government that sets tax, audit intensity, subsidy and penalty every ``period`` ticks.

    It acts through the same keys as :class:`GovernmentPolicy`; between its decisions the
    policy stays where it put it.
    """

    role = "government"
    reads = ("agg.mean_profit", "agg.compliance", "agg.welfare", "agg.var_profit", "market.demand")
    writes = GovernmentPolicy.writes

    def __init__(
        self,
        name: str,
        period: int,
        regime: str,
        tax: float,
        audit_intensity: float,
        subsidy: float,
        penalty_rate: float,
    ) -> None:
        super().__init__(name, 1)
        self.period = period
        self._policy = GovernmentPolicy(name, regime, tax, audit_intensity, subsidy, penalty_rate)
        self.observation_names = (
            "mean_profit",
            "compliance",
            "welfare",
            "profit_variance",
            "tax",
            "audit_intensity",
            "subsidy",
            "penalty_rate",
            "demand",
            "acts_next",
        )
        self.action_names = ("tax", "audit_intensity", "subsidy", "penalty_rate")
        low = np.array([-10, 0, -10, 0, 0, 0, 0, 0, 0, 0], dtype=np.float32)
        high = np.array([10, 1, 10, 100, 1, 1, 1, 1, 100, 1], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        self._policy.reset(ctx)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        shares = np.asarray(actions, dtype=np.float64).reshape(ctx.n_worlds, 4)
        self._policy.set(ctx, shares)

    def observe(self, ctx: Context) -> np.ndarray:
        b = ctx.n_worlds
        obs = np.empty((b, 1, N_GOV_OBS), dtype=np.float32)
        obs[:, 0, 0] = np.clip(self.read(ctx, "agg.mean_profit"), -10.0, 10.0)
        obs[:, 0, 1] = np.clip(self.read(ctx, "agg.compliance"), 0.0, 1.0)
        obs[:, 0, 2] = np.clip(self.read(ctx, "agg.welfare"), -10.0, 10.0)
        obs[:, 0, 3] = np.clip(self.read(ctx, "agg.var_profit"), 0.0, 100.0)
        obs[:, 0, 4:8] = ctx[self.key("policy")]
        obs[:, 0, 8] = np.clip(self.read(ctx, "market.demand") / DEMAND_UNIT, 0.0, 100.0)
        obs[:, 0, 9] = float(ctx.tick % self.period == 0)
        return obs

    def reward(self, ctx: Context) -> np.ndarray:
        return self.read(ctx, "agg.welfare")[:, None]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Keep tax and subsidy; move audit and penalty by half the compliance gap to 0.95."""
        obs = np.asarray(obs)
        gap = 0.5 * (0.95 - obs[..., 1])
        act = obs[..., 4:8].copy()
        act[..., 1] += gap
        act[..., 3] += gap
        return np.clip(act, 0.0, 1.0).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return self._policy.metrics_step(ctx)

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return self._policy.metrics_episode(ctx)


class IndustryRegime(Stream):
    """The industry regulator: audit probability and the target (the firm with most balance)."""

    reads = ("government.audit_intensity", "payoff.balance")
    writes = ("audit_prob", "leader", "penalty_intensity")

    def __init__(
        self, name: str, n_firms: int, audit_prob: float, penalty_intensity: float
    ) -> None:
        super().__init__(name)
        self.n_firms, self.audit_prob, self.penalty_intensity = (
            n_firms,
            audit_prob,
            penalty_intensity,
        )

    def reset(self, ctx: Context) -> None:
        # The government stream resets first (it precedes this one in layer 1).
        self._update_audit_prob(ctx)
        leader = np.zeros((ctx.n_worlds, self.n_firms))
        leader[:, 0] = 1.0  # equal initial balances: the first firm leads
        self.write(ctx, "leader", leader)
        self.write(ctx, "penalty_intensity", np.full(ctx.n_worlds, self.penalty_intensity))

    def _update_audit_prob(self, ctx: Context) -> None:
        intensity = self.read(ctx, "government.audit_intensity")
        prob = 1.0 - (1.0 - self.audit_prob) * (1.0 - intensity)
        self.write(ctx, "audit_prob", np.clip(prob, 0.0, 1.0))

    def step(self, ctx: Context) -> None:
        self._update_audit_prob(ctx)
        self.write(ctx, "leader", leader_mask(self.read(ctx, "payoff.balance")))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"audit_prob": ctx[self.key("audit_prob")]}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"final_audit_prob": ctx[self.key("audit_prob")]}


def leader_mask(balance: np.ndarray) -> np.ndarray:
    """One-hot ``[B, N]`` of the firm with the largest balance per world (the first on ties)."""
    mask = np.zeros_like(balance, dtype=np.float64)
    np.put_along_axis(mask, np.argmax(balance, axis=1)[:, None], 1.0, axis=1)
    return mask


class MarketSignal(Stream):
    """Demand with linear growth and a normal shock; a price signal with market power."""

    reads = ("firms.output",)
    writes = ("demand", "price_signal", "shock")

    def __init__(
        self,
        name: str,
        n_firms: int,
        base_demand: float,
        shock_amp: float,
        atr: float,
        growth_rate: float,
        market_power: float,
    ) -> None:
        super().__init__(name)
        self.n_firms, self.base_demand, self.shock_amp = n_firms, base_demand, shock_amp
        self.atr, self.growth_rate, self.market_power = atr, growth_rate, market_power

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "demand", np.full(b, self.base_demand))
        self.write(ctx, "price_signal", np.ones(b))
        self.write(ctx, "shock", np.zeros(b))

    def step(self, ctx: Context) -> None:
        shock = self.shock_amp * ctx.rng.standard_normal(ctx.n_worlds)
        demand = np.maximum(0.0, self.base_demand * (1.0 + self.growth_rate * ctx.tick + shock))
        output = self.read(ctx, "firms.output")
        total = output.sum(axis=1)
        shares = output / np.where(total > 0, total, 1.0)[:, None]
        hhi = np.where(total > 0, (shares**2).sum(axis=1), 1.0 / self.n_firms)
        signal = 1.0 + self.atr * shock + self.market_power * (hhi - 1.0 / self.n_firms)
        self.write(ctx, "demand", demand)
        self.write(ctx, "price_signal", np.maximum(0.1, signal))
        self.write(ctx, "shock", shock)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"demand": ctx[self.key("demand")], "price_signal": ctx[self.key("price_signal")]}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"final_demand": ctx[self.key("demand")]}


class Firms(AgentGroup):
    """Firms that choose output, investment and compliance effort; the market clears on output."""

    role = "firm"
    reads = (
        "market.demand",
        "market.price_signal",
        "government.tax",
        "government.subsidy",
        "government.penalty_rate",
        "regime.audit_prob",
        "regime.penalty_intensity",
        "payoff.balance",
        "payoff.profit",
        "alliance.active",
    )
    writes = ("output", "capacity", "effort", "price", "operating_profit", "investment_cost")

    def __init__(
        self,
        name: str,
        n_agents: int,
        costs: float,
        compliance_cost: float,
        investment_rate: float,
        depreciation: float,
        capital_price: float,
    ) -> None:
        super().__init__(name, n_agents)
        self.costs, self.compliance_cost = costs, compliance_cost
        self.investment_rate, self.depreciation = investment_rate, depreciation
        self.capital_price = capital_price
        low = np.zeros(N_FIRM_OBS, dtype=np.float32)
        low[4] = -100.0
        high = np.array(
            [
                100,
                10,
                10,
                MAX_CAPACITY,
                100,
                1,
                MAX_TAX,
                1,
                MAX_SUBSIDY,
                MAX_PENALTY,
                1,
                10,
                1,
                2,
                2,
            ],
            dtype=np.float32,
        )
        self.observation_names = (
            "demand",
            "price",
            "price_signal",
            "capacity",
            "balance",
            "output_share",
            "tax",
            "audit_prob",
            "subsidy",
            "penalty_rate",
            "leader",
            "penalty_intensity",
            "alliance",
            "costs",
            "compliance_cost",
        )
        self.action_names = ("output", "investment", "effort")
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        self.write(ctx, "output", np.zeros((b, n)))
        self.write(ctx, "capacity", np.ones((b, n)))
        self.write(ctx, "effort", np.ones((b, n)))
        self.write(ctx, "price", np.ones(b))
        self.write(ctx, "operating_profit", np.zeros((b, n)))
        self.write(ctx, "investment_cost", np.zeros((b, n)))
        self._total_output = np.zeros(b)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        act = np.clip(np.asarray(actions, dtype=np.float64).reshape(b, n, 3), 0.0, 1.0)
        output_share, invest, effort = act[..., 0], act[..., 1], act[..., 2]
        capacity = ctx[self.key("capacity")]
        output = output_share * capacity
        supply = output.sum(axis=1)
        wanted = n * self.read(ctx, "market.demand") / DEMAND_UNIT
        cleared = wanted + supply
        ratio = np.divide(2.0 * wanted, cleared, out=np.zeros(b), where=cleared > 0)
        price = self.read(ctx, "market.price_signal") * ratio
        new_capacity = (1.0 - self.depreciation) * capacity + self.investment_rate * invest
        self.write(ctx, "output", output)
        self.write(ctx, "capacity", np.clip(new_capacity, 0.0, MAX_CAPACITY))
        self.write(ctx, "effort", effort)
        self.write(ctx, "price", price)
        self.write(ctx, "operating_profit", (price[:, None] - self.costs) * output)
        self.write(ctx, "investment_cost", invest * self.investment_rate * self.capital_price)
        self._total_output += supply

    def observe(self, ctx: Context) -> np.ndarray:
        b, n = ctx.n_worlds, self.n_agents
        output = ctx[self.key("output")]
        total = output.sum(axis=1, keepdims=True)
        balance = self.read(ctx, "payoff.balance")
        obs = np.empty((b, n, N_FIRM_OBS), dtype=np.float32)
        obs[..., 0] = np.clip(self.read(ctx, "market.demand") / DEMAND_UNIT, 0.0, 100.0)[:, None]
        obs[..., 1] = np.clip(ctx[self.key("price")], 0.0, 10.0)[:, None]
        obs[..., 2] = np.clip(self.read(ctx, "market.price_signal"), 0.0, 10.0)[:, None]
        obs[..., 3] = ctx[self.key("capacity")]
        obs[..., 4] = np.clip(balance / 100.0, -100.0, 100.0)
        obs[..., 5] = np.divide(output, total, out=np.zeros((b, n)), where=total > 0)
        obs[..., 6] = self.read(ctx, "government.tax")[:, None]
        obs[..., 7] = self.read(ctx, "regime.audit_prob")[:, None]
        obs[..., 8] = self.read(ctx, "government.subsidy")[:, None]
        obs[..., 9] = self.read(ctx, "government.penalty_rate")[:, None]
        obs[..., 10] = leader_mask(balance)
        obs[..., 11] = self.read(ctx, "regime.penalty_intensity")[:, None]
        obs[..., 12] = self.read(ctx, "alliance.active")[:, None]
        obs[..., 13] = self.costs
        obs[..., 14] = self.compliance_cost
        return obs

    def reward(self, ctx: Context) -> np.ndarray:
        return self.read(ctx, "payoff.profit")

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Comply when it is cheaper than the expected fine; produce the joint-profit output.

        The output target per firm is the one that maximises the firms' joint profit at the
        observed demand and price signal (``demand * (sqrt(2 signal / unit_cost) - 1)``, the
        cartel optimum of the market-clearing price); capacity is steered towards it.
        """
        obs = np.asarray(obs, dtype=np.float64)
        demand, signal, capacity = obs[..., 0], obs[..., 2], obs[..., 3]
        audit, subsidy, penalty = obs[..., 7], obs[..., 8], obs[..., 9]
        leader, intensity = obs[..., 10], obs[..., 11]
        costs, compliance_cost = obs[..., 13], obs[..., 14]
        expected_fine = audit * (1.0 + penalty) + leader * intensity
        net_compliance = compliance_cost - subsidy
        comply = expected_fine >= net_compliance
        unit_cost = np.maximum(costs + np.where(comply, net_compliance, expected_fine), 1e-6)
        ratio = np.sqrt(2.0 * signal / unit_cost) - 1.0  # joint-profit supply / demand
        target = demand * np.clip(ratio, 0.0, MAX_CAPACITY)
        output_share = np.divide(target, capacity, out=np.ones_like(target), where=capacity > 0)
        invest = (target - (1.0 - self.depreciation) * capacity) / self.investment_rate
        act = np.stack([np.clip(output_share, 0.0, 1.0), np.clip(invest, 0.0, 1.0), comply], -1)
        return act.astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_output": ctx[self.key("output")].mean(axis=1),
            "mean_capacity": ctx[self.key("capacity")].mean(axis=1),
            "mean_effort": ctx[self.key("effort")].mean(axis=1),
            "price": ctx[self.key("price")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"total_output": self._total_output.copy()}


class AllianceMediator(Stream):
    """Pools a share of the firms' positive operating profit while their total balance is > 0."""

    reads = ("firms.operating_profit", "firms.effort", "payoff.balance")
    writes = ("active", "transfer")

    def __init__(
        self, name: str, n_firms: int, alliance: bool, bargain_rule: str, side_payment: float
    ) -> None:
        super().__init__(name)
        self.n_firms, self.alliance = n_firms, alliance
        self.bargain_rule, self.side_payment = bargain_rule, side_payment

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "active", np.zeros(ctx.n_worlds))
        self.write(ctx, "transfer", np.zeros((ctx.n_worlds, self.n_firms)))
        self._active_ticks = np.zeros(ctx.n_worlds)
        self._ticks = 0

    def step(self, ctx: Context) -> None:
        balance = self.read(ctx, "payoff.balance")
        active = (balance.sum(axis=1) > 0) & self.alliance
        paid = self.side_payment * np.maximum(self.read(ctx, "firms.operating_profit"), 0.0)
        pool = paid.sum(axis=1, keepdims=True)
        if self.bargain_rule == "compliance":
            effort = self.read(ctx, "firms.effort")
            total = effort.sum(axis=1, keepdims=True)
            weights = np.where(
                total > 0, effort / np.where(total > 0, total, 1.0), 1 / self.n_firms
            )
        else:
            weights = np.full_like(paid, 1.0 / self.n_firms)
        transfer = np.where(active[:, None], pool * weights - paid, 0.0)
        self.write(ctx, "active", active.astype(np.float64))
        self.write(ctx, "transfer", transfer)
        self._active_ticks += active
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        transfer = ctx[self.key("transfer")]
        return {"active": ctx[self.key("active")], "pooled": np.maximum(transfer, 0.0).sum(axis=1)}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"active_share": self._active_ticks / max(self._ticks, 1)}


class PayoffAccounting(Stream):
    """The firms' accounts: audits, fines, compliance cost, subsidy, tax, transfers, balance."""

    reads = (
        "firms.output",
        "firms.effort",
        "firms.operating_profit",
        "firms.investment_cost",
        "government.tax",
        "government.subsidy",
        "government.penalty_rate",
        "regime.audit_prob",
        "regime.leader",
        "regime.penalty_intensity",
        "alliance.transfer",
    )
    writes = ("profit", "balance", "fine", "audited", "fiscal")

    def __init__(
        self, name: str, n_firms: int, compliance_cost: float, initial_balance: float
    ) -> None:
        super().__init__(name)
        self.n_firms, self.compliance_cost = n_firms, compliance_cost
        self.initial_balance = initial_balance

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_firms
        self.write(ctx, "profit", np.zeros((b, n)))
        self.write(ctx, "balance", np.full((b, n), self.initial_balance))
        self.write(ctx, "fine", np.zeros((b, n)))
        self.write(ctx, "audited", np.zeros((b, n)))
        self.write(ctx, "fiscal", np.zeros(b))
        self._total_fines = np.zeros(b)

    def step(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_firms
        output = self.read(ctx, "firms.output")
        effort = self.read(ctx, "firms.effort")
        violation = (1.0 - effort) * output
        audited = ctx.rng.random((b, n)) < self.read(ctx, "regime.audit_prob")[:, None]
        surcharge = 1.0 + self.read(ctx, "government.penalty_rate")[:, None]
        target = (
            self.read(ctx, "regime.leader") * self.read(ctx, "regime.penalty_intensity")[:, None]
        )
        fine = violation * (audited * surcharge + target)
        subsidy = self.read(ctx, "government.subsidy")[:, None] * effort * output
        tax = self.read(ctx, "government.tax")
        profit = (
            self.read(ctx, "firms.operating_profit")
            - self.read(ctx, "firms.investment_cost")
            - self.compliance_cost * effort * output
            + subsidy
            - fine
            - tax[:, None]
            + self.read(ctx, "alliance.transfer")
        )
        self.write(ctx, "profit", profit)
        self.write(ctx, "balance", ctx[self.key("balance")] + profit)
        self.write(ctx, "fine", fine)
        self.write(ctx, "audited", audited.astype(np.float64))
        self.write(ctx, "fiscal", n * tax + fine.sum(axis=1) - subsidy.sum(axis=1))
        self._total_fines += fine.sum(axis=1)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_profit": ctx[self.key("profit")].mean(axis=1),
            "mean_balance": ctx[self.key("balance")].mean(axis=1),
            "fines": ctx[self.key("fine")].sum(axis=1),
            "fiscal": ctx[self.key("fiscal")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "final_mean_balance": ctx[self.key("balance")].mean(axis=1),
            "total_fines": self._total_fines.copy(),
        }


class Aggregator(Stream):
    """Welfare, profit variance, compliance and stability from running sums (Welford).

    Nothing is stored per tick: the variance of the per-tick mean profit is updated with
    Welford's algorithm, the episode means with running sums.
    """

    reads = (
        "payoff.profit",
        "payoff.fiscal",
        "firms.output",
        "firms.effort",
        "government.audit_intensity",
    )
    writes = ("mean_profit", "var_profit", "compliance", "stability", "welfare")

    def __init__(
        self,
        name: str,
        n_firms: int,
        welfare_weight: float,
        risk_penalty: float,
        audit_cost: float,
    ) -> None:
        super().__init__(name)
        self.n_firms, self.welfare_weight = n_firms, welfare_weight
        self.risk_penalty, self.audit_cost = risk_penalty, audit_cost

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "mean_profit", np.zeros(b))
        self.write(ctx, "var_profit", np.zeros(b))
        self.write(ctx, "compliance", np.ones(b))
        self.write(ctx, "stability", np.ones(b))
        self.write(ctx, "welfare", np.zeros(b))
        self._count = 0
        self._mean = np.zeros(b)  # Welford: running mean and sum of squared deviations
        self._m2 = np.zeros(b)
        self._sum_welfare = np.zeros(b)
        self._sum_compliance = np.zeros(b)

    def step(self, ctx: Context) -> None:
        mean_profit = self.read(ctx, "payoff.profit").mean(axis=1)
        output = self.read(ctx, "firms.output")
        total = output.sum(axis=1)
        compliant = (self.read(ctx, "firms.effort") * output).sum(axis=1)
        compliance = np.divide(compliant, total, out=np.ones_like(total), where=total > 0)
        welfare = (
            self.welfare_weight * mean_profit
            + self.read(ctx, "payoff.fiscal") / self.n_firms
            - self.audit_cost * self.read(ctx, "government.audit_intensity")
            - self.risk_penalty * (1.0 - compliance)
        )
        self._count += 1
        delta = mean_profit - self._mean
        self._mean = self._mean + delta / self._count
        self._m2 = self._m2 + delta * (mean_profit - self._mean)
        var = self._m2 / self._count
        self._sum_welfare += welfare
        self._sum_compliance += compliance
        self.write(ctx, "mean_profit", mean_profit)
        self.write(ctx, "var_profit", var)
        self.write(ctx, "compliance", compliance)
        self.write(ctx, "stability", 1.0 / (1.0 + var))
        self.write(ctx, "welfare", welfare)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {k: ctx[self.key(k)] for k in self.writes}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._count, 1)
        return {
            "mean_welfare": self._sum_welfare / ticks,
            "mean_profit": self._mean.copy(),
            "var_profit": ctx[self.key("var_profit")],
            "mean_compliance": self._sum_compliance / ticks,
            "stability": ctx[self.key("stability")],
        }


def enterprise_spec(
    *,
    n_firms: int,
    regime: str,
    tax: float,
    audit_intensity: float,
    subsidy: float,
    penalty_rate: float,
    audit_prob: float,
    penalty_intensity: float,
    base_demand: float,
    shock_amp: float,
    atr: float,
    growth_rate: float,
    market_power: float,
    costs: float,
    compliance_cost: float,
    investment_rate: float,
    depreciation: float,
    capital_price: float,
    initial_balance: float,
    alliance: bool,
    bargain_rule: str,
    side_payment: float,
    welfare_weight: float,
    risk_penalty: float,
    audit_cost: float,
    government_agent: bool,
    government_period: int,
) -> list[LayerSpec]:
    """The layer specs of the enterprise model (parameters as in :class:`EnterpriseEnv`)."""
    policy = dict(
        regime=regime,
        tax=tax,
        audit_intensity=audit_intensity,
        subsidy=subsidy,
        penalty_rate=penalty_rate,
    )
    if government_agent:
        government = StreamSpec("government", Government, dict(period=government_period, **policy))
    else:
        government = StreamSpec("government", GovernmentPolicy, policy)
    regime_params = dict(
        n_firms=n_firms, audit_prob=audit_prob, penalty_intensity=penalty_intensity
    )
    market_params = dict(
        n_firms=n_firms,
        base_demand=base_demand,
        shock_amp=shock_amp,
        atr=atr,
        growth_rate=growth_rate,
        market_power=market_power,
    )
    firm_params = dict(
        n_agents=n_firms,
        costs=costs,
        compliance_cost=compliance_cost,
        investment_rate=investment_rate,
        depreciation=depreciation,
        capital_price=capital_price,
    )
    alliance_params = dict(
        n_firms=n_firms, alliance=alliance, bargain_rule=bargain_rule, side_payment=side_payment
    )
    payoff_params = dict(
        n_firms=n_firms, compliance_cost=compliance_cost, initial_balance=initial_balance
    )
    agg_params = dict(
        n_firms=n_firms,
        welfare_weight=welfare_weight,
        risk_penalty=risk_penalty,
        audit_cost=audit_cost,
    )
    return [
        LayerSpec(
            [
                government,
                StreamSpec("regime", IndustryRegime, regime_params),
                StreamSpec("market", MarketSignal, market_params),
            ],
            name="L1 policy and market",
        ),
        LayerSpec(
            [
                StreamSpec("firms", Firms, firm_params),
                StreamSpec("alliance", AllianceMediator, alliance_params),
                StreamSpec("payoff", PayoffAccounting, payoff_params),
            ],
            name="L2 firms",
        ),
        LayerSpec([StreamSpec("agg", Aggregator, agg_params)], name="L3 aggregate"),
    ]


@dataclass(frozen=True, kw_only=True)
class EnterpriseParams(ModelParams):
    """The enterprise model's parameters (the keyword arguments of :class:`EnterpriseEnv`)."""

    n_firms: int = param(
        4,
        1,
        1_000_000,
        "Number of firms (HEAS ``firm_count``)",
        why="a million firms take about 1.7 GiB at reset and step; more need more than this "
        "machine's memory",
    )
    regime: str = param("coop", doc="Government regime", choices=REGIMES)
    tax: float = param(
        0.1,
        0.0,
        MAX_TAX,
        "Lump-sum tax per firm and tick (the initial one with a government)",
    )
    audit_intensity: float = param(0.2, 0.0, 1.0, "The government's audit intensity")
    subsidy: float = param(
        0.0, 0.0, MAX_SUBSIDY, "Subsidy per unit of compliant output before the regime factor"
    )
    penalty_rate: float = param(
        0.1, 0.0, MAX_PENALTY, "Fine surcharge rate before the regime factor"
    )
    audit_prob: float = param(0.2, 0.0, 1.0, "The industry regulator's audit probability")
    penalty_intensity: float = param(
        0.3, 0.0, 10.0, "Extra fine per unit violation for the leading firm"
    )
    base_demand: float = param(
        100.0, 0.0, 10_000.0, "Demand at tick 0 without shock (100 = one unit per firm)"
    )
    shock_amp: float = param(0.2, 0.0, 2.0, "Standard deviation of the demand shock")
    atr: float = param(0.1, 0.0, 1.0, "Effect of the shock on the price signal")
    growth_rate: float = param(0.02, -0.1, 0.1, "Linear demand growth per tick")
    market_power: float = param(0.2, 0.0, 1.0, "Effect of output concentration on the price signal")
    costs: float = param(0.4, 0.0, 2.0, "Production cost per unit of output")
    compliance_cost: float = param(
        0.3, 0.0, 2.0, "Cost per unit of output at full compliance effort"
    )
    investment_rate: float = param(0.1, 0.001, 1.0, "Capacity added per tick at full investment")
    depreciation: float = param(0.05, 0.0, 1.0, "Share of capacity lost per tick")
    capital_price: float = param(2.0, 0.0, 100.0, "Price of one unit of capacity")
    initial_balance: float = param(1.0, -1000.0, 1000.0, "Balance of every firm at tick 0")
    alliance: bool = param(True, doc="Whether firms may form the alliance (HEAS ``alliance_rule``)")
    bargain_rule: str = param("equal", doc="How the alliance pool is split", choices=BARGAIN_RULES)
    side_payment: float = param(
        0.1, 0.0, 1.0, "Share of positive operating profit paid into the alliance pool"
    )
    welfare_weight: float = param(1.0, 0.0, 10.0, "Weight of mean firm profit in welfare")
    risk_penalty: float = param(0.2, 0.0, 10.0, "Welfare cost of full non-compliance")
    audit_cost: float = param(0.1, 0.0, 10.0, "Welfare cost per firm of full audit intensity")
    government_agent: bool = param(
        False, doc="Whether a government agent sets the policy (else it stays fixed)"
    )
    government_period: int = param(5, 1, 1_000_000, "Ticks between the government's decisions")
    max_steps: int = param(50, 1, MAX_STEPS, "Ticks per episode (truncation); HEAS runs 50")


class EnterpriseEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "enterprise_v0"}
    Params = EnterpriseParams

    def build_model(self, params: EnterpriseParams, n_worlds: int = 1) -> Model:
        """The enterprise model for validated ``params``."""
        return make_model(enterprise_spec(**params.model_kwargs()), n_worlds)


def _scenario_name(regime: str, demand: float, audit: float, firms: int, costs: float) -> str:
    level = {80.0: "lowdemand", 120.0: "highdemand", 0.1: "lowaudit", 0.4: "highaudit"}
    cost = "lowcost" if costs == 0.3 else "highcost"
    return f"{regime}-{level[demand]}-{level[audit]}-{firms}firms-{cost}"


#: The paper's 32 scenarios (``make_32_scenarios`` of ``heas.experiments.enterprise``):
#: regime x base_demand x audit_prob x n_firms x costs, each a dict of ``EnterpriseEnv``
#: keyword arguments plus ``"name"``.
SCENARIOS: list[dict[str, Any]] = [
    {
        "name": _scenario_name(regime, demand, audit, firms, costs),
        "regime": regime,
        "base_demand": demand,
        "audit_prob": audit,
        "n_firms": firms,
        "costs": costs,
    }
    for regime, demand, audit, firms, costs in itertools.product(
        REGIMES, (80.0, 120.0), (0.1, 0.4), (2, 6), (0.3, 0.5)
    )
]


parallel_env, raw_env = pettingzoo_constructors(EnterpriseEnv)
env = raw_env
__doc__ = EnterpriseEnv.__doc__  # with the Args: section generated from the declaration
