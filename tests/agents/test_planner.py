"""The swarm planner: its cloning keeps walkers consistent, its plans do not depend on the
batch, it is the heuristic when it has no noise, and it enters tournaments as a participant."""

from __future__ import annotations

import numpy as np
import pytest

import heas_envs
from agents.participants import Participant, parse_participant
from agents.planner import SwarmPlanner
from agents.tournament import Tournament
from heas_envs.scenarios import Scenario

ECOLOGY = "heas_envs/Ecology-v0"
SMALL = {"n_patches": 3, "max_steps": 8}
SETTINGS = {"walkers": 4, "horizon": 3, "noise": 0.3}


def planner_on(seeds: list[int], settings: dict = SETTINGS) -> tuple[SwarmPlanner, object]:
    worlds = heas_envs.make_vec(ECOLOGY, num_worlds=len(seeds), **SMALL)
    worlds.reset(seed=seeds)
    return SwarmPlanner(worlds, "manager", seeds, settings), worlds


def test_cloning_copies_the_walker_with_its_score_and_first_action():
    planner, _ = planner_on([5, 6])
    walkers = planner._walkers_env(2 * 4)
    seen = []
    real = walkers.clone_worlds

    def spy(src, dst):
        before = {r: a.copy() for r, a in walkers.observations.items()}
        metrics = walkers.metrics()
        seen.append((np.array(src), np.array(dst), dict(state), before, metrics))
        real(src, dst)
        state["after"] = ({r: a.copy() for r, a in walkers.observations.items()}, walkers.metrics())

    state: dict = {}
    walkers.clone_worlds = spy
    original = planner._clone

    def clone(walkers_env, score, ended, role_obs, first, rngs):
        state.update(score=score.copy(), first=first.copy())
        original(walkers_env, score, ended, role_obs, first, rngs)
        src, dst, old, obs, metrics = seen[-1]
        assert not np.isin(dst, [0, 4]).any()  # walker 0 of each world keeps its path
        assert np.all(dst // 4 == src // 4)  # a walker clones within its own world
        assert np.array_equal(score[dst], old["score"][src])
        assert np.array_equal(first[dst], old["first"][src])
        after_obs, after_metrics = state["after"]
        for r in obs:
            assert np.array_equal(after_obs[r][dst], obs[r][src])
        for k, v in metrics.items():
            assert np.array_equal(after_metrics[k][dst], v[src], equal_nan=True), k
        kept = np.setdiff1d(np.arange(8), dst)
        assert np.array_equal(score[kept], old["score"][kept])

    planner._clone = clone
    planner(None)
    assert seen and any(len(d) for _, d, *_ in seen)


def plans(env_id: str, seeds: list[int], steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The planner's actions of the focal role over ``steps`` steps of worlds seeded ``seeds``
    (played), and the heuristic's actions in the same states: ``[B, steps, n, *act]`` each."""
    params = {**heas_envs.env_spec(env_id).scaled_params(0.25), "max_steps": 6}
    role = heas_envs.env_spec(env_id).focal_role
    worlds = heas_envs.make_vec(env_id, num_worlds=len(seeds), **params)
    worlds.reset(seed=seeds)
    planner = SwarmPlanner(worlds, role, seeds, {"walkers": 3, "horizon": 2, "epsilon": 0.3})
    planned, reference = [], []
    for _ in range(steps):
        actions = worlds.heuristic_actions()
        reference.append(actions[role].copy())
        actions[role] = planner(None)
        planned.append(actions[role].copy())
        assert np.all(np.isfinite(actions[role].astype(np.float64)))
        worlds.step(actions)  # refuses actions outside the role's space
    return np.stack(planned, axis=1), np.stack(reference, axis=1)


@pytest.mark.parametrize("env_id", heas_envs.list_envs())
def test_the_planner_plays_every_model_and_a_worlds_plan_ignores_the_batch(env_id):
    together, _ = plans(env_id, [7, 8])
    alone = np.concatenate([plans(env_id, [s])[0] for s in (7, 8)])
    assert np.array_equal(together, alone)


def test_the_planner_searches_away_from_the_heuristic_and_repeats_itself():
    planned, heuristic = plans("heas_envs/PowerGrid-v0", [3, 4], steps=4)
    assert not np.array_equal(planned, heuristic)  # it plays what its search found
    again, _ = plans("heas_envs/PowerGrid-v0", [3, 4], steps=4)
    assert np.array_equal(again, planned)


def test_without_noise_the_planner_plays_the_heuristic_in_a_tournament():
    scenario = Scenario("eco", ECOLOGY, SMALL)
    players = [Participant.planner(walkers=3, horizon=2, noise=0.0)]
    episodes = Tournament([scenario], players, episodes=2, seed=3).run().episodes
    returns = episodes.pivot(index="episode", columns="participant", values="return")
    # every walker proposes the heuristic's actions, so the best path starts with them
    assert np.array_equal(returns["planner"], returns["heuristic"])
    assert not np.array_equal(returns["random"], returns["heuristic"])


def test_planner_participants_from_the_command_line_and_data():
    p = parse_participant("fmc=planner:walkers=8,horizon=3,proposal=random")
    assert (p.name, p.spec["walkers"], p.spec["horizon"], p.spec["proposal"]) == (
        "fmc",
        8,
        3,
        "random",
    )
    assert Participant.from_dict(p.to_dict()).to_dict() == p.to_dict()
    for bad, match in [
        ("planner:walkers=1", "planner walkers must be an integer in"),
        ("planner:depth=3", "unknown planner settings"),
        ("planner:walkers", "KEY=VALUE"),
        ("planner:horizon=2,horizon=3", "twice"),
        ("planner:proposal=greedy", "planner proposal must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_participant(bad)
