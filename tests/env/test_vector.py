"""The vector env of B worlds and the batched Gymnasium view: exact worlds, autoreset, refusals.

World b of ``make_vec(id, num_worlds=B)`` must follow, bit for bit, ``make_parallel(id)`` reset
with world b's seed, through its automatic resets; ``gymnasium.make_vec(id)`` must return the
same arrays as Gymnasium's own ``SyncVectorEnv`` over our single-agent envs.
"""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
import torch
from conftest import MORTAL_ECONOMY as MORTAL
from gymnasium.vector import AutoresetMode

import heas_envs
from heas_envs.env.sb3_vec import SB3VecEnv, make_sb3_vec_env
from heas_envs.env.single_vector import SingleAgentVectorEnv

ENV_IDS = heas_envs.list_envs()


def small(env_id: str, max_steps: int = 7) -> dict:
    params = {**heas_envs.env_spec(env_id).scaled_params(0.25), "max_steps": max_steps}
    if env_id.endswith("Economy-v0"):
        params["max_population"] = 4 * params["n_agents"]
    return params


def run_side_by_side(env_id: str, params: dict, seeds: list[int], steps: int, policy: str):
    """Step make_vec and one single env per seed with the same actions; compare everything.

    Returns the number of automatic resets and the most cohorts seen."""
    venv = heas_envs.make_vec(env_id, num_worlds=len(seeds), **params)
    singles = [heas_envs.make_parallel(env_id, **params) for _ in seeds]
    obs, info = venv.reset(seed=seeds)
    for b, (env, seed) in enumerate(zip(singles, seeds)):
        first, alive = env.reset_arrays(seed=seed)
        for role in first:
            assert np.array_equal(first[role], obs[role][b])
            assert np.array_equal(alive[role], info["alive"][role][b])
    rng = np.random.default_rng(0)
    pending = np.zeros(len(seeds), dtype=bool)
    resets = most = 0
    for t in range(steps):
        use_heuristic = policy == "heuristic" or (policy == "mixed" and t % 2)
        actions = venv.heuristic_actions() if use_heuristic else venv.random_actions(rng)
        out = venv.step(actions)
        assert np.array_equal(out.info["autoreset"], pending)
        for b, env in enumerate(singles):
            if pending[b]:  # next-step autoreset: this step reset world b
                first, alive = env.reset_arrays()
                resets += 1
                for role in first:
                    assert np.array_equal(first[role], out.obs[role][b]), (t, b, role)
                    assert np.array_equal(alive[role], out.alive[role][b])
                    assert not out.rewards[role][b].any() and not out.terminated[role][b].any()
                continue
            step = env.step_arrays({r: a[b] for r, a in actions.items()})
            for role in step.obs:
                where = f"{env_id} step {t} world {b} role {role}"
                assert np.array_equal(step.obs[role], out.obs[role][b]), where
                assert np.array_equal(step.rewards[role], out.rewards[role][b]), where
                assert np.array_equal(step.terminated[role], out.terminated[role][b]), where
                assert np.array_equal(step.truncated[role], out.truncated[role][b]), where
                assert np.array_equal(step.alive[role], out.alive[role][b]), where
            assert env._done == out.info["ended"][b]
        pending = out.info["ended"].copy()
        most = max(most, venv.n_cohorts)
    return resets, most


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_world_of_make_vec_is_the_single_env_through_autoresets(env_id):
    for seeds, policy in [
        ([3], "random"),
        ([11, 12, 13], "mixed"),
        (list(range(20, 28)), "heuristic"),
    ]:
        resets, _ = run_side_by_side(env_id, small(env_id), seeds, 16, policy)
        assert resets == 2 * len(seeds)  # episodes of 7 steps: two autoresets per world


def test_economy_worlds_with_births_and_deaths_end_apart_and_stay_exact():
    resets, most = run_side_by_side("heas_envs/Economy-v0", MORTAL, [1, 2, 3, 4, 5], 90, "mixed")
    assert resets >= 5 and most >= 2  # worlds ended at different steps: cohorts split


