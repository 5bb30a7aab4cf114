"""A self-contained HTML report of a tournament: its plots and its tables in one file.

:func:`tournament_figures` draws the plots of a tournament's tables (those present and not
empty); :func:`write_report` writes ``report.html`` with every figure embedded as a base64
PNG and every table as HTML (long tables cut, with a note), so the file opens in any browser
with nothing beside it. The same input gives the same file.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heas_envs.vis.tournament import (
    plot_intervals,
    plot_rankings,
    plot_ratings,
    plot_steps,
    plot_tournament_overview,
    plot_votes_matrix,
    step_metrics,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

REPORT_NAME = "report.html"
#: Rows of a table shown in the report; longer tables are cut (the CSVs hold them whole).
MAX_ROWS = 200
#: Step metrics drawn by default (one figure each, in the table's column order).
MAX_STEP_FIGURES = 4

#: Figure name -> (table it draws, plot function), in report order.
TABLE_FIGURES: dict[str, tuple[str, Callable[..., Figure]]] = {
    "overview": ("scores", plot_tournament_overview),
    "votes": ("votes", plot_votes_matrix),
    "rankings": ("rankings", plot_rankings),
    "ratings": ("ratings", plot_ratings),
    "intervals": ("intervals", plot_intervals),
}


def tournament_figures(
    tables: Mapping[str, pd.DataFrame],
    *,
    metrics: Sequence[str] | None = None,
    progress: bool = False,
) -> dict[str, Figure]:
    """The plots of a tournament's tables, by name.

    ``overview`` (scores), ``votes``, ``rankings``, ``ratings`` and ``intervals`` are drawn
    from the table of that name, and ``steps:<metric>`` (:func:`plot_steps`, faceted by
    scenario, one line per participant) for each step metric; a table that is absent or empty
    gives no figure.

    Args:
        tables: Tables by name, as ``TournamentResults.tables()`` gives them (or read back
            from its CSVs).
        metrics: The step metrics to draw (default: the first :data:`MAX_STEP_FIGURES`).
        progress: Show a progress bar on standard error.

    Raises:
        ValueError: A table that lacks a column its plot needs, or an unknown step metric.
    """
    from tqdm import tqdm

    jobs: list[tuple[str, Callable[[], Figure]]] = []
    for name, (table, plot) in TABLE_FIGURES.items():
        if table in tables and not tables[table].empty:
            jobs.append((name, lambda t=tables[table], p=plot: p(t)))
    steps = tables.get("steps")
    if steps is not None and not steps.empty:
        available = step_metrics(steps)
        chosen = available[:MAX_STEP_FIGURES] if metrics is None else list(metrics)
        unknown = [m for m in chosen if m not in available]
        if unknown:
            raise ValueError(f"unknown step metric(s) {unknown}; metrics: {available}")
        hue = "participants" if "participants" in steps.columns else "participant"
        for metric in chosen:
            jobs.append((f"steps:{metric}", lambda m=metric: plot_steps(steps, m, hue=hue)))
    elif metrics:
        raise ValueError(f"step metrics {list(metrics)} asked for, but there is no steps table")
    figures: dict[str, Figure] = {}
    try:
        for name, draw in tqdm(jobs, desc="figures", disable=not progress, file=sys.stderr):
            figures[name] = draw()
    except BaseException:
        close_figures(figures.values())
        raise
    return figures


def close_figures(figures: Any) -> None:
    """Close matplotlib figures (release pyplot's references to them)."""
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """``fig`` as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def file_name(figure: str) -> str:
    """A file name stem for a figure name (``"steps:price.price"`` -> ``"steps-price.price"``)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in figure)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #eee; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #666; font-size: 0.85em; }
nav a { margin-right: 1em; }
"""


def write_report(
    tables: Mapping[str, pd.DataFrame],
    directory: str | Path,
    *,
    title: str = "Tournament report",
    figures: Mapping[str, Figure | bytes] | None = None,
    max_rows: int = MAX_ROWS,
    notes: Sequence[str] = (),
    progress: bool = False,
) -> Path:
    """Write ``<directory>/report.html``: the figures as embedded PNGs, then the tables.

    Args:
        tables: Tables by name (every one is shown, even empty).
        directory: Where the report goes (created if needed).
        title: The report's heading.
        figures: Figures by name to embed, or their PNG bytes (default:
            :func:`tournament_figures` of ``tables``, closed once written; figures given
            here are left open).
        max_rows: Rows shown of each table; the rest are cut with a note.
        notes: Lines of text shown under the title (e.g. the winners).
        progress: Show a progress bar on standard error while drawing.

    Returns:
        The report's path.

    Raises:
        ValueError: ``tables`` is not a mapping of DataFrames, ``max_rows`` < 1, or a table
            lacks a column its plot needs.
    """
    import pandas as pd

    if not isinstance(tables, Mapping) or not all(
        isinstance(t, pd.DataFrame) for t in tables.values()
    ):
        raise ValueError("tables must map names to pandas DataFrames")
    if not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be an integer >= 1, got {max_rows!r}")
    own = figures is None
    drawn = tournament_figures(tables, progress=progress) if own else dict(figures)
    try:
        images = {
            name: fig if isinstance(fig, bytes) else figure_png(fig) for name, fig in drawn.items()
        }
    finally:
        if own:
            close_figures(drawn.values())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p>{html.escape(line)}</p>" for line in notes]
    links = [f'<a href="#fig-{file_name(n)}">{html.escape(n)}</a>' for n in images]
    links += [f'<a href="#table-{file_name(n)}">{html.escape(n)}</a>' for n in tables]
    parts.append("<nav>" + " ".join(links) + "</nav>")
    if images:
        parts.append("<h2>Figures</h2>")
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<h3 id="fig-{file_name(name)}">{html.escape(name)}</h3>')
        parts.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
    parts.append("<h2>Tables</h2>")
    for name, table in tables.items():
        parts.append(f'<h3 id="table-{file_name(name)}">{html.escape(name)}</h3>')
        shown = table.head(max_rows)
        rows = len(table)
        note = f"{rows} rows x {table.shape[1]} columns"
        if rows > max_rows:
            note += f"; the first {max_rows} are shown (the CSV holds them all)"
        parts.append(f'<p class="note">{note}</p>')
        parts.append(shown.to_html(index=False, float_format=lambda v: f"{v:.6g}", border=0))
    parts.append("</body></html>")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
