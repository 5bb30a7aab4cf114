"""DelayActions: the actions of some roles applied a fixed number of steps late."""

from __future__ import annotations

import numbers
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heas_envs.core.params import show_value
from heas_envs.env.vector import as_real_array, valid_rows
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    action_shape,
    check_roles,
    group_of,
    zero_action,
)

#: What the delayed roles play before their first action arrives.
FILL_ACTIONS = ("heuristic", "zeros")


class DelayActions(ScenarioWrapper):
    """The actions of the given roles applied ``delay`` steps after they are given.

    At step ``j`` of an episode (``j = 0, 1, ...``) a delayed role's agents play the actions
    given at step ``j - delay``. In the first ``delay`` steps, before any action has arrived,
    they play the fill action: ``"heuristic"`` (default), the model's reference policy on the
    observations the agents have at that step (what an agent without instructions would do),
    or ``"zeros"``, the zero action of the space (clipped into a ``Box``; the first action of a
    ``Discrete``). The fill is played too by a slot that was not alive when its delayed action
    was given (a newborn). Other roles act at once. Actions are validated when they are given
    (an invalid one raises then, and nothing changes), not when they are applied.

    A step is an env step: a tick, or one decision layer for models built with
    ``decision="layer"``. The model's random stream is untouched: the trajectory is that of
    the unwrapped env fed the shifted actions.

    Batched worlds: not supported (``NotImplementedError``): each world's queue would have to
    follow its own automatic resets; play single envs, or delay in the policy.

    Example:
        >>> env = DelayActions(heas_envs.make_parallel("heas_envs/Market-v0"), 2,
        ...                    roles=["regulator"])

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        delay: Steps between giving an action and its taking effect, an int >= 1.
        roles: The delayed roles (default: every role).
        fill: ``"heuristic"`` or ``"zeros"``: what the delayed roles play meanwhile.

    Raises:
        ValueError: A delay that is not an int >= 1, an unknown role (the message lists the
            roles) or an unknown fill.
    """

    _changes_actions = True
    vector_note = (
        "each world's queue of delayed actions would have to follow its own automatic resets"
    )

    def __init__(
        self,
        env: Any,
        delay: int,
        roles: Sequence[str] | None = None,
        fill: str = "heuristic",
    ) -> None:
        self.require_env(env)
        args = self.check_args(delay, roles, fill)
        roles = args["roles"] or list(env.unwrapped.roles)
        self._groups = {r: group_of(env, "DelayActions", r) for r in roles}
        super().__init__(env, args)
        self._queues: dict[str, deque] = {r: deque() for r in roles}

    @classmethod
    def check_args(
        cls, delay: int, roles: Sequence[str] | None = None, fill: str = "heuristic"
    ) -> dict[str, Any]:
        """``{"delay": k, "roles": [...] or None, "fill": ...}`` as JSON values."""
        if isinstance(delay, bool) or not isinstance(delay, numbers.Integral) or delay < 1:
            raise ValueError(
                f"DelayActions: delay must be an integer >= 1, got {show_value(delay)}"
            )
        if fill not in FILL_ACTIONS:
            raise ValueError(
                f"DelayActions: fill must be one of {list(FILL_ACTIONS)}, got {show_value(fill)}"
            )
        return {
            "delay": int(delay),
            "roles": check_roles("DelayActions: roles", roles),
            "fill": fill,
        }

    def _reset_hook(self, seed: int | None) -> None:
        for queue in self._queues.values():
            queue.clear()

    def _transform_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        live = {r: a[0] for r, a in self.unwrapped.worlds.alive.items()}
        given = {r: self._checked(r, actions.get(r), live[r]) for r in self._queues}
        out = dict(actions)  # everything is valid from here on
        delay = self._args["delay"]
        for role, queue in self._queues.items():
            queue.append((given[role], live[role]))
            if len(queue) <= delay:
                out[role] = self._fill(role)
                continue
            old, was_live = queue.popleft()
            if old is None or not was_live.all():
                fill = self._fill(role)
                if old is None:
                    out[role] = fill
                    continue
                mask = was_live.reshape(was_live.shape + (1,) * (old.ndim - 1))
                old = np.where(mask, old, fill)
            out[role] = old
        return out

    def _checked(self, role: str, value: Any, live: np.ndarray) -> np.ndarray | None:
        """The role's actions as a float64 copy, checked where its agents live."""
        if value is None:
            if live.any() and role in self.unwrapped.model.active_roles():
                raise ValueError(f"no actions for role {role!r}, whose agents act in this step")
            return None
        space = self._groups[role].action_space
        shape = (self._groups[role].n_agents, *action_shape(space))
        arr = as_real_array(value)
        if arr is None or arr.shape != shape:
            raise ValueError(
                f"actions of role {role!r} must be real numbers of shape {shape} in {space}, "
                f"got {show_value(value)}"
            )
        bad = live & ~valid_rows(space, arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"invalid action {show_value(arr[i].tolist())} for agent '{role}_{i}': "
                f"expected a finite value in {space}"
            )
        return arr.copy()

    def _fill(self, role: str) -> np.ndarray:
        group = self._groups[role]
        if self._args["fill"] == "heuristic":
            obs = self.env.observations[role]
            return np.asarray(self.env.heuristic_actions({role: obs})[role], dtype=np.float64)
        space = group.action_space
        return np.broadcast_to(zero_action(space), (group.n_agents, *action_shape(space))).copy()
