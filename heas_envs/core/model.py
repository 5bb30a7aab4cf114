"""Layers, the model that runs them, and the HEAS-style spec builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core.context import Context
from heas_envs.core.random import WorldRandom, world_seeds
from heas_envs.core.stream import AgentGroup, Stream

DECISION_MODES = ("tick", "layer")


@dataclass
class Layer:
    """An ordered list of streams run as one sub-step of a tick.

    Args:
        streams: The streams, run in order.
        period: Run on ticks ``0, period, 2 * period, ...`` only (a slow layer).
        name: A label for traces and diagrams; defaults to ``"L<index>"``.
    """

    streams: list[Stream]
    period: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        if int(self.period) < 1:
            raise ValueError(f"layer {self.name!r}: period must be >= 1, got {self.period!r}")
        self.period = int(self.period)

    def runs_on(self, tick: int) -> bool:
        """Whether this layer runs on ``tick``."""
        return tick % self.period == 0

    @property
    def groups(self) -> list[AgentGroup]:
        """The agent groups of this layer."""
        return [s for s in self.streams if isinstance(s, AgentGroup)]


@dataclass
class LayerTrace:
    """What one layer did in one tick: its metrics right after it ran."""

    tick: int
    layer: str
    streams: list[str]
    metrics: dict[str, Any]  # [B] arrays in the model; floats (world 0) in the env's trace


class Model:
    """Ordered layers of streams over one :class:`Context` of ``n_worlds`` worlds.

    A tick runs layer 1, then layer 2, ... (skipping slow layers off their period); each
    agent group applies its agents' actions at its own position, so a later layer sees what
    earlier layers did in the same tick.

    With ``decision="tick"`` one :meth:`advance` is one tick. With ``decision="layer"`` one
    :meth:`advance` runs from the current decision layer (a layer holding an agent group)
    up to the next one, so agents decide at every decision layer of a tick.

    Args:
        layers: The layers, in order.
        n_worlds: The number of independent worlds B stepped together.
        decision: ``"tick"`` or ``"layer"``.

    Raises:
        ValueError: Two streams write one key, a read is written by nobody, stream names
            repeat, or groups sharing a role disagree on their agents.
    """

    def __init__(self, layers: Sequence[Layer], n_worlds: int = 1, decision: str = "tick") -> None:
        if decision not in DECISION_MODES:
            raise ValueError(f"decision must be one of {DECISION_MODES}, got {decision!r}")
        if not layers:
            raise ValueError("a model needs at least one layer")
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not layer.name:
                layer.name = f"L{i + 1}"
        self.decision = decision
        self.ctx = Context(n_worlds)
        self.streams: list[Stream] = [s for layer in self.layers for s in layer.streams]
        self.groups: dict[str, list[AgentGroup]] = {}
        for s in self.streams:
            if isinstance(s, AgentGroup):
                self.groups.setdefault(s.role, []).append(s)
        self.writers = validate_data_flow(self.streams)
        self._validate_roles()
        self.cursor = 0  # index of the next layer to run within the tick
        self.trace: list[LayerTrace] = []
        self.record_trace = True
        #: Layer hooks (a :class:`~heas_envs.core.callbacks.Callback`, or anything with
        #: ``on_layer_start(model, index, layer)`` / ``on_layer_end``): called around every
        #: layer run; ``None`` (the default) calls nothing. A vector env sets it.
        self.callback: Any = None
        self._seeded = False

    # -- construction checks ----------------------------------------------------------------
    def _validate_roles(self) -> None:
        for role, groups in self.groups.items():
            first = groups[0]
            for other in groups[1:]:
                if other.n_agents != first.n_agents or (
                    other.observation_space != first.observation_space
                    or other.action_space != first.action_space
                ):
                    raise ValueError(
                        f"agent groups {first.name!r} and {other.name!r} share role {role!r} "
                        "but differ in n_agents or spaces; groups of one role are the same agents"
                    )

    @property
    def n_worlds(self) -> int:
        """The number of worlds B."""
        return self.ctx.n_worlds

    @property
    def rng(self) -> WorldRandom:
        """The model's random streams, one generator per world."""
        return self.ctx.rng

    # -- running ------------------------------------------------------------------------------
    def reset(
        self, seed: int | Sequence[int] | None = None, *, rng: WorldRandom | None = None
    ) -> None:
        """Start an episode in every world.

        Args:
            seed: One seed per world, or one integer (world 0 takes it, the others seeds
                derived from it: :func:`~heas_envs.core.random.world_seeds`); a seed re-creates
                the worlds' generators, ``None`` continues their streams (fresh entropy on the
                first reset).
            rng: The worlds' generators to continue instead (a world moving between batches
                takes its own stream with it); give ``seed`` or ``rng``, not both.
        """
        if rng is not None:
            if seed is not None or rng.n_worlds != self.n_worlds:
                raise ValueError(
                    f"give seed or rng (of {self.n_worlds} worlds), not both; got seed={seed!r} "
                    f"and an rng of {rng.n_worlds} worlds"
                )
            self.ctx.rng = rng
        elif seed is not None or not self._seeded:
            self.ctx.rng = WorldRandom(world_seeds(seed, self.n_worlds))
        self._seeded = True
        self.ctx.data.clear()
        self.ctx.tick = 0
        self.ctx.layer = 0
        self.ctx.tick_completed = False
        self.cursor = 0
        self.trace = []
        for s in self.streams:
            s.reset(self.ctx)
        missing = [key for key in self.writers if key not in self.ctx.data]
        if missing:
            raise RuntimeError(
                f"after reset the context lacks declared keys {missing}: each stream must write "
                "the initial value of every key it declares in reset()"
            )
        if self.decision == "layer":
            self._skip_to_decision()

    def advance(self, actions: Mapping[str, np.ndarray], final_tick: bool = False) -> bool:
        """Run one env step: a tick, or (``decision="layer"``) up to the next decision layer.

        Args:
            actions: Per role, the actions of all its slots, ``[B, n_agents, *act_shape]``.
                Roles whose groups do not run in this step may be omitted.
            final_tick: With ``decision="layer"``, stop at the end of this tick instead of
                running on to the next tick's first decision layer (the episode ends there).

        Returns:
            Whether this step completed a tick.
        """
        self.trace = []
        self.ctx.tick_completed = False
        if self.decision == "tick":
            self._run_layers(range(len(self.layers)), actions)
            self._end_tick()
            return True
        self._run_layers([self.cursor], actions)
        self.cursor += 1
        while self.cursor < len(self.layers) and not self._is_decision_layer(self.cursor):
            self._run_layers([self.cursor], {})
            self.cursor += 1
        if self.cursor < len(self.layers):
            self.ctx.layer = self.cursor
            return False
        self._end_tick()
        if not final_tick:
            self._skip_to_decision()
        return True

    def _run_layers(self, indices: Any, actions: Mapping[str, np.ndarray]) -> None:
        ctx = self.ctx
        tick = ctx.tick
        cb = self.callback
        for i in indices:
            layer = self.layers[i]
            if not layer.runs_on(tick):
                continue
            ctx.layer = i
            if cb is not None:
                cb.on_layer_start(self, i, layer)
            for s in layer.streams:
                if tick % s.period:
                    continue
                if isinstance(s, AgentGroup):
                    if s.role not in actions:
                        raise ValueError(
                            f"no actions given for role {s.role!r}, whose group {s.name!r} "
                            f"acts in layer {layer.name!r}"
                        )
                    s.apply(actions[s.role], ctx)
                else:
                    s.step(ctx)
            if self.record_trace:
                metrics: dict[str, Any] = {}
                for s in layer.streams:
                    for k, v in s.metrics_step(ctx).items():
                        metrics[f"{s.name}.{k}"] = v
                self.trace.append(
                    LayerTrace(tick, layer.name, [s.name for s in layer.streams], metrics)
                )
            if cb is not None:
                cb.on_layer_end(self, i, layer)

    def _end_tick(self) -> None:
        self.ctx.tick_completed = True
        self.ctx.tick += 1
        self.cursor = 0
        self.ctx.layer = 0

    def _is_decision_layer(self, i: int) -> bool:
        layer = self.layers[i]
        tick = self.ctx.tick
        return layer.runs_on(tick) and any(tick % g.period == 0 for g in layer.groups)

    def _skip_to_decision(self) -> None:
        """Run non-decision layers until the cursor is at a decision layer."""
        if not any(layer.groups for layer in self.layers):
            raise ValueError('decision="layer" needs at least one layer with an agent group')
        while not self._is_decision_layer(self.cursor):
            self._run_layers([self.cursor], {})
            self.cursor += 1
            if self.cursor == len(self.layers):
                self._end_tick()
        self.ctx.layer = self.cursor

    def active_roles(self) -> set[str]:
        """Roles whose groups act in the next :meth:`advance`."""
        tick = self.ctx.tick
        indices = range(len(self.layers)) if self.decision == "tick" else [self.cursor]
        return {
            g.role
            for i in indices
            if self.layers[i].runs_on(tick)
            for g in self.layers[i].groups
            if tick % g.period == 0
        }

    def observing_group(self, role: str) -> AgentGroup:
        """The group of ``role`` that acts next (it produces the role's observation)."""
        groups = self.groups[role]
        if len(groups) == 1:
            return groups[0]
        n, tick = len(self.layers), self.ctx.tick
        for step in range(n * max(self.layers[i].period for i in range(n)) * 2):
            i, layer_tick = (self.cursor + step) % n, tick + (self.cursor + step) // n
            layer = self.layers[i]
            if not layer.runs_on(layer_tick):
                continue
            for g in layer.groups:
                if g.role == role and layer_tick % g.period == 0:
                    return g
        return groups[0]

    def metrics_step(self) -> dict[str, np.ndarray]:
        """The per-tick metrics of every stream, keyed ``"<stream>.<metric>"``."""
        return {
            f"{s.name}.{k}": v for s in self.streams for k, v in s.metrics_step(self.ctx).items()
        }

    def metrics_episode(self) -> dict[str, np.ndarray]:
        """The end-of-episode metrics of every stream, keyed ``"<stream>.<metric>"``."""
        return {
            f"{s.name}.{k}": v for s in self.streams for k, v in s.metrics_episode(self.ctx).items()
        }


