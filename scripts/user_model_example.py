"""A user-defined hierarchical model in a few lines, HEAS style, turned into a PettingZoo env.

Two streams: a price producer (layer 1) and a trading policy group (layer 2) that reads this
tick's price. ``python scripts/user_model_example.py`` builds it, runs ``check_env`` on it and
prints a short episode.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from heas_envs import (
    AgentGroup,
    HierarchicalParallelEnv,
    LayerSpec,
    Stream,
    StreamSpec,
    check_env,
    make_model,
)


class Price(Stream):
    """Layer 1: a random-walk price."""

    writes = ("price", "change")

    def __init__(self, name: str, start: float = 100.0, drift: float = 0.0, noise: float = 0.5):
        super().__init__(name)
        self.start, self.drift, self.noise = start, drift, noise

    def reset(self, ctx):
        self.write(ctx, "price", np.full(ctx.n_worlds, self.start))
        self.write(ctx, "change", np.zeros(ctx.n_worlds))

    def step(self, ctx):
        change = self.drift + self.noise * ctx.rng.standard_normal(ctx.n_worlds)
        self.write(ctx, "price", ctx[self.key("price")] + change)
        self.write(ctx, "change", change)


class Traders(AgentGroup):
    """Layer 2: each trader sets a position in [-1, 1] and earns position x price change."""

    role = "trader"
    reads = ("L1.change",)
    writes = ("position", "pnl")

    def __init__(self, name: str, n_agents: int = 3):
        super().__init__(name, n_agents)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx):
        self.write(ctx, "position", np.zeros((ctx.n_worlds, self.n_agents)))
        self.write(ctx, "pnl", np.zeros((ctx.n_worlds, self.n_agents)))

    def apply(self, actions, ctx):
        # This tick's price change (layer 1 ran first) is earned by the position held into it.
        self.write(ctx, "pnl", ctx[self.key("position")] * self.read(ctx, "L1.change")[:, None])
        self.write(ctx, "position", np.asarray(actions, dtype=float)[..., 0])

    def observe(self, ctx):
        change = np.broadcast_to(self.read(ctx, "L1.change")[:, None], ctx[self.key("pnl")].shape)
        return np.stack([change, ctx[self.key("position")]], axis=-1).astype(np.float32)

    def reward(self, ctx):
        return ctx[self.key("pnl")]

    def heuristic(self, obs):
        return np.sign(obs[..., :1]).astype(np.float32)  # momentum


def spec(n_traders: int = 3, noise: float = 0.5) -> list[LayerSpec]:
    """The model: a price layer, then a trader layer."""
    return [
        LayerSpec([StreamSpec("L1", Price, {"noise": noise})]),
        LayerSpec([StreamSpec("L2", Traders, {"n_agents": n_traders})]),
    ]


def make_env() -> HierarchicalParallelEnv:
    """A PettingZoo ParallelEnv of the model, 50 ticks an episode."""
    return HierarchicalParallelEnv(make_model(spec()), max_steps=50)


if __name__ == "__main__":
    check_env(make_env)
    env = make_env()
    obs, _ = env.reset(seed=0)
    total = dict.fromkeys(env.agents, 0.0)
    while env.agents:
        obs, rewards, *_ = env.step(env.agent_actions(env.heuristic_actions()))
        for agent, r in rewards.items():
            total[agent] += r
    print(
        "check_env passed; momentum returns over 50 ticks:",
        {a: round(v, 3) for a, v in total.items()},
    )
