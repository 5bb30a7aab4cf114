"""Plots of a tournament's tables: per-step traces, votes, scores, rankings, ratings, intervals.

Each function takes one table as the tournament writes it (a DataFrame, or the CSV that
``TournamentResults.to_csv`` wrote, read back with pandas) and returns a matplotlib Figure;
none of them shows or saves it. The column names are those of ``agents.tournament``:

- ``steps``: ``scenario``, ``participants``, ``episode``, ``seed``, ``step`` and metrics;
- ``votes``: ``scenario``, ``episode``, ``participant``, ``return``, ``rank``;
- ``scores``: ``scenario``, ``participant``, ``mean``, ``ci_low``, ``ci_high``, ``normalised``;
- ``rankings``: ``rule``, ``participant``, ``score``, ``rank``, ``winner``;
- ``ratings``: ``participant``, ``mu``, ``sigma``, ``ordinal``;
- ``intervals``: ``participant``, ``statistic``, ``estimate``, ``ci_low``, ``ci_high``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Columns of the steps table that are not metrics.
STEP_KEYS = ("scenario", "participants", "participant", "episode", "seed", "step")


def require_columns(table: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    """Raise a ``ValueError`` naming the missing columns of ``table`` (called ``name``).

    Raises:
        ValueError: ``table`` is not a DataFrame or lacks one of ``columns``.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"the {name} table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"the {name} table lacks the column(s) {missing}; it needs {list(columns)} and has "
            f"{list(table.columns)}"
        )


def step_metrics(steps: pd.DataFrame) -> list[str]:
    """The metric columns of a steps table: the numeric columns other than :data:`STEP_KEYS`."""
    return [
        c
        for c in steps.columns
        if c not in STEP_KEYS and np.issubdtype(np.asarray(steps[c]).dtype, np.number)
    ]


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _colours(names: Sequence[str]) -> dict[str, Any]:
    """One colour of matplotlib's cycle per name, in order."""
    import matplotlib as mpl

    cycle = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    return {n: cycle[i % len(cycle)] for i, n in enumerate(names)}


def plot_steps(
    steps: pd.DataFrame,
    metric: str,
    *,
    x: str = "step",
    facet: str | None = "scenario",
    hue: str | None = "participants",
    band: str = "std",
    title: str | None = None,
) -> Figure:
    """Per-step traces of ``metric``: one panel per value of ``facet``, one line per value of
    ``hue``, the mean over the episodes at each ``x`` with a shaded band.

    Args:
        steps: The steps table (one row per recorded step of an episode).
        metric: The column to plot (one of :func:`step_metrics`).
        x: The column on the x axis.
        facet: The column whose values get one panel each (in order of appearance); ``None``:
            one panel.
        hue: The column whose values get one line each, listed in the legend; ``None``: one.
        band: ``"std"`` (mean ± standard deviation over episodes), ``"minmax"`` or ``"none"``.
        title: The figure's title (default: the metric).

    Returns:
        The figure; each panel's title is its facet value.

    Raises:
        ValueError: A missing column, a metric that is not numeric, an unknown ``band`` or
            an empty table.
    """
    import matplotlib.pyplot as plt

    if band not in ("std", "minmax", "none"):
        raise ValueError(f"band must be 'std', 'minmax' or 'none', got {band!r}")
    require_columns(steps, "steps", [x] + [c for c in (facet, hue) if c is not None])
    if metric not in step_metrics(steps):
        raise ValueError(
            f"unknown metric {metric!r} (not a numeric column); metrics: {step_metrics(steps)}"
        )
    if steps.empty:
        raise ValueError("the steps table is empty (was the tournament run with a collect period?)")
    facets = list(dict.fromkeys(steps[facet])) if facet else [None]
    hues = list(dict.fromkeys(steps[hue])) if hue else [None]
    colours = _colours([str(h) for h in hues])
    rows, cols = _grid(len(facets))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.0 * rows + 0.6), squeeze=False, sharex=True
    )
    for k, value in enumerate(facets):
        ax = axes.flat[k]
        part = steps if facet is None else steps[steps[facet] == value]
        for h in hues:
            mine = part if hue is None else part[part[hue] == h]
            if mine.empty:
                continue
            grouped = mine.groupby(x, sort=True)[metric]
            mean = grouped.mean()
            colour = colours[str(h)]
            ax.plot(mean.index, mean.to_numpy(), color=colour, label=None if h is None else str(h))
            if band == "std":
                std = grouped.std(ddof=0).fillna(0.0).to_numpy()
                lo, hi = mean.to_numpy() - std, mean.to_numpy() + std
            elif band == "minmax":
                lo, hi = grouped.min().to_numpy(), grouped.max().to_numpy()
            if band != "none":
                ax.fill_between(mean.index, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.set_title("" if value is None else str(value), fontsize=9)
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(facets) :]:
        ax.set_visible(False)
    if hue is not None:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        for ax in axes.flat[1 : len(facets)]:  # a hue missing from the first panel
            for hd, lb in zip(*ax.get_legend_handles_labels()):
                if lb not in labels:
                    handles.append(hd)
                    labels.append(lb)
        spread = {"std": "mean ± std", "minmax": "mean, min to max", "none": "mean"}[band]
        fig.legend(
            handles, labels, title=f"{hue} ({spread} over episodes)", loc="upper right", fontsize=8
        )
    fig.suptitle(title or metric)
    # fixed margins in inches: tight_layout measures every tick label, seconds for 32 panels
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=0.8 / width,
        right=(0.82 if hue is not None else 1.0) - 0.15 / width,
        bottom=0.55 / height,
        top=1.0 - 1.0 / height,
        wspace=0.35,
        hspace=0.45,
    )
    return fig


