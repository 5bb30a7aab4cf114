"""Tournament and evolution plots, the HTML report and ``heas-envs viz tournament/evo/steps``."""

from __future__ import annotations

import base64
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import heas_envs.vis.cli  # noqa: E402, F401  (registers `viz` and `arch`)
from heas_envs.cli import main  # noqa: E402
from heas_envs.vis import (  # noqa: E402
    non_dominated,
    plot_evolution_log,
    plot_pareto_front,
    plot_rankings,
    plot_ratings,
    plot_steps,
    plot_tournament_overview,
    plot_votes_matrix,
    tournament_figures,
    win_shares,
    write_report,
)

SCENARIOS = ["volatility=0.005,regulator=True", "volatility=0.02,regulator=False"]
PARTICIPANTS = ["heuristic", "random", "ppo"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tables() -> dict[str, pd.DataFrame]:
    """Small tables with the columns a tournament writes (agents.tournament)."""
    steps = pd.DataFrame(
        [
            {
                "scenario": s,
                "participants": p,
                "episode": e,
                "seed": 100 + e,
                "step": t,
                "price.price": 100.0 + i + 10 * j + e + t,
                "traders.volume": float(e * t),
            }
            for i, s in enumerate(SCENARIOS)
            for j, p in enumerate(PARTICIPANTS)
            for e in range(2)
            for t in (5, 10, 15)
        ]
    )
    # s1: heuristic wins ep 0, heuristic and random tie first in ep 1, ppo wins ep 2;
    # s2: random wins both episodes
    ranks = {
        (SCENARIOS[0], 0): [1, 2, 3],
        (SCENARIOS[0], 1): [1, 1, 3],
        (SCENARIOS[0], 2): [2, 3, 1],
        (SCENARIOS[1], 0): [2, 1, 3],
        (SCENARIOS[1], 1): [3, 1, 2],
    }
    votes = pd.DataFrame(
        [
            {"scenario": s, "episode": e, "seed": e, "participant": p, "return": -r, "rank": r}
            for (s, e), rs in ranks.items()
            for p, r in zip(PARTICIPANTS, rs)
        ]
    )
    episodes = votes.drop(columns="rank").assign(steps=15)
    scores = pd.DataFrame(
        [
            {
                "scenario": s,
                "participant": p,
                "episodes": 3,
                "mean": 1.0 + i + j,
                "std": 0.5,
                "ci_low": 0.5 + i + j,
                "ci_high": 1.25 + i + j,
                "normalised": j / 2,
                "rank": 3 - j,
                "won": j == 2,
            }
            for i, s in enumerate(SCENARIOS)
            for j, p in enumerate(PARTICIPANTS)
        ]
    )
    rankings = pd.DataFrame(
        [
            {"rule": r, "participant": p, "score": float(k + j), "rank": 3 - j, "winner": j == 2}
            for k, r in enumerate(["plurality", "borda", "copeland", "condorcet"])
            for j, p in enumerate(PARTICIPANTS)
        ]
    )
    ratings = pd.DataFrame(
        {
            "participant": ["ppo", "random", "heuristic"],
            "mu": [30.0, 25.0, 20.0],
            "sigma": [2.0, 3.0, 4.0],
            "ordinal": [24.0, 16.0, 8.0],
            "rank": [1, 2, 3],
        }
    )
    intervals = pd.DataFrame(
        [
            {"participant": p, "statistic": st, "estimate": j, "ci_low": j - 0.5}
            | {"ci_high": j + 0.5, "scenarios": 2, "episodes": 5}
            for j, p in enumerate(PARTICIPANTS)
            for st in ("mean", "iqm")
        ]
    )
    return {
        "episodes": episodes,
        "steps": steps,
        "scores": scores,
        "votes": votes,
        "rankings": rankings,
        "ratings": ratings,
        "intervals": intervals,
    }


# -- tournament plots --------------------------------------------------------------------------
def test_steps_have_one_panel_per_scenario_and_one_mean_line_per_participant():
    steps = tables()["steps"]
    fig = plot_steps(steps, "price.price")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == SCENARIOS
    assert [t.get_text() for t in fig.legends[0].get_texts()] == PARTICIPANTS
    for ax, scenario in zip(axes, SCENARIOS):
        assert ax.get_ylabel() == "price.price" and ax.get_xlabel() == "step"
        for line in ax.get_lines():
            mine = steps[
                (steps["scenario"] == scenario) & (steps["participants"] == line.get_label())
            ]
            expected = mine.groupby("step")["price.price"].mean()
            np.testing.assert_array_equal(line.get_xdata(), expected.index)
            np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())


