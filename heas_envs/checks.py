"""Checks that users run on their own environments, as our tests run them on ours.

``check_env(env_fn)`` runs PettingZoo's ``parallel_api_test``, the AEC conversion with
``api_test``, a multi-step multi-episode determinism check, a pickle round trip, a check that
observations stay inside their spaces with finite rewards, and a check that invalid actions are
refused with a ``ValueError`` naming the agent and change nothing.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import pickle
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from heas_envs.env.parallel import aec_view

EnvFn = Callable[[], ParallelEnv]

#: Warnings of ``parallel_api_test`` that mean the returned dicts break PettingZoo's rules.
_FATAL_WARNINGS = ("Live agent was not given", "was dead last turn", "cannot be revived")


class EnvCheckError(AssertionError):
    """An environment broke a rule that :func:`check_env` checks."""


def check_env(env_fn: EnvFn, num_cycles: int = 200, seed: int = 0) -> None:
    """Run every check on the env that ``env_fn()`` builds; raise :class:`EnvCheckError` if one fails.

    Args:
        env_fn: A function (or class) returning a fresh PettingZoo ``ParallelEnv``.
        num_cycles: Steps per episode for the API tests and rollouts.
        seed: The seed of the determinism check (``seed + 1`` must give another trajectory).
    """
    check_pettingzoo_api(env_fn, num_cycles)
    check_determinism(env_fn, seed=seed, n_steps=min(num_cycles, 100))
    check_pickle(env_fn, seed=seed)
    check_spaces(env_fn, seed=seed, n_steps=num_cycles)
    check_invalid_actions(env_fn, seed=seed)


def check_pettingzoo_api(env_fn: EnvFn, num_cycles: int = 200) -> None:
    """PettingZoo's ``parallel_api_test`` and, on the AEC view, its ``api_test``.

    The AEC view is :func:`heas_envs.env.parallel.aec_view` for our envs (they have
    ``check_action``) and PettingZoo's ``parallel_to_aec`` for others.

    The parallel test's warnings about agents missing from (or extra in) the returned dicts
    are raised as errors.
    """
    from pettingzoo.test import api_test, parallel_api_test  # imports pytest: only when asked

    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        parallel_api_test(env_fn(), num_cycles=num_cycles)
        env = env_fn()
        api_test(
            aec_view(env) if hasattr(env, "check_action") else parallel_to_aec(env), num_cycles
        )
    fatal = [str(w.message) for w in caught if any(f in str(w.message) for f in _FATAL_WARNINGS)]
    if fatal:
        raise EnvCheckError(f"PettingZoo API test warnings: {sorted(set(fatal))}")


def rollout(
    env: ParallelEnv, seed: int | None, n_steps: int, action_rng: np.random.Generator
) -> list[tuple[Any, ...]]:
    """One episode of at most ``n_steps`` with random actions; the trajectory as comparable rows.

    ``seed`` is passed to ``reset`` (``None`` continues the env's random stream).
    """
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[Any, ...]] = [("reset", _freeze(obs))]
    for _ in range(n_steps):
        if not env.agents:
            break
        actions = random_joint_action(env, action_rng)
        obs, rew, term, trunc, _ = env.step(actions)
        rows.append((_freeze(obs), _freeze(rew), _freeze(term), _freeze(trunc)))
    return rows


def random_joint_action(env: ParallelEnv, rng: np.random.Generator) -> dict[str, Any]:
    """A uniformly random action for every live agent, drawn from ``rng``."""
    from heas_envs.env.parallel import sample_actions

    return {a: sample_actions(env.action_space(a), 1, rng)[0] for a in env.agents}


def check_determinism(
    env_fn: EnvFn, seed: int = 0, n_steps: int = 100, n_episodes: int = 2
) -> None:
    """Same seed, same trajectories over several steps and episodes; another seed differs.

    The first episode is reset with ``seed``, later ones with ``reset()`` (continuing the
    env's random stream), so the later episodes must differ from the first and still repeat.
    """

    def run(first_seed: int) -> list[list[tuple[Any, ...]]]:
        env = env_fn()
        rng = np.random.default_rng(12345)
        return [
            rollout(env, first_seed if k == 0 else None, n_steps, rng) for k in range(n_episodes)
        ]

    a, b, other = run(seed), run(seed), run(seed + 1)
    for k in range(n_episodes):
        where = _first_difference(a[k], b[k])
        if where is not None:
            raise EnvCheckError(
                f"same seed {seed}, episode {k}: trajectories differ at step {where}; "
                "all randomness must come from the env's generator seeded by reset(seed)"
            )
    if _first_difference(a[0], other[0]) is None:
        raise EnvCheckError(f"seeds {seed} and {seed + 1} gave the same trajectory")
    if n_episodes > 1 and _first_difference(a[0], a[1]) is None:
        raise EnvCheckError("two episodes in a row were identical: reset() must not re-seed")


def check_pickle(env_fn: EnvFn, seed: int = 0, n_steps: int = 20) -> None:
    """A pickled copy of a stepped env continues exactly like the original."""
    env = env_fn()
    rng = np.random.default_rng(7)
    env.reset(seed=seed)
    for _ in range(n_steps // 2):
        if env.agents:
            env.step(random_joint_action(env, rng))
    clone = pickle.loads(pickle.dumps(env))
    for step in range(n_steps // 2):
        if not env.agents:
            break
        actions = random_joint_action(env, rng)
        out_a, out_b = env.step(actions), clone.step(actions)
        if _freeze(out_a[:4]) != _freeze(out_b[:4]):
            raise EnvCheckError(f"the unpickled env diverged from the original at step {step}")


def check_spaces(env_fn: EnvFn, seed: int = 0, n_steps: int = 200) -> None:
    """Observations lie inside their spaces and rewards are finite, over an episode."""
    env = env_fn()
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for step in range(n_steps + 1):
        for agent, o in obs.items():
            if not env.observation_space(agent).contains(o):
                raise EnvCheckError(
                    f"step {step}: observation of {agent!r} is outside "
                    f"{env.observation_space(agent)}: {np.asarray(o).tolist()!r}"
                )
        if hasattr(env, "state_space") and not env.state_space.contains(env.state()):
            raise EnvCheckError(f"step {step}: state() is outside state_space")
        if step == n_steps or not env.agents:
            break
        obs, rew, _, _, _ = env.step(random_joint_action(env, rng))
        bad = {a: r for a, r in rew.items() if not np.isfinite(r)}
        if bad:
            raise EnvCheckError(f"step {step}: rewards not finite: {bad}")


def invalid_actions(space: spaces.Space) -> list[Any]:
    """Actions that lie outside ``space``: NaN, beyond the bounds, of the wrong shape, or not
    real numbers (a numeric string, bytes, a complex number, ``None``)."""
    not_real = [str(space.sample().tolist()), b"0", np.zeros(space.shape) + 0j, None]
    if isinstance(space, spaces.Discrete):
        return [space.start + space.n, space.start - 1, np.nan, [0, 0], *not_real]
    if isinstance(space, spaces.MultiDiscrete):
        return [
            np.asarray(space.nvec),
            np.full(space.shape, np.nan),
            np.zeros(space.nvec.size + 1),
            *not_real,
        ]
    if isinstance(space, spaces.Box):
        nan = np.full(space.shape, np.nan)
        above = np.where(np.isfinite(space.high), space.high + 1.0, 0.0)
        return [nan, above, np.zeros((*space.shape, 2)), *not_real]
    return []


def check_invalid_actions(env_fn: EnvFn, seed: int = 0) -> None:
    """Invalid actions raise a ``ValueError`` naming the agent, and the env is left unchanged."""
    env = env_fn()
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    clone = pickle.loads(pickle.dumps(env))
    valid = random_joint_action(env, rng)
    tried: set[int] = set()
    for agent in env.agents:
        space = env.action_space(agent)
        if id(space) in tried:
            continue
        tried.add(id(space))
        for bad in invalid_actions(space):
            _expect_value_error(env, {**valid, agent: bad}, agent, f"action {bad!r}")
    _expect_value_error(
        env,
        {**valid, "no_such_agent_0": valid[env.agents[0]]},
        "no_such_agent_0",
        "an unknown agent",
    )
    if _freeze(env.step(valid)[:4]) != _freeze(clone.step(valid)[:4]):
        raise EnvCheckError("a refused action changed the env: the next valid step differs")


def _expect_value_error(env: ParallelEnv, actions: dict[str, Any], agent: str, what: str) -> None:
    try:
        env.step(actions)
    except ValueError as err:
        if agent not in str(err):
            raise EnvCheckError(f"the error for {what} does not name {agent!r}: {err}") from None
        return
    raise EnvCheckError(f"{what} for {agent!r} was accepted; expected a ValueError")


def documented_arguments(obj: Any) -> list[str]:
    """The argument names listed in the ``Args:`` section of ``obj``'s docstring, in order."""
    doc = inspect.getdoc(obj) or ""
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)+)", doc, flags=re.M)
    if not match:
        return []
    return re.findall(r"^ {4}(\w+)(?: \(.*?\))?:", match.group(1), flags=re.M)


def signature_arguments(cls: type) -> list[str]:
    """The names of the constructor parameters of ``cls``, in order (without ``self``).

    This is ``inspect.signature(cls)``, so a declared signature (``cls.__signature__``, as
    :class:`~heas_envs.env.model_env.ModelEnv` subclasses have) counts.
    """
    params = inspect.signature(cls).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _freeze(value: Any) -> Any:
    """A hashable, exactly comparable form of nested dicts/tuples/arrays."""
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    arr = np.asarray(value)
    return (arr.dtype.str, arr.shape, arr.tobytes())


def _first_difference(a: list[Any], b: list[Any]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))
