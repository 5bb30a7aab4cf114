"""Batched worlds: world b of a batch seeded [s_0, ..., s_{B-1}] is bit-identical to a single
world seeded s_b under the same actions, for every registered model."""

from __future__ import annotations

import numpy as np
import pytest

import heas_envs
from heas_envs.core.random import WorldRandom, derived_seed, world_seeds
from heas_envs.env.parallel import sample_actions

ENV_IDS = heas_envs.list_envs()


def snapshot(model, world: int) -> dict:
    """Everything a world is: its context arrays, observations, rewards and metrics."""
    ctx = model.ctx
    out = {f"ctx/{k}": np.asarray(v)[world] for k, v in ctx.data.items()}
    for role, groups in model.groups.items():
        out[f"obs/{role}"] = model.observing_group(role).observe(ctx)[world]
        out[f"reward/{role}"] = sum(g.reward(ctx) for g in groups)[world]
        out[f"alive/{role}"] = groups[0].alive(ctx)[world]
    out.update({f"metric/{k}": np.asarray(v)[world] for k, v in model.metrics_step().items()})
    return out


def actions_for(model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random actions ``[1, n_agents, ...]`` of every role of a single-world model."""
    return {
        role: sample_actions(g[0].action_space, g[0].n_agents, rng)[None]
        for role, g in model.groups.items()
    }


def assert_same(batched: dict, single: dict, where: str) -> None:
    assert batched.keys() == single.keys(), where
    for key, value in single.items():
        assert np.array_equal(batched[key], value, equal_nan=True), f"{where}: {key} differs"


def run_identity(env, seeds: list[int], ticks: int) -> int:
    """Step a batch and one single model per seed side by side; return the births + deaths
    seen (so a test can check that the population changed)."""
    batch = env.batched_model(len(seeds))
    singles = [env.batched_model(1) for _ in seeds]
    batch.reset(seeds)
    for model, seed in zip(singles, seeds):
        model.reset(seed)
    action_rngs = [np.random.default_rng(1000 + b) for b in range(len(seeds))]
    changes = 0
    for tick in range(ticks):
        per_world = [actions_for(m, r) for m, r in zip(singles, action_rngs)]
        alive_before = [snapshot(m, 0) for m in singles]
        for model, actions in zip(singles, per_world):
            model.advance(actions)
        batch.advance({r: np.concatenate([a[r] for a in per_world]) for r in per_world[0]})
        for b, model in enumerate(singles):
            after = snapshot(model, 0)
            assert_same(snapshot(batch, b), after, f"tick {tick}, world {b}")
            changes += sum(
                int((alive_before[b][k] != after[k]).sum()) for k in after if k.startswith("alive/")
            )
    return changes


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_world_of_a_batch_is_bit_identical_to_a_single_world(env_id):
    env = heas_envs.make_parallel(env_id)
    run_identity(env, seeds=[11, 12, 13], ticks=40)


def test_the_economy_batch_stays_identical_through_births_deaths_and_decision_layers():
    for decision in ("tick", "layer"):
        env = heas_envs.make_parallel(
            "heas_envs/Economy-v0", n_agents=8, max_age=20, birth_rate=0.3, decision=decision
        )
        changes = run_identity(env, seeds=[3, 4, 5, 6, 7, 8, 9, 10], ticks=60)
        assert changes > 20, decision  # births and deaths happened in the worlds


def test_one_integer_seed_gives_world_zero_that_seed_and_the_others_derived_ones():
    env = heas_envs.make_parallel("heas_envs/Market-v0")
    batch = env.batched_model(3)
    batch.reset(5)
    assert world_seeds(5, 3) == [5, derived_seed(5, 1), derived_seed(5, 2)]
    assert len(set(world_seeds(5, 3)) | set(world_seeds(6, 3))) == 6  # no world shared
    for b, seed in enumerate(world_seeds(5, 3)):
        single = env.batched_model(1)
        single.reset(seed)
        assert_same(snapshot(batch, b), snapshot(single, 0), f"world {b}")


def test_a_single_world_draws_what_a_plain_generator_draws():
    rng, plain = WorldRandom([7]), np.random.default_rng(7)
    assert np.array_equal(rng.random((1, 4)), plain.random((1, 4)))
    assert np.array_equal(rng.standard_normal_per_world([3], (2,)), plain.standard_normal((3, 2)))


@pytest.mark.parametrize(
    ("seed", "match"),
    [
        ([1, 2], r"one seed per world \(3\); got 2 seeds"),
        ([1, -2, 3], r"seed of world 1 must be None or an integer in \[0, 2\*\*63 - 1\]"),
        ("7", r"seed must be None or an integer"),
        (1.5, r"seed must be None or an integer"),
    ],
)
def test_bad_seeds_of_a_batch_name_the_world_and_what_is_accepted(seed, match):
    model = heas_envs.make_parallel("heas_envs/Market-v0").batched_model(3)
    with pytest.raises(ValueError, match=match):
        model.reset(seed)


def test_a_draw_that_would_couple_worlds_is_refused():
    rng = WorldRandom([1, 2, 3])
    with pytest.raises(ValueError, match=r"must start with the number of worlds \(3\)"):
        rng.random(7)
    with pytest.raises(ValueError, match="one non-negative count per world"):
        rng.random_per_world([1, 2])
