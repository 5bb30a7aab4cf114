"""EvoTorch on batched worlds: one rollout for a population, seeds, resume, several objectives."""

from __future__ import annotations

import pytest
import torch

from agents.evo import BatchedRolloutProblem, train_evo
from heas_envs.core.callbacks import Callback

SHORT = {"max_steps": 20}


def test_the_batched_population_evaluation_equals_each_candidate_alone():
    problem = BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", episodes=2, env_params=SHORT)
    values = torch.randn(5, problem.solution_length, generator=torch.Generator().manual_seed(0))
    together = problem.evaluate_parameters(0.1 * values)
    alone = torch.stack([problem.evaluate_parameters(0.1 * values[i : i + 1])[0] for i in range(5)])
    assert torch.equal(together, alone) and len(set(together.tolist())) == 5


def test_rollout_callbacks_hear_every_episode_and_policy_call_and_change_nothing():
    class Counter(Callback):
        def __init__(self) -> None:
            self.starts = self.ends = self.calls = 0

        def on_episode_start(self, env, worlds) -> None:
            self.starts += len(worlds)

        def on_episode_end(self, env, worlds) -> None:
            self.ends += len(worlds)

        def on_policy_start(self, env, role, obs, name) -> None:
            self.calls += 1

    heard = Counter()
    kw = dict(episodes=2, env_params=SHORT)
    quiet = BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", **kw)
    loud = BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", callbacks=[heard], **kw)
    values = 0.1 * torch.randn(3, quiet.solution_length, generator=torch.Generator().manual_seed(1))
    assert torch.equal(quiet.evaluate_parameters(values), loud.evaluate_parameters(values))
    assert (heard.starts, heard.ends, heard.calls) == (6, 6, SHORT["max_steps"])
    with pytest.raises(ValueError, match="Ray actors"):
        BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", num_actors=2, callbacks=[heard])


def test_same_seed_same_search_and_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    kw = dict(popsize=8, seed=3, env_params=SHORT, run_root=tmp_path)
    full = train_evo("heas_envs/Enterprise-v0", "firm", generations=4, **kw)
    again = train_evo("heas_envs/Enterprise-v0", "firm", generations=4, **kw)
    assert torch.equal(full.best, again.best) and full.log.equals(again.log)
    half = train_evo("heas_envs/Enterprise-v0", "firm", generations=2, **kw)
    resumed = train_evo("heas_envs/Enterprise-v0", "firm", generations=4, resume=half.run_dir, **kw)
    assert torch.equal(full.best, resumed.best) and full.log.equals(resumed.log)
    assert (full.run_dir / "log.csv").exists() and (full.run_dir / "best.pt").exists()


def test_a_few_generations_improve_the_population(tmp_path):
    result = train_evo(
        "heas_envs/Enterprise-v0",
        "firm",
        generations=10,
        popsize=16,
        seed=1,
        env_params=SHORT,
        run_root=tmp_path,
    )
    means = result.log["return_mean"].to_numpy()
    assert means[-3:].mean() > means[0] + 0.3  # seeded: the search moves up, not by luck
    fame = [f for f, _ in result.hall_of_fame]
    assert fame == sorted(fame, reverse=True) and len(fame) == 5


def test_two_objectives_give_a_pareto_front_of_non_dominated_points(tmp_path):
    result = train_evo(
        "heas_envs/Ecology-v0",
        "manager",
        algo="GA",
        generations=2,
        popsize=8,
        objectives=[("aggregate.mean_biomass", "max"), ("aggregate.mean_cv", "min")],
        env_params=SHORT,
        run_root=tmp_path,
    )
    front = result.pareto.to_numpy()
    assert len(front) >= 1
    for a in front:
        dominated = (front[:, 0] >= a[0]) & (front[:, 1] <= a[1]) & (front != a).any(axis=1)
        assert not dominated.any()


def test_bad_objectives_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown objective 'profit'.*agg.mean_profit"):
        BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", objectives=[("profit", "max")])
    with pytest.raises(ValueError, match="sense must be 'max' or 'min'"):
        BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", objectives=[("return", "up")])
    with pytest.raises(ValueError, match=r"unknown role 'bank'"):
        BatchedRolloutProblem("heas_envs/Enterprise-v0", "bank")
    problem = BatchedRolloutProblem("heas_envs/Enterprise-v0", "firm", env_params=SHORT)
    with pytest.raises(ValueError, match="parameter vectors have length 1, the policy"):
        problem.evaluate_parameters(torch.zeros(1, 1))


def test_two_ray_actors_give_the_serial_search(tmp_path):
    kw = dict(generations=3, popsize=8, seed=0, env_params=SHORT, run_root=tmp_path)
    serial = train_evo("heas_envs/Enterprise-v0", "firm", **kw)
    actors = train_evo("heas_envs/Enterprise-v0", "firm", num_actors=2, **kw)
    assert torch.equal(serial.best, actors.best) and serial.log.equals(actors.log)


def test_train_evo_refuses_bad_budgets_and_resume_paths(tmp_path):
    kw = dict(env_params=SHORT, run_root=tmp_path)
    with pytest.raises(ValueError, match="generations must be an integer >= 1, got 0"):
        train_evo("heas_envs/Enterprise-v0", "firm", generations=0, **kw)
    with pytest.raises(ValueError, match="popsize must be an integer >= 2, got 1"):
        train_evo("heas_envs/Enterprise-v0", "firm", popsize=1, **kw)
    with pytest.raises(ValueError, match="holding checkpoint.pkl"):
        train_evo("heas_envs/Enterprise-v0", "firm", resume=tmp_path, **kw)
    assert not any(tmp_path.iterdir())  # nothing was written
