"""B worlds of one model stepped as arrays: the engine under every env of the suite.

:class:`VectorWorldsEnv` steps ``B`` independent worlds of a hierarchical model in one array
step of the model. Actions are ``{role: [B, n_agents, *act_shape]}``; observations, rewards,
``terminated``, ``truncated`` and ``alive`` come back as ``[B, n_agents, ...]`` per role. The
PettingZoo env (:class:`~heas_envs.env.HierarchicalParallelEnv`) is this engine with one world
and no automatic reset, so the per-world rules below are the PettingZoo rules of that env:

- agent ``i`` of world ``b`` is *terminated* in the step in which it dies; it is *truncated*
  when the world reaches ``max_steps`` alive; an agent born in the step that ends the world by
  truncation is not reported (it would never act);
- a world's episode ends when it is truncated or when no agent of it is alive (for a
  single-agent view, ``focal``: when the focal agent is done);
- actions of slots that are not alive are ignored; an invalid action of a live agent of any
  world raises a ``ValueError`` naming the world, the agent and the space, and nothing changes.

**Automatic reset.** A world whose episode ended is reset on its own, as Gymnasium's vector
envs do, in one of two modes (``autoreset``):

- ``"next_step"`` (Gymnasium 1.x's default): the step that ends world ``b`` returns its final
  observation; the next step ignores world ``b``'s actions, resets it and returns its first
  observation with zero rewards and no done flags (``info["autoreset"][b]`` is true);
- ``"same_step"`` (Stable-Baselines3's convention): the step that ends world ``b`` resets it
  at once and returns the first observation of the new episode; the final observation and
  alive mask are in ``info["final_obs"]`` / ``info["final_alive"]`` (rows of ended worlds).

``info["ended"]`` marks the worlds whose episode ended in the step, in both modes.

**Callbacks.** ``callbacks=[...]`` or :meth:`VectorWorldsEnv.add_callback` registers
:class:`~heas_envs.core.callbacks.Callback` hooks around episodes, steps and each layer of
each cohort's model; :mod:`heas_envs.core.callbacks` gives the exact order. Without one,
nothing is called.

**Exact worlds.** World ``b`` reset with seed ``s_b`` follows bit for bit the trajectory of a
single env reset with ``s_b`` under the same actions, through its automatic resets (each a
reset without a seed, which continues the world's random stream), whatever ``B`` is and
whatever the other worlds do. Two things make this hold:

- every random draw of a model is made per world, from the world's own generator
  (:mod:`heas_envs.core.random`);
- worlds step in *cohorts*: a cohort is one model of ``k`` worlds that started their episodes
  together, so they share the tick counter on which slow layers, seasons and the
  ``max_steps`` limit depend. At ``reset`` all worlds form one cohort. Worlds whose episodes
  end in the same step are reset together into one new cohort (a model of that size is taken
  from a pool of idle ones or built); they take their own generators with them, and the old
  cohort keeps stepping the worlds that are still running, with filler actions in the rows it
  no longer owns, until none remain. Episodes that all end by the time limit keep one cohort
  for ever; early ends split the batch into cohorts that each cost one model step.

**Snapshots and clones.** :meth:`VectorWorldsEnv.snapshot` copies everything that determines
the future (every cohort's model and bookkeeping, the pending resets); ``restore`` then
``step`` repeats the original steps bit for bit. :meth:`VectorWorldsEnv.clone_worlds` makes
some worlds exact copies of others of the same cohort, one array assignment per array (the
planner's case: walkers reset together, cloned toward better ones).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

from heas_envs.core.callbacks import Callback, CallbackList, as_callbacks
from heas_envs.core.model import (
    SIZED,
    LayerTrace,
    Model,
    copy_worlds,
    private_array_shapes,
    sized_scalars,
)
from heas_envs.core.params import check_int, show_value
from heas_envs.core.random import WorldRandom, world_seeds
from heas_envs.core.stream import AgentGroup

AUTORESET_MODES = ("next_step", "same_step")


class VectorStep(NamedTuple):
    """The result of :meth:`VectorWorldsEnv.step`, per role ``[B, n_agents, ...]``.

    ``info`` holds ``"ended"`` (``[B]`` bool: worlds whose episode ended in this step),
    ``"autoreset"`` (``[B]`` bool: worlds reset by this step, ``"next_step"`` mode) and, in
    ``"same_step"`` mode, ``"final_obs"`` / ``"final_alive"`` (per role, the rows of the ended
    worlds as their episode ended).
    """

    obs: dict[str, np.ndarray]
    rewards: dict[str, np.ndarray]
    terminated: dict[str, np.ndarray]
    truncated: dict[str, np.ndarray]
    alive: dict[str, np.ndarray]
    info: dict[str, Any]


class Snapshot:
    """The exact state of a :class:`VectorWorldsEnv`, from :meth:`VectorWorldsEnv.snapshot`.

    Opaque: restore it with :meth:`VectorWorldsEnv.restore` of the env that took it (as often
    as you like: each restore copies it again).
    """

    __slots__ = ("_owner", "_state")

    def __init__(self, owner: object, state: tuple) -> None:
        self._owner = owner
        self._state = state


class _Cohort:
    """One model of ``k`` worlds that started their episodes together."""

    __slots__ = ("model", "worlds", "current", "alive", "ever", "obs", "identity")

    def __init__(self, model: Model, worlds: np.ndarray, identity: bool) -> None:
        self.model = model
        self.worlds = worlds  # [k] global world indices
        self.current = np.ones(len(worlds), dtype=bool)  # rows still holding their world
        self.identity = identity  # worlds == arange(B): no gather or scatter needed
        self.alive: dict[str, np.ndarray] = {}
        self.ever: dict[str, np.ndarray] = {}
        self.obs: dict[str, np.ndarray] = {}


class _LayerHook:
    """A cohort model's layer hook: the env's callbacks, told each row's world."""

    __slots__ = ("callbacks", "cohort")

    def __init__(self, callbacks: CallbackList, cohort: _Cohort) -> None:
        self.callbacks = callbacks
        self.cohort = cohort

    def _worlds(self) -> np.ndarray:
        c = self.cohort
        return np.where(c.current, c.worlds, -1)

    def on_layer_start(self, model: Model, index: int, layer: Any) -> None:
        self.callbacks.on_layer_start(model, index, layer, self._worlds())

    def on_layer_end(self, model: Model, index: int, layer: Any) -> None:
        self.callbacks.on_layer_end(model, index, layer, self._worlds())


