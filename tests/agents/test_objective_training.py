"""Training on a reward objective: SB3's seats and evolution's fitness take the objective."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.cli import main
from agents.evo import BatchedRolloutProblem, train_evo
from agents.sb3 import SharedRoleVecEnv, train_sb3
from heas_envs.scenarios import Objective

GRID = "heas_envs/PowerGrid-v0"
MARKET = "heas_envs/Market-v0"
SHORT = {"max_steps": 5}
NEGATE = Objective("attacker", negate="defender")
SHED = Objective("defender", metrics={"grid.shed": -1.0})


def fitness(role, objective, values=None):
    problem = BatchedRolloutProblem(
        GRID, role, episodes=2, env_params=SHORT, reward_objective=objective
    )
    if values is None:
        gen = torch.Generator().manual_seed(len(role))
        values = 0.3 * torch.randn(3, problem.solution_length, generator=gen)
    return problem.evaluate_parameters(values), values


def test_evolutions_fitness_is_the_objectives_return():
    # the attacker's objective is the defender's reward negated: the model pays exactly that
    negated, values = fitness("attacker", NEGATE)
    assert torch.equal(negated, fitness("attacker", None, values)[0])
    # served - cost is the defender's own reward; shedding alone is another objective
    plain, values = fitness("defender", None)
    own = Objective("defender", metrics={"grid.served": 1.0, "grid.cost": -1.0})
    assert torch.equal(fitness("defender", own, values)[0], plain)
    shed = fitness("defender", SHED, values)[0]
    assert not torch.equal(shed, plain) and (shed <= 0).all()


def test_train_evo_trains_on_the_objective_and_records_it(tmp_path):
    kw = dict(generations=2, popsize=4, seed=1, env_params=SHORT, run_root=tmp_path)
    plain = train_evo(GRID, "defender", **kw)
    shed = train_evo(GRID, "defender", reward_objective=SHED, **kw)
    assert json.loads((shed.run_dir / "args.json").read_text())["reward_objective"] == (
        SHED.to_dict()
    )
    assert json.loads((plain.run_dir / "args.json").read_text())["reward_objective"] is None
    assert not np.allclose(shed.log["return_mean"], plain.log["return_mean"])
    assert (shed.log["return_best"] <= 0).all()  # minus the load shed


def step_seats(env, rng, steps):
    env.seed(3)
    env.reset()
    out = []
    for _ in range(steps):
        actions = rng.uniform(-1, 1, (env.num_envs, *env.action_space.shape))
        _, rewards, dones, _ = env.step(actions)
        out.append((rewards, dones))
    return out


def test_sb3_seats_get_the_objectives_reward():
    steps = 2 * SHORT["max_steps"] + 1  # past two episode ends (same-step autoreset)
    mine = SharedRoleVecEnv(GRID, "attacker", num_worlds=2, reward_objective=NEGATE, **SHORT)
    plain = SharedRoleVecEnv(GRID, "attacker", num_worlds=2, **SHORT)
    a = step_seats(mine, np.random.default_rng(0), steps)
    b = step_seats(plain, np.random.default_rng(0), steps)
    for (ra, da), (rb, db) in zip(a, b):
        assert np.array_equal(ra, rb) and np.array_equal(da, db)
    assert sum(d.sum() for _, d in a) == 2 * 2  # two episode ends in both worlds
    # in the market the traders' objective (the regulator's loss) is not their own reward
    objective = Objective("trader", negate="regulator")
    kw = dict(num_worlds=2, seats=3, max_steps=4)
    mine = SharedRoleVecEnv(MARKET, "trader", reward_objective=objective, **kw)
    plain = SharedRoleVecEnv(MARKET, "trader", **kw)
    a = step_seats(mine, np.random.default_rng(1), 5)
    b = step_seats(plain, np.random.default_rng(1), 5)
    for ra, _ in a:
        per_world = ra.reshape(2, 3)
        assert np.array_equal(per_world, per_world[:, :1].repeat(3, axis=1))  # one value
    assert not all(np.array_equal(ra, rb) for (ra, _), (rb, _) in zip(a, b))


def test_train_sb3_records_the_objective(tmp_path):
    result = train_sb3(
        GRID,
        "attacker",
        total_timesteps=64,
        num_worlds=2,
        algo_kwargs={"n_steps": 16, "batch_size": 32, "n_epochs": 1},
        env_params=SHORT,
        run_root=tmp_path,
        tensorboard=False,
        reward_objective=NEGATE.to_dict(),
    )
    args = json.loads((result.run_dir / "args.json").read_text())
    assert args["reward_objective"] == NEGATE.to_dict()
    assert result.model.get_env().reward_objective == NEGATE


def test_bad_reward_objectives_raise(tmp_path):
    kw = dict(env_params=SHORT, run_root=tmp_path)
    with pytest.raises(ValueError, match="only negate objectives"):
        train_sb3(GRID, "defender", reward_objective=SHED, **kw)
    with pytest.raises(ValueError, match="objective of role 'attacker'; give one of the trained"):
        train_sb3(GRID, "defender", reward_objective=NEGATE, **kw)
    with pytest.raises(ValueError, match="objective of role 'attacker'; give one of the evolved"):
        BatchedRolloutProblem(GRID, "defender", reward_objective=NEGATE, env_params=SHORT)
    with pytest.raises(ValueError, match=r"unknown metric keys \['grid.prize'\]"):
        BatchedRolloutProblem(
            GRID, "defender", reward_objective={"role": "defender", "metrics": {"grid.prize": 1}}
        )
    assert not any(tmp_path.iterdir())  # nothing was written


def test_the_cli_takes_a_reward_objective(tmp_path, capsys):
    argv = ["train", "evo", "--env-id", GRID, "--role", "defender", "--generations", "1"]
    argv += ["--popsize", "2", "--episodes", "1", "--param", "max_steps=3", "--no-progress"]
    argv += ["--run-root", str(tmp_path), "--reward-metric", "grid.shed=-1"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split("run directory: ")[1].split()[0])
    assert json.loads((run_dir / "args.json").read_text())["reward_objective"] == SHED.to_dict()
    for bad, message in [
        (["--reward-metric", "grid.shed"], "--reward-metric takes KEY=VALUE items"),
        (["--reward-metric", "grid.shed=x"], "'x' is not a JSON value"),
        (["--reward-metric", "grid.shed=NaN"], "the weight must be a finite number"),
        (["--reward-metric", "grid.shed=true"], "the weight must be a finite number"),
        (["--reward-metric", "grid.shed=1", "--reward-metric", "grid.shed=2"], "twice"),
        (["--reward-negate", "attacker", "--reward-metric", "grid.shed=1"], "not both"),
        (["--reward-negate", "defender"], "negate must name another role"),
    ]:
        assert main([*argv[:-2], *bad]) == 2
        assert message in capsys.readouterr().err
    sb3 = ["train", "sb3", "--env-id", GRID, "--role", "defender", "--reward-metric", "grid.shed=1"]
    assert main(sb3) == 2
    assert "only negate objectives" in capsys.readouterr().err


def test_evaluate_reports_the_returns_of_the_objective_a_policy_was_trained_on():
    from agents.rollout import evaluate

    kw = dict(seeds=[0, 1], background="heuristic", env_params={"max_steps": 6})
    defender = evaluate("heas_envs/PowerGrid-v0", "defender", "random", **kw).returns
    negated = evaluate(
        "heas_envs/PowerGrid-v0",
        "attacker",
        "heuristic",
        reward_objective=Objective("attacker", negate="defender").to_dict(),
        **kw,
    ).returns
    plain = evaluate("heas_envs/PowerGrid-v0", "attacker", "heuristic", **kw).returns
    assert np.array_equal(plain, negated)  # the model pays the attacker minus the defender
    shed = evaluate(
        "heas_envs/PowerGrid-v0",
        "defender",
        "random",
        reward_objective=Objective("defender", metrics={"grid.shed": -1.0}),
        **kw,
    ).returns
    assert not np.array_equal(shed, defender) and (shed <= 0).all()
