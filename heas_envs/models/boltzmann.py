"""Boltzmann wealth: agents on a grid who may give one unit of wealth to a cellmate each tick.

A port of Mesa's ``examples/basic/boltzmann_wealth_model`` (Mesa 3.3) whose agents decide
whether, and to whom, they give. When every agent plays the Mesa rule (action 0, the
heuristic) the model follows Mesa's rules: everyone starts with ``initial_wealth`` (Mesa: 1)
units; every tick the agents, in a random order, each move to a random Moore neighbour cell
of a bounded (non-toroidal) grid and, holding wealth, give one unit to a random agent in
their new cell. Total wealth is conserved exactly (integers).

| | |
|---|---|
| Id | ``heas_envs/Boltzmann-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives one agent) |
| Agents | ``agent_0`` ... ``agent_{n_agents-1}`` (role ``agent``; nobody dies or is born) |
| Action | ``Discrete(n_candidates + 1)``: ``k < n_candidates`` = give one unit to candidate ``k`` (nothing if that entry is empty); ``n_candidates`` = keep. Candidate 0 is a cellmate drawn uniformly, so action 0 is Mesa's "give to a random cellmate". A unit is given only if the agent holds wealth at its turn |
| Observation | ``Box((3 + 2 * n_candidates,))``: [0] own wealth / ``initial_wealth`` (in [0, ``n_agents``]); [1] number of cellmates / ``n_candidates`` (in [0, (``n_agents`` - 1) / ``n_candidates``]); [2] own turn / ``n_agents`` (in [0, 1)); [3, 3 + K) flags, 1 where candidate ``k`` exists; [3 + K, 3 + 2K) candidate wealths / ``initial_wealth`` (0 where empty); K = ``n_candidates`` |
| Candidates | the agent's cellmates *at its turn* (below), as a list that starts at a uniformly drawn one and wraps around; the first ``n_candidates`` entries |
| Reward | change of own wealth over the tick / ``initial_wealth`` (zero-sum: a tick's rewards add up to 0) |
| State | every agent's observation, flattened |
| Names | observation ``wealth``, ``cellmates``, ``turn``, ``candidate_0`` ... ``candidate_{K-1}`` (the flags), ``candidate_wealth_0`` ... ``candidate_wealth_{K-1}``; action ``give_to`` (the one Discrete choice); the agent group's ``observation_names`` and ``action_names`` |

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 | ``give`` (agent group ``agent``) | ``move.turn``, ``move.candidates``, ``move.n_cellmates`` | ``wealth``, ``reward``, ``transfers`` |
| L2 | ``move`` (random walk) | | ``cell``, ``turn``, ``candidates``, ``n_cellmates`` |
| L2 | ``inequality`` (aggregator) | ``give.wealth`` | ``gini`` |

Dynamics. In Mesa's step each agent, in a random turn order, moves and then gives to a random
agent of its new cell: its cellmates at that moment are the agents that moved into the cell
earlier in the turn order and those that sat there since last step and have their turn later.
Moves do not depend on wealth, so the same step can be run as: all moves (the ``move``
stream draws the turn order and the moves, and lists every agent's cellmates at its turn),
then all gifts in turn order (the ``give`` agent group). The gifts are resolved without a loop
over agents: an agent holding wealth gives; one without gives only if a unit reached it from
an earlier turn, settled in rounds along the chains of passed-on units. This is Mesa's step
in law. To let agents see whom they can give to, the ``move`` of step ``t + 1`` closes tick
``t`` (the reset places the agents and draws the first step's moves), so the wealth after tick
``t`` follows the law of Mesa's after step ``t``; ``move.cell`` is the cell an agent has moved
to for its next turn. Under the Mesa rule the Gini coefficient matches Mesa's: 0.49 after one
tick, about 0.65 in the long run on the default 10x10 grid with 100 agents (see the tests).

Moves: to a neighbour cell (8-cell Moore neighbourhood, fewer at the border; never staying)
drawn uniformly, like Mesa's ``OrthogonalMooreGrid`` (``torus=False``); cells are numbered
``x * height + y``.

Metrics (per tick): ``inequality.gini`` (Mesa's ``compute_gini``), ``inequality.zero_share``
(share of agents without wealth), ``inequality.max_share`` (largest wealth / total wealth),
``give.transfers`` (units given this tick). Per episode: ``inequality.mean_gini`` (over the
ticks), ``inequality.final_gini``, ``give.total_transfers``.

Heuristic: the Mesa rule (action 0) for every agent. A tick's rewards sum to zero, so the mean
episode return over agents is 0 under every policy; the heuristic is the reference dynamics,
not a better-scoring policy.

Version history: v0 (initial release).
"""