def test_same_step_autoreset_returns_the_new_episode_and_the_final_rows():
    params = small("heas_envs/Market-v0", max_steps=3)
    venv = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, autoreset="same_step", **params)
    single = heas_envs.make_parallel("heas_envs/Market-v0", **params)
    venv.reset(seed=[4, 5])
    single.reset_arrays(seed=4)
    for _ in range(3):
        actions = venv.heuristic_actions()
        out = venv.step(actions)
        last = single.step_arrays({r: a[0] for r, a in actions.items()})
    assert out.info["ended"].all() and out.truncated["trader"].all()
    assert np.array_equal(out.info["final_obs"]["trader"][0], last.obs["trader"])
    first, _ = single.reset_arrays()
    assert np.array_equal(out.obs["trader"][0], first["trader"])


def test_one_integer_seed_expands_per_world_and_world_zero_takes_it():
    venv = heas_envs.make_vec("heas_envs/Ecology-v0", num_worlds=3)
    obs, _ = venv.reset(seed=9)
    single, _ = heas_envs.make_parallel("heas_envs/Ecology-v0").reset_arrays(seed=9)
    assert np.array_equal(obs["manager"][0], single["manager"])
    again, _ = heas_envs.make_vec("heas_envs/Ecology-v0", num_worlds=3).reset(seed=9)
    assert np.array_equal(obs["manager"], again["manager"])
    assert not np.array_equal(obs["manager"][1], obs["manager"][2])


def test_bad_input_names_world_agent_and_space_and_changes_nothing():
    params = small("heas_envs/Market-v0", max_steps=50)
    venv = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=4, **params)
    twin = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=4, **params)
    venv.reset(seed=1)
    twin.reset(seed=1)
    with pytest.raises(ValueError, match="one integer or a list of one seed per world \\(4\\)"):
        venv.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="seed of world 1"):
        venv.reset(seed=[1, "x", 3, 4])
    good = venv.heuristic_actions()
    n = good["trader"].shape[1]
    bad = {r: a.copy() for r, a in good.items()}
    bad["trader"][2, 1] = np.nan
    with pytest.raises(ValueError, match=r"agent 'trader_1' of world 2: expected .* in Box"):
        venv.step(bad)
    bad["trader"][2, 1] = 7.0
    with pytest.raises(
        ValueError, match=r"invalid action \[7\.0\] for agent 'trader_1' of world 2"
    ):
        venv.step(bad)
    with pytest.raises(ValueError, match=rf"have shape \(4, {n - 1}, 1\); expected \(4, {n}, 1\)"):
        venv.step({**good, "trader": good["trader"][:, 1:]})
    with pytest.raises(ValueError, match=r"unknown roles \['broker'\]"):
        venv.step({**good, "broker": good["trader"]})
    with pytest.raises(ValueError, match="no actions for role 'trader'"):
        venv.step({r: a for r, a in good.items() if r != "trader"})
    for _ in range(3):  # the refusals changed nothing: the twin steps in lockstep
        out, ref = venv.step(venv.heuristic_actions()), twin.step(twin.heuristic_actions())
        for role in out.obs:
            assert np.array_equal(out.obs[role], ref.obs[role])
            assert np.array_equal(out.rewards[role], ref.rewards[role])


def test_make_vec_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="leave out render_mode"):
        heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, render_mode="ansi")
    with pytest.raises(ValueError, match="autoreset must be one of"):
        heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, autoreset="later")
    with pytest.raises(ValueError, match="autoreset=None is for one world"):
        heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, autoreset=None)
    with pytest.raises(ValueError, match="num_worlds"):
        heas_envs.make_vec("heas_envs/Market-v0", num_worlds=0)
    with pytest.raises(RuntimeError, match="call reset"):
        heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2).step({})


def test_trace_is_recorded_only_when_asked_for():
    venv = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=3)
    venv.reset(seed=0)
    venv.step(venv.heuristic_actions())
    assert venv.model.trace == []
    with pytest.raises(RuntimeError, match="record_trace = True"):
        _ = venv.substep_trace
    venv.record_trace = True
    venv.step(venv.heuristic_actions())
    trace = venv.substep_trace
    assert [t.layer for t in trace] == ["L1 price", "L2 traders", "L3 regulator"]
    assert trace[0].metrics["price.price"].shape == (3,)
    assert np.array_equal(venv.metrics()["price.price"], trace[0].metrics["price.price"])


