"""Power grid: an attacker trips lines and biases sensors, a defender redispatches and reconnects.

The IEEE 14-bus case (network data from ``pypower.case14``) under a DC power flow solved for
every world at once, with load and renewable profiles, protection that trips overloaded lines
after a delay, and load shedding when outages cut buses off the slack bus.

| | |
|---|---|
| Id | ``heas_envs/PowerGrid-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives the defender) |
| Agents | ``attacker_0``, ``defender_0`` |
| Attacker action | ``Box(-1, 1, (40,))``: ``trip_line_0`` ... ``trip_line_19`` (the in-service line with the largest score trips when that score exceeds 0.5, budget and cooldown allowing), ``bias_flow_0`` ... ``bias_flow_19`` (the ``bias_sensors`` largest in absolute value bias the defender's flow sensors by that value times ``max_bias`` line limits) |
| Attacker observation | ``Box((42,))``: ``flow_j`` (true flow / limit, clipped to [-10, 10]), ``line_in_j`` (1 in service, 0 out), ``budget_left`` (share of ``attack_budget`` left), ``can_act`` (1 when budget and cooldown allow a trip) |
| Attacker reward | minus the defender's reward (exactly) |
| Defender action | ``Box(-1, 1, (24,))``: ``redispatch_gen_1`` ... ``redispatch_gen_4`` (change of the generator's redispatch offset, times ``ramp`` * its ``Pmax``), ``reconnect_line_0`` ... ``reconnect_line_19`` (> 0: put the line back when it has been out ``reconnect_delay`` ticks) |
| Defender observation | ``Box((79,))``: ``sensed_flow_j`` (flow / limit plus the attacker's bias, clipped to [-10, 10]), ``line_in_j``, ``reconnectable_j`` (1 when out long enough to reconnect), ``load_bus_k`` (bus load / total base load), ``offset_gen_g`` (redispatch offset / ``Pmax``, g = 1..4), ``served`` (share of load served) |
| Defender reward | ``served - redispatch_cost * sum_g abs(offset_g) / total base load`` |
| State | every slot's observation, flattened |

Indices: lines ``j = 0..19`` in the order of ``pypower.case14``'s branch table, buses
``k = 0..13`` (the case's bus ``k + 1``), generators ``g = 0..4`` at buses 1, 2, 3, 6, 8; the
slack generator 0 (bus 1) balances the island it is on and is not redispatched. The names
are the groups' ``observation_names`` and ``action_names``.

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 | ``profiles`` (load and renewables) | | ``load``, ``renewable`` |
| L2 | ``attacker`` (agent group ``attacker``) | ``grid.flow``, ``grid.status``, ``grid.reward`` | ``trip``, ``bias``, ``budget``, ``cooldown`` |
| L2 | ``defender`` (agent group ``defender``) | ``grid.flow``, ``grid.status``, ``grid.out_ticks``, ``grid.served``, ``grid.reward``, ``attacker.bias``, ``profiles.load`` | ``offset``, ``reconnect`` |
| L3 | ``grid`` (power flow, protection, aggregate) | ``profiles.load``, ``profiles.renewable``, ``attacker.trip``, ``defender.reconnect``, ``defender.offset`` | ``status``, ``out_ticks``, ``overload_ticks``, ``flow``, ``dispatch``, ``served``, ``shed``, ``overloaded``, ``cost``, ``reward`` |

Dynamics of tick ``t``:

- Profiles: bus load ``P_k (1 + load_amplitude sin(2 pi t / day_length)) (1 + load_noise e)``
  (``P_k`` the case's load, ``e`` standard normal per bus and tick, clipped at 0); renewable
  injection ``renewable_capacity * clip(0.5 + 0.5 sin(2 pi t / day_length) + renewable_noise e,
  0, 1)`` at buses 9, 13 and 14 (``RENEWABLE_BUSES``).
- Attacker: trips at most one line per tick; each trip spends one unit of ``attack_budget``
  and starts a cooldown of ``attack_cooldown`` ticks. Sensor bias costs nothing.
- Defender: the offsets of generators 1-4 move by the action times ``ramp * Pmax`` and stay in
  ``[-Pmax, Pmax]``; a line out for at least ``reconnect_delay`` ticks comes back when asked
  (a line tripped this tick cannot).
- Grid: buses not connected to the slack bus through in-service lines are islanded: their load
  is shed and their generation lost. On the slack's island generators run at
  ``clip(base + offset, 0, Pmax)`` (base: the case's dispatch), renewables are curtailed if they
  exceed the load, generators 1-4 are scaled down if they exceed the rest, the slack takes the
  remainder up to its ``Pmax`` and load beyond that is shed evenly. The DC power flow solves
  ``B theta = P`` for every world at once (``np.linalg.solve`` on the slack-reduced
  susceptance matrices, islanded buses set to ``theta = 0``); flows ``f_j = (theta_from -
  theta_to) / x_j`` in MW. Injections sum to zero and ``A^T f = P`` holds on every bus.
- Protection: a line with ``|f_j| > limit_j`` counts an overload tick (the count restarts at
  0 on a tick without overload); at ``trip_delay`` consecutive ticks it trips (out from the
  next tick's flow on). ``limit_j = limit_factor * max(|base flow_j|, MIN_LIMIT)`` with the
  base flow the DC flow of the case's own loads and dispatch (the case's ``RATE_A`` is
  unlimited).

Metrics (per tick): ``profiles.total_load``, ``profiles.renewable``, ``attacker.budget_left``,
``attacker.biased``, ``defender.redispatch`` (sum of ``|offset|`` in MW), ``grid.served``,
``grid.shed`` (MW), ``grid.overloaded`` (lines over their limit), ``grid.lines_out``,
``grid.cost``. Per episode: ``attacker.trips``, ``grid.mean_served``, ``grid.overload_ticks``
(line-ticks over the limit), ``grid.protection_trips``, ``grid.mean_cost``.

Heuristics: the attacker trips the in-service line with the largest true loading as soon as
budget and cooldown allow, and biases the sensors of the most loaded lines towards zero (to
hide overloads). The defender reconnects every line it may; when its most loaded sensed line
exceeds 0.9 of its limit it moves each generator against that line's flow by the sign of the
intact network's PTDF (the more, the larger the excess), and otherwise lets its offsets decay.

Requires ``pypower`` (the IEEE 14-bus data).

Version history: v0 (initial release).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from gymnasium import spaces

from heas_envs.core import AgentGroup, Context, LayerSpec, Model, Stream, StreamSpec, make_model
from heas_envs.core.params import MAX_STEPS, ModelParams, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

FLOW_CLIP = 10.0  # observed flows (in line limits) are clipped to +-FLOW_CLIP
MIN_LIMIT = 10.0  # MW: the smallest base flow a line limit is derived from
RENEWABLE_BUSES = (8, 12, 13)  # 0-based: the case's buses 9, 13 and 14
SLACK = 0  # the slack bus (and generator 0 sits on it)


@dataclass(frozen=True)
class GridCase:
    """A network in arrays: lines ``from_bus -> to_bus`` (0-based) with reactance ``x`` (p.u.),
    bus loads (MW), generators (bus, base dispatch and ``Pmax`` in MW), the base-case DC flow
    and the intact network's PTDF (``[lines, buses]``, slack column 0)."""

    from_bus: np.ndarray
    to_bus: np.ndarray
    x: np.ndarray
    load: np.ndarray
    gen_bus: np.ndarray
    gen_base: np.ndarray
    gen_pmax: np.ndarray
    base_flow: np.ndarray
    ptdf: np.ndarray

    @property
    def n_bus(self) -> int:
        """The number of buses."""
        return len(self.load)

    @property
    def n_line(self) -> int:
        """The number of lines."""
        return len(self.x)

    @property
    def n_gen(self) -> int:
        """The number of generators."""
        return len(self.gen_bus)

    @property
    def incidence(self) -> np.ndarray:
        """``A [lines, buses]``: +1 at the from bus, -1 at the to bus."""
        return incidence(self.from_bus, self.to_bus, self.n_bus)


