"""The heas-envs command: list, run, JSON output, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest

import heas_envs
from heas_envs.cli import main


def test_list_prints_every_id_with_a_description(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == heas_envs.list_envs()
    assert all(len(line.split()) > 2 for line in lines)


def test_run_prints_one_row_per_episode(capsys):
    assert (
        main(["run", "heas_envs/Market-v0", "--episodes", "2", "--steps", "15", "--seed", "4"]) == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert "return/trader" in out[0] and len(out) == 4  # header, index name, two episodes
    assert out[2].split()[:3] == ["0", "4", "15"]


def test_run_json_is_reproducible_per_seed(capsys):
    args = [
        "run",
        "heas_envs/Market-v0",
        "--episodes",
        "2",
        "--steps",
        "10",
        "--policy",
        "random",
        "--json",
    ]
    main(args)
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    main(args)
    second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first == second and [r["seed"] for r in first] == [0, 1]
    assert first[0]["return/trader"] != first[1]["return/trader"]


def test_run_passes_model_parameters(capsys):
    main(
        [
            "run",
            "heas_envs/Market-v0",
            "--episodes",
            "1",
            "--steps",
            "5",
            "--param",
            "start_price=50",
            "--json",
        ]
    )
    row = json.loads(capsys.readouterr().out)
    assert 40 < row["price.final_price"] < 60


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "heas_envs/Nope-v0"], "unknown env id 'heas_envs/Nope-v0'; valid ids"),
        (["run", "heas_envs/Market-v0", "--policy", "smart"], "invalid choice: 'smart'"),
        (["run", "heas_envs/Market-v0", "--param", "n_traders=0"], "n_traders must be an integer"),
        (["run", "heas_envs/Market-v0", "--param", "speed=3"], "unknown parameter(s) ['speed']"),
        (["run", "heas_envs/Market-v0", "--episodes", "0"], "--episodes must be >= 1"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
