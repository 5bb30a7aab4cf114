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

from typing import Any

import gymnasium
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

import heas_envs
from heas_envs.env.single import Background, _role_policies
from heas_envs.env.vector import VectorWorldsEnv, sample_actions


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
        **params: Model parameters.

    ``seed(s)`` (SB3 calls it when given a seed) seeds world ``b`` with ``s + b * seats`` (the
    seed SB3 gives its first seat) at the next reset; the random background draws from one
    generator per world seeded alike.

    Raises:
        ValueError: An unknown role, a bad number of seats or worlds, or a bad parameter.
    """

    def __init__(
        self,
        env_id: str,
        role: str,
        num_worlds: int = 8,
        seats: int | None = None,
        background: Background = "heuristic",
        **params: Any,
    ) -> None:
        self.worlds: VectorWorldsEnv = heas_envs.make_vec(
            env_id, num_worlds=num_worlds, autoreset="same_step", **params
        )
        if role not in self.worlds.groups:
            raise ValueError(f"unknown role {role!r} of {env_id}; roles are {self.worlds.roles}")
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
        self.background = _role_policies(background, self.worlds.roles)
        B = self.worlds.num_worlds
        self._seat = np.full((B, seats), -1, dtype=np.int64)  # the model slot in each seat
        self._generators = [np.random.default_rng(b) for b in range(B)]
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
            self._generators = [np.random.default_rng(s) for s in seed]
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
        obs, out = self._obs, {}
        heuristic = [r for r, p in self.background.items() if p == "heuristic"]
        if heuristic:
            out.update(self.worlds.heuristic_actions({r: obs[r] for r in heuristic}))
        for role, policy in self.background.items():
            if policy == "random":
                group = self.worlds.groups[role]
                out[role] = np.stack(
                    [
                        sample_actions(group.action_space, group.n_agents, g)
                        for g in self._generators
                    ]
                )
            elif policy != "heuristic":
                out[role] = np.asarray(policy(obs[role]))
        return out

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)