def validate_data_flow(streams: Sequence[Stream]) -> dict[str, str]:
    """Check the declared reads and writes of ``streams``; return ``{key: writer name}``.

    Raises:
        ValueError: Two streams share a name or write one key, or a read has no writer.
    """
    writers: dict[str, str] = {}
    names: set[str] = set()
    for s in streams:
        if s.name in names:
            raise ValueError(
                f"two streams are named {s.name!r}: two writers of the keys {s.name!r}.*; "
                "give every stream its own name"
            )
        names.add(s.name)
        for w in s.writes:
            key = s.key(w)
            if key in writers:
                raise ValueError(f"key {key!r} has two writers: {writers[key]!r} and {s.name!r}")
            writers[key] = s.name
    for s in streams:
        for r in s.reads:
            if r not in writers:
                raise ValueError(
                    f"stream {s.name!r} reads {r!r}, which no stream writes; "
                    f"written keys: {sorted(writers)}"
                )
    return writers


def data_flow_edges(streams: Sequence[Stream]) -> list[tuple[str, str, str]]:
    """The edges ``(writer, reader, key)`` of the declared data flow."""
    writers = validate_data_flow(streams)
    return [(writers[r], s.name, r) for s in streams for r in s.reads]


# -- HEAS-style specs --------------------------------------------------------------------------
@dataclass
class StreamSpec:
    """How to build one stream: ``cls(name, **params)``.

    Args:
        name: The stream's name.
        cls: A :class:`Stream` subclass.
        params: Keyword arguments for ``cls``.
    """

    name: str
    cls: Callable[..., Stream]
    params: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Stream:
        """Instantiate the stream."""
        stream = self.cls(self.name, **self.params)
        if not isinstance(stream, Stream):
            raise TypeError(f"StreamSpec {self.name!r}: {self.cls!r} did not build a Stream")
        return stream


