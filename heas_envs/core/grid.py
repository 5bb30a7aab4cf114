"""Vectorised helpers for models on a rectangular grid of cells."""

from __future__ import annotations

import numpy as np


def grid_neighbours(
    width: int, height: int, moore: bool, torus: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The neighbour table of a ``width`` x ``height`` grid, cells numbered ``x * height + y``.

    Args:
        width: Cells along x.
        height: Cells along y.
        moore: 8 neighbours (Moore) if True, else 4 (von Neumann).
        torus: Whether the grid wraps around.

    Returns:
        ``(table, count)``: ``table[c, :count[c]]`` are the distinct neighbours of cell ``c``
        (the rest of the row is -1), in a fixed order.
    """
    if moore:
        offsets = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    else:
        offsets = [(-1, 0), (0, -1), (0, 1), (1, 0)]
    x, y = np.divmod(np.arange(width * height), height)
    table = np.full((width * height, len(offsets)), -1, dtype=np.int64)
    count = np.zeros(width * height, dtype=np.int64)
    for dx, dy in offsets:  # a loop over the few offsets, vectorised over cells
        nx, ny = x + dx, y + dy
        if torus:
            nx, ny, ok = nx % width, ny % height, np.ones(x.shape, dtype=bool)
        else:
            ok = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
        cell = nx * height + ny
        ok &= cell != np.arange(width * height)  # tiny tori: a cell is not its own neighbour
        ok &= ~(table == np.where(ok, cell, -2)[:, None]).any(axis=1)  # and counts once
        rows = np.flatnonzero(ok)
        table[rows, count[rows]] = cell[rows]
        count[rows] += 1
    return table, count


def random_neighbour(
    table: np.ndarray, count: np.ndarray, cell: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A uniformly drawn neighbour of every cell in ``cell`` (the cell itself where it has none)."""
    return neighbour_from_draws(table, count, cell, rng.random(cell.shape))


def neighbour_from_draws(
    table: np.ndarray, count: np.ndarray, cell: np.ndarray, draws: np.ndarray
) -> np.ndarray:
    """The neighbour of every cell in ``cell`` that uniform ``draws`` in ``[0, 1)`` (one per
    cell, of ``cell``'s shape) pick, as :func:`random_neighbour` picks it from its draws (the
    cell itself where it has none)."""
    n = count[cell]
    width = table.shape[1]
    pick = (draws * np.maximum(n, 1)).astype(np.int64)
    np.minimum(pick, width - 1, out=pick)
    pick += cell * width
    return np.where(n > 0, table.ravel()[pick], cell)


def ranks_within_groups(
    keys: np.ndarray, tiebreak: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group the elements of ``keys`` by value, ordered by ``tiebreak`` within each group.

    Args:
        keys: ``[n]`` integer group keys (e.g. ``world * n_cells + cell``).
        tiebreak: ``[n]`` floats, one per element, that order the members of a group
            (ascending; equal values keep element order). Independent uniform draws give a
            uniformly random order within every group; draw them per world
            (``ctx.rng.random_per_world``) so that the worlds stay independent.

    Returns:
        ``(order, rank, start, size)``: ``order`` lists the elements grouped by key (ordered
        by ``tiebreak`` within a group); for every element, ``rank`` is its position within its
        group, ``start`` the position in ``order`` where its group begins and ``size`` its
        group's size. So ``order[start[e] + k]`` is the ``k``-th member of ``e``'s group.

    Raises:
        ValueError: ``keys`` and ``tiebreak`` differ in shape or are not one-dimensional.
    """
    keys, tiebreak = _check_groups(keys, tiebreak)
    n = keys.size
    order = group_order(keys, tiebreak)
    first = _group_firsts(keys[order])
    positions = np.arange(n)
    group_start = np.maximum.accumulate(np.where(first, positions, 0))
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    group = np.cumsum(first) - 1
    rank, start, size = (np.empty(n, dtype=np.int64) for _ in range(3))
    rank[order] = positions - group_start
    start[order] = group_start
    size[order] = sizes[group]
    return order, rank, start, size


def group_ranks(keys: np.ndarray, tiebreak: np.ndarray, bound: int | None = None) -> np.ndarray:
    """The ``rank`` of :func:`ranks_within_groups` alone: every element's position within its
    group of equal ``keys``, ordered by ``tiebreak`` (equal values keep element order).

    Args:
        keys: ``[n]`` integer group keys.
        tiebreak: ``[n]`` floats that order the members of a group.
        bound: Optional: all ``keys`` lie in ``[0, bound)`` (saves a pass to find it).

    Returns:
        ``[n]`` int64 ranks.

    Raises:
        ValueError: ``keys`` and ``tiebreak`` differ in shape or are not one-dimensional.
    """
    keys, tiebreak = _check_groups(keys, tiebreak)
    order = group_order(keys, tiebreak, bound)
    first = _group_firsts(keys[order])
    positions = np.arange(keys.size)
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = positions - np.maximum.accumulate(np.where(first, positions, 0))
    return rank


def group_order(keys: np.ndarray, tiebreak: np.ndarray, bound: int | None = None) -> np.ndarray:
    """``np.lexsort((tiebreak, keys))`` for 1-D integer ``keys`` and float ``tiebreak``: the
    elements sorted by key, then by tiebreak, then by position, computed with a fast sort of the
    tiebreaks (a stable one only where two are equal) and radix sorts of non-negative keys.

    Args:
        keys: ``[n]`` integer keys.
        tiebreak: ``[n]`` floats.
        bound: Optional: all ``keys`` lie in ``[0, bound)``.

    Returns:
        ``[n]`` indices, the order.
    """
    if keys.size < 2 or keys.dtype.kind not in "iu":
        return np.lexsort((tiebreak, keys))
    if bound is None:
        low, high = int(keys.min()), int(keys.max())
        if low < 0:
            return np.lexsort((tiebreak, keys))
        bound = high + 1
    by_tie = np.argsort(tiebreak)
    ordered = tiebreak[by_tie]
    if not (ordered[1:] > ordered[:-1]).all():  # equal tiebreaks (or NaN): keep element order
        by_tie = np.argsort(tiebreak, kind="stable")
    return by_tie[radix_argsort(keys[by_tie], bound)]


def radix_argsort(keys: np.ndarray, bound: int) -> np.ndarray:
    """``np.argsort(keys, axis=-1, kind="stable")`` for integer ``keys`` in ``[0, bound)``, by
    NumPy's radix sort on 16-bit digits (one pass below ``2**16``, two below ``2**32``)."""
    if bound <= 1 << 16:
        return np.argsort(keys.astype(np.uint16, copy=False), axis=-1, kind="stable")
    if bound <= 1 << 32:
        low = np.argsort((keys & 0xFFFF).astype(np.uint16), axis=-1, kind="stable")
        high = (np.take_along_axis(keys, low, axis=-1) >> 16).astype(np.uint16)
        return np.take_along_axis(low, np.argsort(high, axis=-1, kind="stable"), axis=-1)
    return np.argsort(keys, axis=-1, kind="stable")


def _check_groups(keys: np.ndarray, tiebreak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, tiebreak = np.asarray(keys), np.asarray(tiebreak)
    if keys.ndim != 1 or tiebreak.shape != keys.shape:
        raise ValueError(
            f"keys and tiebreak must be 1-D arrays of one shape, got {keys.shape} and "
            f"{tiebreak.shape}"
        )
    return keys, tiebreak


def _group_firsts(sorted_keys: np.ndarray) -> np.ndarray:
    first = np.ones(sorted_keys.size, dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    return first
