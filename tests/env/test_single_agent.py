"""The single-agent Gymnasium view: focal agent, background policies, seeding, errors."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import heas_envs  # noqa: F401  (registers the ids with Gymnasium)
from heas_envs.env import SingleAgentEnv


def episode(env, seed, steps=30, action=0.5):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, term, trunc, info = env.step(np.array([action], dtype=np.float32))
        out += [obs, [reward]]
    return np.concatenate(out)


def test_make_gives_the_first_trader_as_focal_agent():
    env = gymnasium.make("heas_envs/Market-v0", n_traders=4)
    inner = env.unwrapped
    assert isinstance(inner, SingleAgentEnv) and inner.focal_agent == "trader_0"
    assert env.observation_space == inner.parallel.observation_space("trader_0")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_the_same_seed_repeats_and_another_differs():
    env = gymnasium.make("heas_envs/Market-v0", background="random")
    a, b, c = episode(env, 3), episode(env, 3), episode(env, 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_background_policies_drive_the_other_agents():
    calls = []

    def all_buy(obs):
        calls.append(obs.shape)
        return np.ones((obs.shape[0], 1), dtype=np.float32)

    env = gymnasium.make("heas_envs/Market-v0", n_traders=3, background={"trader": all_buy})
    env.reset(seed=0)
    env.step(np.zeros(1, dtype=np.float32))
    assert calls == [(3, 8)]
    positions = env.unwrapped.parallel.model.ctx["traders.position"][0]
    assert positions.tolist() == [0.0, 1.0, 1.0]  # the focal agent's action replaced its row


def test_the_focal_agent_can_be_any_agent():
    env = gymnasium.make("heas_envs/Market-v0", focal_agent="regulator_0")
    assert env.action_space.shape == (1,) and env.observation_space.shape == (5,)
    env.reset(seed=0)
    _, reward, *_ = env.step(np.array([1.0], dtype=np.float32))
    assert np.isfinite(reward)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"background": "smart"},
            r"background policy 'smart' for role 'trader' is unknown; use one of \['heuristic', 'random'\]",
        ),
        ({"background": {"broker": "random"}}, r"unknown roles \['broker'\]"),
        ({"focal_agent": "trader_99"}, "unknown agent 'trader_99'"),
        ({"n_traders": -2}, "n_traders must be an integer"),
    ],
)
def test_bad_arguments_are_refused_with_what_would_be_accepted(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gymnasium.make("heas_envs/Market-v0", **kwargs)


def test_an_invalid_focal_action_names_the_agent():
    env = gymnasium.make("heas_envs/Market-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent 'trader_0'"):
        env.step(np.array([np.nan], dtype=np.float32))


def test_sb3_ppo_trains_on_the_view():
    from stable_baselines3 import PPO

    env = gymnasium.make("heas_envs/Market-v0", max_steps=50)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=128)
    assert model.num_timesteps == 128
    assert any(
        not np.array_equal(a.numpy(), b.detach().numpy())
        for a, b in zip(before, model.policy.parameters())
    )
