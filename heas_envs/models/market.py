"""Market: traders on a price process with price impact, under a regulator's transaction tax.

The HEAS quickstart (a price producer and a trading policy) grown into a multi-agent model.

| | |
|---|---|
| Id | ``heas_envs/Market-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives one trader) |
| Agents | ``trader_0`` ... ``trader_{n_traders-1}``; ``regulator_0`` (with ``regulator=True``) |
| Trader action | ``Box(-1, 1, (1,))``: ``trade``, change of position, times ``max_trade`` |
| Trader observation | ``Box((window + 3,))``: ``return_lag_{window}`` ... ``return_lag_1``, the last ``window`` log returns, oldest first (clipped to [-1, 1]); ``position``, own position / ``max_position``; ``profit``, own profit / ``start_price`` (clipped to [-1000, 1000]); ``tax``, tax / ``max_tax`` |
| Trader reward | change of marked-to-market profit minus trading costs and tax, in units of ``start_price`` |
| Regulator action | ``Box(0, 1, (1,))``: ``tax``, transaction tax, times ``max_tax``; applied every ``regulator_period`` ticks |
| Regulator observation | ``Box((5,))``: ``volatility``, realised volatility / ``vol_target`` (clipped to [0, 10]); ``volume``, volume / (``n_traders`` * ``max_trade``); ``tax``, tax / ``max_tax``; ``order_flow``, net order flow / (``n_traders`` * ``max_trade``); ``acts_now``, 1 on ticks where its action is applied |
| Regulator reward | tax revenue / ``start_price`` minus ``stability_weight`` * abs(log return) |
| State | every slot's observation, flattened |
| Names | the ``code`` names above, in order, are the groups' ``observation_names`` and ``action_names`` |

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 | ``price`` (price process) | ``traders.flow`` (last tick) | ``price``, ``log_return``, ``returns`` |
| L2 | ``traders`` (agent group ``trader``) | ``price.price``, ``price.returns``, ``regulator.tax`` | ``position``, ``pnl``, ``flow``, ``volume``, ``tax_paid``, ``reward`` |
| L3 | ``regulator`` (agent group ``regulator``, every ``regulator_period`` ticks; a fixed tax without it) | ``price.returns``, ``price.log_return``, ``traders.volume``, ``traders.flow``, ``traders.tax_paid`` | ``tax`` |
| L3 | ``metrics`` (aggregator) | ``price.price``, ``price.log_return``, ``traders.pnl``, ``traders.volume`` | ``volatility`` |

Price process: ``log p_t = log p_{t-1} + drift + volatility * eps_t + impact * f_{t-1}`` with
``eps_t`` standard normal and ``f_{t-1}`` last tick's net order flow per trader in units of
``max_trade`` (in [-1, 1]). The price is held within ``start_price * [1e-4, 1e4]`` (a circuit
breaker) so that long episodes stay finite.

Traders trade at this tick's price: the position change is clipped to ``[-max_position,
max_position]``; the profit of a tick is last position times the price change minus
``(cost + tax) * |trade| * price``.

Metrics (per tick): ``price.price``, ``price.log_return``, ``traders.mean_position``,
``traders.mean_pnl``, ``traders.volume``, ``regulator.tax``, ``metrics.volatility`` (EWMA of
squared log returns, square-rooted). Per episode: ``price.final_price``,
``traders.mean_final_pnl``, ``traders.total_volume``, ``regulator.mean_tax``,
``metrics.mean_volatility``.

Heuristics: traders follow momentum (``clip(20 * sum(recent returns), -1, 1)``); the regulator
raises the tax in proportion to how far realised volatility exceeds ``vol_target``.

Version history: v0 (initial release).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from heas_envs.core import AgentGroup, Context, LayerSpec, Model, Stream, StreamSpec, make_model
from heas_envs.core.params import MAX_STEPS, ModelParams, check_float, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

PNL_CLIP = 1e3  # observed profit (in units of start_price) is clipped to +-PNL_CLIP
PRICE_BAND = 1e4  # circuit breaker: the price stays within start_price * [1/PRICE_BAND, PRICE_BAND]


class PriceProcess(Stream):
    """Log price with drift, noise and the impact of last tick's net order flow."""

    reads = ("traders.flow",)
    writes = ("price", "log_return", "returns")

    def __init__(
        self,
        name: str,
        start_price: float,
        drift: float,
        volatility: float,
        impact: float,
        window: int,
    ) -> None:
        super().__init__(name)
        self.start_price, self.drift, self.volatility = start_price, drift, volatility
        self.impact, self.window = impact, window

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "price", np.full(b, self.start_price))
        self.write(ctx, "log_return", np.zeros(b))
        self.write(ctx, "returns", np.zeros((b, self.window)))
        self._sum_sq = np.zeros(b)

    def step(self, ctx: Context) -> None:
        price = ctx[self.key("price")]
        flow = self.read(ctx, "traders.flow")
        shock = ctx.rng.standard_normal(ctx.n_worlds)
        log_p = np.log(price) + self.drift + self.volatility * shock + self.impact * flow
        lo, hi = np.log(self.start_price / PRICE_BAND), np.log(self.start_price * PRICE_BAND)
        new = np.exp(np.clip(log_p, lo, hi))
        ret = np.log(new / price)
        returns = ctx[self.key("returns")]
        self.write(ctx, "price", new)
        self.write(ctx, "log_return", ret)
        self.write(ctx, "returns", np.concatenate([returns[:, 1:], ret[:, None]], axis=1))
        self._sum_sq += ret**2

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"price": ctx[self.key("price")], "log_return": ctx[self.key("log_return")]}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"final_price": ctx[self.key("price")]}


