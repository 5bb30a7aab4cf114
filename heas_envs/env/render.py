"""Pictures of a model's state as ``[H, W, 3]`` uint8 arrays, drawn with plain NumPy.

``render_mode="rgb_array"`` returns these frames, so Gymnasium's ``RecordVideo`` (and any
video writer) can record episodes. Sizes are multiples of 16, as video codecs prefer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

HEIGHT, WIDTH = 240, 320
#: Matplotlib's ``tab10`` colours, as RGB bytes.
PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ],
    dtype=np.uint8,
)
BACKGROUND = np.array((255, 255, 255), dtype=np.uint8)
AXIS = np.array((200, 200, 200), dtype=np.uint8)
MAX_LINES = 8


def metrics_and_bars(
    history: Sequence[Mapping[str, float]],
    bars: Mapping[str, np.ndarray],
) -> np.ndarray:
    """A frame with the episode's metrics over time on top and one bar panel per role below.

    Args:
        history: One mapping of metric name to value per recorded tick (the first
            :data:`MAX_LINES` metrics are drawn, each scaled to its own range over the episode).
        bars: Per role, a vector of values drawn as bars (scaled by its largest magnitude).

    Returns:
        ``[HEIGHT, WIDTH, 3]`` uint8.
    """
    img = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    top = HEIGHT // 2
    names = list(history[0])[:MAX_LINES] if history else []
    series = [np.array([h.get(n, np.nan) for h in history], dtype=np.float64) for n in names]
    draw_lines(img, (4, 4, top - 4, WIDTH - 4), series)
    roles = list(bars)
    if roles:
        band = (HEIGHT - top) // len(roles)
        for k, role in enumerate(roles):
            y0 = top + k * band
            draw_bars(img, (y0 + 4, 4, y0 + band - 4, WIDTH - 4), np.asarray(bars[role]), k)
    return img


def draw_lines(
    img: np.ndarray, box: tuple[int, int, int, int], series: Sequence[np.ndarray]
) -> None:
    """Draw each series as a line in ``box = (y0, x0, y1, x1)``, scaled to its own range."""
    y0, x0, y1, x1 = box
    img[y1 - 1, x0:x1] = AXIS
    for k, values in enumerate(series):
        values = np.where(np.isfinite(values), values, np.nan)
        if values.size == 0 or np.isnan(values).all():
            continue
        lo, hi = np.nanmin(values), np.nanmax(values)
        scaled = (values - lo) / (hi - lo) if hi > lo else np.full(values.shape, 0.5)
        scaled = np.nan_to_num(scaled, nan=0.5)
        cols = np.arange(x0, x1)
        at = np.linspace(x0, x1 - 1, num=values.size) if values.size > 1 else np.array([x0])
        ys = np.interp(cols, at, scaled) if values.size > 1 else np.full(cols.size, scaled[0])
        rows = (y1 - 2 - ys * (y1 - y0 - 3)).round().astype(int)
        prev = np.concatenate([rows[:1], rows[:-1]])
        color = PALETTE[k % len(PALETTE)]
        for c, a, b in zip(cols, np.minimum(rows, prev), np.maximum(rows, prev)):
            img[a : b + 1, c] = color


def draw_bars(img: np.ndarray, box: tuple[int, int, int, int], values: np.ndarray, k: int) -> None:
    """Draw ``values`` as bars around a zero line in ``box``, scaled by the largest magnitude."""
    y0, x0, y1, x1 = box
    values = np.nan_to_num(np.asarray(values, dtype=np.float64).reshape(-1))
    mid = (y0 + y1) // 2
    img[mid, x0:x1] = AXIS
    if values.size == 0:
        return
    scale = max(float(np.abs(values).max()), 1e-12)
    width = max((x1 - x0) // values.size, 1)
    color = PALETTE[k % len(PALETTE)]
    for i, v in enumerate(values[: x1 - x0]):
        h = int(round(abs(v) / scale * (mid - y0 - 1)))
        left = x0 + i * width
        right = max(left + width - 1, left + 1)
        if v >= 0:
            img[mid - h : mid, left:right] = color
        else:
            img[mid + 1 : mid + 1 + h, left:right] = color


def grid_frame(cells: np.ndarray) -> np.ndarray:
    """An RGB grid ``[rows, cols, 3]`` (uint8) scaled up to fill a frame, centred on white."""
    cells = np.asarray(cells, dtype=np.uint8)
    rows, cols = cells.shape[:2]
    scale = max(1, min(HEIGHT // rows, WIDTH // cols))
    big = np.repeat(np.repeat(cells, scale, axis=0), scale, axis=1)[:HEIGHT, :WIDTH]
    img = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    top, left = (HEIGHT - big.shape[0]) // 2, (WIDTH - big.shape[1]) // 2
    img[top : top + big.shape[0], left : left + big.shape[1]] = big
    return img


def shade(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Blend from colour ``low`` (value 0) to ``high`` (value 1): ``[..., 3]`` uint8."""
    t = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)[..., None]
    out = (1 - t) * np.asarray(low, np.float64) + t * np.asarray(high, np.float64)
    return out.round().astype(np.uint8)
