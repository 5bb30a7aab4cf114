"""The shared blackboard that the streams of a model read and write."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from heas_envs.core.random import WorldRandom


class Context:
    """Arrays shared by the streams of one model, for ``n_worlds`` independent worlds.

    Every value has a leading world dimension ``B = n_worlds`` (``B = 1`` for a plain env);
    agent-level values are ``[B, N, ...]``. Keys are namespaced ``"<stream>.<name>"``.

    Attributes:
        n_worlds: The number of worlds B stepped together.
        rng: The model's random streams (:class:`~heas_envs.core.random.WorldRandom`, one
            generator per world; every draw's size starts with ``n_worlds``); created by
            ``Model.reset(seed)``.
        tick: The index of the current tick (0 during the first tick of an episode).
        layer: The index of the layer being run (or about to run, between env steps).
        tick_completed: Whether the last env step completed a tick (always, with
            ``decision="tick"``; with ``decision="layer"`` only on the step that ran the
            tick's last layers), for rewards that are paid once a tick.
    """

    def __init__(self, n_worlds: int = 1) -> None:
        if int(n_worlds) < 1:
            raise ValueError(f"n_worlds must be a positive integer, got {n_worlds!r}")
        self.n_worlds = int(n_worlds)
        self.rng = WorldRandom([0] * self.n_worlds)
        self.tick = 0
        self.layer = 0
        self.tick_completed = False
        self.data: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.data[key]
        except KeyError:
            raise KeyError(
                f"context has no key {key!r}; keys present: {sorted(self.data)}"
            ) from None

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        self.data[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: str, default: np.ndarray | None = None) -> np.ndarray | None:
        """Return the value of ``key``, or ``default`` when it is absent."""
        return self.data.get(key, default)
