"""Smoke test of scripts/evidence_planner.py: its quick run plays the planner's tournament and
prints the participants' table and the paired differences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "evidence_planner.py"


def test_the_quick_planner_evidence_prints_its_tables(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("evidence_planner", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--quick", "--only", "grid-attacker", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "### grid-attacker: heas_envs/PowerGrid-v0, focal attacker, 3 episodes" in out
    for row in ("| planner |", "| heuristic |", "| random |", "| planner - heuristic |"):
        assert row in out
    assert (tmp_path / "grid-attacker" / "episodes.csv").exists()