def test_the_votes_matrix_cells_are_the_shares_of_votes_won_ties_split():
    votes = tables()["votes"]
    shares = win_shares(votes)
    # s1: heuristic 1 + 1/2 of 3 votes, random 1/2, ppo 1; s2: random both; all: of 5 votes
    expected = np.array([[1.5 / 3, 0.5 / 3, 1 / 3], [0, 1, 0], [1.5 / 5, 2.5 / 5, 1 / 5]])
    np.testing.assert_allclose(shares.to_numpy(), expected)
    assert list(shares.index) == [*SCENARIOS, "all"] and list(shares.columns) == PARTICIPANTS
    fig = plot_votes_matrix(votes)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in expected.reshape(-1)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [*SCENARIOS, "all"]
    assert [t.get_text() for t in ax.get_xticklabels()] == PARTICIPANTS


def test_the_overview_shows_each_mean_with_its_bootstrap_interval():
    scores = tables()["scores"]
    ax = plot_tournament_overview(scores).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == SCENARIOS
    assert [t.get_text() for t in ax.get_legend().get_texts()] == PARTICIPANTS
    for container, name in zip(ax.containers, PARTICIPANTS):
        mine = scores[scores["participant"] == name]
        np.testing.assert_allclose(container.lines[0].get_xdata(), mine["mean"])
        ends = np.array([[seg[0][0], seg[1][0]] for seg in container.lines[2][0].get_segments()])
        np.testing.assert_allclose(ends, mine[["ci_low", "ci_high"]].to_numpy())


def test_rankings_have_a_panel_per_rule_with_scores_and_winners_and_ratings_mu_sigma():
    t = tables()
    fig = plot_rankings(t["rankings"])
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["plurality", "borda", "copeland", "condorcet"]
    for k, ax in enumerate(panels):
        assert [p.get_width() for p in ax.patches] == [k, k + 1, k + 2]
        assert [x.get_text() for x in ax.get_yticklabels()] == [
            "heuristic",
            "random",
            "ppo (winner)",
        ]
    ax = plot_ratings(t["ratings"]).axes[0]
    bars = ax.containers[0]
    np.testing.assert_allclose(bars.lines[0].get_xdata(), [30, 25, 20])
    ends = np.array([[s[0][0], s[1][0]] for s in bars.lines[2][0].get_segments()])
    np.testing.assert_allclose(ends, [[28, 32], [22, 28], [16, 24]])
    assert [x.get_text() for x in ax.get_yticklabels()] == ["ppo", "random", "heuristic"]
    assert [x.get_text() for x in ax.get_legend().get_texts()] == [
        "ordinal (mu - 3 sigma)",
        "mu ± sigma",
    ]


@pytest.mark.parametrize(
    "plot, table, message",
    [
        (lambda t: plot_steps(t, "nope"), "steps", r"unknown metric 'nope'.*price\.price"),
        (
            lambda t: plot_steps(t, "price.price", facet="world"),
            "steps",
            r"lacks the column\(s\) \['world'\]",
        ),
        (plot_votes_matrix, "scores", r"votes table lacks the column\(s\) \['episode'\]"),
        (plot_tournament_overview, "votes", r"scores table lacks .*'ci_low'"),
        (plot_ratings, "ratings", "ratings table is empty"),
    ],
)
def test_bad_tables_are_refused_naming_what_is_missing(plot, table, message):
    data = tables()[table]
    if plot is plot_ratings:
        data = data.iloc[:0]
    with pytest.raises(ValueError, match=message):
        plot(data)


# -- evolution ----------------------------------------------------------------------------------
LOG = pd.DataFrame(
    {
        "generation": [1, 2, 3],
        "evaluations": [8, 16, 24],
        "biomass_mean": [1.0, 2.0, 2.5],
        "biomass_best": [2.0, 3.0, 3.5],
        "cv_mean": [0.3, 0.2, 0.1],
        "cv_best": [0.2, 0.1, 0.05],
        "hall_of_fame_best": [2.0, 3.0, 3.5],
    }
)


