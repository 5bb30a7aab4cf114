"""The learner and its inference workers (agents.learner): SB3's rollouts, the same weights on
every back end, and the arguments it refuses."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import numpy as np
import pytest
import torch
from conftest import InlineRay
from stable_baselines3 import PPO

from agents.learner import (
    InferenceWorker,
    WorkerSpec,
    _fill_buffer,
    _SpacesVecEnv,
    sample_seed,
    train_workers,
)
from agents.sb3 import HeasActorCriticPolicy, SharedRoleVecEnv
from heas_envs.core.callbacks import Callback

ENV = "heas_envs/PowerGrid-v0"
SHORT = {"max_steps": 10}  # episodes end (truncated) within a few steps
TINY = dict(
    n_workers=2,
    worlds_per_worker=2,
    n_steps=8,
    iterations=2,
    env_params=SHORT,
    algo_kwargs={"batch_size": 16, "n_epochs": 2, "policy_kwargs": {"critic_hidden": (8,)}},
    actor_kwargs={"hidden": (8,)},
)
POLICY_KWARGS = {"actor_kwargs": {"hidden": (8,)}, "critic_hidden": (8,)}


def weights(result: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in result.model.policy.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny run in this process (seed 0)."""
    return train_workers(
        ENV, "defender", backend="inprocess", run_root=tmp_path_factory.mktemp("runs"), **TINY
    )


def test_a_worker_collects_what_sb3s_collect_rollouts_collects():
    env = SharedRoleVecEnv(ENV, "defender", num_worlds=2, **SHORT)
    model = PPO(  # seeds the worlds as worker 0 of a run seeded 3: world b gets 3 + b
        HeasActorCriticPolicy,
        env,
        n_steps=24,
        seed=3,
        device="cpu",
        batch_size=48,
        policy_kwargs=POLICY_KWARGS,
    )
    _, callback = model._setup_learn(48, callback=None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample_seed(3, 0, 0))
        model.collect_rollouts(env, callback, model.rollout_buffer, 24)
    spec = WorkerSpec(
        ENV, "defender", 0, 2, 1, 3, "heuristic", None, SHORT,
        model.policy._get_constructor_parameters(), 24, model.gamma,
    )  # fmt: skip
    state = {k: v.numpy() for k, v in model.policy.state_dict().items()}
    experience = InferenceWorker(spec).collect(state, 0)
    sb3 = model.rollout_buffer
    for name in ("observations", "actions", "rewards", "episode_starts", "values", "log_probs"):
        np.testing.assert_array_equal(getattr(experience, name), getattr(sb3, name), err_msg=name)
    assert experience.episode_starts[1:].sum() >= 4  # truncated episodes were bootstrapped
    assert (
        len(experience.episode_returns)
        == experience.episode_starts[1:].sum() + experience.dones.sum()
    )
    # the learner's buffer of that experience has SB3's returns and advantages
    learner = PPO(
        HeasActorCriticPolicy,
        _SpacesVecEnv(2, env.observation_space, env.action_space),
        n_steps=24,
        seed=3,
        device="cpu",
        batch_size=48,
        policy_kwargs=POLICY_KWARGS,
    )
    _fill_buffer(learner, [experience])
    np.testing.assert_allclose(learner.rollout_buffer.returns, sb3.returns, rtol=1e-6)
    np.testing.assert_allclose(learner.rollout_buffer.advantages, sb3.advantages, rtol=1e-6)


def test_a_workers_samples_leave_the_global_torch_generator_alone():
    env = SharedRoleVecEnv(ENV, "defender", num_worlds=1, **SHORT)
    policy = HeasActorCriticPolicy(env.observation_space, env.action_space, lambda _: 0.0)
    spec = WorkerSpec(
        ENV, "defender", 1, 1, 1, 0, "heuristic", None, SHORT,
        policy._get_constructor_parameters(), 4, 0.99,
    )  # fmt: skip
    state = {k: v.numpy() for k, v in policy.state_dict().items()}
    torch.manual_seed(1)
    before = torch.random.get_rng_state()
    first = InferenceWorker(spec).collect(state, 5)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(2)  # another global state: the same samples
    second = InferenceWorker(spec).collect(state, 5)
    np.testing.assert_array_equal(first.actions, second.actions)
    other = InferenceWorker(spec).collect(state, 6)  # another iteration: other samples
    assert not np.array_equal(first.actions, other.actions)