from __future__ import annotations

from dataclasses import dataclass

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
from heas_envs.core.grid import grid_neighbours, neighbour_from_draws, radix_argsort
from heas_envs.core.model import Model
from heas_envs.core.params import MAX_STEPS, ModelParams, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

#: Agents (over the worlds of a batch) whose moves, gifts and observations are worked out
#: together: the worlds of a large batch go a few at a time, so that the working arrays stay in
#: the processor's cache (each world's results are the same whatever the grouping).
CHUNK_AGENTS = 4096


def world_chunks(n_worlds: int, n_agents: int) -> list[slice]:
    """The worlds ``0 .. n_worlds - 1`` in consecutive slices of about :data:`CHUNK_AGENTS`
    agents (at least one world each)."""
    step = max(1, CHUNK_AGENTS // max(n_agents, 1))
    return [slice(w, min(w + step, n_worlds)) for w in range(0, n_worlds, step)]


# -- streams -------------------------------------------------------------------------------------
class RandomWalk(Stream):
    """Mesa's moves: every agent, in a random turn order, moves to a random Moore neighbour cell.

    The stream also lists, for every agent, the cellmates it meets at its turn in Mesa's
    sequential activation: those that moved into its new cell earlier in the turn order,
    and those still sitting there because their turn comes later.
    """

    writes = ("cell", "turn", "candidates", "n_cellmates")

    def __init__(
        self, name: str, n_agents: int, width: int, height: int, n_candidates: int
    ) -> None:
        super().__init__(name)
        self.n_agents, self.n_candidates = n_agents, n_candidates
        self.n_cells = width * height
        self.table, self.count = grid_neighbours(width, height, moore=True, torus=False)
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def reset(self, ctx: Context) -> None:
        # Mesa's random placement, then the moves of Mesa's first step (its gives come next).
        placed = ctx.rng.integers(0, self.n_cells, size=(ctx.n_worlds, self.n_agents))
        self._move(ctx, placed)

    def step(self, ctx: Context) -> None:
        self._move(ctx, ctx[self.key("cell")])

    def _move(self, ctx: Context, old: np.ndarray) -> None:
        b, n, k_max = ctx.n_worlds, self.n_agents, self.n_candidates
        # One draw per world of the turn keys, the moves and the list starts: the numbers of
        # three draws of n each, in that order (a world's generator fills one draw in order).
        draws = ctx.rng.random((b, 3 * n))
        new = np.empty((b, n), dtype=np.int64)
        turn = np.empty((b, n), dtype=np.int64)
        candidates = np.empty((b, n, k_max), dtype=np.int64)
        mates = np.empty((b, n), dtype=np.int64)
        # The worlds are independent: a few at a time keep the working arrays in the cache.
        for rows in world_chunks(b, n):
            self._move_worlds(
                old[rows], draws[rows], new[rows], turn[rows], candidates[rows], mates[rows]
            )
        self.write(ctx, "cell", new)
        self.write(ctx, "turn", turn)
        self.write(ctx, "candidates", candidates)
        self.write(ctx, "n_cellmates", mates)

    def _move_worlds(
        self,
        old: np.ndarray,
        draws: np.ndarray,
        new_out: np.ndarray,
        turn_out: np.ndarray,
        candidates_out: np.ndarray,
        mates_out: np.ndarray,
    ) -> None:
        """The moves and cellmate lists of ``c`` worlds (``old`` ``[c, n]``, ``draws``
        ``[c, 3n]``), written into the ``*_out`` rows of those worlds."""
        c, n = old.shape
        n_agents, n_events = c * n, 2 * c * n
        by_turn = np.argsort(draws[:, :n], axis=1)  # by_turn[w, t]: the agent whose turn is t
        by_turn += np.arange(0, n_agents, n)[:, None]
        by_turn = by_turn.ravel()  # flat agents (over the c worlds) in (world, turn) order
        base, within = self._positions(c)
        turn = turn_out.reshape(n_agents)
        turn[by_turn] = within
        new = neighbour_from_draws(self.table, self.count, old, draws[:, n : 2 * n])
        new_out[...] = new
        # Every agent leaves its old cell and enters its new one at its turn: 2n events per
        # world, in turn order (leaving before entering). Sorted by cell (stably), each cell's
        # events are in turn order, so an agent entering a cell meets the agents that entered
        # before it and those whose leaving comes after its entering.
        events = np.empty((n_agents, 2), dtype=np.uint16 if self.n_cells <= 1 << 16 else np.int64)
        events[:, 0] = old.ravel()[by_turn]
        events[:, 1] = new.ravel()[by_turn]
        pos = radix_argsort(events.reshape(c, 2 * n), self.n_cells)  # per world, stable
        pos += np.arange(0, n_events, 2 * n)[:, None]
        pos = pos.ravel()  # flat event indices, sorted by (world, cell, turn, entering)
        cells = events.ravel()[pos]
        first = np.empty(n_events, dtype=bool)  # an event that opens its (world, cell) group
        first[0] = True
        np.not_equal(cells[1:], cells[:-1], out=first[1:])
        first[:: 2 * n] = True
        agent = by_turn[pos >> 1]
        entering = (pos & 1).astype(bool)
        at = np.flatnonzero(entering)  # the entering events, sorted by (world, cell, turn)
        by_new, by_old = agent[at], agent[~entering]
        starts = np.flatnonzero(first)
        group = np.cumsum(first)[at]
        group -= 1
        entered_before = np.cumsum(entering)  # entering events up to and including each
        new_before_start = entered_before[starts] - entering[starts]  # per group
        old_before_end = np.append(starts[1:], n_events) - np.append(new_before_start[1:], n_agents)
        j = np.arange(n_agents)  # an entering event's index in by_new
        a_start = new_before_start[group]  # the group's first entry in by_new
        a_count = j - a_start  # earlier turns that entered the same cell
        b_start = at - j  # leaving events before this entering one: the later leavers' start
        mates_sorted = old_before_end[group] - b_start + a_count
        mates = mates_out.reshape(n_agents)
        mates[by_new] = mates_sorted
        # The list starts at a uniformly drawn cellmate (Mesa's pick) and wraps around: entry k
        # of agent `who`'s list is its (start + k) % count-th cellmate, for k < min(count, K).
        k_max = candidates_out.shape[2]
        candidates = candidates_out.reshape(n_agents * k_max)
        candidates.fill(-1)
        live = np.flatnonzero(mates_sorted)
        who, count = by_new[live], mates_sorted[live]
        base = base[live]  # by_new lists n agents per world, world by world
        start = (draws.ravel()[who + 2 * base + 2 * n] * count).astype(np.int64)
        listed = np.concatenate([by_new, by_old])
        new_at, old_at, split = a_start[live], b_start[live], a_count[live]
        old_at += n_agents - split
        length = np.minimum(count, k_max)
        pair = np.repeat(np.arange(live.size), length)  # one entry per (agent, list position)
        k = np.arange(pair.size) - np.repeat(np.cumsum(length) - length, length)
        count = count[pair]
        idx = start[pair] + k  # below 2 * count: the remainder takes one subtraction
        idx -= count * (idx >= count)
        source = np.where(idx < split[pair], new_at[pair], old_at[pair]) + idx
        candidates[who[pair] * k_max + k] = listed[source] - base[pair]

    def _positions(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """For the flat agents ``i`` of ``c`` worlds: ``(i // n) * n`` (the first agent of
        ``i``'s world) and ``i % n``, kept between ticks."""
        if c not in self._kept:
            n = self.n_agents
            self._kept[c] = (np.repeat(np.arange(0, c * n, n), n), np.tile(np.arange(n), c))
        return self._kept[c]


class Givers(AgentGroup):
    """Agents who may give one unit of wealth to a cellmate, in Mesa's sequential turn order."""

    role = "agent"
    reads = ("move.turn", "move.candidates", "move.n_cellmates")
    writes = ("wealth", "reward", "transfers")

    def __init__(self, name: str, n_agents: int, initial_wealth: int, n_candidates: int) -> None:
        super().__init__(name, n_agents)
        self.initial_wealth, self.n_candidates = initial_wealth, n_candidates
        k = n_candidates
        self.observation_names = (
            "wealth",
            "cellmates",
            "turn",
            *(f"candidate_{j}" for j in range(k)),
            *(f"candidate_wealth_{j}" for j in range(k)),
        )
        self.action_names = ("give_to",)  # one Discrete choice
        high = np.concatenate(
            [[n_agents, max(n_agents - 1, 0) / k, 1.0], np.ones(k), np.full(k, n_agents)]
        ).astype(np.float32)
        self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.action_space = spaces.Discrete(n_candidates + 1)
        self.keep = n_candidates  # the action that gives nothing
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        self.write(ctx, "wealth", np.full((b, n), self.initial_wealth, dtype=np.int64))
        self.write(ctx, "reward", np.zeros((b, n)))
        self.write(ctx, "transfers", np.zeros(b, dtype=np.int64))
        self._total_transfers = np.zeros(b, dtype=np.int64)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        actions = np.asarray(actions).reshape(b, n)
        turn = self.read(ctx, "move.turn")
        candidates = self.read(ctx, "move.candidates")
        wealth = ctx[self.key("wealth")]
        new = np.empty((b, n), dtype=np.int64)
        reward = np.empty((b, n))
        transfers = np.empty(b, dtype=np.int64)
        for rows in world_chunks(b, n):  # the worlds are independent: a few at a time
            transfers[rows] = self._give(
                actions[rows], turn[rows], candidates[rows], wealth[rows], new[rows]
            )
            reward[rows] = (new[rows] - wealth[rows]) / self.initial_wealth
        self.write(ctx, "wealth", new)
        self.write(ctx, "reward", reward)
        self.write(ctx, "transfers", transfers)
        self._total_transfers += transfers

    def _give(
        self,
        actions: np.ndarray,
        turn: np.ndarray,
        candidates: np.ndarray,
        wealth: np.ndarray,
        new_out: np.ndarray,
    ) -> np.ndarray:
        """The gifts of ``c`` worlds (``[c, n, ...]`` rows): writes their wealth after the tick
        into ``new_out`` and returns their numbers of gifts, ``[c]``."""
        c, n, k_max = candidates.shape
        act = np.clip(actions.reshape(c * n).astype(np.int64), 0, self.keep)
        pick = np.minimum(act, k_max - 1)
        pick += np.arange(0, c * n * k_max, k_max)
        local = candidates.ravel()[pick]
        base = np.repeat(np.arange(0, c * n, n), n)  # the first flat agent of each one's world
        target = np.where((act < self.keep) & (local >= 0), local + base, -1)
        wealth = wealth.ravel()
        gave = gives_in_turn_order(wealth, target, turn.ravel())
        received = np.bincount(target[gave], minlength=c * n)
        new_out[...] = (wealth - gave + received).reshape(c, n)
        return np.bincount(np.flatnonzero(gave) // n, minlength=c)

    def observe(self, ctx: Context) -> np.ndarray:
        # Every entry lies in the observation space by construction (wealth is conserved, so
        # no agent holds more than n_agents * initial_wealth; at most n_agents - 1 cellmates;
        # turns below n_agents), so no clipping is needed.
        b, n, k = ctx.n_worlds, self.n_agents, self.n_candidates
        candidates = self.read(ctx, "move.candidates")
        wealth = ctx[self.key("wealth")]
        cellmates, turn = self.read(ctx, "move.n_cellmates"), self.read(ctx, "move.turn")
        obs = np.empty((b, n, 3 + 2 * k), dtype=np.float32)
        for rows in world_chunks(b, n):
            c = rows.stop - rows.start
            # Wealth in a [c, n + 1] table whose column 0 is zero: candidate -1 reads 0.
            table = np.zeros((c, n + 1), dtype=np.float32)
            table[:, 1:] = wealth[rows] / self.initial_wealth
            out = obs[rows]
            out[:, :, 0] = table[:, 1:]
            out[:, :, 1] = cellmates[rows] / k
            out[:, :, 2] = turn[rows] / n
            np.greater_equal(candidates[rows], 0, out=out[:, :, 3 : 3 + k])
            index, mate_wealth = self._scratch(c)  # kept between ticks: no allocation
            np.add(candidates[rows], np.arange(1, c * (n + 1), n + 1)[:, None, None], out=index)
            out[:, :, 3 + k :] = np.take(table.ravel(), index, out=mate_wealth, mode="clip")
        return obs

    def _scratch(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Buffers for the candidate indices and wealths of ``c`` worlds, kept between ticks."""
        if c not in self._kept:
            shape = (c, self.n_agents, self.n_candidates)
            self._kept[c] = (np.empty(shape, dtype=np.int64), np.empty(shape, dtype=np.float32))
        return self._kept[c]

    def reward(self, ctx: Context) -> np.ndarray:
        return ctx[self.key("reward")]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """The Mesa rule: give to candidate 0, a uniformly drawn cellmate (action 0)."""
        return np.zeros(obs.shape[:-1], dtype=np.int64)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"transfers": ctx[self.key("transfers")].astype(np.float64)}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"total_transfers": self._total_transfers.astype(np.float64)}


def gives_in_turn_order(wealth: np.ndarray, target: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """Which agents give, when they give one unit to ``target`` in ``turn`` order if they hold any.

    Sequential semantics without a loop over agents: an agent holding wealth gives; one
    without gives only if a unit reached it from an earlier turn. Those agents are resolved
    in rounds, each settling the agents whose earlier givers are all settled (the rounds
    follow the longest chain of passed-on units, a few in practice).

    Args:
        wealth: ``[n]`` wealth before the turns (flat over worlds).
        target: ``[n]`` flat index of the receiver, -1 for no gift. Receivers share a world
            with their giver.
        turn: ``[n]`` turn order within each world.

    Returns:
        ``[n]`` bool: who gives a unit.
    """
    wants = target >= 0
    gave = wants & (wealth > 0)
    pending = wants & (wealth <= 0)
    waiting = np.flatnonzero(pending)
    if not waiting.size:
        return gave
    giver = np.flatnonzero(wants)
    early = giver[turn[giver] < turn[target[giver]]]  # gifts that arrive before the receiver's turn
    receiver = target[early]
    # Only gifts to pending agents matter; each round settles some of them.
    keep = pending[receiver]
    early, receiver = early[keep], receiver[keep]
    got_mark = np.zeros(wealth.size, dtype=bool)
    wait_mark = np.zeros(wealth.size, dtype=bool)
    while waiting.size:
        got_to, wait_to = receiver[gave[early]], receiver[pending[early]]
        got_mark[got_to] = True
        wait_mark[wait_to] = True
        got = got_mark[waiting]
        settled = got | ~wait_mark[waiting]
        got_mark[got_to] = False
        wait_mark[wait_to] = False
        gave[waiting[got]] = True
        pending[waiting[settled]] = False
        waiting = waiting[~settled]
        keep = pending[receiver]
        early, receiver = early[keep], receiver[keep]
    return gave


def gini(wealth: np.ndarray) -> np.ndarray:
    """Mesa's Gini coefficient of the last axis of ``wealth`` (``[..., n]`` -> ``[...]``).

    ``1 + 1/n - 2 * sum_i x_(i) * (n - i) / (n * sum x)`` over the sorted wealths ``x_(i)``,
    ``i = 0 .. n-1``; 0 when all are equal (or all zero), ``1 - 1/n`` when one holds everything.
    """
    x = np.sort(np.asarray(wealth, dtype=np.float64), axis=-1)
    n = x.shape[-1]
    total = x.sum(axis=-1)
    weighted = (x * (n - np.arange(n))).sum(axis=-1)
    b = weighted / (n * np.where(total > 0, total, 1.0))
    return np.where(total > 0, 1.0 + 1.0 / n - 2.0 * b, 0.0)


class Inequality(Stream):
    """The Gini coefficient and related shares of the wealth distribution."""

    reads = ("give.wealth",)
    writes = ("gini",)

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "gini", gini(self.read(ctx, "give.wealth")))
        self._sum = np.zeros(ctx.n_worlds)
        self._ticks = 0

    def step(self, ctx: Context) -> None:
        g = gini(self.read(ctx, "give.wealth"))
        self.write(ctx, "gini", g)
        self._sum += g
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        wealth = self.read(ctx, "give.wealth")
        return {
            "gini": ctx[self.key("gini")],
            "zero_share": (wealth == 0).mean(axis=1),
            "max_share": wealth.max(axis=1) / wealth.sum(axis=1),
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_gini": self._sum / max(self._ticks, 1),
            "final_gini": ctx[self.key("gini")],
        }


# -- picture -------------------------------------------------------------------------------------
def boltzmann_frame(ctx: Context, width: int, height: int, world: int = 0) -> np.ndarray:
    """World ``world``'s grid as an RGB frame: each cell's total wealth, from white (none) to
    dark blue (the richest cell); cells with agents but no wealth are light grey."""
    from heas_envs.env.render import grid_frame, shade

    n_cells = width * height
    cell, wealth = ctx["move.cell"][world], ctx["give.wealth"][world]
    total = np.bincount(cell, weights=wealth, minlength=n_cells)
    occupied = np.bincount(cell, minlength=n_cells) > 0
    cells = shade(total / max(total.max(), 1), [255, 255, 255], [8, 48, 107])
    cells[occupied & (total == 0)] = [215, 215, 215]
    return grid_frame(cells.reshape(width, height, 3).transpose(1, 0, 2))


def boltzmann_spec(
    *,
    n_agents: int,
    width: int,
    height: int,
    initial_wealth: int,
    n_candidates: int,
) -> list[LayerSpec]:
    """The Boltzmann wealth model's layer specs (parameters as in :class:`BoltzmannEnv`)."""
    give = StreamSpec(
        "give",
        Givers,
        dict(n_agents=n_agents, initial_wealth=initial_wealth, n_candidates=n_candidates),
    )
    move = StreamSpec(
        "move",
        RandomWalk,
        dict(n_agents=n_agents, width=width, height=height, n_candidates=n_candidates),
    )
    return [
        LayerSpec([give], name="L1 give"),
        LayerSpec([move, StreamSpec("inequality", Inequality)], name="L2 move"),
    ]


_GRID_MEMORY = (
    "the neighbour table holds 9 cells per cell of the width x height grid: a 2000 x 2000 "
    "grid with the most agents takes about 3 GiB at reset and step; larger grids need more "
    "than this machine's memory"
)


@dataclass(frozen=True, kw_only=True)
class BoltzmannParams(ModelParams):
    """The Boltzmann wealth model's parameters (the keyword arguments of :class:`BoltzmannEnv`)."""

    n_agents: int = param(
        100,
        1,
        500_000,
        "Number of agents (Mesa's ``n``)",
        why="half a million agents with 64 candidates on a 2000 x 2000 grid take about "
        "3 GiB at reset and step; more need more than this machine's memory",
    )
    width: int = param(
        10,
        1,
        2000,
        "Grid width",
        why=_GRID_MEMORY,
    )
    height: int = param(
        10,
        1,
        2000,
        "Grid height",
        why=_GRID_MEMORY,
    )
    initial_wealth: int = param(
        1, 1, 1_000_000, "Units of wealth every agent starts with (Mesa: 1)"
    )
    n_candidates: int = param(8, 1, 64, "Length of the observed candidate list")
    max_steps: int = param(200, 1, MAX_STEPS, "Ticks per episode (truncation)")


class BoltzmannEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "boltzmann_v0"}
    Params = BoltzmannParams

    def build_model(self, params: BoltzmannParams, n_worlds: int = 1) -> Model:
        """The Boltzmann wealth model for validated ``params``."""
        return make_model(boltzmann_spec(**params.model_kwargs()), n_worlds)

    def render_rgb(self) -> np.ndarray:
        """The grid as a picture (see :func:`boltzmann_frame`)."""
        self._require_reset("render_rgb()")
        return boltzmann_frame(self.model.ctx, self.params["width"], self.params["height"])


parallel_env, raw_env = pettingzoo_constructors(BoltzmannEnv)
env = raw_env
__doc__ = BoltzmannEnv.__doc__  # with the Args: section generated from the declaration
