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


def test_a_worlds_plan_depends_only_on_its_own_state_and_seed():
    together, worlds = planner_on([11, 12])
    alone, single = planner_on([12])
    assert np.array_equal(together(None)[1], alone(None)[0])
    again, _ = planner_on([11, 12])
    assert np.array_equal(again(None), together(None))  # the same seeds, the same plans


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
