"""Diagnostics of the economy (``heas_envs/Economy-v0``), in the manner of HomoEconometra.

:func:`economy_episode` plays one episode and keeps, per tick, what the diagnostics need:
the citizens' broadcast signals, queries and foci, the attention weights of the social
stream, jobs, holdings, consumption utility and who was alive (recorded by a
:class:`TickRecorder` on the env's step hooks, :mod:`heas_envs.core.callbacks`). The plots
then show the signal space by PCA (with its variance spectrum), the attention matrix of one
tick as a heatmap, the Gini coefficients of wealth and utility over time, the shares of the
jobs over time, and an animated GIF of the episode (attention and holdings, tick by tick).

The attention weights are not kept by the model (the social stream writes only their
result, the aggregated signal ``social.signal``), so they are recomputed from the context of
each tick exactly as the stream computes them: ``a_ij = softmax_j(beta_i q_i . s_j /
sqrt(D))`` over the other citizens alive at the start of the tick (a citizen alone attends to
nobody). ``attention @ signals`` equals ``social.signal``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heas_envs.core.callbacks import Callback, hooked
from heas_envs.core.params import MAX_SEED, MAX_STEPS, check_int
from heas_envs.models.economy import gini, sum_goods

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

ENV_ID = "heas_envs/Economy-v0"
POLICIES = ("heuristic", "random")


@dataclass(frozen=True)
class EconomyEpisode:
    """One economy episode, tick by tick (``T`` ticks, ``N`` citizen slots: those used in
    the episode, the others never live).

    Attributes:
        seed: The episode's seed.
        policy: Who acted (``"heuristic"`` or ``"random"``).
        params: The model parameters it was played with.
        alive: ``[T, N]`` who lived during tick ``t`` (broadcast, worked, traded, consumed).
        survivors: ``[T, N]`` who was alive at the end of tick ``t`` (after deaths and births).
        signals: ``[T, N, D]`` the broadcast signals (0 for the dead).
        queries: ``[T, N, D]`` the attention queries.
        focus: ``[T, N]`` the attention inverse temperatures.
        social: ``[T, N, D]`` the aggregated signal each citizen observed (``social.signal``).
        attention: ``[T, N, N]`` row ``i``: the weights citizen ``i`` gave the others.
        jobs: ``[T, N]`` the job (good) each citizen worked in, -1 for none.
        holdings: ``[T, N, G]`` the holdings at the end of the tick.
        utility: ``[T, N]`` the consumption utility of the tick.
        metrics: One row per tick: ``tick`` (1 is the first) and every stream metric.
    """

    seed: int
    policy: str
    params: dict[str, Any]
    alive: np.ndarray
    survivors: np.ndarray
    signals: np.ndarray
    queries: np.ndarray
    focus: np.ndarray
    social: np.ndarray
    attention: np.ndarray
    jobs: np.ndarray
    holdings: np.ndarray
    utility: np.ndarray
    metrics: pd.DataFrame = field(repr=False)

    @property
    def ticks(self) -> np.ndarray:
        """``[T]`` the ticks, 1 for the first."""
        return np.arange(1, len(self.alive) + 1)

    @property
    def n_goods(self) -> int:
        """The number of goods (and jobs)."""
        return self.holdings.shape[-1]

    @property
    def wealth(self) -> np.ndarray:
        """``[T, N]`` each citizen's total holdings at the end of the tick."""
        return sum_goods(self.holdings)

    @property
    def gini_wealth(self) -> np.ndarray:
        """``[T]`` the Gini coefficient of the survivors' wealth (the model's ``gini``): the
        metric ``demography.gini_wealth``."""
        return gini(self.wealth, self.survivors)

    @property
    def gini_utility(self) -> np.ndarray:
        """``[T]`` the Gini coefficient of the tick's consumption utility over the citizens
        alive in it: the metric ``consumption.gini_reward``."""
        return gini(self.utility, self.alive)

    @property
    def job_shares(self) -> np.ndarray:
        """``[T, G]`` the share of the live citizens working in each job: the metrics
        ``production.job_share_<g>``."""
        counts = np.stack(
            [((self.jobs == g) & self.alive).sum(axis=1) for g in range(self.n_goods)], axis=1
        )
        return counts / np.maximum(self.alive.sum(axis=1), 1)[:, None]


