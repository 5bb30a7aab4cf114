"""Data collection and parameter sweeps: a Mesa-style :class:`DataCollector` over batched
worlds and :func:`batch_run` (Mesa's semantics; in-process, a process pool or Ray)."""

from heas_envs.data.batch import batch_run, parameter_combinations, run_seed
from heas_envs.data.collector import DataCollector

__all__ = ["DataCollector", "batch_run", "parameter_combinations", "run_seed"]
