"""Output helpers of the evidence scripts: results (markdown) on stdout, progress on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np


def progress(message: str) -> None:
    """Print a progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(text: str = "") -> None:
    """Print result text on stdout."""
    print(text, flush=True)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; floats are printed with 4 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return f"{float(value):.4g}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def run_sections(sections: Mapping[str, Callable[[], None]], only: Sequence[str]) -> None:
    """Run the sections named in ``only``, in the order of ``sections``; time each on stderr."""
    start = time.perf_counter()
    for name, run in sections.items():
        if name in only:
            t0 = time.perf_counter()
            run()
            progress(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    progress(f"all done in {time.perf_counter() - start:.0f} s")
