"""Toy models shared by the runtime and adapter tests, and stand-ins for worker pools and Ray."""

from __future__ import annotations

import types
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from heas_envs.core import AgentGroup, LayerSpec, Stream, StreamSpec, make_model
from heas_envs.env import HierarchicalParallelEnv

#: An economy whose citizens die young and breed fast: episodes end at different times.
MORTAL_ECONOMY = dict(
    n_agents=6,
    max_population=30,
    max_age=6,
    starvation_ticks=2,
    productivity=0.5,
    birth_rate=0.5,
    max_steps=25,
)


class Clock(Stream):
    """Writes the current tick and a random draw."""

    writes = ("tick", "noise")

    def reset(self, ctx):
        self.write(ctx, "tick", np.full(ctx.n_worlds, -1.0))
        self.write(ctx, "noise", np.zeros(ctx.n_worlds))

    def step(self, ctx):
        self.write(ctx, "tick", np.full(ctx.n_worlds, float(ctx.tick)))
        self.write(ctx, "noise", ctx.rng.standard_normal(ctx.n_worlds))


class Watchers(AgentGroup):
    """Agents that record what they read of the clock; slot i dies at tick ``death[i]``.

    Slots listed in ``unborn`` are born at tick ``birth_tick``.
    """

    role = "watcher"
    reads = ("clock.tick", "clock.noise")
    writes = ("seen", "alive")

    def __init__(self, name, n_agents=3, death=(), unborn=(), birth_tick=2):
        super().__init__(name, n_agents)
        self.death = dict(death)
        self.unborn, self.birth_tick = tuple(unborn), birth_tick
        self.observation_space = spaces.Box(-1e6, 1e6, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx):
        alive = np.ones((ctx.n_worlds, self.n_agents), dtype=bool)
        alive[:, list(self.unborn)] = False
        self.write(ctx, "alive", alive)
        self.write(ctx, "seen", np.zeros((ctx.n_worlds, self.n_agents)))
        self.last_actions = None

    def apply(self, actions, ctx):
        self.last_actions = np.array(actions)
        self.write(
            ctx,
            "seen",
            np.broadcast_to(
                self.read(ctx, "clock.tick")[:, None], (ctx.n_worlds, self.n_agents)
            ).copy(),
        )
        alive = ctx[self.key("alive")].copy()
        for slot, tick in self.death.items():
            if ctx.tick == tick:
                alive[:, slot] = False
        if ctx.tick == self.birth_tick:
            alive[:, list(self.unborn)] = True
        self.write(ctx, "alive", alive)

    def observe(self, ctx):
        noise = np.broadcast_to(
            self.read(ctx, "clock.noise")[:, None], (ctx.n_worlds, self.n_agents)
        )
        obs = np.stack([ctx[self.key("seen")], noise], axis=-1)
        return np.where(ctx[self.key("alive")][..., None], obs, 0.0).astype(np.float32)

    def reward(self, ctx):
        return ctx[self.key("seen")] * ctx[self.key("alive")]

    def alive(self, ctx):
        return ctx[self.key("alive")]

    def heuristic(self, obs):
        return np.zeros((*obs.shape[:-1], 1), dtype=np.float32)


def toy_spec(**watcher_params):
    """Layer 1: the clock; layer 2: the watchers."""
    return [
        LayerSpec([StreamSpec("clock", Clock)]),
        LayerSpec([StreamSpec("watchers", Watchers, watcher_params)]),
    ]


def toy_env(max_steps=6, **watcher_params):
    """A toy env with optional deaths and births."""
    return HierarchicalParallelEnv(make_model(toy_spec(**watcher_params)), max_steps=max_steps)


@pytest.fixture
def make_toy_env():
    """The toy env factory."""
    return toy_env


# -- stand-ins for worker processes and Ray -------------------------------------------------------
class ThreadPool(ThreadPoolExecutor):
    """``ProcessPoolExecutor``'s constructor on threads of this process (no parent watch)."""

    def __init__(self, workers: int, mp_context: Any = None, **_: Any) -> None:
        super().__init__(workers)


class InlineRay(types.ModuleType):
    """The part of Ray's API the Ray back end uses; a task runs when it is submitted.

    Args:
        running: Whether Ray counts as initialised before the run.
        cpus: The CPUs of the running (or started) Ray.
    """

    def __init__(self, running: bool, cpus: int) -> None:
        super().__init__("ray")
        self.running, self.cpus, self.inits = running, cpus, []
        import cloudpickle  # what Ray pickles tasks with (Ray depends on it)

        self.cloudpickle = cloudpickle

    def is_initialized(self) -> bool:
        return self.running

    def init(self, **kwargs: Any) -> None:
        self.inits.append(kwargs)
        self.running, self.cpus = True, kwargs.get("num_cpus", self.cpus)

    def shutdown(self) -> None:
        self.running = False

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": float(self.cpus)}

    def remote(self, num_cpus: int) -> Any:
        return lambda fn: types.SimpleNamespace(remote=lambda *args: fn(*args))

    def wait(self, refs: list, num_returns: int) -> tuple[list, list]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: Any) -> Any:
        return ref