class Traders(AgentGroup):
    """Traders that change their positions; profit is marked to market every tick."""

    role = "trader"
    reads = ("price.price", "price.returns", "regulator.tax")
    writes = ("position", "pnl", "flow", "volume", "tax_paid", "reward")

    def __init__(
        self,
        name: str,
        n_agents: int,
        start_price: float,
        max_trade: float,
        max_position: float,
        cost: float,
        max_tax: float,
        window: int,
    ) -> None:
        super().__init__(name, n_agents)
        self.start_price, self.max_trade, self.max_position = start_price, max_trade, max_position
        self.cost, self.max_tax, self.window = cost, max_tax, window
        self.observation_names = (
            *(f"return_lag_{window - i}" for i in range(window)),
            "position",
            "profit",
            "tax",
        )
        self.action_names = ("trade",)
        low = np.array([-1.0] * window + [-1.0, -PNL_CLIP, 0.0], dtype=np.float32)
        high = np.array([1.0] * window + [1.0, PNL_CLIP, 1.0], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        self.write(ctx, "position", np.zeros((b, n)))
        self.write(ctx, "pnl", np.zeros((b, n)))
        self.write(ctx, "flow", np.zeros(b))
        self.write(ctx, "volume", np.zeros(b))
        self.write(ctx, "tax_paid", np.zeros(b))
        self.write(ctx, "reward", np.zeros((b, n)))
        self._mark = np.full(b, self.start_price)
        self._total_volume = np.zeros(b)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        price = self.read(ctx, "price.price")
        tax = self.read(ctx, "regulator.tax")
        position = ctx[self.key("position")]
        wanted = (
            position
            + np.asarray(actions, dtype=np.float64).reshape(position.shape) * self.max_trade
        )
        new_position = np.clip(wanted, -self.max_position, self.max_position)
        trade = np.abs(new_position - position)
        gain = position * (price - self._mark)[:, None]
        fees = (self.cost + tax)[:, None] * trade * price[:, None]
        change = gain - fees
        self._mark = price.copy()
        self.write(ctx, "position", new_position)
        self.write(ctx, "pnl", ctx[self.key("pnl")] + change)
        self.write(
            ctx, "flow", (new_position - position).sum(axis=1) / (self.n_agents * self.max_trade)
        )
        volume = trade.sum(axis=1)
        self.write(ctx, "volume", volume)
        self.write(ctx, "tax_paid", tax * volume * price)
        self.write(ctx, "reward", change / self.start_price)
        self._total_volume += volume

    def observe(self, ctx: Context) -> np.ndarray:
        b, n = ctx.n_worlds, self.n_agents
        returns = np.clip(self.read(ctx, "price.returns"), -1.0, 1.0)
        tax = self.read(ctx, "regulator.tax") / self.max_tax if self.max_tax > 0 else np.zeros(b)
        obs = np.empty((b, n, self.window + 3), dtype=np.float32)
        obs[:, :, : self.window] = returns[:, None, :]
        obs[:, :, self.window] = ctx[self.key("position")] / self.max_position
        obs[:, :, self.window + 1] = np.clip(
            ctx[self.key("pnl")] / self.start_price, -PNL_CLIP, PNL_CLIP
        )
        obs[:, :, self.window + 2] = np.clip(tax, 0.0, 1.0)[:, None]
        return obs

    def reward(self, ctx: Context) -> np.ndarray:
        return ctx[self.key("reward")]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Momentum: buy after rises, sell after falls."""
        momentum = obs[..., : self.window].sum(axis=-1, keepdims=True)
        return np.clip(20.0 * momentum, -1.0, 1.0).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_position": ctx[self.key("position")].mean(axis=1),
            "mean_pnl": ctx[self.key("pnl")].mean(axis=1),
            "volume": ctx[self.key("volume")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_final_pnl": ctx[self.key("pnl")].mean(axis=1),
            "total_volume": self._total_volume,
        }


class Regulator(AgentGroup):
    """A regulator that sets the transaction tax every ``period`` ticks."""

    role = "regulator"
    reads = (
        "price.returns",
        "price.log_return",
        "traders.volume",
        "traders.flow",
        "traders.tax_paid",
    )
    writes = ("tax",)

    def __init__(
        self,
        name: str,
        period: int,
        tax: float,
        max_tax: float,
        n_traders: int,
        max_trade: float,
        start_price: float,
        vol_target: float,
        stability_weight: float,
    ) -> None:
        super().__init__(name, 1)
        self.period, self.initial_tax, self.max_tax = period, tax, max_tax
        self.capacity = n_traders * max_trade
        self.start_price, self.vol_target, self.stability_weight = (
            start_price,
            vol_target,
            stability_weight,
        )
        self.observation_names = ("volatility", "volume", "tax", "order_flow", "acts_now")
        self.action_names = ("tax",)
        self.observation_space = spaces.Box(
            np.array([0, 0, 0, -1, 0], dtype=np.float32),
            np.array([10, 1, 1, 1, 1], dtype=np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "tax", np.full(ctx.n_worlds, self.initial_tax))
        self._tax_sum = np.zeros(ctx.n_worlds)
        self._ticks = 0

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        share = np.asarray(actions, dtype=np.float64).reshape(ctx.n_worlds)
        self.write(ctx, "tax", np.clip(share, 0.0, 1.0) * self.max_tax)

    def observe(self, ctx: Context) -> np.ndarray:
        vol = self.read(ctx, "price.returns").std(axis=1) / self.vol_target
        obs = np.stack(
            [
                np.clip(vol, 0.0, 10.0),
                self.read(ctx, "traders.volume") / self.capacity,
                ctx[self.key("tax")] / self.max_tax if self.max_tax > 0 else np.zeros(ctx.n_worlds),
                self.read(ctx, "traders.flow"),
                np.full(ctx.n_worlds, float(ctx.tick % self.period == 0)),
            ],
            axis=1,
        )
        return obs[:, None, :].astype(np.float32)

    def reward(self, ctx: Context) -> np.ndarray:
        revenue = self.read(ctx, "traders.tax_paid") / self.start_price
        instability = self.stability_weight * np.abs(self.read(ctx, "price.log_return"))
        return (revenue - instability)[:, None]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Tax in proportion to how far volatility exceeds the target (obs[0] = vol / target)."""
        return np.clip(obs[..., :1] - 1.0, 0.0, 1.0).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"tax": ctx[self.key("tax")]}


