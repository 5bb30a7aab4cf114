"""A swarm planner (fractal Monte Carlo) whose walkers are batched worlds.

Before every step of a world, :class:`SwarmPlanner` loads that world's exact state into
``walkers`` worlds of a planning env of the same model
(:meth:`~heas_envs.env.VectorWorldsEnv.load_worlds`) and searches over futures
``horizon`` steps deep, in the manner of fractal Monte Carlo (Hernández Carrera, fragile):

1. **Step.** Every walker steps with actions proposed for the planned role: the model's
   heuristic perturbed (Gaussian noise of ``noise`` times the width of each Box dimension,
   clipped to the space; a uniformly random action with probability ``epsilon`` for a
   discrete space) or uniformly random actions (``proposal="random"``). Walker 0 of every
   world follows the proposal without noise, so the plain heuristic path is always among the
   paths searched. Every other role is played by the model's heuristic (the planner's model
   of the others). The planner plans for every slot of its role: in a scenario whose
   background plays some of the role's slots, or a head-to-head match, the walkers perturb
   those slots too and the score counts their reward (the planner is not told which slots
   are its own). A walker's score is the role's reward summed over its agents and the steps
   so far.
2. **Virtual reward.** Each walker draws a random companion among its world's walkers;
   ``distance`` is the Euclidean distance between their observations of the role (flattened).
   Scores and distances are relativised within the world (standardised, then ``1 + log(1 +
   z)`` above 0 and ``exp(z)`` below, as fragile does) and combined into the virtual reward
   ``VR = score ** reward_power * distance ** distance_power``: high for walkers that did
   well and for walkers in unexplored states.
3. **Clone.** Each walker draws a second companion and clones to it with probability
   ``clip((VR_c - VR_i) / VR_i, 0, 1)`` (always when its own episode has ended and the
   companion's has not): :meth:`~heas_envs.env.VectorWorldsEnv.clone_worlds` copies the
   companion's world into it in one vectorised operation, with its score and first action.
   Walker 0 is never overwritten.

After the last step the planner plays, in the real world, the first action of the walker
with the best score (walker 0's, the heuristic's, on a tie). The search stops early when
every walker's episode has ended (the time limit); a walker whose episode ends earlier stops
scoring and is cloned over.

**What the planner knows.** The model and the exact state of each world (it is a
model-based planner with a perfect simulator, like fractal Monte Carlo on an emulator), but
not the world's future random draws: the walkers draw from generators of their own, seeded
by the planner's seed, the world's episode seed and the tick, the same for every walker of
a world (common random numbers: the paths it compares face the same noise until they
differ in their draws). It maximises the
model's reward of the role; scenario wrappers over the env (observation noise, delays,
reward transforms) are not simulated.

**Determinism.** A world's actions depend only on its state, its episode seed and the
planner's settings: not on the other worlds of the batch, the batch size or the back end
(one generator per world for the noise and the companions).

**Callbacks.** ``callbacks=[...]`` are registered on the planning envs: they hear of every
planning step and layer (``on_step_start`` / ``on_layer_*`` / ``on_step_end``) and of
walkers' episodes that end (``on_episode_end``); loading worlds starts no episode, so there
is no ``on_episode_start``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from heas_envs.core.callbacks import Callback, as_callbacks
from heas_envs.core.params import check_choice, check_float, check_int
from heas_envs.data.collector import worlds_of
from heas_envs.env.vector import VectorWorldsEnv, sample_actions

PROPOSALS = ("heuristic", "random")


@dataclass(frozen=True)
class PlannerConfig:
    """The settings of a :class:`SwarmPlanner` (JSON data: ``asdict``).

    Attributes:
        walkers: Walkers (planning worlds) per real world, 2 or more.
        horizon: Steps searched ahead, 1 or more.
        proposal: ``"heuristic"`` (perturbed heuristic) or ``"random"``.
        noise: Gaussian noise of a Box action, as a share of each dimension's width.
        epsilon: Probability of a uniformly random action of a discrete space.
        reward_power: Exponent of the relativised score in the virtual reward.
        distance_power: Exponent of the relativised distance in the virtual reward.
        seed: The planner's seed.
    """

    walkers: int = 32
    horizon: int = 10
    proposal: str = "heuristic"
    noise: float = 0.2
    epsilon: float = 0.1
    reward_power: float = 1.0
    distance_power: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("planner walkers", self.walkers, 2, 4096)
        check_int("planner horizon", self.horizon, 1, 100_000)
        check_choice("planner proposal", self.proposal, PROPOSALS)
        check_float("planner noise", self.noise, 0.0, 10.0)
        check_float("planner epsilon", self.epsilon, 0.0, 1.0)
        check_float("planner reward_power", self.reward_power, 0.0, 10.0)
        check_float("planner distance_power", self.distance_power, 0.0, 10.0)
        check_int("planner seed", self.seed, 0, 2**63 - 1)

    @classmethod
    def of(cls, settings: PlannerConfig | Mapping[str, Any] | None) -> PlannerConfig:
        """``settings`` as a config (a mapping of some of the fields, or ``None``).

        Raises:
            ValueError: An unknown setting (the message lists the settings) or a bad value.
        """
        if isinstance(settings, cls):
            return settings
        given = dict(settings or {})
        unknown = sorted(set(given) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"unknown planner settings {unknown}; settings: {list(cls.__dataclass_fields__)}"
            )
        return cls(**given)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON data."""
        return asdict(self)


