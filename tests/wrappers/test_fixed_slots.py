"""FixedSlots: every possible agent at every step, the slots' life cycle, and the clients
(SuperSuit, TorchRL) running the economy with births and deaths through it."""

from __future__ import annotations

import importlib.util
import pickle
import re
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from conftest import Clock, Watchers, toy_env
from gymnasium import spaces
from pettingzoo.test import parallel_api_test
from pettingzoo.utils.conversions import parallel_to_aec

import heas_envs
from heas_envs.checks import check_env
from heas_envs.core import LayerSpec, StreamSpec, make_model
from heas_envs.env import HierarchicalParallelEnv, sample_actions
from heas_envs.wrappers import FixedSlots

#: An economy small enough for quick tests that still has births and deaths in 40 ticks.
SMALL_ECONOMY = {"n_agents": 6, "max_population": 24, "max_steps": 40}


def economy(**params) -> FixedSlots:
    return FixedSlots(
        heas_envs.make_parallel("heas_envs/Economy-v0", **{**SMALL_ECONOMY, **params})
    )


class DiscreteWatchers(Watchers):
    """The toy watchers with a ``Discrete(3)`` action space."""

    def __init__(self, name, **params):
        super().__init__(name, **params)
        self.action_space = spaces.Discrete(3)

    def heuristic(self, obs):
        return np.zeros(obs.shape[:-1], dtype=np.int64)


def discrete_toy(max_steps=6, **params) -> FixedSlots:
    spec = [
        LayerSpec([StreamSpec("clock", Clock)]),
        LayerSpec([StreamSpec("watchers", DiscreteWatchers, params)]),
    ]
    return FixedSlots(HierarchicalParallelEnv(make_model(spec), max_steps=max_steps))


def random_actions(env, rng) -> dict:
    return {a: sample_actions(env.action_space(a), 1, rng)[0] for a in env.agents}


