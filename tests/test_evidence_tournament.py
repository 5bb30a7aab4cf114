"""Smoke test of scripts/evidence_tournament.py: its quick kill-and-resume section kills a
tournament at three moments and prints the row counts and equal tables it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "evidence_tournament.py"


def test_quick_kill_and_resume_kills_three_times_and_resumes_to_equal_tables(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "kill", "--kill-runner", "api"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "## 2. Kill and resume" in out and "## 3. Throughput" not in out
    # 2 scenarios x 2 participants: 4 batches of 4 episodes, 5 collected steps an episode
    assert "16 matches, 80 step rows, integrity ok" in out
    kills = re.findall(r"^kill (\d): (\d+) / (\d+) rows at the kill; tables equal$", out, re.M)
    assert [k[0] for k in kills] == ["1", "2", "3"]
    matches = [int(m) for _, m, _ in kills]
    assert [int(s) for _, _, s in kills] == [5 * m for m in matches]  # whole episodes only
    # right after the first and the last-but-one commit; in between, whole batches only
    assert matches[0] == 4 and matches[2] == 12 and matches[1] in (8, 12)
    table = [line for line in out.splitlines() if re.match(r"^\| [123] \|", line)]
    assert len(table) == 3
    for row in table:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[4] == cells[7] == "ok"  # integrity at the kill and after the resume
        assert cells[6] == "16 / 80" and cells[8].startswith("equal (7 of 7 CSVs")
        assert int(cells[3]) + int(cells[5]) == 4  # stored + played by the resume
    for name in ("uninterrupted", "killed1", "killed2", "killed3"):
        assert (tmp_path / "kill" / name / "episodes.csv").is_file()
