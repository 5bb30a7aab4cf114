"""The heas-envs command: list, run, JSON output, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import heas_envs
from heas_envs.cli import main
from heas_envs.registration import env_json_schema, env_params_class


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
        (
            ["run", "heas_envs/Market-v0", "--episodes", "0"],
            "--episodes: episodes must be an integer in [1, 1000000], got 0",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_prints_one_line_and_exits_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


MARKET = ["run", "heas_envs/Market-v0", "--episodes", "1", "--steps", "2"]
LONG_NUMBER = "1" + "0" * 5000
NESTED = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(
            [*MARKET, "--seed", LONG_NUMBER], "seed must be an integer in [0, 2**63 - 1]", id="seed"
        ),
        pytest.param([*MARKET, "--seed", "-1"], "seed must be an integer", id="negative-seed"),
        pytest.param([*MARKET, "--seed", str(2**63)], "seed must be an integer", id="seed-2**63"),
        pytest.param(
            [*MARKET, "--param", f"n_traders={LONG_NUMBER}"],
            "the value of n_traders is too long",
            id="long-param",
        ),
        pytest.param(
            [*MARKET, "--param", f"n_traders={NESTED}"],
            "the value of n_traders is too long",
            id="nested-param",
        ),
        pytest.param(
            [*MARKET, "--param", "n_traders=[[[1]]]"], "n_traders takes one int", id="list-param"
        ),
        pytest.param([*MARKET, "--param", "env_id=x"], "env_id is not one", id="env_id-as-param"),
        pytest.param(
            [*MARKET, "--param", "render_mode=ansi"], "render_mode is not one", id="render_mode"
        ),
        pytest.param(
            [*MARKET, "--param", "n_trader=3"],
            "unknown parameter(s) ['n_trader'] for heas_envs/Market-v0; valid parameters: "
            "['cost', 'drift'",
            id="typo",
        ),
        pytest.param(
            [*MARKET, "--param", "max_steps=4"], "give --steps or --param max_steps", id="both"
        ),
        pytest.param(
            ["run", "heas_envs/Market-v0", "--episodes", str(10**30)],
            "episodes must be an integer in [1, 1000000]",
            id="huge-episodes",
        ),
        pytest.param(
            [*MARKET, "--param", "regulator=yes"], "regulator must be true or false", id="bool"
        ),
        pytest.param(
            ["run", "heas_envs/Economy-v0", "--param", "n_agents=100000"],
            "n_agents must be an integer in [1, 10000], got 100000 (a step holds",
            id="memory-bound",
        ),
        pytest.param(["params", "heas_envs/Nope-v0"], "unknown env id", id="params-unknown-id"),
    ],
)
def test_hostile_input_prints_one_short_line_and_exits_2(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert len(lines[0]) < 600 and captured.out == ""


def test_a_parameter_value_is_parsed_by_its_declared_type(capsys):
    argv = ["run", "heas_envs/Economy-v0", "--episodes", "1", "--steps", "3", "--json"]
    assert main([*argv, "--param", "max_population=null", "--param", 'decision="layer"']) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["steps"] == 3 * 4  # four decision layers per tick


@pytest.mark.parametrize("env_id", heas_envs.list_envs())
def test_params_prints_the_declared_table_and_schema(capsys, env_id):
    assert main(["params", env_id]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["name", "type", "default", "range", "meaning"]
    assert [line.split()[0] for line in lines[1:]] == env_params_class(env_id).names()
    assert main(["params", env_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == env_json_schema(env_id)


def test_ctrl_c_prints_interrupted_and_exits_130():
    # a real SIGINT while episodes run (run_episodes replaced by one that waits for it)
    code = (
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # even if launched with\n"
        "import heas_envs.cli as cli  # SIGINT ignored (a background job of a script)\n"
        "def run(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    for _ in range(300):  # short sleeps: the handler runs even if another thread\n"
        "        time.sleep(0.1)  # of the process took the signal\n"
        "cli.run_episodes = run\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *MARKET], capture_output=True, text=True, timeout=120
    )
    assert (out.returncode, out.stderr) == (130, "interrupted\n")


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    code = "import sys; from heas_envs.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, **kwargs)


def test_a_closed_pipe_ends_quietly():
    proc = _cli(
        "run",
        "heas_envs/Market-v0",
        "--episodes",
        "50",
        "--steps",
        "2",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # as `| head -0` does: every write fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


def test_head_of_a_run_shows_no_traceback():
    shell = f"{sys.executable} -m heas_envs.cli run heas_envs/Market-v0 --episodes 50 --steps 2"
    out = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {shell} | head -1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stderr == "" and len(out.stdout.splitlines()) == 1
    assert out.returncode in (0, 141)
