"""Smoke test of scripts/evidence_training.py: its quick mode prints every table it promises."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "evidence_training.py"


def _table_rows(out: str, header_start: str) -> list[list[str]]:
    """The body rows of the markdown table whose header line starts with ``header_start``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_quick_learning_and_pareto_print_tables_and_a_plot(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "learning", "pareto"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    out, err = result.stdout, result.stderr
    assert "## 1. Learning" in out and "## 3. Pareto" in out
    assert "## 2. Enterprise" not in out and "## 4. Speed" not in out
    assert "learning: PPO A on heas_envs/Ecology-v0" in err  # progress goes to stderr

    returns = _table_rows(out, "| env | role | config | trained |")
    assert {r[0] for r in returns} == {"Ecology-v0", "Enterprise-v0"}
    for row in returns:
        assert all(math.isfinite(float(v)) for v in row[3:7])
    diffs = _table_rows(out, "| env | config | difference |")
    assert {r[2] for r in diffs} >= {"trained - random", "trained - heuristic"}
    for row in diffs:
        low, high = (float(v) for v in re.findall(r"[-+]?[\d.]+(?:e[-+]?\d+)?", row[4]))
        assert math.isfinite(float(row[3])) and low <= float(row[3]) <= high
        assert row[5].startswith(("trained beats", "trained loses", "no significant"))
    assert (tmp_path / "learning_per_seed.csv").stat().st_size > 0

    searches = _table_rows(out, "| search | rollouts |")
    assert [r[0] for r in searches] == ["GA (NSGA-II style)", "random search"]
    assert searches[0][1] == searches[1][1]  # the same number of rollouts
    for row in searches:
        assert int(row[2]) >= 1 and float(row[5]) > 0 and math.isfinite(float(row[5]))
    png = tmp_path / "pareto.png"
    assert png.stat().st_size > 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
