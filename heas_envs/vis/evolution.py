"""Plots of an evolutionary search: the per-generation log and the Pareto front.

``agents.evo.train_evo`` writes a run directory with ``log.csv`` (one row per generation:
``generation``, ``evaluations``, ``<objective>_mean``, ``<objective>_best``, ...,
``hall_of_fame_best``) and, with several objectives, ``pareto.csv`` (the final population's
non-dominated evaluations, one column per objective); ``args.json`` records each objective's
sense. These functions take those tables (or any with the same shape).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from heas_envs.vis.tournament import require_columns

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Suffixes of the per-generation statistics of one objective in a log, in legend order.
STATISTICS = ("min", "mean", "median", "max", "best", "worst")
SENSES = ("max", "min")


def log_series(log: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The log's columns grouped by objective: ``{objective: {statistic: column}}``.

    A column ``<objective>_<statistic>`` with a statistic of :data:`STATISTICS` belongs to
    ``objective``; ``hall_of_fame_best`` (the best ever, by the first objective) joins the
    first objective as the statistic ``"hall of fame"``.
    """
    groups: dict[str, dict[str, str]] = {}
    fame = None
    for column in log.columns:
        if column == "hall_of_fame_best":
            fame = column
            continue
        stem, _, stat = str(column).rpartition("_")
        if stem and stat in STATISTICS:
            groups.setdefault(stem, {})[stat] = column
    if fame is not None and groups:
        groups[next(iter(groups))]["hall of fame"] = fame
    return groups


def plot_evolution_log(
    log: pd.DataFrame, *, x: str = "generation", title: str | None = None
) -> Figure:
    """One panel per objective of the log: its per-generation statistics (mean, best, ...;
    the hall of fame's best in the first panel) as lines over ``x``.

    Raises:
        ValueError: A missing ``x`` column, no ``<objective>_<statistic>`` column or an
            empty log.
    """
    import matplotlib.pyplot as plt

    require_columns(log, "evolution log", [x])
    groups = log_series(log)
    if not groups:
        raise ValueError(
            "the evolution log has no <objective>_<statistic> column (statistics: "
            f"{list(STATISTICS)}); its columns: {list(log.columns)}"
        )
    if log.empty:
        raise ValueError("the evolution log is empty")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.6), squeeze=False)
    for ax, (objective, columns) in zip(axes.flat, groups.items()):
        for stat, column in columns.items():
            style = {"linestyle": ":", "color": "black"} if stat == "hall of fame" else {}
            ax.plot(log[x], log[column], marker="o", markersize=3, label=stat, **style)
        ax.set_title(objective)
        ax.set_xlabel(x)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "Evolution log")
    fig.tight_layout()
    return fig


def non_dominated(points: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    """Which rows of ``points [n, k]`` no other row dominates, each column maximised or
    minimised as ``senses`` says (a row dominates another when it is at least as good in
    every objective and better in one).

    Raises:
        ValueError: ``senses`` of another length than the columns, or not ``"max"``/``"min"``.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(senses) != points.shape[1] or any(s not in SENSES for s in senses):
        raise ValueError(
            f"senses must give 'max' or 'min' for each of the {points.shape[1]} objectives, "
            f"got {list(senses)}"
        )
    signed = points * np.array([1.0 if s == "max" else -1.0 for s in senses])
    at_least = (signed[:, None, :] >= signed[None, :, :]).all(axis=-1)  # [i, j]: i >= j
    better = (signed[:, None, :] > signed[None, :, :]).any(axis=-1)
    dominated = (at_least & better).any(axis=0)
    return ~dominated


def plot_pareto_front(
    points: pd.DataFrame,
    x: str | None = None,
    y: str | None = None,
    *,
    senses: Sequence[str] = ("max", "max"),
    title: str | None = None,
) -> Figure:
    """A scatter of two objectives, the non-dominated points (:func:`non_dominated`)
    highlighted and joined in order of ``x``, the dominated ones grey.

    Args:
        points: One row per evaluated solution.
        x, y: The objectives' columns (default: the first two columns).
        senses: Whether ``x`` and ``y`` are maximised (``"max"``) or minimised (``"min"``).
        title: The figure's title.

    Raises:
        ValueError: Fewer than two columns, a missing column, bad senses or no points.
    """
    import matplotlib.pyplot as plt

    columns = list(points.columns)
    if x is None or y is None:
        free = [c for c in columns if c not in (x, y)]
        if len(free) < (x is None) + (y is None):
            raise ValueError(f"a Pareto front needs two objective columns, got {columns}")
        x = free.pop(0) if x is None else x
        y = free.pop(0) if y is None else y
    require_columns(points, "Pareto", [x, y])
    if points.empty:
        raise ValueError("the Pareto table has no points")
    data = points[[x, y]].to_numpy(dtype=np.float64)
    front = non_dominated(data, senses)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    if (~front).any():
        ax.scatter(*data[~front].T, color="0.7", s=18, label="dominated")
    best = data[front][np.argsort(data[front][:, 0], kind="stable")]
    ax.plot(best[:, 0], best[:, 1], "o-", color="tab:red", label=f"non-dominated ({len(best)})")
    ax.set_xlabel(f"{x} ({senses[0]})")
    ax.set_ylabel(f"{y} ({senses[1]})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Pareto front")
    fig.tight_layout()
    return fig


def read_run(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str] | None]:
    """The log, the Pareto table (``None`` without ``pareto.csv``) and the objectives' senses
    (``None`` without ``args.json`` objectives) of a ``train_evo`` run directory.

    Raises:
        ValueError: No directory or no ``log.csv`` in it.
    """
    import pandas as pd

    run = Path(run_dir)
    if not (run / "log.csv").is_file():
        raise ValueError(f"{str(run)!r} is not an evolution run directory: it has no log.csv")
    log = pd.read_csv(run / "log.csv")
    pareto = pd.read_csv(run / "pareto.csv") if (run / "pareto.csv").is_file() else None
    senses = None
    try:
        objectives = json.loads((run / "args.json").read_text()).get("objectives")
        if objectives:
            senses = [str(sense) for _, sense in objectives]
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    return log, pareto, senses