class FixedTax(Stream):
    """The tax when no regulator agent acts: a constant."""

    writes = ("tax",)

    def __init__(self, name: str, tax: float) -> None:
        super().__init__(name)
        self.tax = tax

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "tax", np.full(ctx.n_worlds, self.tax))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"tax": ctx[self.key("tax")]}


class MarketMetrics(Stream):
    """Aggregate metrics of the market, updated incrementally every tick."""

    reads = ("price.log_return",)
    writes = ("volatility",)

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "volatility", np.zeros(ctx.n_worlds))
        self._sum = np.zeros(ctx.n_worlds)
        self._ticks = 0

    def step(self, ctx: Context) -> None:
        ret = self.read(ctx, "price.log_return")
        var = 0.9 * ctx[self.key("volatility")] ** 2 + 0.1 * ret**2
        self.write(ctx, "volatility", np.sqrt(var))
        self._sum += np.sqrt(var)
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"volatility": ctx[self.key("volatility")]}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"mean_volatility": self._sum / max(self._ticks, 1)}


def market_spec(
    *,
    n_traders: int,
    start_price: float,
    drift: float,
    volatility: float,
    impact: float,
    max_trade: float,
    max_position: float,
    cost: float,
    window: int,
    regulator: bool,
    regulator_period: int,
    tax: float,
    max_tax: float,
    vol_target: float,
    stability_weight: float,
) -> list[LayerSpec]:
    """The market's layer specs (parameters as in :class:`MarketEnv`, validated there)."""
    price = StreamSpec(
        "price",
        PriceProcess,
        dict(
            start_price=start_price,
            drift=drift,
            volatility=volatility,
            impact=impact,
            window=window,
        ),
    )
    traders = StreamSpec(
        "traders",
        Traders,
        dict(
            n_agents=n_traders,
            start_price=start_price,
            max_trade=max_trade,
            max_position=max_position,
            cost=cost,
            max_tax=max_tax,
            window=window,
        ),
    )
    if regulator:
        reg = StreamSpec(
            "regulator",
            Regulator,
            dict(
                period=regulator_period,
                tax=tax,
                max_tax=max_tax,
                n_traders=n_traders,
                max_trade=max_trade,
                start_price=start_price,
                vol_target=vol_target,
                stability_weight=stability_weight,
            ),
        )
    else:
        reg = StreamSpec("regulator", FixedTax, dict(tax=tax))
    return [
        LayerSpec([price], name="L1 price"),
        LayerSpec([traders], name="L2 traders"),
        LayerSpec([reg, StreamSpec("metrics", MarketMetrics)], name="L3 regulator"),
    ]