# -- the Gymnasium vector view -----------------------------------------------------------------
def gym_pair(env_id: str, mode: AutoresetMode, **kwargs):
    ours = gymnasium.make_vec(env_id, num_envs=4, autoreset_mode=mode, **kwargs)
    theirs = gymnasium.make_vec(
        env_id,
        num_envs=4,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": mode},
        **kwargs,
    )
    return ours, theirs


def assert_lockstep(ours, theirs, steps: int) -> int:
    """Same seeds, same actions: the same arrays from both; return the episode ends seen."""
    first, _ = ours.reset(seed=5)
    assert np.array_equal(first, theirs.reset(seed=5)[0])
    ours.action_space.seed(0)
    ends = 0
    for t in range(steps):
        action = ours.action_space.sample()
        a, b = ours.step(action), theirs.step(action)
        assert ours.observation_space.contains(a[0]), t
        for x, y in zip(a[:4], b[:4]):
            assert np.array_equal(x, y), t
        mask = a[4].get("_final_obs", np.zeros(4, dtype=bool))
        assert np.array_equal(mask, b[4].get("_final_obs", np.zeros(4, dtype=bool)))
        for k in np.flatnonzero(mask):
            assert np.array_equal(a[4]["final_obs"][k], b[4]["final_obs"][k])
        ends += int((a[2] | a[3]).sum())
    return ends


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_make_vec_is_our_batched_view_and_equals_sync_vector_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-metadata warning from make_vec
        ours, theirs = gym_pair(env_id, AutoresetMode.NEXT_STEP, **small(env_id, 9))
    assert isinstance(ours, SingleAgentVectorEnv) and isinstance(ours, gymnasium.vector.VectorEnv)
    assert ours.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert ours.single_observation_space == theirs.single_observation_space
    assert ours.action_space == theirs.action_space
    assert assert_lockstep(ours, theirs, 22) == 8  # every world ended twice


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_gymnasium_view_with_focal_deaths_and_random_background_equals_sync(mode):
    ours, theirs = gym_pair("heas_envs/Economy-v0", mode, background="random", **MORTAL)
    assert assert_lockstep(ours, theirs, 60) > 10
    with pytest.raises(ValueError, match="of world|one row per world"):
        ours.step(np.full((4, 17), np.nan, dtype=np.float32))


def test_sb3_ppo_on_the_batched_view_learns_the_same_weights_as_on_dummy_vec_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    ours = make_sb3_vec_env("heas_envs/Economy-v0", num_envs=4, **MORTAL)
    theirs = make_vec_env("heas_envs/Economy-v0", n_envs=4, env_kwargs=MORTAL)
    weights = []
    for venv in (ours, theirs):
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=7, device="cpu")
        model.learn(256)
        weights.append(torch.nn.utils.parameters_to_vector(model.policy.parameters()).detach())
    assert torch.equal(weights[0], weights[1])
    with pytest.raises(ValueError, match="same-step autoreset mode"):
        SB3VecEnv(gymnasium.make_vec("heas_envs/Market-v0", num_envs=2))


def test_evotorch_vecgymne_evolves_on_gymnasium_make_vec_of_our_id():
    from evotorch.algorithms import PGPE
    from evotorch.neuroevolution import VecGymNE

    def make(num_envs: int, **kwargs):
        return gymnasium.make_vec(
            "heas_envs/Market-v0", num_envs=num_envs, n_traders=10, max_steps=20
        )

    problem = VecGymNE(
        env=make,
        network="Linear(obs_length, act_length) >> Tanh()",
        num_episodes=2,
        observation_normalization=False,
    )
    algo = PGPE(
        problem, popsize=8, center_learning_rate=0.05, stdev_learning_rate=0.1, stdev_init=0.1
    )
    algo.step()
    algo.step()
    assert problem.status["total_episode_count"] == 2 * 8 * 2
    assert np.isfinite(algo.status["mean_eval"])