def attention_weights(
    signal: np.ndarray, query: np.ndarray, focus: np.ndarray, alive: np.ndarray
) -> np.ndarray:
    """The social stream's attention weights of one world, ``[N, N]``.

    ``a_ij = softmax_j(focus_i * query_i . signal_j / sqrt(D))`` over the live ``j != i``
    (0 elsewhere; a row of a dead citizen, or of a citizen alone, is all 0), computed as
    :class:`~heas_envs.models.economy.SocialObservation` does.

    Args:
        signal, query: ``[N, D]`` per slot.
        focus: ``[N]`` the inverse temperatures (already scaled by ``MAX_FOCUS``).
        alive: ``[N]`` bool, who was alive when the signals were sent.
    """
    live = np.flatnonzero(alive)
    n, d = signal.shape
    out = np.zeros((n, n))
    k = len(live)
    if k < 2:
        return out
    logits = query[live] @ signal[live].T
    logits *= focus[live][:, None] / np.sqrt(d)
    others = ~np.eye(k, dtype=bool)
    top = np.where(others, logits, -np.inf).max(axis=1, keepdims=True)
    weights = np.where(others, np.exp(np.where(others, logits - top, 0.0)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    out[np.ix_(live, live)] = weights
    return out


def economy_episode(
    seed: int = 0,
    steps: int = 100,
    policy: str = "heuristic",
    *,
    progress: bool = False,
    **params: Any,
) -> EconomyEpisode:
    """Play one economy episode and keep what the diagnostics need, tick by tick.

    Args:
        seed: The episode's seed, in [0, 2**63 - 1]; random play draws from
            ``np.random.default_rng(seed)`` (as ``heas-envs run --policy random`` does).
        steps: Ticks to play (the env's ``max_steps``); fewer when everyone dies.
        policy: ``"heuristic"`` (the model's reference policy) or ``"random"``.
        progress: Show a progress bar on standard error.
        **params: Economy parameters (``n_agents``, ``n_goods``, ...; see
            ``heas-envs params heas_envs/Economy-v0``); ``decision`` must stay ``"tick"``.

    Raises:
        ValueError: A seed, step count or policy out of range, an unknown parameter, a
            parameter out of its range, ``max_steps`` (give ``steps``) or
            ``decision="layer"``.
    """
    import pandas as pd
    from tqdm import tqdm

    from heas_envs.registration import make_parallel

    seed = check_int("seed", seed, 0, MAX_SEED)
    steps = check_int("steps", steps, 1, MAX_STEPS)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    if "max_steps" in params:
        raise ValueError("give the number of ticks as steps, not the parameter max_steps")
    if params.get("decision", "tick") != "tick":
        raise ValueError(
            f"economy_episode plays whole ticks: decision must be 'tick', got {params['decision']!r}"
        )
    env = make_parallel(ENV_ID, max_steps=steps, **params)
    rng = np.random.default_rng(seed)
    recorder = TickRecorder(env)
    with (
        hooked(env, recorder),
        tqdm(total=steps, desc="economy", disable=not progress, file=sys.stderr) as bar,
    ):
        env.reset_arrays(seed=seed)
        while env.agents:
            actions = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
            env.step_arrays(actions)
            bar.update(1)
    env.close()
    data = {k: np.stack(v) for k, v in recorder.record.items()}
    used = np.flatnonzero((data["alive"] | data["survivors"]).any(axis=0))
    n = int(used.max()) + 1 if len(used) else 1  # the pool fills in order: slots >= n never live
    data = {k: v[:, :n] for k, v in data.items()}
    data["attention"] = np.stack(
        [
            attention_weights(s, q, f, a)
            for s, q, f, a in zip(data["signals"], data["queries"], data["focus"], data["alive"])
        ]
    )
    return EconomyEpisode(
        seed=seed,
        policy=policy,
        params=dict(params),
        metrics=pd.DataFrame(recorder.rows),
        **data,
    )


#: What :func:`economy_episode` reads from the context after each tick (``alive`` is read
#: before it).
_KEYS: dict[str, str | None] = {
    "alive": None,
    "survivors": "demography.alive",
    "signals": "broadcast.signal",
    "queries": "broadcast.query",
    "focus": "broadcast.focus",
    "social": "social.signal",
    "jobs": "production.job",
    "holdings": "demography.holdings",
    "utility": "consumption.utility",
}


class TickRecorder(Callback):
    """What :func:`economy_episode` keeps, as a callback on an economy's step hooks: at each
    step's start who is alive (the citizens who act in the tick), at its end the context
    arrays of :data:`_KEYS` and one metrics row (``tick``, 1 for the first, and every stream
    metric).

    Args:
        env: The PettingZoo economy (:func:`heas_envs.make_parallel`) of one world whose
            context and metrics are read; register the recorder on it
            (:func:`~heas_envs.core.callbacks.hooked` or ``env.add_callback``).

    Attributes:
        record: Per :data:`_KEYS` name, one array per tick (world 0's row).
        rows: One metrics row per tick.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.record: dict[str, list[np.ndarray]] = {k: [] for k in _KEYS}
        self.rows: list[dict[str, Any]] = []

    def on_step_start(self, env: Any, actions: dict[str, np.ndarray]) -> None:
        """Keep who is alive as the tick starts."""
        self.record["alive"].append(self.env.model.ctx["demography.alive"][0].copy())

    def on_step_end(self, env: Any, result: Any) -> None:
        """Keep the tick's context arrays and metrics."""
        ctx = self.env.model.ctx
        for name, key in _KEYS.items():
            if key is not None:
                self.record[name].append(np.array(ctx[key][0]))
        self.rows.append({"tick": len(self.rows) + 1, **self.env.metrics()})


def pca(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of ``points [M, D]`` by SVD of the centred data.

    Returns:
        ``(scores, explained)``: the points in the principal axes ``[M, D]`` (sign fixed so
        that each axis' largest loading is positive) and the share of the variance along each
        axis ``[D]`` (all 0 when the points do not vary).
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"pca takes a non-empty [M, D] array, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    big = np.argmax(np.abs(vt), axis=1)
    vt = vt * np.sign(vt[np.arange(len(vt)), big])[:, None]
    scores = np.zeros(x.shape)
    scores[:, : len(vt)] = centred @ vt.T
    variance = s**2
    explained = np.zeros(x.shape[1])
    total = variance.sum()
    if total > 0:
        explained[: len(s)] = variance / total
    return scores, explained


def plot_signal_pca(episode: EconomyEpisode, *, title: str | None = None) -> Figure:
    """The broadcast signals of every live citizen at every tick on their first two principal
    axes, coloured by tick, beside the share of variance of each axis (the spectrum)."""
    import matplotlib.pyplot as plt

    t, i = np.nonzero(episode.alive)
    if len(t) == 0:
        raise ValueError("nobody was alive in the episode: there are no signals")
    scores, explained = pca(episode.signals[t, i])
    second = scores[:, 1] if scores.shape[1] > 1 else np.zeros(len(scores))
    share2 = explained[1] if len(explained) > 1 else 0.0
    fig, (ax, spectrum) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(3, 2))
    points = ax.scatter(scores[:, 0], second, c=t + 1, cmap="viridis", s=10, alpha=0.7)
    fig.colorbar(points, ax=ax, label="tick")
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * share2:.1f}% of variance)")
    ax.set_title("Broadcast signals")
    ax.grid(alpha=0.3)
    k = np.arange(1, len(explained) + 1)
    spectrum.bar(k, explained)
    spectrum.set_xticks(k)
    spectrum.set_xlabel("principal component")
    spectrum.set_ylabel("share of variance")
    spectrum.set_title("Spectrum of the signal space")
    fig.suptitle(title or f"Signal PCA (seed {episode.seed}, {episode.policy})")
    fig.tight_layout()
    return fig


def _tick_index(episode: EconomyEpisode, tick: int) -> int:
    """The row of ``tick`` (1 is the first tick, -1 the last)."""
    n = len(episode.alive)
    ok = isinstance(tick, (int, np.integer)) and not isinstance(tick, bool)
    if not ok or not (1 <= tick <= n or -n <= tick <= -1):
        raise ValueError(f"tick must be in 1..{n} or -{n}..-1 (from the end), got {tick!r}")
    return int(tick) - 1 if tick > 0 else n + int(tick)


def plot_attention_heatmap(
    episode: EconomyEpisode, tick: int = -1, *, title: str | None = None
) -> Figure:
    """The attention weights of tick ``tick`` (1 is the first; -1 the last) among the citizens
    alive in it: row ``i`` attends to column ``j``.

    Raises:
        ValueError: A tick outside the episode.
    """
    import matplotlib.pyplot as plt

    index = _tick_index(episode, tick)
    live = np.flatnonzero(episode.alive[index])
    matrix = episode.attention[index][np.ix_(live, live)]
    size = min(9.0, 3.0 + 0.18 * len(live))
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(matrix, cmap="magma", vmin=0.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="attention weight a_ij")
    step = max(1, len(live) // 20)
    marks = np.arange(0, len(live), step)
    ax.set_xticks(marks, [str(s) for s in live[marks]], fontsize=7, rotation=90)
    ax.set_yticks(marks, [str(s) for s in live[marks]], fontsize=7)
    ax.set_xlabel("attended citizen j")
    ax.set_ylabel("attending citizen i")
    ax.set_title(title or f"Attention at tick {index + 1} ({len(live)} citizens)")
    fig.tight_layout()
    return fig


def plot_gini(episode: EconomyEpisode, *, title: str | None = None) -> Figure:
    """The Gini coefficients of wealth (:attr:`EconomyEpisode.gini_wealth`) and of
    consumption utility (:attr:`EconomyEpisode.gini_utility`) over the ticks."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(episode.ticks, episode.gini_wealth, label="wealth (holdings, end of tick)")
    ax.plot(episode.ticks, episode.gini_utility, label="consumption utility")
    ax.set_xlabel("tick")
    ax.set_ylabel("Gini coefficient")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Inequality over time")
    fig.tight_layout()
    return fig


def plot_job_shares(episode: EconomyEpisode, *, title: str | None = None) -> Figure:
    """The share of the live citizens working in each job, per tick, as a stacked area."""
    import matplotlib.pyplot as plt

    shares = episode.job_shares
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.stackplot(episode.ticks, shares.T, labels=[f"job {g}" for g in range(shares.shape[1])])
    ax.set_xlabel("tick")
    ax.set_ylabel("share of live citizens")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(episode.ticks[0], episode.ticks[-1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(title or "Job shares")
    fig.tight_layout()
    return fig


def animate_episode(
    episode: EconomyEpisode,
    path: str | Path,
    *,
    fps: int = 4,
    every: int = 1,
    dpi: int = 72,
    progress: bool = False,
) -> Path:
    """Write an animated GIF of the episode: per frame, the attention matrix among the used
    citizen slots (the dead blank) and every citizen's holdings, stacked by good.

    Args:
        episode: The episode.
        path: The file to write; it must end in ``.gif`` (its folder is created).
        fps: Frames per second.
        every: Draw every ``every``-th tick (the first tick is always drawn).
        dpi: Resolution of the frames.
        progress: Show a progress bar on standard error.

    Returns:
        The path written. The GIF has ``len(range(0, T, every))`` frames.

    Raises:
        ValueError: A path not ending in ``.gif`` or a bad ``fps`` / ``every`` / ``dpi``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import PillowWriter
    from tqdm import tqdm

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(
            f"animate_episode writes a GIF: the path must end in .gif, got {str(path)!r}"
        )
    fps = check_int("fps", fps, 1, 100)
    every = check_int("every", every, 1, MAX_STEPS)
    dpi = check_int("dpi", dpi, 10, 600)
    frames = list(range(0, len(episode.alive), every))
    n, goods = episode.holdings.shape[1], episode.n_goods
    vmax = max(float(episode.attention.max()), 1e-9)
    top = max(float(episode.wealth.max()), 1e-9) * 1.05
    fig, (att, hold) = plt.subplots(1, 2, figsize=(9.5, 4.2), width_ratios=(1, 1.4))
    image = att.imshow(
        np.full((n, n), np.nan), cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest"
    )
    fig.colorbar(image, ax=att, label="attention weight")
    att.set_xlabel("attended citizen j")
    att.set_ylabel("attending citizen i")
    slots = np.arange(n)
    bars = []
    bottom = np.zeros(n)
    for g in range(goods):
        bars.append(hold.bar(slots, np.zeros(n), bottom=bottom, width=0.9, label=f"good {g}"))
    hold.set_ylim(0.0, top)
    hold.set_xlabel("citizen slot")
    hold.set_ylabel("holdings (units)")
    hold.legend(fontsize=7, loc="upper right")
    heading = fig.suptitle("")
    fig.tight_layout()

    def draw(index: int) -> None:
        alive = episode.alive[index]
        matrix = np.where(alive[:, None] & alive[None, :], episode.attention[index], np.nan)
        image.set_data(matrix)
        level = np.zeros(n)
        held = episode.holdings[index] * episode.survivors[index][:, None]
        for g, group in enumerate(bars):
            for rect, h, b in zip(group.patches, held[:, g], level):
                rect.set_height(h)
                rect.set_y(b)
            level = level + held[:, g]
        heading.set_text(
            f"Economy, seed {episode.seed} ({episode.policy}): tick {index + 1}, "
            f"population {int(episode.survivors[index].sum())}"
        )

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps)
    try:  # one draw per frame (FuncAnimation would draw each frame twice more)
        with writer.saving(fig, str(path), dpi):
            for index in tqdm(frames, desc="gif", disable=not progress, file=sys.stderr):
                draw(index)
                writer.grab_frame()
    finally:
        plt.close(fig)
    return path
