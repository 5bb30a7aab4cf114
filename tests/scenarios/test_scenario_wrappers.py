"""Each scenario wrapper changes exactly what it claims, on the dict and the array API."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

import heas_envs
from heas_envs.scenarios import (
    WRAPPERS,
    BackgroundPopulation,
    DelayActions,
    NoisyObservations,
    ObjectiveReward,
    OverrideParams,
    ShockSchedule,
    WrapperSpec,
    apply_wrapper,
    wrapper_specs,
)

MARKET = "heas_envs/Market-v0"


def market(**params):
    return heas_envs.make_parallel(MARKET, **{"max_steps": 60, **params})


def random_actions(env, rng, steps):
    """A fixed sequence of per-role random action arrays."""
    return [env.unwrapped.random_actions(rng) for _ in range(steps)]


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- OverrideParams ----------------------------------------------------------------------------
def test_override_params_rebuilds_the_env_and_keeps_the_wrappers_below():
    inner = NoisyObservations(market(), 0.1, roles=["trader"])
    env = OverrideParams(inner, {"n_traders": 3, "volatility": 0.05})
    assert env.unwrapped.model_params.n_traders == 3
    assert env.unwrapped.model_params.volatility == 0.05
    assert inner.unwrapped.model_params.n_traders == 10  # the given env is left as it was
    assert wrapper_specs(env) == [inner.spec(), env.spec()]
    assert isinstance(env.env, NoisyObservations) and env.env.unwrapped is env.unwrapped
    # the same as building the env with the parameters
    direct = NoisyObservations(market(n_traders=3, volatility=0.05), 0.1, roles=["trader"])
    a, _ = env.reset_arrays(seed=4)
    b, _ = direct.reset_arrays(seed=4)
    assert same(a, b)
    for actions in random_actions(env, np.random.default_rng(0), 5):
        assert same(env.step_arrays(actions).obs, direct.step_arrays(actions).obs)


# -- ShockSchedule -----------------------------------------------------------------------------
def test_a_shock_at_tick_t_shows_at_tick_t_and_not_before():
    t = 4
    env = ShockSchedule(market(), [{"tick": t, "key": "price.price", "value": 50.0}])
    ref = market()
    env.reset_arrays(seed=2)
    ref.reset_arrays(seed=2)
    for tick, actions in enumerate(random_actions(ref, np.random.default_rng(1), 8)):
        assert env.tick == ref.tick == tick
        shocked, clean = env.unwrapped.model.ctx, ref.model.ctx
        if tick <= t:  # nothing differs before the step of tick t
            assert same(shocked.data, clean.data)
        out, ref_out = env.step_arrays(actions), ref.step_arrays(actions)
        if tick < t:
            assert same(out.obs, ref_out.obs) and same(out.rewards, ref_out.rewards)
        elif tick == t:
            assert shocked["price.price"][0] == 50.0  # exactly the shocked value
            assert clean["price.price"][0] != 50.0
            # the traders, later in tick t, marked their positions to the shocked price
            assert not np.array_equal(out.rewards["trader"], ref_out.rewards["trader"])


def test_a_shock_to_a_recomputed_value_lasts_one_tick_and_reaches_its_readers():
    eco = "heas_envs/Ecology-v0"
    shock = {"tick": 3, "key": "climate.value", "op": "add", "value": 2.0}
    env = ShockSchedule(heas_envs.make_parallel(eco, shock_prob=0.0), [shock])
    ref = heas_envs.make_parallel(eco, shock_prob=0.0)
    env.reset(seed=0)
    ref.reset(seed=0)
    for tick in range(5):
        env.step_arrays(env.heuristic_actions())
        ref.step_arrays(ref.heuristic_actions())
        climate = env.unwrapped.model.ctx["climate.value"]
        clean = ref.model.ctx["climate.value"]
        if tick == 3:
            assert np.allclose(climate, clean + 2.0)
            # prey growth in the same tick read the shocked climate
            assert not np.array_equal(
                env.unwrapped.model.ctx["prey.biomass"], ref.model.ctx["prey.biomass"]
            )
        elif tick == 4:  # the climate stream wrote a fresh value
            assert np.array_equal(climate, clean)


def test_shocks_of_one_tick_apply_in_order_and_ops_multiply_and_add():
    shocks = [
        {"tick": 1, "key": "price.price", "op": "set", "value": 10.0},
        {"tick": 1, "key": "price.price", "op": "add", "value": 1.0},
        {"tick": 2, "key": "traders.position", "op": "set", "value": [float(i) for i in range(10)]},
        {"tick": 3, "key": "price.price", "op": "multiply", "value": 0.5},
    ]
    env = ShockSchedule(market(), shocks)
    env.reset(seed=0)
    zeros = {"trader": np.zeros((10, 1)), "regulator": np.zeros((1, 1))}
    env.step_arrays(zeros)
    env.step_arrays(zeros)
    ctx = env.unwrapped.model.ctx
    assert ctx["price.price"][0] == 11.0
    env.step_arrays(zeros)
    assert np.array_equal(ctx["traders.position"][0], np.arange(10.0))
    before = ctx["price.price"][0]
    env.step_arrays(zeros)
    assert ctx["price.price"][0] < before  # the tick's own move, then halved
    assert ctx["metrics.volatility"].dtype == np.float64


def test_two_schedules_stack_inner_first():
    inner = ShockSchedule(market(), [{"tick": 0, "key": "price.price", "value": 10.0}])
    outer = ShockSchedule(inner, [{"tick": 0, "key": "price.price", "op": "add", "value": 5.0}])
    outer.reset(seed=0)
    outer.step_arrays(outer.heuristic_actions())
    assert outer.unwrapped.model.ctx["price.price"][0] == 15.0


@pytest.mark.parametrize(
    ("shocks", "match"),
    [
        ([], "non-empty list of shocks"),
        (
            [{"tick": 1, "key": "price.prize", "value": 1}],
            r"unknown context key 'price.prize'; .*'price.price'",
        ),
        (
            [{"tick": 60, "key": "price.price", "value": 1}],
            "would never apply: episodes last max_steps = 60",
        ),
        ([{"tick": -1, "key": "price.price", "value": 1}], "tick must be an integer >= 0"),
        ([{"tick": 1.5, "key": "price.price", "value": 1}], "tick must be an integer >= 0"),
        ([{"tick": 1, "key": "price", "value": 1}], "key must be a context key"),
        (
            [{"tick": 1, "key": "price.price", "value": 1, "op": "pow"}],
            r"op must be one of \['set'",
        ),
        ([{"tick": 1, "key": "price.price"}], r"shock 0 lacks \['value'\]"),
        ([{"tick": 1, "key": "price.price", "value": 1, "when": 0}], r"unknown fields \['when'\]"),
        ([{"tick": 1, "key": "price.price", "value": "high"}], "value must be a number"),
        ([{"tick": 1, "key": "price.price", "value": float("nan")}], "must be finite"),
        ([{"tick": 1, "key": "price.price", "value": [1.0, 2.0]}], r"shape \(2,\) does not fit"),
        (
            [{"tick": 1, "key": "traders.position", "value": [1.0, 2.0]}],
            r"has shape \(10,\) per world",
        ),
    ],
)
def test_bad_shocks_raise_with_what_is_accepted(shocks, match):
    with pytest.raises(ValueError, match=match):
        ShockSchedule(market(), shocks)


def test_shock_values_must_fit_integer_and_bool_keys():
    eco = heas_envs.make_parallel("heas_envs/Ecology-v0")
    with pytest.raises(ValueError, match="holds booleans; shock it with op 'set'"):
        ShockSchedule(
            eco, [{"tick": 1, "key": "movement.prey_extinctions", "op": "add", "value": 1}]
        )
    boltzmann = heas_envs.make_parallel("heas_envs/Boltzmann-v0")
    with pytest.raises(ValueError, match="holds integers; give an integer value"):
        ShockSchedule(boltzmann, [{"tick": 1, "key": "give.wealth", "op": "add", "value": 0.5}])
    env = ShockSchedule(boltzmann, [{"tick": 0, "key": "give.wealth", "op": "add", "value": 3}])
    env.reset(seed=0)
    before = env.unwrapped.model.ctx["give.wealth"].sum()
    env.step_arrays(env.heuristic_actions())
    after = env.unwrapped.model.ctx["give.wealth"]
    assert after.dtype.kind == "i" and after.sum() == before + 3 * after.size  # wealth moves only


def test_shock_shapes_are_checked_at_reset_when_the_env_cannot_be_probed(make_toy_env):
    env = ShockSchedule(make_toy_env(), [{"tick": 1, "key": "clock.noise", "value": [1.0, 2.0]}])
    with pytest.raises(ValueError, match=r"shape \(2,\) does not fit 'clock.noise'"):
        env.reset(seed=0)


# -- NoisyObservations -------------------------------------------------------------------------
def test_noise_has_the_stated_scale_and_leaves_other_roles_alone():
    scale, steps = 0.2, 200
    env = NoisyObservations(market(max_steps=steps), scale, roles=["trader"], clip=False)
    ref = market(max_steps=steps)
    noisy, _ = env.reset_arrays(seed=5)
    clean, _ = ref.reset_arrays(seed=5)
    diffs = [noisy["trader"] - clean["trader"]]
    zeros = {"trader": np.zeros((10, 1)), "regulator": np.full((1, 1), 0.3)}
    for _ in range(steps - 1):
        out, ref_out = env.step_arrays(zeros), ref.step_arrays(zeros)
        diffs.append(out.obs["trader"] - ref_out.obs["trader"])
        assert np.array_equal(out.obs["regulator"], ref_out.obs["regulator"])
        assert same(out.rewards, ref_out.rewards)  # the model's stream is untouched
    d = np.concatenate(diffs).astype(np.float64).reshape(-1)
    assert d.size == steps * 10 * 8
    assert abs(d.std() - scale) < 0.01
    assert abs(d.mean()) < 0.01


def test_noise_repeats_with_the_seed_on_both_apis():
    def run(seed, api):
        env = NoisyObservations(market(), 0.1)
        if api == "dict":
            obs, _ = env.reset(seed=seed)
            seen = [obs["trader_3"]]
            for _ in range(4):
                obs, *_ = env.step(env.agent_actions(env.unwrapped.heuristic_actions()))
                seen.append(obs["trader_3"])
        else:
            obs, _ = env.reset_arrays(seed=seed)
            seen = [obs["trader"][3]]
            for _ in range(4):
                seen.append(env.step_arrays(env.unwrapped.heuristic_actions()).obs["trader"][3])
        return np.stack(seen)

    assert np.array_equal(run(7, "dict"), run(7, "dict"))
    assert np.array_equal(run(7, "dict"), run(7, "arrays"))
    assert not np.array_equal(run(7, "arrays"), run(8, "arrays"))


def test_noise_per_feature_and_clipped_into_the_space():
    scale = [0.0] * 5 + [0.5, 0.0, 0.0]  # the position feature only
    env = NoisyObservations(market(), scale, roles=["trader"], clip=False)
    ref = market()
    a, _ = env.reset_arrays(seed=1)
    b, _ = ref.reset_arrays(seed=1)
    d = a["trader"] - b["trader"]
    assert np.all(d[:, [0, 1, 2, 3, 4, 6, 7]] == 0) and np.all(d[:, 5] != 0)
    clipped = NoisyObservations(market(), 5.0)
    obs, _ = clipped.reset(seed=0)
    for _ in range(5):
        assert all(clipped.observation_space(a).contains(o) for a, o in obs.items())
        obs, *_ = clipped.step(clipped.agent_actions(clipped.unwrapped.heuristic_actions()))


def test_heuristic_through_the_noise_wrapper_sees_the_noise():
    env = NoisyObservations(market(), 0.5, roles=["trader"], clip=False)
    obs, _ = env.reset_arrays(seed=0)
    assert np.array_equal(
        env.heuristic_actions()["trader"], env.unwrapped.heuristic_actions(obs)["trader"]
    )
    assert same(env.observations, obs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scale": -0.1}, "scale must be finite and >= 0"),
        ({"scale": "big"}, "scale must be a number >= 0 or a list"),
        ({"scale": [0.1, 0.2]}, r"a scale of shape \(2,\) does not fit the observations of role"),
        ({"scale": 0.1, "roles": ["dealer"]}, r"unknown role 'dealer'; roles are \['trader'"),
        ({"scale": 0.1, "roles": []}, "non-empty list of role names"),
        ({"scale": 0.1, "clip": 1}, "clip must be True or False"),
    ],
)
def test_bad_noise_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NoisyObservations(market(), **kwargs)


# -- DelayActions ------------------------------------------------------------------------------
@pytest.mark.parametrize("fill", ["heuristic", "zeros"])
def test_a_delay_of_k_shifts_the_actions_by_exactly_k(fill):
    k, steps = 3, 12
    env = DelayActions(market(), k, roles=["trader"], fill=fill)
    ref = market()
    plan = random_actions(ref, np.random.default_rng(3), steps)
    obs, _ = env.reset_arrays(seed=9)
    ref_obs, _ = ref.reset_arrays(seed=9)
    for j, actions in enumerate(plan):
        if j < k:
            held = ref.heuristic_actions()["trader"] if fill == "heuristic" else np.zeros((10, 1))
        else:
            held = plan[j - k]["trader"]
        shifted = {"trader": held, "regulator": actions["regulator"]}  # the regulator at once
        out, ref_out = env.step_arrays(actions), ref.step_arrays(shifted)
        assert same(out.obs, ref_out.obs) and same(out.rewards, ref_out.rewards)


def test_delay_on_the_dict_api_matches_the_array_api():
    plan = random_actions(market(), np.random.default_rng(0), 6)
    a = DelayActions(market(), 2)
    b = DelayActions(market(), 2)
    a.reset(seed=1)
    b.reset_arrays(seed=1)
    for actions in plan:
        obs, rewards, *_ = a.step(a.agent_actions(actions))
        out = b.step_arrays(actions)
        assert np.array_equal(obs["trader_2"], out.obs["trader"][2])
        assert rewards["regulator_0"] == out.rewards["regulator"][0]


def test_delayed_action_of_a_newborn_is_the_fill(make_toy_env):
    env = DelayActions(make_toy_env(max_steps=8, unborn=(2,), birth_tick=2), 1, fill="zeros")
    env.reset(seed=0)
    group = env.unwrapped.model.groups["watcher"][0]
    applied = []
    for _ in range(5):
        env.step({a: np.array([0.5], dtype=np.float32) for a in env.agents})
        applied.append(group.last_actions[0, :, 0].tolist())
    assert applied[0] == [0.0, 0.0, 0.0]  # the fill, before the first action arrives
    assert applied[1] == [0.5, 0.5, 0.0]  # slot 2 is unborn: ignored by the env
    assert applied[3] == [0.5, 0.5, 0.0]  # slot 2 was unborn when this action was given
    assert applied[4] == [0.5, 0.5, 0.5]


def test_an_invalid_delayed_action_raises_when_given_and_changes_nothing():
    env = DelayActions(market(), 2, roles=["trader"])
    ref = DelayActions(market(), 2, roles=["trader"])
    env.reset_arrays(seed=0)
    ref.reset_arrays(seed=0)
    bad = {"trader": np.full((10, 1), 3.0), "regulator": np.zeros((1, 1))}
    with pytest.raises(ValueError, match=r"invalid action \[3.0\] for agent 'trader_0'.*Box"):
        env.step_arrays(bad)
    with pytest.raises(ValueError, match=r"must be real numbers of shape \(10, 1\)"):
        env.step_arrays({"trader": np.zeros(10), "regulator": np.zeros((1, 1))})
    for actions in random_actions(env, np.random.default_rng(0), 4):
        assert same(env.step_arrays(actions).obs, ref.step_arrays(actions).obs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"delay": 0}, "delay must be an integer >= 1"),
        ({"delay": True}, "delay must be an integer >= 1"),
        ({"delay": 1, "fill": "last"}, r"fill must be one of \['heuristic', 'zeros'\]"),
        ({"delay": 1, "roles": ["boss"]}, "unknown role 'boss'"),
    ],
)
def test_bad_delay_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DelayActions(market(), **kwargs)


# -- BackgroundPopulation ----------------------------------------------------------------------
def test_background_draws_repeat_with_the_seed():
    def draws(seeds):
        env = BackgroundPopulation(market(), "trader", pool="mixed", slots=[4, 5], per_agent=True)
        out = []
        for seed in seeds:
            env.reset(seed=seed)
            out.append(dict(env.episode_policies))
        return out

    seeds = [3, None, None, 8, 3]
    first = draws(seeds)
    assert first == draws(seeds)
    assert first[0] == first[4]  # seed 3 again
    every = [p for d in draws(range(30)) for p in d.values()]
    assert set(every) == {"heuristic", "random", "zeros"}
    assert draws(range(30)) != draws(range(30, 60))


def test_background_weights_favour_a_policy():
    env = BackgroundPopulation(market(), "regulator", pool=["heuristic", "zeros"], weights=[9, 1])
    picks = []
    for seed in range(200):
        env.reset(seed=seed)
        picks.append(env.episode_policies["regulator_0"])
    assert 0.8 < picks.count("heuristic") / 200 < 0.97


def test_driven_agents_leave_the_dict_api_and_play_the_policy():
    env = BackgroundPopulation(market(), "trader", pool="zeros", slots=[1, 2])
    obs, infos = env.reset(seed=0)
    assert "trader_1" not in env.possible_agents and "trader_1" not in obs
    assert set(obs) == set(infos) == set(env.agents) == set(env.possible_agents)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = {a: rng.uniform(-1, 1, 1).astype(np.float32) for a in env.agents}
        actions["regulator_0"] = np.zeros(1, dtype=np.float32)
        obs, rewards, term, trunc, infos = env.step(actions)
        assert set(obs) == set(rewards) == set(term) == set(infos) == set(env.possible_agents)
    position = env.unwrapped.model.ctx["traders.position"][0]
    assert position[1] == position[2] == 0.0 and np.all(position[[0, 3, 4]] != 0.0)
    with pytest.raises(ValueError, match=r"agents \['trader_1'\] are driven by the background"):
        env.step({**actions, "trader_1": np.zeros(1)})


def test_a_heuristic_background_is_the_unwrapped_env_under_the_heuristic():
    env = BackgroundPopulation(market(), "regulator", pool="heuristic")
    ref = market()
    env.reset_arrays(seed=6)
    ref.reset_arrays(seed=6)
    for actions in random_actions(ref, np.random.default_rng(2), 12):
        expected = {**actions, "regulator": ref.heuristic_actions()["regulator"]}
        out = env.step_arrays({"trader": actions["trader"]})  # a wholly driven role may be left out
        assert same(out.obs, ref.step_arrays(expected).obs)


def test_a_random_background_repeats_with_the_seed():
    def run():
        env = BackgroundPopulation(market(), "trader", pool="random", slots=[0, 1, 2])
        env.reset(seed=12)
        for _ in range(6):
            obs, *_ = env.step({a: np.zeros(1, dtype=np.float32) for a in env.agents})
        return obs["trader_5"]

    assert np.array_equal(run(), run())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "boss"}, r"unknown role 'boss'; roles are \['trader', 'regulator'\]"),
        ({"role": "trader", "pool": "smart"}, r"unknown background policies \['smart'\]"),
        ({"role": "trader", "pool": []}, "non-empty list of policy names"),
        ({"role": "trader", "slots": [10]}, r"slots \[10\] do not exist"),
        ({"role": "trader", "slots": [-1]}, "slot indices >= 0"),
        ({"role": "trader", "pool": "mixed", "weights": [1, 2]}, "2 weights for a pool of 3"),
        ({"role": "trader", "weights": [0]}, "list of positive numbers"),
        ({"role": "trader", "per_agent": "yes"}, "per_agent must be True or False"),
    ],
)
def test_bad_background_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BackgroundPopulation(market(), **kwargs)


# -- ObjectiveReward ---------------------------------------------------------------------------
def test_the_objective_reward_is_the_weighted_metrics():
    weights = {"metrics.volatility": -2.0, "traders.volume": 0.5}
    env = ObjectiveReward(market(), "trader", metrics=weights)
    env.reset(seed=0)
    for _ in range(5):
        _, rewards, *_ = env.step(env.agent_actions(env.unwrapped.heuristic_actions()))
        m = env.metrics()
        expected = -2.0 * m["metrics.volatility"] + 0.5 * m["traders.volume"]
        assert all(rewards[f"trader_{i}"] == pytest.approx(expected, abs=1e-12) for i in range(10))
        out = env.step_arrays(env.unwrapped.heuristic_actions())
        m = env.metrics()
        assert np.allclose(
            out.rewards["trader"], -2 * m["metrics.volatility"] + 0.5 * m["traders.volume"]
        )


def test_the_attacker_reward_is_the_defender_reward_negated():
    env = ObjectiveReward(market(), "trader", negate="regulator", slots=[0, 1])
    ref = market()
    env.reset_arrays(seed=3)
    ref.reset_arrays(seed=3)
    for actions in random_actions(ref, np.random.default_rng(5), 15):
        out, ref_out = env.step_arrays(actions), ref.step_arrays(actions)
        defender = ref_out.rewards["regulator"][0]
        assert np.array_equal(out.rewards["trader"][:2], [-defender, -defender])
        assert np.array_equal(out.rewards["trader"][2:], ref_out.rewards["trader"][2:])
        assert np.array_equal(out.rewards["regulator"], ref_out.rewards["regulator"])
        assert same(out.obs, ref_out.obs)


def test_negating_many_agents_takes_their_mean_or_sum():
    mean = ObjectiveReward(market(), "regulator", negate="trader")
    total = ObjectiveReward(market(), "regulator", negate="trader", reduce="sum")
    ref = market()
    for e in (mean, total, ref):
        e.reset_arrays(seed=0)
    for actions in random_actions(ref, np.random.default_rng(1), 5):
        traders = ref.step_arrays(actions).rewards["trader"]
        assert mean.step_arrays(actions).rewards["regulator"][0] == pytest.approx(-traders.mean())
        assert total.step_arrays(actions).rewards["regulator"][0] == pytest.approx(-traders.sum())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"role": "trader"}, "exactly one objective"),
        ({"role": "trader", "metrics": {"a.b": 1}, "negate": "regulator"}, "exactly one objective"),
        ({"role": "trader", "negate": "trader"}, "negate must name another role"),
        ({"role": "trader", "negate": "boss"}, "unknown role 'boss'"),
        (
            {"role": "trader", "metrics": {"price.prize": 1.0}},
            r"unknown metric keys \['price.prize'\]; the env's metrics are \['metrics.volatility'",
        ),
        ({"role": "trader", "metrics": {"price.price": "1"}}, "finite weight"),
        (
            {"role": "trader", "negate": "regulator", "reduce": "max"},
            r"reduce must be one of \['mean', 'sum'\]",
        ),
    ],
)
def test_bad_objective_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ObjectiveReward(market(), **kwargs)


# -- every wrapper -----------------------------------------------------------------------------
SPECS = [
    ("OverrideParams", {"params": {"n_traders": 3}}),
    ("ShockSchedule", {"shocks": [{"tick": 2, "key": "regulator.tax", "value": 0.01}]}),
    ("NoisyObservations", {"scale": 0.2}),
    ("DelayActions", {"delay": 2, "roles": ["regulator"]}),
    (
        "BackgroundPopulation",
        {"role": "trader", "pool": "mixed", "slots": [0, 1], "per_agent": True},
    ),
    ("ObjectiveReward", {"role": "trader", "metrics": {"metrics.volatility": -1.0}}),
]


@pytest.mark.parametrize(("name", "args"), SPECS)
def test_a_spec_re_creates_its_wrapper_exactly(name, args):
    first = apply_wrapper(market(), (name, args))
    assert isinstance(first, WRAPPERS[name])
    again = apply_wrapper(market(), WrapperSpec.from_dict(first.spec().to_dict()))
    assert again.spec() == first.spec()
    a, _ = first.reset(seed=5)
    b, _ = again.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(6):
        actions = {k: first.action_space(k).sample() for k in first.agents}
        for x in actions.values():
            x[:] = rng.uniform(0, 1, x.shape)
        a, ra, *_ = first.step(actions)
        b, rb, *_ = again.step(actions)
        assert same(a, b) and ra == rb


@pytest.mark.parametrize(
    ("env_id", "spec"),
    [
        (MARKET, ("NoisyObservations", {"scale": 0.1})),
        (MARKET, ("DelayActions", {"delay": 3, "fill": "zeros"})),
        (
            "heas_envs/Ecology-v0",
            ("BackgroundPopulation", {"role": "manager", "pool": "mixed", "slots": [0, 5]}),
        ),
        (
            "heas_envs/Enterprise-v0",
            ("ObjectiveReward", {"role": "firm", "metrics": {"agg.welfare": 1.0}}),
        ),
        (
            "heas_envs/Economy-v0",
            (
                "ShockSchedule",
                {"shocks": [{"tick": 3, "key": "nature.yield", "op": "multiply", "value": 0.5}]},
            ),
        ),
    ],
)
def test_wrapped_envs_pass_pettingzoos_parallel_api_test(env_id, spec):
    params = {"max_steps": 30}
    if env_id == "heas_envs/Economy-v0":
        params["max_population"] = 20  # every slot alive from reset (see the README)
    env = apply_wrapper(heas_envs.make_parallel(env_id, **params), spec)
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=40)
    assert [str(w.message) for w in caught] == []


def test_scenario_wrappers_refuse_other_envs():
    from heas_envs.wrappers import FixedSlots

    with pytest.raises(TypeError, match="wraps a HierarchicalParallelEnv"):
        NoisyObservations(FixedSlots(market()), 0.1)
    with pytest.raises(TypeError, match="wraps a HierarchicalParallelEnv"):
        DelayActions("not an env", 1)


def test_stepping_a_finished_episode_raises_before_anything_changes():
    env = DelayActions(market(max_steps=2), 1)
    env.reset(seed=0)
    for _ in range(2):
        env.step(env.agent_actions(env.unwrapped.heuristic_actions()))
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"no action for live agents \['trader_0'"):
        env.step({})
