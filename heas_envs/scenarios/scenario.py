"""Scenario: what is played, as data that round-trips through JSON, and grids of them."""

from __future__ import annotations

import itertools
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from heas_envs.core.params import show_value
from heas_envs.registration import env_params_class, env_spec, make_parallel, make_vec
from heas_envs.scenarios.policies import resolve_pool
from heas_envs.scenarios.wrappers import (
    BackgroundPopulation,
    WrapperSpec,
    apply_wrappers,
)
from heas_envs.scenarios.wrappers.base import check_slots, check_slots_in, group_of

_FIELDS = ("name", "env_id", "params", "wrappers", "focal", "background")


@dataclass(frozen=True)
class Focal:
    """The focal agents of a scenario: those a participant controls.

    Args:
        role: Their role.
        slots: Their slot indices in the role (default ``None``: every slot of the role).

    Raises:
        ValueError: An empty role name, or slots that are not distinct indices >= 0.
    """

    role: str
    slots: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not self.role:
            raise ValueError(f"the focal role must be a role name, got {show_value(self.role)}")
        slots = check_slots("focal slots", self.slots)
        object.__setattr__(self, "slots", None if slots is None else tuple(slots))

    @classmethod
    def coerce(cls, value: Any) -> Focal:
        """``value`` as a :class:`Focal`: one, a role name, or ``{"role": ..., "slots": ...}``.

        Raises:
            ValueError: Anything else.
        """
        if isinstance(value, Focal):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping) and "role" in value:
            unknown = sorted(set(value) - {"role", "slots"})
            if unknown:
                raise ValueError(f"unknown focal keys {unknown}; valid keys: ['role', 'slots']")
            return cls(value["role"], value.get("slots"))
        raise ValueError(
            'focal is a role name or {"role": <role>, "slots": [<index>, ...] or null}, got '
            f"{show_value(value)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"role": ..., "slots": [...] or None}``."""
        return {"role": self.role, "slots": None if self.slots is None else list(self.slots)}

    def agents(self, env: Any) -> list[str]:
        """The focal agent ids in ``env`` (a parallel env or a scenario wrapper of one).

        Raises:
            ValueError: The role is not a role of ``env``, or a slot is not one of its slots.
        """
        n = group_of(env, "focal", self.role).n_agents
        check_slots_in(env, "focal", self.role, list(self.slots or ()))
        return [f"{self.role}_{i}" for i in (self.slots if self.slots is not None else range(n))]


@dataclass(frozen=True)
class Scenario:
    """One scenario: an env, its parameters, wrappers, focal agents and background policy.

    A scenario is data: it validates what it can at construction and round-trips exactly
    through :meth:`to_dict` / :meth:`from_dict` and :meth:`to_json` / :meth:`from_json`, so a
    result row can say exactly what was played. ``dataclasses.replace(s, name=...)`` makes a
    variant.

    Example:
        >>> s = Scenario("calm", "heas_envs/Market-v0", {"volatility": 0.005},
        ...              wrappers=[("NoisyObservations", {"scale": 0.1, "roles": ["trader"]})])
        >>> Scenario.from_json(s.to_json()) == s
        True
        >>> env = s.make_env()  # the parallel env with the params, then the wrappers

    Args:
        name: A name for tables and plots.
        env_id: A registered env id (see :func:`heas_envs.list_envs`).
        params: Parameter overrides, validated against the env's declaration (see
            ``heas-envs params ID``); stored in declaration order.
        wrappers: Wrapper specs, applied in order (the first innermost): each a
            :class:`~heas_envs.scenarios.wrappers.WrapperSpec`, a mapping
            ``{"name": ..., "args": {...}}`` or a ``(name, args)`` pair.
        focal: The focal agents: a :class:`Focal`, a role name or ``{"role", "slots"}``
            (default: every agent of the env's registered focal role).
        background: What drives the other agents: a policy name (``"heuristic"``,
            ``"random"``, ``"zeros"``, or one registered) or a pool name (one policy drawn
            per episode; :mod:`heas_envs.scenarios.policies`).

    Raises:
        ValueError: An empty name, an unknown env id, parameter, wrapper or wrapper argument,
            background policy or pool (each message lists the valid ones), or a bad value.
    """

    name: str
    env_id: str
    params: dict[str, Any] = field(default_factory=dict)
    wrappers: tuple[WrapperSpec, ...] = ()
    focal: Focal | None = None
    background: str = "heuristic"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a scenario name must be a non-empty string, got {self.name!r}")
        spec = env_spec(self.env_id)
        if not isinstance(self.params, Mapping):
            raise ValueError(
                f"params must be a mapping from parameter name to value, got "
                f"{show_value(self.params)}"
            )
        declared = env_params_class(self.env_id)
        checked = declared.from_kwargs(dict(self.params), env_id=self.env_id)
        params = {n: getattr(checked, n) for n in declared.names() if n in self.params}
        object.__setattr__(self, "params", params)
        if isinstance(self.wrappers, (str, Mapping)) or not isinstance(self.wrappers, Sequence):
            raise ValueError(f"wrappers must be a list of wrapper specs, got {self.wrappers!r}")
        wrappers = tuple(WrapperSpec.coerce(w) for w in self.wrappers)
        for w in wrappers:
            if w.name == "OverrideParams":  # its names and values, against the declaration
                declared.from_kwargs({**params, **w.args["params"]}, env_id=self.env_id)
        object.__setattr__(self, "wrappers", wrappers)
        focal = Focal(spec.focal_role) if self.focal is None else Focal.coerce(self.focal)
        object.__setattr__(self, "focal", focal)
        if not isinstance(self.background, str):
            raise ValueError(
                f"background must be a policy or pool name, got {show_value(self.background)}"
            )
        resolve_pool(self.background)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    # -- data -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-ready data (``from_dict`` of it equals the scenario)."""
        assert self.focal is not None
        return {
            "name": self.name,
            "env_id": self.env_id,
            "params": dict(self.params),
            "wrappers": [w.to_dict() for w in self.wrappers],
            "focal": self.focal.to_dict(),
            "background": self.background,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """The scenario of :meth:`to_dict`'s data (``params``, ``wrappers``, ``focal`` and
        ``background`` may be left out).

        Raises:
            ValueError: Not a mapping, unknown or missing keys, or an invalid scenario.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a scenario is a mapping of {list(_FIELDS)}, got {show_value(data)}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown scenario keys {unknown}; valid keys: {list(_FIELDS)}")
        missing = [k for k in ("name", "env_id") if k not in data]
        if missing:
            raise ValueError(f"a scenario needs {missing}; keys: {list(_FIELDS)}")
        return cls(**dict(data))

    def to_json(self, **kwargs: Any) -> str:
        """The scenario as JSON text (``kwargs`` go to ``json.dumps``, e.g. ``indent=2``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        """The scenario of :meth:`to_json`'s text.

        Raises:
            ValueError: Text that is not JSON, or an invalid scenario.
        """
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"a scenario's JSON text could not be read: {err}") from None
        return cls.from_dict(data)

    # -- envs -----------------------------------------------------------------------------------
    def make_env(self, render_mode: str | None = None) -> Any:
        """The parallel env with :attr:`params`, wrapped by :attr:`wrappers` in order (every
        agent is exposed; see :meth:`make_focal_env` for the focal agents alone).

        Raises:
            ValueError: A wrapper's arguments do not fit the env (an unknown role, context key
                or metric), or the focal agents are not agents of the env.
        """
        env = make_parallel(self.env_id, render_mode=render_mode, **self.params)
        env = apply_wrappers(env, self.wrappers)
        self.focal_agents(env)
        return env

    def make_focal_env(self, render_mode: str | None = None) -> Any:
        """:meth:`make_env` with every non-focal agent driven by :attr:`background` (one
        :class:`~heas_envs.scenarios.wrappers.BackgroundPopulation` per role that has
        non-focal agents): the env whose agents are the focal agents, as a participant plays
        it."""
        env = self.make_env(render_mode=render_mode)
        focal = self.focal
        assert focal is not None
        for role in env.unwrapped.roles:
            slots = None
            if role == focal.role:
                n = env.unwrapped.group(role).n_agents
                slots = [i for i in range(n) if i not in (focal.slots or range(n))]
                if not slots:
                    continue
            env = BackgroundPopulation(env, role, pool=self.background, slots=slots)
        return env

    def make_vec(self, num_worlds: int, **vec_kwargs: Any) -> Any:
        """``num_worlds`` batched worlds with :attr:`params`, wrapped by the batched versions
        of :attr:`wrappers` (see :func:`heas_envs.make_vec`; ``vec_kwargs``: ``autoreset``,
        ``record_trace``, ``focal``).

        Raises:
            NotImplementedError: A wrapper without a batched version (``DelayActions``,
                ``BackgroundPopulation``).
        """
        venv = make_vec(self.env_id, num_worlds, **vec_kwargs, **self.params)
        return apply_wrappers(venv, self.wrappers)

    def focal_agents(self, env: Any | None = None) -> list[str]:
        """The focal agent ids, in ``env`` (default: a fresh :meth:`make_env`)."""
        assert self.focal is not None
        return self.focal.agents(env if env is not None else self.make_env())


def make_grid(
    env_id: str,
    param_lists: Mapping[str, Sequence[Any]],
    base: Mapping[str, Any] | None = None,
    **fields: Any,
) -> list[Scenario]:
    """The scenarios of every combination of ``param_lists`` (the cross product).

    Scenarios come in ``itertools.product`` order (the first parameter varies slowest) and
    are named by their grid values in the order of ``param_lists``, e.g.
    ``"volatility=0.02,regulator=False"`` (floats as Python writes them, strings bare).

    Args:
        env_id: A registered env id.
        param_lists: Values by parameter name, each a non-empty list of distinct values.
        base: Parameters shared by every scenario (not in ``param_lists``).
        **fields: Other :class:`Scenario` fields shared by every scenario (``wrappers``,
            ``focal``, ``background``).

    Raises:
        ValueError: An empty grid or list, a value repeated in a list, a parameter both in
            ``base`` and the grid, ``name`` in ``fields``, or an invalid scenario (an unknown
            parameter lists the valid ones).
    """
    if not isinstance(param_lists, Mapping) or not param_lists:
        raise ValueError(
            f"param_lists must be a non-empty mapping from parameter name to a list of values, "
            f"got {show_value(param_lists)}"
        )
    for name, values in param_lists.items():
        if isinstance(values, (str, Mapping)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"the grid values of {name!r} must be a non-empty list, got {values!r}"
            )
        labels = [_label(v) for v in values]
        if len(set(labels)) != len(labels):
            raise ValueError(f"the grid values of {name!r} repeat a value: {list(values)}")
    base = dict(base or {})
    both = sorted(set(base) & set(param_lists))
    if both:
        raise ValueError(f"parameters {both} are both in base and in the grid; give them once")
    if "name" in fields:
        raise ValueError("make_grid names its scenarios by their grid values; leave out name")
    unknown = sorted(set(fields) - set(_FIELDS[3:]))
    if unknown:
        raise ValueError(f"unknown scenario fields {unknown}; shared fields: {list(_FIELDS[3:])}")
    names = list(param_lists)
    out = []
    for combo in itertools.product(*param_lists.values()):
        label = ",".join(f"{n}={_label(v)}" for n, v in zip(names, combo))
        out.append(Scenario(label, env_id, {**base, **dict(zip(names, combo))}, **fields))
    return out


def _label(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return str(value)
