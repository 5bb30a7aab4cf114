"""The base of the scenario wrappers: a spec that re-creates a wrapper, and the two adapters.

A scenario wrapper changes a model without editing it. Each one is a PettingZoo
``BaseParallelWrapper`` over a :class:`~heas_envs.env.HierarchicalParallelEnv` (or over other
scenario wrappers of one), and records its arguments: :meth:`ScenarioWrapper.spec` returns a
:class:`WrapperSpec` (name + JSON-ready arguments) from which
:func:`~heas_envs.scenarios.wrappers.apply_wrapper` builds the same wrapper again.

:class:`ScenarioWrapper` serves both APIs of the env with one set of hooks on per-role arrays
(``[n_agents, ...]``): the dict API (``reset`` / ``step``) converts to arrays and back, the
array API (``reset_arrays`` / ``step_arrays``) calls the hooks directly, so both give the same
numbers for the same seed. The batched env (:class:`~heas_envs.env.VectorWorldsEnv`) gets
:class:`VectorScenarioWrapper` subclasses where a wrapper's behaviour is cheap to batch; the
others raise ``NotImplementedError`` (see :func:`~heas_envs.scenarios.wrappers.apply_wrapper`).
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import numbers
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper

from heas_envs.core.model import Model
from heas_envs.core.params import show_value
from heas_envs.env.parallel import ArrayStep, HierarchicalParallelEnv
from heas_envs.env.vector import VectorWorldsEnv

__all__ = [
    "ScenarioWrapper",
    "VectorScenarioWrapper",
    "WrapperSpec",
    "engine_of",
    "json_value",
    "probe_model",
    "reapply_chain",
    "rebuild_engine",
    "seeded_generator",
    "zero_action",
]


# -- the spec ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrapperSpec:
    """A scenario wrapper as data: its registered name and its arguments.

    Building a spec validates what can be checked without an env (the name, the argument
    names, their types and ranges) and normalises the arguments to JSON values (tuples become
    lists, NumPy scalars Python numbers), so ``WrapperSpec.from_dict(spec.to_dict()) == spec``.

    Args:
        name: A name of :data:`~heas_envs.scenarios.wrappers.WRAPPERS` (the class name, e.g.
            ``"ShockSchedule"``).
        args: The wrapper's keyword arguments (without the env).

    Raises:
        ValueError: An unknown wrapper name or argument (the message lists the valid ones), a
            missing required argument or a bad value.
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from heas_envs.scenarios.wrappers.registry import wrapper_class

        cls = wrapper_class(self.name)
        if not isinstance(self.args, Mapping):
            raise ValueError(
                f"the arguments of wrapper {self.name!r} must be a mapping from argument name "
                f"to value, got {show_value(self.args)}"
            )
        object.__setattr__(self, "args", cls.check_spec_args(self.args))

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "args": {...}}`` (a copy; JSON-ready)."""
        return {"name": self.name, "args": copy.deepcopy(self.args)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WrapperSpec:
        """The spec of ``{"name": ..., "args": {...}}`` (``args`` may be left out).

        Raises:
            ValueError: ``data`` is not such a mapping, or the spec is invalid.
        """
        if not isinstance(data, Mapping) or "name" not in data:
            raise ValueError(
                'a wrapper spec is a mapping {"name": <wrapper name>, "args": {...}}, got '
                f"{show_value(data)}"
            )
        unknown = sorted(set(data) - {"name", "args"})
        if unknown:
            raise ValueError(f"unknown wrapper spec keys {unknown}; valid keys: ['args', 'name']")
        return cls(data["name"], dict(data.get("args") or {}))

    @classmethod
    def coerce(cls, value: Any) -> WrapperSpec:
        """``value`` as a spec: a :class:`WrapperSpec`, a mapping (:meth:`from_dict`) or a
        ``(name, args)`` pair.

        Raises:
            ValueError: Anything else, or an invalid spec.
        """
        if isinstance(value, WrapperSpec):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
            return cls(value[0], dict(value[1]))
        raise ValueError(
            'a wrapper is given as a WrapperSpec, a mapping {"name": ..., "args": {...}} or a '
            f"(name, args) pair; got {show_value(value)}"
        )


# -- shared helpers ----------------------------------------------------------------------------
def json_value(name: str, value: Any) -> Any:
    """``value`` as a JSON value (None, bool, int, finite float, str, lists and string-keyed
    mappings of these): tuples become lists, NumPy scalars and arrays Python values.

    Raises:
        ValueError: A value JSON cannot hold exactly (a NaN, an infinity, a function, ...),
            naming ``name``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return json_value(name, value.item())
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        out = float(value)
        if not math.isfinite(out):
            raise ValueError(f"{name} must be finite, got {show_value(value)}")
        return out
    if isinstance(value, np.ndarray):
        return json_value(name, value.tolist())
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ValueError(f"{name} must have string keys, got {show_value(value)}")
        return {k: json_value(f"{name}[{k!r}]", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(f"{name}[{i}]", v) for i, v in enumerate(value)]
    raise ValueError(
        f"{name} must be a JSON value (number, bool, string, None, list or mapping), got "
        f"{show_value(value)}"
    )


def seeded_generator(seed: int | None, salt: str) -> np.random.Generator:
    """A generator for a wrapper's own draws: seeded by the env's reset ``seed`` and ``salt``
    (the wrapper's kind and target), so that the same seed repeats the draws and they do not
    coincide with the model's own stream (which ``default_rng(seed)`` would). ``None``: fresh
    entropy."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(salt.encode())]))


def zero_action(space: spaces.Space) -> np.ndarray:
    """The zero action of ``space`` (float64): zeros clipped into a ``Box``, the first action
    of a ``Discrete``, zeros of a ``MultiDiscrete``."""
    if isinstance(space, spaces.Discrete):
        return np.asarray(float(space.start))
    if isinstance(space, spaces.MultiDiscrete):
        return np.zeros(space.nvec.shape)
    return np.clip(np.zeros(space.shape), space.low, space.high).astype(np.float64)


def action_shape(space: spaces.Space) -> tuple[int, ...]:
    """The shape of one action of ``space`` (``()`` for ``Discrete``)."""
    return () if isinstance(space, spaces.Discrete) else tuple(space.shape)


def probe_model(env: Any) -> Model | None:
    """A fresh one-world model with the parameters of ``env``'s base env, reset with seed 0
    (to check context keys and metric names before the env is reset), or ``None`` when the
    base env cannot build another model (it is not a
    :class:`~heas_envs.env.model_env.ModelEnv`)."""
    base = env.unwrapped
    build = getattr(base, "batched_model", None)
    if build is None:
        return None
    model = build(1)
    model.reset(seed=0)
    return model


def check_roles(what: str, roles: Any) -> list[str] | None:
    """``roles`` (``None`` or a non-empty list of distinct role names) as a list.

    Raises:
        ValueError: Anything else, naming ``what``.
    """
    if roles is None:
        return None
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, Sequence) or not roles or not all(isinstance(r, str) for r in roles):
        raise ValueError(
            f"{what} must be None (every role) or a non-empty list of role names, got "
            f"{show_value(roles)}"
        )
    if len(set(roles)) != len(roles):
        raise ValueError(f"{what} repeats a role: {list(roles)}")
    return list(roles)


def check_slots(what: str, slots: Any) -> list[int] | None:
    """``slots`` (``None`` or a non-empty list of distinct slot indices >= 0) as a list.

    Raises:
        ValueError: Anything else, naming ``what``.
    """
    if slots is None:
        return None
    ok = isinstance(slots, Sequence) and not isinstance(slots, str) and len(slots) > 0
    ok = ok and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in slots
    )
    if not ok:
        raise ValueError(
            f"{what} must be None (every slot) or a non-empty list of slot indices >= 0, got "
            f"{show_value(slots)}"
        )
    out = [int(s) for s in slots]
    if len(set(out)) != len(out):
        raise ValueError(f"{what} repeats a slot: {out}")
    return out


def group_of(env: Any, what: str, role: str) -> Any:
    """The agent group of ``role`` in ``env`` (a parallel env, batched worlds, or a scenario
    wrapper of either).

    Raises:
        ValueError: ``role`` is not a role of ``env`` (the message names ``what`` and lists
            the roles).
    """
    base = env if isinstance(env, VectorWorldsEnv) else env.unwrapped
    if role not in base.roles:
        raise ValueError(f"{what}: unknown role {role!r}; roles are {list(base.roles)}")
    return base.groups[role] if isinstance(base, VectorWorldsEnv) else base.group(role)


def check_slots_in(env: Any, what: str, role: str, slots: list[int] | None) -> None:
    """Raise a ``ValueError`` if a slot of ``slots`` is not a slot of ``role`` in ``env``."""
    n = group_of(env, what, role).n_agents
    bad = [s for s in slots or () if s >= n]
    if bad:
        raise ValueError(
            f"{what}: slots {bad} do not exist; role {role!r} has slots 0..{n - 1} ({n} agents)"
        )


def engine_of(venv: Any) -> VectorWorldsEnv:
    """The :class:`~heas_envs.env.VectorWorldsEnv` under a chain of vector scenario wrappers.

    Raises:
        TypeError: ``venv`` is neither.
    """
    while isinstance(venv, VectorScenarioWrapper):
        venv = venv.venv
    if not isinstance(venv, VectorWorldsEnv):
        raise TypeError(
            "a vector scenario wrapper wraps a VectorWorldsEnv (heas_envs.make_vec) or another "
            f"vector scenario wrapper; got {type(venv).__name__}"
        )
    return venv


def reapply_chain(env: Any, fresh: Any) -> Any:
    """The scenario wrappers between ``env`` and its base env (or batched worlds), applied
    again, innermost first, from their specs, on ``fresh``: how a wrapper that rebuilds the
    base keeps the wrappers below it."""
    from heas_envs.scenarios.wrappers.registry import apply_wrappers, wrapper_specs

    return apply_wrappers(fresh, wrapper_specs(env))


#: A change made to every model of batched worlds as it is built (a shock schedule's streams).
ModelHook = Callable[[Model], None]


def rebuild_engine(
    venv: Any, *, params: Mapping[str, Any] | None = None, hook: ModelHook | None = None
) -> VectorWorldsEnv:
    """Fresh batched worlds like those under ``venv``, with ``params`` changed and ``hook``
    run on every model they build.

    The worlds keep the number, autoreset mode, focal agent and trace setting of ``venv``'s,
    and the model hooks of the wrappers above ``venv`` (the hooks of the shock schedules in
    ``venv``'s own chain are left out: applying that chain again adds them again). The new
    hook runs before the carried ones, so the inner schedule of two applies first, as on a
    single env.

    Raises:
        ValueError: The worlds were not built by :func:`heas_envs.make_vec`, or ``params`` is
            invalid for the env (the message lists the valid parameters).
    """
    from heas_envs.registration import make_parallel

    engine = engine_of(venv)
    if engine.env_id is None or engine.single_env is None:
        raise ValueError(
            "this wrapper over batched worlds builds them again, which needs worlds built by "
            "heas_envs.make_vec (they record their env id and parameters)"
        )
    owned = set()
    inner = venv
    while isinstance(inner, VectorScenarioWrapper):
        owned.add(id(vars(inner).get("model_hook")))
        inner = inner.venv
    carried = [h for h in getattr(engine, "model_hooks", ()) if id(h) not in owned]
    hooks = ([hook] if hook is not None else []) + carried
    single = make_parallel(engine.env_id, **{**engine.params, **(params or {})})

    def build(n_worlds: int) -> Model:
        model = single.batched_model(n_worlds)
        for h in hooks:
            h(model)
        return model

    fresh = VectorWorldsEnv(
        build,
        engine.num_worlds,
        max_steps=single.max_steps,
        autoreset=engine.autoreset,
        focal=engine.focal,
        record_trace=engine.record_trace,
    )
    fresh.env_id = engine.env_id
    fresh.params = {**single.params, "max_steps": single.max_steps}
    fresh.single_env = single
    fresh.model_hooks = hooks  # type: ignore[attr-defined]
    return fresh


def _copies(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in arrays.items()}


# -- the parallel adapter ------------------------------------------------------------------------
class ScenarioWrapper(BaseParallelWrapper):
    """Base of the scenario wrappers over a :class:`~heas_envs.env.HierarchicalParallelEnv`.

    Subclasses implement :meth:`check_args` (the env-independent validation of their
    arguments, returning them as JSON values) and override the hooks they need, each on
    per-role arrays over all slots:

    - :meth:`_reset_hook` after the inner env's reset (seed the wrapper's generators);
    - :meth:`_transform_actions` before the inner env's step (``_changes_actions``);
    - :meth:`_transform_obs` on the observations of reset and step (``_changes_obs``);
    - :meth:`_transform_rewards` on the rewards of a step (``_changes_rewards``).

    The dict API and the array API both run these hooks, so they agree. Attributes the wrapper
    does not define (``metrics()``, ``roles``, ``group()``, ``tick``, ...) are the inner env's.

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        args: The validated arguments (from :meth:`check_args`), recorded for :meth:`spec`.

    Raises:
        TypeError: ``env`` is not such an env (another wrapper in between included).
    """

    #: The batched counterpart (a :class:`VectorScenarioWrapper` subclass), if there is one.
    vector_class: ClassVar[type[VectorScenarioWrapper] | None] = None
    _changes_actions: ClassVar[bool] = False
    _changes_obs: ClassVar[bool] = False
    _changes_rewards: ClassVar[bool] = False

    def __init__(self, env: Any, args: dict[str, Any]) -> None:
        self.require_env(env)
        super().__init__(env)
        self._args = args
        self._obs: dict[str, np.ndarray] = {}

    # -- arguments and spec ---------------------------------------------------------------------
    @classmethod
    def require_env(cls, env: Any) -> None:
        """Raise a ``TypeError`` unless ``env`` is a
        :class:`~heas_envs.env.HierarchicalParallelEnv` or a chain of scenario wrappers over one
        (subclasses call it first, before they look at ``env``)."""
        inner = env
        while isinstance(inner, ScenarioWrapper):
            inner = inner.env
        if not isinstance(inner, HierarchicalParallelEnv):
            raise TypeError(
                f"{cls.__name__} wraps a HierarchicalParallelEnv (heas_envs.make_parallel) or "
                f"another scenario wrapper of one; got {type(inner).__name__}"
            )

    @classmethod
    def check_args(cls, **args: Any) -> dict[str, Any]:
        """The arguments validated without an env and normalised to JSON values."""
        raise NotImplementedError

    @classmethod
    def check_spec_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`check_args` for a mapping, with unknown or missing names reported as a
        ``ValueError`` listing the valid ones."""
        params = inspect.signature(cls.check_args).parameters
        valid = list(params)
        unknown = sorted(set(args) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown argument(s) {unknown} for wrapper {cls.__name__}; valid arguments: "
                f"{valid}"
            )
        missing = [n for n, p in params.items() if p.default is p.empty and n not in args]
        if missing:
            raise ValueError(
                f"wrapper {cls.__name__} needs argument(s) {missing}; valid arguments: {valid}"
            )
        return cls.check_args(**args)

    def spec(self) -> WrapperSpec:
        """The spec that re-creates this wrapper (name and arguments)."""
        return WrapperSpec(type(self).__name__, copy.deepcopy(self._args))

    # -- hooks ------------------------------------------------------------------------------------
    def _reset_hook(self, seed: int | None) -> None:
        """After the inner env's reset with ``seed``."""

    def _transform_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The actions the inner env gets, from the caller's per-role actions (validate them
        before changing any state)."""
        return dict(actions)

    def _transform_obs(
        self, obs: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The observations the caller gets; ``shown``: the slots reported per role."""
        return obs

    def _transform_rewards(
        self, rewards: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The rewards the caller gets; ``shown``: the slots reported per role."""
        return rewards

    # -- array API ------------------------------------------------------------------------------
    def reset_arrays(
        self, seed: int | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Reset; ``(obs, alive)`` per role over all slots, as the env's ``reset_arrays``."""
        obs, alive = self.env.reset_arrays(seed)
        self._reset_hook(seed)
        if self._changes_obs:
            self._obs = self._transform_obs(obs, alive)
            obs = _copies(self._obs)
        return obs, alive

    def step_arrays(self, actions: Mapping[str, np.ndarray]) -> ArrayStep:
        """One step with one action array per role, as the env's ``step_arrays``."""
        if self._changes_actions:
            self._require_running()
            if not isinstance(actions, Mapping):
                raise ValueError(
                    "step_arrays takes a mapping from role to an action array, got "
                    f"{show_value(actions)}"
                )
            actions = self._transform_actions(actions)
        return self._transform_results(self.env.step_arrays(actions))

    def _transform_results(self, out: ArrayStep) -> ArrayStep:
        if not (self._changes_obs or self._changes_rewards):
            return out
        shown = {r: out.alive[r] | out.terminated[r] for r in out.alive}
        obs, rewards = out.obs, out.rewards
        if self._changes_obs:
            self._obs = self._transform_obs(obs, shown)
            obs = _copies(self._obs)
        if self._changes_rewards:
            rewards = self._transform_rewards(rewards, shown)
        return out._replace(obs=obs, rewards=rewards)

    def _require_running(self) -> None:
        if self.unwrapped.worlds.ended.all():
            raise RuntimeError("the episode is over (or never started): call reset() first")

    # -- dict API ---------------------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, Any], dict[str, dict]]:
        """Reset the inner env (the same seed repeats the episode, the wrapper's draws too)."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self._reset_hook(seed)
        if self._changes_obs:
            arrays = self._by_role(obs, "obs")
            self._obs = self._transform_obs(arrays, self._shown(obs))
            obs = self._by_agent(self._obs, obs)
        return obs, infos

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One step with one action per live agent, as the env's ``step``."""
        if self._changes_actions:
            self._require_running()
            arrays = self._transform_actions(self._actions_by_role(actions))
            base = self.unwrapped
            actions = {a: arrays[r][i] for a in self.env.agents for r, i in [base.slot(a)]}
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        if self._changes_obs or self._changes_rewards:
            shown = self._shown(obs)
            if self._changes_obs:
                self._obs = self._transform_obs(self._by_role(obs, "obs"), shown)
                obs = self._by_agent(self._obs, obs)
            if self._changes_rewards:
                new = self._transform_rewards(self._by_role(rewards, "rewards"), shown)
                rewards = {a: float(v) for a, v in self._by_agent(new, rewards).items()}
        return obs, rewards, terminated, truncated, infos

    def _actions_by_role(self, actions: Any) -> dict[str, np.ndarray]:
        """The dict API's actions as per-role arrays (zero actions in rows nobody gave),
        validated as the env validates them."""
        check_action_dict(self, actions)
        base = self.unwrapped
        out = {}
        for role in base.roles:
            space = base.group(role).action_space
            n = base.group(role).n_agents
            out[role] = np.broadcast_to(zero_action(space), (n, *action_shape(space))).copy()
        for agent in self.agents:
            role, i = base.slot(agent)
            out[role][i] = base.check_action(agent, actions[agent])
        return out

    def _by_role(self, values: Mapping[str, Any], kind: str) -> dict[str, np.ndarray]:
        """Per-agent values (of the agents shown) as per-role arrays, zeros elsewhere."""
        base = self.unwrapped
        out = {}
        for role in base.roles:
            group = base.group(role)
            if kind == "obs":
                space = group.observation_space
                out[role] = np.zeros((group.n_agents, *space.shape), dtype=space.dtype)
            else:
                out[role] = np.zeros(group.n_agents)
        for agent, value in values.items():
            role, i = base.slot(agent)
            out[role][i] = value
        return out

    def _shown(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        base = self.unwrapped
        out = {r: np.zeros(base.group(r).n_agents, dtype=bool) for r in base.roles}
        for agent in values:
            role, i = base.slot(agent)
            out[role][i] = True
        return out

    def _by_agent(self, arrays: Mapping[str, np.ndarray], like: Mapping[str, Any]) -> dict:
        base = self.unwrapped
        return {a: arrays[r][i] for a in like for r, i in [base.slot(a)]}

    # -- the rest ---------------------------------------------------------------------------------
    @property
    def observations(self) -> dict[str, np.ndarray]:
        """The last observations the caller got, per role over all slots (copies)."""
        return _copies(self._obs) if self._changes_obs else self.env.observations

    def heuristic_actions(
        self, obs: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The model's reference policy on ``obs`` (default: the observations the caller got
        last, so a heuristic played through a noise wrapper sees the noise)."""
        return self.env.heuristic_actions(self.observations if obs is None else obs)

    def agent_actions(self, per_role: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-role action arrays as a dict by this wrapper's live agent."""
        base = self.unwrapped
        return {a: per_role[r][i] for a in self.agents for r, i in [base.slot(a)]}

    def __repr__(self) -> str:
        state = vars(self)
        args = ", ".join(f"{k}={v!r}" for k, v in state.get("_args", {}).items())
        return f"{type(self).__name__}<{state.get('env')!r}>({args})"


# -- the vector adapter --------------------------------------------------------------------------
class VectorScenarioWrapper:
    """Base of the batched scenario wrappers over a :class:`~heas_envs.env.VectorWorldsEnv`.

    It forwards every attribute it does not define to the wrapped env; subclasses override
    ``reset`` and ``step`` (or rebuild the env under them at construction). The spec is the
    parallel wrapper's (same name, same arguments).

    Args:
        venv: A :class:`~heas_envs.env.VectorWorldsEnv` (from :func:`heas_envs.make_vec`) or a
            vector scenario wrapper of one.
        args: The validated arguments, recorded for :meth:`spec`.
    """

    #: The parallel wrapper this batches (its name and ``check_args``).
    parallel_class: ClassVar[type[ScenarioWrapper]]

    def __init__(self, venv: Any, args: dict[str, Any]) -> None:
        engine_of(venv)
        self.venv = venv
        self._args = args

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "venv":
            raise AttributeError(name)
        return getattr(self.venv, name)

    @property
    def unwrapped(self) -> VectorWorldsEnv:
        """The :class:`~heas_envs.env.VectorWorldsEnv` under the wrappers."""
        return engine_of(self.venv)

    def spec(self) -> WrapperSpec:
        """The spec that re-creates this wrapper (the parallel wrapper's name and arguments)."""
        return WrapperSpec(self.parallel_class.__name__, copy.deepcopy(self._args))

    def reset(
        self, seed: int | Sequence[int] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every world (as the wrapped env's ``reset``)."""
        return self.venv.reset(seed=seed, options=options)

    def step(self, actions: Mapping[str, Any]) -> Any:
        """One step of every world (as the wrapped env's ``step``)."""
        return self.venv.step(actions)

    def __repr__(self) -> str:
        state = vars(self)
        args = ", ".join(f"{k}={v!r}" for k, v in state.get("_args", {}).items())
        return f"{type(self).__name__}<{state.get('venv')!r}>({args})"


def check_action_dict(env: Any, actions: Any) -> None:
    """Refuse a dict-API ``actions`` that is not a mapping from agent id to action, names an
    agent ``env`` does not have, or leaves a live agent out (naming which)."""
    if not isinstance(actions, Mapping):
        raise ValueError(
            f"step takes a dict from live agent id to action, got {show_value(actions)}"
        )
    known = set(env.possible_agents)
    unknown = [a for a in actions if a not in known]
    if unknown:
        raise ValueError(
            f"actions for unknown agents {unknown[:8]!r}; agents are "
            f"{env.possible_agents[:8]!r} ({len(env.possible_agents)} in all)"
        )
    missing = [a for a in env.agents if a not in actions]
    if missing:
        raise ValueError(f"no action for live agents {missing[:8]!r}; every live agent acts")