def incidence(from_bus: np.ndarray, to_bus: np.ndarray, n_bus: int) -> np.ndarray:
    """The line-bus incidence matrix ``[lines, buses]``: +1 at the from bus, -1 at the to bus."""
    a = np.zeros((len(from_bus), n_bus))
    a[np.arange(len(from_bus)), from_bus] = 1.0
    a[np.arange(len(from_bus)), to_bus] = -1.0
    return a


@lru_cache(maxsize=1)
def ieee14() -> GridCase:
    """The IEEE 14-bus case from ``pypower.case14`` (loaded once), with its base DC flow."""
    try:
        from pypower import idx_brch, idx_bus, idx_gen
        from pypower.case14 import case14
    except ImportError as err:  # pragma: no cover - pypower is a dependency
        raise ImportError(
            "heas_envs/PowerGrid-v0 needs pypower for the IEEE 14-bus data: pip install pypower"
        ) from err
    case = case14()
    bus, gen, branch = case["bus"], case["gen"], case["branch"]
    index = {int(b): k for k, b in enumerate(bus[:, idx_bus.BUS_I])}
    from_bus = np.array([index[int(b)] for b in branch[:, idx_brch.F_BUS]])
    to_bus = np.array([index[int(b)] for b in branch[:, idx_brch.T_BUS]])
    x = branch[:, idx_brch.BR_X].astype(np.float64)
    load = bus[:, idx_bus.PD].astype(np.float64)
    gen_bus = np.array([index[int(b)] for b in gen[:, idx_gen.GEN_BUS]])
    if gen_bus[0] != SLACK:
        raise ValueError("the case's first generator must sit on the slack bus (bus 1)")
    gen_base = gen[:, idx_gen.PG].astype(np.float64)
    gen_pmax = gen[:, idx_gen.PMAX].astype(np.float64)
    a = incidence(from_bus, to_bus, len(load))
    b_bus = a.T @ (a / x[:, None])
    ptdf = np.zeros((len(x), len(load)))
    ptdf[:, 1:] = (a / x[:, None])[:, 1:] @ np.linalg.inv(b_bus[1:, 1:])
    injection = -load.copy()
    np.add.at(injection, gen_bus[1:], gen_base[1:])
    injection[SLACK] -= injection.sum()
    base_flow = ptdf @ injection
    return GridCase(from_bus, to_bus, x, load, gen_bus, gen_base, gen_pmax, base_flow, ptdf)


