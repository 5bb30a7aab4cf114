"""``heas-envs viz ...`` and ``heas-envs arch``: draw plots from saved results or a model.

- ``viz tournament DIR [--save-dir D]``: the CSVs a tournament wrote in ``DIR`` -> one image
  per figure and ``report.html`` (default: in ``DIR``);
- ``viz evo RUN_DIR --save FILE``: an evolution run's ``log.csv`` curves, and with a
  ``pareto.csv`` its front as ``FILE``'s name plus ``-pareto``;
- ``viz steps FILE.csv --metric M --save FILE``: per-step traces of one metric;
- ``viz economy --save-dir D [--seed S] [--steps T] [--gif]``: the economy's diagnostics
  (signal PCA, attention heatmap, Gini over time, job shares) and an animated GIF;
- ``arch ENV_ID --save FILE``: the architecture diagram of a registered model.

Images are PNG, SVG or PDF, by the extension of ``--save`` (``--format`` for folders). Bad
input prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heas_envs.cli import UsageError, _bounded_int, add_param_argument, register_command

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Image formats by extension.
FORMATS = ("png", "svg", "pdf")
#: The tables a tournament writes as ``<name>.csv``, in report order.
TOURNAMENT_TABLES = ("episodes", "steps", "scores", "votes", "rankings", "ratings", "intervals")
DPI = 120


def image_path(text: str, option: str = "--save") -> Path:
    """``text`` as the path of an image file, its format given by its extension.

    Raises:
        UsageError: An extension other than ``.png``, ``.svg`` or ``.pdf``, or a folder.
    """
    path = Path(text)
    if path.suffix.lower().lstrip(".") not in FORMATS:
        raise UsageError(
            f"{option} {text!r}: the file must end in .png, .svg or .pdf (its format), got "
            f"{path.suffix or 'no extension'!r}"
        )
    if path.is_dir():
        raise UsageError(f"{option} {text!r} is a folder; give a file name")
    return path


def folder_path(text: str, option: str = "--save-dir") -> Path:
    """``text`` as a folder to write into (created when written).

    Raises:
        UsageError: ``text`` names a file.
    """
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {text!r} is a file; give a folder")
    return path


def save_figure(fig: Figure, path: Path) -> Path:
    """Save ``fig`` to ``path`` (its folder created; format by extension), close it and
    print the path."""
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
    print(f"wrote {path}")
    return path


def read_csv(path: Path, what: str) -> pd.DataFrame:
    """Read a CSV file.

    Raises:
        UsageError: The file does not exist or is not a CSV table.
    """
    import pandas as pd

    if not path.is_file():
        raise UsageError(f"{what}: no file {str(path)!r}")
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise UsageError(f"{what}: cannot read {str(path)!r} as CSV: {err}") from None


def tournament_tables(directory: Path) -> dict[str, pd.DataFrame]:
    """The tables of :data:`TOURNAMENT_TABLES` found as CSVs in ``directory``.

    Raises:
        UsageError: No such folder, or none of the tables in it.
    """
    if not directory.is_dir():
        raise UsageError(f"viz tournament: no folder {str(directory)!r}")
    tables = {
        name: read_csv(directory / f"{name}.csv", "viz tournament")
        for name in TOURNAMENT_TABLES
        if (directory / f"{name}.csv").is_file()
    }
    if not tables:
        raise UsageError(
            f"viz tournament: {str(directory)!r} holds none of the tournament's CSVs "
            f"({', '.join(n + '.csv' for n in TOURNAMENT_TABLES)})"
        )
    return tables


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on standard error (default: when it is a terminal)",
    )


def configure_viz(parser: argparse.ArgumentParser) -> None:
    """The subcommands of ``heas-envs viz``."""
    parser.description = (
        "Draw plots from saved results: a tournament, an evolution run, steps, the economy."
    )
    sub = parser.add_subparsers(
        dest="viz",
        metavar="{tournament,evo,steps,economy}",
        required=True,
        parser_class=type(parser),
    )

    tour = sub.add_parser("tournament", help="a tournament's CSVs -> images and report.html")
    tour.add_argument("directory", metavar="DIR", help="where the tournament wrote its CSVs")
    tour.add_argument("--save-dir", metavar="D", help="where the images go (default: DIR)")
    tour.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="M",
        help="a step metric to draw (repeatable; default: the first 4 of steps.csv)",
    )
    tour.add_argument("--format", choices=FORMATS, default="png", help="image format (png)")
    _add_progress(tour)

    evo = sub.add_parser("evo", help="an evolution run's log (and Pareto front) -> images")
    evo.add_argument("run_dir", metavar="RUN_DIR", help="a train_evo run folder (log.csv)")
    evo.add_argument("--save", required=True, metavar="FILE", help="the log's image")

    steps = sub.add_parser("steps", help="per-step traces of one metric -> an image")
    steps.add_argument("file", metavar="FILE.csv", help="a steps table (steps.csv)")
    steps.add_argument("--metric", required=True, metavar="M", help="the metric column")
    steps.add_argument("--save", required=True, metavar="FILE", help="the image")
    steps.add_argument("--x", default="step", help="the x column (default step)")
    steps.add_argument("--facet", default="scenario", help="one panel per value (scenario)")
    steps.add_argument("--hue", default="participants", help="one line per value (participants)")

    eco = sub.add_parser("economy", help="the economy's diagnostics -> images (and a GIF)")
    eco.add_argument("--save-dir", required=True, metavar="D", help="where the images go")
    eco.add_argument(
        "--seed",
        type=_bounded_int("seed", 0, 2**63 - 1, "2**63 - 1"),
        default=0,
        help="the episode's seed (default 0)",
    )
    eco.add_argument(
        "--steps", type=_bounded_int("steps", 1, 100_000), default=100, help="ticks (default 100)"
    )
    eco.add_argument("--policy", choices=("heuristic", "random"), default="heuristic")
    add_param_argument(eco, "an economy parameter (see `heas-envs params heas_envs/Economy-v0`)")
    eco.add_argument("--gif", action="store_true", help="also write episode.gif")
    eco.add_argument(
        "--every", type=_bounded_int("every", 1, 100_000), default=1, help="GIF: every K-th tick"
    )
    eco.add_argument("--format", choices=FORMATS, default="png", help="image format (png)")
    _add_progress(eco)


def use_file_backend() -> None:
    """Draw with Agg: a command writes files and never opens a window (only when a command
    runs, never on import, so users' sessions keep their backend)."""
    import matplotlib

    matplotlib.use("Agg")


def run_viz(args: argparse.Namespace) -> int:
    """Run ``heas-envs viz``."""
    use_file_backend()
    return {
        "tournament": _viz_tournament,
        "evo": _viz_evo,
        "steps": _viz_steps,
        "economy": _viz_economy,
    }[args.viz](args)


def _viz_tournament(args: argparse.Namespace) -> int:
    from heas_envs.vis.report import (
        close_figures,
        figure_png,
        file_name,
        tournament_figures,
        write_report,
    )

    source = Path(args.directory)
    out = folder_path(args.save_dir) if args.save_dir else source
    tables = tournament_tables(source)
    figures = tournament_figures(tables, metrics=args.metric, progress=_progress(args))
    try:
        out.mkdir(parents=True, exist_ok=True)
        images = {}
        for name, fig in figures.items():
            path = out / f"{file_name(name)}.{args.format}"
            images[name] = figure_png(fig, dpi=DPI)  # drawn once for the file and the report
            if args.format == "png":
                path.write_bytes(images[name])
            else:
                fig.savefig(path, dpi=DPI)
            print(f"wrote {path}")
    finally:
        close_figures(figures.values())
    report = write_report(tables, out, title=f"Tournament report: {source}", figures=images)
    print(f"report: {report}")
    return 0


def _viz_evo(args: argparse.Namespace) -> int:
    from heas_envs.vis.evolution import plot_evolution_log, plot_pareto_front, read_run

    save = image_path(args.save)
    log, pareto, senses = read_run(args.run_dir)
    run = Path(args.run_dir).name
    save_figure(plot_evolution_log(log, title=f"Evolution log\n{run}"), save)
    if pareto is not None:
        two = (senses or ["max", "max"])[:2]
        fig = plot_pareto_front(pareto, senses=two, title=f"Pareto front\n{run}")
        save_figure(fig, save.with_name(f"{save.stem}-pareto{save.suffix}"))
    return 0


def _viz_steps(args: argparse.Namespace) -> int:
    from heas_envs.vis.tournament import plot_steps

    save = image_path(args.save)
    steps = read_csv(Path(args.file), "viz steps")
    facet = None if args.facet in ("", "none") else args.facet
    hue = None if args.hue in ("", "none") else args.hue
    save_figure(plot_steps(steps, args.metric, x=args.x, facet=facet, hue=hue), save)
    return 0


def _viz_economy(args: argparse.Namespace) -> int:
    from heas_envs.cli import parse_params
    from heas_envs.vis import economy

    out = folder_path(args.save_dir)
    params = parse_params(economy.ENV_ID, args.param)
    progress = _progress(args)
    episode = economy.economy_episode(
        args.seed, args.steps, args.policy, progress=progress, **params
    )
    plots = {
        "signal_pca": economy.plot_signal_pca,
        "attention": economy.plot_attention_heatmap,
        "gini": economy.plot_gini,
        "job_shares": economy.plot_job_shares,
    }
    for name, plot in plots.items():
        save_figure(plot(episode), out / f"{name}.{args.format}")
    if args.gif:
        path = economy.animate_episode(
            episode, out / "episode.gif", every=args.every, progress=progress
        )
        print(f"wrote {path}")
    return 0


def configure_arch(parser: argparse.ArgumentParser) -> None:
    """The options of ``heas-envs arch``."""
    parser.description = (
        "Draw a model's architecture: layers in tick order, streams, agent groups and the "
        "data flow of their declared reads and writes."
    )
    parser.add_argument("env_id", help="a registered env id (see `heas-envs list`)")
    parser.add_argument("--save", required=True, metavar="FILE", help="a .png, .svg or .pdf")
    add_param_argument(parser)
    parser.add_argument("--no-keys", action="store_true", help="leave the arrows unlabelled")


def run_arch(args: argparse.Namespace) -> int:
    """Run ``heas-envs arch``."""
    from heas_envs.cli import parse_params
    from heas_envs.registration import env_spec
    from heas_envs.vis.architecture import plot_architecture

    env_spec(args.env_id)  # an unknown id first, listing the valid ones
    use_file_backend()
    save = image_path(args.save)
    params: Mapping[str, Any] = parse_params(args.env_id, args.param)
    save_figure(plot_architecture(args.env_id, show_keys=not args.no_keys, **params), save)
    return 0


register_command(
    "viz", "draw plots from saved results (tournament, evo, steps, economy)", configure_viz, run_viz
)
register_command(
    "arch", "draw the architecture diagram of a registered model", configure_arch, run_arch
)