@dataclass
class LayerSpec:
    """How to build one layer.

    Args:
        streams: The stream specs, in order.
        period: Run the layer on every ``period``-th tick only.
        name: A label; defaults to ``"L<index>"``.
    """

    streams: list[StreamSpec]
    period: int = 1
    name: str = ""


def make_model(spec: Sequence[LayerSpec], n_worlds: int = 1, decision: str = "tick") -> Model:
    """Build a :class:`Model` from layer specs, validating the declared data flow.

    Args:
        spec: The layer specs, in order.
        n_worlds: The number of independent worlds stepped together.
        decision: ``"tick"`` (one env step per tick) or ``"layer"``.
    """
    layers = [Layer([s.build() for s in ls.streams], ls.period, ls.name) for ls in spec]
    return Model(layers, n_worlds=n_worlds, decision=decision)


#: The name HEAS users know.
make_model_from_spec = make_model


# -- copying worlds ------------------------------------------------------------------------------
#: Objects whose insides are not searched for per-world arrays (immutable or not state).
_NOT_WALKED = (Context, Stream, WorldRandom, np.random.Generator)
_MAX_DEPTH = 6


def private_arrays(model: Model) -> list[tuple[tuple, np.ndarray, tuple | None]]:
    """Every array a stream of ``model`` keeps outside the context, with where it lies.

    Attributes of each stream are searched, and inside them dicts, lists, tuples and plain
    objects (a grid, a config), down to a few levels; spaces and generators are skipped.

    Returns:
        ``(path, array, holder)`` triples: ``path`` is ``(stream name, attribute, key or
        index, ...)``; ``holder`` is the innermost dict entry ``(dict, key)`` or list
        ``(list, None)`` holding the array (``None`` for an array held directly by the
        stream or an object).
    """
    out: list[tuple[tuple, np.ndarray, tuple | None]] = []
    for s in model.streams:
        for name, value in vars(s).items():
            if isinstance(value, spaces.Space):
                continue
            _walk(value, (s.name, name), None, 0, out)
    return out


