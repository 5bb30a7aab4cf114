"""Plots: tournaments, evolution runs, the architecture of a model, the economy's diagnostics.

Every ``plot_*`` function returns a matplotlib Figure (drawn with pyplot, so ``plt.show()``
and notebooks display it; close it with ``plt.close(fig)`` when done). The tournament plots
take the tables of ``agents.tournament`` (DataFrames or their CSVs), the evolution plots the
``log.csv`` / ``pareto.csv`` of ``agents.evo.train_evo``; nothing here imports ``agents``.
``heas-envs viz`` and ``heas-envs arch`` draw them from the command line
(:mod:`heas_envs.vis.cli`).
"""

from heas_envs.vis.architecture import (
    Arrow,
    architecture_arrows,
    plot_architecture,
    resolve_model,
    stream_label,
)
from heas_envs.vis.economy import (
    EconomyEpisode,
    animate_episode,
    attention_weights,
    economy_episode,
    pca,
    plot_attention_heatmap,
    plot_gini,
    plot_job_shares,
    plot_signal_pca,
)
from heas_envs.vis.evolution import (
    log_series,
    non_dominated,
    plot_evolution_log,
    plot_pareto_front,
    read_run,
)
from heas_envs.vis.report import REPORT_NAME, tournament_figures, write_report
from heas_envs.vis.tournament import (
    plot_intervals,
    plot_rankings,
    plot_ratings,
    plot_steps,
    plot_tournament_overview,
    plot_votes_matrix,
    step_metrics,
    win_shares,
)

__all__ = [
    "REPORT_NAME",
    "Arrow",
    "EconomyEpisode",
    "animate_episode",
    "architecture_arrows",
    "attention_weights",
    "economy_episode",
    "log_series",
    "non_dominated",
    "pca",
    "plot_architecture",
    "plot_attention_heatmap",
    "plot_evolution_log",
    "plot_gini",
    "plot_intervals",
    "plot_job_shares",
    "plot_pareto_front",
    "plot_rankings",
    "plot_ratings",
    "plot_signal_pca",
    "plot_steps",
    "plot_tournament_overview",
    "plot_votes_matrix",
    "read_run",
    "resolve_model",
    "step_metrics",
    "stream_label",
    "tournament_figures",
    "win_shares",
    "write_report",
]