def connected_to_slack(case: GridCase, status: np.ndarray) -> np.ndarray:
    """Which buses reach the slack bus through in-service lines, ``[B, buses]`` bool.

    Args:
        case: The network.
        status: ``[B, lines]``, nonzero for lines in service.
    """
    on = np.asarray(status, dtype=bool)
    adj = np.zeros((on.shape[0], case.n_bus, case.n_bus), dtype=bool)
    adj[:, case.from_bus, case.to_bus] = on
    adj[:, case.to_bus, case.from_bus] |= on
    reach = np.zeros((on.shape[0], case.n_bus), dtype=bool)
    reach[:, SLACK] = True
    for _ in range(case.n_bus - 1):
        grown = reach | np.matmul(adj, reach[:, :, None])[:, :, 0]  # boolean: or of ands
        if np.array_equal(grown, reach):
            break
        reach = grown
    return reach


def dc_power_flow(
    case: GridCase, injection: np.ndarray, status: np.ndarray, main: np.ndarray
) -> np.ndarray:
    """Line flows (MW, ``[B, lines]``) of the DC power flow of every world at once.

    Args:
        case: The network.
        injection: ``[B, buses]`` net injections (MW); they must sum to zero over the buses of
            ``main`` and be zero elsewhere.
        status: ``[B, lines]``, nonzero for lines in service.
        main: ``[B, buses]`` bool, the buses connected to the slack
            (:func:`connected_to_slack`); the others get ``theta = 0`` and carry no flow.
    """
    b_line = np.asarray(status, dtype=np.float64) / case.x
    a = case.incidence
    b_bus = np.einsum("li,bl,lj->bij", a, b_line, a)
    reduced = b_bus[:, 1:, 1:].copy()
    off = ~main[:, 1:]
    reduced[off[:, :, None] | off[:, None, :]] = 0.0
    diag = np.einsum("bii->bi", reduced)
    diag[off] = 1.0
    rhs = np.where(off, 0.0, injection[:, 1:])
    theta = np.zeros_like(injection, dtype=np.float64)
    theta[:, 1:] = np.linalg.solve(reduced, rhs[:, :, None])[:, :, 0]
    return b_line * (theta[:, case.from_bus] - theta[:, case.to_bus])


