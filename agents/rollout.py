"""Episodes on batched worlds: one world per episode seed, one policy call per step for all.

:func:`play_episodes` is the rollout loop the EvoTorch problem, the evaluation of trained
policies and the scripts share: every world plays one episode from its seed, the evolved or
evaluated role's actions come from one call over all worlds, the other roles from a background
policy, and each world's return and end-of-episode metrics are kept as its episode ends.

Callbacks (:mod:`heas_envs.core.callbacks`) given to :func:`play_episodes` hear of its
episodes (one per world: ``on_episode_start`` for all after the reset, ``on_episode_end`` as
each ends), of each call of ``act`` (``on_policy_start`` / ``on_policy_end``, ``name=None``),
and of the env's steps and layers; the background's calls and the env's automatic resets of
worlds that finished are not reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

import heas_envs
from agents.participants import module_act
from heas_envs.core.callbacks import Callback, CallbackList, call_policy, hooked
from heas_envs.env.background import (
    Background,
    background_actions,
    background_generator,
    role_policies,
)
from heas_envs.env.vector import VectorWorldsEnv

#: A policy over all worlds: observations ``[W, n_agents, *obs]`` -> actions ``[W, n_agents, ...]``.
Act = Callable[[np.ndarray], np.ndarray]


@dataclass
class Episodes:
    """One episode per world.

    Attributes:
        returns: ``[W]``: the mean episode return of the role's agents that lived.
        metrics: ``[W]`` per requested end-of-episode metric.
        agent_steps: Agent-steps of the role played.
    """

    returns: np.ndarray
    metrics: dict[str, np.ndarray]
    agent_steps: int


def play_episodes(
    worlds: VectorWorldsEnv,
    role: str,
    act: Act,
    seeds: Sequence[int],
    background: Mapping[str, Any],
    metric_names: Sequence[str] = (),
    callbacks: Callback | Sequence[Callback] | None = None,
) -> Episodes:
    """Play one episode in every world of ``worlds`` (world ``w`` seeded ``seeds[w]``).

    Args:
        worlds: A vector env of ``len(seeds)`` worlds (next-step autoreset).
        role: The role whose actions ``act`` gives.
        act: Observations of the role ``[W, n_agents, *obs]`` to actions.
        seeds: One seed per world; a random background draws from generators seeded alike.
        background: One policy per role (:func:`heas_envs.env.background.role_policies`).
        metric_names: End-of-episode metrics to keep (``worlds.episode_metrics()`` keys).
        callbacks: Hooks told of the episodes, the calls of ``act``, the steps and layers (see
            the module docs); registered on ``worlds`` for the call only
            (:func:`~heas_envs.core.callbacks.hooked`).

    Raises:
        ValueError: A callback given twice, or registered on ``worlds`` already.
    """
    with hooked(worlds, callbacks) as hooks:
        return _play(worlds, role, act, seeds, background, metric_names, hooks)


def _play(
    worlds: VectorWorldsEnv,
    role: str,
    act: Act,
    seeds: Sequence[int],
    background: Mapping[str, Any],
    metric_names: Sequence[str],
    hooks: CallbackList | None,
) -> Episodes:
    obs, info = worlds.reset(seed=list(seeds))
    if hooks is not None:
        hooks.on_episode_start(worlds, np.arange(worlds.num_worlds))
    generators = [background_generator(s) for s in seeds]
    W, n = worlds.num_worlds, worlds.groups[role].n_agents
    returns = np.zeros((W, n))
    ever = info["alive"][role].copy()
    done = np.zeros(W, dtype=bool)
    metrics = {name: np.zeros(W) for name in metric_names}
    steps = 0
    while not done.all():
        batch = background_actions(worlds, background, obs, generators)
        batch[role] = call_policy(hooks, worlds, role, obs[role], act)
        out = worlds.step(batch)
        live = ~done
        returns[live] += out.rewards[role][live]
        ever[live] |= out.alive[role][live]
        steps += int(out.alive[role][live].sum())
        ended = out.info["ended"] & live
        if ended.any() and metrics:
            now = worlds.episode_metrics()
            for name in metrics:
                metrics[name][ended] = now[name][ended]
        if hooks is not None and ended.any():
            hooks.on_episode_end(worlds, np.flatnonzero(ended))
        done |= ended
        obs = out.obs
    return Episodes(returns.sum(axis=1) / np.maximum(ever.sum(axis=1), 1), metrics, steps)


def evaluate(
    env_id: str,
    role: str,
    policy: nn.Module | str | Act,
    seeds: Sequence[int],
    background: Background = "heuristic",
    env_params: dict[str, Any] | None = None,
    metric_names: Sequence[str] = (),
    callbacks: Callback | Sequence[Callback] | None = None,
    reward_objective: Any = None,
) -> Episodes:
    """Episodes of ``role`` of ``env_id`` played by ``policy``, one per seed, all at once.

    Args:
        env_id: A registered env id.
        role: The role ``policy`` plays (all its agents).
        policy: A torch module (deterministic actions), ``"heuristic"``, ``"random"`` (per
            world generators seeded by ``seeds``), or a function over all worlds.
        seeds: Episode seeds.
        background: The other roles' policy.
        env_params: Model parameters.
        metric_names: End-of-episode metrics to keep.
        callbacks: Hooks, as for :func:`play_episodes`.
        reward_objective: A :class:`~heas_envs.scenarios.Objective` (or its dict): the
            returns are then those of its reward (what a policy trained on it was paid).
    """
    worlds = heas_envs.make_vec(env_id, num_worlds=len(seeds), **(env_params or {}))
    if reward_objective is not None:
        from heas_envs.scenarios import Objective

        worlds = Objective.of(reward_objective, role, "evaluated").wrap(worlds)
    policies = role_policies(background, worlds.roles)
    if isinstance(policy, str):
        policies[role] = role_policies(policy, [role])[role]

        def act(obs: np.ndarray) -> np.ndarray:
            return background_actions(worlds, {role: policies[role]}, {role: obs}, generators)[role]

        generators = [np.random.default_rng(10_000 + s) for s in seeds]
    elif isinstance(policy, nn.Module):
        act = module_act(policy)
    else:
        act = policy
    return play_episodes(worlds, role, act, seeds, policies, metric_names, callbacks)
