"""ShockSchedule: exogenous shocks to context values at given ticks."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heas_envs.core.context import Context
from heas_envs.core.model import Model
from heas_envs.core.params import show_value
from heas_envs.core.stream import Stream
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    VectorScenarioWrapper,
    engine_of,
    json_value,
    probe_model,
    reapply_chain,
    rebuild_engine,
)

#: What a shock does to the value: replace it, add to it, or multiply it.
SHOCK_OPS = ("set", "add", "multiply")
_SHOCK_KEYS = ("tick", "key", "op", "value")


class ShockSchedule(ScenarioWrapper):
    """Exogenous shocks: at tick ``t``, set, add to or multiply a context value ``ctx[key]``.

    A shock ``{"tick": t, "key": "price.price", "op": "set", "value": 50.0}`` is applied
    during tick ``t`` (the ``t + 1``-th tick of the episode, ``env.tick == t`` before its step)
    right after the stream that writes ``key`` has run. So every stream that reads ``key``
    later in tick ``t``, the observations and rewards of that step, and later ticks see the
    shocked value; before tick ``t`` nothing differs from the unwrapped env. A value that its
    writer recomputes every tick (``climate.value``) is shocked for that tick only; a stock
    (a price, a population, a habitat quality) carries the shock on through the dynamics.
    Values already derived from the old one in that tick (a return computed from the price)
    are not recomputed. The keys are those of ``env.model.ctx`` (``"<stream>.<name>"``, every
    value ``[B, ...]``); ``value`` is a number or a nested list broadcast to one world's shape
    of the key, and every world gets the same shock. Shocks at one tick apply in list order.

    The shocks run as streams inserted into the model's layers, after each writer (and after
    shock streams already there); they change nothing else, draw no random numbers and show
    in the sub-step trace as ``shock_after_<writer>``. Over a single env they are installed
    in the wrapped env's own model.

    Batched worlds: supported. Over a :class:`~heas_envs.env.VectorWorldsEnv` the worlds are
    built again with the shock streams in every model (every cohort), so world ``b`` follows
    the single env reset with its seed.

    Example:
        >>> crash = {"tick": 50, "key": "price.price", "op": "multiply", "value": 0.5}
        >>> env = ShockSchedule(heas_envs.make_parallel("heas_envs/Market-v0"), [crash])

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        shocks: Mappings with ``tick`` (an int >= 0, below ``max_steps``), ``key`` (a context
            key), ``value`` (a number or nested list) and ``op`` (``"set"`` (default),
            ``"add"`` or ``"multiply"``).

    Raises:
        ValueError: An empty or malformed list; an unknown key (the message lists the keys of
            the model's context); a tick the episode never reaches or on which the writer's
            layer does not run; a value that does not broadcast to the key's shape, or does not
            fit its type (a fraction for an integer key, anything but set for a bool key). The
            shapes are checked when the wrapper is built where the env can build a model to
            look at, else at the first reset.
    """

    def __init__(self, env: Any, shocks: Sequence[Mapping[str, Any]]) -> None:
        self.require_env(env)
        args = self.check_args(shocks)
        base = env.unwrapped
        check_schedule(base.model, base.max_steps, args["shocks"])
        probe = probe_model(env)
        if probe is not None:
            check_values(probe.ctx, args["shocks"])
        super().__init__(env, args)
        self._checked = probe is not None
        install_shocks(base.model, args["shocks"])

    @classmethod
    def check_args(cls, shocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``{"shocks": [...]}``, each shock complete (``op`` filled in) and JSON-ready."""
        if isinstance(shocks, (str, Mapping)) or not isinstance(shocks, Sequence) or not shocks:
            raise ValueError(
                'ShockSchedule takes a non-empty list of shocks {"tick": t, "key": "<stream>.'
                f'<name>", "value": v, "op": one of {list(SHOCK_OPS)}}}; got {show_value(shocks)}'
            )
        return {"shocks": [_check_shock(i, s) for i, s in enumerate(shocks)]}

    def _reset_hook(self, seed: int | None) -> None:
        if not self._checked:
            check_values(self.unwrapped.model.ctx, self._args["shocks"])
            self._checked = True


class ShockScheduleVector(VectorScenarioWrapper):
    """:class:`ShockSchedule` over batched worlds: the worlds built again with the shock
    streams in every model (the vector wrappers below applied again on them).

    Raises:
        ValueError: As :class:`ShockSchedule`, or the worlds were not built by
            :func:`heas_envs.make_vec`.
    """

    parallel_class = ShockSchedule

    def __init__(self, venv: Any, shocks: Sequence[Mapping[str, Any]]) -> None:
        args = ShockSchedule.check_args(shocks)
        single = engine_of(venv).single_env
        if single is not None:
            check_schedule(single.model, single.max_steps, args["shocks"])
            check_values(probe_model(single).ctx, args["shocks"])
        schedule = args["shocks"]

        def hook(model: Model) -> None:
            install_shocks(model, schedule)

        #: The hook that installs this schedule in every model of the worlds.
        self.model_hook = hook
        super().__init__(reapply_chain(venv, rebuild_engine(venv, hook=hook)), args)


ShockSchedule.vector_class = ShockScheduleVector


class ShockStream(Stream):
    """The shocks to the keys of one writer: applied when it has run in a scheduled tick."""

    def __init__(self, name: str, shocks: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(name)
        self.by_tick: dict[int, list[tuple[str, str, np.ndarray]]] = {}
        for s in shocks:
            entry = (s["key"], s["op"], np.asarray(s["value"]))
            self.by_tick.setdefault(s["tick"], []).append(entry)

    def step(self, ctx: Context) -> None:
        """Apply the shocks of ``ctx.tick`` (a new array per shocked key)."""
        for key, op, value in self.by_tick.get(ctx.tick, ()):
            old = ctx.data[key]
            if op == "set":
                new = np.broadcast_to(value, old.shape)
            elif op == "add":
                new = old + value
            else:
                new = old * value
            ctx.data[key] = np.array(new, dtype=old.dtype)


def install_shocks(model: Model, shocks: Sequence[Mapping[str, Any]]) -> None:
    """Insert one :class:`ShockStream` per writer of a shocked key into ``model``'s layers,
    right after the writer (and after shock streams already following it)."""
    by_writer: dict[str, list[Mapping[str, Any]]] = {}
    for s in shocks:
        by_writer.setdefault(model.writers[s["key"]], []).append(s)
    for writer, group in by_writer.items():
        layer, position = _locate(model, writer)
        j = position + 1
        while j < len(layer.streams) and isinstance(layer.streams[j], ShockStream):
            j += 1
        layer.streams.insert(j, ShockStream(f"shock_after_{writer}", group))


def check_schedule(model: Model, max_steps: int, shocks: Sequence[Mapping[str, Any]]) -> None:
    """Check the shocks' keys and ticks against ``model`` and the episode length.

    Raises:
        ValueError: A key no stream writes (listing the keys), a tick at or beyond
            ``max_steps``, or a tick on which the writer's layer does not run.
    """
    for i, s in enumerate(shocks):
        key, tick = s["key"], s["tick"]
        if key not in model.writers:
            raise ValueError(
                f"shock {i}: unknown context key {key!r}; the model's keys are "
                f"{sorted(model.writers)}"
            )
        if tick >= max_steps:
            raise ValueError(
                f"shock {i} at tick {tick} would never apply: episodes last max_steps = "
                f"{max_steps} ticks (0..{max_steps - 1})"
            )
        layer, _ = _locate(model, model.writers[key])
        if not layer.runs_on(tick):
            raise ValueError(
                f"shock {i} at tick {tick}: the writer of {key!r} runs in layer {layer.name!r}, "
                f"which runs every {layer.period} ticks; use a multiple of {layer.period}"
            )


def check_values(ctx: Context, shocks: Sequence[Mapping[str, Any]]) -> None:
    """Check that each shock's value fits its key's shape and type in ``ctx`` (after reset).

    Raises:
        ValueError: A key missing from ``ctx``, a value that does not broadcast to one world's
            shape of the key, a fraction for an integer key, or a bool key shocked other than
            by ``"set"`` to True/False (or 0/1).
    """
    for i, s in enumerate(shocks):
        key = s["key"]
        if key not in ctx:
            raise ValueError(f"shock {i}: the context has no key {key!r} after reset")
        old = np.asarray(ctx[key])
        value = np.asarray(s["value"])
        shape = old.shape[1:]
        try:
            np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(
                f"shock {i}: a value of shape {value.shape} does not fit {key!r}, whose value "
                f"has shape {shape} per world"
            ) from None
        kind = old.dtype.kind
        if kind == "b" and (s["op"] != "set" or not np.isin(value, (0, 1)).all()):
            raise ValueError(
                f"shock {i}: {key!r} holds booleans; shock it with op 'set' and True/False"
            )
        if kind in "iu" and not np.array_equal(value, np.round(value)):
            raise ValueError(
                f"shock {i}: {key!r} holds integers; give an integer value, got {s['value']!r}"
            )


def _check_shock(i: int, shock: Any) -> dict[str, Any]:
    if not isinstance(shock, Mapping):
        raise ValueError(
            f'shock {i} must be a mapping {{"tick": t, "key": k, "value": v, "op": o}}, got '
            f"{show_value(shock)}"
        )
    unknown = sorted(set(shock) - set(_SHOCK_KEYS))
    if unknown:
        raise ValueError(f"shock {i}: unknown fields {unknown}; valid fields: {list(_SHOCK_KEYS)}")
    missing = [k for k in ("tick", "key", "value") if k not in shock]
    if missing:
        raise ValueError(f"shock {i} lacks {missing}; a shock has {list(_SHOCK_KEYS)}")
    tick, key, op = shock["tick"], shock["key"], shock.get("op", "set")
    if isinstance(tick, bool) or not isinstance(tick, numbers.Integral) or tick < 0:
        raise ValueError(f"shock {i}: tick must be an integer >= 0, got {show_value(tick)}")
    if not isinstance(key, str) or "." not in key:
        raise ValueError(
            f"shock {i}: key must be a context key '<stream>.<name>', got {show_value(key)}"
        )
    if op not in SHOCK_OPS:
        raise ValueError(f"shock {i}: op must be one of {list(SHOCK_OPS)}, got {show_value(op)}")
    value = json_value(f"shock {i} value", shock["value"])
    flat = np.asarray(value, dtype=object).reshape(-1) if value is not None else [None]
    numeric = len(flat) > 0 and all(
        isinstance(v, (numbers.Real, bool)) and not isinstance(v, str) for v in flat
    )
    if not numeric or isinstance(value, Mapping):
        raise ValueError(
            f"shock {i}: value must be a number or a (nested) list of numbers, got "
            f"{show_value(shock['value'])}"
        )
    return {"tick": int(tick), "key": key, "op": op, "value": value}


def _locate(model: Model, stream_name: str) -> tuple[Any, int]:
    for layer in model.layers:
        for j, s in enumerate(layer.streams):
            if s.name == stream_name:
                return layer, j
    raise ValueError(f"no stream {stream_name!r} in the model")  # unreachable for model.writers