class Profiles(Stream):
    """Bus loads on a daily cycle with noise, and renewable injections at three buses."""

    writes = ("load", "renewable")

    def __init__(
        self,
        name: str,
        load_scale: float,
        load_amplitude: float,
        load_noise: float,
        renewable_capacity: float,
        renewable_noise: float,
        day_length: int,
    ) -> None:
        super().__init__(name)
        case = ieee14()
        self.base_load = case.load * load_scale
        self.load_amplitude, self.load_noise = load_amplitude, load_noise
        self.renewable_capacity, self.renewable_noise = renewable_capacity, renewable_noise
        self.day_length = day_length
        self.n_bus = case.n_bus

    def _draw(self, ctx: Context, tick: int) -> None:
        b = ctx.n_worlds
        phase = np.sin(2.0 * np.pi * tick / self.day_length)
        noise = ctx.rng.standard_normal((b, self.n_bus))
        load = (
            self.base_load * (1.0 + self.load_amplitude * phase) * (1.0 + self.load_noise * noise)
        )
        ren_noise = ctx.rng.standard_normal((b, len(RENEWABLE_BUSES)))
        share = np.clip(0.5 + 0.5 * phase + self.renewable_noise * ren_noise, 0.0, 1.0)
        renewable = np.zeros((b, self.n_bus))
        renewable[:, list(RENEWABLE_BUSES)] = self.renewable_capacity * share
        self.write(ctx, "load", np.maximum(load, 0.0))
        self.write(ctx, "renewable", renewable)

    def reset(self, ctx: Context) -> None:
        self._draw(ctx, 0)

    def step(self, ctx: Context) -> None:
        self._draw(ctx, ctx.tick + 1)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "total_load": ctx[self.key("load")].sum(axis=1),
            "renewable": ctx[self.key("renewable")].sum(axis=1),
        }


def _limits(limit_factor: float) -> np.ndarray:
    return limit_factor * np.maximum(np.abs(ieee14().base_flow), MIN_LIMIT)


