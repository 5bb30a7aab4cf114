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
    n = count[cell]
    pick = (rng.random(cell.shape) * np.maximum(n, 1)).astype(np.int64)
    return np.where(n > 0, table[cell, np.minimum(pick, table.shape[1] - 1)], cell)


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
    keys, tiebreak = np.asarray(keys), np.asarray(tiebreak)
    if keys.ndim != 1 or tiebreak.shape != keys.shape:
        raise ValueError(
            f"keys and tiebreak must be 1-D arrays of one shape, got {keys.shape} and "
            f"{tiebreak.shape}"
        )
    n = keys.size
    order = np.lexsort((tiebreak, keys))
    sorted_keys = keys[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
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