def test_a_run_trains_and_saves_its_model_and_actor(inprocess, tmp_path):
    result = inprocess
    assert result.model.rollout_buffer.n_envs == 4 and len(result.mean_rewards) == 2
    assert len(result.collect_seconds) == len(result.learn_seconds) == 2
    args = json.loads((result.run_dir / "args.json").read_text())
    assert args["n_workers"] == 2 and args["backend"] == "inprocess" and args["seats"] == 1
    assert (result.run_dir / "model.zip").exists()
    saved = torch.load(result.run_dir / "actor.pt")
    assert all(torch.equal(saved[k], v) for k, v in result.actor.state_dict().items())
    # the second iteration's update changed the weights of the first
    one = train_workers(ENV, "defender", backend="inprocess", run_root=tmp_path, **TINY | {
        "iterations": 1})  # fmt: skip
    assert not same(weights(one), weights(result))


class StepCounter(Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, env: Any, result: Any) -> None:
        self.steps += 1


def test_the_same_seed_gives_the_same_weights_a_different_seed_others(inprocess, tmp_path):
    heard = StepCounter()  # observes every worker's steps and changes nothing
    kw = dict(backend="inprocess", run_root=tmp_path, callbacks=[heard])
    again = train_workers(ENV, "defender", **kw, **TINY)
    assert same(weights(again), weights(inprocess))
    assert heard.steps == TINY["iterations"] * TINY["n_steps"] * TINY["n_workers"]
    assert again.mean_rewards == inprocess.mean_rewards
    other = train_workers(ENV, "defender", backend="inprocess", run_root=tmp_path, seed=1, **TINY)
    assert not same(weights(other), weights(inprocess))


def test_worker_processes_give_the_in_process_weights(inprocess, tmp_path):
    result = train_workers(ENV, "defender", backend="process", run_root=tmp_path, **TINY)
    assert same(weights(result), weights(inprocess))
    for a, b in zip(result.episode_returns, inprocess.episode_returns):
        np.testing.assert_array_equal(a, b)


class InlineRayActors(InlineRay):
    """``conftest.InlineRay`` with actors: a class's methods run when called."""

    def __init__(self) -> None:
        super().__init__(running=False, cpus=1)
        self.killed: list[Any] = []

    def remote(self, num_cpus: int) -> Any:
        def actor_class(cls: type) -> Any:
            def make(*args: Any) -> Any:
                instance = cls(*args)
                return types.SimpleNamespace(collect=types.SimpleNamespace(remote=instance.collect))

            return types.SimpleNamespace(remote=make)

        return actor_class

    def put(self, value: Any) -> Any:
        return self.cloudpickle.loads(self.cloudpickle.dumps(value))

    def get(self, refs: Any) -> Any:
        return list(refs)

    def kill(self, actor: Any) -> None:
        self.killed.append(actor)


def test_ray_actors_give_the_in_process_weights(inprocess, tmp_path, monkeypatch):
    ray = InlineRayActors()
    monkeypatch.setitem(sys.modules, "ray", ray)
    result = train_workers(ENV, "defender", backend="ray", run_root=tmp_path, **TINY)
    assert same(weights(result), weights(inprocess))
    assert ray.inits == [{"num_cpus": 2, "include_dashboard": False, "logging_level": "ERROR"}]
    assert not ray.running and len(ray.killed) == 2  # started here, so shut down here


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"backend": "threads"}, r"backend must be one of \['inprocess', 'process', 'ray'\]"),
        ({"n_workers": 0}, "n_workers must be an integer >= 1"),
        ({"worlds_per_worker": 1.5}, "worlds_per_worker must be an integer >= 1"),
        ({"n_steps": True}, "n_steps must be an integer >= 1"),
        ({"iterations": -1}, "iterations must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"algo_kwargs": {"n_steps": 4}}, r"unknown algo_kwargs \['n_steps'\].*own arguments"),
        ({"algo_kwargs": {"learning_rat": 1e-3}}, r"accepted: \[.*'learning_rate'"),
        ({"role": "operator"}, "unknown role 'operator'"),
        ({"backend": "process", "callbacks": [Callback()]}, "backend='inprocess'"),
    ],
)
def test_bad_arguments_are_refused_before_a_run_starts(change, message, tmp_path):
    kwargs = dict(TINY, backend="inprocess", run_root=tmp_path) | change
    role = kwargs.pop("role", "defender")
    with pytest.raises(ValueError, match=message):
        train_workers(ENV, role, **kwargs)
    assert not any(tmp_path.iterdir())  # no run directory made
