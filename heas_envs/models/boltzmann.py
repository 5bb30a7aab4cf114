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
from heas_envs.core.grid import grid_neighbours, random_neighbour
from heas_envs.core.model import Model
from heas_envs.core.params import MAX_STEPS, ModelParams, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors


# -- array helpers shared with the wolf-sheep model -------------------------------------------
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

    def reset(self, ctx: Context) -> None:
        # Mesa's random placement, then the moves of Mesa's first step (its gives come next).
        placed = ctx.rng.integers(0, self.n_cells, size=(ctx.n_worlds, self.n_agents))
        self._move(ctx, placed)

    def step(self, ctx: Context) -> None:
        self._move(ctx, ctx[self.key("cell")])

    def _move(self, ctx: Context, old: np.ndarray) -> None:
        b, n, k_max, n_cells = ctx.n_worlds, self.n_agents, self.n_candidates, self.n_cells
        turn = np.argsort(ctx.rng.random((b, n)), axis=1).argsort(axis=1)
        new = random_neighbour(self.table, self.count, old, ctx.rng)
        world = np.repeat(np.arange(b), n)
        tau = turn.ravel()
        group = (world * n_cells + new.ravel()) * n  # first key of the agent's new cell
        key_new = group + tau
        key_old = (world * n_cells + old.ravel()) * n + tau
        by_new = np.argsort(key_new)
        by_old = np.argsort(key_old)
        sorted_new, sorted_old = key_new[by_new], key_old[by_old]
        # Earlier turns that moved into the same cell, and later turns that have not left it yet.
        a_start = np.searchsorted(sorted_new, group, "left")
        a_count = np.searchsorted(sorted_new, key_new, "left") - a_start
        b_start = np.searchsorted(sorted_old, key_new, "right")
        b_count = np.searchsorted(sorted_old, group + n, "left") - b_start
        mates = a_count + b_count
        # The list starts at a uniformly drawn cellmate (Mesa's pick) and wraps around.
        offset = (ctx.rng.random((b, n)).reshape(-1) * np.maximum(mates, 1)).astype(np.int64)
        candidates = np.full((b * n, k_max), -1, dtype=np.int64)
        last = b * n - 1
        for k in range(k_max):  # a loop over list positions, vectorised over agents
            has = k < mates
            idx = (offset + k) % np.maximum(mates, 1)
            from_new = by_new[np.minimum(a_start + idx, last)]
            from_old = by_old[np.clip(b_start + idx - a_count, 0, last)]
            mate = np.where(idx < a_count, from_new, from_old)
            candidates[has, k] = mate[has] - world[has] * n
        self.write(ctx, "cell", new)
        self.write(ctx, "turn", turn)
        self.write(ctx, "candidates", candidates.reshape(b, n, k_max))
        self.write(ctx, "n_cellmates", mates.reshape(b, n))


class Givers(AgentGroup):
    """Agents who may give one unit of wealth to a cellmate, in Mesa's sequential turn order."""

    role = "agent"
    reads = ("move.turn", "move.candidates", "move.n_cellmates")
    writes = ("wealth", "reward", "transfers")

    def __init__(self, name: str, n_agents: int, initial_wealth: int, n_candidates: int) -> None:
        super().__init__(name, n_agents)
        self.initial_wealth, self.n_candidates = initial_wealth, n_candidates
        k = n_candidates
        high = np.concatenate(
            [[n_agents, max(n_agents - 1, 0) / k, 1.0], np.ones(k), np.full(k, n_agents)]
        ).astype(np.float32)
        self.observation_space = spaces.Box(np.zeros_like(high), high, dtype=np.float32)
        self.action_space = spaces.Discrete(n_candidates + 1)
        self.keep = n_candidates  # the action that gives nothing

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.n_agents
        self.write(ctx, "wealth", np.full((b, n), self.initial_wealth, dtype=np.int64))
        self.write(ctx, "reward", np.zeros((b, n)))
        self.write(ctx, "transfers", np.zeros(b, dtype=np.int64))
        self._total_transfers = np.zeros(b, dtype=np.int64)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        b, n, k_max = ctx.n_worlds, self.n_agents, self.n_candidates
        act = np.clip(np.asarray(actions).reshape(b * n).astype(np.int64), 0, self.keep)
        turn = self.read(ctx, "move.turn").ravel()
        candidates = self.read(ctx, "move.candidates").reshape(b * n, k_max)
        world = np.repeat(np.arange(b), n)
        local = candidates[np.arange(b * n), np.minimum(act, k_max - 1)]
        target = np.where((act < self.keep) & (local >= 0), local + world * n, -1)
        wealth = ctx[self.key("wealth")].ravel()
        gave = gives_in_turn_order(wealth, target, turn)
        received = np.bincount(target[gave], minlength=b * n)
        new = wealth - gave + received
        self.write(ctx, "wealth", new.reshape(b, n))
        self.write(ctx, "reward", ((new - wealth) / self.initial_wealth).reshape(b, n))
        transfers = np.bincount(world[gave], minlength=b)
        self.write(ctx, "transfers", transfers)
        self._total_transfers += transfers

    def observe(self, ctx: Context) -> np.ndarray:
        b, n, k = ctx.n_worlds, self.n_agents, self.n_candidates
        wealth = ctx[self.key("wealth")] / self.initial_wealth
        candidates = self.read(ctx, "move.candidates")
        present = candidates >= 0
        mate_wealth = np.take_along_axis(
            wealth, np.where(present, candidates, 0).reshape(b, n * k), 1
        )
        obs = np.empty((b, n, 3 + 2 * k), dtype=np.float32)
        obs[:, :, 0] = wealth
        obs[:, :, 1] = self.read(ctx, "move.n_cellmates") / k
        obs[:, :, 2] = self.read(ctx, "move.turn") / n
        obs[:, :, 3 : 3 + k] = present
        obs[:, :, 3 + k :] = np.where(present, mate_wealth.reshape(b, n, k), 0.0)
        return np.clip(obs, self.observation_space.low, self.observation_space.high)

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
    giver = np.flatnonzero(wants)
    early = giver[turn[giver] < turn[target[giver]]]  # gifts that arrive before the receiver's turn
    receiver = target[early]
    size = wealth.size
    while pending.any():
        got = np.bincount(receiver[gave[early]], minlength=size) > 0
        waiting = np.bincount(receiver[pending[early]], minlength=size) > 0
        settled = pending & (got | ~waiting)
        gave |= settled & got
        pending &= ~settled
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
