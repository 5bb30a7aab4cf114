"""Economy: an artificial society that signals, works, trades, consumes, ages and reproduces.

In the style of HomoEconometra: citizens broadcast signals and attend to each other's, choose a
job among several goods with seasonal and stochastic yields, trade by projected gradient ascent
of their utilities (a market clearing that conserves every good exactly), consume for reward
under a heritable utility-weight vector, and die of old age or hunger; the well-off have
offspring that inherit mutated utility weights.

| | |
|---|---|
| Id | ``heas_envs/Economy-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives one citizen) |
| Agents | ``citizen_0`` ... ``citizen_{max_population-1}``: a declared pool of slots; ``citizen_0`` ... ``citizen_{n_agents-1}`` live at reset, the others are unborn |
| Citizen action | ``Box((2 * signal_dim + 3 * n_goods + 3,))``, see the table below |
| Citizen observation | ``Box((9 + 5 * n_goods + signal_dim,))``, see the table below |
| Citizen reward | paid when a tick completes: ``sum_g w_g * log(1 + c_g) - effort_cost * effort ** 2`` with ``c_g`` the units of good ``g`` consumed this tick and ``w`` the citizen's heritable utility weights (on the simplex); 0 in the other steps of ``decision="layer"`` and for the newborn |
| State | every slot's observation, flattened |

Action of a citizen (``G = n_goods``, ``D = signal_dim``), by the sub-step that uses it (the
names, with ``i = 0 .. G-1`` a good and ``k = 0 .. D-1`` a signal component, are the citizen
groups' ``action_names``; those of the observation table their ``observation_names``):

| components | name | range | sub-step | meaning |
|---|---|---|---|---|
| ``[0, D)`` | ``signal_k`` | [-1, 1] | broadcast | the signal vector sent to everyone |
| ``[D, 2D)`` | ``query_k`` | [-1, 1] | broadcast | attention query, matched against the others' signals |
| ``2D`` | ``focus`` | [0, 1] | broadcast | focus: attention inverse temperature, times ``MAX_FOCUS`` (0 = uniform attention) |
| ``[2D + 1, 2D + 1 + G)`` | ``job_score_i`` | [0, 1] | production | job scores; the job is the good with the highest score (ties: the lowest index) |
| ``2D + 1 + G`` | ``effort`` | [0, 1] | production | effort |
| ``[2D + 2 + G, 2D + 2 + 2G)`` | ``preference_i`` | [0, 1] | trade | declared preferences over goods (normalised to the simplex; all zero = uniform) |
| ``2D + 2 + 2G`` | ``willingness`` | [0, 1] | trade | willingness to trade (0 keeps the holdings out of the market) |
| ``[2D + 3 + 2G, 2D + 3 + 3G)`` | ``consume_i`` | [0, 1] | consumption | share of each good's holdings consumed |

With ``decision="tick"`` one env step is a whole tick and every group uses its slice of the
same action. With ``decision="layer"`` a tick takes four env steps (broadcast, production,
trade, consumption); every live citizen acts in each, and only the active sub-step's slice is
used.

Observation of a citizen (zeros for dead and unborn slots):

| components | name | range | meaning |
|---|---|---|---|
| ``[0, 4)`` | ``phase_broadcast``, ``phase_production``, ``phase_trade``, ``phase_consumption`` | {0, 1} | active decision phase, one-hot: broadcast, production, trade, consumption (all 0 with ``decision="tick"``) |
| ``[4, 4 + G)`` | ``holdings_i`` | [0, 100] | own holdings of each good in units (before the active sub-step; clipped) |
| ``[4 + G, 4 + 2G)`` | ``weight_i`` | [0, 1] | own utility weights (heritable, sum to 1) |
| ``4 + 2G`` | ``age`` | [0, 1] | age / ``max_age`` |
| ``5 + 2G`` | ``hunger`` | [0, 1] | hunger: consecutive hungry ticks / ``starvation_ticks`` |
| ``[6 + 2G, 6 + 3G)`` | ``last_job_i`` | {0, 1} | own last job, one-hot (all 0 before the first) |
| ``6 + 3G``, ``7 + 3G`` | ``season_sin``, ``season_cos`` | [-1, 1] | sin and cos of the season phase ``2 pi tick / season_length`` |
| ``[8 + 3G, 8 + 4G)`` | ``yield_i`` | [0, 10] | last tick's yield per unit of effort of each job |
| ``[8 + 4G, 8 + 5G)`` | ``price_i`` | [0, 10] | last market prices per unit of each good (mean over goods 1) |
| ``[8 + 5G, 8 + 5G + D)`` | ``social_signal_k`` | [-1, 1] | social signal: the attention-weighted mean of the others' signals |
| ``8 + 5G + D`` | ``population`` | [0, 1] | population / ``max_population`` |

Layers and streams (a tick runs them in this order; decision layers are L1, L3, L4 and L5):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 broadcast | ``broadcast`` (agent group ``citizen``) | observation inputs (below) | ``signal``, ``query`` ``[B, N, D]``, ``focus`` ``[B, N]`` |
| L2 social | ``social`` | ``broadcast.signal``, ``broadcast.query``, ``broadcast.focus``, ``demography.alive`` | ``signal`` ``[B, N, D]`` (aggregated) |
| L3 production | ``nature`` | | ``season``, ``yield`` ``[B, G]`` |
| L3 production | ``production`` (agent group ``citizen``) | ``nature.yield``, ``demography.holdings`` | ``job``, ``effort`` ``[B, N]``, ``holdings`` ``[B, N, G]``, ``rate``, ``output`` ``[B, G]`` |
| L4 trade | ``trade`` (agent group ``citizen``) | ``production.holdings`` | ``holdings`` ``[B, N, G]``, ``prices`` ``[B, G]``, ``volume`` ``[B]`` |
| L5 consumption | ``consumption`` (agent group ``citizen``) | ``trade.holdings``, ``production.effort`` | ``holdings``, ``consumed`` ``[B, N, G]``, ``utility``, ``reward`` ``[B, N]`` |
| L6 demography | ``demography`` | ``consumption.holdings``, ``consumption.consumed`` | ``alive``, ``age``, ``hunger`` ``[B, N]``, ``holdings``, ``weights`` ``[B, N, G]`` |

Every citizen group also reads the observation inputs ``demography.alive``,
``demography.weights``, ``demography.age``, ``demography.hunger``, ``social.signal``,
``production.job``, ``production.rate``, ``trade.prices`` and the holdings it starts from
(``demography.holdings`` for broadcast and production, ``production.holdings`` for trade,
``trade.holdings`` for consumption). Reads of keys written later in the tick see last tick's
values; ``demography.*`` is the state at the start of a tick.

Dynamics of one tick (``N`` slots, ``K`` live citizens):

1. Broadcast: every live citizen sends its signal ``s_i`` and sets its query ``q_i`` and focus
   ``beta_i``.
2. Social observation: citizen ``i`` attends to every other live ``j`` with weights
   ``softmax_j(beta_i * q_i . s_j / sqrt(D))`` and observes ``sum_j a_ij s_j``. The live citizens
   are gathered first, so this costs ``O(B K^2 D)`` time and ``O(B K^2)`` memory (K = 20: 400
   pairs; K = 200: 40,000 pairs per world), whatever the size of the slot pool.
3. Production: ``nature`` draws the base yield of each good,
   ``Y_g = productivity * (1 + season_amplitude * sin(2 pi (tick / season_length + g / G)))
   * eps_g`` with
   ``eps_g`` log-normal of mean 1 and log-sd ``yield_noise`` (one draw per world and good; the
   seasons of the goods are out of phase). With ``E_g`` the total effort in job ``g`` and land
   ``L = land * n_agents / G`` per good, each unit of effort yields
   ``r_g = Y_g / (1 + E_g / L)`` units (diminishing returns: the land is shared, which bounds
   the population). A worker adds ``effort * r_job`` to its holdings.
4. Trade: the holdings ``x`` of the live citizens are reallocated by ``trade_iterations`` steps
   of projected gradient ascent. In units of each good's mean holding (``z``), citizen ``i``
   values good ``g`` at ``m_ig = W_i p_ig / (0.1 + z_ig)`` (the marginal utility of
   ``sum_g p_ig log(0.1 + z_ig)`` under its declared preferences ``p_i``, weighted by its
   budget ``W_i``, the value of its holdings before trade at the current prices ``pi``). The
   step is ``dz_ig = trade_rate * v_i * (r_ig - rbar_g)`` with ``r_ig = min(m_ig / pi_g, 10)``,
   ``v_i`` the willingness to trade, and ``rbar_g`` the ``v``-weighted mean of ``r_ig``: the
   steps of one good sum to 0. Holdings pushed below 0 are set to 0 and the other traders'
   holdings of that good scaled down by the same total, so every good's total is unchanged (to
   float rounding). Prices move with the mean excess valuation, ``pi_g <- pi_g * rbar_g``
   (normalised to mean 1). Weighting each citizen's gradient by its budget (Negishi weights)
   makes the fixed point approximately the competitive equilibrium of the declared
   preferences, where each citizen keeps the value of its holdings, rather than an
   equalising redistribution (which an unweighted sum of concave utilities would give).
5. Consumption: citizen ``i`` consumes the share ``f_ig`` of its holdings of good ``g``; its
   reward is ``sum_g w_ig log(1 + c_ig) - effort_cost * effort_i ** 2``. It is hungry when it
   consumed fewer than ``subsistence`` units in all.
6. Demography: goods spoil at rate ``spoilage``; citizens age by one tick; a citizen dies when
   its age reaches ``max_age`` or it has been hungry ``starvation_ticks`` ticks in a row (its
   goods are lost). A survivor whose holdings add up to at least ``birth_wealth`` has a child
   with probability ``birth_rate``: the child takes the next never-used slot of the pool (a
   dead slot is never reused; once the pool is used up there are no more births), the share
   ``birth_share`` of each of the parent's goods, and the parent's utility weights mutated as
   ``softmax(log w + mutation * N(0, 1))``. (A child born in the tick that ends the episode
   by truncation is not reported by the env: it would never act.)

At reset the ``n_agents`` first slots are alive, aged uniformly in ``[0, max_age)``, with
utility weights drawn uniformly from the simplex and ``initial_wealth`` units split at random
over the goods.

Metrics (per tick): ``demography.population``, ``demography.births``, ``demography.deaths``,
``demography.gini_wealth`` (of the live citizens' total holdings), ``demography.mean_wealth``,
``demography.mean_age``, ``social.attention_entropy`` (mean entropy of the attention weights
over log of the number of others, in [0, 1]), ``nature.season``, ``production.output``,
``production.job_share_<g>`` (share of live citizens working in job ``g``), ``trade.volume``
(units moved, summed over goods), ``trade.price_<g>``, ``consumption.mean_reward``,
``consumption.gini_reward`` (Gini of the consumption utility, the reward before the effort
cost, which is >= 0). Per episode: ``demography.mean_population``,
``demography.final_population``, ``demography.total_births``, ``demography.total_deaths``,
``demography.mean_gini_wealth``, ``production.mean_job_share_<g>``, ``trade.total_volume``,
``consumption.total_reward``, ``consumption.mean_reward`` (per live citizen and tick),
``consumption.mean_gini_reward``.

Heuristic (from the observation only): signal and query ``2 w - 1`` (own tastes, padded with 0)
with focus 0.5; work in the job maximising ``w_g * price_g * season_g`` with effort 0.7; declare
the true utility weights and always trade; consume half of every good.

Version history: v0 (initial release).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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
from heas_envs.core.params import MAX_STEPS, ModelParams, check_int, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

PHASES = ("broadcast", "production", "trade", "consumption")
HOLDINGS_CLIP = 100.0  # observed holdings are clipped to [0, HOLDINGS_CLIP] units
RATIO_CLIP = 10.0  # observed yields and prices, and the traders' value/price ratios, stay <= this
MAX_FOCUS = 10.0  # the largest attention inverse temperature
HEURISTIC_CONSUMPTION = 0.5  # the heuristic consumes this share of every good
HEURISTIC_EFFORT = 0.7  # and works with this effort
TRADE_SMOOTHING = 0.1  # the trade utility is log(TRADE_SMOOTHING + z): finite at z = 0
TINY = 1e-12
MASKED = 1e30  # attention logit of a masked pair (exp underflows to 0)


@dataclass(frozen=True)
class EconomyConfig:
    """The parameters of an economy, shared by its streams (defaults and validation: :class:`EconomyEnv`)."""

    n_agents: int
    max_population: int
    n_goods: int
    signal_dim: int
    decision: str
    season_length: int
    season_amplitude: float
    yield_noise: float
    productivity: float
    land: float
    effort_cost: float
    trade_iterations: int
    trade_rate: float
    spoilage: float
    subsistence: float
    starvation_ticks: int
    max_age: int
    birth_wealth: float
    birth_rate: float
    birth_share: float
    mutation: float
    initial_wealth: float


@dataclass(frozen=True)
class Layout:
    """Slices of the action and observation vectors of a citizen."""

    signal: slice
    query: slice
    focus: int
    job: slice
    effort: int
    preference: slice
    willingness: int
    consumption: slice
    action_dim: int
    phase: slice
    holdings: slice
    weights: slice
    age: int
    hunger: int
    last_job: slice
    season: slice
    rate: slice
    prices: slice
    social: slice
    population: int
    obs_dim: int

    @classmethod
    def of(cls, n_goods: int, signal_dim: int) -> Layout:
        """The layout for ``n_goods`` goods and signals of dimension ``signal_dim``."""
        g, d = n_goods, signal_dim
        a = 2 * d + 1  # end of the broadcast slice
        o = 4 + 2 * g  # start of age
        return cls(
            signal=slice(0, d),
            query=slice(d, 2 * d),
            focus=2 * d,
            job=slice(a, a + g),
            effort=a + g,
            preference=slice(a + g + 1, a + 2 * g + 1),
            willingness=a + 2 * g + 1,
            consumption=slice(a + 2 * g + 2, a + 3 * g + 2),
            action_dim=a + 3 * g + 2,
            phase=slice(0, 4),
            holdings=slice(4, 4 + g),
            weights=slice(4 + g, 4 + 2 * g),
            age=o,
            hunger=o + 1,
            last_job=slice(o + 2, o + 2 + g),
            season=slice(o + 2 + g, o + 4 + g),
            rate=slice(o + 4 + g, o + 4 + 2 * g),
            prices=slice(o + 4 + 2 * g, o + 4 + 3 * g),
            social=slice(o + 4 + 3 * g, o + 4 + 3 * g + d),
            population=o + 4 + 3 * g + d,
            obs_dim=o + 5 + 3 * g + d,
        )


def gini(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Gini coefficient of the non-negative ``values [B, N]`` where ``mask`` (0 if none or 0).

    Every world sums over all its ``N`` slots sorted (absent ones as 0), not just as many as
    the fullest world has alive: the sums then run over the same entries whatever the other
    worlds hold, so a world's figure is bit-identical in any batch. (Only the live entries,
    padded with absent ones to the fullest world, need sorting: the other absent ones are
    zeros, which sort first.)
    """
    valid = np.asarray(mask, dtype=bool)
    x = np.where(valid, np.maximum(values, 0.0), 0.0)
    b, k = x.shape
    live = live_index(valid)
    n = live.counts
    total = x.sum(axis=1)
    width = live.slots.shape[1]
    head = np.sort(live.take_padded(x).reshape(b, width), axis=1)
    x = np.zeros((b, k))
    x[:, k - width :] = head  # padding entries are 0 and sort first, with the live zeros
    rank = np.arange(1, k + 1) - (k - n)[:, None]  # ranks among the live
    weighted = (rank * x).sum(axis=1)
    ok = (n > 0) & (total > TINY)
    safe_n, safe_total = np.maximum(n, 1), np.where(ok, total, 1.0)
    g = 2.0 * weighted / (safe_n * safe_total) - (safe_n + 1.0) / safe_n
    return np.where(ok, np.clip(g, 0.0, 1.0), 0.0)


