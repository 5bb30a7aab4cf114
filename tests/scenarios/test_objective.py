"""Objective: an agent's reward apart from the env's, applied by the ObjectiveReward wrapper."""

import json

import numpy as np
import pytest

import heas_envs
from heas_envs.scenarios import Objective, ObjectiveReward, Scenario
from heas_envs.scenarios.wrappers.objective_reward import ObjectiveRewardVector

GRID = "heas_envs/PowerGrid-v0"
MARKET = "heas_envs/Market-v0"
PARAMS = {"max_steps": 5}


def grid():
    return heas_envs.make_parallel(GRID, **PARAMS)


def random_actions(env, rng, shape=()):
    return {
        r: rng.uniform(-1, 1, (*shape, env.group(r).n_agents, *env.group(r).action_space.shape))
        for r in env.roles
    }


def test_the_attackers_objective_is_exactly_the_negated_defender_reward():
    objective = Objective("attacker", negate="defender")
    env, ref = objective.wrap(grid()), grid()
    assert isinstance(env, ObjectiveReward)
    env.reset_arrays(seed=2)
    ref.reset_arrays(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(PARAMS["max_steps"]):
        actions = random_actions(ref, rng)
        out, ref_out = env.step_arrays(actions), ref.step_arrays(actions)
        defender = ref_out.rewards["defender"]
        assert np.array_equal(out.rewards["attacker"], -defender)
        assert np.array_equal(out.rewards["attacker"], ref_out.rewards["attacker"])  # the model's
        assert np.array_equal(objective.rewards(ref_out.rewards), -defender)
        assert np.array_equal(out.rewards["defender"], defender)


def test_a_metrics_objective_is_the_weighted_metrics():
    weights = {"grid.shed": -0.5, "grid.lines_out": 2.0}
    objective = Objective("defender", metrics=weights)
    env, ref = objective.wrap(grid()), grid()
    env.reset_arrays(seed=0)
    ref.reset_arrays(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(PARAMS["max_steps"]):
        actions = random_actions(ref, rng)
        out, ref_out = env.step_arrays(actions), ref.step_arrays(actions)
        m = ref.metrics()
        expected = -0.5 * m["grid.shed"] + 2.0 * m["grid.lines_out"]
        assert out.rewards["defender"] == pytest.approx([expected], abs=1e-12)
        assert np.array_equal(objective.rewards(ref_out.rewards, m), out.rewards["defender"])
        assert np.array_equal(out.rewards["attacker"], ref_out.rewards["attacker"])


def test_served_minus_cost_is_the_defenders_own_reward():
    # the defender's reward is served - cost: the metrics objective must reproduce it exactly
    objective = Objective("defender", metrics={"grid.served": 1.0, "grid.cost": -1.0})
    env, ref = objective.wrap(grid()), grid()
    env.reset_arrays(seed=4)
    ref.reset_arrays(seed=4)
    rng = np.random.default_rng(2)
    for _ in range(PARAMS["max_steps"]):
        actions = random_actions(ref, rng)
        assert np.array_equal(
            env.step_arrays(actions).rewards["defender"],
            ref.step_arrays(actions).rewards["defender"],
        )


def test_slots_and_shown_agents_limit_the_objective():
    objective = Objective("trader", negate="regulator", slots=[1], reduce="sum")
    rewards = {"trader": np.array([[1.0, 2.0, 3.0]]), "regulator": np.array([[0.5, 0.25]])}
    shown = {"trader": np.array([[True, True, False]]), "regulator": np.array([[True, False]])}
    assert np.array_equal(objective.rewards(rewards), [[1.0, -0.75, 3.0]])
    assert np.array_equal(objective.rewards(rewards, shown=shown), [[1.0, -0.5, 3.0]])


@pytest.mark.parametrize(
    "objective",
    [Objective("attacker", negate="defender"), Objective("defender", metrics={"grid.shed": -1.0})],
)
def test_wrap_and_the_scenario_wrapper_give_the_same_rewards(objective):
    scenario = Scenario(
        "objective", GRID, PARAMS, wrappers=[("ObjectiveReward", objective.to_dict())]
    )
    pairs = [
        (objective.wrap(grid()), scenario.make_env()),
        (objective.wrap(heas_envs.make_vec(GRID, 3, **PARAMS)), scenario.make_vec(3)),
    ]
    assert isinstance(pairs[1][0], ObjectiveRewardVector)
    rng = np.random.default_rng(3)
    ref = grid()
    for mine, theirs in pairs:
        batched = isinstance(mine, ObjectiveRewardVector)
        assert mine.spec() == theirs.spec() and theirs.objective == objective
        seed = [0, 1, 2] if batched else 0
        mine.reset(seed=seed) if batched else mine.reset_arrays(seed=seed)
        theirs.reset(seed=seed) if batched else theirs.reset_arrays(seed=seed)
        steps = PARAMS["max_steps"] + (2 if batched else 0)  # batched: past the end (autoreset)
        for _ in range(steps):
            actions = random_actions(ref, rng, (3,) if batched else ())
            step = "step" if batched else "step_arrays"
            a, b = getattr(mine, step)(actions), getattr(theirs, step)(actions)
            for role in a.rewards:
                assert np.array_equal(a.rewards[role], b.rewards[role])
            if objective.negate:
                assert np.array_equal(a.rewards["attacker"], -a.rewards["defender"])


def test_an_objective_round_trips_through_json():
    for objective in [
        Objective("trader", negate="regulator", slots=(0, 2), reduce="sum"),
        Objective("defender", metrics={"grid.shed": -1, "grid.cost": 0.5}),
    ]:
        data = json.loads(json.dumps(objective.to_dict()))
        again = Objective.from_dict(data)
        assert again == objective and hash(again) == hash(objective)
        assert again.to_dict() == data
    assert Objective.from_dict({"role": "a", "negate": "b"}).reduce == "mean"
    assert Objective("d", metrics={"k": 1}).metrics == {"k": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "attacker"}, "exactly one objective"),
        ({"role": "attacker", "metrics": {"a.b": 1}, "negate": "defender"}, "exactly one"),
        ({"role": "", "negate": "defender"}, "role must be a role name"),
        ({"role": "attacker", "negate": "attacker"}, "negate must name another role"),
        ({"role": "attacker", "metrics": {}}, "non-empty mapping"),
        ({"role": "attacker", "metrics": {"grid.shed": float("nan")}}, "finite weight"),
        ({"role": "attacker", "metrics": {"grid.shed": True}}, "finite weight"),
        ({"role": "attacker", "negate": "defender", "reduce": "max"}, r"\['mean', 'sum'\]"),
        ({"role": "attacker", "negate": "defender", "slots": [0, 0]}, "repeats a slot"),
        ({"role": "attacker", "negate": "defender", "slots": [-1]}, "slot indices >= 0"),
    ],
)
def test_bad_objectives_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Objective(**kwargs)
    with pytest.raises(ValueError, match=match):
        ObjectiveReward(grid(), **kwargs)  # one validation for both


