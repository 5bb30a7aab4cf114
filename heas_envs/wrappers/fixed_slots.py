"""A fixed-slots view of a ParallelEnv with births and deaths, for clients that assume every
possible agent exists from reset (TorchRL, RLlib, SuperSuit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import RecordConstructorArgs
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseParallelWrapper

#: Inner-env methods the wrapper does not forward: they would step the inner env behind the
#: wrapper's back (its slots would then be stale).
_NOT_FORWARDED = frozenset({"reset_arrays", "step_arrays", "agent_actions"})


class FixedSlots(BaseParallelWrapper, RecordConstructorArgs):
    """Every possible agent is present at every step until the episode ends.

    A slot (one id of ``possible_agents``) lives through ``unborn -> alive -> dead``: it is
    *unborn* until its agent is born (or alive from reset), *alive* while its agent lives, and
    *dead* from the step its agent dies until the episode ends; a dead slot never comes back.
    The wrapper shows all slots in all five returned dicts of every step:

    - ``agents`` is ``possible_agents`` (in its order) from ``reset`` until the episode ends,
      and ``[]`` after the last step.
    - ``infos[agent]["alive"]`` is ``True`` for an alive slot, ``False`` for an unborn or dead
      one (an agent that dies in a step is ``False`` in that step's infos; a newborn is ``True``
      in its birth step). For a ``Discrete`` action space ``infos[agent]["action_mask"]`` is an
      ``int8`` array over the actions: all ones for an alive agent (or the inner env's own mask,
      if it gives one), and only the first action for an absent one. An absent agent's action
      is ignored, but an all-zero mask would break masked samplers (a categorical
      distribution over no action), so the first action stands in for "no choice". ``Box``
      and other action spaces get only ``alive``. Inner infos of alive agents are kept.
    - Observations of absent (unborn or dead) slots are zeros (clipped into the observation
      space when 0 lies outside it). Rewards of absent slots are ``0.0``; an agent's reward in
      the step it dies is its inner reward (its last transition's reward).
    - Actions keyed to absent slots are dropped before the inner env is stepped, without
      looking at them (clients send an action for every slot). Every alive agent must act.
      An unknown id or a missing action of an alive agent raises a ``ValueError`` here, an
      invalid action of an alive agent the inner env's ``ValueError``; neither changes
      anything.
    - ``terminations`` and ``truncations`` are ``False`` for every slot until the episode
      ends; a death is *not* a termination here, it is ``alive`` turning ``False``. In the last
      step every slot is truncated (the inner env truncated, e.g. at ``max_steps``) or every
      slot is terminated (no agent is left alive). This is what all three clients accept,
      where a slot that is done and still present is not: TorchRL's ``PettingZooWrapper``
      ends the episode as soon as any agent is done (``done_on_any``, its default for
      parallel envs); RLlib's ``MultiAgentEpisode`` raises ``MultiAgentEnvError`` when an
      agent that was done gets data in a later step (and ``ParallelPettingZooEnv`` takes its
      agent ids and spaces from the agents present at ``reset``); SuperSuit's
      ``pettingzoo_env_to_vec_env_v1`` asserts ``agents == possible_agents`` after every step
      and would read a done slot as a finished one-step episode at every step. A learner sees
      a dead slot as an agent that keeps observing zeros and earning nothing, as with
      SuperSuit's ``black_death`` wrapper; read ``alive`` to mask such rows out of losses.

    Determinism is the inner env's: the wrapper draws no random numbers. ``observation_space``
    and ``action_space`` are the inner env's (the same objects every call). Other attributes
    (``metrics()``, ``state()``, ``render_mode``, ...) are forwarded to the inner env, except
    its array API (``reset_arrays``, ``step_arrays``), which would step it behind the
    wrapper's back; use ``env.unwrapped`` for that and reset the wrapper afterwards.

    Example:
        >>> import heas_envs
        >>> from heas_envs.wrappers import FixedSlots
        >>> env = FixedSlots(heas_envs.make_parallel("heas_envs/Economy-v0", max_steps=50))
        >>> obs, infos = env.reset(seed=0)
        >>> len(obs) == len(env.possible_agents) == 200
        True
        >>> sum(info["alive"] for info in infos.values())
        20

    Args:
        env: A PettingZoo ``ParallelEnv`` with a fixed ``possible_agents`` list (any
            :class:`~heas_envs.env.HierarchicalParallelEnv`, or a wrapper of one). Its
            observation spaces must be ``Box``, ``Discrete``, ``MultiDiscrete`` or
            ``MultiBinary`` (so that an absent slot can be zero-observed).

    Raises:
        TypeError: ``env`` is not a PettingZoo ``ParallelEnv`` (an AEC env, a Gymnasium env,
            anything else), or an observation space has no zero observation.
        ValueError: ``env`` has no ``possible_agents``, or repeats an id in it.
    """

    def __init__(self, env: ParallelEnv) -> None:
        RecordConstructorArgs.__init__(self)  # nothing but ``env``: FixedSlots(env) re-creates it
        if isinstance(env, AECEnv):
            raise TypeError(
                "FixedSlots wraps a PettingZoo ParallelEnv; got an AEC env "
                f"{type(env).__name__} (convert it with pettingzoo.utils.aec_to_parallel)"
            )
        if not isinstance(env, ParallelEnv):
            raise TypeError(
                f"FixedSlots wraps a PettingZoo ParallelEnv, such as "
                f"heas_envs.make_parallel(env_id); got {type(env).__name__}: {env!r:.80}"
            )
        possible = list(getattr(env, "possible_agents", None) or [])
        if not possible:
            raise ValueError(
                f"FixedSlots needs the env's possible_agents, the fixed list of slots; "
                f"{type(env).__name__} has none"
            )
        if len(set(possible)) != len(possible):
            raise ValueError(f"possible_agents repeats ids: {possible[:8]!r}...")
        super().__init__(env)
        self.possible_agents: list[str] = possible
        self.agents: list[str] = []
        self.metadata: dict[str, Any] = dict(getattr(env, "metadata", {}))
        self._known = frozenset(possible)
        self._zero_obs = {a: _zero_observation(a, env.observation_space(a)) for a in possible}
        self._masks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for agent in possible:
            space = env.action_space(agent)
            if isinstance(space, spaces.Discrete):
                absent = np.zeros(int(space.n), dtype=np.int8)
                absent[0] = 1
                self._masks[agent] = (np.ones(int(space.n), dtype=np.int8), absent)
        self._alive: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (a half-built or unpickling instance): no recursion
            raise AttributeError(name)
        if name in _NOT_FORWARDED:
            raise AttributeError(
                f"FixedSlots does not forward {name}: it would step the inner env behind the "
                f"wrapper's back; call env.unwrapped.{name} and reset the wrapper afterwards"
            )
        return super().__getattr__(name)

    # -- PettingZoo API ---------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env; every possible agent is in both returned dicts.

        Args:
            seed: Passed to the inner env (the same seed repeats the episode).
            options: Passed to the inner env.

        Returns:
            ``(observations, infos)`` over ``possible_agents``; absent slots observe zeros and
            have ``infos[agent]["alive"] == False``.
        """
        obs, infos = self.env.reset(seed=seed, options=options)
        self._alive = set(self.env.agents)
        self.agents = list(self.possible_agents)
        return self._fill_obs(obs), self._fill_infos(infos)

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """One step of the inner env with the alive agents' actions.

        Args:
            actions: An action for every alive agent; actions of absent (unborn or dead)
                slots are ignored.

        Returns:
            ``(observations, rewards, terminations, truncations, infos)``, each over every
            possible agent; see the class docstring for the values of absent slots and the
            done flags.

        Raises:
            RuntimeError: The episode is over (or never started).
            ValueError: An unknown agent id, a missing or invalid action of an alive agent
                (nothing changes).
        """
        if not self.agents:
            raise RuntimeError("the episode is over (or never started): call reset() first")
        if not isinstance(actions, Mapping):
            raise ValueError(f"step takes a dict from agent id to action, got {actions!r:.80}")
        unknown = [a for a in actions if a not in self._known]
        if unknown:
            raise ValueError(
                f"actions for unknown agents {unknown[:8]!r}; agents are "
                f"{self.possible_agents[:8]!r}... ({len(self.possible_agents)} in all)"
            )
        missing = [a for a in self.env.agents if a not in actions]
        if missing:
            raise ValueError(
                f"no action for alive agents {missing[:8]!r} ({len(missing)} in all); "
                "every alive agent acts (absent slots' actions are ignored)"
            )
        obs, rew, term, trunc, infos = self.env.step({a: actions[a] for a in self.env.agents})
        ended = not self.env.agents
        # alive after the step: those shown (alive before, or born) that did not die; in the
        # last step the truncated survivors still count as alive
        self._alive = {a for a in obs if a in self._known and not term.get(a, False)}
        by_truncation = ended and any(trunc.values())
        terminated = ended and not by_truncation
        rewards = {a: float(rew[a]) if a in rew else 0.0 for a in self.possible_agents}
        terminations = dict.fromkeys(self.possible_agents, terminated)
        truncations = dict.fromkeys(self.possible_agents, by_truncation)
        out_obs, out_infos = self._fill_obs(obs), self._fill_infos(infos)
        self.agents = [] if ended else list(self.possible_agents)
        return out_obs, rewards, terminations, truncations, out_infos

    # -- helpers ------------------------------------------------------------------------------
    def alive_agents(self) -> list[str]:
        """The slots whose agent is alive now, in ``possible_agents`` order."""
        return [a for a in self.possible_agents if a in self._alive]

    def _fill_obs(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        alive, zero = self._alive, self._zero_obs
        return {a: obs[a] if a in alive else zero[a].copy() for a in self.possible_agents}

    def _fill_infos(self, infos: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for agent in self.possible_agents:
            is_alive = agent in self._alive
            info = dict(infos.get(agent) or {}) if is_alive else {}
            info["alive"] = is_alive
            if agent in self._masks:
                ones, absent = self._masks[agent]
                if not is_alive or "action_mask" not in info:
                    info["action_mask"] = (ones if is_alive else absent).copy()
            out[agent] = info
        return out


def _zero_observation(agent: str, space: spaces.Space) -> np.ndarray:
    """The observation of an absent slot: zeros, clipped into ``space`` for a ``Box``."""
    if isinstance(space, spaces.Box):
        return np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)
    if isinstance(space, spaces.Discrete):
        return np.asarray(space.start, dtype=space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        return np.asarray(space.start, dtype=space.dtype).copy()
    if isinstance(space, spaces.MultiBinary):
        return np.zeros(space.shape, dtype=space.dtype)
    raise TypeError(
        f"FixedSlots zero-observes absent agents, which needs a Box, Discrete, MultiDiscrete "
        f"or MultiBinary observation space; agent {agent!r} has {space}"
    )