def _walk(value: Any, path: tuple, holder: tuple | None, depth: int, out: list) -> None:
    if isinstance(value, np.ndarray):
        out.append((path, value, holder))
        return
    if depth >= _MAX_DEPTH or isinstance(value, (str, bytes, int, float, spaces.Space)):
        return
    if isinstance(value, dict):
        for k, v in list(value.items()):
            _walk(v, (*path, k), (value, k), depth + 1, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, (*path, i), (value, None), depth + 1, out)
    elif isinstance(value, tuple):
        for i, v in enumerate(value):
            _walk(v, (*path, i), holder, depth + 1, out)
    elif not isinstance(value, _NOT_WALKED) and not callable(value):
        fields = getattr(value, "__dict__", None)
        if fields is None:
            slots = getattr(type(value), "__slots__", ())
            fields = {k: getattr(value, k) for k in slots if hasattr(value, k)}
        for k, v in fields.items():
            _walk(v, (*path, k), holder, depth + 1, out)


def world_axis(shape: tuple[int, ...], probe_shape: tuple[int, ...] | None, n: int) -> int | None:
    """The world axis of a private array of shape ``shape`` in a model of ``n`` worlds whose
    counterpart in a model of ``n + 1`` worlds has ``probe_shape``: the one axis that grows from
    ``n`` to ``n + 1`` (all others equal). ``-1``: the same shape (state shared by the worlds,
    such as a neighbour table); ``None``: neither (no counterpart, or another shape)."""
    if probe_shape is None or len(probe_shape) != len(shape):
        return None
    if tuple(probe_shape) == tuple(shape):
        return -1
    grown = [i for i, (a, b) in enumerate(zip(shape, probe_shape)) if a != b]
    if len(grown) == 1 and shape[grown[0]] == n and probe_shape[grown[0]] == n + 1:
        return grown[0]
    return None


def copy_worlds(
    model: Model,
    src: np.ndarray,
    dst: np.ndarray,
    probe: Mapping[tuple, tuple[int, ...]],
    *,
    into: Model | None = None,
    into_probe: Mapping[tuple, tuple[int, ...]] | None = None,
    generators: bool = True,
) -> None:
    """Make worlds ``dst`` of ``into`` (default: ``model`` itself) exact copies of worlds
    ``src`` of ``model`` (row indices, same length; ``src`` is read before ``dst`` is written,
    so within one model they may overlap).

    What is copied, each in one fancy-indexed assignment:

    - every context array, on its leading (world) axis;
    - each world's generator state (``bit_generator.state``), unless ``generators`` is false
      (the destination worlds then keep drawing from their own generators);
    - every private array of a stream (:func:`private_arrays`) on its world axis, found by
      comparing with ``probe``, the private array shapes of a model of ``n_worlds + 1``
      worlds (:func:`private_array_shapes`): the axis that grows with the worlds;
    - private arrays without such an axis are either state shared by the worlds (the same
      shape in the probe: left as they are within a model, copied whole into another model)
      or caches that the stream rebuilds on demand (no counterpart or another shape, held in
      a dict entry or a list: the destination's entry is deleted, or its list emptied).

    Within one model the worlds share the tick, layer and cursor (one cohort), so those are
    not copied. Into another model (``into``: a model built by the same function for any
    number of worlds, reset at least once, with ``into_probe`` its probe) they are, with the
    streams' scalar attributes (counters that all worlds of a model share, such as the ticks
    a stream has seen; those that hold the number of worlds, listed in the probe under
    :data:`SIZED`, are left alone), so every
    row of ``into`` should be a destination: rows that are not keep their state under the
    source's clock. Before copying, the source streams' lazy per-tick metrics are computed
    (``metrics_step``), so that no lazily kept per-world cache survives.

    Raises:
        ValueError: A context array without a leading world axis, a private array held
            directly by a stream that has no world axis and is not shared (the model cannot
            be copied exactly by this rule), or an ``into`` model with other streams.
    """
    target = model if into is None else into
    n, m = model.n_worlds, target.n_worlds
    src, dst = np.asarray(src, dtype=np.intp), np.asarray(dst, dtype=np.intp)
    model.metrics_step()  # resolve lazy metrics (caches of the last step's per-world work)
    for key, a in model.ctx.data.items():
        if np.ndim(a) == 0 or np.shape(a)[0] != n:
            raise ValueError(
                f"context key {key!r} has shape {np.shape(a)}, not a leading axis of {n} worlds"
            )
    source, drops = _copy_plan(model, probe)
    if target is model:
        plan = [(arr, arr, axis) for arr, axis in source.values() if axis >= 0]
    else:
        if [type(s).__name__ + s.name for s in target.streams] != [
            type(s).__name__ + s.name for s in model.streams
        ]:
            raise ValueError("copy_worlds into another model needs a model of the same streams")
        found, drops = _copy_plan(target, into_probe or {})
        plan = [
            (arr, found[path][0], axis)
            for path, (arr, axis) in source.items()
            if path in found and (axis == -1) == (found[path][1] == -1)
        ]
    data = target.ctx.data
    for key, a in model.ctx.data.items():
        held = data.get(key) if target is not model else a
        if held is None or held.shape[1:] != a.shape[1:] or held.shape[0] != m:
            data[key] = held = np.zeros((m, *a.shape[1:]), dtype=a.dtype)
        held[dst] = a[src]
    for arr, out, axis in plan:
        if axis < 0:
            out[...] = arr  # shared by the worlds: the same in both models
            continue
        lead = (slice(None),) * axis
        out[(*lead, dst)] = arr[(*lead, src)]
    if generators:
        gens = model.ctx.rng.generators
        states = [gens[i].bit_generator.state for i in src.tolist()]
        out_gens = target.ctx.rng.generators
        for j, state in zip(dst.tolist(), states):
            out_gens[j].bit_generator.state = state
    for container, key in drops.values():
        if isinstance(container, dict):
            container.pop(key, None)
        else:
            container.clear()
    if target is not model:
        _copy_scalars(model, target, (into_probe or {}).get(SIZED))
        ctx, out_ctx = model.ctx, target.ctx
        out_ctx.tick, out_ctx.layer = ctx.tick, ctx.layer
        out_ctx.tick_completed = ctx.tick_completed
        target.cursor, target.trace = model.cursor, []


