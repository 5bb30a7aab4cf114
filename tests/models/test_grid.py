"""The power grid: DC flow, protection delay, islanding, the roles' heuristics and names."""

from __future__ import annotations

import numpy as np

import heas_envs
from heas_envs.models.grid import MIN_LIMIT, connected_to_slack, dc_power_flow, ieee14

ID = "heas_envs/PowerGrid-v0"
CALM = dict(load_noise=0.0, load_amplitude=0.0, renewable_capacity=0.0)


def balanced_injections(main, rng):
    """Random injections on the slack's island that sum to zero there (zero elsewhere)."""
    injection = rng.normal(0.0, 50.0, main.shape) * main
    injection[:, 0] -= injection.sum(axis=1)
    return injection


def test_dc_flow_equals_a_direct_solve_per_world_and_balances_every_bus():
    case, rng = ieee14(), np.random.default_rng(0)
    status = (rng.random((64, case.n_line)) > 0.2).astype(float)
    main = connected_to_slack(case, status)
    injection = balanced_injections(main, rng)
    flow = dc_power_flow(case, injection, status, main)
    a = case.incidence
    assert (~main).any()  # some draws island buses
    for b in range(len(status)):
        keep = np.flatnonzero(main[b])[1:]  # the island's buses without the slack
        b_bus = a.T @ (a * (status[b] / case.x)[:, None])
        theta = np.zeros(case.n_bus)
        theta[keep] = np.linalg.solve(b_bus[np.ix_(keep, keep)], injection[b, keep])
        direct = status[b] / case.x * (a @ theta)
        np.testing.assert_allclose(flow[b], direct, atol=1e-9)
    np.testing.assert_allclose(flow @ a, injection, atol=1e-8)  # A^T f = P at every bus
    assert np.all(flow[status == 0] == 0.0)


def test_generation_meets_the_served_load_in_every_tick():
    env = heas_envs.make_parallel(ID, renewable_capacity=0.0, attack_cooldown=0)
    env.reset_arrays(seed=2)
    rng = np.random.default_rng(2)
    while env.agents:
        env.step_arrays(env.random_actions(rng))
        ctx = env.model.ctx
        served = ctx["profiles.load"].sum() - ctx["grid.shed"][0]
        assert np.isclose(ctx["grid.dispatch"].sum(), served, rtol=0, atol=1e-9)
        assert np.all(ctx["grid.dispatch"] >= 0) and np.all(
            ctx["grid.dispatch"] <= ieee14().gen_pmax
        )


def test_an_overloaded_line_trips_exactly_after_the_protection_delay():
    delay, factor = 3, 0.9
    env = heas_envs.make_parallel(ID, limit_factor=factor, trip_delay=delay, **CALM)
    env.reset_arrays(seed=0)
    idle = {"attacker": np.zeros((1, 40)), "defender": np.zeros((1, 24))}
    statuses = []
    for _ in range(delay):
        env.step_arrays(idle)
        statuses.append(env.model.ctx["grid.status"][0].copy())
    base = np.abs(ieee14().base_flow)
    overloaded = base > factor * np.maximum(base, MIN_LIMIT)  # over the limit from the first tick
    assert overloaded.any() and not overloaded.all()
    assert np.all(statuses[delay - 2] == 1.0)  # still in after delay - 1 overloaded ticks
    np.testing.assert_array_equal(statuses[-1] == 0.0, overloaded)


def test_an_islanded_bus_has_its_load_shed_without_nan():
    env = heas_envs.make_parallel(ID, attack_cooldown=0, **CALM)
    obs, _ = env.reset_arrays(seed=0)
    case = ieee14()
    for line in (16, 19):  # 9-14 and 13-14: bus 14 is cut off
        attack = np.full((1, 40), -1.0)
        attack[0, line] = 1.0
        out = env.step_arrays({"attacker": attack, "defender": np.zeros((1, 24))})
    defender = out.obs["defender"][0]
    assert np.isfinite(defender).all() and np.isfinite(out.rewards["defender"]).all()
    served = 1.0 - case.load[13] / case.load.sum()
    assert np.isclose(defender[-1], served)
    assert np.isclose(env.metrics()["grid.shed"], case.load[13])
    assert env.metrics()["grid.served"] < 1.0