def sum_goods(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=-1)`` bit for bit, one column at a time (fast for a short last axis).

    NumPy sums a contiguous last axis pairwise: sequentially from 0 below 8 entries, in 8
    interleaved partial sums up to 128; this adds the same entries in the same order without
    a reduction call per row. Longer axes are left to NumPy.
    """
    n = x.shape[-1]
    if n > 128:
        return x.sum(axis=-1)
    cols = [x[..., j] for j in range(n)]
    if n < 8:
        out = cols[0] + 0.0
        for col in cols[1:]:
            out = out + col
        return out
    part = cols[:8]
    i = 8
    while i < n - n % 8:
        part = [part[j] + cols[i + j] for j in range(8)]
        i += 8
    out = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]))
    for col in cols[i:]:
        out = out + col
    return out + 0.0


def gather_live(alive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the live slots of every world, padded to the largest live count.

    Returns:
        ``(rows, slots, valid)``: world indices ``[B, 1]``, slot indices ``[B, K]`` and whether
        each entry is a live slot ``[B, K]``, with ``K = max(1, max live count)``.
    """
    k = max(1, int(alive.sum(axis=1).max()))
    slots = np.argsort(~alive, axis=1, kind="stable")[:, :k]
    rows = np.arange(alive.shape[0])[:, None]
    return rows, slots, alive[rows, slots]


