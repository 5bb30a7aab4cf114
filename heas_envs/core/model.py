"""Layers, the model that runs them, and the HEAS-style spec builder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
        for i in indices:
            layer = self.layers[i]
            if not layer.runs_on(tick):
                continue
            ctx.layer = i
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
