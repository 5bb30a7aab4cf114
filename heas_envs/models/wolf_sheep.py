"""Wolf-sheep predation under a ranger who culls wolves and limits grazing.

A port of Mesa's ``examples/advanced/wolf_sheep`` (Mesa 3.3; Wilensky's NetLogo model) with
Mesa's rules and default parameters, stepped as arrays, plus the two policy genes of HEAS's
``heas.experiments.wolf_sheep`` (``harvest_rate`` in [0, 0.3], ``grazing_rate`` in [0, 1])
as the actions of one ``ranger`` agent. The animals are not PettingZoo agents: they live in
fixed pools of ``max_animals`` slots per species (struct of arrays with an alive mask).

| | |
|---|---|
| Id | ``heas_envs/WolfSheep-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives the ranger) |
| Agents | ``ranger_0`` (one slot, always alive) |
| Action | ``Box(0, 1, (2,))``: [0] harvest: each wolf is culled this tick with probability ``action[0] * max_harvest_rate`` (HEAS ``harvest_rate``); [1] grazing: a sheep standing on grown grass may graze with probability ``action[1]`` (HEAS ``grazing_rate``) |
| Observation | ``Box((5,))``: sheep / ``initial_sheep`` and wolves / ``initial_wolves`` (each clipped to [0, 10]; a zero initial count counts as 1), share of grown grass patches in [0, 1], mean sheep energy / (2 * ``sheep_gain_from_food``) and mean wolf energy / (2 * ``wolf_gain_from_food``) (each clipped to [0, 10]; 0 without animals) |
| Reward | sheep alive after the tick / ``initial_sheep`` (a zero initial count counts as 1), minus ``extinction_penalty`` for each species that dies out in this tick (once: extinction is final) |
| State | the ranger's observation |
| Names | observation ``sheep``, ``wolves``, ``grass``, ``sheep_energy``, ``wolf_energy``; action ``harvest``, ``grazing`` (in index order: the ranger group's ``observation_names`` and ``action_names``) |

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 | ``ranger`` (agent group ``ranger``) | ``wolf_sheep.sheep``, ``wolf_sheep.wolves``, ``wolf_sheep.grass``, ``wolf_sheep.sheep_energy``, ``wolf_sheep.wolf_energy``, ``wolf_sheep.extinctions`` | ``harvest_rate``, ``grazing_rate`` |
| L2 | ``sheep`` | ``ranger.grazing_rate``, ``wolves.alive``, ``wolves.cell``, ``wolves.kills`` (last tick), ``grass.grown`` (last tick) | ``alive``, ``cell``, ``energy``, ``grazed`` |
| L3 | ``wolves`` | ``ranger.harvest_rate``, ``sheep.alive``, ``sheep.cell`` | ``alive``, ``cell``, ``energy``, ``kills``, ``culled``, ``eaten`` |
| L4 | ``grass`` | ``sheep.grazed`` | ``grown``, ``countdown`` |
| L4 | ``wolf_sheep`` (census) | ``sheep.alive``, ``sheep.energy``, ``wolves.alive``, ``wolves.energy``, ``wolves.kills``, ``grass.grown`` | ``sheep``, ``wolves``, ``grass``, ``sheep_energy``, ``wolf_energy``, ``extinctions`` |

Sheep eaten in L3 are marked in ``wolves.kills`` (the sheep stream owns the sheep arrays);
the census counts them as dead at once and the sheep stream clears their slots first thing
next tick.

Dynamics (Mesa's, per tick): the grid is ``width`` x ``height``, toroidal, with the 4-cell von
Neumann neighbourhood; any number of animals share a cell. At reset every cell's grass is grown
with probability 1/2, else it gets a countdown drawn from ``0 .. grass_regrowth_time - 1``
(0 = grown); sheep and wolves are placed uniformly at random with energy uniform in
``[0, 2 * gain_from_food)``. Then every tick:

1. The ranger sets the harvest and grazing rates.
2. Sheep (all at once): move to a uniformly drawn neighbour cell without wolves, preferring
   cells with grown grass (stay if every neighbour holds a wolf); lose 1 energy; graze (if the
   cell's grass is grown and the ranger's grazing draw allows it: +``sheep_gain_from_food``,
   the grass is eaten); die if energy < 0; else reproduce with probability
   ``sheep_reproduce`` (the offspring takes half the parent's energy, in the parent's cell).
3. Wolves (all at once): each is culled with probability ``harvest_rate``; the rest move to a
   uniformly drawn neighbour cell, preferring cells with sheep; lose 1 energy; eat one sheep of
   their cell (+``wolf_gain_from_food``) if one is left; die if energy < 0; else reproduce with
   probability ``wolf_reproduce`` as sheep do.
4. Grass: a patch eaten in tick ``t`` grows back at the end of tick ``t + grass_regrowth_time``
   (Mesa's scheduled regrowth event), so it is edible again from the tick after.

Vectorised conflict rules (Mesa activates the animals of a species one by one in a random
order; here they act at once): two sheep grazing one patch: one of the sheep allowed to graze
there, drawn uniformly, eats it (Mesa: the first in the random order); ``k`` wolves in a cell
with ``m`` sheep: ``min(k, m)`` of the wolves, drawn uniformly, each eat a distinct sheep drawn
uniformly (the same law as Mesa's sequential order). Movement choices use the grass, wolf and
sheep positions at the start of the species' sub-step, whereas in Mesa an animal acting later
sees the grass eaten and sheep killed earlier in the same sub-step. Sheep see the wolves culled
in the same tick, since the cull happens in the wolves' sub-step.
Every random draw is made per world (each animal's draws come from its world's generator, the
random order within a cell from per-animal tie-break draws), so a world of a batch follows the
trajectory of a single world with its seed, whatever the other worlds do.

Capacity: each species has ``max_animals`` slots; a newborn takes a free slot (slots of the
dead are reused), and births beyond the free slots are dropped (the parent keeps its energy,
counted in ``dropped_births``), so populations stay in ``[0, max_animals]``.

With ``grass=False`` sheep neither graze nor lose energy (Mesa 2 and NetLogo's sheep-wolves
version; Mesa 3.3 fails on this setting).

Metrics (per tick): ``wolf_sheep.sheep``, ``wolf_sheep.wolves``, ``wolf_sheep.grass`` (grown
patches; Mesa's DataCollector columns), ``ranger.harvest_rate``, ``ranger.grazing_rate``,
``sheep.births``, ``sheep.dropped_births``, ``sheep.grazed`` (patches eaten),
``sheep.starved``, ``wolves.culled``, ``wolves.sheep_eaten``, ``wolves.births``,
``wolves.dropped_births``, ``wolves.starved``, ``grass.regrown``. Per episode (HEAS's names):
``wolf_sheep.mean_sheep``, ``wolf_sheep.mean_wolves``, ``wolf_sheep.final_sheep``,
``wolf_sheep.final_wolves``, ``wolf_sheep.extinct`` (1 if a species that existed at reset is
gone), ``wolf_sheep.coexistence`` (share of ticks with both species alive),
``ranger.mean_harvest_rate``, ``ranger.mean_grazing_rate``, ``sheep.total_births``,
``sheep.total_dropped_births``, ``wolves.total_births``, ``wolves.total_dropped_births``,
``wolves.total_culled``.

Heuristic: the ranger culls wolves in proportion to how far the wolf/sheep ratio exceeds its
value at reset, stops culling while wolves are scarce (below 1/10 of their initial count) so that
they do not die out, and always allows full grazing.

Version history: v0 (initial release).
"""

