"""Run directories shared by the training entry points: one name scheme, never overwritten."""

from __future__ import annotations

import time
from pathlib import Path


def run_name(env_id: str, role: str, algo: str, seed: int, stamp: str | None = None) -> str:
    """A run directory's name: ``<env>__<role>__<algo>__seed<seed>__<YYYYmmdd-HHMMSS>``."""
    env = env_id.split("/")[-1]
    return f"{env}__{role}__{algo}__seed{seed}__{stamp or time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(root: str | Path, env_id: str, role: str, algo: str, seed: int) -> Path:
    """Create and return a new run directory under ``root`` (``-2``, ``-3``, ... appended when
    a run of the same name started in the same second)."""
    base = Path(root) / run_name(env_id, role, algo, seed)
    path, k = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            k += 1
            path = base.with_name(f"{base.name}-{k}")
