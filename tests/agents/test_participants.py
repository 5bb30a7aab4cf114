"""Participants: each kind plays its policy over all worlds, describes itself and pickles."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

import heas_envs
from agents.participants import Participant, parse_participant
from agents.policies import MLPPolicy, parameters_to_vector

ENV = "heas_envs/Enterprise-v0"


@pytest.fixture(scope="module")
def worlds():
    venv = heas_envs.make_vec(ENV, num_worlds=3, n_firms=4, max_steps=5)
    obs, _ = venv.reset(seed=[10, 11, 12])
    return venv, obs["firm"]


@pytest.fixture(scope="module")
def policy(worlds):
    torch.manual_seed(0)
    return MLPPolicy(
        worlds[0].groups["firm"].observation_space,
        worlds[0].groups["firm"].action_space,
        hidden=(8,),
    )


def test_random_play_draws_per_episode_seed_whatever_the_batch(worlds):
    venv, obs = worlds
    together = Participant.random(7).bind(venv, "firm", [10, 11, 12])(obs)
    alone = heas_envs.make_vec(ENV, num_worlds=1, n_firms=4, max_steps=5)
    alone_obs, _ = alone.reset(seed=[12])
    last = Participant.random(7).bind(alone, "firm", [12])(alone_obs["firm"])
    assert together.shape == (3, 4, 3) and np.array_equal(together[2], last[0])
    assert not np.array_equal(together[0], together[1])  # worlds draw differently
    other = Participant.random(8).bind(venv, "firm", [10, 11, 12])(obs)
    assert not np.array_equal(together, other)
    assert (together >= 0).all() and (together <= 1).all()


def test_the_heuristic_plays_the_models_reference_policy(worlds):
    venv, obs = worlds
    actions = Participant.heuristic().bind(venv, "firm", [10, 11, 12])(obs)
    assert np.array_equal(actions, venv.heuristic_actions({"firm": obs})["firm"])


def test_a_module_plays_its_forward_and_describes_its_weights(worlds, policy):
    venv, obs = worlds
    player = Participant.from_module(policy, "mlp")
    expected = policy(torch.as_tensor(obs)).detach().numpy()
    assert np.array_equal(player.bind(venv, "firm", [0, 1, 2])(obs), expected)
    spec = player.to_dict()
    assert spec["class"] == "agents.policies.MLPPolicy" and len(spec["sha256"]) == 64
    assert spec["parameters"] == parameters_to_vector(policy).numel()
    with pytest.raises(ValueError, match="Participant.from_module"):
        Participant.from_dict(spec)
    again = pickle.loads(pickle.dumps(player))  # what a process pool receives
    assert np.array_equal(again.bind(venv, "firm", [0, 1, 2])(obs), expected)


def test_an_evotorch_run_or_vector_plays_the_evolved_policy(tmp_path, worlds, policy):
    venv, obs = worlds
    torch.save(policy.state_dict(), tmp_path / "best.pt")
    (tmp_path / "args.json").write_text(json.dumps({"policy_kwargs": {"hidden": [8]}}))
    expected = policy(torch.as_tensor(obs)).detach().numpy()
    from_run = Participant.from_evo(tmp_path)
    from_vector = Participant.from_evo(
        vector=parameters_to_vector(policy), policy_kwargs={"hidden": [8]}
    )
    for player in (from_run, from_vector, Participant.from_dict(from_run.to_dict())):
        assert np.array_equal(player.bind(venv, "firm", [0, 1, 2])(obs), expected)
    assert from_run.name == f"evo:{tmp_path.name}" and from_run.spec["policy_kwargs"] == {
        "hidden": [8]
    }
    market = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=1)
    with pytest.raises(ValueError, match="does not fit role 'trader'"):
        from_run.bind(market, "trader", [0])
    (tmp_path / "best.pt").write_bytes(b"changed")
    with pytest.raises(ValueError, match="changed since it was described"):
        Participant.from_dict(from_run.to_dict())


def test_an_sb3_model_file_plays_model_predict(tmp_path, worlds):
    from agents.sb3 import sb3_act, train_sb3

    result = train_sb3(
        ENV,
        "firm",
        total_timesteps=16,
        num_worlds=2,
        env_params={"n_firms": 4, "max_steps": 5},
        algo_kwargs={"n_steps": 4, "batch_size": 8},
        run_root=tmp_path,
        tensorboard=False,
    )
    venv, obs = worlds
    player = Participant.from_sb3(result.run_dir)  # the run directory: algo from args.json
    assert player.spec["algo"] == "PPO" and player.name == f"sb3:{result.run_dir.name}"
    actions = player.bind(venv, "firm", [0, 1, 2])(obs)
    assert np.array_equal(actions, sb3_act(result.model)(obs))
    again = pickle.loads(pickle.dumps(player))
    assert again._cache == {} and np.array_equal(again.bind(venv, "firm", [0])(obs), actions)
    described = Participant.from_dict(player.to_dict())
    assert described.to_dict() == player.to_dict()


def test_command_line_participants():
    assert parse_participant("heuristic").to_dict() == {"name": "heuristic", "kind": "heuristic"}
    assert parse_participant("random:5").to_dict() == {
        "name": "random",
        "kind": "random",
        "seed": 5,
    }
    assert parse_participant("mine=random").name == "mine"
    for bad in ("random:x", "sb3", "evo:", "ppo:model.zip", "heuristic:1"):
        with pytest.raises(ValueError):
            parse_participant(bad)
    with pytest.raises(ValueError, match="no SB3 model file"):
        parse_participant("sb3:/nonexistent/model.zip")
    with pytest.raises(ValueError, match="no best.pt"):
        parse_participant("evo:/nonexistent")
