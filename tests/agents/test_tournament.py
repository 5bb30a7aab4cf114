"""Tournaments: voting rules, scores, common random numbers, seats, back ends, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from agents.cli import main
from agents.participants import Participant
from agents.tournament import (
    Batch,
    Tournament,
    episode_seed,
    intervals_table,
    play_batch,
    scores_table,
    votes_table,
    voting_rankings,
)
from heas_envs.core.callbacks import Callback
from heas_envs.data import DataCollector
from heas_envs.env.vector import VectorWorldsEnv
from heas_envs.scenarios import Scenario, make_grid

ONCE = Callback()
ENTERPRISE = make_grid(
    "heas_envs/Enterprise-v0", {"n_firms": [2, 6]}, base={"max_steps": 15, "costs": 0.3}
)


def hand_votes(*ballots: str) -> pd.DataFrame:
    """Votes from ballots such as ``"A>B=C"`` (``=`` ties), one voter each."""
    rows = []
    for e, ballot in enumerate(ballots):
        rank = 1
        for group in ballot.split(">"):
            names = group.split("=")
            rows += [{"scenario": "s", "episode": e, "participant": n, "rank": rank} for n in names]
            rank += len(names)
    return pd.DataFrame(rows)


def rule_table(votes: pd.DataFrame) -> tuple[dict, dict, str | None]:
    table, winners, cw = voting_rankings(votes, ["A", "B", "C"])
    scores = {(r.rule, r.participant): r.score for r in table.itertuples()}
    return scores, winners, cw


# -- voting ----------------------------------------------------------------------------------------
def test_plurality_and_copeland_pick_the_condorcet_winner_where_borda_picks_another():
    votes = hand_votes(*["A>B>C"] * 3, *["B>C>A"] * 2)
    scores, winners, cw = rule_table(votes)
    assert [scores["plurality", p] for p in "ABC"] == [3, 2, 0]
    assert [scores["borda", p] for p in "ABC"] == [6, 7, 2]  # places below, summed
    assert [scores["copeland", p] for p in "ABC"] == [2, 0, -2]
    assert winners == {"plurality": ["A"], "borda": ["B"], "copeland": ["A"], "condorcet": ["A"]}
    assert cw == "A"


def test_a_condorcet_cycle_has_no_condorcet_winner_and_ties_every_other_rule():
    scores, winners, cw = rule_table(hand_votes("A>B>C", "B>C>A", "C>A>B"))
    assert cw is None and winners["condorcet"] == []
    for rule in ("plurality", "borda", "copeland"):
        assert winners[rule] == ["A", "B", "C"]
        assert len({scores[rule, p] for p in "ABC"}) == 1


def test_a_tie_in_a_vote_splits_its_places_evenly():
    scores, winners, cw = rule_table(hand_votes("A=B>C", "A>B>C"))
    assert [scores["plurality", p] for p in "ABC"] == [1.5, 0.5, 0]
    assert [scores["borda", p] for p in "ABC"] == [3.5, 2.5, 0]
    assert [scores["copeland", p] for p in "ABC"] == [2, 0, -2]  # the tie is no majority
    assert cw == "A" and winners["plurality"] == ["A"]
    # all tied everywhere: everyone wins every rule but Condorcet
    scores, winners, cw = rule_table(hand_votes("A=B=C", "A=B=C"))
    assert cw is None and winners["borda"] == ["A", "B", "C"]


def test_votes_rank_by_return_and_equal_returns_share_the_best_rank():
    episodes = pd.DataFrame(
        {
            "scenario": ["s"] * 6,
            "episode": [0, 0, 0, 1, 1, 1],
            "seed": [7, 7, 7, 8, 8, 8],
            "participant": list("ABCABC"),
            "return": [1.0, 3.0, 3.0, 2.0, float("nan"), -1.0],
        }
    )
    assert votes_table(episodes)["rank"].tolist() == [3, 1, 1, 1, 3, 2]


# -- scores ----------------------------------------------------------------------------------------
def test_scores_are_normalised_between_the_worst_and_best_baseline_per_scenario():
    returns = {
        ("s1", "heuristic"): [2, 4],  # means 3, 1, 2
        ("s1", "random"): [0, 2],
        ("s1", "mine"): [2, 2],
        ("s2", "heuristic"): [1, 1],  # random beats the heuristic here
        ("s2", "random"): [4, 6],
        ("s2", "mine"): [7, 7],
        ("s3", "heuristic"): [2, 2],  # baselines tie: no normalisation
        ("s3", "random"): [2, 2],
        ("s3", "mine"): [5, 5],
    }
    episodes = pd.DataFrame(
        [
            {"scenario": s, "participant": p, "episode": e, "return": float(r)}
            for (s, p), rs in returns.items()
            for e, r in enumerate(rs)
        ]
    )
    scores = scores_table(episodes, ["heuristic", "random"]).set_index(["scenario", "participant"])
    assert scores.loc[("s1", "mine"), "normalised"] == 0.5
    assert scores.loc[("s1", "heuristic"), "normalised"] == 1.0
    assert scores.loc[("s2", "mine"), "normalised"] == 1.5
    assert scores.loc[("s2", "heuristic"), "normalised"] == 0.0
    assert math.isnan(scores.loc[("s3", "mine"), "normalised"])
    assert scores.loc[("s2", "mine"), "mean"] == 7.0 and bool(scores.loc[("s2", "mine"), "won"])
    assert scores.loc[("s1", "mine"), "ci_low"] == scores.loc[("s1", "mine"), "ci_high"] == 2.0
    intervals = intervals_table(episodes, ["heuristic", "random"]).set_index(
        ["participant", "statistic"]
    )
    mine = intervals.loc[("mine", "mean")]
    assert mine["scenarios"] == 2 and mine["episodes"] == 4  # s3 is left out
    assert mine["estimate"] == pytest.approx(1.0)  # (0.5 + 0.5 + 1.5 + 1.5) / 4
    assert mine["ci_low"] <= mine["estimate"] <= mine["ci_high"]


# -- playing ---------------------------------------------------------------------------------------
def test_episode_seeds_depend_on_the_seed_scenario_and_episode_only():
    seeds = {episode_seed(s, n, e) for s in (0, 1) for n in ("a", "b") for e in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**63 for s in seeds)
    assert episode_seed(5, "a", 2) == episode_seed(5, "a", 2)


def test_common_random_numbers_give_the_same_policy_the_same_returns():
    twins = [Participant.random(3, "random"), Participant.random(3, "twin")]
    players = [Participant.heuristic(), Participant.heuristic("copy"), *twins]
    results = Tournament(ENTERPRISE, players, episodes=3, seed=11).run()
    ep = results.episodes.set_index(["scenario", "episode", "participant"])["return"].unstack()
    assert (ep["heuristic"] == ep["copy"]).all() and (ep["random"] == ep["twin"]).all()
    assert (ep["heuristic"] != ep["random"]).all()
    seeds = results.episodes.groupby(["scenario", "episode"])["seed"].nunique()
    assert (seeds == 1).all() and results.episodes["seed"].nunique() == 6
    assert results.condorcet_winner is None  # heuristic and copy tie
    assert results.winners["borda"] == ["heuristic", "copy"]


def test_a_batched_focal_episode_is_the_episode_make_focal_env_plays():
    scenario = Scenario(
        "m",
        "heas_envs/Market-v0",
        {"n_traders": 4, "max_steps": 12},
        wrappers=[("NoisyObservations", {"scale": 0.1, "roles": ["trader"]})],
        focal={"role": "trader", "slots": [0, 2]},
        background="mixed",  # a background policy drawn per episode, random draws included
    )
    seeds = [episode_seed(0, "m", e) for e in range(4)]
    player = Participant.random(1)
    records = play_batch(Batch(scenario, (player,), tuple(range(4)), tuple(seeds)))
    for record, seed in zip(records, seeds):
        env = scenario.make_focal_env()
        obs, alive = env.reset_arrays(seed=seed)
        act = player.bind(scenario.make_vec(1), "trader", [seed])
        total, lived = np.zeros(2), alive["trader"][[0, 2]].copy()
        while env.agents:
            out = env.step_arrays({"trader": act(obs["trader"][None])[0]})
            total += out.rewards["trader"][[0, 2]]  # per agent, summed at the end
            lived |= out.alive["trader"][[0, 2]]
            obs = out.obs
        assert record.result["returns"]["random"] == total.sum() / lived.sum()
        assert record.result["metrics"] == {k: float(v) for k, v in env.episode_metrics().items()}


def test_head_to_head_rotates_seats_and_shares_one_world():
    players = [Participant.heuristic(), Participant.heuristic("h2")]
    results = Tournament(
        ENTERPRISE[1:], players, episodes=2, mode="head_to_head", collect_period=5
    ).run()
    ep = results.episodes.set_index(["episode", "participant"])
    assert [ep.loc[(0, p), "seats"] for p in ("heuristic", "h2", "random")] == ["0,3", "1,4", "2,5"]
    assert [ep.loc[(1, p), "seats"] for p in ("heuristic", "h2", "random")] == ["2,5", "0,3", "1,4"]
    assert results.steps["participants"].unique().tolist() == ["heuristic vs h2 vs random"]
    assert sorted(results.steps["step"].unique()) == [5, 10, 15]
    # with every seat heuristic, the shared world is the world of the focal heuristic
    only = ["heuristic", "h2"]
    shared = Tournament(ENTERPRISE[1:], players, 2, mode="head_to_head", baselines=only).run()
    focal = Tournament(ENTERPRISE[1:], players, 2, baselines=only).run().episodes
    np.testing.assert_allclose(
        shared.episodes.groupby("episode")["return"].mean(),
        focal.query("participant == 'heuristic'")["return"],
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="2 focal slots for 3 participants"):
        Tournament(ENTERPRISE[:1], players, episodes=1, mode="head_to_head")


def test_the_process_pool_gives_the_tables_of_one_process():
    import torch

    from agents.policies import make_policy

    torch.manual_seed(0)
    policy = make_policy(ENTERPRISE[0].make_vec(1), "firm")  # pickled to the workers
    players = [Participant.heuristic(), Participant.from_module(policy, "mlp")]
    kw = dict(episodes=2, seed=4, collect_period=7)
    inproc = Tournament(ENTERPRISE, players, **kw).run()
    pooled = Tournament(ENTERPRISE, players, backend="process", n_jobs=2, **kw).run()
    for name, table in inproc.tables().items():
        pd.testing.assert_frame_equal(table, pooled.tables()[name], obj=name)
    assert len(inproc.episodes) == 2 * 3 * 2 and len(inproc.steps) == 2 * 3 * 2 * 2


def test_collected_steps_are_what_a_data_collector_on_the_same_batch_records(monkeypatch):
    params = dict(n_agents=4, productivity=0.5, starvation_ticks=1, initial_wealth=0.3)
    scenario = Scenario(
        "ec", "heas_envs/Economy-v0", {**params, "max_steps": 40}, focal={"role": "citizen"}
    )
    B, period = 5, 3
    seeds = tuple(episode_seed(0, "ec", e) for e in range(B))
    batch = Batch(scenario, (Participant.random(2),), tuple(range(B)), seeds, period)
    dc = DataCollector(period=period)  # every per-step metric of every world
    records = play_batch(batch, callbacks=[dc])
    assert records == play_batch(batch)  # the user's callback changes nothing
    lengths = [r.result["steps"] for r in records]
    assert len(set(lengths)) > 1  # worlds end at different steps: the case of the test
    want: list[list] = [[] for _ in range(B)]
    for k, row in enumerate(dc.model_rows[B:]):  # after the rows of the runner's reset
        t, b = (k // B + 1) * period, row["World"]
        if t <= lengths[b]:  # the collected steps of a world stop with its (counted) episode
            assert row["Step"] == t
            metrics = {m: v for m, v in row.items() if m not in ("Step", "World")}
            want[b].append((t, {m: v if math.isfinite(v) else None for m, v in metrics.items()}))
    assert [list(r.steps) for r in records] == want
    assert len({len(w) for w in want}) > 1  # some worlds' steps stop before others'
    # without collect_period and callbacks, nothing is registered on the worlds
    added = []
    real = VectorWorldsEnv.add_callback
    spy = lambda env, cb: added.append(cb) or real(env, cb)  # noqa: E731
    monkeypatch.setattr(VectorWorldsEnv, "add_callback", spy)
    plain = play_batch(Batch(scenario, batch.participants, (0,), seeds[:1]))
    assert added == [] and plain[0].steps == ()
    play_batch(Batch(scenario, batch.participants, (0,), seeds[:1], period))
    assert len(added) == 1


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"episodes": 0}, "episodes must be an integer"),
        ({"mode": "league"}, "mode must be one of"),
        ({"backend": "dask"}, "backend must be one of"),
        ({"participants": [Participant.heuristic(), Participant.heuristic()]}, "distinct"),
        ({"baselines": ["heuristic"]}, "two or more"),
        ({"scenarios": ENTERPRISE[:1] * 2}, "scenario names must be distinct"),
        ({"callbacks": [ONCE, ONCE]}, "registered already"),
    ],
)
def test_bad_tournaments_are_refused_with_a_message(kwargs, message):
    args = {"scenarios": ENTERPRISE, "participants": [Participant.heuristic()], "episodes": 1}
    with pytest.raises(ValueError, match=message):
        Tournament(**{**args, **kwargs})


# -- the command line ------------------------------------------------------------------------------
def test_the_cli_plays_stores_writes_csvs_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["tournament", "--grid", "heas_envs/Enterprise-v0", "n_firms=2,6", "max_steps=10"]
    argv += ["--participant", "heuristic", "--participant", "random:0", "--episodes", "2"]
    argv += ["--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "tournament" in captured.err  # the progress bar
    assert "8 matches stored" in captured.out and "borda winner: heuristic" in captured.out
    episodes = pd.read_csv(out / "episodes.csv")
    assert len(episodes) == 8 and set(episodes["participant"]) == {"heuristic", "random"}
    assert set(episodes["scenario"]) == {"n_firms=2,max_steps=10", "n_firms=6,max_steps=10"}
    assert (out / "results.sqlite").exists() and (out / "rankings.csv").exists()
    report = (out / "report.html").read_text()  # the tables and their plots, self-contained
    assert f"report: {out / 'report.html'}" in captured.out
    for name in ("episodes", "steps", "scores", "votes", "rankings", "ratings", "intervals"):
        assert f'id="table-{name}"' in report
    assert report.count('src="data:image/png;base64,') == 5  # no steps collected: no traces
    assert "borda winner: heuristic" in report
    assert main(argv + ["--no-progress"]) == 2  # stored already
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--resume" in err and err.count("\n") == 1
    (out / "report.html").unlink()
    assert main(argv + ["--no-progress", "--resume", "--no-report"]) == 0
    assert "8 matches stored" in capsys.readouterr().out and not (out / "report.html").exists()
    pd.testing.assert_frame_equal(pd.read_csv(out / "episodes.csv"), episodes)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--grid", "heas_envs/Enterprise-v0", "n_firm=2"], "unknown parameter"),
        (["--grid", "heas_envs/Enterprise-v0"], "--grid takes an env id"),
        (["--set", "nope"], "unknown scenario set"),
        (["--set", "enterprise32", "--participant", "bogus"], "unknown participant"),
        (["--set", "enterprise32", "--episodes", "0"], "episodes must be an integer"),
    ],
)
def test_bad_cli_input_gives_one_line_and_status_2(tmp_path, extra, message, capsys):
    assert main(["tournament", *extra, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()  # nothing is created for bad input


def test_the_demo_script_reports_wins_ratings_and_whether_the_rules_agree(tmp_path, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "tournament_demo.py"
    demo = runpy.run_path(str(script), run_name="tournament_demo")
    argv = ["--set", "market-volatility-regulator", "--episodes", "2", "--no-evo"]
    assert demo["main"]([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "8 scenarios x 2 participants x 2 episodes; 16 batches (32 episodes)" in out
    assert out.count(" won ") == 2 and "the voting rules" in out
    assert (tmp_path / "results.sqlite").exists() and (tmp_path / "scores.csv").exists()