class Attacker(AgentGroup):
    """An attacker that trips lines (within a budget, with a cooldown) and biases sensors."""

    role = "attacker"
    reads = ("grid.flow", "grid.status", "grid.reward")
    writes = ("trip", "bias", "budget", "cooldown")

    def __init__(
        self,
        name: str,
        attack_budget: int,
        attack_cooldown: int,
        max_bias: float,
        bias_sensors: int,
        limit_factor: float,
    ) -> None:
        super().__init__(name, 1)
        n_line = ieee14().n_line
        self.n_line, self.limit = n_line, _limits(limit_factor)
        self.attack_budget, self.attack_cooldown = attack_budget, attack_cooldown
        self.max_bias, self.bias_sensors = max_bias, min(bias_sensors, n_line)
        self.observation_names = (
            *(f"flow_{j}" for j in range(n_line)),
            *(f"line_in_{j}" for j in range(n_line)),
            "budget_left",
            "can_act",
        )
        self.action_names = (
            *(f"trip_line_{j}" for j in range(n_line)),
            *(f"bias_flow_{j}" for j in range(n_line)),
        )
        low = np.array([-FLOW_CLIP] * n_line + [0.0] * (n_line + 2), dtype=np.float32)
        high = np.array([FLOW_CLIP] * n_line + [1.0] * (n_line + 2), dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2 * n_line,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "trip", np.zeros((b, self.n_line), dtype=bool))
        self.write(ctx, "bias", np.zeros((b, self.n_line)))
        self.write(ctx, "budget", np.full(b, self.attack_budget))
        self.write(ctx, "cooldown", np.zeros(b, dtype=np.int64))
        self._trips = np.zeros(b)

    def _can_act(self, ctx: Context) -> np.ndarray:
        return (ctx[self.key("budget")] > 0) & (ctx[self.key("cooldown")] == 0)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_line
        act = np.asarray(actions, dtype=np.float64).reshape(b, 2 * n)
        score = np.where(self.read(ctx, "grid.status") > 0, act[:, :n], -np.inf)
        target = np.argmax(score, axis=1)
        fire = self._can_act(ctx) & (score[np.arange(b), target] > 0.5)
        trip = np.zeros((b, n), dtype=bool)
        trip[np.arange(b), target] = fire
        cooldown = ctx[self.key("cooldown")]
        self.write(ctx, "trip", trip)
        self.write(ctx, "budget", ctx[self.key("budget")] - fire)
        self.write(
            ctx, "cooldown", np.where(fire, self.attack_cooldown, np.maximum(cooldown - 1, 0))
        )
        bias = np.clip(act[:, n:], -1.0, 1.0)
        chosen = np.argsort(-np.abs(bias), axis=1, kind="stable")[:, : self.bias_sensors]
        kept = np.zeros((b, n))
        np.put_along_axis(kept, chosen, np.take_along_axis(bias, chosen, axis=1), axis=1)
        self.write(ctx, "bias", kept * self.max_bias)
        self._trips += fire

    def observe(self, ctx: Context) -> np.ndarray:
        flow = np.clip(self.read(ctx, "grid.flow") / self.limit, -FLOW_CLIP, FLOW_CLIP)
        budget = ctx[self.key("budget")] / self.attack_budget
        obs = np.concatenate(
            [
                flow,
                self.read(ctx, "grid.status"),
                budget[:, None],
                self._can_act(ctx)[:, None],
            ],
            axis=1,
        )
        return obs[:, None, :].astype(np.float32)

    def reward(self, ctx: Context) -> np.ndarray:
        return -self.read(ctx, "grid.reward")[:, None]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Trip the most loaded in-service line; bias the most loaded sensors towards zero."""
        n = self.n_line
        flow, status = obs[..., :n], obs[..., n : 2 * n]
        loading = np.abs(flow) * (status > 0)
        top = loading.max(axis=-1, keepdims=True)
        score = np.divide(loading, top, out=np.zeros_like(loading), where=top > 0)
        return np.concatenate([score, -np.sign(flow) * score], axis=-1).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "budget_left": ctx[self.key("budget")].astype(np.float64),
            "biased": (ctx[self.key("bias")] != 0).sum(axis=1).astype(np.float64),
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"trips": self._trips}


class Defender(AgentGroup):
    """A grid operator that redispatches generators 1-4 and reconnects tripped lines."""

    role = "defender"
    reads = (
        "grid.flow",
        "grid.status",
        "grid.out_ticks",
        "grid.served",
        "grid.reward",
        "attacker.bias",
        "profiles.load",
    )
    writes = ("offset", "reconnect")

    def __init__(
        self, name: str, ramp: float, reconnect_delay: int, limit_factor: float, load_scale: float
    ) -> None:
        super().__init__(name, 1)
        case = ieee14()
        self.case, self.limit = case, _limits(limit_factor)
        self.ramp, self.reconnect_delay = ramp, reconnect_delay
        self.total_base_load = case.load.sum() * load_scale
        n_line, n_bus, n_red = case.n_line, case.n_bus, case.n_gen - 1
        self.n_line, self.n_red = n_line, n_red
        self.observation_names = (
            *(f"sensed_flow_{j}" for j in range(n_line)),
            *(f"line_in_{j}" for j in range(n_line)),
            *(f"reconnectable_{j}" for j in range(n_line)),
            *(f"load_bus_{k}" for k in range(n_bus)),
            *(f"offset_gen_{g}" for g in range(1, case.n_gen)),
            "served",
        )
        self.action_names = (
            *(f"redispatch_gen_{g}" for g in range(1, case.n_gen)),
            *(f"reconnect_line_{j}" for j in range(n_line)),
        )
        low = np.array(
            [-FLOW_CLIP] * n_line + [0.0] * (2 * n_line + n_bus) + [-1.0] * n_red + [0.0],
            dtype=np.float32,
        )
        high = np.array(
            [FLOW_CLIP] * n_line + [1.0] * (2 * n_line) + [10.0] * n_bus + [1.0] * (n_red + 1),
            dtype=np.float32,
        )
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(n_red + n_line,), dtype=np.float32)
        # How one MW more at each redispatched generator (taken by the slack) moves each flow.
        self._gen_ptdf = case.ptdf[:, case.gen_bus[1:]]

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "offset", np.zeros((b, self.n_red)))
        self.write(ctx, "reconnect", np.zeros((b, self.n_line), dtype=bool))

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        act = np.asarray(actions, dtype=np.float64).reshape(ctx.n_worlds, -1)
        pmax = self.case.gen_pmax[1:]
        offset = ctx[self.key("offset")] + np.clip(act[:, : self.n_red], -1, 1) * self.ramp * pmax
        self.write(ctx, "offset", np.clip(offset, -pmax, pmax))
        self.write(ctx, "reconnect", act[:, self.n_red :] > 0.0)

    def observe(self, ctx: Context) -> np.ndarray:
        sensed = self.read(ctx, "grid.flow") / self.limit + self.read(ctx, "attacker.bias")
        status = self.read(ctx, "grid.status")
        ready = (status == 0) & (self.read(ctx, "grid.out_ticks") >= self.reconnect_delay)
        load = np.clip(self.read(ctx, "profiles.load") / self.total_base_load, 0.0, 10.0)
        obs = np.concatenate(
            [
                np.clip(sensed, -FLOW_CLIP, FLOW_CLIP),
                status,
                ready,
                load,
                ctx[self.key("offset")] / self.case.gen_pmax[1:],
                self.read(ctx, "grid.served")[:, None],
            ],
            axis=1,
        )
        return obs[:, None, :].astype(np.float32)

    def reward(self, ctx: Context) -> np.ndarray:
        return self.read(ctx, "grid.reward")[:, None]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Reconnect what may be; redispatch against the most loaded sensed line."""
        n, r = self.n_line, self.n_red
        flow, status, ready = obs[..., :n], obs[..., n : 2 * n], obs[..., 2 * n : 3 * n]
        offset = obs[..., -1 - r : -1]
        loading = np.abs(flow) * (status > 0)
        worst = np.argmax(loading, axis=-1)
        excess = np.take_along_axis(loading, worst[..., None], axis=-1) - 0.9
        direction = np.sign(np.take_along_axis(flow, worst[..., None], axis=-1))
        sensitivity = np.sign(self._gen_ptdf[worst])  # [..., r]
        relieve = -direction * sensitivity * np.clip(5.0 * excess, 0.0, 1.0)
        held = offset / self.ramp if self.ramp > 0 else np.zeros_like(offset)  # ramp 0: fixed
        decay = -np.clip(held, -1.0, 1.0) * 0.5
        redispatch = np.where(excess > 0, relieve, decay)
        reconnect = np.where(ready > 0, 1.0, -1.0)
        return np.concatenate([redispatch, reconnect], axis=-1).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"redispatch": np.abs(ctx[self.key("offset")]).sum(axis=1)}


