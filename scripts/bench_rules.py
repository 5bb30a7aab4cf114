"""The HEAS quickstart's rules three ways, for ``scripts/bench.py``: HEAS 1.0.2, our runtime, numpy.

The HEAS readme's quickstart model: a ``Price`` stream (layer 1) that moves a price by
``drift + gauss(0, noise)`` each tick, and ``Policy`` streams (layer 2) that read this tick's
price ``x``; from their second tick on each sets ``sig = x - prev``, ``pos += alpha * sig`` and
``pnl += pos * sig``, then ``prev = x``. In HEAS every trader is one ``Policy`` stream; here the
rules are written

- with HEAS 1.0.2's own classes (:func:`heas_model`; ``heas`` is imported only when it is
  called, so importing this module imports neither HEAS nor Mesa);
- on our runtime, as a user model (:func:`quickstart_spec`): one :class:`Price` stream and one
  :class:`Traders` agent group of ``n_traders`` agents whose action is each trader's gain
  ``alpha`` (the heuristic plays the quickstart's ``alpha``, so heuristic play is the HEAS
  rules exactly); every draw comes from ``ctx.rng`` with a size that starts with the worlds;
- as a bare numpy loop over ``B`` worlds (:class:`NumpyQuickstart`), the floor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core import AgentGroup, Context, LayerSpec, Model, Stream, StreamSpec, make_model

START, DRIFT, NOISE, ALPHA = 100.0, 0.03, 0.05, 0.05  # the quickstart's defaults


# -- our runtime -------------------------------------------------------------------------------
class Price(Stream):
    """Layer 1: ``price += drift + noise * N(0, 1)``; also writes this tick's change."""

    writes = ("price", "change")

    def __init__(
        self, name: str, start: float = START, drift: float = DRIFT, noise: float = NOISE
    ) -> None:
        super().__init__(name)
        self.start, self.drift, self.noise = float(start), float(drift), float(noise)

    def reset(self, ctx: Context) -> None:
        """Every world starts at ``start``."""
        self.write(ctx, "price", np.full(ctx.n_worlds, self.start))
        self.write(ctx, "change", np.zeros(ctx.n_worlds))

    def step(self, ctx: Context) -> None:
        """One random-walk step per world."""
        change = self.drift + self.noise * ctx.rng.standard_normal(ctx.n_worlds)
        self.write(ctx, "price", ctx[self.key("price")] + change)
        self.write(ctx, "change", change)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        """HEAS's ``{"price": p}``."""
        return {"price": ctx[self.key("price")]}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        """HEAS's ``{"final_price": p}``."""
        return {"final_price": ctx[self.key("price")]}


