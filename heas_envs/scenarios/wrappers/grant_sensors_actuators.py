"""GrantSensorsActuators: each role sees a named subset of its features and sets a named subset
of its action components, the others held at declared defaults."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core.params import show_value
from heas_envs.env.vector import as_real_array, valid_rows
from heas_envs.scenarios.wrappers.base import (
    ScenarioWrapper,
    action_shape,
    check_action_dict,
    group_of,
    json_value,
    zero_action,
)

WHAT = "GrantSensorsActuators"


class GrantSensorsActuators(ScenarioWrapper):
    """Each role sees only the observation features named in ``sensors`` and sets only the
    action components named in ``actuators``; the other components are held at their defaults.

    The names are the model's: every agent group lists them in ``observation_names`` and
    ``action_names`` (one name per component, in index order; the model's docstring table
    gives them too). A role left out of ``sensors`` sees every feature; one left out of
    ``actuators`` sets every component.

    - Observations: the wrapped env's ``observation_space(agent)`` is the ``Box`` of the granted
      features (the inner bounds at those indices, in the order of the model's names, not of
      the list given), and every observation (reset, step, :attr:`observations`) is the inner
      observation at those indices.
    - Actions: ``action_space(agent)`` is the ``Box`` of the granted components (same rule).
      Before the inner step each action is expanded to the full vector: the granted
      components from the caller, every other one at its default: ``defaults[role][name]``
      when declared, else the midpoint of the component's bounds, ``(low + high) / 2`` (e.g.
      0 for ``[-1, 1]``, 0.5 for ``[0, 1]``). A ``Discrete`` action is one component (its one
      name): granting it keeps the space as it is.

    The model and its random stream are untouched: the trajectory is that of the unwrapped env
    given the expanded actions. :meth:`heuristic_actions` is the model's reference policy
    (which reads the full observation: given granted-only observations it takes the other
    features from the env's current ones) restricted to the granted components;
    :meth:`random_actions` samples the granted components.

    Put it last (outermost) in a chain: wrappers above it that read a role's spaces (noise,
    delays, a background population, and so ``Scenario.make_focal_env``) see the model's full
    spaces.

    Batched worlds: not supported (``NotImplementedError``): batched worlds expose their
    spaces through the model's agent groups, which the wrapper would have to replace.

    Example:
        >>> env = GrantSensorsActuators(
        ...     heas_envs.make_parallel("heas_envs/Ecology-v0"),
        ...     sensors={"manager": ["prey", "season_sin", "season_cos"]},
        ...     actuators={"manager": ["dispersal"]},
        ...     defaults={"manager": {"risk": 0.3}},
        ... )

    Args:
        env: A :class:`~heas_envs.env.HierarchicalParallelEnv` or a scenario wrapper of one.
        sensors: ``{role: [observation names]}``: the features each listed role sees.
        actuators: ``{role: [action names]}``: the components each listed role sets.
        defaults: ``{role: {action name: value}}``: where a component not granted is held
            (default: its midpoint); each name must be a component not granted, and each
            value inside its bounds.

    Raises:
        ValueError: An unknown role or name (the message lists the valid ones), an empty or
            repeating list, a default for a granted component or outside its bounds, a role
            whose space is not a one-dimensional ``Box`` (or a ``Discrete`` action), or another
            ``GrantSensorsActuators`` under this one.
    """

    _changes_actions = True
    _changes_obs = True
    vector_note = (
        "batched worlds expose their spaces through the model's agent groups, which the "
        "wrapper would have to replace"
    )

    def __init__(
        self,
        env: Any,
        sensors: Mapping[str, Sequence[str]] | None = None,
        actuators: Mapping[str, Sequence[str]] | None = None,
        defaults: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.require_env(env)
        args = self.check_args(sensors, actuators, defaults)
        inner = env
        while isinstance(inner, ScenarioWrapper):
            if isinstance(inner, GrantSensorsActuators):
                raise ValueError(
                    f"{WHAT} over another {WHAT}: the names are the model's, so give both "
                    "grants to one wrapper"
                )
            inner = inner.env
        base = env.unwrapped
        #: Per role with sensors: the granted feature indices and their Box.
        self._sense: dict[str, tuple[np.ndarray, spaces.Box]] = {}
        #: Per role with actuators: the granted indices, their Box and the full held vector.
        self._act: dict[str, tuple[np.ndarray, spaces.Space, np.ndarray]] = {}
        for role, names in args["sensors"].items():
            group = group_of(env, WHAT, role)
            idx = _indices(role, "observation", names, _names(group, role, "observation"))
            space = _box(role, "observation", group.observation_space)
            self._sense[role] = (idx, _sub_box(space, idx))
        for role in args["defaults"]:
            if role not in args["actuators"]:
                group_of(env, WHAT, role)
                raise ValueError(
                    f"{WHAT}: defaults for role {role!r}, which sets every action component "
                    f"(it is not in actuators; actuators roles: {list(args['actuators'])})"
                )
        for role, names in args["actuators"].items():
            group = group_of(env, WHAT, role)
            valid = _names(group, role, "action")
            idx = _indices(role, "action", names, valid)
            held = args["defaults"].get(role, {})
            for name in held:
                if name not in valid:
                    raise ValueError(
                        f"{WHAT}: unknown action component {name!r} in the defaults of role "
                        f"{role!r}; its components are {list(valid)}"
                    )
                if valid.index(name) in idx:
                    raise ValueError(
                        f"{WHAT}: a default for {name!r} of role {role!r}, which is granted "
                        "(the caller sets it); give defaults only for components not granted"
                    )
            if isinstance(group.action_space, spaces.Discrete):
                self._act[role] = (idx, group.action_space, np.zeros(()))
                continue
            space = _box(role, "action", group.action_space)
            full = (space.low.astype(np.float64) + space.high.astype(np.float64)) / 2.0
            for name, value in held.items():
                j = valid.index(name)
                if not space.low[j] <= value <= space.high[j]:
                    raise ValueError(
                        f"{WHAT}: the default {value} for {name!r} of role {role!r} is outside "
                        f"its bounds [{space.low[j]}, {space.high[j]}]"
                    )
                full[j] = value
            self._act[role] = (idx, _sub_box(space, idx), full)
        super().__init__(env, args)
        self.observation_spaces = {
            a: self._sense[r][1] if r in self._sense else env.observation_space(a)
            for a in base.possible_agents
            for r in [base.slot(a)[0]]
        }
        self.action_spaces = {
            a: self._act[r][1] if r in self._act else env.action_space(a)
            for a in base.possible_agents
            for r in [base.slot(a)[0]]
        }

    @classmethod
    def check_args(
        cls,
        sensors: Mapping[str, Sequence[str]] | None = None,
        actuators: Mapping[str, Sequence[str]] | None = None,
        defaults: Mapping[str, Mapping[str, float]] | None = None,
    ) -> dict[str, Any]:
        """``{"sensors": {...}, "actuators": {...}, "defaults": {...}}`` as JSON values."""
        out = {
            "sensors": _check_grants("sensors", sensors),
            "actuators": _check_grants("actuators", actuators),
        }
        held: dict[str, dict[str, float]] = {}
        if defaults is not None:
            if not isinstance(defaults, Mapping):
                raise ValueError(
                    f"{WHAT}: defaults must be a mapping {{role: {{action name: value}}}}, got "
                    f"{show_value(defaults)}"
                )
            for role, values in defaults.items():
                ok = isinstance(role, str) and isinstance(values, Mapping)
                ok = ok and all(
                    isinstance(k, str)
                    and isinstance(v, numbers.Real)
                    and not isinstance(v, bool)
                    and np.isfinite(v)
                    for k, v in values.items()
                )
                if not ok:
                    raise ValueError(
                        f"{WHAT}: defaults must map a role to {{action name: finite number}}, "
                        f"got {show_value({role: values})}"
                    )
                held[role] = {k: float(v) for k, v in values.items()}
        out["defaults"] = json_value("defaults", held)
        if not (out["sensors"] or out["actuators"]):
            raise ValueError(f"{WHAT}: give sensors or actuators (or both) for at least one role")
        return out

    # -- spaces -----------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Space:
        """The observation space of ``agent``: the granted features' ``Box``."""
        return self.observation_spaces[self.unwrapped._known(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        """The action space of ``agent``: the granted components' ``Box``."""
        return self.action_spaces[self.unwrapped._known(agent)]

    def granted(self, role: str) -> dict[str, list[str]]:
        """``{"observation": [...], "action": [...]}``: the names ``role`` sees and sets.

        Raises:
            ValueError: An unknown role (the message lists the roles).
        """
        group = group_of(self, WHAT, role)
        obs, act = _names(group, role, "observation"), _names(group, role, "action")
        return {
            "observation": [obs[i] for i in self._sense[role][0]] if role in self._sense else obs,
            "action": [act[i] for i in self._act[role][0]] if role in self._act else act,
        }

    # -- hooks ------------------------------------------------------------------------------------
    def _transform_obs(
        self, obs: dict[str, np.ndarray], shown: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        out = dict(obs)
        for role, (idx, _) in self._sense.items():
            out[role] = np.ascontiguousarray(obs[role][:, idx])
        return out

    def _transform_actions(self, actions: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = dict(actions)
        for role, (idx, space, full) in self._act.items():
            given = actions.get(role)
            if given is None or isinstance(space, spaces.Discrete):
                continue
            n = self.unwrapped.group(role).n_agents
            arr = as_real_array(given)
            if arr is None or arr.shape != (n, len(idx)):
                raise ValueError(
                    f"actions of role {role!r} must be real numbers of shape {(n, len(idx))} "
                    f"(its granted components {self.granted(role)['action']}), got "
                    f"{show_value(given)}"
                )
            rows = np.broadcast_to(full, (n, full.shape[0])).copy()
            rows[:, idx] = arr
            out[role] = rows
        return out

    def _actions_by_role(self, actions: Any) -> dict[str, np.ndarray]:
        """The dict API's actions as per-role arrays in the granted spaces (held defaults in
        rows nobody gave), each checked against the agent's granted space."""
        check_action_dict(self, actions)
        base = self.unwrapped
        out = {}
        for role in base.roles:
            n = base.group(role).n_agents
            if role in self._act and not isinstance(self._act[role][1], spaces.Discrete):
                idx, _, full = self._act[role]
                out[role] = np.broadcast_to(full[idx], (n, len(idx))).copy()
            else:
                space = base.group(role).action_space
                out[role] = np.broadcast_to(zero_action(space), (n, *action_shape(space))).copy()
        for agent in self.agents:
            role, i = base.slot(agent)
            out[role][i] = self._check_action(agent, role, actions[agent])
        return out

    def _check_action(self, agent: str, role: str, action: Any) -> np.ndarray:
        if role not in self._act or isinstance(self._act[role][1], spaces.Discrete):
            return self.unwrapped.check_action(agent, action)
        space = self._act[role][1]
        row = as_real_array(action)
        if row is None or row.shape != space.shape or not valid_rows(space, row[None])[0]:
            raise ValueError(
                f"invalid action {show_value(action)} for agent {agent!r}: expected a finite "
                f"value in {space} (components {self.granted(role)['action']})"
            )
        return row

    # -- policies -----------------------------------------------------------------------------
    def heuristic_actions(
        self, obs: Mapping[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """The model's reference policy, restricted to the granted action components.

        ``obs`` (default: the env's current observations) may hold granted-only observations
        of a role with sensors: the policy reads the full observation, so the features not
        granted are taken from the env's current ones.
        """
        current = self.env.observations
        if obs is None:
            full = current
        else:
            full = {}
            for role, o in obs.items():
                o = np.asarray(o)
                if role in self._sense and o.shape[-1] == len(self._sense[role][0]):
                    whole = np.broadcast_to(current[role], (*o.shape[:-1], current[role].shape[-1]))
                    whole = whole.copy()
                    whole[..., self._sense[role][0]] = o
                    o = whole
                full[role] = o
        return self._restrict(self.env.heuristic_actions(full))

    def random_actions(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniformly random actions of the granted components for every slot, from ``rng``."""
        return self._restrict(self.env.random_actions(rng))

    def _restrict(self, actions: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(actions)
        for role, (idx, space, _) in self._act.items():
            if role in out and not isinstance(space, spaces.Discrete):
                out[role] = np.asarray(out[role])[..., idx]
        return out


# -- helpers -------------------------------------------------------------------------------------
def _check_grants(what: str, grants: Any) -> dict[str, list[str]]:
    """``{role: [names]}`` with non-empty lists of distinct strings, as JSON values."""
    if grants is None:
        return {}
    if not isinstance(grants, Mapping):
        raise ValueError(
            f"{WHAT}: {what} must be a mapping {{role: [names]}}, got {show_value(grants)}"
        )
    out = {}
    for role, names in grants.items():
        if isinstance(names, str):
            names = [names]
        ok = isinstance(role, str) and isinstance(names, Sequence) and len(names) > 0
        if not ok or not all(isinstance(n, str) for n in names):
            raise ValueError(
                f"{WHAT}: {what} must map a role to a non-empty list of names, got "
                f"{show_value({role: names})}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"{WHAT}: {what} of role {role!r} repeat a name: {list(names)}")
        out[role] = list(names)
    return out


def _names(group: Any, role: str, kind: str) -> list[str]:
    names = getattr(group, f"{kind}_names", None)
    if names is None:
        raise ValueError(
            f"{WHAT}: the agent group of role {role!r} does not name its {kind} components "
            f"(no {kind}_names)"
        )
    return list(names)


def _indices(role: str, kind: str, names: Sequence[str], valid: Sequence[str]) -> np.ndarray:
    """The indices of ``names`` among ``valid``, ascending (the model's order)."""
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(
            f"{WHAT}: unknown {kind} name(s) {unknown} for role {role!r}; its {kind} names are "
            f"{list(valid)}"
        )
    return np.array(sorted(valid.index(n) for n in names), dtype=np.intp)


def _box(role: str, kind: str, space: spaces.Space) -> spaces.Box:
    if not (isinstance(space, spaces.Box) and len(space.shape) == 1):
        raise ValueError(
            f"{WHAT}: role {role!r} has the {kind} space {space}; only one-dimensional Box "
            "spaces (and Discrete actions) can be granted in part"
        )
    return space


def _sub_box(space: spaces.Box, idx: np.ndarray) -> spaces.Box:
    return spaces.Box(space.low[idx], space.high[idx], dtype=space.dtype)