def win_shares(votes: pd.DataFrame) -> pd.DataFrame:
    """The share of each scenario's votes that each participant won.

    A vote is one (scenario, episode); a participant wins it with rank 1, and a first place
    shared by ``t`` participants counts ``1 / t`` to each (as the plurality rule counts it),
    so every scenario's shares add up to 1.

    Returns:
        Scenarios (rows, in order of appearance, then ``"all"``: the shares over every vote)
        by participants (columns, in order of appearance).

    Raises:
        ValueError: A missing column.
    """
    import pandas as pd

    require_columns(votes, "votes", ["scenario", "episode", "participant", "rank"])
    participants = list(dict.fromkeys(votes["participant"]))
    scenarios = list(dict.fromkeys(votes["scenario"]))
    first = votes[votes["rank"] == 1]
    ties = first.groupby(["scenario", "episode"], sort=False)["participant"].transform("size")
    credit = first.assign(credit=1.0 / ties)
    n_votes = votes.groupby("scenario", sort=False)["episode"].nunique().reindex(scenarios)
    won = credit.pivot_table(
        index="scenario", columns="participant", values="credit", aggfunc="sum", fill_value=0.0
    ).reindex(index=scenarios, columns=participants, fill_value=0.0)
    shares = won.div(n_votes.to_numpy(dtype=float), axis=0)
    shares.loc["all"] = won.sum(axis=0) / float(n_votes.sum())
    shares.index.name, shares.columns.name = "scenario", "participant"
    return pd.DataFrame(shares, dtype=float)