from __future__ import annotations

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
from heas_envs.core.grid import grid_neighbours, group_ranks
from heas_envs.core.model import Model
from heas_envs.core.params import MAX_STEPS, ModelParams, check_int, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

RATIO_CLIP = 10.0  # observed population and energy ratios are clipped to [0, RATIO_CLIP]
SCARCE_WOLVES = 0.1  # the heuristic stops culling below this share of the initial wolves


GRASS_RGB, EATEN_RGB = np.array([96, 168, 72]), np.array([150, 110, 60])
SHEEP_RGB, WOLF_RGB = np.array([255, 255, 255]), np.array([200, 30, 30])


# -- array helpers -------------------------------------------------------------------------------
def place_births(alive: np.ndarray, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Free slots for the offspring of ``parents``, in slot order; births beyond them are dropped.

    Args:
        alive: ``[B, M]`` bool, the occupied slots.
        parents: ``[B, M]`` bool, the slots whose animal gives birth (a subset of ``alive``).

    Returns:
        ``(parent, child)``: flat indices (over ``B * M``) of the parents whose offspring
        found a slot and of those slots.
    """
    b, m = alive.shape
    return births_into_free_slots(np.flatnonzero(alive), np.flatnonzero(parents), b, m)


def births_into_free_slots(
    live: np.ndarray, parents: np.ndarray, n_worlds: int, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`place_births` from the sorted flat indices of the occupied slots (``live``) and
    of the parents (a subset of ``live``), in time linear in their number (not in ``B * M``).

    World ``w``'s ``r``-th parent (in slot order) takes its ``r``-th free slot if it has one:
    the slot ``r + (number of the world's live slots with at most r free slots before them)``.

    Returns:
        ``(parent, child)`` as :func:`place_births`.
    """
    live_world = live // m
    n_live = np.bincount(live_world, minlength=n_worlds)
    parent_world = parents // m
    n_parents = np.bincount(parent_world, minlength=n_worlds)
    rank = np.arange(parents.size) - np.repeat(np.cumsum(n_parents) - n_parents, n_parents)
    accepted = rank < (m - n_live)[parent_world]
    parent, rank, world = parents[accepted], rank[accepted], parent_world[accepted]
    if not parent.size:
        return parent, parent
    live_start = np.cumsum(n_live) - n_live
    free_before = live - live_world * m - np.arange(live.size) + np.repeat(live_start, n_live)
    passed = np.searchsorted(live_world * (m + 1) + free_before, world * (m + 1) + rank, "right")
    return parent, world * m + rank + passed - live_start[world]


def per_animal(ctx: Context, idx: np.ndarray, m: int, width: int = 0) -> np.ndarray:
    """Uniform draws for the animals ``idx`` (flat slots over ``B * m``, in world order): world
    ``b``'s draws come from world ``b``'s generator alone, as many as world ``b`` has animals.

    Returns:
        ``[len(idx)]`` floats, or ``[len(idx), width]`` for a ``width > 0``.
    """
    (draws,) = draws_in_a_row(ctx, [(np.bincount(idx // m, minlength=ctx.n_worlds), width)])
    return draws


def draws_in_a_row(ctx: Context, parts: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Several per-world draws that follow each other, made as one draw per world.

    Part ``(counts, width)`` is ``counts[b]`` uniform floats (``width == 0``) or rows of
    ``width`` (``width > 0``) for world ``b``. The result is exactly what drawing the parts one
    after the other with :meth:`~heas_envs.core.random.WorldRandom.random_per_world` gives
    (each world's generator fills a draw in order, so one draw of the parts' total size holds
    the same numbers), but with one generator call per world instead of one per part and world.

    Returns:
        One array per part, in world order: ``[sum(counts)]`` or ``[sum(counts), width]``.
    """
    sizes = [np.asarray(counts, dtype=np.int64) * max(width, 1) for counts, width in parts]
    per_world = sizes[0].copy()
    for size in sizes[1:]:
        per_world += size
    draws = ctx.rng.random_per_world(per_world)
    out = []
    if ctx.n_worlds == 1:
        offsets = np.cumsum([0] + [int(size[0]) for size in sizes])
        pieces = [draws[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]
    else:
        start = np.cumsum(per_world) - per_world  # where each world's draws begin
        pieces = []
        for size in sizes:
            total = int(size.sum())
            seg_start = np.cumsum(size) - size
            index = np.arange(total) + np.repeat(start - seg_start, size)
            pieces.append(draws[index])
            start = start + size
    for piece, (_, width) in zip(pieces, parts):
        out.append(piece.reshape(-1, width) if width else piece)
    return out


def choose_cell(
    preferred: np.ndarray, options: np.ndarray, stay: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """Per row, a uniformly drawn ``options`` entry among the ``preferred`` ones (else ``stay``).

    Args:
        preferred: ``[n, k]`` bool, the eligible options.
        options: ``[n, k]`` cell indices.
        stay: ``[n]`` the cells of rows without an eligible option.
        draws: ``[n, k]`` independent uniform floats in ``[0, 1)`` (the largest preferred wins).
    """
    keys = np.where(preferred, draws, -1.0)
    # The first largest key of each row (argmax along a short axis, a column at a time).
    best = keys[:, 0].copy()
    pick = np.zeros(len(keys), dtype=np.intp)
    for j in range(1, keys.shape[1]):
        column = keys[:, j]
        pick[column > best] = j
        np.maximum(best, column, out=best)
    pick += np.arange(0, pick.size * options.shape[1], options.shape[1])
    return np.where(best >= 0.0, options.ravel()[pick], stay)


def row_any(mask: np.ndarray) -> np.ndarray:
    """``mask.any(axis=1)`` for a ``[n, k]`` bool array, as one integer test per row when a
    row is 1, 2, 4 or 8 bytes."""
    k = mask.shape[1]
    if k in (1, 2, 4, 8) and mask.flags.c_contiguous:
        return mask.view(f"u{k}")[:, 0] != 0
    return mask.any(axis=1)


class _Grid:
    """The von Neumann torus of the model: neighbour table and counts, cells of all worlds.

    Cell tables over all worlds (``[B * n_cells]``) are kept between ticks and cleared after
    each use, so that a tick allocates (and the system maps) none of that size.
    """

    def __init__(self, width: int, height: int) -> None:
        self.n_cells = width * height
        self.table, self.count = grid_neighbours(width, height, moore=False, torus=True)
        self.valid = np.arange(self.table.shape[1]) < self.count[:, None]
        self._tables: dict[str, np.ndarray] = {}

    def present_at(self, patches: np.ndarray, query: np.ndarray, n_worlds: int) -> np.ndarray:
        """Whether any of ``patches`` (flat cells over worlds) is each ``query`` cell."""
        table = self._table("present", n_worlds, bool)
        table[patches] = True
        out = table[query]
        table[patches] = False
        return out

    def count_at(self, patches: np.ndarray, query: np.ndarray, n_worlds: int) -> np.ndarray:
        """How many of ``patches`` (flat cells over worlds) are each ``query`` cell."""
        table = self._table("count", n_worlds, np.int64)
        np.add.at(table, patches, 1)
        out = table[query]
        table[patches] = 0
        return out

    def first_of_each(self, patches: np.ndarray, tiebreak: np.ndarray, n_worlds: int) -> np.ndarray:
        """The elements (indices, ascending) that come first in their patch when each patch's
        elements are ordered by ``tiebreak`` (no NaN), equal values in element order: the
        ``rank == 0`` elements of :func:`~heas_envs.core.grid.group_ranks`, without a sort."""
        best = self._table("best", n_worlds, np.float64, np.inf)
        np.minimum.at(best, patches, tiebreak)
        lowest = np.flatnonzero(tiebreak == best[patches])
        best[patches] = np.inf
        at = patches[lowest]
        first = self._table("first", n_worlds, np.intp, np.iinfo(np.intp).max)
        np.minimum.at(first, at, lowest)  # equal lowest values: the first element wins
        winners = lowest[first[at] == lowest]
        first[at] = np.iinfo(np.intp).max
        return winners

    def _table(self, name: str, n_worlds: int, dtype: type, fill: Any = 0) -> np.ndarray:
        table = self._tables.get(name)
        if table is None or table.size != n_worlds * self.n_cells:
            table = self._tables[name] = np.full(n_worlds * self.n_cells, fill, dtype=dtype)
        return table


# -- streams -------------------------------------------------------------------------------------
class Ranger(AgentGroup):
    """The ranger: sets the wolf harvest (cull) rate and the grazing rate every tick."""

    role = "ranger"
    reads = (
        "wolf_sheep.sheep",
        "wolf_sheep.wolves",
        "wolf_sheep.grass",
        "wolf_sheep.sheep_energy",
        "wolf_sheep.wolf_energy",
        "wolf_sheep.extinctions",
    )
    writes = ("harvest_rate", "grazing_rate")

    def __init__(
        self,
        name: str,
        initial_sheep: int,
        initial_wolves: int,
        n_cells: int,
        sheep_gain_from_food: float,
        wolf_gain_from_food: float,
        max_harvest_rate: float,
        extinction_penalty: float,
    ) -> None:
        super().__init__(name, 1)
        self.sheep_scale = float(max(initial_sheep, 1))
        self.wolf_scale = float(max(initial_wolves, 1))
        self.n_cells = n_cells
        self.sheep_energy_scale = max(2.0 * sheep_gain_from_food, 1.0)
        self.wolf_energy_scale = max(2.0 * wolf_gain_from_food, 1.0)
        self.max_harvest_rate, self.extinction_penalty = max_harvest_rate, extinction_penalty
        self.observation_names = ("sheep", "wolves", "grass", "sheep_energy", "wolf_energy")
        self.action_names = ("harvest", "grazing")
        high = np.array([RATIO_CLIP, RATIO_CLIP, 1.0, RATIO_CLIP, RATIO_CLIP], dtype=np.float32)
        self.observation_space = spaces.Box(np.zeros(5, dtype=np.float32), high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "harvest_rate", np.zeros(ctx.n_worlds))
        self.write(ctx, "grazing_rate", np.ones(ctx.n_worlds))
        self._sums = np.zeros((2, ctx.n_worlds))
        self._ticks = 0

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        share = np.clip(np.asarray(actions, dtype=np.float64).reshape(ctx.n_worlds, 2), 0.0, 1.0)
        harvest, grazing = share[:, 0] * self.max_harvest_rate, share[:, 1]
        self.write(ctx, "harvest_rate", harvest)
        self.write(ctx, "grazing_rate", grazing)
        self._sums += np.stack([harvest, grazing])
        self._ticks += 1

    def observe(self, ctx: Context) -> np.ndarray:
        obs = np.stack(
            [
                self.read(ctx, "wolf_sheep.sheep") / self.sheep_scale,
                self.read(ctx, "wolf_sheep.wolves") / self.wolf_scale,
                self.read(ctx, "wolf_sheep.grass") / self.n_cells,
                self.read(ctx, "wolf_sheep.sheep_energy") / self.sheep_energy_scale,
                self.read(ctx, "wolf_sheep.wolf_energy") / self.wolf_energy_scale,
            ],
            axis=1,
        )
        return np.clip(obs, 0.0, self.observation_space.high)[:, None, :].astype(np.float32)

    def reward(self, ctx: Context) -> np.ndarray:
        kept = self.read(ctx, "wolf_sheep.sheep") / self.sheep_scale
        lost = self.extinction_penalty * self.read(ctx, "wolf_sheep.extinctions")
        return (kept - lost)[:, None]

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Cull as the wolf/sheep ratio grows past its initial value; spare scarce wolves."""
        sheep, wolves = obs[..., 0], obs[..., 1]
        excess = wolves / np.maximum(sheep, 0.1) - 1.0
        harvest = np.where(wolves < SCARCE_WOLVES, 0.0, np.clip(excess, 0.0, 1.0))
        return np.stack([harvest, np.ones_like(harvest)], axis=-1).astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "harvest_rate": ctx[self.key("harvest_rate")],
            "grazing_rate": ctx[self.key("grazing_rate")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        mean = self._sums / max(self._ticks, 1)
        return {"mean_harvest_rate": mean[0], "mean_grazing_rate": mean[1]}


class _Animals(Stream):
    """A pool of ``max_animals`` slots of one species: alive mask, cell and energy per slot."""

    def __init__(
        self,
        name: str,
        width: int,
        height: int,
        initial: int,
        max_animals: int,
        reproduce: float,
        gain_from_food: float,
    ) -> None:
        super().__init__(name)
        self.grid = _Grid(width, height)
        self.initial, self.max_animals = initial, max_animals
        self.reproduce, self.gain_from_food = reproduce, gain_from_food

    def _place(self, ctx: Context) -> None:
        b, m = ctx.n_worlds, self.max_animals
        alive = np.zeros((b, m), dtype=bool)
        alive[:, : self.initial] = True
        cell = np.zeros((b, m), dtype=np.int64)
        cell[:, : self.initial] = ctx.rng.integers(0, self.grid.n_cells, size=(b, self.initial))
        energy = np.zeros((b, m))
        energy[:, : self.initial] = ctx.rng.random((b, self.initial)) * 2 * self.gain_from_food
        self.write(ctx, "alive", alive)
        self.write(ctx, "cell", cell)
        self.write(ctx, "energy", energy)
        self._zero_counters(b)
        self._totals = {"births": np.zeros(b), "dropped_births": np.zeros(b)}

    def _zero_counters(self, b: int) -> None:
        self._counts = {k: np.zeros(b) for k in ("births", "dropped_births", "starved")}

    def _starve_and_breed(
        self,
        ctx: Context,
        idx: np.ndarray,
        alive: np.ndarray,
        cell: np.ndarray,
        energy: np.ndarray,
        starve: bool,
    ) -> None:
        """Death below zero energy, then reproduction into free slots; writes the pool back.

        ``idx`` lists the slots that acted this tick (sorted), ``cell`` and ``energy`` their
        new values; ``alive`` is a flat ``[B * M]`` copy of the pool's alive mask (modified
        here) in which ``idx`` are the only live slots.
        """
        b, m = ctx.n_worlds, self.max_animals
        if starve:
            dies = energy < 0
            dead, live = idx[dies], idx[~dies]
            alive[dead] = False
        else:
            dead, live = idx[:0], idx
        self._counts["starved"] = np.bincount(dead // m, minlength=b).astype(np.float64)
        breeders = live[per_animal(ctx, live, m) < self.reproduce]
        parent, child = births_into_free_slots(live, breeders, b, m)
        all_energy = ctx[self.key("energy")].reshape(b * m).copy()
        all_cell = ctx[self.key("cell")].reshape(b * m).copy()
        all_energy[idx] = energy
        all_cell[idx] = cell
        all_energy[parent] /= 2
        all_energy[child] = all_energy[parent]
        alive[child] = True
        all_cell[child] = all_cell[parent]
        births = np.bincount(parent // m, minlength=b).astype(np.float64)
        self._counts["births"] = births
        self._counts["dropped_births"] = np.bincount(breeders // m, minlength=b) - births
        for k in self._totals:
            self._totals[k] += self._counts[k]
        self.write(ctx, "alive", alive.reshape(b, m))
        self.write(ctx, "energy", all_energy.reshape(b, m))
        self.write(ctx, "cell", all_cell.reshape(b, m))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return dict(self._counts)

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {f"total_{k}": v for k, v in self._totals.items()}


class Sheep(_Animals):
    """Sheep: flee wolves, seek grass, graze, starve, reproduce."""

    reads = ("ranger.grazing_rate", "wolves.alive", "wolves.cell", "wolves.kills", "grass.grown")
    writes = ("alive", "cell", "energy", "grazed")

    def __init__(self, name: str, grass: bool, **params: Any) -> None:
        super().__init__(name, **params)
        self.grass = grass

    def reset(self, ctx: Context) -> None:
        self._place(ctx)
        b = ctx.n_worlds
        self.write(ctx, "grazed", np.zeros((b, self.grid.n_cells), dtype=bool))
        self._counts["grazed"] = np.zeros(b)

    def step(self, ctx: Context) -> None:
        b, m, grid = ctx.n_worlds, self.max_animals, self.grid
        n_cells = grid.n_cells
        alive = (ctx[self.key("alive")] & ~self.read(ctx, "wolves.kills")).reshape(b * m)
        idx = np.flatnonzero(alive)
        world = idx // m
        counts = np.bincount(world, minlength=b)
        cell = ctx[self.key("cell")].reshape(b * m)[idx]
        energy = ctx[self.key("energy")].reshape(b * m)[idx]
        # Move: to a neighbour without wolves, preferring grown grass; stay if wolves are all round.
        wolf_alive = self.read(ctx, "wolves.alive")
        wolf = np.flatnonzero(wolf_alive)
        wolf_patch = (wolf // wolf_alive.shape[1]) * n_cells + self.read(
            ctx, "wolves.cell"
        ).ravel()[wolf]
        grown = self.read(ctx, "grass.grown").reshape(b * n_cells)
        options = np.take(grid.table, cell, axis=0)
        where = world[:, None] * n_cells + np.maximum(options, 0)
        safe = np.take(grid.valid, cell, axis=0) & ~grid.present_at(wolf_patch, where, b)
        grassy = safe & grown[where]
        preferred = np.where(row_any(grassy)[:, None], grassy, safe)
        # The draws of the move, the grazing permission and the grazing order, in one go.
        parts = [(counts, options.shape[1])] + ([(counts, 0), (counts, 0)] if self.grass else [])
        draws = draws_in_a_row(ctx, parts)
        cell = choose_cell(preferred, options, cell, draws[0])
        eaten = idx[:0]
        if self.grass:
            energy -= 1.0
            # Graze: among the sheep allowed to graze on a grown patch, one drawn uniformly eats it.
            patch = world * n_cells + cell
            allowed = grown[patch] & (draws[1] < self.read(ctx, "ranger.grazing_rate")[world])
            eaters = np.flatnonzero(allowed)
            winners = eaters[grid.first_of_each(patch[eaters], draws[2][eaters], b)]
            energy[winners] += self.gain_from_food
            eaten = patch[winners]
        grazed = np.zeros(b * n_cells, dtype=bool)
        grazed[eaten] = True
        self._counts["grazed"] = np.bincount(eaten // n_cells, minlength=b).astype(np.float64)
        self._starve_and_breed(ctx, idx, alive, cell, energy, starve=self.grass)
        self.write(ctx, "grazed", grazed.reshape(b, n_cells))


class Wolves(_Animals):
    """Wolves: culled by the ranger, hunt toward sheep, eat one sheep, starve, reproduce."""

    reads = ("ranger.harvest_rate", "sheep.alive", "sheep.cell")
    writes = ("alive", "cell", "energy", "kills", "culled", "eaten")

    def __init__(self, name: str, max_sheep: int, **params: Any) -> None:
        super().__init__(name, **params)
        self.max_sheep = max_sheep

    def reset(self, ctx: Context) -> None:
        self._place(ctx)
        b = ctx.n_worlds
        self.write(ctx, "kills", np.zeros((b, self.max_sheep), dtype=bool))
        for key in ("culled", "eaten"):
            self.write(ctx, key, np.zeros(b))
        self._total_culled = np.zeros(b)

    def step(self, ctx: Context) -> None:
        b, m, grid = ctx.n_worlds, self.max_animals, self.grid
        n_cells, m_sheep = grid.n_cells, self.max_sheep
        alive = ctx[self.key("alive")].reshape(b * m).copy()
        idx = np.flatnonzero(alive)
        cull = per_animal(ctx, idx, m) < self.read(ctx, "ranger.harvest_rate")[idx // m]
        alive[idx[cull]] = False
        culled = np.bincount(idx[cull] // m, minlength=b).astype(np.float64)
        idx = idx[~cull]
        world = idx // m
        cell = ctx[self.key("cell")].reshape(b * m)[idx]
        energy = ctx[self.key("energy")].reshape(b * m)[idx]
        # Move: to a neighbour holding sheep if there is one, else to any neighbour.
        sheep = np.flatnonzero(self.read(ctx, "sheep.alive"))
        sheep_world = sheep // m_sheep
        sheep_patch = sheep_world * n_cells + self.read(ctx, "sheep.cell").ravel()[sheep]
        options = np.take(grid.table, cell, axis=0)
        valid = np.take(grid.valid, cell, axis=0)
        where = world[:, None] * n_cells + np.maximum(options, 0)
        with_sheep = valid & grid.present_at(sheep_patch, where, b)
        preferred = np.where(row_any(with_sheep)[:, None], with_sheep, valid)
        # The draws of the move, the wolves' order and the sheep's order, in one go.
        counts = np.bincount(world, minlength=b)
        sheep_counts = np.bincount(sheep_world, minlength=b)
        move, wolf_order, sheep_order = draws_in_a_row(
            ctx, [(counts, options.shape[1]), (counts, 0), (sheep_counts, 0)]
        )
        cell = choose_cell(preferred, options, cell, move)
        energy -= 1.0
        # Eat: k wolves, n sheep in a cell -> min(k, n) wolves and as many sheep, drawn uniformly.
        patch = world * n_cells + cell
        sheep_there = grid.count_at(sheep_patch, patch, b)
        hunting = np.flatnonzero(sheep_there)
        rank = group_ranks(patch[hunting], wolf_order[hunting], b * n_cells)
        eats = hunting[rank < sheep_there[hunting]]
        energy[eats] += self.gain_from_food
        hunters = grid.count_at(patch[eats], sheep_patch, b)
        hunted = np.flatnonzero(hunters)
        sheep_rank = group_ranks(sheep_patch[hunted], sheep_order[hunted], b * n_cells)
        killed = hunted[sheep_rank < hunters[hunted]]
        kills = np.zeros(b * m_sheep, dtype=bool)
        kills[sheep[killed]] = True
        self._starve_and_breed(ctx, idx, alive, cell, energy, starve=True)
        self._total_culled += culled
        self.write(ctx, "kills", kills.reshape(b, m_sheep))
        self.write(ctx, "culled", culled)
        self.write(ctx, "eaten", np.bincount(sheep_world[killed], minlength=b).astype(np.float64))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            **self._counts,
            "culled": ctx[self.key("culled")],
            "sheep_eaten": ctx[self.key("eaten")],
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {**super().metrics_episode(ctx), "total_culled": self._total_culled}


class Grass(Stream):
    """Grass patches: eaten patches count down ``regrowth_time`` ticks, then grow back."""

    reads = ("sheep.grazed",)
    writes = ("grown", "countdown")

    def __init__(self, name: str, width: int, height: int, grass: bool, regrowth_time: int) -> None:
        super().__init__(name)
        self.n_cells, self.grass, self.regrowth_time = width * height, grass, regrowth_time

    def reset(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_cells)
        if not self.grass:
            self.write(ctx, "grown", np.zeros(shape, dtype=bool))
            self.write(ctx, "countdown", np.zeros(shape, dtype=np.int64))
            self._regrown = np.zeros(ctx.n_worlds)
            return
        # Mesa: grown with probability 1/2, else a countdown in 0 .. regrowth_time - 1 (0: grown).
        grown = ctx.rng.random(shape) < 0.5
        countdown = np.where(grown, 0, ctx.rng.integers(0, self.regrowth_time, size=shape))
        self.write(ctx, "grown", countdown == 0)
        self.write(ctx, "countdown", countdown)
        self._regrown = np.zeros(ctx.n_worlds)

    def step(self, ctx: Context) -> None:
        if not self.grass:
            return
        grazed = self.read(ctx, "sheep.grazed")
        grown = ctx[self.key("grown")]
        countdown = ctx[self.key("countdown")]
        eaten = ~grown
        regrow = (countdown <= 1) & eaten  # eaten patches whose countdown runs out now
        self._regrown = np.count_nonzero(regrow, axis=1).astype(np.float64)
        countdown = countdown - 1
        np.maximum(countdown, 0, out=countdown)
        np.multiply(countdown, eaten, out=countdown)  # 0 where grown
        np.copyto(countdown, self.regrowth_time, where=grazed)
        grown = (grown | regrow) & ~grazed
        self.write(ctx, "grown", grown)
        self.write(ctx, "countdown", countdown)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"regrown": self._regrown}


class Census(Stream):
    """Population counts, mean energies and extinctions after the tick; HEAS's episode metrics."""

    reads = (
        "sheep.alive",
        "sheep.energy",
        "wolves.alive",
        "wolves.energy",
        "wolves.kills",
        "grass.grown",
    )
    writes = ("sheep", "wolves", "grass", "sheep_energy", "wolf_energy", "extinctions")

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # Per species, an energy table kept between ticks and the slots written in it.
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def reset(self, ctx: Context) -> None:
        self._count(ctx)
        b = ctx.n_worlds
        self.write(ctx, "extinctions", np.zeros(b))
        self._sum = np.zeros((2, b))
        self._both = np.zeros(b)
        self._ticks = 0
        self._initial = np.stack([ctx[self.key("sheep")], ctx[self.key("wolves")]])

    def step(self, ctx: Context) -> None:
        before = np.stack([ctx[self.key("sheep")], ctx[self.key("wolves")]])
        self._count(ctx)
        after = np.stack([ctx[self.key("sheep")], ctx[self.key("wolves")]])
        self.write(ctx, "extinctions", ((before > 0) & (after == 0)).sum(axis=0).astype(np.float64))
        self._sum += after
        self._both += (after > 0).all(axis=0)
        self._ticks += 1

    def _count(self, ctx: Context) -> None:
        sheep = self.read(ctx, "sheep.alive") & ~self.read(ctx, "wolves.kills")
        n_sheep, sheep_energy = self._census("sheep", sheep, self.read(ctx, "sheep.energy"))
        n_wolves, wolf_energy = self._census(
            "wolves", self.read(ctx, "wolves.alive"), self.read(ctx, "wolves.energy")
        )
        grass = np.count_nonzero(self.read(ctx, "grass.grown"), axis=1)
        self.write(ctx, "sheep", n_sheep.astype(np.float64))
        self.write(ctx, "wolves", n_wolves.astype(np.float64))
        self.write(ctx, "grass", grass.astype(np.float64))
        self.write(ctx, "sheep_energy", sheep_energy / np.maximum(n_sheep, 1))
        self.write(ctx, "wolf_energy", wolf_energy / np.maximum(n_wolves, 1))

    def _census(
        self, species: str, alive: np.ndarray, energy: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per world, the live animals and ``np.where(alive, energy, 0.0).sum(axis=1)``: the
        same sums, of a table kept between ticks in which only the live slots are written."""
        b, m = alive.shape
        table, written = self._tables.get(species, (None, None))
        if table is None or written is None or table.shape != energy.shape:
            table, written = np.zeros(energy.shape), np.zeros(0, dtype=np.intp)
        flat = table.reshape(-1)
        flat[written] = 0.0
        live = np.flatnonzero(alive)
        flat[live] = energy.reshape(-1)[live]
        self._tables[species] = (table, live)
        return np.bincount(live // m, minlength=b), table.sum(axis=1)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {k: ctx[self.key(k)] for k in ("sheep", "wolves", "grass")}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._ticks, 1)
        now = np.stack([ctx[self.key("sheep")], ctx[self.key("wolves")]])
        return {
            "mean_sheep": self._sum[0] / ticks,
            "mean_wolves": self._sum[1] / ticks,
            "final_sheep": now[0],
            "final_wolves": now[1],
            "extinct": ((self._initial > 0) & (now == 0)).any(axis=0).astype(np.float64),
            "coexistence": self._both / ticks,
        }


# -- picture -------------------------------------------------------------------------------------
def wolf_sheep_frame(ctx: Context, width: int, height: int, world: int = 0) -> np.ndarray:
    """World ``world``'s grid as an RGB frame: grass green (eaten: brown), cells with sheep
    paler the more sheep they hold, cells with wolves red."""
    from heas_envs.env.render import grid_frame

    n_cells = width * height

    def count(species: str) -> np.ndarray:
        alive = ctx[f"{species}.alive"][world]
        return np.bincount(ctx[f"{species}.cell"][world][alive], minlength=n_cells)

    cells = np.where(ctx["grass.grown"][world][:, None], GRASS_RGB, EATEN_RGB).astype(float)
    crowd = 0.8 * np.minimum(count("sheep"), 4)[:, None] / 4  # up to 4 sheep: paler
    cells = (1 - crowd) * cells + crowd * SHEEP_RGB
    cells[count("wolves") > 0] = WOLF_RGB
    cells = cells.round().astype(np.uint8)
    return grid_frame(cells.reshape(width, height, 3).transpose(1, 0, 2))


def wolf_sheep_spec(
    *,
    width: int,
    height: int,
    initial_sheep: int,
    initial_wolves: int,
    sheep_reproduce: float,
    wolf_reproduce: float,
    wolf_gain_from_food: float,
    grass: bool,
    grass_regrowth_time: int,
    sheep_gain_from_food: float,
    max_animals: int,
    max_harvest_rate: float,
    extinction_penalty: float,
) -> list[LayerSpec]:
    """The wolf-sheep layer specs (parameters as in :class:`WolfSheepEnv`, validated there)."""
    grid = dict(width=width, height=height)
    pool = dict(grid, max_animals=max_animals)
    ranger = StreamSpec(
        "ranger",
        Ranger,
        dict(
            initial_sheep=initial_sheep,
            initial_wolves=initial_wolves,
            n_cells=width * height,
            sheep_gain_from_food=sheep_gain_from_food,
            wolf_gain_from_food=wolf_gain_from_food,
            max_harvest_rate=max_harvest_rate,
            extinction_penalty=extinction_penalty,
        ),
    )
    sheep = StreamSpec(
        "sheep",
        Sheep,
        dict(
            pool,
            grass=grass,
            initial=initial_sheep,
            reproduce=sheep_reproduce,
            gain_from_food=sheep_gain_from_food,
        ),
    )
    wolves = StreamSpec(
        "wolves",
        Wolves,
        dict(
            pool,
            max_sheep=max_animals,
            initial=initial_wolves,
            reproduce=wolf_reproduce,
            gain_from_food=wolf_gain_from_food,
        ),
    )
    grass_spec = StreamSpec(
        "grass", Grass, dict(grid, grass=grass, regrowth_time=grass_regrowth_time)
    )
    return [
        LayerSpec([ranger], name="L1 ranger"),
        LayerSpec([sheep], name="L2 sheep"),
        LayerSpec([wolves], name="L3 wolves"),
        LayerSpec([grass_spec, StreamSpec("wolf_sheep", Census)], name="L4 grass"),
    ]


#: The largest grid side and the largest number of slots per species.
MAX_SIDE, MAX_ANIMALS = 2000, 10_000_000


_GRID_MEMORY = (
    "the cell tables grow with width x height: a 2000 x 2000 grid with the largest "
    "populations takes about 2.7 GiB at reset and step; larger grids need more than this "
    "machine's memory"
)


@dataclass(frozen=True, kw_only=True)
class WolfSheepParams(ModelParams):
    """The wolf-sheep model's parameters (the keyword arguments of :class:`WolfSheepEnv`)."""

    width: int = param(
        20,
        1,
        MAX_SIDE,
        "Grid width (Mesa: 20)",
        why=_GRID_MEMORY,
    )
    height: int = param(
        20,
        1,
        MAX_SIDE,
        "Grid height (Mesa: 20)",
        why=_GRID_MEMORY,
    )
    initial_sheep: int = param(
        100, 0, MAX_ANIMALS, "Sheep at reset (Mesa: 100), at most max_animals"
    )
    initial_wolves: int = param(
        50, 0, MAX_ANIMALS, "Wolves at reset (Mesa: 50), at most max_animals"
    )
    sheep_reproduce: float = param(0.04, 0.0, 1.0, "Probability that a sheep reproduces per tick")
    wolf_reproduce: float = param(0.05, 0.0, 1.0, "Probability that a wolf reproduces per tick")
    wolf_gain_from_food: float = param(20.0, 0.0, 1000.0, "Energy a wolf gains from a sheep")
    grass: bool = param(True, doc="Whether sheep need grass (graze and lose energy)")
    grass_regrowth_time: int = param(30, 1, 10_000, "Ticks for eaten grass to grow back")
    sheep_gain_from_food: float = param(4.0, 0.0, 1000.0, "Energy a sheep gains from grass")
    max_animals: int = param(
        2000,
        1,
        MAX_ANIMALS,
        "Slots per species (population capacity)",
        why="ten million slots per species on a 2000 x 2000 grid take about 2.7 GiB at reset "
        "and step; more need more than this machine's memory",
    )
    max_harvest_rate: float = param(
        0.3, 0.0, 1.0, "Cull probability at a full harvest action (HEAS: 0.3)"
    )
    extinction_penalty: float = param(50.0, 0.0, 1e6, "Reward penalty per species that dies out")
    max_steps: int = param(200, 1, MAX_STEPS, "Ticks per episode (truncation)")

    def check(self) -> None:
        """``initial_sheep`` and ``initial_wolves`` fit in ``max_animals`` slots."""
        check_int("initial_sheep", self.initial_sheep, 0, self.max_animals)
        check_int("initial_wolves", self.initial_wolves, 0, self.max_animals)


class WolfSheepEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "wolf_sheep_v0"}
    Params = WolfSheepParams

    def build_model(self, params: WolfSheepParams, n_worlds: int = 1) -> Model:
        """The wolf-sheep model for validated ``params``."""
        return make_model(wolf_sheep_spec(**params.model_kwargs()), n_worlds)

    def render_rgb(self) -> np.ndarray:
        """The grid as a picture (see :func:`wolf_sheep_frame`)."""
        self._require_reset("render_rgb()")
        return wolf_sheep_frame(self.model.ctx, self.params["width"], self.params["height"])


parallel_env, raw_env = pettingzoo_constructors(WolfSheepEnv)
env = raw_env
__doc__ = WolfSheepEnv.__doc__  # with the Args: section generated from the declaration
