"""The architecture diagram of a model: its layers, streams, agent groups and data flow.

The diagram is drawn from the model itself, never from a hand-made list of edges:

- every stream is a box, in run order from left to right; the boxes of one layer sit in one
  band headed by the layer's name (and period, for a slow layer), so the bands are the layers
  in tick order;
- an agent group's box is shaded and names its role and its number of agent slots;
- every declared read is drawn: one arrow from the stream that writes the keys to the stream
  that reads them, labelled with the full keys (``"<writer>.<name>"``) it stands for, so the
  arrows are :func:`~heas_envs.core.model.data_flow_edges` grouped by (writer, reader);
- a read of a key written earlier in the tick is a solid arrow above the boxes; a read of a
  key written later in the tick order (the reader sees the previous tick's value: the
  feedback of the hierarchy) is a dashed arrow below them.

Arrows run in horizontal lanes, so none passes through a box, and each lane holds arrows that
do not overlap, labels included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from heas_envs.core.model import LayerSpec, Model, data_flow_edges, make_model
from heas_envs.core.stream import AgentGroup, Stream

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Sizes of the diagram, in inches (the axes are drawn one data unit per inch).
COLUMN = 2.3
BOX_WIDTH = 1.8
BOX_HEIGHT = 0.95
LANE = 0.3
LABEL_FONT = 6.0
STREAM_COLOUR = "#e8eef7"
GROUP_COLOUR = "#fde2c4"
LAYER_COLOURS = ("#f2f2f2", "#e6e6e6")
FORWARD_COLOUR = "#2f5d8a"
FEEDBACK_COLOUR = "#b5462c"


@dataclass(frozen=True)
class Arrow:
    """One arrow of the diagram: every key that ``reader`` reads from ``writer``.

    Attributes:
        writer: The stream that writes the keys.
        reader: The stream that reads them.
        keys: The full keys, ``"<writer>.<name>"``, in the reader's declared order.
        feedback: Whether the reader runs before the writer in a tick, or is the writer
            (it reads last tick's values).
    """

    writer: str
    reader: str
    keys: tuple[str, ...]
    feedback: bool

    @property
    def label(self) -> str:
        """The arrow's label: its keys, comma-separated."""
        return ", ".join(self.keys)

    @property
    def gid(self) -> str:
        """The arrow patch's id: ``"edge:<writer>-><reader>"`` or ``"feedback:..."``."""
        return f"{'feedback' if self.feedback else 'edge'}:{self.writer}->{self.reader}"


def resolve_model(source: Any, **params: Any) -> Model:
    """The :class:`~heas_envs.core.model.Model` behind ``source``.

    Args:
        source: A registered env id (built with ``params``), a ``Model``, a list of
            :class:`~heas_envs.core.model.LayerSpec` (HEAS-style), or an env holding one: the
            PettingZoo env, the vector env, the single-agent Gymnasium view or a wrapper of
            them (``.unwrapped``, ``.parallel``, ``.worlds`` and ``.model`` are followed).
        **params: Model parameters, for an env id only.

    Raises:
        ValueError: An unknown env id or parameter, parameters given with something other
            than an env id, or an object that holds no model.
    """
    if isinstance(source, str):
        from heas_envs.registration import make_parallel

        return make_parallel(source, **params).model
    if params:
        raise ValueError(
            f"model parameters {sorted(params)} apply to an env id only, not to an object of "
            f"type {type(source).__name__!r}"
        )
    if isinstance(source, Sequence) and source and all(isinstance(s, LayerSpec) for s in source):
        return make_model(list(source))
    seen = source
    for _ in range(8):  # a short chain: wrapper -> single-agent env -> parallel env -> model
        if isinstance(seen, Model):
            return seen
        inner = next(
            (
                getattr(seen, name)
                for name in ("model", "worlds", "parallel", "unwrapped")
                if getattr(seen, name, None) is not None and getattr(seen, name) is not seen
            ),
            None,
        )
        if inner is None:
            break
        seen = inner
    raise ValueError(
        "plot_architecture takes a registered env id, a Model, a list of LayerSpec or an env "
        f"holding a model; got an object of type {type(source).__name__!r}"
    )


def architecture_arrows(model: Model) -> list[Arrow]:
    """The arrows of ``model``'s diagram: :func:`data_flow_edges` grouped by (writer, reader),
    in the order of the readers' declared reads."""
    order = {s.name: i for i, s in enumerate(model.streams)}
    grouped: dict[tuple[str, str], list[str]] = {}
    for writer, reader, key in data_flow_edges(model.streams):
        grouped.setdefault((writer, reader), []).append(key)
    return [
        Arrow(w, r, tuple(keys), feedback=order[w] >= order[r]) for (w, r), keys in grouped.items()
    ]


def stream_label(stream: Stream) -> str:
    """The text of a stream's box: its name, its class, for an agent group its role and
    number of agent slots, and its period when it is not every tick."""
    lines = [stream.name, type(stream).__name__]
    if isinstance(stream, AgentGroup):
        lines.append(f"agents: {stream.role} x {stream.n_agents}")
    if stream.period != 1:
        lines.append(f"every {stream.period} ticks")
    return "\n".join(lines)


def layer_label(model: Model, index: int) -> str:
    """A layer's header: its name and, for a slow layer, its period."""
    layer = model.layers[index]
    return layer.name + (f" (every {layer.period} ticks)" if layer.period != 1 else "")


@dataclass
class _Route:
    arrow: Arrow
    start: float = 0.0  # x of the writer's port
    end: float = 0.0  # x of the reader's port
    lane: int = 0
    label_x: float = 0.0  # the label's centre: over the arrow, kept inside the figure


def _label_width(text: str) -> float:
    """About how wide ``text`` is at :data:`LABEL_FONT` points, in inches."""
    return 0.56 * LABEL_FONT / 72 * len(text) + 0.12


def _route(arrows: Sequence[Arrow], x: dict[str, float], width: float) -> list[_Route]:
    """Ports on the boxes and lanes for ``arrows`` (forward above the boxes, feedback below).

    On each side of a box the ports are ordered so that an arrow's vertical leg does not cross
    the lane of a shorter arrow from the same box: arrows to the left first (the nearest
    leftmost), then arrows to the right (the farthest leftmost); a lane takes the arrows that
    do not overlap it, shortest first.
    """
    routes = [_Route(a) for a in arrows]
    sides: dict[tuple[str, bool], list[tuple[float, int, _Route, bool]]] = {}
    for r in routes:
        a = r.arrow
        dx = x[a.reader] - x[a.writer]
        # (ordering key, tie-break, route, is the writer's end)
        wkey = (1, -dx) if dx >= 0 else (0, -dx)
        rkey = (0, dx) if dx > 0 else (1, dx)
        sides.setdefault((a.writer, a.feedback), []).append((wkey, 0, r, True))
        sides.setdefault((a.reader, a.feedback), []).append((rkey, 1, r, False))
    for (stream, _), ports in sides.items():
        ports.sort(key=lambda p: (p[0], p[1]))
        n = len(ports)
        for k, (_, _, r, writer_end) in enumerate(ports):
            px = x[stream] - BOX_WIDTH / 2 + BOX_WIDTH * (k + 1) / (n + 1)
            if writer_end:
                r.start = px
            else:
                r.end = px
    for feedback in (False, True):
        mine = [r for r in routes if r.arrow.feedback == feedback]
        mine.sort(key=lambda r: (abs(r.end - r.start), r.start))
        lanes: list[list[tuple[float, float]]] = []
        for r in mine:
            half = _label_width(r.arrow.label) / 2
            r.label_x = min(max((r.start + r.end) / 2, half + 0.05), width - half - 0.05)
            mid = r.label_x
            span = (min(r.start, r.end, mid - half) - 0.05, max(r.start, r.end, mid + half) + 0.05)
            for k, taken in enumerate(lanes):
                if all(span[1] < lo or span[0] > hi for lo, hi in taken):
                    taken.append(span)
                    r.lane = k
                    break
            else:
                lanes.append([span])
                r.lane = len(lanes) - 1
    return routes


def plot_architecture(
    source: Any,
    *,
    title: str | None = None,
    show_keys: bool = True,
    **params: Any,
) -> Figure:
    """Draw the layers, streams, agent groups and data-flow edges of a model (see the module
    docs for what the diagram shows).

    Args:
        source: What :func:`resolve_model` takes: an env id, a model, layer specs or an env.
        title: The figure's title (default: names the env id, or the number of layers).
        show_keys: Label every arrow with the keys it carries.
        **params: Model parameters, when ``source`` is an env id.

    Returns:
        The figure. Each stream box is a patch with ``gid="stream:<name>"``, each arrow one
        with :attr:`Arrow.gid` and its label a text with ``gid="label:<writer>-><reader>"``
        (in an SVG, the elements' ids).

    Raises:
        ValueError: As :func:`resolve_model`.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path

    model = resolve_model(source, **params)
    arrows = architecture_arrows(model)
    x = {s.name: (i + 0.5) * COLUMN for i, s in enumerate(model.streams)}
    width = len(model.streams) * COLUMN
    routes = _route(arrows, x, width)
    above = 1 + max((r.lane for r in routes if not r.arrow.feedback), default=-1)
    below = 1 + max((r.lane for r in routes if r.arrow.feedback), default=-1)
    top = BOX_HEIGHT / 2 + 0.25 + above * LANE  # the highest lane, plus a margin
    bottom = -BOX_HEIGHT / 2 - 0.25 - below * LANE
    head, foot = 0.45, 0.45  # layer headers above, the legend below
    y0, y1 = bottom - foot, top + head
    title_room = 0.5
    fig = plt.figure(figsize=(width, y1 - y0 + title_room))
    ax = fig.add_axes((0.0, 0.0, 1.0, (y1 - y0) / (y1 - y0 + title_room)))
    ax.set_xlim(0, width)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")

    first = 0
    for i, layer in enumerate(model.layers):
        n = len(layer.streams)
        left, right = first * COLUMN + 0.05, (first + n) * COLUMN - 0.05
        ax.add_patch(
            FancyBboxPatch(
                (left, bottom + 0.05),
                right - left,
                top + head - 0.1 - bottom,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=LAYER_COLOURS[i % 2],
                edgecolor="#c8c8c8",
                zorder=0,
                gid=f"layer:{layer.name}",
            )
        )
        ax.text(
            (left + right) / 2,
            top + head / 2 - 0.05,
            layer_label(model, i),
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            gid=f"layer-label:{layer.name}",
        )
        first += n
    for stream in model.streams:
        group = isinstance(stream, AgentGroup)
        ax.add_patch(
            FancyBboxPatch(
                (x[stream.name] - BOX_WIDTH / 2, -BOX_HEIGHT / 2),
                BOX_WIDTH,
                BOX_HEIGHT,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=GROUP_COLOUR if group else STREAM_COLOUR,
                edgecolor="#8a5a00" if group else "#4a6a90",
                linewidth=1.2,
                zorder=3,
                gid=f"stream:{stream.name}",
            )
        )
        name, *rest = stream_label(stream).split("\n")
        ax.text(
            x[stream.name],
            0.12,
            name,
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
            zorder=4,
            gid=f"stream-name:{stream.name}",
        )
        ax.text(
            x[stream.name],
            0.08,
            "\n".join(rest),
            ha="center",
            va="top",
            fontsize=7,
            zorder=4,
            gid=f"stream-info:{stream.name}",
        )

    for r in routes:
        a = r.arrow
        sign = -1.0 if a.feedback else 1.0
        edge = sign * BOX_HEIGHT / 2
        lane_y = sign * (BOX_HEIGHT / 2 + 0.25 + r.lane * LANE)
        colour = FEEDBACK_COLOUR if a.feedback else FORWARD_COLOUR
        path = Path([(r.start, edge), (r.start, lane_y), (r.end, lane_y), (r.end, edge)])
        ax.add_patch(
            FancyArrowPatch(
                path=path,
                arrowstyle="-|>",
                mutation_scale=9,
                shrinkA=0,
                shrinkB=0,
                linestyle="--" if a.feedback else "-",
                linewidth=0.9,
                color=colour,
                zorder=2,
                gid=a.gid,
            )
        )
        if show_keys:
            ax.text(
                r.label_x,
                lane_y,
                a.label,
                ha="center",
                va="center",
                fontsize=LABEL_FONT,
                color=colour,
                zorder=5,
                gid=f"label:{a.writer}->{a.reader}",
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.9},
            )

    handles = [
        Patch(facecolor=GROUP_COLOUR, edgecolor="#8a5a00"),
        Patch(facecolor=STREAM_COLOUR, edgecolor="#4a6a90"),
        Line2D([], [], color=FORWARD_COLOUR),
        Line2D([], [], color=FEEDBACK_COLOUR, linestyle="--"),
    ]
    labels = [
        "agent group (role x agent slots)",
        "stream",
        "writer -> reader of a key written earlier in the tick",
        "writer -> reader of last tick's value",
    ]
    ax.legend(
        handles,
        labels,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        fontsize=7,
        frameon=False,
        ncol=4,
    )
    fig.suptitle(
        title or _default_title(source, model),
        fontsize=11,
        y=1 - 0.1 / fig.get_figheight(),
        va="top",
    )
    return fig


def _default_title(source: Any, model: Model) -> str:
    name = source if isinstance(source, str) else f"a model of {len(model.layers)} layers"
    return f"{name}: layers in tick order, their streams and the data flow between them"
