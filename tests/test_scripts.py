"""Smoke tests of the scripts: the user-model example and the benchmark print real output."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from heas_envs.checks import check_env

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_the_user_model_example_builds_a_conforming_env():
    sys.path.insert(0, str(SCRIPTS))  # importable by name, so that the env pickles
    try:
        example = importlib.import_module("user_model_example")
    finally:
        sys.path.remove(str(SCRIPTS))
    check_env(example.make_env, num_cycles=30)
    env = example.make_env()
    env.reset(seed=0)
    env.record_trace = True
    assert env.possible_agents == ["trader_0", "trader_1", "trader_2"]
    env.step({a: np.ones(1, dtype=np.float32) for a in env.agents})
    # the traders earn their held position (0 at first) times this tick's price change
    assert env.metrics() == {} and env.substep_trace[1].layer == "L2"


def run_script(name: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_demo_reports_play_and_training_for_every_policy():
    out = run_script("demo.py", "--timesteps", "500", "--episodes", "1")
    assert "heas_envs/Market-v0" in out.splitlines()[0]
    returns = re.findall(r"mean trader return ([-+]\d+\.\d+)", out)
    assert len(returns) == 2 and returns[0] != returns[1]
    trained = re.search(r"PPO (\d+\.\d+), random (\d+\.\d+), heuristic (\d+\.\d+)", out)
    assert trained and all(float(v) > 0 for v in trained.groups())
    assert "with 1 torch thread(s)" in out and "PPO 500/500 steps" in out  # progress lines


def test_heuristic_vs_random_prints_both_policies_for_every_role():
    out = run_script("heuristic_vs_random.py", "--env", "heas_envs/Market-v0", "--seeds", "2")
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert {(r[1], r[2]) for r in rows} == {
        (role, policy) for role in ("trader", "regulator") for policy in ("heuristic", "random")
    }
    assert all(len(r) == 5 and float(r[4]) >= 0 for r in rows)