def test_the_evolution_log_has_a_panel_per_objective_with_its_statistics():
    fig = plot_evolution_log(LOG)
    assert [ax.get_title() for ax in fig.axes] == ["biomass", "cv"]
    first, second = ([t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes)
    assert first == ["mean", "best", "hall of fame"] and second == ["mean", "best"]
    np.testing.assert_array_equal(fig.axes[1].get_lines()[1].get_ydata(), LOG["cv_best"])
    with pytest.raises(ValueError, match="no <objective>_<statistic> column"):
        plot_evolution_log(LOG[["generation", "evaluations"]])


def test_the_pareto_front_highlights_exactly_the_non_dominated_points():
    rng = np.random.default_rng(0)
    points = pd.DataFrame(rng.random((40, 2)), columns=["biomass", "cv"])
    senses = ("max", "min")
    data = points.to_numpy()
    brute = [not any((b[0] >= a[0]) & (b[1] <= a[1]) & (b != a).any() for b in data) for a in data]
    front = non_dominated(data, senses)
    assert front.tolist() == brute and 0 < front.sum() < 40
    ax = plot_pareto_front(points, senses=senses).axes[0]
    line = ax.get_lines()[0]
    best = data[front][np.argsort(data[front][:, 0])]
    np.testing.assert_array_equal(np.c_[line.get_xdata(), line.get_ydata()], best)
    assert ax.collections[0].get_offsets().shape == (40 - front.sum(), 2)
    assert ax.get_xlabel() == "biomass (max)" and ax.get_ylabel() == "cv (min)"
    with pytest.raises(ValueError, match="senses must give 'max' or 'min'"):
        non_dominated(data, ("max", "up"))


# -- the report -------------------------------------------------------------------------------
def test_the_same_tables_give_the_same_report_and_long_tables_are_cut(tmp_path):
    t = tables()
    small = {"votes": t["votes"], "ratings": t["ratings"]}
    first = write_report(small, tmp_path / "a", max_rows=5)
    assert first.read_bytes() == write_report(small, tmp_path / "b", max_rows=5).read_bytes()
    text = first.read_text()
    assert "15 rows x 6 columns; the first 5 are shown" in text and "3 rows x 5 columns" in text
    assert text.count("<tr>") == 5 + 3  # the body rows shown of each table
    assert text.count('src="data:image/png;base64,') == 2  # the votes matrix and the ratings
    assert plt.get_fignums() == []  # the figures it drew are closed
    with pytest.raises(ValueError, match=r"unknown step metric\(s\) \['nope'\]; metrics: \['price"):
        tournament_figures(t, metrics=["nope"])  # refused before anything is drawn


# -- the command line -------------------------------------------------------------------------
def test_viz_tournament_writes_an_image_per_figure_and_a_self_contained_report(tmp_path, capsys):
    t = tables()
    for name, table in t.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "plots"
    argv = ["viz", "tournament", str(tmp_path), "--save-dir", str(out), "--metric"]
    assert main([*argv, "traders.volume", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    files = ["overview", "votes", "rankings", "ratings", "intervals", "steps-traders.volume"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f + ".png" for f in files] + ["report.html"]
    )
    report = out / "report.html"
    assert f"report: {report}" in printed
    text = report.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert [base64.b64decode(i) for i in images] == [(out / f"{f}.png").read_bytes() for f in files]
    assert not re.search(r'(src|href)="(?!data:|#)', text)  # nothing outside the file
    for name, table in t.items():
        assert f'id="table-{name}">{name}</h3>' in text
        assert f"{len(table)} rows x {table.shape[1]} columns" in text
    assert text.count("<table") == len(t)


def test_viz_evo_and_steps_write_their_images(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    LOG.to_csv(run / "log.csv", index=False)
    pd.DataFrame({"biomass": [1.0, 2.0], "cv": [0.1, 0.3]}).to_csv(run / "pareto.csv", index=False)
    (run / "args.json").write_text(json.dumps({"objectives": [["biomass", "max"], ["cv", "min"]]}))
    assert main(["viz", "evo", str(run), "--save", str(tmp_path / "evo.svg")]) == 0
    assert (tmp_path / "evo.svg").exists() and (tmp_path / "evo-pareto.svg").exists()
    tables()["steps"].to_csv(tmp_path / "steps.csv", index=False)
    argv = ["viz", "steps", str(tmp_path / "steps.csv"), "--metric", "price.price"]
    assert main([*argv, "--save", str(tmp_path / "s.pdf")]) == 0
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    assert capsys.readouterr().out.count("wrote ") == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["viz", "tournament", "{d}/nowhere"], "no folder"),
        (["viz", "tournament", "{d}"], "holds none of the tournament's CSVs"),
        (["viz", "evo", "{d}", "--save", "{d}/x.png"], "has no log.csv"),
        (
            ["viz", "steps", "{d}/s.csv", "--metric", "m", "--save", "{d}/x.jpg"],
            "must end in .png, .svg or .pdf",
        ),
        (["viz", "steps", "{d}/s.csv", "--metric", "m", "--save", "{d}/x.png"], "no file"),
        (["viz"], "required"),
    ],
)
def test_bad_viz_input_gives_one_line_and_status_2(tmp_path, capsys, argv, message):
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written