@dataclass(frozen=True, kw_only=True)
class MarketParams(ModelParams):
    """The market's parameters (the keyword arguments of :class:`MarketEnv`)."""

    n_traders: int = param(
        10,
        1,
        500_000,
        "Number of traders",
        why="half a million traders (window 100) take about 2 GiB at reset and step, a million "
        "about 4 GiB; more need more than this machine's memory",
    )
    start_price: float = param(100.0, 1e-6, 1e9, "Initial price")
    drift: float = param(0.0, -0.01, 0.01, "Log drift per tick")
    volatility: float = param(0.01, 0.0, 0.2, "Standard deviation of the log-price noise per tick")
    impact: float = param(0.002, 0.0, 0.1, "Log-price impact of a full net order flow")
    max_trade: float = param(1.0, 1e-9, 1e9, "Largest position change per tick")
    max_position: float = param(10.0, 1e-9, 1e12, "Largest absolute position")
    cost: float = param(0.0005, 0.0, 0.1, "Proportional trading cost")
    window: int = param(5, 1, 100, "Number of recent log returns observed")
    regulator: bool = param(
        True, doc="Whether a regulator agent sets the tax (else the tax stays ``tax``)"
    )
    regulator_period: int = param(10, 1, 1_000_000, "Ticks between the regulator's decisions")
    tax: float = param(
        0.0,
        0.0,
        0.1,
        "The initial (or, without regulator, fixed) transaction tax, at most max_tax",
    )
    max_tax: float = param(0.01, 0.0, 0.1, "Largest transaction tax")
    vol_target: float = param(0.01, 1e-9, 10.0, "Volatility the regulator aims to stay under")
    stability_weight: float = param(
        1.0, 0.0, 1e6, "Weight of abs(log return) in the regulator's reward"
    )
    max_steps: int = param(200, 1, MAX_STEPS, "Ticks per episode (truncation)")

    def check(self) -> None:
        """``tax <= max_tax``."""
        check_float("tax", self.tax, 0.0, self.max_tax)


class MarketEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "market_v0"}
    Params = MarketParams

    def build_model(self, params: MarketParams, n_worlds: int = 1) -> Model:
        """The market model for validated ``params``."""
        return make_model(market_spec(**params.model_kwargs()), n_worlds)


parallel_env, raw_env = pettingzoo_constructors(MarketEnv)
env = raw_env
__doc__ = MarketEnv.__doc__  # with the Args: section generated from the declaration