class Traders(AgentGroup):
    """Layer 2: the quickstart's ``Policy`` rule for ``n_agents`` traders, gain chosen by action.

    Action ``Box(-1, 1, (1,))``: the trader's ``alpha`` this tick. Observation: this tick's
    price change, own position, own profit. Reward: the tick's profit ``pos * sig``.
    """

    role = "trader"
    reads = ("L1.change",)
    writes = ("pos", "pnl", "gain")

    def __init__(self, name: str, n_agents: int = 1, alpha: float = ALPHA) -> None:
        super().__init__(name, n_agents)
        self.alpha = float(alpha)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        """Flat positions, no profit."""
        shape = (ctx.n_worlds, self.n_agents)
        self.write(ctx, "pos", np.zeros(shape))
        self.write(ctx, "pnl", np.zeros(shape))
        self.write(ctx, "gain", np.zeros(shape))

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        """``pos += alpha * sig; pnl += pos * sig`` (nothing on the first tick, as in HEAS,
        where ``prev`` is still unset)."""
        if ctx.tick == 0:
            sig = np.zeros(ctx.n_worlds)
        else:
            sig = self.read(ctx, "L1.change")
        sig = sig[:, None]
        pos, pnl, gain = ctx[self.key("pos")], ctx[self.key("pnl")], ctx[self.key("gain")]
        pos += actions[..., 0] * sig  # in place, as the numpy floor does
        np.multiply(pos, sig, out=gain)
        pnl += gain

    def observe(self, ctx: Context) -> np.ndarray:
        """``[B, n_agents, 3]``: price change, position, profit."""
        pos = ctx[self.key("pos")]
        obs = np.empty((*pos.shape, 3), dtype=np.float32)
        obs[..., 0] = self.read(ctx, "L1.change")[:, None]
        obs[..., 1] = pos
        obs[..., 2] = ctx[self.key("pnl")]
        return obs

    def reward(self, ctx: Context) -> np.ndarray:
        """The tick's profit of every trader."""
        return ctx[self.key("gain")]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """The quickstart's policy: gain ``alpha`` for everyone."""
        return np.full((*obs.shape[:-1], 1), self.alpha, dtype=np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        """Mean position and profit (HEAS reports each ``Policy``'s ``pos`` and ``pnl``)."""
        return {"pos": ctx[self.key("pos")].mean(axis=1), "pnl": ctx[self.key("pnl")].mean(axis=1)}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        """Mean final position and profit."""
        return {
            "final_pos": ctx[self.key("pos")].mean(axis=1),
            "final_pnl": ctx[self.key("pnl")].mean(axis=1),
        }


def quickstart_spec(n_traders: int) -> list[LayerSpec]:
    """The quickstart on our runtime: ``L1`` price, ``L2`` traders."""
    return [
        LayerSpec([StreamSpec("L1", Price, {"start": START, "drift": DRIFT, "noise": NOISE})]),
        LayerSpec([StreamSpec("L2", Traders, {"n_agents": n_traders, "alpha": ALPHA})]),
    ]


def build_model(n_traders: int, n_worlds: int = 1) -> Model:
    """Our model of ``n_worlds`` worlds with ``n_traders`` traders."""
    return make_model(quickstart_spec(n_traders), n_worlds=n_worlds)


# -- HEAS 1.0.2 ----------------------------------------------------------------------------------
def heas_model(n_traders: int, seed: int = 0) -> Any:
    """The quickstart in HEAS 1.0.2: one ``Price`` and ``n_traders`` ``Policy`` streams.

    Returns a ``heas.hierarchy.CompositeHeasModel``; one ``model.step()`` is one tick (it also
    collects every stream's ``metrics_step``, as HEAS always does). Imports ``heas`` here.
    """
    from heas.hierarchy import LayerSpec as HeasLayerSpec
    from heas.hierarchy import Stream as HeasStream
    from heas.hierarchy import StreamSpec as HeasStreamSpec
    from heas.hierarchy import make_model_from_spec

    class HeasPrice(HeasStream):  # the readme's Price, drawing from the model's own generator
        def __init__(self, name, ctx, start=START, drift=DRIFT, noise=NOISE):
            super().__init__(name, ctx)
            self.p, self.drift, self.noise = float(start), float(drift), float(noise)

        def step(self):
            self.p += self.drift + self.ctx.rng.gauss(0, self.noise)
            self.ctx.data[f"{self.name}.price"] = self.p

        def metrics_step(self):
            return {"price": self.p}

        def metrics_episode(self):
            return {"final_price": self.p}

    class HeasPolicy(HeasStream):  # the readme's Policy, verbatim
        def __init__(self, name, ctx, alpha=ALPHA, x_key="L1.price"):
            super().__init__(name, ctx)
            self.alpha = float(alpha)
            self.key = x_key
            self.pos, self.pnl, self.prev = 0.0, 0.0, None

        def step(self):
            x = float(self.ctx.data.get(self.key, self.prev if self.prev is not None else START))
            if self.prev is not None:
                sig = x - self.prev
                self.pos += self.alpha * sig
                self.pnl += self.pos * (x - self.prev)
            self.prev = x
            self.ctx.data[f"{self.name}.pnl"] = self.pnl

        def metrics_step(self):
            return {"pos": self.pos, "pnl": self.pnl}

        def metrics_episode(self):
            return {"final_pos": self.pos, "final_pnl": self.pnl}

    spec = [
        HeasLayerSpec(
            [HeasStreamSpec("L1", HeasPrice, dict(start=START, drift=DRIFT, noise=NOISE))]
        ),
        HeasLayerSpec(
            [
                HeasStreamSpec(f"L2_{i}", HeasPolicy, dict(alpha=ALPHA, x_key="L1.price"))
                for i in range(n_traders)
            ]
        ),
    ]
    return make_model_from_spec(spec, seed=seed)({})


# -- bare numpy ------------------------------------------------------------------------------------
class NumpyQuickstart:
    """The same update as a bare numpy loop over ``n_worlds`` worlds: the floor.

    Args:
        n_traders: Traders per world.
        n_worlds: Worlds B.
        seed: Seed of the one generator.
    """

    def __init__(self, n_traders: int, n_worlds: int = 1, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.price = np.full(n_worlds, START)
        self.pos = np.zeros((n_worlds, n_traders))
        self.pnl = np.zeros((n_worlds, n_traders))
        self.alpha = np.full((n_worlds, n_traders), ALPHA)
        self.first = True

    def step(self) -> None:
        """One tick of every world."""
        sig = DRIFT + NOISE * self.rng.standard_normal(self.price.shape[0])
        self.price += sig
        if self.first:  # HEAS's first tick only records the price
            self.first = False
            return
        self.pos += self.alpha * sig[:, None]
        self.pnl += self.pos * sig[:, None]