def live_width_groups(
    alive: np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`gather_live` for the worlds grouped by their live count, one group per count.

    A reduction over the live citizens (attention, market clearing) then runs in every world
    at exactly that world's width, as it does in a single world: padding to the fullest world
    would change the summation order, so a world's result would depend on the others. The rows
    returned are the worlds' indices in the whole batch.
    """
    counts = alive.sum(axis=1)
    groups = []
    for count in np.unique(counts):
        worlds = np.flatnonzero(counts == count)
        _, slots, valid = gather_live(alive[worlds])
        groups.append((worlds[:, None], slots, valid))
    return groups


#: A chunk pads its worlds to its widest one while that costs at most twice the attention
#: entries (``width ** 2`` per world) of the worlds themselves, plus this many.
_PADDING_SLACK = 1 << 16


@dataclass(frozen=True)
class LiveChunk:
    """Worlds of a batch gathered at one padded width, sorted by their live count.

    The reductions over the live citizens (attention, market clearing) run group by group on
    views ``[start:end, :width]`` of the chunk's arrays, so each world's sums see exactly the
    entries, in the order, that they see in a batch of that world alone; everything else runs
    on the whole chunk at once.

    Attributes:
        worlds: Batch indices of the worlds ``[W]``, by ascending live count.
        slots: Their live slots first, then their first dead slots ``[W, k]``.
        valid: Whether each entry is a live slot ``[W, k]``.
        groups: ``(start, end, width)``: the rows of the worlds of one live count, and that
            count (at least 1, as :func:`live_width_groups` pads an empty world to 1).
        flat: ``worlds * N + slots`` ``[W, k]``: the entries' rows in a ``[B * N, ...]`` view.
    """

    worlds: np.ndarray
    slots: np.ndarray
    valid: np.ndarray
    groups: tuple[tuple[int, int, int], ...]
    flat: np.ndarray

    def take(self, values: np.ndarray) -> np.ndarray:
        """The chunk's entries ``[W, k, ...]`` of per-slot ``values [B, N, ...]``."""
        return np.take(values.reshape(-1, *values.shape[2:]), self.flat, axis=0)


class LiveIndex:
    """The live citizens of every world of a batch, computed once per population state.

    Attributes:
        rows, slots, valid: :func:`gather_live` of the batch.
        counts: Live citizens per world ``[B]``.
        flat: The live slots as rows of a ``[B * N, ...]`` view, world by world in slot order
            (the order of ``np.nonzero``) ``[L]``; ``world`` and ``slot`` split them.
        chunks: The worlds by live count, as :class:`LiveChunk` s.
    """

    def __init__(self, alive: np.ndarray) -> None:
        alive = np.asarray(alive, dtype=bool)
        b, n = alive.shape
        self.counts = alive.sum(axis=1)
        k = max(1, int(self.counts.max()))
        self.slots = np.argsort(~alive, axis=1, kind="stable")[:, :k]
        self.rows = np.arange(b)[:, None]
        self.valid = alive[self.rows, self.slots]
        self.padded = (self.rows * n + self.slots).reshape(-1)  # rows of gather_live, flat
        self.flat = np.flatnonzero(alive)
        self.world, self.slot = np.divmod(self.flat, n)
        order = np.argsort(self.counts, kind="stable")
        counts, starts = np.unique(self.counts[order], return_index=True)
        ends = [*starts[1:].tolist(), len(order)]
        chunks: list[list[tuple[int, int, int]]] = []
        rows = cost = 0
        for count, start, end in zip(counts.tolist(), starts.tolist(), ends, strict=True):
            width, m = max(1, count), end - start
            if chunks and (rows + m) * width**2 > 2 * (cost + m * width**2) + _PADDING_SLACK:
                chunks.append([])
                rows = cost = 0
            if not chunks:
                chunks.append([])
            chunks[-1].append((start, end, width))
            rows, cost = rows + m, cost + m * width**2
        self.chunks = []
        for groups in chunks:
            first, last = groups[0][0], groups[-1][1]
            worlds, width = order[first:last], groups[-1][2]
            slots = self.slots[worlds, :width]
            self.chunks.append(
                LiveChunk(
                    worlds,
                    slots,
                    self.valid[worlds, :width],
                    tuple((s - first, e - first, w) for s, e, w in groups),
                    worlds[:, None] * n + slots,
                )
            )

    def take(self, values: np.ndarray) -> np.ndarray:
        """The live slots' entries ``[L, ...]`` of per-slot ``values [B, N, ...]``."""
        return np.take(values.reshape(-1, *values.shape[2:]), self.flat, axis=0)

    def take_padded(self, values: np.ndarray) -> np.ndarray:
        """The entries ``[B * k, ...]`` of per-slot ``values [B, N, ...]`` at ``rows, slots``."""
        return np.take(values.reshape(-1, *values.shape[2:]), self.padded, axis=0)

    def put(self, out: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Write ``values [L, ...]`` into the live slots of ``out [B, N, ...]`` (C-contiguous)."""
        out.reshape(-1, *out.shape[2:])[self.flat] = values
        return out

    def sum_by_world(self, values: np.ndarray) -> np.ndarray:
        """Per world, the sum of ``values [L, G]`` of its live slots ``[B, G]``.

        Bit for bit the sum over axis 1 of the ``[B, N, G]`` array holding ``values`` in the
        live slots and +0.0 elsewhere: for ``G >= 2`` NumPy adds the slots one after another
        from 0, and adding +0.0 to such a running sum changes nothing.
        """
        b = len(self.counts)
        out = np.empty((b, values.shape[1]))
        for g in range(values.shape[1]):
            out[:, g] = np.bincount(self.world, weights=values[:, g], minlength=b)
        return out


_LIVE_INDEX_CACHE: list[tuple[np.ndarray, np.ndarray, LiveIndex]] = []


def live_index(alive: np.ndarray) -> LiveIndex:
    """The :class:`LiveIndex` of ``alive [B, N]``, shared by the streams that read one state.

    The broadcast, social, trade and observation steps of a tick all read the same alive
    mask; the index of the last few masks is kept (keyed by their contents, the very same
    array checked first), so it is built once per population state.
    """
    alive = np.asarray(alive, dtype=bool)
    for seen, key, index in _LIVE_INDEX_CACHE:
        if seen is alive and np.array_equal(key, alive):
            return index
    for _, key, index in _LIVE_INDEX_CACHE:
        if key.shape == alive.shape and np.array_equal(key, alive):
            return index
    index = LiveIndex(alive)
    _LIVE_INDEX_CACHE.insert(0, (alive, alive.copy(), index))
    del _LIVE_INDEX_CACHE[4:]
    return index


def season_factor(phase: np.ndarray, n_goods: int, amplitude: float) -> np.ndarray:
    """The seasonal yield factor of each good, ``[..., G]``, at season phase ``phase`` (radians)."""
    offsets = 2.0 * np.pi * np.arange(n_goods) / n_goods
    return 1.0 + amplitude * np.sin(np.asarray(phase)[..., None] + offsets)


class Citizens(AgentGroup):
    """The citizens at one decision sub-step; the four groups share role, spaces and observation.

    Subclasses set ``phase`` (index in :data:`PHASES`), ``holdings_key`` (the holdings the
    sub-step starts from, shown in the observation) and implement :meth:`apply`.
    """

    role = "citizen"
    phase: ClassVar[int] = 0
    holdings_key: ClassVar[str] = "demography.holdings"
    observation_reads: ClassVar[tuple[str, ...]] = (
        "demography.alive",
        "demography.weights",
        "demography.age",
        "demography.hunger",
        "social.signal",
        "production.job",
        "production.rate",
        "trade.prices",
    )

    def __init__(self, name: str, config: EconomyConfig) -> None:
        super().__init__(name, config.max_population)
        self.cfg = config
        self.layout = Layout.of(config.n_goods, config.signal_dim)
        self.observation_space, self.action_space = citizen_spaces(config)
        self.observation_names, self.action_names = citizen_names(config)
        self._idle: np.ndarray | None = None

    # -- shared by the four groups ----------------------------------------------------------
    def observe(self, ctx: Context) -> np.ndarray:
        cfg, lay = self.cfg, self.layout
        alive = self.read(ctx, "demography.alive")
        live = live_index(alive)  # the rows of gather_live (the live, padded), flat
        b, k = live.slots.shape
        take = live.take_padded
        world = np.repeat(np.arange(b), k)
        obs = np.zeros((b * k, lay.obs_dim), dtype=np.float32)
        if cfg.decision == "layer":
            obs[:, self.phase] = 1.0
        obs[:, lay.holdings] = np.minimum(take(self.read(ctx, self.holdings_key)), HOLDINGS_CLIP)
        obs[:, lay.weights] = take(self.read(ctx, "demography.weights"))
        obs[:, lay.age] = np.minimum(take(self.read(ctx, "demography.age")) / cfg.max_age, 1.0)
        hunger = take(self.read(ctx, "demography.hunger"))
        obs[:, lay.hunger] = np.minimum(hunger / cfg.starvation_ticks, 1.0)
        job = take(self.read(ctx, "production.job"))
        working = np.flatnonzero(job >= 0)
        obs[working, lay.last_job.start + job[working]] = 1.0
        angle = 2.0 * np.pi * ctx.tick / cfg.season_length
        obs[:, lay.season.start] = np.sin(angle)
        obs[:, lay.season.start + 1] = np.cos(angle)
        obs[:, lay.rate] = np.clip(self.read(ctx, "production.rate"), 0.0, RATIO_CLIP)[world]
        obs[:, lay.prices] = np.clip(self.read(ctx, "trade.prices"), 0.0, RATIO_CLIP)[world]
        obs[:, lay.social] = np.clip(take(self.read(ctx, "social.signal")), -1.0, 1.0)
        obs[:, lay.population] = (live.counts / cfg.max_population)[world]
        obs *= live.valid.reshape(-1, 1)  # the padding rows: 0 (-0.0 where negative)
        out = np.zeros((b * self.n_agents, lay.obs_dim), dtype=np.float32)
        out[live.padded] = obs
        return out.reshape(b, self.n_agents, lay.obs_dim)

    def reward(self, ctx: Context) -> np.ndarray:
        """Only the consumption group pays (see :class:`Consumers`)."""
        return np.zeros((ctx.n_worlds, self.n_agents))

    def alive(self, ctx: Context) -> np.ndarray:
        return self.read(ctx, "demography.alive")

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """The full action (every sub-step's slice) from observations ``[..., N, obs_dim]``.

        Rows whose utility weights are all zero and whose prices are finite (the dead and
        unborn slots) all get the same action, whatever their season; the others are
        computed row by row, each exactly as it would be alone.
        """
        lay = self.layout
        obs = np.asarray(obs)
        if obs.dtype != np.float32 and obs.dtype != np.float64:
            obs = obs.astype(np.float64)
        flat = obs.reshape(-1, obs.shape[-1])
        act = np.repeat(self._idle_action()[None], flat.shape[0], axis=0)
        weights, prices = (
            range(lay.weights.start, lay.weights.stop),
            range(lay.prices.start, lay.prices.stop),
        )
        busy = flat[:, weights[0]] != 0.0  # column by column: rows are short
        for j in weights[1:]:
            busy |= flat[:, j] != 0.0
        finite = np.isfinite(flat[:, prices[0]])
        for j in prices[1:]:
            finite &= np.isfinite(flat[:, j])
        busy |= ~finite
        rows = np.flatnonzero(busy)
        if len(rows):
            act[rows] = self._heuristic_rows(flat[rows].astype(np.float64))
        return act.reshape(*obs.shape[:-1], lay.action_dim)

    def _heuristic_rows(self, obs: np.ndarray) -> np.ndarray:
        """The heuristic of observation rows ``[R, obs_dim]`` (float64), ``[R, action_dim]``.

        Each slice is clipped to its bounds in float64 and then rounded to float32, as
        clipping the whole action to the action space and casting it would.
        """
        cfg, lay = self.cfg, self.layout
        act = np.empty((lay.action_dim, obs.shape[0]), dtype=np.float32)  # component-major
        weights = np.ascontiguousarray(obs[:, lay.weights].T)  # [G, R]
        k = min(cfg.n_goods, cfg.signal_dim)
        signal = np.zeros((cfg.signal_dim, obs.shape[0]))
        signal[:k] = 2.0 * weights[:k] - 1.0
        signal = np.clip(signal, -1.0, 1.0)
        act[lay.signal] = signal
        act[lay.query] = signal
        act[lay.focus] = 0.5
        angle = np.arctan2(obs[:, lay.season.start], obs[:, lay.season.start + 1])
        if (angle.view(np.int64) == angle[:1].view(np.int64)).all():  # one season (an env's)
            season = season_factor(angle[:1], cfg.n_goods, cfg.season_amplitude).T
        else:
            season = season_factor(angle, cfg.n_goods, cfg.season_amplitude).T
        prices = np.ascontiguousarray(obs[:, lay.prices].T)
        score = weights * np.maximum(prices, TINY) * season  # [G, R]
        best = np.argmax(score, axis=0)
        act[lay.job] = best == np.arange(cfg.n_goods)[:, None]
        act[lay.effort] = HEURISTIC_EFFORT
        # clipping to the space's array bounds maps -0.0 to 0.0, a clip to scalars does not
        act[lay.preference] = np.where(weights == 0.0, 0.0, np.clip(weights, 0.0, 1.0))
        act[lay.willingness] = 1.0
        act[lay.consumption] = HEURISTIC_CONSUMPTION
        return act.T

    def _idle_action(self) -> np.ndarray:
        """The heuristic's action for an all-zero observation row (that of a dead slot)."""
        if self._idle is None:
            self._idle = self._heuristic_rows(np.zeros((1, self.layout.obs_dim)))[0]
        return self._idle

    @staticmethod
    def _live_actions(actions: np.ndarray, live: LiveIndex) -> np.ndarray:
        """The actions of the live slots, ``[L, action_dim]`` float64, in ``live`` order."""
        return np.asarray(live.take(np.asarray(actions)), dtype=np.float64)


def citizen_names(config: EconomyConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of a citizen's observation features and action components, in index order
    (the tables of the module docstring)."""
    g, d = range(config.n_goods), range(config.signal_dim)
    observation = (
        *(f"phase_{p}" for p in ("broadcast", "production", "trade", "consumption")),
        *(f"holdings_{i}" for i in g),
        *(f"weight_{i}" for i in g),
        "age",
        "hunger",
        *(f"last_job_{i}" for i in g),
        "season_sin",
        "season_cos",
        *(f"yield_{i}" for i in g),
        *(f"price_{i}" for i in g),
        *(f"social_signal_{k}" for k in d),
        "population",
    )
    action = (
        *(f"signal_{k}" for k in d),
        *(f"query_{k}" for k in d),
        "focus",
        *(f"job_score_{i}" for i in g),
        "effort",
        *(f"preference_{i}" for i in g),
        "willingness",
        *(f"consume_{i}" for i in g),
    )
    return observation, action


def citizen_spaces(config: EconomyConfig) -> tuple[spaces.Box, spaces.Box]:
    """The observation and action spaces of one citizen."""
    lay = Layout.of(config.n_goods, config.signal_dim)
    obs_low = np.zeros(lay.obs_dim, dtype=np.float32)
    obs_high = np.ones(lay.obs_dim, dtype=np.float32)
    obs_high[lay.holdings] = HOLDINGS_CLIP
    obs_low[lay.season] = -1.0
    obs_high[lay.rate] = RATIO_CLIP
    obs_high[lay.prices] = RATIO_CLIP
    obs_low[lay.social] = -1.0
    act_low = np.zeros(lay.action_dim, dtype=np.float32)
    act_low[lay.signal] = -1.0
    act_low[lay.query] = -1.0
    act_high = np.ones(lay.action_dim, dtype=np.float32)
    return (
        spaces.Box(obs_low, obs_high, dtype=np.float32),
        spaces.Box(act_low, act_high, dtype=np.float32),
    )


class Broadcasters(Citizens):
    """L1: every live citizen sends a signal and sets its attention query and focus."""

    phase = 0
    holdings_key = "demography.holdings"
    reads = (*Citizens.observation_reads, "demography.holdings")
    writes = ("signal", "query", "focus")

    def reset(self, ctx: Context) -> None:
        b, n, d = ctx.n_worlds, self.n_agents, self.cfg.signal_dim
        self.write(ctx, "signal", np.zeros((b, n, d)))
        self.write(ctx, "query", np.zeros((b, n, d)))
        self.write(ctx, "focus", np.zeros((b, n)))

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        b, n, d = ctx.n_worlds, self.n_agents, self.cfg.signal_dim
        live = live_index(self.read(ctx, "demography.alive"))
        acts = self._live_actions(actions, live)  # the dead slots' signals stay 0
        lay = self.layout
        signal = live.put(np.zeros((b, n, d)), np.clip(acts[:, lay.signal], -1, 1))
        query = live.put(np.zeros((b, n, d)), np.clip(acts[:, lay.query], -1, 1))
        focus = live.put(np.zeros((b, n)), np.clip(acts[:, lay.focus], 0.0, 1.0) * MAX_FOCUS)
        self.write(ctx, "signal", signal)
        self.write(ctx, "query", query)
        self.write(ctx, "focus", focus)


class SocialObservation(Stream):
    """L2: each citizen's attention-weighted mean of the other live citizens' signals."""

    reads = ("broadcast.signal", "broadcast.query", "broadcast.focus", "demography.alive")
    writes = ("signal",)

    def __init__(self, name: str, config: EconomyConfig) -> None:
        super().__init__(name)
        self.cfg = config

    def reset(self, ctx: Context) -> None:
        b, n = ctx.n_worlds, self.cfg.max_population
        self.write(ctx, "signal", np.zeros((b, n, self.cfg.signal_dim)))
        self._entropy: np.ndarray | None = np.zeros(b)
        self._attention: list[tuple] = []

    def step(self, ctx: Context) -> None:
        alive = self.read(ctx, "demography.alive")
        d = self.cfg.signal_dim
        out = np.zeros((ctx.n_worlds, self.cfg.max_population, d))
        signals = self.read(ctx, "broadcast.signal")
        queries = self.read(ctx, "broadcast.query")
        foci = self.read(ctx, "broadcast.focus")
        self._attention = []
        for chunk in live_index(alive).chunks:
            valid = chunk.valid
            signal = chunk.take(signals)  # [W, K, D], padded to the chunk's widest world
            query = chunk.take(queries)
            scale = chunk.take(foci)[..., None] / np.sqrt(d)  # [W, K, 1]
            w, k = valid.shape
            logits = np.zeros((w, k, k))
            for s, e, n in chunk.groups:  # every world at its own width
                np.matmul(
                    query[s:e, :n], signal[s:e, :n].transpose(0, 2, 1), out=logits[s:e, :n, :n]
                )
            logits *= scale
            # j is another live citizen (padding rows attend to nobody)
            others = valid[:, None, :] & valid[:, :, None] & ~np.eye(k, dtype=bool)
            logits[~others] = -MASKED
            top = logits.max(axis=-1, keepdims=True)
            # exp of the masked logits (0 once masked) is slow and never used: take exp(0)
            weights = np.exp(np.where(others, logits - top, 0.0))
            weights *= others  # rows without others (a citizen alone) are all 0
            total = np.zeros((w, k, 1))
            for s, e, n in chunk.groups:
                np.add.reduce(weights[s:e, :n, :n], axis=-1, keepdims=True, out=total[s:e, :n])
            weights /= np.maximum(total, TINY)
            social = np.zeros((w, k, d))
            for s, e, n in chunk.groups:
                np.matmul(weights[s:e, :n, :n], signal[s:e, :n], out=social[s:e, :n])
            out.reshape(-1, d)[chunk.flat] = social * valid[..., None]
            self._attention.append((chunk, logits, top, weights, total, others))
        self._entropy = None  # computed when asked for (metrics_step)
        self.write(ctx, "signal", out)

    def _attention_entropy(self, n_worlds: int) -> np.ndarray:
        """Mean normalised entropy of the attention weights of the last step, per world."""
        out = np.zeros(n_worlds)
        for chunk, logits, top, weights, total, others in self._attention:
            # entropy of a softmax: log(total) + top - sum_j w_j * logit_j (masked terms have w = 0)
            n_others = others.sum(axis=-1)
            entropy = np.log(np.maximum(total[..., 0], TINY)) + top[..., 0]
            terms = weights * logits
            for s, e, n in chunk.groups:
                entropy[s:e, :n] -= terms[s:e, :n, :n].sum(axis=-1)
            counted = chunk.valid & (n_others > 1)
            entropy = np.where(counted, entropy / np.log(np.maximum(n_others, 2)), 0.0)
            for s, e, n in chunk.groups:
                out[chunk.worlds[s:e]] = entropy[s:e, :n].sum(axis=1) / np.maximum(
                    counted[s:e, :n].sum(axis=1), 1
                )
        return out

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        if self._entropy is None:
            self._entropy = self._attention_entropy(ctx.n_worlds)
            self._attention = []
        return {"attention_entropy": self._entropy}


class Nature(Stream):
    """L3: the base yield of every good this tick, seasonal and stochastic."""

    writes = ("season", "yield")

    def __init__(self, name: str, config: EconomyConfig) -> None:
        super().__init__(name)
        self.cfg = config

    def reset(self, ctx: Context) -> None:
        b, g = ctx.n_worlds, self.cfg.n_goods
        self.write(ctx, "season", np.ones((b, g)))
        self.write(ctx, "yield", np.ones((b, g)))

    def step(self, ctx: Context) -> None:
        cfg = self.cfg
        angle = 2.0 * np.pi * ctx.tick / cfg.season_length
        season = np.broadcast_to(
            season_factor(np.array(angle), cfg.n_goods, cfg.season_amplitude),
            (ctx.n_worlds, cfg.n_goods),
        )
        sigma = cfg.yield_noise
        shock = np.exp(sigma * ctx.rng.standard_normal((ctx.n_worlds, cfg.n_goods)) - sigma**2 / 2)
        self.write(ctx, "season", season.copy())
        self.write(ctx, "yield", cfg.productivity * season * shock)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"season": ctx[self.key("season")][:, 0]}


class Producers(Citizens):
    """L3: every live citizen picks a job and an effort and adds its output to its holdings."""

    phase = 1
    holdings_key = "demography.holdings"
    reads = (*Citizens.observation_reads, "demography.holdings", "nature.yield")
    writes = ("job", "effort", "holdings", "rate", "output")

    def reset(self, ctx: Context) -> None:
        b, n, g = ctx.n_worlds, self.n_agents, self.cfg.n_goods
        self.write(ctx, "job", np.full((b, n), -1, dtype=np.int64))
        self.write(ctx, "effort", np.zeros((b, n)))
        self.write(ctx, "holdings", np.zeros((b, n, g)))
        self.write(ctx, "rate", np.ones((b, g)))
        self.write(ctx, "output", np.zeros((b, g)))
        self._shares = np.zeros((b, g))
        self._share_sum = np.zeros((b, g))
        self._ticks = 0

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        cfg, lay = self.cfg, self.layout
        b, n, g = ctx.n_worlds, self.n_agents, cfg.n_goods
        live = live_index(self.read(ctx, "demography.alive"))
        acts = self._live_actions(actions, live)  # the dead have no job and no effort
        best = np.argmax(acts[:, lay.job], axis=-1)
        effort = np.clip(acts[:, lay.effort], 0.0, 1.0)
        work = (best[:, None] == np.arange(g)) * effort[:, None]  # [L, G]
        # sums over the slots: in slot order, as a sum over axis 1 adds (the dead add +0)
        total_effort = live.sum_by_world(work)  # [B, G]
        land = cfg.land * cfg.n_agents / cfg.n_goods
        rate = self.read(ctx, "nature.yield") / (1.0 + total_effort / land)
        output = work * rate[live.world]
        self.write(ctx, "job", live.put(np.full((b, n), -1, dtype=np.int64), best))
        self.write(ctx, "effort", live.put(np.zeros((b, n)), effort))
        outputs = live.put(np.zeros((b, n, g)), output)
        self.write(ctx, "holdings", self.read(ctx, "demography.holdings") + outputs)
        self.write(ctx, "rate", rate)
        self.write(ctx, "output", live.sum_by_world(output))
        workers = np.bincount(live.world * g + best, minlength=b * g).reshape(b, g)
        self._shares = workers / np.maximum(live.counts, 1)[:, None]
        self._share_sum += self._shares
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        out = {"output": ctx[self.key("output")].sum(axis=1)}
        out.update({f"job_share_{g}": self._shares[:, g] for g in range(self.cfg.n_goods)})
        return out

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        mean = self._share_sum / max(self._ticks, 1)
        return {f"mean_job_share_{g}": mean[:, g] for g in range(self.cfg.n_goods)}


class Traders(Citizens):
    """L4: market clearing by projected gradient ascent over reallocations conserving every good."""

    phase = 2
    holdings_key = "production.holdings"
    reads = (*Citizens.observation_reads, "production.holdings")
    writes = ("holdings", "prices", "volume")

    def reset(self, ctx: Context) -> None:
        b, n, g = ctx.n_worlds, self.n_agents, self.cfg.n_goods
        self.write(ctx, "holdings", np.zeros((b, n, g)))
        self.write(ctx, "prices", np.ones((b, g)))
        self.write(ctx, "volume", np.zeros(b))
        self._total_volume = np.zeros(b)

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        cfg, lay = self.cfg, self.layout
        alive = self.read(ctx, "demography.alive")
        before = self.read(ctx, "production.holdings")
        after = before.copy()
        unit_prices = np.zeros((ctx.n_worlds, cfg.n_goods))
        actions = np.asarray(actions)
        for chunk in live_index(alive).chunks:
            valid = chunk.valid
            acts = chunk.take(actions)  # [W, K, A], padded to the chunk's widest world
            preference = np.clip(np.asarray(acts[..., lay.preference], dtype=np.float64), 0.0, 1.0)
            preference += TINY
            preference /= preference.sum(axis=-1, keepdims=True)
            willing = np.clip(np.asarray(acts[..., lay.willingness], dtype=np.float64), 0.0, 1.0)
            willing = np.where(valid, willing, 0.0)
            held = chunk.take(before)
            holdings, unit_prices[chunk.worlds] = clear_groups(
                held, preference, willing, chunk.groups, cfg.trade_iterations, cfg.trade_rate
            )
            after.reshape(-1, cfg.n_goods)[chunk.flat] = np.where(valid[..., None], holdings, held)
        volume = 0.5 * np.abs(after - before).sum(axis=(1, 2))
        self.write(ctx, "holdings", after)
        self.write(ctx, "prices", unit_prices)
        self.write(ctx, "volume", volume)
        self._total_volume += volume

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        prices = ctx[self.key("prices")]
        out = {"volume": ctx[self.key("volume")]}
        out.update({f"price_{g}": prices[:, g] for g in range(self.cfg.n_goods)})
        return out

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"total_volume": self._total_volume}


def clear_market(
    holdings: np.ndarray,
    preference: np.ndarray,
    willing: np.ndarray,
    iterations: int,
    rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Reallocate ``holdings [B, K, G]`` by projected gradient ascent; every good's total is kept.

    Args:
        holdings: Holdings of the traders (non-negative).
        preference: Declared preferences ``[B, K, G]`` on the simplex.
        willing: Willingness to trade ``[B, K]`` in [0, 1] (0 for padding rows: they never move).
        iterations: Gradient steps.
        rate: Step size in units of each good's mean holding.

    Returns:
        The new holdings and the unit prices ``[B, G]`` (mean over goods 1).
    """
    b, k, _ = holdings.shape
    return clear_groups(holdings, preference, willing, ((0, b, k),), iterations, rate)


def clear_groups(
    holdings: np.ndarray,
    preference: np.ndarray,
    willing: np.ndarray,
    groups: tuple[tuple[int, int, int], ...],
    iterations: int,
    rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clear_market` of worlds of several widths at once.

    The rows ``start:end`` of the arrays are worlds of ``width`` traders (a group); their
    entries beyond ``width`` are padding (``willing`` 0, ``holdings`` 0 or more, finite). The
    sums over traders run group by group on the first ``width`` entries, so each world clears
    exactly as it does alone; the element-wise steps run on all worlds at once. A world's
    holdings pushed below 0 are clipped if any of its own are.
    """
    b, k, g = holdings.shape
    movers = (willing > 0).astype(np.float64)  # [B, K]
    n = np.maximum(movers.sum(axis=1), 1.0)[:, None]  # counts: exact whatever the padding
    row_movers = movers[:, None, :]  # [B, 1, K]
    scale = np.empty((b, 1, g))
    total_willing = np.empty(b)
    for s, e, w in groups:
        np.matmul(row_movers[s:e, :, :w], holdings[s:e, :w], out=scale[s:e])
        np.add.reduce(willing[s:e, :w], axis=1, out=total_willing[s:e])
    scale = scale[:, 0] / n + TINY  # [B, G]
    z0 = holdings / scale[:, None, :]  # [B, K, G]
    row_weight = willing[:, None, :] / np.maximum(total_willing, TINY)[:, None, None]
    # Buffers (updated in place, so the group views below stay valid). The matrix products
    # take [B, K, G] operands, laid out as a world alone has them; with several worlds the
    # element-wise steps run goods-major, [B, G, K] (long rows, cheap broadcasts).
    budget = np.zeros((b, k, 1))  # holdings before trade at current prices (0 for padding)
    ratio = np.empty((b, k, g))
    clipped = np.empty((b, k, g))
    mean_ratio = np.empty((b, 1, g))
    positive = np.empty((b, 1, g))
    prices = np.ones((b, g, 1))
    budgets = [(z0[s:e, :w], prices[s:e], budget[s:e, :w]) for s, e, w in groups]
    means = [(row_weight[s:e, :, :w], ratio[s:e, :w], mean_ratio[s:e]) for s, e, w in groups]
    paybacks = [(row_movers[s:e, :, :w], clipped[s:e, :w], positive[s:e]) for s, e, w in groups]
    starts = np.array([s for s, _, _ in groups])
    mean_gk = mean_ratio.reshape(b, g, 1)
    batch = b > 1
    if batch:
        z = np.ascontiguousarray(z0.transpose(0, 2, 1))
        preference = np.ascontiguousarray(np.transpose(preference, (0, 2, 1)))
        step = rate * willing[:, None, :]  # [B, 1, K]
        budget_v, prices_v, mean_v = budget.reshape(b, 1, k), prices, mean_gk
        positive_v, movers_v = positive.reshape(b, g, 1), row_movers
        ratio_v = np.empty((b, g, k))
        short = np.empty((k, b, g))  # the traders' shortfalls, trader-major
    else:
        z = z0
        step = rate * willing[..., None]  # [B, K, 1]
        budget_v, prices_v, mean_v = budget, prices.transpose(0, 2, 1), mean_ratio
        positive_v, movers_v = positive, movers[..., None]
        ratio_v = ratio
    for _ in range(iterations):
        for x, y, out in budgets:
            np.matmul(x, y, out=out)
        np.multiply(budget_v, preference, out=ratio_v)
        denominator = TRADE_SMOOTHING + z
        denominator *= prices_v
        np.divide(ratio_v, denominator, out=ratio_v)
        np.minimum(ratio_v, RATIO_CLIP, out=ratio_v)
        if batch:
            np.copyto(ratio, ratio_v.transpose(0, 2, 1))
        for x, y, out in means:
            np.matmul(x, y, out=out)
        z = z + step * (ratio_v - mean_v)  # the steps of one good sum to 0
        negative = z < 0.0
        if negative.any():  # clip at 0; the traders pay the mass created back, pro rata
            positive.fill(1.0)
            if batch:
                hit = negative.any(axis=(1, 2))  # [B]: the worlds that clip
                np.minimum(z.transpose(2, 0, 1), 0.0, out=short)
                if g > 1:  # NumPy sums axis 1 of [B, K, G] one trader after another from 0:
                    deficit = -np.add.reduce(short, axis=0)[..., None]  # over [K, B, G]'s axis 0
                else:  # and pairwise over a single good's traders: world by world
                    deficit = np.empty((b, g, 1))
                    for s, e, w in groups:
                        deficit[s:e, 0, 0] = -np.add.reduce(short[:w, s:e, 0].T, axis=1)
                cut = np.maximum(z, 0.0)
                np.copyto(clipped, cut.transpose(0, 2, 1))
                for clips, (x, y, out) in zip(
                    np.logical_or.reduceat(hit, starts).tolist(), paybacks
                ):
                    if clips:
                        np.matmul(x, y, out=out)
            else:
                deficit = -np.minimum(z, 0.0).sum(axis=1, keepdims=True)  # [B, 1, G]
                cut = np.maximum(z, 0.0, out=clipped)
                for x, y, out in paybacks:
                    np.matmul(x, y, out=out)
            keep = np.maximum(1.0 - deficit / np.maximum(positive_v, TINY), 0.0)  # in [0, 1]
            cut *= 1.0 - movers_v * (1.0 - keep)
            z = cut if not batch or hit.all() else np.where(hit[:, None, None], cut, z)
        prices *= np.maximum(mean_gk, TINY)
        prices *= g / prices.sum(axis=1, keepdims=True)  # mean 1 over goods
    unit = prices[..., 0] / scale
    unit /= unit.mean(axis=1, keepdims=True)
    if batch:
        z = z.transpose(0, 2, 1)
    return np.where(movers[..., None] > 0, z * scale[:, None, :], holdings), unit


class Consumers(Citizens):
    """L5: every live citizen consumes shares of its goods; its reward is their utility."""

    phase = 3
    holdings_key = "trade.holdings"
    reads = (*Citizens.observation_reads, "trade.holdings", "production.effort")
    writes = ("holdings", "consumed", "utility", "reward")

    def reset(self, ctx: Context) -> None:
        b, n, g = ctx.n_worlds, self.n_agents, self.cfg.n_goods
        self.write(ctx, "holdings", np.zeros((b, n, g)))
        self.write(ctx, "consumed", np.zeros((b, n, g)))
        self.write(ctx, "utility", np.zeros((b, n)))
        self.write(ctx, "reward", np.zeros((b, n)))
        self._mean_reward = np.zeros(b)
        self._gini = np.zeros(b)
        self._total_reward = np.zeros(b)
        self._gini_sum = np.zeros(b)
        self._agent_ticks = np.zeros(b)
        self._ticks = 0

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        alive = self.read(ctx, "demography.alive")
        live = live_index(alive)
        holdings = self.read(ctx, "trade.holdings")
        share = np.clip(self._live_actions(actions, live)[:, self.layout.consumption], 0.0, 1.0)
        eaten = share * live.take(holdings)  # [L, G]; the dead consume nothing
        # the dead's utility is 0 too: their weights are on the simplex and log1p(0) = 0
        used = sum_goods(live.take(self.read(ctx, "demography.weights")) * np.log1p(eaten))
        cost = self.cfg.effort_cost * live.take(self.read(ctx, "production.effort")) ** 2
        b, n = alive.shape
        consumed = live.put(np.zeros(holdings.shape), eaten)
        utility = live.put(np.zeros((b, n)), used)
        reward = live.put(np.zeros((b, n)), used - cost)
        self.write(ctx, "holdings", holdings - consumed)
        self.write(ctx, "consumed", consumed)
        self.write(ctx, "utility", utility)
        self.write(ctx, "reward", reward)
        total = reward.sum(axis=1)
        self._mean_reward = total / np.maximum(live.counts, 1)
        self._gini = gini(utility, alive)
        self._total_reward += total
        self._gini_sum += self._gini
        self._agent_ticks += live.counts
        self._ticks += 1

    def reward(self, ctx: Context) -> np.ndarray:
        """This tick's reward on the env step that completed the tick, else 0."""
        if not ctx.tick_completed:
            return np.zeros((ctx.n_worlds, self.n_agents))
        return ctx[self.key("reward")]

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"mean_reward": self._mean_reward, "gini_reward": self._gini}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "total_reward": self._total_reward,
            "mean_reward": self._total_reward / np.maximum(self._agent_ticks, 1),
            "mean_gini_reward": self._gini_sum / max(self._ticks, 1),
        }


class Demography(Stream):
    """L6: spoilage, ageing, death by age or hunger, and births into fresh slots of the pool."""

    reads = ("consumption.holdings", "consumption.consumed")
    writes = ("alive", "age", "hunger", "holdings", "weights")

    def __init__(self, name: str, config: EconomyConfig) -> None:
        super().__init__(name)
        self.cfg = config

    def reset(self, ctx: Context) -> None:
        cfg, rng = self.cfg, ctx.rng
        b, n, g, n0 = ctx.n_worlds, cfg.max_population, cfg.n_goods, cfg.n_agents
        alive = np.zeros((b, n), dtype=bool)
        alive[:, :n0] = True
        age = np.zeros((b, n), dtype=np.int64)
        age[:, :n0] = rng.integers(0, cfg.max_age, size=(b, n0))
        weights = np.full((b, n, g), 1.0 / g)
        weights[:, :n0] = rng.dirichlet(np.ones(g), size=(b, n0))
        holdings = np.zeros((b, n, g))
        holdings[:, :n0] = cfg.initial_wealth * rng.dirichlet(np.ones(g), size=(b, n0))
        self.write(ctx, "alive", alive)
        self.write(ctx, "age", age)
        self.write(ctx, "hunger", np.zeros((b, n), dtype=np.int64))
        self.write(ctx, "holdings", holdings)
        self.write(ctx, "weights", weights)
        self.next_slot = np.full(b, n0, dtype=np.int64)  # the first never-used slot per world
        self._births = np.zeros(b, dtype=np.int64)
        self._deaths = np.zeros(b, dtype=np.int64)
        self._total_births = np.zeros(b, dtype=np.int64)
        self._total_deaths = np.zeros(b, dtype=np.int64)
        self._population_sum = np.zeros(b)
        self._gini_sum = np.zeros(b)
        self._ticks = 0
        self._update_wealth_metrics(alive, sum_goods(holdings), age)

    def step(self, ctx: Context) -> None:
        cfg, rng = self.cfg, ctx.rng
        alive = ctx[self.key("alive")]
        holdings = self.read(ctx, "consumption.holdings") * (1.0 - cfg.spoilage)
        live = live_index(alive)
        consumed = live.take(self.read(ctx, "consumption.consumed"))  # only the live can starve
        hungry = live.put(np.zeros(alive.shape, dtype=bool), sum_goods(consumed) < cfg.subsistence)
        age = np.where(alive, ctx[self.key("age")] + 1, 0)
        hunger = np.where(alive & hungry, ctx[self.key("hunger")] + 1, 0)
        dies = alive & ((age >= cfg.max_age) | (hunger >= cfg.starvation_ticks))
        alive = alive & ~dies
        holdings[dies] = 0.0
        weights = ctx[self.key("weights")].copy()

        # births: parents ranked within their world take the next never-used slots in order
        wealth = sum_goods(holdings)
        parents = alive & (wealth >= cfg.birth_wealth) & (rng.random(alive.shape) < cfg.birth_rate)
        rank = np.cumsum(parents, axis=1) - 1
        room = cfg.max_population - self.next_slot
        parents &= rank < room[:, None]
        world, parent = np.nonzero(parents)
        births = parents.sum(axis=1)
        if len(world):
            child = self.next_slot[world] + rank[world, parent]
            gift = cfg.birth_share * holdings[world, parent]
            holdings[world, parent] -= gift
            holdings[world, child] = gift
            wealth[world, parent] = sum_goods(holdings[world, parent])
            wealth[world, child] = sum_goods(gift)
            # each world's mutations from its own stream (a world without births draws none)
            draws = [
                rng.world(b).standard_normal((k, cfg.n_goods))
                for b, k in enumerate(births.tolist())
                if k
            ]
            noise = cfg.mutation * np.concatenate(draws)
            logits = np.log(np.maximum(weights[world, parent], TINY)) + noise
            child_weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
            weights[world, child] = child_weights / child_weights.sum(axis=-1, keepdims=True)
            alive = alive.copy()
            alive[world, child] = True
            age[world, child] = 0
            hunger[world, child] = 0
            self.next_slot = self.next_slot + births

        self.write(ctx, "alive", alive)
        self.write(ctx, "age", age)
        self.write(ctx, "hunger", hunger)
        self.write(ctx, "holdings", holdings)
        self.write(ctx, "weights", weights)
        self._births, self._deaths = births, dies.sum(axis=1)
        self._total_births += self._births
        self._total_deaths += self._deaths
        self._ticks += 1
        self._update_wealth_metrics(alive, wealth, age)
        self._population_sum += self._population
        self._gini_sum += self._gini

    def _update_wealth_metrics(
        self, alive: np.ndarray, wealth: np.ndarray, age: np.ndarray
    ) -> None:
        self._population = alive.sum(axis=1)
        n = np.maximum(self._population, 1)
        self._gini = gini(wealth, alive)
        self._mean_wealth = (wealth * alive).sum(axis=1) / n
        self._mean_age = (age * alive).sum(axis=1) / n

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "population": self._population.astype(np.float64),
            "births": self._births.astype(np.float64),
            "deaths": self._deaths.astype(np.float64),
            "gini_wealth": self._gini,
            "mean_wealth": self._mean_wealth,
            "mean_age": self._mean_age,
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._ticks, 1)
        return {
            "mean_population": self._population_sum / ticks,
            "final_population": self._population.astype(np.float64),
            "total_births": self._total_births.astype(np.float64),
            "total_deaths": self._total_deaths.astype(np.float64),
            "mean_gini_wealth": self._gini_sum / ticks,
        }


def economy_spec(config: EconomyConfig) -> list[LayerSpec]:
    """The economy's layer specs (``EconomyEnv(...).config`` gives a validated config)."""
    p = {"config": config}
    return [
        LayerSpec([StreamSpec("broadcast", Broadcasters, p)], name="L1 broadcast"),
        LayerSpec([StreamSpec("social", SocialObservation, p)], name="L2 social"),
        LayerSpec(
            [StreamSpec("nature", Nature, p), StreamSpec("production", Producers, p)],
            name="L3 production",
        ),
        LayerSpec([StreamSpec("trade", Traders, p)], name="L4 trade"),
        LayerSpec([StreamSpec("consumption", Consumers, p)], name="L5 consumption"),
        LayerSpec([StreamSpec("demography", Demography, p)], name="L6 demography"),
    ]


#: The largest population (slots in the pool of citizen ids) that one step can hold in memory.
MAX_POPULATION = 10_000
_ATTENTION_MEMORY = (
    "a step holds up to {0} x {0} attention weights, about 2.5 GiB at 10000; larger sizes "
    "need more than this machine's memory"
)


@dataclass(frozen=True, kw_only=True)
class EconomyParams(ModelParams):
    """The economy's parameters (the keyword arguments of :class:`EconomyEnv`)."""

    n_agents: int = param(
        20,
        1,
        MAX_POPULATION,
        "Citizens alive at reset",
        why=_ATTENTION_MEMORY.format("n_agents"),
    )
    max_population: int | None = param(
        None,
        1,
        MAX_POPULATION,
        f"Slots in the pool of citizen ids, at least n_agents; None means 10x n_agents, at "
        f"most {MAX_POPULATION}",
        why=_ATTENTION_MEMORY.format("max_population"),
    )
    n_goods: int = param(2, 2, 16, "Number of goods (and jobs)")
    signal_dim: int = param(4, 1, 64, "Dimension of the broadcast signal")
    decision: str = param(
        "tick",
        doc="One env step per tick, or per decision sub-step (layer)",
        choices=("tick", "layer"),
    )
    season_length: int = param(20, 1, 1_000_000, "Ticks per seasonal cycle")
    season_amplitude: float = param(0.5, 0.0, 1.0, "Amplitude of the seasonal yield factor")
    yield_noise: float = param(0.2, 0.0, 2.0, "Log-sd of the yield shocks")
    productivity: float = param(
        2.0,
        0.0,
        1e3,
        "Yield per unit of effort on unworked land in an average season",
    )
    land: float = param(
        0.35,
        0.01,
        100.0,
        "Total effort in a job that halves its yield per unit of effort, in units of "
        "n_agents / n_goods",
    )
    effort_cost: float = param(0.1, 0.0, 10.0, "Weight of effort squared in the reward")
    trade_iterations: int = param(8, 0, 100, "Gradient steps of the market clearing per tick")
    trade_rate: float = param(0.5, 0.0, 1.0, "Step size of the market clearing")
    spoilage: float = param(0.05, 0.0, 1.0, "Share of holdings that spoils per tick")
    subsistence: float = param(0.1, 0.0, 100.0, "Units to consume per tick to not be hungry")
    starvation_ticks: int = param(5, 1, 1000, "Consecutive hungry ticks that kill")
    max_age: int = param(80, 1, 1_000_000, "Age at which a citizen dies")
    birth_wealth: float = param(0.6, 0.0, 1e6, "Holdings needed to have a child")
    birth_rate: float = param(0.1, 0.0, 1.0, "Probability per tick of a child when wealthy enough")
    birth_share: float = param(0.5, 0.0, 1.0, "Share of each good the parent gives to the child")
    mutation: float = param(0.1, 0.0, 10.0, "Log-sd of the mutation of inherited utility weights")
    initial_wealth: float = param(2.0, 0.0, 1e4, "Units held by each citizen at reset")
    max_steps: int = param(300, 1, MAX_STEPS, "Ticks per episode (truncation)")

    def check(self) -> None:
        """``max_population >= n_agents`` (when given)."""
        if self.max_population is not None:
            check_int(
                "max_population",
                self.max_population,
                self.n_agents,
                MAX_POPULATION,
                why=_ATTENTION_MEMORY.format("max_population"),
            )

    def model_kwargs(self) -> dict[str, Any]:
        """The fields of :class:`EconomyConfig`: ``max_population`` resolved."""
        out = super().model_kwargs()
        if out["max_population"] is None:
            out["max_population"] = max(self.n_agents, min(10 * self.n_agents, MAX_POPULATION))
        return out


class EconomyEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "economy_v0"}
    Params = EconomyParams

    def build_model(self, params: EconomyParams, n_worlds: int = 1) -> Model:
        """The economy model for validated ``params``; sets :attr:`config`."""
        self.config = EconomyConfig(**params.model_kwargs())
        return make_model(economy_spec(self.config), n_worlds, decision=self.config.decision)


parallel_env, raw_env = pettingzoo_constructors(EconomyEnv)
env = raw_env
__doc__ = EconomyEnv.__doc__  # with the Args: section generated from the declaration
