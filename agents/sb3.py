"""Stable-Baselines3 on batched worlds: one role trained with parameter sharing.

:class:`SharedRoleVecEnv` is SB3's ``VecEnv`` over ``B`` worlds of a registered model
(:func:`heas_envs.make_vec`, same-step autoreset): each world has ``seats`` entries of the
trained role, so SB3 sees ``B * seats`` envs, all played by the one policy it trains (parameter
sharing); the other roles, and live agents of the trained role without a seat, are driven by a
background policy.

Seats and the agents in them:

- at every reset the live agents of the role take the seats in slot order;
- when a seated agent dies, its seat reports ``done`` exactly once, with the agent's last
  observation in ``infos[i]["terminal_observation"]`` and ``TimeLimit.truncated`` false;
- a newborn (or a live agent without a seat) takes a free seat at once: the step that ends one
  agent's episode in a seat is the first step of the next agent's, as SB3 expects of a reset;
- a seat without an agent is *empty*: it returns zero observations and reward 0, never
  ``done``, and its actions are ignored; :attr:`SharedRoleVecEnv.empty_share` reports the share
  of such seat-steps (SB3 learns from them as from any step, so keep it small: choose ``seats``
  near the role's typical population);
- when a world's episode ends, every seated agent's seat reports ``done`` (``TimeLimit.truncated``
  true if the time limit ended it), and the world's new episode fills the seats again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices
from torch import nn

import heas_envs
from agents.policies import POLICY_KINDS, MLPPolicy
from agents.runs import new_run_dir
from agents.threads import set_torch_threads
from heas_envs.core.callbacks import Callback
from heas_envs.env.background import (
    Background,
    background_actions,
    background_generator,
    role_policies,
)
from heas_envs.scenarios.objective import Objective


class SharedRoleVecEnv(VecEnv):
    """SB3's ``VecEnv`` of every seat of ``role`` in ``num_worlds`` worlds of ``env_id``.

    Args:
        env_id: A registered env id.
        role: The trained role.
        num_worlds: The number of worlds B.
        seats: Seats per world (default: the role's live agents at reset in world 0).
        background: The policy of the other roles and of unseated agents: ``"heuristic"``,
            ``"random"``, a function of one role's observations ``[B, n_agents, *obs]``, or a
            mapping by role (as for :class:`heas_envs.SingleAgentEnv`).
        reward_objective: The trained role's objective (:class:`~heas_envs.scenarios.
            Objective` of ``role``, or its ``to_dict()``): the seats get its reward instead of
            the env's (the worlds are wrapped by ``ObjectiveReward``). Only ``negate``
            objectives: the worlds reset in the same step, where the metrics of an ended
            world are already the next episode's.
        callbacks: Hooks (:mod:`heas_envs.core.callbacks`) registered on the worlds: they
            hear every step and layer, and the worlds' episodes (``"same_step"`` autoreset);
            SB3 calls its policy itself, so there are no policy hooks.
        **params: Model parameters.

    ``seed(s)`` (SB3 calls it when given a seed) seeds world ``b`` with ``s + b * seats`` (the
    seed SB3 gives its first seat) at the next reset; the random background draws from one
    generator per world seeded alike.

    Raises:
        ValueError: An unknown role, a bad number of seats or worlds, or a bad parameter; a
            reward objective of another role, or one of metrics.
    """

    def __init__(
        self,
        env_id: str,
        role: str,
        num_worlds: int = 8,
        seats: int | None = None,
        background: Background = "heuristic",
        reward_objective: Objective | dict[str, Any] | None = None,
        callbacks: Callback | Sequence[Callback] | None = None,
        **params: Any,
    ) -> None:
        self.worlds: Any = heas_envs.make_vec(
            env_id, num_worlds=num_worlds, autoreset="same_step", callbacks=callbacks, **params
        )
        if role not in self.worlds.groups:
            raise ValueError(f"unknown role {role!r} of {env_id}; roles are {self.worlds.roles}")
        self.reward_objective = sb3_objective(reward_objective, role)
        if self.reward_objective is not None:
            self.worlds = self.reward_objective.wrap(self.worlds)
        self.role = role
        group = self.worlds.groups[role]
        if seats is None:
            _, info = self.worlds.reset(seed=0)
            seats = max(1, int(info["alive"][role][0].sum()))
        if not isinstance(seats, int) or not 1 <= seats <= group.n_agents:
            raise ValueError(
                f"seats must be an integer in [1, {group.n_agents}] (the role's slots), got "
                f"{seats!r}"
            )
        self.seats = seats
        self.env_id = env_id
        self.background = role_policies(background, self.worlds.roles)
        B = self.worlds.num_worlds
        self._seat = np.full((B, seats), -1, dtype=np.int64)  # the model slot in each seat
        self._generators = [background_generator(b) for b in range(B)]
        self._obs: dict[str, np.ndarray] = {}
        self._actions: np.ndarray | None = None
        self.seat_steps = 0
        self.empty_steps = 0
        super().__init__(B * seats, group.observation_space, group.action_space)

    # -- SB3's VecEnv API ---------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        """Reset every world (seeds set by :meth:`seed` apply once) and seat its agents."""
        seeds = self._seeds[:: self.seats]
        seed = None if all(s is None for s in seeds) else [int(s) for s in seeds]  # type: ignore[arg-type]
        obs, info = self.worlds.reset(seed=seed)
        if seed is not None:
            self._generators = [background_generator(s) for s in seed]
        self._reset_seeds()
        self._reset_options()
        self._obs = obs
        self._seat[:] = -1
        for b in range(self.worlds.num_worlds):
            self._fill(b, info["alive"][self.role][b])
        return self._seat_obs(obs[self.role])

    def step_async(self, actions: np.ndarray) -> None:
        """Store the seats' actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every world; report each seat's reward, end and next observation."""
        role, seats, B = self.role, self.seats, self.worlds.num_worlds
        batch = self._background_actions()
        rows = np.array(batch[role], dtype=np.float64)
        seated = self._seat >= 0
        chosen = np.asarray(self._actions, dtype=np.float64).reshape(B, seats, *rows.shape[2:])
        b_idx, k_idx = np.nonzero(seated)
        rows[b_idx, self._seat[b_idx, k_idx]] = chosen[b_idx, k_idx]
        batch[role] = rows
        out = self.worlds.step(batch)
        ended = out.info["ended"]
        final_obs = out.info.get("final_obs", out.obs)
        obs = np.zeros((B, seats, *self.observation_space.shape), dtype=np.float32)
        rewards = np.zeros((B, seats), dtype=np.float32)
        dones = np.zeros((B, seats), dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for b, k in zip(b_idx.tolist(), k_idx.tolist()):
            slot = int(self._seat[b, k])
            rewards[b, k] = out.rewards[role][b, slot]
            dead = bool(out.terminated[role][b, slot])
            if dead or ended[b]:
                dones[b, k] = True
                info = infos[b * seats + k]
                info["terminal_observation"] = final_obs[role][b, slot]
                info["TimeLimit.truncated"] = bool(out.truncated[role][b, slot] and not dead)
                self._seat[b, k] = -1
            else:
                obs[b, k] = out.obs[role][b, slot]
        for b in range(B):
            if ended[b]:
                self._seat[b] = -1
            new = self._fill(b, out.alive[role][b])  # the new episode's agents, or newborns
            for k in new:
                obs[b, k] = out.obs[role][b, self._seat[b, k]]
        self._obs = out.obs
        self.seat_steps += B * seats
        self.empty_steps += int((self._seat < 0).sum())
        return obs.reshape(self.num_envs, -1), rewards.reshape(-1), dones.reshape(-1), infos

    def close(self) -> None:
        """Close the worlds."""
        self.worlds.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """This env's attribute ``attr_name`` (``render_mode`` is ``None``), once per seat."""
        value = None if attr_name == "render_mode" else getattr(self, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on this env (shared by all seats)."""
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """Call ``method_name`` of the worlds once; its result for every selected seat."""
        result = getattr(self.worlds, method_name)(*method_args, **kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(
        self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """No seat is a wrapped ``gymnasium.Env``."""
        return [False] * len(self._indices(indices))

    # -- bookkeeping ---------------------------------------------------------------------------
    @property
    def empty_share(self) -> float:
        """The share of seat-steps so far in which a seat held no agent."""
        return self.empty_steps / self.seat_steps if self.seat_steps else 0.0

    def seated(self) -> np.ndarray:
        """``[B, seats]``: the model slot of the agent in each seat, ``-1`` when empty."""
        return self._seat.copy()

    def _fill(self, b: int, alive: np.ndarray) -> list[int]:
        """Seat live, unseated agents of world ``b`` in free seats (slot order); return the
        seats filled."""
        taken = set(self._seat[b][self._seat[b] >= 0].tolist())
        free = np.flatnonzero(self._seat[b] < 0).tolist()
        waiting = [s for s in np.flatnonzero(alive).tolist() if s not in taken]
        filled = []
        for k, slot in zip(free, waiting):
            self._seat[b, k] = slot
            filled.append(k)
        return filled

    def _seat_obs(self, role_obs: np.ndarray) -> np.ndarray:
        B, seats = self._seat.shape
        obs = np.zeros((B, seats, *self.observation_space.shape), dtype=np.float32)
        b_idx, k_idx = np.nonzero(self._seat >= 0)
        obs[b_idx, k_idx] = role_obs[b_idx, self._seat[b_idx, k_idx]]
        return obs.reshape(self.num_envs, -1)

    def _background_actions(self) -> dict[str, np.ndarray]:
        return background_actions(self.worlds, self.background, self._obs, self._generators)

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


def sb3_objective(objective: Objective | dict[str, Any] | None, role: str) -> Objective | None:
    """``objective`` (an :class:`~heas_envs.scenarios.Objective` or its ``to_dict()``) checked
    for training ``role`` with SB3.

    Raises:
        ValueError: An objective of another role, or a ``metrics`` objective (SB3's worlds
            reset in the same step, where an ended world's metrics are the next episode's).
    """
    if objective is None:
        return None
    objective = Objective.of(objective, role)
    if objective.metrics is not None:
        raise ValueError(
            "train_sb3 takes only negate objectives (Objective(role, negate=...)): its worlds "
            "reset in the same step (autoreset='same_step'), where the metrics of an ended "
            "world are already the next episode's; train a metrics objective with train_evo"
        )
    return objective


# -- our module as SB3's actor ---------------------------------------------------------------------
class _ActorCriticExtractor(nn.Module):
    """SB3's ``mlp_extractor``: our actor's body for the policy latent, an MLP for the value."""

    def __init__(self, body: nn.Module, latent_dim: int, critic: nn.Sequential, width: int):
        super().__init__()
        self.policy_net, self.value_net = body, critic
        self.latent_dim_pi, self.latent_dim_vf = latent_dim, width

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_net(features)


class HeasActorCriticPolicy(ActorCriticPolicy):
    """SB3's actor-critic policy whose actor is one of our modules (:mod:`agents.policies`).

    The actor's ``body`` is SB3's policy latent network, its ``head`` SB3's ``action_net`` and
    (for a Box) its ``log_std`` SB3's; the critic is a separate MLP. So the parameters SB3
    trains are the actor's own: after ``learn`` the module ``policy.actor`` is the trained
    actor, and ``actor(obs)`` equals ``model.predict(obs, deterministic=True)``.

    Args:
        observation_space, action_space, lr_schedule: As for SB3's ``ActorCriticPolicy``.
        actor_kind: ``"mlp"`` (:class:`~agents.policies.MLPPolicy`) or ``"citizen"``
            (:class:`~agents.policies.CitizenPolicy`, MLP latent only).
        actor_kwargs: Keyword arguments of the actor's class (``hidden``, ``activation``, ...).
        critic_hidden: Widths of the critic's hidden layers.
        **kwargs: Further arguments of ``ActorCriticPolicy`` (``ortho_init`` is off: the actor
            initialises itself; the critic is initialised orthogonally).
    """

    def __init__(
        self,
        observation_space: gymnasium.spaces.Space,
        action_space: gymnasium.spaces.Space,
        lr_schedule: Any,
        actor_kind: str = "mlp",
        actor_kwargs: dict[str, Any] | None = None,
        critic_hidden: tuple[int, ...] = (64, 64),
        **kwargs: Any,
    ) -> None:
        if actor_kind != "mlp":
            raise ValueError(
                f"actor_kind must be 'mlp' for SB3 (a body and head SB3 can split); got "
                f"{actor_kind!r} (kinds of agents.policies: {list(POLICY_KINDS)})"
            )
        self.actor_kind = actor_kind
        self.actor_kwargs = dict(actor_kwargs or {})
        self.critic_hidden = tuple(int(h) for h in critic_hidden)
        kwargs["ortho_init"] = False
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.actor: MLPPolicy = MLPPolicy(
            self.observation_space, self.action_space, **self.actor_kwargs
        )
        layers: list[nn.Module] = []
        width = self.features_dim
        for h in self.critic_hidden:
            linear = nn.Linear(width, h)
            nn.init.orthogonal_(linear.weight, gain=np.sqrt(2))
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.Tanh()]
            width = h
        self.mlp_extractor = _ActorCriticExtractor(
            self.actor.body, self.actor.latent_dim, nn.Sequential(*layers), width
        )

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = self.actor.head
        if self.actor.kind == "box":
            self.log_std = self.actor.log_std
        nn.init.orthogonal_(self.value_net.weight, gain=1.0)
        nn.init.zeros_(self.value_net.bias)
        self.optimizer = self.optimizer_class(  # the parameters changed: a new optimizer
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            actor_kind=self.actor_kind,
            actor_kwargs=self.actor_kwargs,
            critic_hidden=self.critic_hidden,
        )
        return data


# -- training ----------------------------------------------------------------------------------
#: SB3 algorithms by name; PPO and A2C train our module as the actor (HeasActorCriticPolicy).
ON_POLICY = ("PPO", "A2C")
OFF_POLICY = ("SAC", "TD3", "DDPG", "DQN")
ALGORITHMS = ON_POLICY + OFF_POLICY


@dataclass
class TrainResult:
    """What :func:`train_sb3` made.

    Attributes:
        run_dir: The run directory (``args.json``, ``model.zip``, ``actor.pt``, checkpoints,
            TensorBoard logs).
        model: The trained SB3 model.
        actor: The trained actor, a torch module mapping observations to actions (our
            :class:`~agents.policies.MLPPolicy` for PPO/A2C; SB3's actor otherwise).
        empty_share: The share of seat-steps with no agent in the seat.
    """

    run_dir: Path
    model: Any
    actor: nn.Module
    empty_share: float


def train_sb3(
    env_id: str,
    role: str,
    algo: str = "PPO",
    total_timesteps: int = 10_000,
    seed: int = 0,
    num_worlds: int = 8,
    seats: int | None = None,
    background: Background = "heuristic",
    env_params: dict[str, Any] | None = None,
    algo_kwargs: dict[str, Any] | None = None,
    actor_kwargs: dict[str, Any] | None = None,
    run_root: str | Path = "runs",
    checkpoints: int = 0,
    tensorboard: bool = True,
    progress_bar: bool = False,
    threads: int | None = None,
    reward_objective: Objective | dict[str, Any] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
) -> TrainResult:
    """Train ``role`` of ``env_id`` with SB3 on batched worlds, parameter sharing over seats.

    Args:
        env_id: A registered env id.
        role: The trained role (every seat of it shares the policy).
        algo: One of :data:`ALGORITHMS` (DQN needs a Discrete action space; SAC, TD3, DDPG a
            Box).
        total_timesteps: SB3's budget (seat-steps: worlds x seats x env steps).
        seed: Seeds SB3, torch and the worlds (world ``b`` is reset with ``seed + b * seats``).
        num_worlds: Worlds stepped together.
        seats: Seats per world (default: the role's live agents at reset).
        background: The other roles' policy (see :class:`SharedRoleVecEnv`).
        env_params: Model parameters.
        algo_kwargs: Keyword arguments of the SB3 algorithm (``n_steps``, ``learning_rate``...).
        actor_kwargs: Keyword arguments of the actor (:class:`~agents.policies.MLPPolicy`).
        run_root: Where the run directory is made.
        checkpoints: Save this many checkpoints over the run (0: none).
        tensorboard: Log to TensorBoard in ``<run_dir>/tb``.
        progress_bar: Show SB3's progress bar.
        threads: Torch threads (default 1, or ``HEAS_TORCH_THREADS``).
        reward_objective: The role's objective, trained on instead of the env's reward (an
            :class:`~heas_envs.scenarios.Objective` of ``role`` with ``negate``; see
            :class:`SharedRoleVecEnv`); recorded in ``args.json``.
        callbacks: Hooks registered on the training worlds (see :class:`SharedRoleVecEnv`).

    Returns:
        A :class:`TrainResult`.

    Raises:
        ValueError: An unknown algorithm, role or parameter, a bad budget, or a reward
            objective SB3 cannot train on.
    """
    import stable_baselines3
    from stable_baselines3.common.callbacks import CheckpointCallback

    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose one of {list(ALGORITHMS)}")
    if not isinstance(total_timesteps, int) or total_timesteps < 1:
        raise ValueError(f"total_timesteps must be a positive integer, got {total_timesteps!r}")
    set_torch_threads(threads)
    arguments = {
        "env_id": env_id,
        "role": role,
        "algo": algo,
        "total_timesteps": total_timesteps,
        "seed": seed,
        "num_worlds": num_worlds,
        "seats": seats,
        "background": background if isinstance(background, str) else repr(background),
        "env_params": env_params or {},
        "algo_kwargs": algo_kwargs or {},
        "actor_kwargs": actor_kwargs or {},
    }
    objective = sb3_objective(reward_objective, role)
    arguments["reward_objective"] = objective.to_dict() if objective is not None else None
    env = SharedRoleVecEnv(
        env_id,
        role,
        num_worlds=num_worlds,
        seats=seats,
        background=background,
        reward_objective=objective,
        callbacks=callbacks,
        **(env_params or {}),
    )
    arguments["seats"] = env.seats
    run_dir = new_run_dir(run_root, env_id, role, algo, seed)
    (run_dir / "args.json").write_text(json.dumps(arguments, indent=2, default=str) + "\n")
    cls = getattr(stable_baselines3, algo)
    kwargs: dict[str, Any] = {"seed": seed, "device": "cpu", **(algo_kwargs or {})}
    if tensorboard:
        kwargs["tensorboard_log"] = str(run_dir / "tb")
    if algo in ON_POLICY:
        policy: Any = HeasActorCriticPolicy
        kwargs["policy_kwargs"] = {
            "actor_kwargs": actor_kwargs or {},
            **kwargs.get("policy_kwargs", {}),
        }
    else:
        policy = "MlpPolicy"
    model = cls(policy, env, **kwargs)
    callbacks = []
    if checkpoints:
        every = max(1, total_timesteps // (checkpoints * env.num_envs))
        callbacks.append(
            CheckpointCallback(every, str(run_dir / "checkpoints"), name_prefix="model")
        )
    model.learn(total_timesteps, callback=callbacks or None, progress_bar=progress_bar)
    model.save(run_dir / "model.zip")
    actor = model.policy.actor
    torch.save(actor.state_dict(), run_dir / "actor.pt")
    return TrainResult(run_dir, model, actor, env.empty_share)


def set_actor_parameters(model: Any, vector: torch.Tensor) -> None:
    """Load a flat parameter vector (an EvoTorch solution, :func:`agents.policies.
    parameters_to_vector` of a policy) into the actor of an SB3 model trained with
    :class:`HeasActorCriticPolicy`."""
    from agents.policies import vector_to_parameters

    vector_to_parameters(vector, model.policy.actor)


def sb3_act(model: Any) -> Any:
    """An SB3 model's deterministic policy over all worlds: ``[W, n, *obs]`` to actions
    ``[W, n, ...]`` (for :func:`agents.rollout.evaluate`)."""

    def act(obs: np.ndarray) -> np.ndarray:
        flat = obs.reshape(-1, *obs.shape[2:])
        actions, _ = model.predict(flat, deterministic=True)
        return np.asarray(actions).reshape(*obs.shape[:2], *np.shape(actions)[1:])

    return act
