"""Torch's thread count for training: one thread unless the user asks for more.

Stable-Baselines3's small MLPs gain nothing from intra-op threads, and on a 2-core machine two
torch threads made PPO about three times slower than one (the threads contend with the env
stepping for the same cores). Our training entry points therefore call :func:`set_torch_threads`
first; ``--threads N`` or the environment variable ``HEAS_TORCH_THREADS`` changes it.
"""

from __future__ import annotations

import os

ENV_VAR = "HEAS_TORCH_THREADS"


def set_torch_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    Args:
        threads: The count; ``None`` reads ``HEAS_TORCH_THREADS`` and defaults to 1.

    Raises:
        ValueError: The count (given or from the environment) is not a positive integer.
    """
    import torch

    if threads is None:
        text = os.environ.get(ENV_VAR, "1")
        if not text.strip().isdigit():
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {text!r}")
        threads = int(text)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
        raise ValueError(f"torch threads must be an integer in [1, 1024], got {threads!r}")
    torch.set_num_threads(threads)
    return threads