class SwarmPlanner:
    """The planner of one role in the batched worlds ``env`` (see the module docs); call it
    with the role's observations ``[B, n_agents, *obs]`` each step, as a participant's policy.

    Args:
        env: The batched worlds played (a :class:`~heas_envs.env.VectorWorldsEnv` or a
            wrapper of one, such as ``Scenario.make_vec``), reset.
        role: The planned role.
        seeds: The episode seed of each world.
        config: The settings (:class:`PlannerConfig` or a mapping of them).
        callbacks: Hooks registered on the planning envs.

    Raises:
        ValueError: An unknown role, the wrong number of seeds, bad settings.
    """

    def __init__(
        self,
        env: Any,
        role: str,
        seeds: Sequence[int],
        config: PlannerConfig | Mapping[str, Any] | None = None,
        callbacks: Callback | Sequence[Callback] | None = None,
    ) -> None:
        self.engine: VectorWorldsEnv = worlds_of(env)
        if role not in self.engine.groups:
            raise ValueError(f"unknown role {role!r}; roles are {self.engine.roles}")
        if len(seeds) != self.engine.num_worlds:
            raise ValueError(
                f"give one episode seed per world ({self.engine.num_worlds}), got {len(seeds)}"
            )
        self.config = PlannerConfig.of(config)
        self.role = role
        self.seeds = [int(s) for s in seeds]
        self.space = self.engine.groups[role].action_space
        self.callbacks = as_callbacks(callbacks)
        # one generator per world: perturbations and companions
        self.rngs = [np.random.default_rng([self.config.seed, s]) for s in self.seeds]
        self._walkers: dict[int, VectorWorldsEnv] = {}

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The actions of the role in every world, ``[B, n_agents, *act]`` (the observations
        are not used: the planner reads the worlds' state)."""
        engine = self.engine
        cohorts = engine.running_cohorts()
        if sum(len(w) for w in cohorts) == engine.num_worlds:  # every world is planned
            group = engine.groups[self.role]
            shape = (engine.num_worlds, group.n_agents, *engine.action_shapes[self.role])
            out = np.empty(shape, dtype=self.space.dtype)
        else:  # worlds waiting for their reset play the heuristic (the env ignores them)
            out = np.array(engine.heuristic_actions()[self.role], dtype=self.space.dtype)
        for worlds in cohorts:
            out[worlds] = self.plan(worlds)
        return out

    def plan(self, worlds: np.ndarray) -> np.ndarray:
        """Search from the running worlds ``worlds`` (of one cohort); the first action of the
        best path of each, ``[len(worlds), n_agents, *act]``."""
        engine, cfg, role = self.engine, self.config, self.role
        m, W = len(worlds), cfg.walkers
        tick = int(engine.ticks()[worlds[0]])
        walkers = self._walkers_env(m * W)
        walkers.load_worlds(
            engine,
            np.repeat(worlds, W),
            [
                np.random.default_rng([cfg.seed, self.seeds[b], tick])
                for b in worlds.tolist()
                for w in range(W)
            ],
        )
        rngs = [self.rngs[b] for b in worlds.tolist()]
        score = np.zeros(m * W)
        ended = np.zeros(m * W, dtype=bool)
        first = None
        for h in range(cfg.horizon):
            actions = walkers.heuristic_actions()  # of the walkers' current (cloned) state
            actions[role] = self._propose(actions[role], rngs)
            if first is None:
                first = actions[role].copy()
            step = walkers.step(actions)
            reward = step.rewards[role].reshape(m * W, -1).sum(axis=1)
            score += np.where(ended, 0.0, reward)
            ended |= step.info["ended"]
            if ended.all():  # the time limit (or every walker's end): nothing left to search
                break
            if h + 1 < cfg.horizon:
                self._clone(walkers, score, ended, walkers.observations[role], first, rngs)
        assert first is not None
        best = np.argmax(score.reshape(m, W), axis=1) + np.arange(m) * W
        return first[best]

    def _walkers_env(self, n: int) -> VectorWorldsEnv:
        env = self._walkers.get(n)
        if env is None:
            env = self._walkers[n] = self.engine.like(n)
            for cb in self.callbacks:
                env.add_callback(cb)
        return env

    def _propose(self, base: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
        """Actions ``[m * W, n, *act]``: the proposal with each world's noise (walker 0 of
        each world without)."""
        cfg, space = self.config, self.space
        m, W = len(rngs), cfg.walkers
        rows = base.reshape(m, W, *base.shape[1:]).astype(np.float64)
        box = isinstance(space, spaces.Box) and cfg.proposal != "random"
        if box:
            width = np.where(np.isfinite(space.high - space.low), space.high - space.low, 1.0)
        for k, rng in enumerate(rngs):
            if box:
                noisy = rows[k, 1:] + cfg.noise * width * rng.standard_normal(rows[k, 1:].shape)
                rows[k, 1:] = np.clip(noisy, space.low, space.high)
                continue
            sampled = sample_actions(space, rows.shape[1:3], rng).astype(np.float64)
            if cfg.proposal == "random":
                rows[k, 1:] = sampled[1:]
            else:
                swap = rng.random(rows.shape[1:3]) < cfg.epsilon
                swap[0] = False
                rows[k][swap] = sampled[swap]
        return rows.reshape(base.shape).astype(space.dtype)

    def _clone(
        self,
        walkers: VectorWorldsEnv,
        score: np.ndarray,
        ended: np.ndarray,
        role_obs: np.ndarray,
        first: np.ndarray,
        rngs: list[np.random.Generator],
    ) -> None:
        """One cloning round, in place: walkers move toward better and less explored ones."""
        cfg = self.config
        m, W = len(rngs), cfg.walkers
        features = role_obs.reshape(m, W, -1).astype(np.float64)
        scores, done = score.reshape(m, W), ended.reshape(m, W)
        src, dst = [], []
        for k, rng in enumerate(rngs):
            if done[k].all():
                continue
            mate = rng.integers(0, W, W)
            distance = np.linalg.norm(features[k] - features[k][mate], axis=1)
            virtual = (
                relativize(scores[k]) ** cfg.reward_power
                * relativize(distance) ** cfg.distance_power
            )
            other = rng.integers(0, W, W)
            lost = np.flatnonzero(done[k])
            if len(lost):  # an ended walker clones to a running one now, before its reset
                running = np.flatnonzero(~done[k])
                other[lost] = running[rng.integers(0, len(running), len(lost))]
            gain = (virtual[other] - virtual) / np.maximum(virtual, 1e-12)
            clone = (done[k] | (gain > rng.random(W))) & ~done[k][other]
            clone[0] = False
            clone &= other != np.arange(W)
            chosen = np.flatnonzero(clone)
            src.append(k * W + other[chosen])
            dst.append(k * W + chosen)
        if not src:
            return
        s, d = np.concatenate(src), np.concatenate(dst)
        if len(d) == 0:
            return
        walkers.clone_worlds(s, d)
        score[d], ended[d], first[d] = score[s], False, first[s]


def relativize(x: np.ndarray) -> np.ndarray:
    """Fractal Monte Carlo's relativisation: ``x`` standardised, then ``1 + log(1 + z)`` where
    ``z > 0`` and ``exp(z)`` elsewhere (positive, order-preserving, compressing outliers)."""
    std = x.std()
    z = (x - x.mean()) / (std if std > 0 else 1.0)
    return np.where(z > 0, 1.0 + np.log1p(np.maximum(z, 0.0)), np.exp(np.minimum(z, 0.0)))