class Grid(Stream):
    """Line status, dispatch, DC power flow, protection and the aggregate of one tick."""

    reads = (
        "profiles.load",
        "profiles.renewable",
        "attacker.trip",
        "defender.reconnect",
        "defender.offset",
    )
    writes = (
        "status",
        "out_ticks",
        "overload_ticks",
        "flow",
        "dispatch",
        "served",
        "shed",
        "overloaded",
        "cost",
        "reward",
    )

    def __init__(
        self,
        name: str,
        limit_factor: float,
        trip_delay: int,
        reconnect_delay: int,
        redispatch_cost: float,
        load_scale: float,
    ) -> None:
        super().__init__(name)
        self.case, self.limit = ieee14(), _limits(limit_factor)
        self.trip_delay, self.reconnect_delay = trip_delay, reconnect_delay
        self.redispatch_cost = redispatch_cost
        self.total_base_load = self.case.load.sum() * load_scale

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.case.n_line
        self.write(ctx, "status", np.ones((b, n)))
        self.write(ctx, "out_ticks", np.zeros((b, n), dtype=np.int64))
        self.write(ctx, "overload_ticks", np.zeros((b, n), dtype=np.int64))
        self._flow(ctx)
        self._served_sum = np.zeros(b)
        self._cost_sum = np.zeros(b)
        self._overload_sum = np.zeros(b)
        self._protection_trips = np.zeros(b)
        self._ticks = 0

    def _flow(self, ctx: Context) -> None:
        """Dispatch and flows for the current status, loads and offsets; served load, reward."""
        case = self.case
        status = ctx[self.key("status")]
        load = self.read(ctx, "profiles.load")
        renewable = self.read(ctx, "profiles.renewable")
        offset = self.read(ctx, "defender.offset")
        main = connected_to_slack(case, status)
        load_m = (load * main).sum(axis=1)
        ren = renewable * main
        ren_m = ren.sum(axis=1)
        curtail = np.divide(load_m, ren_m, out=np.ones_like(ren_m), where=ren_m > load_m)
        ren = ren * curtail[:, None]
        required = np.maximum(load_m - ren.sum(axis=1), 0.0)
        pmax = case.gen_pmax
        others = np.clip(case.gen_base[1:] + offset, 0.0, pmax[1:]) * main[:, case.gen_bus[1:]]
        total = others.sum(axis=1)
        scale = np.divide(required, total, out=np.ones_like(total), where=total > required)
        others = others * scale[:, None]
        slack = np.clip(required - others.sum(axis=1), 0.0, pmax[0])
        short = np.maximum(required - others.sum(axis=1) - slack, 0.0)
        keep = 1.0 - np.divide(short, load_m, out=np.zeros_like(short), where=load_m > 0)
        served_load = load * main * keep[:, None]
        dispatch = np.concatenate([slack[:, None], others], axis=1)
        injection = ren - served_load
        np.add.at(injection.T, case.gen_bus, dispatch.T)
        flow = dc_power_flow(case, injection, status, main)
        demand = load.sum(axis=1)
        served = np.divide(
            served_load.sum(axis=1), demand, out=np.ones_like(demand), where=demand > 0
        )
        cost = self.redispatch_cost * np.abs(offset).sum(axis=1) / self.total_base_load
        self.write(ctx, "flow", flow)
        self.write(ctx, "dispatch", dispatch)
        self.write(ctx, "served", served)
        self.write(ctx, "shed", demand - served_load.sum(axis=1))
        self.write(ctx, "overloaded", ((np.abs(flow) > self.limit) & (status > 0)).sum(axis=1))
        self.write(ctx, "cost", cost)
        self.write(ctx, "reward", served - cost)

    def step(self, ctx: Context) -> None:
        status = ctx[self.key("status")] > 0
        out_ticks = ctx[self.key("out_ticks")]
        status &= ~self.read(ctx, "attacker.trip")
        back = self.read(ctx, "defender.reconnect") & (out_ticks >= self.reconnect_delay)
        status |= back & (ctx[self.key("status")] == 0)
        self.write(ctx, "status", status.astype(np.float64))
        self._flow(ctx)
        over = (np.abs(ctx[self.key("flow")]) > self.limit) & status
        counts = np.where(over, ctx[self.key("overload_ticks")] + 1, 0)
        tripped = counts >= self.trip_delay
        status &= ~tripped
        self.write(ctx, "overload_ticks", np.where(tripped, 0, counts))
        self.write(ctx, "status", status.astype(np.float64))
        self.write(ctx, "out_ticks", np.where(status, 0, out_ticks + 1))
        self._served_sum += ctx[self.key("served")]
        self._cost_sum += ctx[self.key("cost")]
        self._overload_sum += over.sum(axis=1)
        self._protection_trips += tripped.sum(axis=1)
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "served": ctx[self.key("served")],
            "shed": ctx[self.key("shed")],
            "overloaded": ctx[self.key("overloaded")].astype(np.float64),
            "lines_out": (ctx[self.key("status")] == 0).sum(axis=1).astype(np.float64),
            "cost": ctx[self.key("cost")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._ticks, 1)
        return {
            "mean_served": self._served_sum / ticks,
            "overload_ticks": self._overload_sum,
            "protection_trips": self._protection_trips,
            "mean_cost": self._cost_sum / ticks,
        }


