"""One random stream per world: what makes a batch of worlds a pure speed-up.

A model steps ``B`` worlds at once, and every random draw of a stream has a leading world
dimension: ``ctx.rng.random((B, n))``. :class:`WorldRandom` holds one ``np.random.Generator``
per world and fills row ``b`` of such a draw from world ``b``'s generator alone, drawing exactly
what a single world would draw (``generator_b.random((n,))``). So world ``b`` of a batch seeded
``[s_0, ..., s_{B-1}]`` follows, bit for bit, the trajectory of a single world seeded ``s_b``,
whatever ``B`` is and whatever the other worlds do, and a single world (``B = 1``) draws the
same numbers as a plain ``np.random.default_rng(seed)`` would.

The rules for stream authors:

- every draw's ``size`` starts with the number of worlds (an int size means ``(B,)``);
- a draw that depends on a count (live agents, births) is either drawn dense, over all slots
  of every world (``rng.random((B, max_agents))``) and then indexed, or drawn per world with
  :meth:`WorldRandom.random_per_world` / :meth:`WorldRandom.standard_normal_per_world`
  (``counts[b]`` draws from world ``b``, concatenated in world order, the order in which
  ``np.nonzero`` lists a ``[B, ...]`` mask); never ``rng.random(k)`` for a ``k`` pooled over
  worlds, which would couple them;
- distribution parameters are scalars or arrays that broadcast to ``size`` (row ``b`` of the
  broadcast goes to world ``b``).

A draw of a size that does not start with ``B`` raises, so a stream that would couple worlds
fails loudly instead of silently.

Cost: one generator call per world and draw; for the built-in models at 64 worlds this is a
small share of a step (the models' array arithmetic dominates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from heas_envs.core.params import check_seed


class WorldRandom:
    """``B`` independent generators, one per world, behind a Generator-like API.

    Args:
        seeds: One seed per world (each ``None`` or an integer in ``[0, 2**63 - 1]``).

    Attributes:
        generators: The generators, world by world (``generators[b]`` is world ``b``'s).
    """

    def __init__(self, seeds: Sequence[int | None]) -> None:
        if len(seeds) < 1:
            raise ValueError("WorldRandom needs at least one world's seed")
        self.generators = [np.random.default_rng(check_seed(s)) for s in seeds]

    @classmethod
    def of(cls, generators: Sequence[np.random.Generator]) -> WorldRandom:
        """Random streams that continue ``generators`` (world ``b`` draws from
        ``generators[b]``): how a world keeps its own stream when it moves to another batch."""
        out = cls.__new__(cls)
        out.generators = list(generators)
        if not out.generators:
            raise ValueError("WorldRandom needs at least one world's generator")
        return out

    @property
    def n_worlds(self) -> int:
        """The number of worlds B."""
        return len(self.generators)

    # -- the draws the models use -------------------------------------------------------------
    def random(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Uniform floats in ``[0, 1)`` of shape ``size`` (``size[0] == B``)."""
        return self._draw(size, lambda g, rest: g.random(rest))

    def standard_normal(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Standard normal floats of shape ``size``."""
        return self._draw(size, lambda g, rest: g.standard_normal(rest))

    def uniform(self, low: Any, high: Any, size: int | tuple[int, ...]) -> np.ndarray:
        """Uniform floats in ``[low, high)``; ``low`` and ``high`` broadcast to ``size``."""
        lo, hi = self._per_world(low, size), self._per_world(high, size)
        return self._draw(size, lambda g, rest, b: g.uniform(lo[b], hi[b], rest), indexed=True)

    def integers(self, low: Any, high: Any, size: int | tuple[int, ...]) -> np.ndarray:
        """Integers in ``[low, high)``; ``low`` and ``high`` broadcast to ``size``."""
        lo, hi = self._per_world(low, size), self._per_world(high, size)
        return self._draw(size, lambda g, rest, b: g.integers(lo[b], hi[b], rest), indexed=True)

    def dirichlet(self, alpha: Any, size: int | tuple[int, ...]) -> np.ndarray:
        """Dirichlet draws of shape ``(*size, len(alpha))``; ``alpha`` is shared by the worlds."""
        return self._draw(size, lambda g, rest: g.dirichlet(alpha, rest))

    def random_per_world(self, counts: Any) -> np.ndarray:
        """``counts[b]`` uniform floats from world ``b``'s generator, concatenated in world order."""
        return self._ragged(counts, lambda g, k: g.random(k))

    def standard_normal_per_world(self, counts: Any, rest: tuple[int, ...] = ()) -> np.ndarray:
        """``counts[b]`` standard normal draws of shape ``rest`` from world ``b``'s generator,
        concatenated in world order: ``[sum(counts), *rest]``."""
        return self._ragged(counts, lambda g, k: g.standard_normal((k, *rest)))

    def world(self, b: int) -> np.random.Generator:
        """World ``b``'s own generator, for draws of a shape that only that world knows."""
        return self.generators[b]

    # -- helpers ------------------------------------------------------------------------------
    def _shape(self, size: int | tuple[int, ...]) -> tuple[int, ...]:
        if isinstance(size, int):
            shape: tuple[int, ...] = (size,)
        else:
            shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        if not shape or shape[0] != len(self.generators):
            raise ValueError(
                f"a draw of size {shape} from the model's generator must start with the number "
                f"of worlds ({self.n_worlds}): each world draws from its own stream"
            )
        return shape

    def _per_world(self, value: Any, size: int | tuple[int, ...]) -> Any:
        if np.ndim(value) == 0:
            return [value] * self.n_worlds
        return np.broadcast_to(value, self._shape(size))

    def _draw(self, size: int | tuple[int, ...], fn: Callable, indexed: bool = False) -> np.ndarray:
        shape = self._shape(size)
        rest = shape[1:]
        if indexed:
            rows = [fn(g, rest, b) for b, g in enumerate(self.generators)]
        else:
            rows = [fn(g, rest) for g in self.generators]
        if self.n_worlds == 1:
            return np.asarray(rows[0])[None]
        return np.stack(rows)

    def _ragged(self, counts: Any, fn: Callable) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.int64).reshape(-1)
        if counts.size != self.n_worlds or (counts < 0).any():
            raise ValueError(
                f"counts must give one non-negative count per world ({self.n_worlds}), got "
                f"shape {counts.shape}"
            )
        rows = [fn(g, int(k)) for g, k in zip(self.generators, counts)]
        return rows[0] if self.n_worlds == 1 else np.concatenate(rows)


def world_seeds(seed: int | Sequence[int] | None, n_worlds: int) -> list[int | None]:
    """One seed per world: a sequence of ``n_worlds`` seeds as given, ``None`` for fresh entropy
    everywhere, or one integer expanded deterministically.

    One integer ``s`` gives world 0 the seed ``s`` itself (so a batch of one is a plain env
    seeded ``s``) and world ``b > 0`` a seed derived from ``(s, b)`` by ``np.random.SeedSequence``,
    so that batches seeded ``s`` and ``s + 1`` share no world.

    Raises:
        ValueError: A sequence of the wrong length, or a seed that is not ``None`` or an
            integer in ``[0, 2**63 - 1]``.
    """
    if seed is None:
        return [None] * n_worlds
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Sequence | np.ndarray):
        first = check_seed(seed)
        return [first] + [derived_seed(first, b) for b in range(1, n_worlds)]
    seeds = list(seed)
    if len(seeds) != n_worlds:
        raise ValueError(
            f"seed must be one integer or a list of one seed per world ({n_worlds}); got "
            f"{len(seeds)} seeds"
        )
    return [check_seed(s, name=f"seed of world {b}") for b, s in enumerate(seeds)]


def derived_seed(seed: int, world: int) -> int:
    """World ``world``'s seed in a batch seeded with the one integer ``seed``."""
    state = np.random.SeedSequence([seed, world]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))