def mean_served(seed: int, defend: bool) -> float:
    env = heas_envs.make_parallel(ID)
    env.reset_arrays(seed=seed)
    while env.agents:
        actions = env.heuristic_actions()
        if not defend:
            actions["defender"] = np.zeros_like(actions["defender"])
        env.step_arrays(actions)
    return env.episode_metrics()["grid.mean_served"]


def test_the_heuristic_defender_serves_more_load_than_doing_nothing():
    for seed in range(3):
        assert mean_served(seed, True) > mean_served(seed, False), seed


def test_names_have_one_entry_per_component_of_each_space():
    env = heas_envs.make_parallel(ID)
    groups = env.worlds.groups
    assert set(groups) == {"attacker", "defender"}
    for role, group in groups.items():
        assert len(group.observation_names) == env.observation_space(f"{role}_0").shape[0]
        assert len(group.action_names) == env.action_space(f"{role}_0").shape[0]
        assert len(set(group.observation_names)) == len(group.observation_names)
        assert len(set(group.action_names)) == len(group.action_names)


def test_the_attackers_reward_is_exactly_minus_the_defenders():
    env = heas_envs.make_parallel(ID)
    env.reset_arrays(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(10):
        out = env.step_arrays(env.random_actions(rng))
        assert out.rewards["attacker"][0] == -out.rewards["defender"][0]


def test_the_defender_senses_the_bias_on_the_chosen_sensors_only():
    env = heas_envs.make_parallel(ID, max_bias=0.3, bias_sensors=2)
    env.reset_arrays(seed=0)
    attack = np.zeros((1, 40))
    attack[0, 20 + np.array([3, 7, 11])] = [0.5, -1.0, 0.2]  # the two largest count
    out = env.step_arrays({"attacker": attack, "defender": np.zeros((1, 24))})
    true_flow = out.obs["attacker"][0, :20].astype(np.float64)
    sensed = out.obs["defender"][0, :20].astype(np.float64)
    bias = np.zeros(20)
    bias[[3, 7]] = [0.15, -0.3]
    np.testing.assert_allclose(sensed - true_flow, bias, atol=1e-6)


def test_the_attacker_trips_within_its_budget_and_cooldown():
    budget, cooldown = 3, 4
    env = heas_envs.make_parallel(
        ID, attack_budget=budget, attack_cooldown=cooldown, trip_delay=1000, reconnect_delay=1000
    )
    env.reset_arrays(seed=0)
    attack = np.zeros((1, 40))
    attack[0, :20] = np.linspace(1.0, 0.6, 20)  # always wants to trip
    ticks = []
    for t in range(20):
        env.step_arrays({"attacker": attack, "defender": np.zeros((1, 24))})
        if env.model.ctx["attacker.trip"].any():
            ticks.append(t)
    assert ticks == [0, cooldown + 1, 2 * (cooldown + 1)]
    assert (env.model.ctx["grid.status"] == 0).sum() == budget


def test_a_tripped_line_reconnects_only_after_the_reconnect_delay():
    delay = 2
    env = heas_envs.make_parallel(ID, reconnect_delay=delay, attack_budget=1, **CALM)
    env.reset_arrays(seed=0)
    attack, defend = np.zeros((1, 40)), np.ones((1, 24))
    defend[0, :4] = 0.0  # no redispatch; always ask to reconnect
    attack[0, 5] = 1.0
    line_in, ready = [], []
    for _ in range(delay + 2):
        out = env.step_arrays({"attacker": attack, "defender": defend})
        line_in.append(env.model.ctx["grid.status"][0, 5])
        ready.append(out.obs["defender"][0, 40 + 5])
    assert line_in == [0.0] * delay + [1.0, 1.0]
    assert ready == [0.0] * (delay - 1) + [1.0, 0.0, 0.0]


def test_a_fixed_dispatch_ramp_of_zero_plays_the_heuristic_without_nan():
    env = heas_envs.make_vec("heas_envs/PowerGrid-v0", num_worlds=2, ramp=0.0, max_steps=5)
    obs, _ = env.reset(seed=[0, 1])
    for _ in range(5):
        actions = env.heuristic_actions(obs)
        assert all(np.isfinite(a).all() for a in actions.values())
        obs = env.step(actions).obs
