"""Smoke test of ``scripts/bench.py``: a tiny run prints a row per registered model.

No timing is asserted: only that the figures are there and positive.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import heas_envs

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
NUMBER = re.compile(r"\d[\d,]*(\.\d+)?(e[+-]?\d+)?")


def _number(cell: str) -> float:
    assert NUMBER.fullmatch(cell), f"not a figure: {cell!r}"
    return float(cell.replace(",", ""))


def test_a_quick_models_run_prints_a_positive_figure_per_registered_id():
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "bench.py"),
            "--quick",
            "--repeats",
            "1",
            "--only",
            "models",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    rows = {
        cells[0]: cells[1:]
        for line in out.splitlines()
        if line.startswith("| heas_envs/")
        for cells in [[c.strip() for c in line.strip().strip("|").split("|")]]
    }
    assert sorted(rows) == sorted(heas_envs.list_envs())
    for env_id, (agents, single, vector, gain, ticks) in rows.items():
        assert _number(agents) >= 1 and _number(single) > 0 and _number(ticks) >= 3, env_id
        assert _number(vector) > 0 and _number(gain.removesuffix("x")) > 0, (env_id, vector)


def test_importing_the_bench_imports_neither_heas_nor_mesa():
    code = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import bench, bench_rules; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('heas', 'mesa')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
