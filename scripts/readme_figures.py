"""Draw the README's figures: a small tournament, an evolution run, architectures, the economy.

    python scripts/readme_figures.py                 # into scripts/figures/ (about 2 minutes)
    python scripts/readme_figures.py --out /tmp/fig --quick

Every figure comes from ``heas_envs.vis``; the tournament also writes its HTML report
(``--report``, default ``runs/readme_report/report.html``: it embeds every plot, so it is too
large to keep in the repository). Seeds are fixed, so a rerun draws the same pictures.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no window opens, whatever the machine

import matplotlib.pyplot as plt  # noqa: E402

from agents.evo import train_evo  # noqa: E402
from agents.participants import Participant  # noqa: E402
from agents.tournament import Tournament  # noqa: E402
from heas_envs import vis  # noqa: E402
from heas_envs.scenarios import scenario_set  # noqa: E402

SCENARIOS = "market-volatility-regulator"


def save(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path``, close it and print the path."""
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path


def tournament_figures(out: Path, episodes: int, work: Path, report_dir: Path) -> None:
    """Heuristic against random play on the market scenarios: overview, votes, steps, report."""
    tournament = Tournament(
        scenario_set(SCENARIOS),
        [Participant.heuristic(), Participant.random(0)],
        episodes=episodes,
        seed=0,
        collect_period=5,
        store=work / "tournament.sqlite",
    )
    results = tournament.run(progress=True)
    tables = results.tables()
    figures = vis.tournament_figures(tables, metrics=["traders.mean_pnl"])
    for name in ("overview", "votes", "steps:traders.mean_pnl"):
        save(figures.pop(name), out / f"tournament_{vis.report.file_name(name)}.png")
    vis.report.close_figures(figures)
    report = vis.write_report(tables, report_dir, title=f"heuristic vs random on {SCENARIOS}")
    print(f"wrote {report}")


def evolution_figures(out: Path, generations: int, work: Path) -> None:
    """SNES on the enterprise firms (the generation log) and GA on two ecology objectives."""
    short = {"max_steps": 30}
    snes = train_evo(
        "heas_envs/Enterprise-v0",
        "firm",
        generations=generations,
        popsize=16,
        env_params=short,
        run_root=work,
        progress=True,
    )
    save(vis.plot_evolution_log(snes.log), out / "evolution_log.png")
    senses = ("max", "min")
    ga = train_evo(
        "heas_envs/Ecology-v0",
        "manager",
        algo="GA",
        generations=max(2, generations // 2),
        popsize=16,
        objectives=[("aggregate.mean_biomass", senses[0]), ("aggregate.mean_cv", senses[1])],
        env_params=short,
        run_root=work,
        progress=True,
    )
    save(vis.plot_pareto_front(ga.pareto, senses=senses), out / "pareto_front.png")


def model_figures(out: Path, ticks: int) -> None:
    """Architecture diagrams of two models and the economy's diagnostics."""
    for env_id, name in (("heas_envs/Economy-v0", "economy"), ("heas_envs/Market-v0", "market")):
        save(vis.plot_architecture(env_id), out / f"architecture_{name}.png")
    episode = vis.economy_episode(seed=0, steps=ticks, n_agents=24, max_population=48)
    save(vis.plot_gini(episode), out / "economy_gini.png")
    save(vis.plot_job_shares(episode), out / "economy_job_shares.png")
    save(vis.plot_signal_pca(episode), out / "economy_signal_pca.png")
    save(vis.plot_attention_heatmap(episode), out / "economy_attention.png")


def main(argv: list[str] | None = None) -> int:
    """Draw every figure into ``--out``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "figures"))
    parser.add_argument(
        "--report", default="runs/readme_report", help="where the tournament's report.html goes"
    )
    parser.add_argument("--quick", action="store_true", help="tiny runs (a smoke test)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_figures(out, ticks=10 if args.quick else 80)
        tournament_figures(
            out, episodes=2 if args.quick else 10, work=work, report_dir=Path(args.report)
        )
        evolution_figures(out, generations=2 if args.quick else 20, work=work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