def frozen(value):
    """A comparable form of nested dicts, lists and arrays (dtypes and shapes included)."""
    if isinstance(value, dict):
        return tuple((k, frozen(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    arr = np.asarray(value)
    return (arr.dtype.str, arr.shape, arr.tobytes())


def alive(infos) -> set[str]:
    return {a for a, info in infos.items() if info["alive"]}


def trajectory(env, seed, n_steps=100, action_seed=0) -> list:
    rng = np.random.default_rng(action_seed)
    obs, infos = env.reset(seed=seed)
    rows = [(sorted(alive(infos)), {a: o.tolist() for a, o in obs.items()})]
    while env.agents and len(rows) <= n_steps:
        obs, rew, term, trunc, infos = env.step(random_actions(env, rng))
        rows.append((sorted(alive(infos)), {a: o.tolist() for a, o in obs.items()}, rew))
    return rows


# -- the view -------------------------------------------------------------------------------
def test_every_slot_is_in_every_dict_at_every_step_and_absent_ones_observe_zeros():
    env = economy()
    slots = env.possible_agents
    assert len(slots) == 24
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(slots) and env.agents == slots
    before = alive(infos)
    assert before == set(env.unwrapped.agents) and len(before) == 6
    ever, births, deaths, steps = set(before), 0, 0, 0
    rng = np.random.default_rng(0)
    while env.agents:
        obs, rew, term, trunc, infos = env.step(random_actions(env, rng))
        steps += 1
        for d in (obs, rew, term, trunc, infos):
            assert list(d) == slots
        now = alive(infos)
        assert not (now - before) & ever, "a dead slot came back"
        births, deaths = births + len(now - before), deaths + len(before - now)
        ever |= now
        for agent in set(slots) - now:
            assert not obs[agent].any() and obs[agent].dtype == np.float32
            if agent not in before:  # unborn or dead before this step: nothing earned
                assert rew[agent] == 0.0
        if env.agents:
            assert now == set(env.unwrapped.agents) and env.agents == slots
            assert not any(term.values()) and not any(trunc.values())
        before = now
    assert steps == 40 and all(trunc.values()) and not any(term.values())
    assert births > 0 and deaths > 0


def test_a_slot_lives_unborn_then_alive_then_dead_in_its_alive_flags():
    env = FixedSlots(toy_env(max_steps=5, n_agents=4, death={1: 1, 3: 3}, unborn=(2, 3)))
    inner = env.unwrapped
    _, infos = env.reset(seed=0)
    flags = [[infos[a]["alive"] for a in env.possible_agents]]
    rewards = []
    while env.agents:
        obs, rew, term, trunc, infos = env.step({a: np.zeros(1, np.float32) for a in env.agents})
        flags.append([infos[a]["alive"] for a in env.possible_agents])
        assert env.alive_agents() == [a for a in env.possible_agents if infos[a]["alive"]]
        rewards.append(rew)
        if "watcher_2" in inner.agents and len(flags) == 4:  # born at tick 2: observed at once
            assert obs["watcher_2"].tolist() == inner.observations["watcher"][2].tolist()
            assert obs["watcher_2"][0] == 2.0  # it saw the clock's tick
    assert flags == [
        [True, True, False, False],  # reset: watcher_2 and watcher_3 unborn
        [True, True, False, False],
        [True, False, False, False],  # tick 1: watcher_1 dies
        [True, False, True, True],  # tick 2: both are born
        [True, False, True, False],  # tick 3: watcher_3 dies
        [True, False, True, False],  # tick 4: truncated; the survivors are still alive
    ]
    assert rewards[2]["watcher_2"] == 2.0 and rewards[1]["watcher_2"] == 0.0
    assert all(trunc.values()) and not any(term.values()) and env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_when_nobody_is_left_alive_every_slot_is_terminated():
    env = FixedSlots(toy_env(max_steps=5, n_agents=2, death={0: 0, 1: 0}))
    env.reset(seed=0)
    obs, rew, term, trunc, infos = env.step({a: np.zeros(1, np.float32) for a in env.agents})
    assert term == {"watcher_0": True, "watcher_1": True}
    assert not any(trunc.values()) and alive(infos) == set() and env.agents == []


def test_actions_of_absent_slots_are_ignored():
    env, same = (FixedSlots(toy_env(death={1: 0}, unborn=(2,), birth_tick=3)) for _ in "ab")
    env.reset(seed=0), same.reset(seed=0)
    garbage = {"watcher_1": np.full(1, 0.9), "watcher_2": "not even an action"}
    for step in range(5):
        live = {a: np.full(1, 0.5, np.float32) for a in env.unwrapped.agents}
        absent = {a: v for a, v in garbage.items() if a not in live}
        out, ref = env.step({**live, **absent}), same.step(live)  # same: absent ones omitted
        assert frozen(out) == frozen(ref)
        seen = env.unwrapped.group("watcher").last_actions[0, :, 0]
        assert seen.tolist() == [0.5 if f"watcher_{i}" in live else 0.0 for i in range(3)]
        if step == 1:
            assert set(absent) == {"watcher_1", "watcher_2"}


def test_unknown_missing_and_invalid_actions_raise_and_change_nothing():
    env = economy()
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(0)
    valid = {a: sample_actions(env.action_space(a), 1, rng)[0] for a in env.possible_agents}
    with pytest.raises(ValueError, match="citizen_999"):
        env.step({**valid, "citizen_999": valid["citizen_0"]})
    with pytest.raises(ValueError, match="citizen_3"):
        env.step({a: v for a, v in valid.items() if a != "citizen_3"})
    with pytest.raises(ValueError, match="citizen_2"):
        env.step({**valid, "citizen_2": np.full(17, np.nan, np.float32)})
    with pytest.raises(ValueError, match="dict"):
        env.step([valid[a] for a in env.agents])
    assert frozen(env.step(valid)) == frozen(clone.step(valid))


def test_discrete_slots_get_an_action_mask_that_never_masks_every_action():
    env = discrete_toy(death={0: 0}, unborn=(2,), birth_tick=2)
    _, infos = env.reset(seed=0)
    masks = {a: i["action_mask"].tolist() for a, i in infos.items()}
    assert masks == {"watcher_0": [1, 1, 1], "watcher_1": [1, 1, 1], "watcher_2": [1, 0, 0]}
    assert infos["watcher_0"]["action_mask"].dtype == np.int8
    _, _, _, _, infos = env.step({a: 2 for a in env.agents})  # watcher_0 dies
    assert infos["watcher_0"]["action_mask"].tolist() == [1, 0, 0]
    assert "action_mask" not in economy().reset(seed=0)[1]["citizen_0"]  # Box: alive only


# -- conformance ----------------------------------------------------------------------------
def test_the_view_passes_parallel_api_test_and_check_env():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(economy(max_steps=60), num_cycles=100)
    assert not [w for w in caught if "agent" in str(w.message).lower()]
    check_env(lambda: FixedSlots(toy_env(max_steps=8, death={0: 3}, unborn=(2,))), num_cycles=20)
    check_env(lambda: discrete_toy(max_steps=8, death={1: 2}, unborn=(2,)), num_cycles=20)
    check_env(lambda: economy(max_steps=25), num_cycles=25)


def test_the_same_seed_repeats_the_episode_and_another_seed_differs():
    a, b, other = trajectory(economy(), 3), trajectory(economy(), 3), trajectory(economy(), 4)
    assert frozen(a) == frozen(b)
    assert frozen(a) != frozen(other)
    births = {agent for row in a for agent in row[0]} - set(a[0][0])
    assert births, "the episode should hold births"


def test_spaces_are_the_inner_envs_and_the_same_object_every_call():
    env = economy()
    for agent in ("citizen_0", "citizen_23"):
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.observation_space(agent) is env.unwrapped.observation_space(agent)
        assert env.action_space(agent) is env.unwrapped.action_space(agent)


def test_the_constructor_refuses_what_is_not_a_parallel_env_and_records_its_arguments():
    inner = heas_envs.make_parallel("heas_envs/Economy-v0", **SMALL_ECONOMY)
    with pytest.raises(TypeError, match="AEC env"):
        FixedSlots(parallel_to_aec(inner))
    with pytest.raises(TypeError, match="ParallelEnv"):
        FixedSlots(gymnasium.make("heas_envs/Market-v0"))
    with pytest.raises(TypeError, match="ParallelEnv"):
        FixedSlots("heas_envs/Economy-v0")
    env = FixedSlots(inner)
    assert env._saved_kwargs == {} and env.env is inner and env.unwrapped is inner
    again = type(env)(heas_envs.make_parallel("heas_envs/Economy-v0", **SMALL_ECONOMY))
    assert frozen(trajectory(env, 0, 10)) == frozen(trajectory(again, 0, 10))


def test_other_attributes_are_forwarded_but_not_the_array_api():
    env = economy()
    env.reset(seed=0)
    assert env.metrics() == env.unwrapped.metrics()
    assert env.state().shape == env.unwrapped.state_space.shape
    with pytest.raises(AttributeError, match="unwrapped.step_arrays"):
        env.step_arrays  # noqa: B018
    with pytest.raises(AttributeError, match="unwrapped.reset_arrays"):
        env.reset_arrays  # noqa: B018


@pytest.mark.parametrize("env_id", heas_envs.list_envs())
def test_every_registered_env_runs_through_the_view_and_supersuit(env_id):
    import supersuit as ss

    parallel_api_test(FixedSlots(heas_envs.make_parallel(env_id, max_steps=10)), num_cycles=12)
    env = FixedSlots(heas_envs.make_parallel(env_id, max_steps=10))
    first = env.possible_agents[0]
    if any(
        env.observation_space(a) != env.observation_space(first)
        or env.action_space(a) != env.action_space(first)
        for a in env.possible_agents
    ):
        # the market: traders and regulator; clip into each slot's own action space
        env = ss.pad_action_space_v0(ss.clip_actions_v0(ss.pad_observations_v0(env)))
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    venv.action_space.seed(0)
    obs, _ = venv.reset(seed=0)
    ended = 0
    for _ in range(12):
        actions = np.stack([venv.action_space.sample() for _ in range(venv.num_envs)])
        obs, rew, term, trunc, infos = venv.step(actions)
        ended += int((term | trunc).all())
        assert obs.shape[0] == len(env.possible_agents) and np.isfinite(rew).all()
    assert ended == 1 and all("alive" in info for info in infos)


# -- the clients ----------------------------------------------------------------------------
def test_supersuit_vec_env_runs_the_economy_with_births_and_deaths():
    import supersuit as ss

    vec = ss.pettingzoo_env_to_vec_env_v1(economy())
    venv = ss.concat_vec_envs_v1(vec, 2, num_cpus=0, base_class="gymnasium")
    venv.action_space.seed(0)
    obs, infos = venv.reset(seed=0)
    assert obs.shape == (48, 23)
    before = np.array([i["alive"] for i in infos])
    births = deaths = ended = 0
    for _ in range(60):
        actions = np.stack([venv.action_space.sample() for _ in range(venv.num_envs)])
        obs, rew, term, trunc, infos = venv.step(actions)
        now = np.array([i["alive"] for i in infos])
        done = (term | trunc).astype(bool).reshape(2, 24).all(axis=1)
        ended += int(done.sum())
        if not done.any():  # an auto-reset step shows the next episode's flags
            births += int((now & ~before).sum())
            deaths += int((before & ~now).sum())
            assert not obs[~now].any() and not rew[~now & ~before].any()
        before = now
    assert ended == 2 and births > 0 and deaths > 0


def test_supersuit_plain_wrappers_keep_every_slot_and_its_alive_flag():
    import supersuit as ss

    env = ss.frame_stack_v1(economy(), 2)
    obs, infos = env.reset(seed=0)
    assert obs["citizen_0"].shape == (46,) and env.observation_space("citizen_0").shape == (46,)
    before, births, deaths = alive(infos), 0, 0
    rng = np.random.default_rng(0)
    while env.agents:
        obs, rew, term, trunc, infos = env.step(random_actions(env, rng))
        assert len(obs) == len(infos) == 24
        now = alive(infos)
        births, deaths, before = births + len(now - before), deaths + len(before - now), now
    assert births > 0 and deaths > 0 and all(trunc.values())


def test_torchrl_rolls_out_the_economy_with_births_and_deaths():
    import torch
    from torchrl.envs import PettingZooWrapper

    torch.manual_seed(0)
    with warnings.catch_warnings():  # "PettingZoo in TorchRL is tested using version 1.24.3"
        warnings.simplefilter("ignore", UserWarning)
        env = PettingZooWrapper(env=economy(), use_mask=True, seed=0)
    rollout = env.rollout(60, break_when_any_done=False)
    assert rollout["citizen", "observation"].shape == (60, 24, 23)
    before = rollout["citizen", "info", "alive"].bool()
    after = rollout["next", "citizen", "info", "alive"].bool()
    births, deaths = int((after & ~before).sum()), int((before & ~after).sum())
    assert births > 0 and deaths > 0
    assert int(rollout["next", "done"].sum()) == 1 and bool(rollout["next", "done"][39])
    assert not rollout["next", "citizen", "observation"][~after].any()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        env = PettingZooWrapper(
            env=discrete_toy(death={0: 1}, unborn=(2,)), use_mask=True, categorical_actions=True
        )
    rollout = env.rollout(8, break_when_any_done=False)
    mask = rollout["next", "watcher", "action_mask"]
    assert mask.shape == (8, 3, 3) and mask[2, 0].tolist() == [True, False, False]
    assert mask[3, 2].tolist() == [True, True, True]  # watcher_2 born at tick 2


# -- the client scripts ---------------------------------------------------------------------
CLIENTS = Path(__file__).resolve().parents[2] / "scripts" / "clients"


def client_script(name: str):
    spec = importlib.util.spec_from_file_location(f"client_{name}", CLIENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary(out: str, prefix: str) -> tuple[int, int, int]:
    """Steps, births and deaths from the script's summary line that starts with ``prefix``."""
    line = next(x for x in out.splitlines() if x.startswith(prefix))
    match = re.match(rf"{prefix} (\d+) steps.*?, (\d+) births, (\d+) deaths, obs shape", line)
    assert match, line
    return tuple(map(int, match.groups()))


def test_the_supersuit_script_prints_births_and_deaths(capsys):
    client_script("run_supersuit").main(["--steps", "30", "--max-steps", "20", "--copies", "1"])
    steps, births, deaths = summary(capsys.readouterr().out, "supersuit:")
    assert steps == 30 and births > 0 and deaths > 0


def test_the_torchrl_script_prints_births_and_deaths(capsys):
    script = client_script("run_torchrl")
    script.main(["--steps", "30", "--max-steps", "20", "--discrete-steps", "3"])
    out = capsys.readouterr().out
    steps, births, deaths = summary(out, "torchrl:")
    assert steps == 30 and births > 0 and deaths > 0
    assert "torchrl discrete (one-hot): 3 steps, action shape (3, 100, 9)" in out
