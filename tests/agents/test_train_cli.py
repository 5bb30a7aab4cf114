"""`heas-envs train sb3|evo|workers` and scripts/train_*.py: one set of options, runs, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import main

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_train_sb3_runs_saves_and_compares_on_held_out_seeds(tmp_path, capsys):
    argv = ["train", "sb3", "--total-timesteps", "96", "--num-worlds", "2", "--no-progress"]
    argv += ["--algo-kwarg", "n_steps=4", "--algo-kwarg", "batch_size=48", "--eval-episodes", "2"]
    argv += ["--param", "max_steps=10", "--run-root", str(tmp_path), "--no-tensorboard"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    assert (run_dir / "model.zip").exists() and run_dir.parent == tmp_path
    for name in ("trained", "heuristic", "random"):
        assert f"{name}" in out and "over 2 held-out episodes" in out


def test_train_evo_runs_and_resumes(tmp_path, capsys):
    argv = ["train", "evo", "--generations", "2", "--popsize", "4", "--episodes", "1"]
    argv += ["--param", "max_steps=10", "--run-root", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    run_dir = capsys.readouterr().out.split("run directory: ")[1].split()[0]
    assert main([*argv[:3], "3", *argv[4:], "--resume", run_dir]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0][:2] == ["generation", "evaluations"]
    assert [r[0] for r in rows[1:4]] == ["1", "2", "3"]  # two generations, then one more


def test_train_workers_runs_the_learner_and_compares(tmp_path, capsys):
    argv = ["train", "workers", "--iterations", "2", "--n-steps", "8", "--backend", "inprocess"]
    argv += ["--worlds-per-worker", "1", "--algo-kwarg", "batch_size=16", "--no-progress"]
    argv += ["--eval-episodes", "2", "--param", "max_steps=10", "--run-root", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    assert (run_dir / "actor.pt").exists() and "collecting" in out
    assert out.count("over 2 held-out episodes") == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "sb3", "--algo", "XYZ"], "--algo must be one of ['PPO', 'A2C'"),
        (["train", "sb3", "--param", "n_patches=-3"], "n_patches"),
        (["train", "sb3", "--algo-kwarg", "n_steps"], "--algo-kwarg takes KEY=VALUE items"),
        (["train", "evo", "--objective", "profit"], "--objective takes NAME:SENSE"),
        (["train", "evo", "--objective", "profit:max"], "unknown objective 'profit'"),
        (["train", "evo", "--popsize", "1"], "--popsize >= 2"),
        (["train", "workers", "--backend", "threads"], "backend must be one of"),
        (["train", "workers", "--workers", "0"], "n_workers must be an integer >= 1"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_the_scripts_take_the_same_options():
    for script in ("train_sb3.py", "train_evo.py"):
        done = subprocess.run(
            [sys.executable, str(SCRIPTS / script), "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "--env-id" in done.stdout and "--seed" in done.stdout
    bad = subprocess.run(
        [sys.executable, str(SCRIPTS / "train_evo.py"), "--algo", "nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: --algo must be one of")
