"""heas-envs sweep: the rows of batch_run in a CSV, a summary per combination, and one-line
errors with exit status 2."""

from __future__ import annotations

import pandas as pd
import pytest

import heas_envs.data.cli  # noqa: F401  (registers `heas-envs sweep`)
from heas_envs.cli import main
from heas_envs.data import batch_run

MARKET = "heas_envs/Market-v0"


def test_sweep_writes_the_rows_of_batch_run_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    argv = ["sweep", MARKET, "--param", "n_traders=2,3", "--param", "volatility=[0.01, 0.02]"]
    argv += ["--param", "regulator=true", "--iterations", "2", "--steps", "4", "--period", "2"]
    argv += ["--policy", "regulator=random", "--seed", "3", "--out", str(out)]
    assert main(argv) == 0
    rows = batch_run(
        MARKET,
        {"n_traders": [2, 3], "volatility": [0.01, 0.02], "regulator": True},
        iterations=2,
        max_steps=4,
        data_collection_period=2,
        policies={"regulator": "random"},
        seed=3,
        display_progress=False,
    )
    written = pd.read_csv(out)
    assert len(written) == 4 * 2 * 3  # combinations x iterations x Steps 0, 2, 4
    pd.testing.assert_frame_equal(written, pd.DataFrame(rows), check_exact=False, rtol=1e-12)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("4 combinations x 2 iterations: 8 runs, 24 rows")
    assert lines[1].split()[:3] == ["runs", "last", "Step"] and "price.price" in lines[1]
    assert lines[3].split()[:4] == ["2", "0.01", "2", "4"]  # n_traders, volatility, runs, Step
    assert lines[-1] == f"24 rows written to {out}"


def test_sweep_records_the_chosen_metrics_and_agent_fields(tmp_path, capsys):
    out = tmp_path / "new" / "agents.csv"  # missing directories are made
    argv = ["sweep", MARKET, "--param", "n_traders=2", "--steps", "3", "--metric", "price.price"]
    argv += ["--agent", "reward", "--agent", "obs[5]", "--agent-role", "trader"]
    assert main([*argv, "--out", str(out)]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == [
        "RunId",
        "iteration",
        "Step",
        "seed",
        "n_traders",
        "price.price",
        "AgentID",
        "reward",
        "obs[5]",
    ]
    assert list(written["AgentID"]) == ["trader_0", "trader_1"]
    assert written["obs[5]"].between(-1, 1).all()  # position / max_position (Market's obs 5)
    assert "1 combination x 1 iteration: 1 run, 2 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["heas_envs/Nope-v0"], "unknown env id 'heas_envs/Nope-v0'; valid ids"),
        ([MARKET, "--param", "speed=1,2"], "unknown parameter(s) ['speed']"),
        ([MARKET, "--param", "n_traders=2,x"], "n_traders must be an integer"),
        ([MARKET, "--param", "n_traders=[2,"], "--param n_traders: '[2,' is not a JSON list"),
        ([MARKET, "--param", "n_traders"], "--param takes KEY=VALUE[,VALUE...]"),
        ([MARKET, "--param", "n_traders=2", "--param", "n_traders=3"], "given twice"),
        ([MARKET, "--period", "0"], "--period must be -1 (the last step of each run), 1"),
        ([MARKET, "--period", "-2"], "--period: period must be an integer in [-1,"),
        ([MARKET, "--iterations", "0"], "--iterations: iterations must be an integer in [1,"),
        ([MARKET, "--policy", "firm=random"], "policies name unknown roles ['firm']"),
        ([MARKET, "--policy", "trader=smart"], "policy of role 'trader' must be one of"),
        ([MARKET, "--policy", "random", "--policy", "trader=heuristic"], "give it alone"),
        ([MARKET, "--steps", "3", "--param", "max_steps=4"], "give --steps or --param max_steps"),
        ([MARKET, "--metric", "price"], "'price' is not a metric of the env"),
        ([MARKET, "--agent", "wealth"], "unknown field 'wealth'"),
        ([MARKET, "--agent", "obs[5]"], "obs[5] is beyond the observation of role 'regulator'"),
        ([MARKET, "--n-jobs", "2", "--backend", "inprocess"], "needs backend 'process' or 'ray'"),
        ([MARKET, "--backend", "dask"], "argument --backend: invalid choice: 'dask'"),
        ([MARKET, "--out", "{tmp}"], "is a directory; give a file path"),
        ([MARKET, "--out", "{tmp}/file/x.csv"], "file' is not a writable directory"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(args, message, capsys, tmp_path):
    (tmp_path / "file").write_text("")
    assert main(["sweep", *[a.format(tmp=tmp_path) for a in args]]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_progress_bar_on_request(capsys):
    argv = ["sweep", MARKET, "--param", "n_traders=2", "--steps", "2", "--iterations", "2"]
    assert main([*argv, "--progress"]) == 0
    assert "2/2" in capsys.readouterr().err
    assert main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