#: The probe's entry listing the streams' scalar attributes that hold the number of worlds.
SIZED = ("__sized_scalars__",)


def sized_scalars(model: Model) -> tuple[tuple[str, str], ...]:
    """``(stream, attribute)`` of the scalar attributes of a freshly built ``model`` that equal
    its number of worlds (they follow the size, so a copy between models leaves them)."""
    n = model.n_worlds
    return tuple(
        (s.name, key)
        for s in model.streams
        for key, value in vars(s).items()
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value == n
    )


def _copy_scalars(model: Model, target: Model, sized: Any) -> None:
    """Copy the streams' scalar attributes (counters such as the ticks a stream has seen,
    which all worlds of a model share) from ``model`` to ``target``, but those in ``sized``."""
    skip = set(sized or ())
    for s, t in zip(model.streams, target.streams):
        mine = vars(t)
        for key, value in vars(s).items():
            if not isinstance(value, bool | int | float | np.generic) or key not in mine:
                continue
            if (s.name, key) not in skip:
                mine[key] = value


def _copy_plan(
    model: Model, probe: Mapping[tuple, Any]
) -> tuple[dict[tuple, tuple[np.ndarray, int]], dict[tuple, tuple]]:
    """One pass over the private arrays of ``model``: ``{path: (array, world axis or -1 if
    shared)}`` of those :func:`copy_worlds` copies, and the dict entries and lists holding
    per-world caches (no world axis, not shared), which a copy drops; raises for an array it
    cannot copy."""
    n = model.n_worlds
    arrays: dict[tuple, tuple[np.ndarray, int]] = {}
    caches: dict[tuple, tuple] = {}
    for path, arr, holder in private_arrays(model):
        axis = world_axis(arr.shape, probe.get(path), n)
        if axis is not None:
            arrays[path] = (arr, axis)
        elif holder is None:
            raise ValueError(
                f"cannot copy worlds: private array {'.'.join(map(str, path))} of shape "
                f"{arr.shape} has no world axis and is not shared by the worlds; keep "
                "per-world state in arrays with one world axis (or in the context)"
            )
        else:
            caches[(id(holder[0]), holder[1])] = holder
    return arrays, caches


def private_array_shapes(model: Model) -> dict[tuple, Any]:
    """``{path: shape}`` of the private arrays of ``model`` (:func:`private_arrays`): the probe
    for :func:`copy_worlds`, from a model of one world more, reset and stepped once."""
    return {path: arr.shape for path, arr, _ in private_arrays(model)}
