"""Smoke test of scripts/train_grid_defender.py: its quick run trains the defender and the
attacker with the learner and in-process workers and prints the evaluation and timing tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_grid_defender.py"


def test_the_quick_run_prints_both_evaluations_and_the_wall_times(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("train_grid_defender", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--quick", "--run-root", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Defender vs the heuristic attacker, 4 seeds" in out
    assert "Heuristic defender under each attacker, 4 seeds" in out
    for row in ("| PPO (workers) |", "| heuristic |", "| random |", "| defender | 2 |"):
        assert row in out
    assert "| attacker | 2 |" in out
    assert len(list(tmp_path.glob("PowerGrid-v0__*__PPO__seed0__*/actor.pt"))) == 2