def test_objectives_that_do_not_fit_the_env_raise():
    with pytest.raises(ValueError, match=r"unknown role 'boss'; roles are \['attacker'"):
        Objective("boss", negate="defender").wrap(grid())
    with pytest.raises(ValueError, match="negate: unknown role 'trader'"):
        Objective("attacker", negate="trader").wrap(heas_envs.make_vec(GRID, 2, **PARAMS))
    with pytest.raises(ValueError, match=r"slots \[3\] do not exist"):
        Objective("attacker", negate="defender", slots=[3]).wrap(grid())
    with pytest.raises(ValueError, match=r"unknown metric keys \['grid.prize'\]"):
        Objective("attacker", metrics={"grid.prize": 1.0}).wrap(grid())
    with pytest.raises(ValueError, match="needs the env's metrics"):
        Objective("a", metrics={"k": 1.0}).rewards({"a": np.zeros(1)})
    with pytest.raises(ValueError, match=r"slots \[2\] do not exist"):
        Objective("a", negate="b", slots=[2]).rewards({"a": np.zeros(2), "b": np.zeros(1)})
    with pytest.raises(ValueError, match="unknown objective keys"):
        Objective.from_dict({"role": "a", "negate": "b", "weight": 1})
    with pytest.raises(ValueError, match="an objective is a mapping"):
        Objective.from_dict(["a"])
