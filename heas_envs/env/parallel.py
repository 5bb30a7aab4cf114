"""The PettingZoo ``ParallelEnv`` over a hierarchical :class:`~heas_envs.core.Model`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec_wrapper
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from heas_envs.core.callbacks import Callback
from heas_envs.core.model import LayerTrace, Model
from heas_envs.core.params import check_int, check_seed, show_value
from heas_envs.core.stream import AgentGroup
from heas_envs.env.vector import (
    Snapshot,
    VectorStep,
    VectorWorldsEnv,
    as_real_array,
    sample_actions,
    valid_rows,
)

__all__ = ["ArrayStep", "HierarchicalParallelEnv", "as_real_array", "sample_actions"]

RENDER_MODES = ("human", "ansi", "rgb_array")


class ArrayStep(NamedTuple):
    """The result of :meth:`HierarchicalParallelEnv.step_arrays`, per role.

    Every field maps a role to an array over all its slots (``[n_agents, ...]``).
    ``alive`` says which slots hold a living agent after the step; rows of slots that were
    neither alive before the step nor born in it are zeros. An agent born in the step that
    ends the episode by truncation is not reported (it would never act).
    """

    obs: dict[str, np.ndarray]
    rewards: dict[str, np.ndarray]
    terminated: dict[str, np.ndarray]
    truncated: dict[str, np.ndarray]
    alive: dict[str, np.ndarray]


class HierarchicalParallelEnv(ParallelEnv):
    """A PettingZoo ``ParallelEnv`` whose layers run as sub-steps of one ``step``.

    One ``step(actions)`` is one tick of the model (or, for models built with
    ``decision="layer"``, one decision layer): layer 1, then layer 2, ... in order, each
    agent group applying its agents' actions at its own layer. Agent ids are
    ``"<role>_<i>"``.

    Beyond the PettingZoo API:

    - :meth:`step_arrays` / :meth:`reset_arrays`: the array API under the dict API,
      actions and results as one array per role over all slots.
    - :attr:`substep_trace`: the per-layer sub-step trace of the last step, a list of
      :class:`~heas_envs.core.LayerTrace` (tick, layer name, streams, metrics right after
      that layer ran).
    - :meth:`metrics` / :meth:`episode_metrics`: the streams' metrics now and for the episode.
    - :meth:`heuristic_actions` / :meth:`random_actions`: the model's reference policy and
      random play, per role.

    Args:
        model: The model, or a function that builds it.
        max_steps: Ticks after which every agent is truncated.
        render_mode: ``None``, ``"human"`` (print the text), ``"ansi"`` (return it) or
            ``"rgb_array"`` (return a picture, ``[H, W, 3]`` uint8). Another value is kept
            with a warning, as ``gymnasium.make`` does, and renders nothing.
        max_cycles: PettingZoo's name of ``max_steps`` (give one of the two).
    """

    metadata: dict[str, Any] = {
        "name": "hierarchical_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        model: Model | Callable[[], Model],
        max_steps: int | None = None,
        render_mode: str | None = None,
        max_cycles: int | None = None,
    ) -> None:
        self.model = model if isinstance(model, Model) else model()
        if not isinstance(self.model, Model):
            raise TypeError(
                f"model must be a Model or a function returning one, got {self.model!r}"
            )
        if self.model.n_worlds != 1:
            raise ValueError(
                f"a HierarchicalParallelEnv steps one world; got a model of {self.model.n_worlds}"
            )
        steps = with_max_cycles({"max_steps": max_steps}, max_cycles)["max_steps"]
        self.max_steps = check_int("max_steps", 200 if steps is None else steps, 1)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.worlds = VectorWorldsEnv(
            None, 1, max_steps=self.max_steps, autoreset=None, model=self.model
        )
        self.roles: list[str] = self.worlds.roles
        self._role_group: dict[str, AgentGroup] = self.worlds.groups
        self.possible_agents = [
            f"{role}_{i}" for role in self.roles for i in range(self._role_group[role].n_agents)
        ]
        self._slot: dict[str, tuple[str, int]] = {
            f"{role}_{i}": (role, i)
            for role in self.roles
            for i in range(self._role_group[role].n_agents)
        }
        self._names: dict[str, list[str]] = {
            role: [f"{role}_{i}" for i in range(self._role_group[role].n_agents)]
            for role in self.roles
        }
        self.observation_spaces = {
            a: self._role_group[self._slot[a][0]].observation_space for a in self.possible_agents
        }
        self.action_spaces = {
            a: self._role_group[self._slot[a][0]].action_space for a in self.possible_agents
        }
        self.state_space = _state_space(self._role_group.values())
        self._agents: list[str] | None = []
        self._alive: dict[str, np.ndarray] = {}
        self._obs: dict[str, np.ndarray] = {}
        self._history: list[dict[str, float]] = []
        self._done = True
        self._live: dict[str, tuple[np.ndarray, list[str]]] | None = None
        self._agent_set: set[str] = set()
        self._births = False
        self._token = object()  # marks this env's snapshots

    @property
    def agents(self) -> list[str]:  # type: ignore[override]
        """The live agents (PettingZoo's ``agents``); built on first use after each step, so
        the array API never builds it."""
        if self._agents is None:
            self._agents = [] if self._done else self._live_agents()
        return self._agents

    # -- spaces -----------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent`` (the same object on every call)."""
        return self.observation_spaces[self._known(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent`` (the same object on every call)."""
        return self.action_spaces[self._known(agent)]

    def _known(self, agent: str) -> str:
        if agent not in self._slot:
            raise ValueError(
                f"unknown agent {agent!r}; agents are {_preview(self.possible_agents)}"
            )
        return agent

    def slot(self, agent: str) -> tuple[str, int]:
        """The role of ``agent`` and its index among the role's slots."""
        return self._slot[self._known(agent)]

    # -- callbacks ---------------------------------------------------------------------------
    def add_callback(self, callback: Callback) -> None:
        """Register ``callback`` on the world (:meth:`VectorWorldsEnv.add_callback`): its
        hooks get the world, ``self.worlds``, as ``env`` (see :mod:`heas_envs.core.callbacks`).
        """
        self.worlds.add_callback(callback)

    def remove_callback(self, callback: Callback) -> None:
        """Unregister ``callback`` (:meth:`VectorWorldsEnv.remove_callback`)."""
        self.worlds.remove_callback(callback)

    @property
    def callbacks(self) -> list[Callback]:
        """The registered callbacks (a copy)."""
        return self.worlds.callbacks

    def group(self, role: str) -> AgentGroup:
        """The agent group that defines ``role`` (its spaces, heuristic and slot count)."""
        if role not in self._role_group:
            raise ValueError(f"unknown role {role!r}; roles are {self.roles}")
        return self._role_group[role]

    @property
    def observations(self) -> dict[str, np.ndarray]:
        """The last observations, per role over all slots (zeros for dead or unborn slots).

        The arrays are copies: editing them changes nothing in the env.
        """
        return _copies(self._obs)

    @property
    def ever_alive(self) -> dict[str, np.ndarray]:
        """Per role, which slots have held a living agent in this episode."""
        return {r: a[0] for r, a in self.worlds.ever_alive.items()}

    @property
    def record_trace(self) -> bool:
        """Whether each step keeps its per-layer trace (:attr:`substep_trace`); off by
        default: set it to ``True`` before the steps whose trace you want."""
        return self.worlds.record_trace

    @record_trace.setter
    def record_trace(self, value: bool) -> None:
        self.worlds.record_trace = value

    @property
    def tick(self) -> int:
        """Ticks completed in this episode."""
        return self.model.ctx.tick

    @property
    def substep_trace(self) -> list[LayerTrace]:
        """The layers run by the last step, each with its metrics right after it ran (kept
        only with :attr:`record_trace` on)."""
        return [
            LayerTrace(t.tick, t.layer, t.streams, {k: _scalar(v) for k, v in t.metrics.items()})
            for t in self.worlds.substep_trace
        ]

    # -- array API --------------------------------------------------------------------------
    def reset_arrays(
        self, seed: int | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Reset; return ``(obs, alive)`` per role over all slots (copies of the env's state).

        Raises:
            ValueError: ``seed`` is not ``None`` or an integer in ``[0, 2**63 - 1]``.
        """
        obs, info = self.worlds.reset(check_seed(seed))
        self._obs = {r: o[0] for r, o in self.worlds._gather("obs").items()}
        self._alive = {r: a[0] for r, a in self.worlds._gather("alive").items()}
        self._done = False
        self._agents = None
        self._live = None
        self._history = []
        self._record_history()
        return _copies(self._obs), {r: a[0] for r, a in info["alive"].items()}

    def step_arrays(self, actions: Mapping[str, np.ndarray]) -> ArrayStep:
        """One step with actions given as one array per role, ``[n_agents, *act_shape]``.

        Rows of dead or unborn slots are ignored. Invalid actions of live agents raise a
        ``ValueError`` before anything changes. The returned arrays are copies.
        """
        if self._done:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"step_arrays takes a mapping from role to an action array, got {show_value(actions)}"
            )
        return self._advance(self.worlds.step(actions))

    def _advance(self, out: VectorStep) -> ArrayStep:
        alive = self.worlds._gather("alive")  # the engine's own state (not the copies in out)
        previous = self._alive
        self._obs = {r: o[0] for r, o in self.worlds._gather("obs").items()}
        self._alive = {r: a[0] for r, a in alive.items()}
        self._done = bool(out.info["ended"][0])
        self._agents = None
        changed = self.worlds.population_changed
        self._births = changed and any((self._alive[r] & ~previous[r]).any() for r in self.roles)
        if changed:
            self._live = None
        self._record_history()
        return ArrayStep(
            {r: o[0].copy() for r, o in out.obs.items()},
            {r: v[0] for r, v in out.rewards.items()},
            {r: v[0] for r, v in out.terminated.items()},
            {r: v[0] for r, v in out.truncated.items()},
            {r: a[0] for r, a in out.alive.items()},
        )

    def _live_agents(self) -> list[str]:
        return [
            self._names[role][i]
            for role in self.roles
            for i in np.flatnonzero(self._alive[role]).tolist()
        ]

    def _action_shape(self, role: str) -> tuple[int, ...]:
        return self.worlds.action_shapes[role]

    # -- snapshots --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The exact state of the env: :meth:`restore` then stepping repeats, bit for bit,
        what stepping from here would do (through the array and the dict API alike).

        It holds the world's snapshot (:meth:`VectorWorldsEnv.snapshot`: the model's context,
        the streams' private state, the generator, the tick) and the env's own bookkeeping:
        whether the episode is over, whether the last step had births, and the metrics
        history of ``rgb_array`` rendering; the live-agent lists are rebuilt from the alive
        masks.

        Raises:
            RuntimeError: ``reset`` was never called.
        """
        worlds = self.worlds.snapshot()
        own = (self._done, self._births, copy.deepcopy(self._history))
        return Snapshot(self._token, (worlds, own))

    def restore(self, snap: Snapshot) -> None:
        """Put the env back in the state of ``snap`` (which stays valid for more restores).

        Raises:
            ValueError: ``snap`` is not a snapshot taken by this env.
        """
        if not isinstance(snap, Snapshot) or snap._owner is not self._token:
            raise ValueError(
                f"restore takes a Snapshot taken by this env's snapshot(), got {show_value(snap)}"
            )
        worlds, (done, births, history) = snap._state
        self.worlds.restore(worlds)
        self.model = self.worlds.model
        self._obs = {r: o[0] for r, o in self.worlds._gather("obs").items()}
        self._alive = {r: a[0] for r, a in self.worlds._gather("alive").items()}
        self._done, self._births = done, births
        self._history = copy.deepcopy(history)
        self._agents = None
        self._live = None

    # -- dict API (PettingZoo) --------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode; the same seed repeats it exactly."""
        obs, _ = self.reset_arrays(seed)
        slot = self._slot
        return {a: obs[slot[a][0]][slot[a][1]] for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One tick (or decision layer) with one action per live agent.

        Actions keyed to known agents that are not alive (dead, or not born yet) are ignored,
        as PettingZoo's own conversions do; an unknown id, a missing live agent or an invalid
        action raises a ``ValueError`` before anything changes.
        """
        if self._done:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"step takes a dict from live agent id to action, got {show_value(actions)}"
            )
        if not actions.keys() <= self._slot.keys():
            unknown = [a for a in actions if a not in self._slot]
            raise ValueError(
                f"actions for unknown agents {unknown[:8]!r}; agents are "
                f"{_preview(self.possible_agents)}"
            )
        live = self._live_index()
        if not actions.keys() >= self._agent_set:
            missing = [a for a in self.agents if a not in actions]
            raise ValueError(
                f"no action for live agents {_preview(missing)}; every live agent acts"
            )
        batch: dict[str, np.ndarray] = {}
        for role in self.roles:
            idx, names = live[role]
            n = self._role_group[role].n_agents
            if len(idx) == n:
                batch[role] = self._stack_actions(role, names, actions)
                continue
            rows = np.zeros((n, *self._action_shape(role)))
            if len(idx):
                rows[idx] = self._stack_actions(role, names, actions)
            batch[role] = rows
        before = self.agents
        out = self._advance(self.worlds.step(batch))
        if self._births:
            previous = set(before)
            born = [a for a in self._live_agents() if a not in previous]
            return self._dicts([*before, *born], out)
        rew, term, trunc, obs = {}, {}, {}, {}
        for role in self.roles:  # no births: the agents shown are those alive before the step
            idx, names = live[role]
            if not len(idx):
                continue
            rew.update(zip(names, out.rewards[role][idx].tolist()))
            term.update(zip(names, out.terminated[role][idx].tolist()))
            trunc.update(zip(names, out.truncated[role][idx].tolist()))
            obs.update(zip(names, out.obs[role][idx]))
        return obs, rew, term, trunc, {a: {} for a in before}

    def _dicts(self, shown: list[str], out: ArrayStep) -> tuple[dict, dict, dict, dict, dict]:
        """The dict API's step results for the agents ``shown``."""
        rewards = {r: v.tolist() for r, v in out.rewards.items()}
        terminated = {r: v.tolist() for r, v in out.terminated.items()}
        truncated = {r: v.tolist() for r, v in out.truncated.items()}
        slots = [self._slot[a] for a in shown]
        rew = {a: rewards[r][i] for a, (r, i) in zip(shown, slots)}
        term = {a: terminated[r][i] for a, (r, i) in zip(shown, slots)}
        trunc = {a: truncated[r][i] for a, (r, i) in zip(shown, slots)}
        obs = {a: out.obs[r][i] for a, (r, i) in zip(shown, slots)}
        return obs, rew, term, trunc, {a: {} for a in shown}

    def _live_index(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Per role, the live slots' indices and names (rebuilt only when someone was born
        or died)."""
        if self._live is None:
            self._live = {}
            for role in self.roles:
                idx = np.flatnonzero(self._alive[role])
                self._live[role] = (idx, [self._names[role][i] for i in idx.tolist()])
            self._agent_set = {a for _, names in self._live.values() for a in names}
        return self._live

    def check_action(self, agent: str, action: Any) -> np.ndarray:
        """``action`` of ``agent`` as a float64 array, if it lies in the agent's space.

        Changes nothing; the Gymnasium and AEC views call it before they change anything.

        Raises:
            ValueError: ``agent`` is unknown, or ``action`` is not a finite value of the
                agent's action space (the message names both).
        """
        role, _ = self.slot(agent)
        space = self._role_group[role].action_space
        shape = self._action_shape(role)
        row = as_real_array(action)
        if row is None:
            problem = f"{show_value(action)} for agent {agent!r}: expected real numbers"
        elif row.shape != shape:
            problem = f"{show_value(row.tolist())} for agent {agent!r}: expected shape {shape}"
        elif not valid_rows(space, row[None])[0]:
            problem = f"{show_value(row.tolist())} for agent {agent!r}: expected a finite value"
        else:
            return row
        raise ValueError(f"invalid action {problem} in {space}")

    def _stack_actions(self, role: str, names: list[str], actions: Mapping[str, Any]) -> np.ndarray:
        """The actions of the live agents ``names`` of ``role`` as one array (shape-checked)."""
        shape = (len(names), *self._action_shape(role))
        stacked = as_real_array([actions[a] for a in names])
        if stacked is not None and stacked.shape == shape:
            return stacked
        return np.stack([self.check_action(a, actions[a]) for a in names])

    # -- the rest of the API ----------------------------------------------------------------
    def state(self) -> np.ndarray:
        """The global state: every slot's observation, role by role, flattened."""
        self._require_reset("state()")
        return np.concatenate([self._obs[r].reshape(-1) for r in self.roles]).astype(np.float32)

    def render(self) -> str | np.ndarray | None:
        """Render the current state as ``render_mode`` says.

        ``"ansi"``: the tick and the current metrics as text (returned); ``"human"``: the same
        text printed; ``"rgb_array"``: a picture ``[H, W, 3]`` of ``uint8`` (see
        :meth:`render_rgb`); ``None`` or another mode: a warning, nothing rendered.
        """
        if self.render_mode is None or self.render_mode not in RENDER_MODES:
            gymnasium.logger.warn(
                f"render() called with render_mode={self.render_mode!r}; pass one of "
                f"{list(RENDER_MODES)} to the constructor"
            )
            return None
        self._require_reset("render()")
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        text = self.render_text()
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def render_text(self) -> str:
        """The tick, the live agents and every current metric, one per line."""
        self._require_reset("render_text()")
        lines = [
            f"{self.metadata['name']} tick {self.tick}/{self.max_steps}, agents {len(self.agents)}"
        ]
        lines += [f"  {k} = {v:.6g}" for k, v in self.metrics().items()]
        return "\n".join(lines)

    def render_rgb(self) -> np.ndarray:
        """A picture of the state, ``[H, W, 3]`` ``uint8``: the episode's metrics as lines
        (each scaled to its own range) over bars of every role's last observation, averaged
        over its live agents. Models with a spatial state draw their grid instead."""
        self._require_reset("render_rgb()")
        from heas_envs.env.render import metrics_and_bars

        means = {
            r: o[self._alive[r]].mean(axis=0) if self._alive[r].any() else np.zeros(o.shape[1:])
            for r, o in self._obs.items()
        }
        return metrics_and_bars(self._history, means)

    def _record_history(self) -> None:
        if self.render_mode == "rgb_array":  # only a picture needs the metrics' history
            self._history.append(self.metrics())

    def _require_reset(self, what: str) -> None:
        if not self._obs:
            raise RuntimeError(f"call reset() before {what}")

    def close(self) -> None:
        """Release resources (none are held)."""

    def metrics(self) -> dict[str, float]:
        """Every stream's per-tick metrics now, keyed ``"<stream>.<metric>"``."""
        self._require_reset("metrics()")
        return {k: _scalar(v) for k, v in self.model.metrics_step().items()}

    def episode_metrics(self) -> dict[str, float]:
        """Every stream's end-of-episode metrics, keyed ``"<stream>.<metric>"``."""
        self._require_reset("episode_metrics()")
        return {k: _scalar(v) for k, v in self.model.metrics_episode().items()}

    def heuristic_actions(
        self, obs: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The model's reference policy for every slot of the roles in ``obs`` (default: the
        last observations of every role)."""
        obs = self._obs if obs is None else obs
        return {r: np.asarray(self.model.observing_group(r).heuristic(o)) for r, o in obs.items()}

    def agent_actions(self, per_role: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-role action arrays (as from :meth:`heuristic_actions`) as a dict by live agent."""
        return {a: per_role[r][i] for a in self.agents for r, i in [self._slot[a]]}

    def random_actions(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniformly random actions for every slot, per role, drawn from ``rng``."""
        return {
            r: sample_actions(g.action_space, g.n_agents, rng) for r, g in self._role_group.items()
        }


def with_max_cycles(params: Mapping[str, Any], max_cycles: Any = None) -> dict[str, Any]:
    """``params`` with PettingZoo's ``max_cycles`` given as ``max_steps`` (its name here).

    Raises:
        ValueError: Both ``max_steps`` and ``max_cycles`` are given.
    """
    out = dict(params)
    if max_cycles is None:
        return out
    if out.get("max_steps") is not None:
        raise ValueError(
            f"give max_steps or max_cycles (PettingZoo's name for it), not both; got "
            f"max_steps={out['max_steps']!r} and max_cycles={max_cycles!r}"
        )
    out["max_steps"] = max_cycles
    return out


def pettingzoo_constructors(
    cls: type[HierarchicalParallelEnv],
) -> tuple[Callable[..., HierarchicalParallelEnv], Callable[..., Any]]:
    """A model module's PettingZoo entry points ``(parallel_env, raw_env)`` for ``cls``.

    ``parallel_env(**params)`` builds the parallel env; ``raw_env(**params)`` its AEC view
    (:func:`aec_view`). Modules also bind ``env = raw_env``, as PettingZoo's do.
    """

    def parallel_env(**params: Any) -> HierarchicalParallelEnv:
        return cls(**params)

    def raw_env(**params: Any) -> Any:
        return aec_view(cls(**params))

    parallel_env.__doc__ = f"PettingZoo convention: a :class:`{cls.__name__}` (parallel API)."
    raw_env.__doc__ = f"PettingZoo convention: the AEC view of a :class:`{cls.__name__}`."
    return parallel_env, raw_env


class CheckedAECEnv(parallel_to_aec_wrapper):
    """PettingZoo's AEC conversion of a parallel env, validating each action when it is given.

    PettingZoo's own conversion stores every agent's action and validates nothing until the
    last agent of the cycle acts; an invalid action then fails the whole cycle, and every later
    call repeats the error for that earlier agent. Here an invalid action raises at once,
    naming the agent that gave it, and changes nothing: the same agent is asked again.
    """

    def step(self, action: Any) -> None:
        """Store (or, for the cycle's last agent, play) the selected agent's action."""
        agent = self.agent_selection
        if not (self.terminations[agent] or self.truncations[agent]):
            self.env.check_action(agent, action)
        super().step(action)


def aec_view(env: HierarchicalParallelEnv) -> OrderEnforcingWrapper:
    """The AEC view of ``env``: PettingZoo's conversion, with actions checked as they come."""
    return OrderEnforcingWrapper(CheckedAECEnv(env))


def check_render_mode(render_mode: Any, modes: list[str]) -> str | None:
    """``render_mode`` if it is ``None`` or one of ``modes``; another string with a warning.

    Gymnasium's ``make`` warns on an unknown mode instead of refusing it, and clients such as
    Stable-Baselines3's ``make_vec_env`` pass ``"rgb_array"`` to every env: so do we.

    Raises:
        ValueError: ``render_mode`` is neither ``None`` nor a string.
    """
    if render_mode is None or render_mode in modes:
        return render_mode
    if not isinstance(render_mode, str):
        raise ValueError(
            f"render_mode must be None or one of {modes}, got {show_value(render_mode)}"
        )
    gymnasium.logger.warn(
        f"render_mode {render_mode!r} is not supported (supported: {modes}); render() will "
        "render nothing"
    )
    return render_mode


def _state_space(groups: Any) -> spaces.Box:
    """Every slot's observation space, role by role, flattened into one finite Box."""
    lows, highs = [], []
    for g in groups:
        space = g.observation_space
        lows.append(np.tile(np.asarray(space.low, np.float32).reshape(-1), g.n_agents))
        highs.append(np.tile(np.asarray(space.high, np.float32).reshape(-1), g.n_agents))
    big = np.finfo(np.float32).max
    low = np.clip(np.concatenate(lows), -big, big)
    high = np.clip(np.concatenate(highs), -big, big)
    return spaces.Box(low, high, dtype=np.float32)


def _copies(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in arrays.items()}


def _scalar(value: Any) -> float:
    return float(np.asarray(value).reshape(-1)[0])


def _preview(names: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return f"[{shown}{', ...' if len(names) > k else ''}] ({len(names)} in all)"
