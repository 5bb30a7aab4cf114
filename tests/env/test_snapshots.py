"""Exact snapshots and world cloning, on every registered env.

``restore(snapshot())`` then stepping must repeat the original steps bit for bit (batched env,
PettingZoo env, Gymnasium env); ``clone_worlds(src, dst)`` must make the destination worlds
follow their sources exactly and leave every other world as it was.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from conftest import MORTAL_ECONOMY as MORTAL

import heas_envs

ENV_IDS = heas_envs.list_envs()


def small(env_id: str, max_steps: int) -> dict:
    params = {**heas_envs.env_spec(env_id).scaled_params(0.25), "max_steps": max_steps}
    if env_id.endswith("Economy-v0"):
        params["max_population"] = 4 * params["n_agents"]
    return params


def same(x, y) -> bool:
    """Bit-for-bit equality of nested dicts, lists, tuples and arrays (dtypes included)."""
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if isinstance(x, np.ndarray):
        return (
            isinstance(y, np.ndarray)
            and x.dtype == y.dtype
            and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
        )
    return type(x) is type(y) and x == y


def run_vec(env, actions: list[dict]) -> list:
    """Step ``env`` with ``actions``; everything it returns, and its metrics, after each step."""
    out = []
    for a in actions:
        step = env.step(a)
        out.append((step._asdict(), env.metrics(), env.ticks(), env.ended))
    return out


def world(record: list, b: int) -> list:
    """World ``b``'s rows of a :func:`run_vec` record (per-role arrays and metrics)."""
    rows = []
    for step, metrics, _, _ in record:
        fields = {k: {r: a[b] for r, a in step[k].items()} for k in ("obs", "rewards", "alive")}
        fields.update(
            {k: {r: a[b] for r, a in step[k].items()} for k in ("terminated", "truncated")}
        )
        rows.append((fields, {k: v[b] for k, v in metrics.items()}))
    return rows


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_batched_restore_repeats_the_steps_exactly(env_id):
    # max_steps 3: the snapshot is taken with automatic resets pending, and the recorded
    # steps run through them and through the next episode's end.
    env = heas_envs.make_vec(env_id, num_worlds=3, **small(env_id, 3))
    env.reset(seed=7)
    rng = np.random.default_rng(0)
    for _ in range(3):
        env.step(env.random_actions(rng))
    assert env.ended.all()
    snap = env.snapshot()
    actions = [env.random_actions(rng) for _ in range(5)]
    first = run_vec(env, actions)
    assert any(info_ended.any() for *_, info_ended in first)  # an episode did end
    env.restore(snap)
    assert same(run_vec(env, actions), first)
    env.restore(snap)  # a snapshot can be restored again
    assert same(run_vec(env, actions), first)


def test_batched_restore_repeats_steps_across_several_cohorts():
    env = heas_envs.make_vec("heas_envs/Economy-v0", num_worlds=3, focal=("citizen", 0), **MORTAL)
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(40):
        if env.n_cohorts > 1:
            break
        env.step(env.heuristic_actions())
    assert env.n_cohorts > 1
    snap = env.snapshot()
    actions = [env.random_actions(rng) for _ in range(6)]
    first = run_vec(env, actions)
    env.restore(snap)
    assert env.n_cohorts > 1
    assert same(run_vec(env, actions), first)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_parallel_env_restore_repeats_the_dict_steps(env_id):
    env = heas_envs.make_parallel(env_id, **small(env_id, 8))
    env.reset(seed=5)
    rng = np.random.default_rng(2)

    def act():
        per_role = env.random_actions(rng)
        return {a: per_role[r][i] for a in env.agents for r, i in [env.slot(a)]}

    for _ in range(2):
        env.step(act())
    snap = env.snapshot()
    first, actions = [], []
    for _ in range(4):
        actions.append(act())
        first.append((env.step(actions[-1]), list(env.agents), env.metrics(), env.tick))
    for _ in range(2):
        env.restore(snap)
        again = [(env.step(a), list(env.agents), env.metrics(), env.tick) for a in actions]
        assert same(again, first)


def test_gymnasium_env_restore_repeats_the_steps_and_the_background():
    env = gymnasium.make("heas_envs/Market-v0", background="random", n_traders=5).unwrapped
    env.reset(seed=4)
    for _ in range(2):
        env.step(env.action_space.sample())
    snap = env.snapshot()
    actions = [env.action_space.sample() for _ in range(4)]
    first = [env.step(a) for a in actions]
    env.restore(snap)
    assert same([env.step(a) for a in actions], first)
    with pytest.raises(ValueError, match="snapshot"):
        env.restore(env.parallel.snapshot())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_clone_worlds_copies_a_world_exactly_and_leaves_the_others(env_id):
    env = heas_envs.make_vec(env_id, num_worlds=3, **small(env_id, 30))
    env.reset(seed=9)
    rng = np.random.default_rng(3)
    for _ in range(3):
        env.step(env.random_actions(rng))
    snap = env.snapshot()
    # world 2 is given world 0's actions, so after the clone it must follow world 0
    actions = []
    for _ in range(5):
        a = env.random_actions(rng)
        actions.append({r: np.stack([x[0], x[1], x[0]]) for r, x in a.items()})
    original = run_vec(env, actions)
    original_episode = env.episode_metrics()
    env.restore(snap)
    env.clone_worlds([0], [2])
    cloned = run_vec(env, actions)
    assert same(world(cloned, 2), world(cloned, 0))
    assert same(world(cloned, 0), world(original, 0))
    assert same(world(cloned, 1), world(original, 1))  # a world not named is untouched
    episode = env.episode_metrics()
    for key, values in episode.items():
        assert values[2] == values[0], key
        assert values[1] == original_episode[key][1], key


