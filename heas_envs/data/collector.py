"""Recording what happens in batched worlds: Mesa's ``DataCollector``, one row per world.

A :class:`DataCollector` holds named *model reporters* (one value per world and collection)
and *agent reporters* (one value per agent and collection). Each :meth:`DataCollector.collect`
call records one row per world, and one row per agent of every world: the agents alive after
the step, and those that died in it (their last reward is in that row; ``alive`` is false).

Model reporters (``name -> reporter``):

- a string: a per-step metric of the env, a key of :meth:`VectorWorldsEnv.metrics()
  <heas_envs.env.VectorWorldsEnv.metrics>` such as ``"price.price"``;
- a function ``f(env) -> [B]`` of the env given to :meth:`~DataCollector.collect` (a scalar
  is accepted for one world).

Agent reporters (``name -> reporter``):

- ``"reward"``: the agent's reward in the step whose result is given to ``collect``
  (``None`` without a result: the state right after a reset has no reward);
- ``"alive"``: whether the agent is alive after the step;
- ``"obs[k]"``: feature ``k`` of the agent's observation (flattened);
- a function ``f(env, role) -> [B, n_agents]`` (``[n_agents]`` for one world).

``collect`` takes the batched worlds (:class:`~heas_envs.env.VectorWorldsEnv`, from
:func:`heas_envs.make_vec`), a PettingZoo env of :func:`heas_envs.make_parallel` (one world,
through its ``worlds``) or a scenario wrapper of either; strings are read from the worlds
under any wrapper (the model's own observations, before observation noise).

**As a callback.** A collector is a :class:`~heas_envs.core.callbacks.Callback`: registered
on an env (``env.add_callback(dc)``, ``make_vec(..., callbacks=[dc])``) or given to a runner
(``Tournament(..., callbacks=[dc])``, :func:`agents.rollout.play_episodes`), it collects what
calling :meth:`~DataCollector.collect` by hand would: the started worlds after a ``reset()``
(``collect(env, worlds=...)``; for a runner, after its reset) and, at the end of every
``period``-th step, every world with the step's result (``collect(env, result=out)``).

Where we differ from Mesa: rows carry a ``World`` (the index of the world in the batch) next to
``Step``; ``AgentID`` is the PettingZoo id ``"<role>_<i>"``; ``model_reporters=None`` records
every per-step metric (Mesa records nothing), ``{}`` records none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from heas_envs.core.callbacks import Callback
from heas_envs.core.params import check_int, show_value
from heas_envs.env.vector import VectorWorldsEnv

if TYPE_CHECKING:
    import pandas as pd

#: The agent reporters given by name (besides ``"obs[k]"``).
AGENT_FIELDS = ("reward", "alive")
#: The columns every row has; no reporter may take their names.
MODEL_COLUMNS = ("Step", "World")
AGENT_COLUMNS = ("Step", "World", "AgentID")

ModelReporter = str | Callable[[Any], Any]
AgentReporter = str | Callable[[Any, str], Any]
_OBS = re.compile(r"obs\[(\d{1,6})\]")


class DataCollector(Callback):
    """Model and agent reporters over batched worlds (see the module docs).

    Example:
        >>> env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=3)
        >>> dc = DataCollector({"price": "price.price"}, {"reward": "reward"})
        >>> obs, _ = env.reset(seed=[1, 2])
        >>> dc.collect(env, step=0)
        >>> out = env.step(env.heuristic_actions(obs))
        >>> dc.collect(env, step=1, result=out)
        >>> dc.get_model_vars_dataframe()  # index (Step, World), a column "price"
        >>> env.add_callback(DataCollector({"price": "price.price"}))  # collects by itself

    Args:
        model_reporters: Name -> metric key or ``f(env) -> [B]``; ``None``: every per-step
            metric of the env, named by its key.
        agent_reporters: Name -> ``"reward"``, ``"alive"``, ``"obs[k]"`` or
            ``f(env, role) -> [B, n_agents]``; ``None``: no agent rows.
        roles: The roles whose agents get rows (default: every role).
        period: As a callback, collect at the end of every ``period``-th step (counted from
            the last reset); resets are always collected.

    Raises:
        ValueError: A reporter that is neither a string nor callable, an unknown agent field,
            a name taken by a row column (``Step``, ``World``, ``AgentID``), bad roles, or a
            ``period`` that is not a positive integer.
    """

    def __init__(
        self,
        model_reporters: Mapping[str, ModelReporter] | None = None,
        agent_reporters: Mapping[str, AgentReporter] | None = None,
        roles: Sequence[str] | None = None,
        *,
        period: int = 1,
    ) -> None:
        self.period = check_int("period", period, 1)
        self._in_step = False
        self._steps = 0
        self.model_reporters = _checked_reporters("model_reporters", model_reporters)
        self.agent_reporters = _checked_reporters("agent_reporters", agent_reporters) or {}
        for name, reporter in self.agent_reporters.items():
            if isinstance(reporter, str) and reporter not in AGENT_FIELDS:
                if not _OBS.fullmatch(reporter):
                    raise ValueError(
                        f"agent_reporters[{name!r}]: unknown field {show_value(reporter)}; "
                        f"use one of {list(AGENT_FIELDS)}, 'obs[k]' (feature k of the "
                        "observation) or a function f(env, role) -> [B, n_agents]"
                    )
        taken = set(AGENT_COLUMNS) & ({*(self.model_reporters or {}), *self.agent_reporters})
        if taken:
            raise ValueError(f"reporter names {sorted(taken)} are row columns; choose other names")
        if roles is not None and (
            isinstance(roles, str)
            or not isinstance(roles, Sequence)
            or not all(isinstance(r, str) for r in roles)
        ):
            raise ValueError(f"roles must be a list of role names or None, got {show_value(roles)}")
        self.roles = None if roles is None else list(roles)
        self.model_rows: list[dict[str, Any]] = []
        self.agent_rows: list[dict[str, Any]] = []

    def collect(
        self,
        env: Any,
        step: int | Sequence[int] | None = None,
        result: Any = None,
        worlds: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        """Record one row per world in ``worlds`` (and per agent, with agent reporters).

        Args:
            env: Batched worlds, a PettingZoo env of this package, or a scenario wrapper.
            step: The ``Step`` of the rows: one int, one per world, or ``None`` (each world's
                tick count, :meth:`~heas_envs.env.VectorWorldsEnv.ticks`).
            result: What the step just taken returned (a ``VectorStep`` or ``ArrayStep``):
                the rewards of ``"reward"`` and the agents that died in the step. ``None``
                right after a reset.
            worlds: The worlds to record (indices, or a ``[B]`` bool mask); default all.

        Raises:
            ValueError: An unknown metric (listing the env's metrics), a role that is not the
                env's, a reporter returning the wrong shape, or an ``obs[k]`` beyond a role's
                observation.
        """
        engine = worlds_of(env)
        B = engine.num_worlds
        chosen = _chosen_worlds(worlds, B)
        steps = _steps(step, engine, B)
        if not len(chosen):
            return
        metrics = engine.metrics()
        reporters = self.model_reporters
        if reporters is None:
            reporters = {k: k for k in metrics}
        columns: dict[str, list[Any]] = {}
        for name, reporter in reporters.items():
            if isinstance(reporter, str):
                if reporter not in metrics:
                    raise ValueError(
                        f"model_reporters[{name!r}]: {reporter!r} is not a metric of this env; "
                        f"its metrics: {sorted(metrics)}"
                    )
                values = metrics[reporter]
            else:
                values = _per_world(reporter(env), (B,), f"model_reporters[{name!r}]")
            columns[name] = values[chosen].tolist()
        for j, b in enumerate(chosen.tolist()):
            row: dict[str, Any] = {"Step": steps[b], "World": b}
            row.update((name, values[j]) for name, values in columns.items())
            self.model_rows.append(row)
        if self.agent_reporters:
            self._collect_agents(env, engine, steps, result, chosen)

    # -- as a callback -----------------------------------------------------------------------
    def on_episode_start(self, env: Any, worlds: np.ndarray) -> None:
        """After a reset (not an automatic one, which the step's rows record): collect the
        started worlds."""
        if not self._in_step:
            self._steps = 0
            self.collect(env, worlds=worlds)

    def on_step_start(self, env: Any, actions: dict[str, np.ndarray]) -> None:
        """Note that a step is under way."""
        self._in_step = True

    def on_step_end(self, env: Any, result: Any) -> None:
        """Collect every world with the step's result, every ``period``-th step.

        Raises:
            NotImplementedError: On worlds with ``autoreset="same_step"``: the worlds that
                ended are already reset when the step's hooks end, so their last step could
                not be recorded (use ``"next_step"``, or call :meth:`collect` yourself).
        """
        self._in_step = False
        if "final_obs" in result.info:
            raise NotImplementedError(
                "DataCollector as a callback records no episode's last step on worlds with "
                'autoreset="same_step" (they are reset before the step ends); use '
                'autoreset="next_step" or call collect() yourself'
            )
        self._steps += 1
        if self._steps % self.period == 0:
            self.collect(env, result=result)

    def _collect_agents(
        self, env: Any, engine: VectorWorldsEnv, steps: list[int], result: Any, chosen: np.ndarray
    ) -> None:
        roles = engine.roles if self.roles is None else self.roles
        unknown = [r for r in roles if r not in engine.roles]
        if unknown:
            raise ValueError(f"roles {unknown} are not roles of this env; roles are {engine.roles}")
        B = engine.num_worlds
        alive = engine.alive
        for role in roles:
            n = engine.groups[role].n_agents
            shown = alive[role]
            if result is not None:  # the agents that died in the step get their last row
                shown = shown | _per_world(result.terminated[role], (B, n), "result.terminated")
            values = {
                name: self._agent_values(env, engine, role, reporter, result, alive, name)
                for name, reporter in self.agent_reporters.items()
            }
            for b in chosen.tolist():
                slots = np.flatnonzero(shown[b]).tolist()
                if not slots:
                    continue
                columns = {name: v[b, slots].tolist() for name, v in values.items()}
                for k, i in enumerate(slots):
                    row: dict[str, Any] = {"Step": steps[b], "World": b, "AgentID": f"{role}_{i}"}
                    row.update((name, column[k]) for name, column in columns.items())
                    self.agent_rows.append(row)

    def _agent_values(
        self,
        env: Any,
        engine: VectorWorldsEnv,
        role: str,
        reporter: AgentReporter,
        result: Any,
        alive: Mapping[str, np.ndarray],
        name: str,
    ) -> np.ndarray:
        B, n = engine.num_worlds, engine.groups[role].n_agents
        if reporter == "alive":
            return alive[role]
        if reporter == "reward":
            if result is None:
                return np.full((B, n), None, dtype=object)
            return _per_world(result.rewards[role], (B, n), "result.rewards")
        if isinstance(reporter, str):
            k = obs_feature(reporter)
            obs = engine.observations[role].reshape(B, n, -1)
            if k >= obs.shape[2]:
                raise ValueError(obs_beyond_message(name, reporter, role, obs.shape[2]))
            return obs[:, :, k]
        return _per_world(reporter(env, role), (B, n), f"agent_reporters[{name!r}]")

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The model rows as a DataFrame indexed by ``(Step, World)``."""
        import pandas as pd

        frame = pd.DataFrame(self.model_rows, columns=self._columns(self.model_rows, MODEL_COLUMNS))
        return frame.set_index(list(MODEL_COLUMNS))

    def get_agent_vars_dataframe(self) -> pd.DataFrame:
        """The agent rows as a DataFrame indexed by ``(Step, World, AgentID)``."""
        import pandas as pd

        frame = pd.DataFrame(self.agent_rows, columns=self._columns(self.agent_rows, AGENT_COLUMNS))
        return frame.set_index(list(AGENT_COLUMNS))

    def _columns(self, rows: list[dict[str, Any]], index: Sequence[str]) -> list[str]:
        names = list(index)
        for row in rows:
            names.extend(k for k in row if k not in names)
        return names


def obs_feature(reporter: Any) -> int | None:
    """``k`` of an agent reporter ``"obs[k]"``, else ``None``."""
    match = _OBS.fullmatch(reporter) if isinstance(reporter, str) else None
    return None if match is None else int(match.group(1))


def obs_beyond_message(name: str, reporter: str, role: str, size: int) -> str:
    """The error of an ``"obs[k]"`` reporter beyond the observation of ``role``."""
    return (
        f"agent_reporters[{name!r}]: {reporter} is beyond the observation of role {role!r} "
        f"({size} features); report other roles only (DataCollector's roles, batch_run's "
        "agent_roles)"
    )


def worlds_of(env: Any) -> VectorWorldsEnv:
    """The batched worlds under ``env``: itself, a PettingZoo env's ``worlds``, or what a
    chain of wrappers (``venv``, ``unwrapped``, ``env``) holds.

    Raises:
        TypeError: Nothing of this package is under ``env``.
    """
    seen = env
    for _ in range(64):
        if isinstance(env, VectorWorldsEnv):
            return env
        inner = getattr(env, "worlds", None)
        if not isinstance(inner, VectorWorldsEnv):
            inner = getattr(env, "venv", None)
        if inner is None:
            unwrapped = getattr(env, "unwrapped", None)
            inner = unwrapped if unwrapped is not env else None
        if inner is None:
            inner = getattr(env, "env", None)
        if inner is None:
            break
        env = inner
    raise TypeError(
        "collect takes batched worlds (heas_envs.make_vec), a PettingZoo env of "
        f"heas_envs.make_parallel or a wrapper of either; got {type(seen).__name__}"
    )


def _checked_reporters(what: str, reporters: Any) -> dict[str, Any] | None:
    if reporters is None:
        return None
    if not isinstance(reporters, Mapping):
        raise ValueError(
            f"{what} must be a mapping from name to reporter, got {show_value(reporters)}"
        )
    for name, reporter in reporters.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: names are non-empty strings, got {show_value(name)}")
        if not isinstance(reporter, str) and not callable(reporter):
            raise ValueError(
                f"{what}[{name!r}] must be a string or a function, got {show_value(reporter)}"
            )
    return dict(reporters)


def _chosen_worlds(worlds: Any, B: int) -> np.ndarray:
    if worlds is None:
        return np.arange(B)
    arr = np.asarray(worlds)
    if arr.dtype == bool:
        if arr.shape != (B,):
            raise ValueError(f"a worlds mask has one entry per world ({B}), got shape {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (
        arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= B)
    ):
        raise ValueError(
            f"worlds must be indices in [0, {B - 1}] or a [B] mask, got {show_value(worlds)}"
        )
    return arr.astype(np.int64)


def _steps(step: Any, engine: VectorWorldsEnv, B: int) -> list[int]:
    if step is None:
        return engine.ticks().tolist()
    arr = np.asarray(step)
    if arr.dtype.kind not in "iu" or arr.shape not in ((), (B,)):
        raise ValueError(f"step must be an integer or one per world ({B}), got {show_value(step)}")
    return np.broadcast_to(arr, (B,)).astype(np.int64).tolist()


def _per_world(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as an array of ``shape`` (``[B, ...]``); one world's value may lack ``B``."""
    arr = np.asarray(value)
    if arr.shape == shape:
        return arr
    if shape[0] == 1 and arr.shape == shape[1:]:
        return arr.reshape(shape)
    raise ValueError(f"{what} must have shape {shape} (one value per world), got {arr.shape}")