def plot_votes_matrix(votes: pd.DataFrame, *, title: str | None = None) -> Figure:
    """A heatmap of :func:`win_shares`: scenarios (and ``all``) by participants, each cell
    annotated with the share of the scenario's votes (episodes) that the participant won.

    Raises:
        ValueError: A missing column or an empty table.
    """
    import matplotlib.pyplot as plt

    shares = win_shares(votes)
    if shares.empty or shares.shape[1] == 0:
        raise ValueError("the votes table is empty")
    data = shares.to_numpy()
    n_rows, n_cols = data.shape
    longest = max(len(str(s)) for s in shares.index)
    fig, ax = plt.subplots(figsize=(2.5 + 0.065 * longest + 1.0 * n_cols, 1.6 + 0.38 * n_rows))
    image = ax.imshow(data, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            ax.text(
                j,
                i,
                f"{data[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if data[i, j] > 0.6 else "white",
            )
    ax.set_xticks(range(n_cols), [str(c) for c in shares.columns])
    ax.set_yticks(range(n_rows), [str(s) for s in shares.index], fontsize=8)
    ax.axhline(n_rows - 1.5, color="white", linewidth=3)  # the per-scenario rows | all
    ax.set_xlabel("participant")
    ax.set_ylabel("scenario")
    ax.set_title(title or "Share of each scenario's votes (episodes) won")
    fig.colorbar(image, ax=ax, label="share of votes won")
    fig.tight_layout()
    return fig


def plot_tournament_overview(
    scores: pd.DataFrame, *, value: str = "mean", title: str | None = None
) -> Figure:
    """Each participant's score on each scenario (one row per scenario): the mean return with
    its 95% bootstrap interval (``ci_low`` to ``ci_high``), or the normalised score.

    Args:
        scores: The scores table.
        value: ``"mean"`` (with the interval) or ``"normalised"``.
        title: The figure's title.

    Raises:
        ValueError: A missing column, an unknown ``value`` or an empty table.
    """
    import matplotlib.pyplot as plt

    if value not in ("mean", "normalised"):
        raise ValueError(f"value must be 'mean' or 'normalised', got {value!r}")
    needed = ["scenario", "participant", value] + (["ci_low", "ci_high"] if value == "mean" else [])
    require_columns(scores, "scores", needed)
    if scores.empty:
        raise ValueError("the scores table is empty")
    scenarios = list(dict.fromkeys(scores["scenario"]))
    participants = list(dict.fromkeys(scores["participant"]))
    colours = _colours(participants)
    longest = max(len(str(s)) for s in scenarios)
    fig, ax = plt.subplots(figsize=(5.0 + 0.065 * longest, 1.4 + 0.42 * len(scenarios)))
    height = 0.7 / len(participants)
    for k, name in enumerate(participants):
        mine = scores[scores["participant"] == name].set_index("scenario").reindex(scenarios)
        ys = np.arange(len(scenarios)) - 0.35 + height * (k + 0.5)
        xs = mine[value].to_numpy(dtype=float)
        if value == "mean":
            lo = xs - mine["ci_low"].to_numpy(dtype=float)
            hi = mine["ci_high"].to_numpy(dtype=float) - xs
            err = np.nan_to_num(np.vstack([lo, hi]), nan=0.0)
            ax.errorbar(xs, ys, xerr=err, fmt="o", color=colours[name], capsize=3, label=name)
        else:
            ax.plot(xs, ys, "o", color=colours[name], label=name)
    ax.set_yticks(range(len(scenarios)), [str(s) for s in scenarios], fontsize=8)
    ax.invert_yaxis()
    ax.set_ylabel("scenario")
    ax.set_xlabel("mean return (95% bootstrap interval)" if value == "mean" else "normalised score")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(title="participant", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "Scores per scenario")
    fig.tight_layout()
    return fig


def plot_rankings(rankings: pd.DataFrame, *, title: str | None = None) -> Figure:
    """One panel per voting rule: each participant's score under the rule as a bar, the
    winners' bars outlined and marked with ``(winner)``, the rank written after the bar.

    Raises:
        ValueError: A missing column or an empty table.
    """
    import matplotlib.pyplot as plt

    require_columns(rankings, "rankings", ["rule", "participant", "score", "rank", "winner"])
    if rankings.empty:
        raise ValueError("the rankings table is empty")
    rules = list(dict.fromkeys(rankings["rule"]))
    participants = list(dict.fromkeys(rankings["participant"]))
    colours = _colours(participants)
    rows, cols = _grid(len(rules), 4)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.0 * cols, 0.6 + 0.45 * len(participants) * rows + 0.6), squeeze=False
    )
    for ax, rule in zip(axes.flat, rules):
        mine = rankings[rankings["rule"] == rule].set_index("participant").reindex(participants)
        scores = mine["score"].to_numpy(dtype=float)
        winner = mine["winner"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
        ys = np.arange(len(participants))
        ax.barh(
            ys,
            scores,
            color=[colours[p] for p in participants],
            edgecolor=["black" if w else "none" for w in winner],
            linewidth=1.5,
        )
        labels = [f"{p} (winner)" if w else p for p, w in zip(participants, winner)]
        ax.set_yticks(ys, labels, fontsize=8)
        ax.invert_yaxis()
        for y, s, r in zip(ys, scores, mine["rank"]):
            ax.annotate(
                f"rank {r}",
                (s, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.margins(x=0.25)
        ax.set_title(str(rule))
        ax.set_xlabel("score")
    for ax in axes.flat[len(rules) :]:
        ax.set_visible(False)
    fig.suptitle(title or "Rankings by voting rule")
    fig.tight_layout()
    return fig


def plot_ratings(ratings: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Each participant's rating: ``mu`` with an error bar of ± ``sigma`` and the ordinal
    (``mu - 3 sigma``) as a cross, best ordinal at the top.

    Raises:
        ValueError: A missing column or an empty table.
    """
    import matplotlib.pyplot as plt

    require_columns(ratings, "ratings", ["participant", "mu", "sigma", "ordinal"])
    if ratings.empty:
        raise ValueError("the ratings table is empty")
    table = ratings.sort_values("ordinal", ascending=False, kind="stable")
    names = [str(p) for p in table["participant"]]
    ys = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.0, 1.8 + 0.45 * len(names)))
    mu, sigma = table["mu"].to_numpy(float), table["sigma"].to_numpy(float)
    ax.errorbar(mu, ys, xerr=sigma, fmt="o", capsize=4, label="mu ± sigma")
    ax.plot(
        table["ordinal"].to_numpy(float), ys, "x", color="black", label="ordinal (mu - 3 sigma)"
    )
    ax.set_yticks(ys, names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # the best at the top
    ax.set_xlabel("OpenSkill rating")
    ax.set_ylabel("participant")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "Ratings")
    fig.tight_layout()
    return fig


def plot_intervals(intervals: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Each participant's aggregate normalised score per statistic (``mean``, ``iqm``) with
    its 95% bootstrap interval.

    Raises:
        ValueError: A missing column or an empty table.
    """
    import matplotlib.pyplot as plt

    require_columns(
        intervals, "intervals", ["participant", "statistic", "estimate", "ci_low", "ci_high"]
    )
    if intervals.empty:
        raise ValueError("the intervals table is empty")
    statistics = list(dict.fromkeys(intervals["statistic"]))
    participants = list(dict.fromkeys(intervals["participant"]))
    fig, axes = plt.subplots(
        1,
        len(statistics),
        figsize=(3.6 * len(statistics), 1.2 + 0.45 * len(participants)),
        squeeze=False,
        sharey=True,
    )
    ys = np.arange(len(participants))
    for ax, stat in zip(axes.flat, statistics):
        mine = intervals[intervals["statistic"] == stat].set_index("participant")
        mine = mine.reindex(participants)
        est = mine["estimate"].to_numpy(dtype=float)
        err = np.vstack(
            [est - mine["ci_low"].to_numpy(float), mine["ci_high"].to_numpy(float) - est]
        )
        ax.errorbar(est, ys, xerr=np.nan_to_num(err, nan=0.0), fmt="o", capsize=4)
        ax.set_yticks(ys, participants)
        ax.set_title(str(stat))
        ax.set_xlabel("normalised score (95% CI)")
        ax.grid(axis="x", alpha=0.3)
    axes.flat[0].invert_yaxis()
    fig.suptitle(title or "Aggregate scores")
    fig.tight_layout()
    return fig
