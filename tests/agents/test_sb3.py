"""SB3 on batched worlds: the seats of a shared role under death, birth and time limits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import MORTAL_ECONOMY as MORTAL

from agents.sb3 import SharedRoleVecEnv
from heas_envs.core.callbacks import Callback


class StepCounter(Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, env, result) -> None:
        self.steps += 1


def test_seats_report_one_done_per_death_and_newborns_take_free_seats():
    env = SharedRoleVecEnv("heas_envs/Economy-v0", "citizen", num_worlds=3, seats=6, **MORTAL)
    env.seed(0)
    obs = env.reset()
    assert obs.shape == (18, 23) and (env.seated() >= 0).all()
    env.action_space.seed(0)
    deaths = births = 0
    for _ in range(80):
        before = env.seated()
        ticks = env.worlds.ticks()
        obs, rewards, dones, infos = env.step(
            np.stack([env.action_space.sample() for _ in range(18)])
        )
        after, alive = env.seated(), env.worlds.alive["citizen"]
        ended = env.worlds.ticks() < ticks + 1  # the world started a new episode in this step
        for b in range(3):
            for k in range(6):
                i = b * 6 + k
                assert ("terminal_observation" in infos[i]) == bool(dones[i])
                if before[b, k] < 0:  # an empty seat never ends; it is zeros until filled
                    assert not dones[i] and rewards[i] == 0
                elif not ended[b]:  # the world goes on: done exactly when the seated agent died
                    died = not alive[b, before[b, k]]
                    assert dones[i] == died
                    deaths += died
                    if not died:
                        assert after[b, k] == before[b, k]
                if after[b, k] < 0:
                    assert not obs[i].any()
                elif not ended[b] and after[b, k] != before[b, k]:
                    births += 1
            seated = after[b][after[b] >= 0]
            assert len(set(seated.tolist())) == len(seated) and alive[b, seated].all()
            unseated = set(np.flatnonzero(alive[b]).tolist()) - set(seated.tolist())
            assert not unseated or (after[b] >= 0).all()  # nobody waits while a seat is free
    assert deaths > 10 and births > 5 and 0 < env.empty_share < 1


def test_time_limit_ends_every_seat_as_truncated_with_its_final_observation():
    env = SharedRoleVecEnv("heas_envs/Market-v0", "trader", num_worlds=2, n_traders=3, max_steps=4)
    env.seed(1)
    env.reset()
    for t in range(4):
        obs, rewards, dones, infos = env.step(np.zeros((6, 1), dtype=np.float32))
        assert dones.all() == (t == 3) and not (dones.any() and t < 3)
    assert all(i["TimeLimit.truncated"] for i in infos)
    assert all(i["terminal_observation"].shape == (8,) for i in infos)
    assert not np.array_equal(infos[0]["terminal_observation"], obs[0])  # obs: the new episode


def test_ppo_with_parameter_sharing_gives_the_same_weights_for_the_same_seed():
    from stable_baselines3 import PPO

    weights = []
    for _ in range(2):
        env = SharedRoleVecEnv("heas_envs/Economy-v0", "citizen", num_worlds=2, seats=6, **MORTAL)
        model = PPO("MlpPolicy", env, n_steps=16, batch_size=64, n_epochs=1, seed=3, device="cpu")
        model.learn(192)
        weights.append(torch.nn.utils.parameters_to_vector(model.policy.parameters()).detach())
    assert torch.equal(weights[0], weights[1])


def test_bad_arguments_are_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown role 'broker'.*\['trader', 'regulator'\]"):
        SharedRoleVecEnv("heas_envs/Market-v0", "broker")
    with pytest.raises(ValueError, match=r"seats must be an integer in \[1, 3\]"):
        SharedRoleVecEnv("heas_envs/Market-v0", "trader", n_traders=3, seats=4)


def test_train_sb3_trains_our_module_as_the_actor_and_saves_a_complete_run(tmp_path):
    import json

    from stable_baselines3 import PPO

    from agents.policies import MLPPolicy
    from agents.sb3 import train_sb3

    kw = dict(
        total_timesteps=256,
        num_worlds=2,
        seed=5,
        algo_kwargs={"n_steps": 16, "batch_size": 48},
        run_root=tmp_path,
        checkpoints=2,
    )
    result = train_sb3("heas_envs/Ecology-v0", "manager", **kw)
    steps = StepCounter()
    again = train_sb3("heas_envs/Ecology-v0", "manager", callbacks=[steps], **kw)  # observed
    assert steps.steps * 2 * 12 == again.model.num_timesteps  # every env step heard, once
    assert isinstance(result.actor, MLPPolicy) and result.run_dir != again.run_dir
    assert result.model.policy.action_net is result.actor.head  # SB3 trained our module
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"args.json", "model.zip", "actor.pt", "checkpoints", "tb"} <= files
    args = json.loads((result.run_dir / "args.json").read_text())
    assert args["env_id"] == "heas_envs/Ecology-v0" and args["seats"] == 12
    obs = SharedRoleVecEnv("heas_envs/Ecology-v0", "manager", num_worlds=2).reset()
    loaded = PPO.load(result.run_dir / "model.zip", device="cpu")
    expected = result.actor(torch.as_tensor(obs)).detach().numpy()
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], expected)
    same = [torch.nn.utils.parameters_to_vector(r.actor.parameters()) for r in (result, again)]
    assert torch.equal(*same)