def test_clone_worlds_refuses_bad_indices_and_other_cohorts():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=3, **small("heas_envs/Market-v0", 2))
    with pytest.raises(RuntimeError, match="reset"):
        env.clone_worlds([0], [1])
    with pytest.raises(RuntimeError, match="reset"):
        env.snapshot()
    env.reset(seed=0)
    for src, dst, match in [
        ([0], [3], "world index 3"),
        ([-1], [1], "world index -1"),
        ([0, 1], [2], "same length"),
        ([0, 1], [2, 2], "twice"),
        ([0.5], [1], "world indices"),
        ([[0]], [[1]], "world indices"),
    ]:
        with pytest.raises(ValueError, match=match):
            env.clone_worlds(src, dst)
    other = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=3)
    other.reset(seed=0)
    with pytest.raises(ValueError, match="snapshot"):
        env.restore(other.snapshot())
    with pytest.raises(ValueError, match="snapshot"):
        env.restore("not a snapshot")
    rng = np.random.default_rng(0)
    env.step(env.random_actions(rng))
    env.step(env.random_actions(rng))  # max_steps 2: every episode ended, resets pending
    with pytest.raises(ValueError, match="ended"):
        env.clone_worlds([0], [1])

    mortal = heas_envs.make_vec(
        "heas_envs/Economy-v0", num_worlds=3, focal=("citizen", 0), **MORTAL
    )
    mortal.reset(seed=3)
    for _ in range(40):
        if mortal.n_cohorts > 1 and not mortal.ended.any():
            break
        mortal.step(mortal.heuristic_actions())
    assert mortal.n_cohorts > 1 and not mortal.ended.any()
    ticks = mortal.ticks()
    a, b = (int(np.flatnonzero(ticks == t)[0]) for t in np.unique(ticks)[:2])
    with pytest.raises(ValueError, match="one cohort"):
        mortal.clone_worlds([a], [b])


def test_clone_worlds_leaves_the_observations_a_caller_holds_and_snapshots_know_their_env():
    env = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=3, n_traders=2)
    obs, _ = env.reset(seed=[0, 1, 2])
    held = env.step(env.heuristic_actions(obs)).obs
    before = {r: a.copy() for r, a in held.items()}
    env.clone_worlds([0], [2])
    assert all(np.array_equal(held[r], before[r]) for r in held)  # not written into
    assert np.array_equal(env.observations["trader"][2], env.observations["trader"][0])
    single = gymnasium.make("heas_envs/Market-v0").unwrapped
    single.reset(seed=0)
    with pytest.raises(ValueError, match="taken by this env's snapshot"):
        single.parallel.restore(single.snapshot())  # the single-agent env's, not the parallel's


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_load_worlds_copies_the_worlds_of_another_env_exactly(env_id):
    params = small(env_id, 30)
    source = heas_envs.make_vec(env_id, num_worlds=3, **params)
    source.reset(seed=[1, 2, 3])
    rng = np.random.default_rng(0)
    for _ in range(3):
        source.step(source.random_actions(rng))
    source.heuristic_actions()  # caches a heuristic keeps must not stop the copy
    walkers = heas_envs.make_vec(env_id, num_worlds=4, **params)
    walkers.reset(seed=[7, 8, 9, 10])
    for _ in range(4):  # another clock (tick 4, the source's world count + 1) than the source's
        walkers.step(walkers.random_actions(rng))
    picks = np.array([2, 0, 2, 1])
    walkers.load_worlds(source, picks)
    assert np.array_equal(walkers.ticks(), source.ticks()[picks])
    actions = [source.random_actions(rng) for _ in range(4)]
    original = run_vec(source, actions)
    loaded = run_vec(walkers, [{r: a[picks] for r, a in x.items()} for x in actions])
    for j, b in enumerate(picks.tolist()):
        assert same(world(loaded, j), world(original, b))
    ours, theirs = walkers.episode_metrics(), source.episode_metrics()
    for key, values in ours.items():
        assert np.array_equal(values, theirs[key][picks], equal_nan=True), key


def test_load_worlds_refuses_other_models_and_bad_worlds():
    source = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=2, max_steps=2)
    walkers = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=2, max_steps=2)
    with pytest.raises(RuntimeError, match="reset"):
        walkers.load_worlds(source, [0, 1])
    source.reset(seed=0)
    other = heas_envs.make_vec("heas_envs/Market-v0", num_worlds=2, n_traders=3, max_steps=2)
    with pytest.raises(ValueError, match=r"same model and parameters.*'n_traders': \(3, 2\)"):
        other.load_worlds(source, [0, 1])
    for src, match in [([0], "one source world per world"), ([0, 2], "world index 2")]:
        with pytest.raises(ValueError, match=match):
            walkers.load_worlds(source, src)
    with pytest.raises(ValueError, match="one generator per world"):
        walkers.load_worlds(source, [0, 1], [np.random.default_rng(0)])
    focal = heas_envs.make_vec(
        "heas_envs/Market-v0", num_worlds=2, n_traders=2, max_steps=2, focal=("trader", 0)
    )
    with pytest.raises(ValueError, match="same focal agent"):
        focal.load_worlds(source, [0, 1])
    own = [np.random.default_rng(5), np.random.default_rng(5)]
    walkers.load_worlds(source, [0, 0], own)  # the copies draw from the generators given
    assert walkers.model.ctx.rng.generators == own
    for _ in range(2):
        source.step(source.heuristic_actions())  # max_steps 2: both episodes ended
    with pytest.raises(ValueError, match="ended"):
        walkers.load_worlds(source, [0, 1])