def grid_layers(
    *,
    load_scale: float,
    load_amplitude: float,
    load_noise: float,
    renewable_capacity: float,
    renewable_noise: float,
    day_length: int,
    limit_factor: float,
    trip_delay: int,
    reconnect_delay: int,
    attack_budget: int,
    attack_cooldown: int,
    max_bias: float,
    bias_sensors: int,
    ramp: float,
    redispatch_cost: float,
) -> list[LayerSpec]:
    """The power grid's layer specs (parameters as in :class:`PowerGridEnv`, validated there)."""
    profiles = StreamSpec(
        "profiles",
        Profiles,
        dict(
            load_scale=load_scale,
            load_amplitude=load_amplitude,
            load_noise=load_noise,
            renewable_capacity=renewable_capacity,
            renewable_noise=renewable_noise,
            day_length=day_length,
        ),
    )
    attacker = StreamSpec(
        "attacker",
        Attacker,
        dict(
            attack_budget=attack_budget,
            attack_cooldown=attack_cooldown,
            max_bias=max_bias,
            bias_sensors=bias_sensors,
            limit_factor=limit_factor,
        ),
    )
    defender = StreamSpec(
        "defender",
        Defender,
        dict(
            ramp=ramp,
            reconnect_delay=reconnect_delay,
            limit_factor=limit_factor,
            load_scale=load_scale,
        ),
    )
    grid = StreamSpec(
        "grid",
        Grid,
        dict(
            limit_factor=limit_factor,
            trip_delay=trip_delay,
            reconnect_delay=reconnect_delay,
            redispatch_cost=redispatch_cost,
            load_scale=load_scale,
        ),
    )
    return [
        LayerSpec([profiles], name="L1 profiles"),
        LayerSpec([attacker, defender], name="L2 attacker and defender"),
        LayerSpec([grid], name="L3 power flow and protection"),
    ]