class VectorWorldsEnv:
    """``B`` worlds of one hierarchical model as one array env with automatic resets.

    ``heas_envs.make_vec(env_id, num_worlds=B, **params)`` builds one for a registered model;
    for a model of your own, pass a function building it for a number of worlds.

    Args:
        build: ``build(n_worlds)`` returns a :class:`~heas_envs.core.Model` of that many
            worlds (``None`` only with ``model`` and no automatic reset).
        num_worlds: The number of worlds B.
        max_steps: Steps after which a world's agents are truncated.
        autoreset: ``"next_step"`` (default), ``"same_step"`` (see the module docs) or
            ``None`` (no automatic reset: a world that ended stays ended until ``reset``).
        focal: ``(role, index)`` of a focal agent whose end ends its world's episode (the
            single-agent views); ``None``: a world ends by truncation or when nobody lives.
        model: A model built already, used as the first cohort.
        record_trace: Keep the per-layer sub-step trace of the last step
            (:attr:`substep_trace`); off by default, it costs a metrics call per stream.
        callbacks: :class:`~heas_envs.core.callbacks.Callback` hooks (one, a list or
            ``None``), as :meth:`add_callback` registers them.

    Raises:
        ValueError: A bad number of worlds, ``max_steps`` or ``autoreset``, a model without
            agent groups or with an unsupported action space.
    """

    def __init__(
        self,
        build: Callable[[int], Model] | None,
        num_worlds: int = 1,
        *,
        max_steps: int = 200,
        autoreset: str | None = "next_step",
        focal: tuple[str, int] | None = None,
        model: Model | None = None,
        record_trace: bool = False,
        callbacks: Callback | Sequence[Callback] | None = None,
    ) -> None:
        self.num_worlds = check_int("num_worlds", num_worlds, 1)
        self.max_steps = check_int("max_steps", max_steps, 1)
        if autoreset is not None and autoreset not in AUTORESET_MODES:
            raise ValueError(
                f"autoreset must be one of {list(AUTORESET_MODES)} or None, got "
                f"{show_value(autoreset)}"
            )
        if autoreset is None and self.num_worlds != 1:
            raise ValueError(
                "autoreset=None is for one world; with several worlds use 'next_step' or "
                "'same_step' and read info['ended']"
            )
        if build is None and model is None:
            raise ValueError("give build(n_worlds) or a model")
        self.autoreset = autoreset
        self._build = build
        self._pool: dict[int, list[Model]] = {}
        self._record_trace = bool(record_trace)
        model = model if model is not None else self._new_model(self.num_worlds)
        if model.n_worlds != self.num_worlds:
            raise ValueError(f"the model has {model.n_worlds} worlds, expected {self.num_worlds}")
        self.roles: list[str] = list(model.groups)
        if not self.roles:
            raise ValueError("the model has no agent group, so the env would have no agents")
        self.groups: dict[str, AgentGroup] = {r: g[0] for r, g in model.groups.items()}
        for role, group in self.groups.items():
            _check_supported_space(role, group.action_space)
        self.action_shapes = {r: _action_shape(g.action_space) for r, g in self.groups.items()}
        self._filler = {r: _filler(g.action_space) for r, g in self.groups.items()}
        self._bounds = {r: uniform_bounds(g.action_space) for r, g in self.groups.items()}
        #: Roles with a group that overrides ``alive`` (others always have every slot alive).
        self._mortal = {
            r: any(type(g).alive is not AgentGroup.alive for g in gs)
            for r, gs in model.groups.items()
        }
        if focal is not None:
            role, index = focal
            if role not in self.groups or not 0 <= index < self.groups[role].n_agents:
                raise ValueError(f"focal agent {focal!r} is not a slot of this model")
        self.focal = focal
        self._single = autoreset is None and self.num_worlds == 1  # messages without worlds
        model.record_trace = self._record_trace
        self._cohorts: list[_Cohort] = [_Cohort(model, np.arange(self.num_worlds), True)]
        self._generators: list[np.random.Generator | None] = [None] * self.num_worlds
        self._ended = np.ones(self.num_worlds, dtype=bool)  # worlds whose episode is over
        self._started = False
        #: Whether the last step changed who is alive in some world (a birth or a death).
        self.population_changed = False
        #: Set by :func:`~heas_envs.make_vec`: the id, its parameters, and a single env of them.
        self.env_id: str | None = None
        self.params: dict[str, Any] = {}
        self.single_env: Any = None
        self._token = object()  # marks this env's snapshots
        self._probes: dict[int, dict[tuple, tuple[int, ...]]] = {}  # for clone_worlds
        #: The registered callbacks; ``None`` when there are none (the step pays nothing).
        self._callbacks: CallbackList | None = None
        for cb in as_callbacks(callbacks):
            self.add_callback(cb)

    # -- callbacks ----------------------------------------------------------------------------
    @property
    def callbacks(self) -> list[Callback]:
        """The registered callbacks, in the order they are called (a copy)."""
        return [] if self._callbacks is None else list(self._callbacks)

    def add_callback(self, callback: Callback) -> None:
        """Register ``callback`` (called after those registered before it); see
        :mod:`heas_envs.core.callbacks` for when each hook is called.

        Raises:
            ValueError: ``callback`` is not a :class:`~heas_envs.core.callbacks.Callback`, or
                it (or a callback in it, for a :class:`~heas_envs.core.callbacks.CallbackList`)
                is registered on this env already: each runs once per hook.
        """
        hooks = CallbackList() if self._callbacks is None else self._callbacks
        hooks.append(callback)  # refuses a callback registered already
        self._callbacks = hooks
        self._attach()

    def remove_callback(self, callback: Callback) -> None:
        """Unregister ``callback``.

        Raises:
            ValueError: ``callback`` is not registered.
        """
        if self._callbacks is None:
            raise ValueError(f"{type(callback).__name__} {callback!r} is not a registered callback")
        self._callbacks.remove(callback)
        if not len(self._callbacks):
            self._callbacks = None
        self._attach()

    def _attach(self) -> None:
        """Give every cohort's model its layer hook (or none)."""
        for c in self._cohorts:
            c.model.callback = None if self._callbacks is None else _LayerHook(self._callbacks, c)

    # -- properties ---------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The model of the first cohort (with one world and no autoreset: the only model)."""
        return self._cohorts[0].model

    @property
    def n_cohorts(self) -> int:
        """How many models step the worlds now (1 until episodes end at different times)."""
        return len(self._cohorts)

    @property
    def record_trace(self) -> bool:
        """Whether the per-layer sub-step trace of each step is kept."""
        return self._record_trace

    @record_trace.setter
    def record_trace(self, value: bool) -> None:
        self._record_trace = bool(value)
        for c in self._cohorts:
            c.model.record_trace = self._record_trace

    @property
    def substep_trace(self) -> list[LayerTrace]:
        """The layers the last step ran in the first cohort, each with its ``[k]`` metrics."""
        if not self._record_trace:
            raise RuntimeError(
                "the sub-step trace is off; set record_trace = True before stepping to keep it"
            )
        return list(self.model.trace)

    @property
    def ended(self) -> np.ndarray:
        """``[B]`` bool: worlds whose episode is over (and not reset yet)."""
        return self._ended.copy()

    @property
    def observations(self) -> dict[str, np.ndarray]:
        """The last observations per role, ``[B, n_agents, *obs]`` (copies)."""
        return {r: a.copy() for r, a in self._gather("obs").items()}

    @property
    def alive(self) -> dict[str, np.ndarray]:
        """Per role, ``[B, n_agents]`` bool: which slots hold a living agent (copies)."""
        return {r: a.copy() for r, a in self._gather("alive").items()}

    @property
    def ever_alive(self) -> dict[str, np.ndarray]:
        """Per role, ``[B, n_agents]`` bool: slots that have lived in the current episodes."""
        return {r: a.copy() for r, a in self._gather("ever").items()}

    def ticks(self) -> np.ndarray:
        """``[B]`` ticks completed in each world's current episode."""
        out = np.zeros(self.num_worlds, dtype=np.int64)
        for c in self._cohorts:
            out[c.worlds[c.current]] = c.model.ctx.tick
        return out

    # -- reset ----------------------------------------------------------------------------------
    def reset(
        self, seed: int | Sequence[int] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode in every world.

        Args:
            seed: One seed per world, one integer (world 0 takes it, the others seeds derived
                from it: :func:`~heas_envs.core.random.world_seeds`), or ``None`` (continue
                each world's random stream; fresh entropy on the first reset).
            options: Unused (the Gymnasium signature).

        Returns:
            ``(obs, info)``: obs per role ``[B, n_agents, *obs]``; ``info["alive"]`` per role.

        Raises:
            ValueError: Seeds of the wrong count or type (the message names the world);
                nothing changes.
        """
        if seed is not None or not self._started:
            rngs = WorldRandom(world_seeds(seed, self.num_worlds)).generators
        else:
            rngs = self._current_generators()
        for c in self._cohorts:
            self._retire(c)
        self._cohorts = []
        self._start(np.arange(self.num_worlds), rngs)
        self._started = True
        if self._callbacks is not None:
            self._callbacks.on_episode_start(self, np.arange(self.num_worlds))
        return dict(self._gather("obs")), {"alive": self._copy(self._gather("alive"))}

    def _current_generators(self) -> list[np.random.Generator]:
        gens = list(self._generators)
        for c in self._cohorts:
            for j in np.flatnonzero(c.current).tolist():
                gens[int(c.worlds[j])] = c.model.ctx.rng.generators[j]
        return gens  # type: ignore[return-value]

    def _new_model(self, n_worlds: int) -> Model:
        pool = self._pool.get(n_worlds)
        if pool:
            return pool.pop()
        if self._build is None:
            raise RuntimeError(f"no build function to make a model of {n_worlds} worlds")
        model = self._build(n_worlds)
        if not isinstance(model, Model) or model.n_worlds != n_worlds:
            raise TypeError(f"build({n_worlds}) must return a Model of {n_worlds} worlds")
        model.record_trace = self._record_trace
        return model

    def _retire(self, cohort: _Cohort) -> None:
        """Keep the model of an idle cohort for a later cohort of the same size (two at most
        per size)."""
        pool = self._pool.setdefault(cohort.model.n_worlds, [])
        if len(pool) < 2:
            pool.append(cohort.model)

    def _start(self, worlds: np.ndarray, generators: Sequence[np.random.Generator]) -> None:
        """Reset ``worlds`` (sorted) together, continuing ``generators``, as a new cohort."""
        model = self._new_model(len(worlds))
        model.callback = None  # layers run by the reset are part of it (not reported)
        model.reset(rng=WorldRandom.of(list(generators)))
        cohort = _Cohort(model, worlds, len(worlds) == self.num_worlds)
        if self._callbacks is not None:
            model.callback = _LayerHook(self._callbacks, cohort)
        ctx = model.ctx
        cohort.alive = {r: np.array(g.alive(ctx), dtype=bool) for r, g in self.groups.items()}
        cohort.ever = {r: a.copy() for r, a in cohort.alive.items()}
        cohort.obs = self._observe(model)
        if self.focal is not None:
            role, i = self.focal
            unborn = ~cohort.alive[role][:, i]
            if unborn.any():
                raise RuntimeError(
                    f"the focal agent '{role}_{i}' is not alive at reset in world "
                    f"{int(worlds[np.flatnonzero(unborn)[0]])}"
                )
        self._cohorts.append(cohort)
        self._cohorts.sort(key=lambda c: int(c.worlds[0]))
        self._ended[worlds] = False
        for b in worlds.tolist():
            self._generators[b] = None

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The exact state of every world: :meth:`restore` then :meth:`step` repeats, bit for
        bit, what stepping from here would do.

        It holds deep copies of the cohorts (each one's model: context arrays, the streams'
        private state, the worlds' generators, tick, layer and cursor; its alive, ever-alive
        and last observations), the generators of worlds waiting for their reset, the
        ``ended`` flags (the pending automatic resets) and :attr:`population_changed`. The
        pool of idle models is not part of it (a model is reset before it is reused).

        Raises:
            RuntimeError: ``reset`` was never called.
        """
        if not self._started:
            raise RuntimeError("call reset() before snapshot()")
        state = (self._cohorts, self._generators, self._ended, self.population_changed)
        return Snapshot(self._token, copy.deepcopy(state, self._shared_memo()))

    def restore(self, snap: Snapshot) -> None:
        """Put every world back in the state of ``snap`` (a copy of it: ``snap`` stays valid).

        Raises:
            ValueError: ``snap`` is not a :class:`Snapshot` of this env.
        """
        if not isinstance(snap, Snapshot) or snap._owner is not self._token:
            raise ValueError(
                f"restore takes a Snapshot taken by this env's snapshot(), got {show_value(snap)}"
            )
        cohorts, generators, ended, changed = copy.deepcopy(snap._state, self._shared_memo())
        self._cohorts, self._generators = cohorts, generators
        self._ended, self.population_changed = ended, changed
        for c in self._cohorts:
            c.model.record_trace = self._record_trace
        self._attach()

    def _shared_memo(self) -> dict[int, Any]:
        """A deepcopy memo that keeps the immutable parts of the models (spaces) shared."""
        memo: dict[int, Any] = {}
        for c in self._cohorts:
            if c.model.callback is not None:  # hooks are not state: copies get none
                memo[id(c.model.callback)] = None
            for s in c.model.streams:
                for value in vars(s).values():
                    if isinstance(value, spaces.Space):
                        memo[id(value)] = value
        return memo

    def clone_worlds(
        self, src: Sequence[int] | np.ndarray, dst: Sequence[int] | np.ndarray
    ) -> None:
        """Make worlds ``dst[i]`` exact copies of worlds ``src[i]`` (read before any is
        written): stepping a copy with the same actions then repeats its source bit for bit.

        All the worlds named must be in one cohort (they started their episode together: the
        case of worlds reset together, before any episode ends). Sources must be running; a
        destination may be a world whose episode ended in the last step ("next_step"
        autoreset), and the copy then replaces its pending reset. Within
        the cohort's model, one fancy-indexed assignment per array copies the rows: every
        context array, every per-world array a stream keeps outside the context (its world
        axis is found by comparing with a model of one world more, built once per size;
        see :func:`~heas_envs.core.model.copy_worlds`, which also says what is left shared
        and which caches are dropped), each world's generator state, and the env's alive,
        ever-alive and last observations. The last step's sub-step trace is not changed.

        Raises:
            ValueError: Index arrays of different lengths, an index outside ``[0, B)``, a
                destination named twice, worlds of different cohorts, a source whose episode
                has ended, or a model whose state cannot be copied by that rule.
            RuntimeError: ``reset`` was never called.
        """
        if not self._started:
            raise RuntimeError("call reset() before clone_worlds()")
        src_w, dst_w = self._world_list("src", src), self._world_list("dst", dst)
        if len(src_w) != len(dst_w):
            raise ValueError(
                f"src and dst must have the same length, got {len(src_w)} and {len(dst_w)}"
            )
        if len(np.unique(dst_w)) != len(dst_w):
            raise ValueError(f"dst names a world twice: {dst_w.tolist()}")
        if len(src_w) == 0:
            return
        # a destination whose episode ended in the last step is still in its cohort: the
        # copy replaces its pending reset
        c, rows = self._cohort_rows(np.concatenate([src_w, dst_w]), ended=len(src_w))
        rs, rd = rows[: len(src_w)], rows[len(src_w) :]
        if not np.array_equal(rs, rd):
            copy_worlds(c.model, rs, rd, self._probe(c.model.n_worlds))
        self._ended[dst_w] = False
        # step() and reset() hand out the observation arrays themselves: copy them first, so
        # that observations a caller holds do not change under it
        c.obs = {r: a.copy() for r, a in c.obs.items()}
        for field in (c.alive, c.ever, c.obs):
            for a in field.values():
                a[rd] = a[rs]

    def load_worlds(
        self,
        source: VectorWorldsEnv,
        src: Sequence[int] | np.ndarray,
        generators: Sequence[np.random.Generator] | None = None,
    ) -> None:
        """Make world ``b`` of this env an exact copy of world ``src[b]`` of ``source``, for
        every world ``b`` (a planner's walkers: each world of ``source`` loaded into several
        worlds here); stepping a copy with the same actions and generator state repeats its
        source bit for bit.

        ``source`` must step the same model with the same parameters (another
        :func:`~heas_envs.make_vec` of the same id and parameters, of any number of worlds);
        the worlds named must be running in one of its cohorts. Every world here is
        overwritten and they form one cohort, under the source cohort's clock (tick, layer,
        cursor); the copy is :func:`~heas_envs.core.model.copy_worlds` from that cohort's
        model into this env's, plus the alive, ever-alive and last observations. Nothing of
        ``source`` changes.

        Args:
            source: The env whose worlds are loaded.
            src: ``[B]`` world indices of ``source`` (one per world of this env; repeats allowed).
            generators: The generators the loaded worlds draw from from now on, one per world
                (default: copies of the source worlds' generator states, so the copies also
                repeat their sources' random draws).

        Raises:
            ValueError: ``source`` of another model or parameters, ``src`` of the wrong length
                or naming a world outside ``source``, worlds of several cohorts or whose
                episode has ended, the wrong number of generators.
        """
        if not isinstance(source, VectorWorldsEnv):
            raise ValueError(f"load_worlds takes a VectorWorldsEnv, got {show_value(source)}")
        if source.focal != self.focal:
            raise ValueError(
                f"load_worlds needs an env with the same focal agent: this env's is "
                f"{self.focal!r}, the source's {source.focal!r} (like() keeps it)"
            )
        if (source.env_id, source.params, source.max_steps, source.roles) != (
            self.env_id,
            self.params,
            self.max_steps,
            self.roles,
        ):
            keys = sorted(set(source.params) | set(self.params))
            differ = {
                k: (self.params.get(k), source.params.get(k))
                for k in keys
                if self.params.get(k) != source.params.get(k)
            }
            raise ValueError(
                f"load_worlds needs an env of the same model and parameters: this env is "
                f"{self.env_id!r}, the source {source.env_id!r}; parameters that differ "
                f"(this env's, the source's): {differ}"
            )
        if not source._started:
            raise RuntimeError("call the source's reset() before load_worlds()")
        src_w = source._world_list("src", src)
        if len(src_w) != self.num_worlds:
            raise ValueError(
                f"src must name one source world per world of this env ({self.num_worlds}), "
                f"got {len(src_w)}"
            )
        if generators is not None and len(generators) != self.num_worlds:
            raise ValueError(
                f"give one generator per world ({self.num_worlds}), got {len(generators)}"
            )
        c, rows = source._cohort_rows(src_w)
        own = self._cohorts[0]
        model = own.model if len(self._cohorts) == 1 else self._new_model(self.num_worlds)
        if not model._seeded:
            model.reset(seed=list(range(self.num_worlds)))
        model.callback = None
        copy_worlds(
            c.model,
            rows,
            np.arange(self.num_worlds),
            source._probe(c.model.n_worlds),
            into=model,
            into_probe=self._probe(self.num_worlds),
            generators=generators is None,
        )
        if generators is not None:
            model.ctx.rng = WorldRandom.of(list(generators))
        for old in self._cohorts:
            if old.model is not model:
                self._retire(old)
        cohort = _Cohort(model, np.arange(self.num_worlds), True)
        cohort.alive = {r: a[rows] for r, a in c.alive.items()}
        cohort.ever = {r: a[rows] for r, a in c.ever.items()}
        cohort.obs = {r: a[rows] for r, a in c.obs.items()}
        self._cohorts = [cohort]
        self._generators = [None] * self.num_worlds
        self._ended = np.zeros(self.num_worlds, dtype=bool)
        self.population_changed = False
        self._started = True
        self._attach()

    def like(self, num_worlds: int, autoreset: str | None = "next_step") -> VectorWorldsEnv:
        """A new env of ``num_worlds`` worlds of the same model and parameters (built by the
        same function; the same focal agent and trace setting; no callbacks), for
        :meth:`load_worlds`.

        Raises:
            ValueError: A bad number of worlds, or this env was given a model only.
        """
        if self._build is None:
            raise ValueError("like() needs the build function of the model (this env has none)")
        out = VectorWorldsEnv(
            self._build,
            num_worlds,
            max_steps=self.max_steps,
            autoreset=autoreset,
            focal=self.focal,
            record_trace=self._record_trace,
        )
        out.env_id, out.params, out.single_env = self.env_id, dict(self.params), self.single_env
        return out

    def running_cohorts(self) -> list[np.ndarray]:
        """The running worlds (episode not ended) of each cohort, as sorted index arrays:
        the groups of worlds :meth:`clone_worlds` and :meth:`load_worlds` can copy together."""
        out = []
        for c in self._cohorts:
            worlds = c.worlds[c.current]
            worlds = worlds[~self._ended[worlds]]
            if len(worlds):
                out.append(np.sort(worlds))
        return out

    def _cohort_rows(
        self, worlds: np.ndarray, ended: int | None = None
    ) -> tuple[_Cohort, np.ndarray]:
        """The one cohort holding ``worlds`` and their rows in it; ``worlds[:ended]`` (all by
        default) must be running, the others may have ended in the last step."""
        running = worlds[:ended]
        if self._ended[running].any():
            raise ValueError(
                f"worlds {sorted(set(running[self._ended[running]].tolist()))} have ended their "
                "episode (their reset is pending); copy worlds that are running"
            )
        owner = np.full(self.num_worlds, -1)
        row = np.full(self.num_worlds, -1)
        for k, c in enumerate(self._cohorts):
            owner[c.worlds[c.current]] = k
            row[c.worlds[c.current]] = np.flatnonzero(c.current)
        cohorts = np.unique(owner[worlds])
        if len(cohorts) != 1:
            raise ValueError(
                "worlds are copied within one cohort (worlds that started their episode "
                f"together); worlds {worlds.tolist()} are in cohorts "
                f"{owner[worlds].tolist()} (see n_cohorts)"
            )
        return self._cohorts[int(cohorts[0])], row[worlds]

    def _world_list(self, name: str, value: Any) -> np.ndarray:
        arr = as_numeric_array(value)
        if arr is not None and arr.ndim == 1 and arr.size == 0:
            return np.zeros(0, dtype=np.intp)
        if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(
                f"{name} must be a 1-d array of world indices, got {show_value(value)}"
            )
        bad = (arr < 0) | (arr >= self.num_worlds)
        if bad.any():
            raise ValueError(
                f"{name} has world index {int(arr[bad][0])}; worlds are 0..{self.num_worlds - 1}"
            )
        return arr.astype(np.intp)

    def _probe(self, n: int) -> dict[tuple, tuple[int, ...]]:
        """The private array shapes of a model of ``n + 1`` worlds, reset and stepped once."""
        if n not in self._probes:
            if self._build is None:
                raise ValueError(
                    "clone_worlds needs the build function of the model (this env was given a "
                    "model only)"
                )
            model = self._build(n + 1)
            sized = sized_scalars(model)  # before reset and step change any counter
            model.record_trace = False
            model.reset(seed=list(range(n + 1)))
            model.advance(
                {
                    r: np.broadcast_to(
                        self._filler[r], (n + 1, g.n_agents, *self.action_shapes[r])
                    ).astype(g.action_space.dtype)
                    for r, g in self.groups.items()
                }
            )
            model.metrics_step()  # lazy metrics, as copy_worlds computes them
            for groups in model.groups.values():  # caches the heuristic keeps (the planner's)
                for g in groups:
                    g.heuristic(np.asarray(g.observe(model.ctx)))
            self._probes[n] = {**private_array_shapes(model), SIZED: sized}
        return self._probes[n]

    # -- step -----------------------------------------------------------------------------------
    def step(self, actions: Mapping[str, Any]) -> VectorStep:
        """One step of every world (a tick, or one decision layer) with per-role actions.

        Args:
            actions: Per role, ``[B, n_agents, *act_shape]`` (rows of slots that are not
                alive, and of worlds being reset by this step, are ignored). A role whose
                groups do not act in this step, or without a live agent, may be left out.

        Raises:
            ValueError: A bad mapping, an unknown role, a missing role, actions of the wrong
                shape or type, or an invalid action of a live agent (naming the world, the
                agent and the space); nothing in any world changes.
            RuntimeError: ``reset`` was never called (or, without autoreset, every world's
                episode is over).
        """
        if not self._started or (self.autoreset is None and self._ended.all()):
            raise RuntimeError("the episode is over (or never started): call reset() first")
        pending = self._ended.copy() if self.autoreset == "next_step" else None
        batch = self._validated(actions, pending)
        self.population_changed = False  # set by any cohort's birth or death below
        hooks = self._callbacks
        if hooks is not None:
            hooks.on_step_start(self, batch)
        # Everything below runs only on valid input.
        cohorts = self._cohorts
        if len(cohorts) == 1 and cohorts[0].identity and (pending is None or not pending.any()):
            (rewards, terminated, truncated), ended = self._advance(cohorts[0], batch)
            obs, alive = cohorts[0].obs, cohorts[0].alive
        else:
            obs, alive, rewards, terminated, truncated, ended = self._step_cohorts(batch, pending)
        info: dict[str, Any] = {"ended": ended}
        if pending is not None:
            info["autoreset"] = pending
        out_obs, out_alive = dict(obs), self._copy(alive)  # obs arrays are new every step
        self._ended |= ended
        if hooks is not None and ended.any():
            hooks.on_episode_end(self, np.flatnonzero(ended))
        if self.autoreset == "same_step" and ended.any():
            info["final_obs"], info["final_alive"] = out_obs, out_alive
            self._restart(np.flatnonzero(ended))
            out_obs = dict(self._gather("obs"))
            out_alive = self._copy(self._gather("alive"))
            if hooks is not None:
                hooks.on_episode_start(self, np.flatnonzero(ended))
        result = VectorStep(out_obs, rewards, terminated, truncated, out_alive, info)
        if hooks is not None:
            hooks.on_step_end(self, result)
        return result

    def _step_cohorts(self, batch: dict[str, np.ndarray], pending: np.ndarray | None) -> tuple:
        """The general step: several cohorts, or worlds to reset first (``pending``)."""
        B = self.num_worlds
        rewards = {r: np.zeros((B, g.n_agents)) for r, g in self.groups.items()}
        terminated = {r: np.zeros((B, g.n_agents), dtype=bool) for r, g in self.groups.items()}
        truncated = {r: np.zeros((B, g.n_agents), dtype=bool) for r, g in self.groups.items()}
        ended = np.zeros(B, dtype=bool)
        running = list(self._cohorts)
        if pending is not None and pending.any():
            self._restart(np.flatnonzero(pending))
            if self._callbacks is not None:
                self._callbacks.on_episode_start(self, np.flatnonzero(pending))
        for c in running:
            if not c.current.any():
                continue
            sub = batch if c.identity else {r: a[c.worlds] for r, a in batch.items()}
            if not c.current.all():  # rows of worlds that moved on: filler actions
                sub = {r: self._fill_rows(r, a, ~c.current) for r, a in sub.items()}
            (rew, term, trunc), end = self._advance(c, sub)
            rows, worlds = np.flatnonzero(c.current), c.worlds[c.current]
            for r in self.roles:
                rewards[r][worlds] = rew[r][rows]
                terminated[r][worlds] = term[r][rows]
                truncated[r][worlds] = trunc[r][rows]
            ended[worlds] = end[rows]
        return self._gather("obs"), self._gather("alive"), rewards, terminated, truncated, ended

    def _leave(self, cohort: _Cohort, rows: np.ndarray) -> None:
        """Rows ``rows`` of ``cohort`` ended: their worlds keep their generators for the reset;
        the cohort steps those rows on with a throwaway stream."""
        gens = cohort.model.ctx.rng.generators
        for j in rows.tolist():
            self._generators[int(cohort.worlds[j])] = gens[j]
            gens[j] = np.random.default_rng(0)
        cohort.current[rows] = False

    def _restart(self, worlds: np.ndarray) -> None:
        """Reset ``worlds`` (their episodes ended) together, as one new cohort."""
        for c in self._cohorts:
            leaving = np.flatnonzero(c.current & np.isin(c.worlds, worlds))
            if len(leaving):
                self._leave(c, leaving)
        for c in self._cohorts:
            if not c.current.any():
                self._retire(c)
        self._cohorts = [c for c in self._cohorts if c.current.any()]
        self._start(worlds, [self._generators[b] for b in worlds.tolist()])  # type: ignore[misc]

    def _advance(self, c: _Cohort, batch: dict[str, np.ndarray]) -> tuple[tuple, np.ndarray]:
        """Step cohort ``c``; update its state; return ``(rewards, terminated, truncated)`` and
        ``[k]`` episode ends, by the per-world rules of the module docs."""
        model = c.model
        before = c.alive
        completed = model.advance(batch, final_tick=model.ctx.tick + 1 >= self.max_steps)
        ctx = model.ctx
        truncating = completed and ctx.tick >= self.max_steps
        alive = {
            r: np.array(g.alive(ctx), dtype=bool) if self._mortal[r] else before[r]
            for r, g in self.groups.items()
        }
        obs = self._observe(model)
        rewards, terminated, truncated = {}, {}, {}
        anyone = None
        for role in self.roles:
            now, was = alive[role], before[role]
            if now is was:  # a role whose agents never die nor are born
                shown = was
                terminated[role] = np.zeros(now.shape, dtype=bool)
            elif not np.array_equal(now, was):  # births or deaths
                self.population_changed = True
                revived = now & ~was & c.ever[role]
                if revived.any():
                    b, i = (int(x[0]) for x in np.nonzero(revived))
                    raise RuntimeError(
                        f"model bug: slot {i} of role {role!r}{self._of_world(int(c.worlds[b]))} "
                        "came back to life; a dead agent's slot may never be reused"
                    )
                if truncating:  # an agent born as the episode ends would never act
                    now &= was
                c.ever[role] |= now
                shown = was | now
                terminated[role] = was & ~now
            else:
                shown = was
                terminated[role] = np.zeros(now.shape, dtype=bool)
            groups = model.groups[role]
            reward = groups[0].reward(ctx)
            for g in groups[1:]:
                reward = reward + g.reward(ctx)
            reward = np.asarray(reward, dtype=np.float64)
            rewards[role] = reward.copy() if shown.all() else np.where(shown, reward, 0.0)
            truncated[role] = now.copy() if truncating else np.zeros(now.shape, dtype=bool)
            if not truncating and self.focal is None:
                live = now.any(axis=1)
                anyone = live if anyone is None else anyone | live
        c.alive, c.obs = alive, obs
        if self.focal is not None:
            role, i = self.focal
            ended = terminated[role][:, i] | truncated[role][:, i]
        elif truncating:
            ended = np.ones(len(c.worlds), dtype=bool)
        else:
            ended = ~anyone
        return (rewards, terminated, truncated), ended

    def _observe(self, model: Model) -> dict[str, np.ndarray]:
        ctx = model.ctx
        return {
            role: np.asarray(model.observing_group(role).observe(ctx), dtype=np.float32)
            for role in self.roles
        }

    def _gather(self, field: str) -> dict[str, np.ndarray]:
        """A state field of every world, per role ``[B, ...]``, from the cohorts."""
        cohorts = self._cohorts
        if len(cohorts) == 1 and cohorts[0].identity:
            return getattr(cohorts[0], field)
        out: dict[str, np.ndarray] = {}
        for role in self.roles:
            parts = [(c.worlds[c.current], getattr(c, field)[role][c.current]) for c in cohorts]
            first = parts[0][1]
            arr = np.zeros((self.num_worlds, *first.shape[1:]), dtype=first.dtype)
            for worlds, rows in parts:
                arr[worlds] = rows
            out[role] = arr
        return out

    @staticmethod
    def _copy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in arrays.items()}

    # -- validation -----------------------------------------------------------------------------
    def _validated(
        self, actions: Mapping[str, Any], skip: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """``actions`` as ``{role: [B, n, *act]}`` in the spaces' dtypes, rows of slots that
        are not alive (or of worlds in ``skip``) replaced by a filler action. One vectorised
        check per role; raises before anything changes."""
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"step takes a mapping from role to an action array, got {show_value(actions)}"
            )
        unknown = [r for r in actions if r not in self.groups]
        if unknown:
            raise ValueError(f"unknown roles {sorted(map(str, unknown))}; roles are {self.roles}")
        alive = self._gather("alive")
        prefix = () if self._single else (self.num_worlds,)
        batch: dict[str, np.ndarray] = {}
        for role in self.roles:
            group = self.groups[role]
            live = alive[role] if skip is None or not skip.any() else alive[role] & ~skip[:, None]
            shape = (*prefix, group.n_agents, *self.action_shapes[role])
            if role not in actions:
                if live.any() and self._acts(role):
                    raise ValueError(
                        f"no actions for role {role!r}; give one array per role of shape {shape}"
                    )
                batch[role] = np.broadcast_to(
                    self._filler[role], (self.num_worlds, *shape[len(prefix) :])
                ).copy()
                continue
            batch[role] = self._checked(role, actions[role], shape, live)
        return batch

    def _acts(self, role: str) -> bool:
        return any(role in c.model.active_roles() for c in self._cohorts if c.current.any())

    def _checked(
        self, role: str, value: Any, shape: tuple[int, ...], live: np.ndarray
    ) -> np.ndarray:
        space = self.groups[role].action_space
        arr = value if type(value) is np.ndarray else as_numeric_array(value)
        if arr is None or arr.dtype.kind not in "biuf":
            raise ValueError(
                f"actions of role {role!r} must be real numbers of shape {shape} in {space}, "
                f"got {show_value(value)}"
            )
        if arr.shape != shape:
            raise ValueError(
                f"actions of role {role!r} have shape {arr.shape}; expected {shape} "
                f"({'one row per world and slot' if not self._single else 'one row per slot'}, "
                f"each in {space})"
            )
        arr = arr.reshape(self.num_worlds, self.groups[role].n_agents, *self.action_shapes[role])
        # Some row is invalid: a live one raises, the others (dead slots) are filled.
        if not all_valid(space, arr, self._bounds[role]):
            valid = valid_rows(space, arr.astype(np.float64))
            bad = ~valid & live
            if bad.any():
                b, i = (int(x[0]) for x in np.nonzero(bad))
                raise ValueError(
                    f"invalid action {show_value(arr[b, i].tolist())} for agent '{role}_{i}'"
                    f"{self._of_world(b)}: expected a finite value in {space}"
                )
            arr = self._fill_rows(role, arr.astype(np.float64), ~valid)
        return arr if arr.dtype == space.dtype else arr.astype(space.dtype)

    def _fill_rows(self, role: str, actions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``actions`` with the filler action in ``rows`` (a ``[k]`` or ``[k, n]`` mask)."""
        mask = rows.reshape(rows.shape + (1,) * (actions.ndim - rows.ndim))
        return np.where(mask, self._filler[role], actions).astype(actions.dtype)

    def _of_world(self, b: int) -> str:
        return "" if self._single else f" of world {b}"

    # -- policies -------------------------------------------------------------------------------
    def heuristic_actions(
        self, obs: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The model's reference policy for every slot, ``{role: [B, n_agents, *act]}``, from
        ``obs`` (default: the last observations of every role)."""
        obs = self._gather("obs") if obs is None else obs
        if len(self._cohorts) == 1:
            model = self._cohorts[0].model
            return {r: np.asarray(model.observing_group(r).heuristic(o)) for r, o in obs.items()}
        out = {}
        for role, o in obs.items():
            parts = []
            for c in self._cohorts:
                group = c.model.observing_group(role)
                worlds = c.worlds[c.current]
                parts.append((worlds, np.asarray(group.heuristic(o[worlds]))))
            arr = np.zeros((self.num_worlds, *parts[0][1].shape[1:]), dtype=parts[0][1].dtype)
            for worlds, rows in parts:
                arr[worlds] = rows
            out[role] = arr
        return out

    def random_actions(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniformly random actions for every slot of every world, drawn from ``rng``."""
        return {
            r: sample_actions(g.action_space, (self.num_worlds, g.n_agents), rng)
            for r, g in self.groups.items()
        }

    def metrics(self) -> dict[str, np.ndarray]:
        """Every stream's per-tick metrics now, ``[B]`` per key ``"<stream>.<metric>"``."""
        return self._world_metrics(lambda m: m.metrics_step())

    def episode_metrics(self) -> dict[str, np.ndarray]:
        """Every stream's end-of-episode metrics, ``[B]`` per key."""
        return self._world_metrics(lambda m: m.metrics_episode())

    def _world_metrics(self, fn: Callable[[Model], dict]) -> dict[str, np.ndarray]:
        if not self._started:
            raise RuntimeError("call reset() before metrics()")
        out: dict[str, np.ndarray] = {}
        for c in self._cohorts:
            for k, v in fn(c.model).items():
                arr = out.setdefault(k, np.zeros(self.num_worlds))
                arr[c.worlds[c.current]] = np.asarray(v, dtype=np.float64).reshape(-1)[c.current]
        return out

    def close(self) -> None:
        """Release resources (none are held)."""


def sample_actions(
    space: spaces.Space, shape: int | tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Uniform samples of ``space`` (Box with finite bounds, Discrete, MultiDiscrete), ``shape``
    of them (an int ``n`` or a leading shape such as ``(B, n)``)."""
    lead = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.start, space.start + space.n, size=lead)
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(0, space.nvec, size=(*lead, *space.nvec.shape))
    return rng.uniform(space.low, space.high, size=(*lead, *space.shape)).astype(space.dtype)


def valid_rows(space: spaces.Space, raw: np.ndarray) -> np.ndarray:
    """Which rows of ``raw`` lie in ``space``; ``raw`` is float64 ``[*lead, *act_shape]`` and
    the result ``[*lead]`` bool (lead = ``raw``'s dims before the action's own)."""
    own = len(_action_shape(space))
    axes = tuple(range(raw.ndim - own, raw.ndim))
    finite = np.isfinite(raw).all(axis=axes) if axes else np.isfinite(raw)
    if isinstance(space, spaces.Discrete):
        return (
            finite & (raw == np.round(raw)) & (raw >= space.start) & (raw < space.start + space.n)
        )
    if isinstance(space, spaces.MultiDiscrete):
        ok = (raw == np.round(raw)) & (raw >= 0) & (raw < space.nvec)
        return finite & ok.all(axis=axes)
    inside = (raw >= space.low) & (raw <= space.high)
    return finite & inside.all(axis=axes)


def all_valid(
    space: spaces.Space, arr: np.ndarray, bounds: tuple[float, float] | None = None
) -> bool:
    """Whether every row of ``arr`` (numeric, ``[..., *act_shape]``) lies in ``space``: the
    cheap check of the common case (NaN fails every comparison). ``bounds``: the Box's
    :func:`uniform_bounds`, if it has them (two reductions then, no temporaries)."""
    if arr.size == 0:
        return True
    integral = arr.dtype.kind in "biu"
    if isinstance(space, spaces.Discrete):
        ok = arr.min() >= space.start and arr.max() < space.start + space.n
        return bool(ok and (integral or np.array_equal(arr, np.round(arr))))
    if isinstance(space, spaces.MultiDiscrete):
        ok = arr.min() >= 0 and bool((arr < space.nvec).all())
        return bool(ok and (integral or np.array_equal(arr, np.round(arr))))
    if bounds is not None:
        return bool(arr.min() >= bounds[0] and arr.max() <= bounds[1])
    return bool(((arr >= space.low) & (arr <= space.high)).all())


def uniform_bounds(space: spaces.Space) -> tuple[float, float] | None:
    """``(low, high)`` of a Box whose entries all share them, else ``None``."""
    if not isinstance(space, spaces.Box):
        return None
    low, high = np.asarray(space.low), np.asarray(space.high)
    if low.size and (low == low.flat[0]).all() and (high == high.flat[0]).all():
        return float(low.flat[0]), float(high.flat[0])
    return None


def _action_shape(space: spaces.Space) -> tuple[int, ...]:
    return space.shape if not isinstance(space, spaces.Discrete) else ()


def _filler(space: spaces.Space) -> np.ndarray:
    """A valid action of ``space`` for rows nobody plays (dead slots, finished worlds)."""
    if isinstance(space, spaces.Discrete):
        return np.asarray(space.start, dtype=np.float64)
    if isinstance(space, spaces.MultiDiscrete):
        return np.zeros(space.nvec.shape)
    return np.clip(np.zeros(space.shape), space.low, space.high).astype(np.float64)


def _check_supported_space(role: str, space: spaces.Space) -> None:
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return
    if (
        isinstance(space, spaces.Box)
        and np.all(np.isfinite(space.low))
        and np.all(np.isfinite(space.high))
    ):
        return
    raise TypeError(
        f"role {role!r}: action space {space} is not supported; use a bounded Box, "
        "Discrete or MultiDiscrete"
    )


def as_numeric_array(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array of booleans, integers or floats (its own dtype), else
    ``None``: strings, bytes, complex numbers, ``None``, objects and integers beyond int64 are
    refused; tensors are detached first."""
    if isinstance(value, (str, bytes)):
        return None
    detach = getattr(value, "detach", None)
    if callable(detach) and hasattr(value, "numpy"):  # a torch tensor, maybe requiring grad
        value = detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
    return arr if arr.dtype.kind in "biuf" else None


def as_real_array(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array if it holds only real numbers, else ``None`` (see
    :func:`as_numeric_array`)."""
    arr = as_numeric_array(value)
    return None if arr is None else arr.astype(np.float64, copy=False)
