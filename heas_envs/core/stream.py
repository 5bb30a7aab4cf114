"""Streams (processes) and agent groups (streams that take decisions)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from heas_envs.core.context import Context


class Stream:
    """One process of a hierarchical model.

    A stream declares the context keys it ``reads`` (full keys, ``"<stream>.<name>"``) and
    the names it ``writes`` (local names; the full key is ``"<self.name>.<name>"``). Building
    a model checks these declarations, and :meth:`read` / :meth:`write` enforce them at run
    time, so the declared data flow is the real one.

    Subclasses override :meth:`reset` (write the initial values of every declared key),
    :meth:`step` (one sub-step), and optionally :meth:`metrics_step` /
    :meth:`metrics_episode`. Values are arrays with a leading world dimension.

    Args:
        name: The stream's name, the namespace of the keys it writes.
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    #: Run only on ticks that are a multiple of ``period`` (within the layer's own period).
    period: int = 1

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"a stream name must be a non-empty string without '.', got {name!r}")
        self.name = name

    # -- declared data flow -------------------------------------------------------------------
    def key(self, name: str) -> str:
        """Return the full context key of this stream's output ``name``."""
        return f"{self.name}.{name}"

    def write(self, ctx: Context, name: str, value: np.ndarray) -> None:
        """Write this stream's declared output ``name`` into the context."""
        if name not in self.writes:
            raise KeyError(
                f"stream {self.name!r} writes {name!r}, which it does not declare; "
                f"declared writes: {list(self.writes)}"
            )
        ctx.data[f"{self.name}.{name}"] = value

    def read(self, ctx: Context, key: str) -> np.ndarray:
        """Read a declared input ``key`` (a full key) from the context."""
        if key not in self.reads:
            raise KeyError(
                f"stream {self.name!r} reads {key!r}, which it does not declare; "
                f"declared reads: {list(self.reads)}"
            )
        return ctx[key]

    # -- life cycle -----------------------------------------------------------------------------
    def reset(self, ctx: Context) -> None:
        """Start an episode: write the initial value of every declared output."""

    def step(self, ctx: Context) -> None:
        """Run this stream's sub-step of the current tick."""

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        """Per-tick metrics, each an array of shape ``[B]`` (one value per world)."""
        return {}

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        """End-of-episode metrics, each an array of shape ``[B]``."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class AgentGroup(Stream):
    """A stream whose sub-step applies the decisions of a population of agents of one role.

    Agent ids are ``"<role>_<i>"`` for ``i < n_agents``; ``n_agents`` is the fixed pool of
    slots (PettingZoo's ``possible_agents``). Slots that are not alive at reset are unborn;
    a slot that dies never lives again.

    Several groups may share a role (the same agents deciding at several layers); they must
    then have the same ``n_agents`` and equal spaces. The observation of a role comes from
    the group of that role that acts next; its reward is the sum of its groups' rewards.

    Subclasses set ``role``, ``n_agents``, ``observation_space`` and ``action_space`` (the
    space of one agent) in ``__init__`` and implement :meth:`observe`, :meth:`apply` and
    :meth:`reward`; models with death or birth implement :meth:`alive`.

    Args:
        name: The stream's name.
        n_agents: The number of agent slots.
    """

    role: ClassVar[str] = "agent"

    def __init__(self, name: str, n_agents: int) -> None:
        super().__init__(name)
        if int(n_agents) < 1:
            raise ValueError(f"{type(self).__name__}: n_agents must be >= 1, got {n_agents!r}")
        self.n_agents = int(n_agents)
        self.observation_space: spaces.Box
        self.action_space: spaces.Space[Any]

    def observe(self, ctx: Context) -> np.ndarray:
        """Observations of every slot, ``[B, n_agents, *obs_shape]`` (zeros for dead slots).

        Return a new array on every call (not an array of the context): the vector env hands
        it out as it is."""
        raise NotImplementedError

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        """Apply ``actions`` (``[B, n_agents, *act_shape]``) as this group's sub-step."""
        raise NotImplementedError

    def reward(self, ctx: Context) -> np.ndarray:
        """Rewards of the last env step, ``[B, n_agents]`` (zeros for dead slots)."""
        raise NotImplementedError

    def alive(self, ctx: Context) -> np.ndarray:
        """Which slots hold a living agent, ``[B, n_agents]`` bool. Default: all of them."""
        return np.ones((ctx.n_worlds, self.n_agents), dtype=bool)

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """The model's reference policy: actions from observations, vectorised over agents.

        ``obs`` is ``[..., n_agents, *obs_shape]``; the result has the matching leading shape.
        """
        raise NotImplementedError(f"{type(self).__name__} ships no heuristic policy")

    def step(self, ctx: Context) -> None:
        """Without external actions the group plays its heuristic."""
        self.apply(self.heuristic(self.observe(ctx)), ctx)