@dataclass(frozen=True, kw_only=True)
class PowerGridParams(ModelParams):
    """The power grid's parameters (the keyword arguments of :class:`PowerGridEnv`)."""

    load_scale: float = param(1.0, 0.1, 3.0, "Factor on the case's bus loads")
    load_amplitude: float = param(0.15, 0.0, 0.9, "Relative amplitude of the daily load cycle")
    load_noise: float = param(0.03, 0.0, 1.0, "Standard deviation of the relative load noise")
    renewable_capacity: float = param(
        30.0, 0.0, 500.0, "Renewable capacity (MW) at each of buses 9, 13 and 14"
    )
    renewable_noise: float = param(
        0.2, 0.0, 2.0, "Standard deviation of the renewable availability noise"
    )
    day_length: int = param(24, 1, 100_000, "Ticks per daily cycle")
    limit_factor: float = param(
        1.3, 0.1, 10.0, "Line limit as a multiple of the base-case flow (floored at 10 MW)"
    )
    trip_delay: int = param(3, 1, 1000, "Consecutive overloaded ticks before protection trips")
    reconnect_delay: int = param(3, 0, 1000, "Ticks a line stays out before it can reconnect")
    attack_budget: int = param(4, 1, 1000, "Line trips the attacker may make per episode")
    attack_cooldown: int = param(5, 0, 1000, "Ticks after a trip before the attacker trips again")
    max_bias: float = param(0.3, 0.0, 5.0, "Largest sensor bias, in line limits")
    bias_sensors: int = param(2, 1, 20, "Number of flow sensors the attacker biases at once")
    ramp: float = param(0.1, 0.0, 1.0, "Largest offset change per tick, as a share of Pmax")
    redispatch_cost: float = param(
        1.0, 0.0, 100.0, "Reward cost of sum |offset| per total base load (MW/MW)"
    )
    max_steps: int = param(48, 1, MAX_STEPS, "Ticks per episode (truncation)")


class PowerGridEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "power_grid_v0"}
    Params = PowerGridParams

    def build_model(self, params: PowerGridParams, n_worlds: int = 1) -> Model:
        """The power grid model for validated ``params``."""
        return make_model(grid_layers(**params.model_kwargs()), n_worlds)


parallel_env, raw_env = pettingzoo_constructors(PowerGridEnv)
env = raw_env
__doc__ = PowerGridEnv.__doc__  # with the Args: section generated from the declaration
