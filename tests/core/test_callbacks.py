"""Callbacks: the documented order, once each, on the runtime and the runners; they change no
trajectory and no result; the DataCollector is one."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Clock
from gymnasium import spaces

import heas_envs
from agents.participants import Participant
from agents.rollout import evaluate
from agents.tournament import Tournament
from heas_envs.core.callbacks import Callback, CallbackList, StepHooks, hooked
from heas_envs.core.model import LayerSpec, StreamSpec, make_model
from heas_envs.core.stream import AgentGroup
from heas_envs.data import DataCollector
from heas_envs.env.vector import VectorWorldsEnv
from heas_envs.scenarios import Scenario


class Recorder(Callback):
    """Every hook call, in order, as a tuple."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_episode_start(self, env, worlds):
        self.events.append(("episode_start", tuple(worlds.tolist())))

    def on_episode_end(self, env, worlds):
        self.events.append(("episode_end", tuple(worlds.tolist())))

    def on_step_start(self, env, actions):
        self.events.append(("step_start",))

    def on_step_end(self, env, result):
        self.events.append(("step_end",))

    def on_layer_start(self, model, index, layer, worlds=None):
        self.events.append(("layer_start", index, tuple(worlds.tolist()), id(model)))

    def on_layer_end(self, model, index, layer, worlds=None):
        self.events.append(("layer_end", index, tuple(worlds.tolist()), id(model)))

    def on_policy_start(self, env, role, obs, name):
        self.events.append(("policy_start", role, name, obs.shape[0]))

    def on_policy_end(self, env, role, obs, actions, name):
        self.events.append(("policy_end", role, name, actions.shape[0]))


class Mortal(AgentGroup):
    """Two agents per world, who all die after a lifetime of 1 to 3 ticks drawn per world."""

    role = "mortal"
    reads = ("clock.tick",)
    writes = ("alive", "life")

    def __init__(self, name: str, n_agents: int = 2) -> None:
        super().__init__(name, n_agents)
        self.observation_space = spaces.Box(-1e6, 1e6, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, ctx):
        self.write(ctx, "alive", np.ones((ctx.n_worlds, self.n_agents), dtype=bool))
        self.write(ctx, "life", ctx.rng.integers(1, 4, ctx.n_worlds).astype(float))

    def apply(self, actions, ctx):
        alive = np.broadcast_to((ctx.tick + 1 < ctx[self.key("life")])[:, None], (ctx.n_worlds, 2))
        self.write(ctx, "alive", alive.copy())

    def observe(self, ctx):
        return np.zeros((ctx.n_worlds, self.n_agents, 1), dtype=np.float32)

    def reward(self, ctx):
        return np.zeros((ctx.n_worlds, self.n_agents))

    def alive(self, ctx):
        return ctx[self.key("alive")]

    def heuristic(self, obs):
        return np.zeros((*obs.shape[:-1], 1), dtype=np.float32)


def mortal_env(B: int, autoreset: str, callbacks=None) -> VectorWorldsEnv:
    spec = [
        LayerSpec([StreamSpec("clock", Clock)], period=2),  # a slow layer: even ticks only
        LayerSpec([StreamSpec("mortal", Mortal)]),
    ]
    return VectorWorldsEnv(
        lambda n: make_model(spec, n), B, max_steps=8, autoreset=autoreset, callbacks=callbacks
    )


def split_steps(events: list[tuple]) -> tuple[list[tuple], list[list[tuple]]]:
    """The events before the first step, and each step's events (step_start .. step_end)."""
    first = events.index(("step_start",))
    steps, current = [], None
    for e in events[first:]:
        if e == ("step_start",):
            assert current is None, "a step started inside a step"
            current = [e]
        else:
            current.append(e)
            if e == ("step_end",):
                steps.append(current)
                current = None
    assert current is None
    return events[:first], steps


def layer_blocks(events: list[tuple]) -> list[tuple[int, list[int], tuple]]:
    """Per cohort (one model) in a step: the model, its layer indices (start and end paired,
    checked), and the worlds of its rows."""
    blocks: list[tuple[int, list[int], tuple]] = []
    layers = [e for e in events if e[0].startswith("layer")]
    for start, end in zip(layers[::2], layers[1::2]):
        assert start[0] == "layer_start" and end[0] == "layer_end" and start[1:] == end[1:]
        _, index, worlds, model = start
        if not blocks or blocks[-1][0] != model:
            blocks.append((model, [], worlds))
        blocks[-1][1].append(index)
    assert len(layers) % 2 == 0
    return blocks


def test_one_cohort_reports_episode_steps_and_layers_in_order_once_each():
    rec = Recorder()
    env = mortal_env(3, "next_step", callbacks=[rec])
    for seed in range(50):  # one lifetime for all worlds (the same seed), of 3 ticks
        obs, _ = env.reset(seed=[seed] * 3)
        if env.model.ctx["mortal.life"][0] == 3:
            break
    rec.events.clear()
    obs, _ = env.reset(seed=[seed] * 3)
    for _ in range(3):
        obs = env.step(env.heuristic_actions(obs)).obs
    before, steps = split_steps(rec.events)
    assert before == [("episode_start", (0, 1, 2))]
    model, worlds = id(env.model), (0, 1, 2)
    for t, events in enumerate(steps):
        want = [("step_start",)]
        for i in [0, 1] if t % 2 == 0 else [1]:  # the slow clock runs on even ticks only
            want += [("layer_start", i, worlds, model), ("layer_end", i, worlds, model)]
        want += [("episode_end", worlds)] if t == 2 else []
        assert events == [*want, ("step_end",)]
    assert len(steps) == 3
    # without callbacks the model has no hook, and removing the last one takes it away
    env.remove_callback(rec)
    assert env.callbacks == [] and env.model.callback is None
    with pytest.raises(ValueError, match="not a registered callback"):
        env.remove_callback(rec)
    with pytest.raises(ValueError, match="Callback instances"):
        env.add_callback(print)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_worlds_ending_at_different_steps_are_reported_per_world(mode):
    rec = Recorder()
    env = mortal_env(4, mode)
    env.add_callback(CallbackList([rec]))
    obs, _ = env.reset(seed=[1, 2, 3, 4])
    infos = []
    for _ in range(8):
        out = env.step(env.heuristic_actions(obs))
        infos.append(out.info)
        obs = out.obs
    before, steps = split_steps(rec.events)
    assert before == [("episode_start", (0, 1, 2, 3))]
    open_episodes = {0, 1, 2, 3}
    saw_cohorts = False
    for events, info in zip(steps, infos):
        ended = tuple(np.flatnonzero(info["ended"]).tolist())
        names = [e[0] for e in events if not e[0].startswith("layer")]
        starts = [e[1] for e in events if e[0] == "episode_start"]
        ends = [e[1] for e in events if e[0] == "episode_end"]
        assert ends == ([ended] if ended else [])
        if mode == "next_step":
            reset = tuple(np.flatnonzero(info["autoreset"]).tolist())
            assert starts == ([reset] if reset else [])
            # the resets come before any layer; the ended worlds are reported after the layers
            assert names == ["step_start", *(["episode_start"] if reset else []),
                             *(["episode_end"] if ended else []), "step_end"]  # fmt: skip
            assert events[1][0] == ("episode_start" if reset else "layer_start")
        else:
            reset = ended
            assert starts == ([ended] if ended else [])
            assert names == ["step_start", *(["episode_end", "episode_start"] if ended else []),
                             "step_end"]  # fmt: skip
        assert open_episodes.isdisjoint(reset) if mode == "next_step" else True
        open_episodes |= set(reset)
        assert open_episodes.issuperset(ended)
        open_episodes -= set(ended)
        # every world that steps is in exactly one cohort block; every block's layers in order
        blocks = layer_blocks(events)
        saw_cohorts |= len(blocks) > 1
        stepping = [w for _, _, worlds in blocks for w in worlds if w >= 0]
        waiting = set(np.flatnonzero(info["autoreset"]).tolist()) if mode == "next_step" else set()
        assert sorted(stepping) == sorted(set(range(4)) - waiting)
        for _, indices, _ in blocks:
            assert indices == sorted(indices) and indices[-1] == 1
    assert saw_cohorts  # the case of the test: worlds of one batch in several models


def test_callbacks_change_no_trajectory_and_snapshots_keep_them_registered():
    def play(callbacks):
        env = heas_envs.make_vec(
            "heas_envs/Market-v0", num_worlds=2, n_traders=3, max_steps=4, callbacks=callbacks
        )
        rng = np.random.default_rng(0)
        obs, _ = env.reset(seed=[3, 4])
        outs = []
        for t in range(6):
            if t == 2:
                snap = env.snapshot()
            out = env.step(env.random_actions(rng))
            outs.append(out)
        env.restore(snap)
        again = env.step(env.random_actions(np.random.default_rng(0)))
        return outs, again

    rec = Recorder()
    dc = DataCollector({"price": "price.price"}, {"reward": "reward"})
    plain, with_cb = play(None), play([rec, dc])
    for a, b in zip(plain[0], with_cb[0]):
        for field in ("obs", "rewards", "terminated", "truncated", "alive"):
            for role in getattr(a, field):
                np.testing.assert_array_equal(getattr(a, field)[role], getattr(b, field)[role])
    np.testing.assert_array_equal(plain[1].obs["trader"], with_cb[1].obs["trader"])
    assert rec.events.count(("step_end",)) == 7  # the step after restore reports too
    assert len({e[3] for e in rec.events if e[0] == "layer_start"}) >= 2  # restored: new models


def test_the_data_collector_as_a_callback_collects_what_collect_by_hand_does():
    params = dict(num_worlds=3, n_traders=2, max_steps=3)
    reporters = ({"price": "price.price"}, {"reward": "reward", "alive": "alive"})
    hand, auto = DataCollector(*reporters), DataCollector(*reporters)
    every_other = DataCollector(*reporters, period=2)
    env = heas_envs.make_vec("heas_envs/Market-v0", **params)
    cb_env = heas_envs.make_vec("heas_envs/Market-v0", callbacks=[auto, every_other], **params)
    obs, _ = env.reset(seed=[7, 8, 9])
    hand.collect(env)
    cb_env.reset(seed=[7, 8, 9])
    for _ in range(5):  # through the automatic resets
        actions = env.heuristic_actions(obs)
        out = env.step(actions)
        hand.collect(env, result=out)
        cb_env.step(actions)
        obs = out.obs
    for get in ("get_model_vars_dataframe", "get_agent_vars_dataframe"):
        assert getattr(auto, get)().equals(getattr(hand, get)())
    assert len(every_other.model_rows) == 3 * (1 + 2)  # the reset, steps 2 and 4
    with pytest.raises(ValueError, match="period"):
        DataCollector(period=0)


def test_runners_report_policy_calls_and_their_own_episodes_and_refuse_other_processes():
    scenario = Scenario(
        "m", "heas_envs/Market-v0", {"n_traders": 3, "max_steps": 3}, focal={"role": "trader"}
    )
    players = [Participant.heuristic()]
    rec = Recorder()
    plain, played = (
        Tournament([scenario], players, episodes=2, seed=1, callbacks=cbs) for cbs in (None, rec)
    )
    assert plain.play() == played.play() == 2
    assert played.store.matches(played.run_id) == plain.store.matches(plain.run_id)
    # two batches (heuristic, then the random baseline), each: its episodes, then per step the
    # participant's call, the env's step, and the episodes' end at the last step
    batches = []
    for e in rec.events:
        if e[0] == "episode_start":
            batches.append([])
        batches[-1].append(e)
    assert [b[0] for b in batches] == [("episode_start", (0, 1))] * 2
    for batch, name in zip(batches, ["heuristic", "random"]):
        calls = [e for e in batch if e[0].startswith("policy")]
        assert calls == [("policy_start", "trader", name, 2), ("policy_end", "trader", name, 2)] * 3
        outer = [e[0] for e in batch[1:] if not e[0].startswith("layer")]
        step = ["policy_start", "policy_end", "step_start", "step_end"]
        assert outer == step * 3 + ["episode_end"]
        assert batch[-1] == ("episode_end", (0, 1))
    with pytest.raises(ValueError, match="calling process only"):
        Tournament([scenario], players, episodes=2, backend="process", callbacks=[rec])
    # play_episodes (evaluation, evolution): the policy's calls and each world's one episode
    rec = Recorder()
    seeds = [1, 2]
    got = evaluate("heas_envs/Market-v0", "trader", "heuristic", seeds, callbacks=[rec],
                   env_params={"n_traders": 2, "max_steps": 2})  # fmt: skip
    want = evaluate("heas_envs/Market-v0", "trader", "heuristic", seeds,
                    env_params={"n_traders": 2, "max_steps": 2})  # fmt: skip
    np.testing.assert_array_equal(got.returns, want.returns)
    outer = [e[0] for e in rec.events if not e[0].startswith("layer")]
    assert outer == ["episode_start", *["policy_start", "policy_end", "step_start", "step_end"] * 2,
                     "episode_end"]  # fmt: skip


def test_the_pettingzoo_env_reports_through_its_world():
    from conftest import toy_env

    rec = Recorder()
    env = toy_env(max_steps=2)
    env.add_callback(rec)
    assert env.callbacks == [rec]
    env.reset(seed=0)
    while env.agents:
        env.step({a: env.action_space(a).sample() * 0 for a in env.agents})
    outer = [e for e in rec.events if not e[0].startswith("layer")]
    step = [("step_start",), ("step_end",)]
    assert outer == [("episode_start", (0,)), *step, ("step_start",), ("episode_end", (0,)),
                     ("step_end",)]  # fmt: skip
    assert [e[1] for e in rec.events if e[0] == "layer_start"] == [0, 1, 0, 1]
    env.remove_callback(rec)
    heard = len(rec.events)
    env.reset(seed=0)
    assert len(rec.events) == heard and env.callbacks == []  # removed: hears nothing


def test_a_data_collector_callback_refuses_same_step_autoreset_at_the_first_episode_end():
    dc = DataCollector({"price": "price.price"})
    env = heas_envs.make_vec(
        "heas_envs/Market-v0", num_worlds=2, n_traders=2, max_steps=2, autoreset="same_step"
    )
    env.add_callback(dc)
    obs, _ = env.reset(seed=[0, 1])
    obs = env.step(env.heuristic_actions(obs)).obs  # no episode has ended: collected
    with pytest.raises(NotImplementedError, match='autoreset="next_step"'):
        env.step(env.heuristic_actions(obs))  # both end here and are reset at once


def test_a_callback_registered_twice_is_refused_and_a_runner_registers_its_step_hooks_once():
    rec = Recorder()
    with pytest.raises(ValueError, match=r"Recorder \(.*\) is registered already"):
        CallbackList([rec, rec])
    with pytest.raises(ValueError, match="registered already"):
        CallbackList([rec]).append(CallbackList([rec]))  # in a list inside the list
    with pytest.raises(ValueError, match="registered already"):
        mortal_env(2, "next_step", callbacks=[rec, rec])
    env = mortal_env(2, "next_step", callbacks=[rec])
    for again in (rec, CallbackList([rec]), StepHooks(CallbackList([rec]))):
        with pytest.raises(ValueError, match="registered already"):
            env.add_callback(again)
    with pytest.raises(ValueError, match="registered already"), hooked(env, [rec]):
        pass  # a runner given a callback the env holds already
    assert env.callbacks == [rec]  # the refusals registered nothing
    obs, _ = env.reset(seed=[1, 2])
    env.step(env.heuristic_actions(obs))
    assert rec.events.count(("episode_start", (0, 1))) == rec.events.count(("step_end",)) == 1
    # a runner's callbacks: their step and layer hooks (StepHooks wrapping the list) for the
    # block only, the episode hooks left to the runner
    env.remove_callback(rec)
    rec.events.clear()
    with hooked(env, [rec]) as hooks:
        assert isinstance(hooks, CallbackList) and list(hooks) == [rec]
        assert [type(cb) for cb in env.callbacks] == [StepHooks]
        obs, _ = env.reset(seed=[1, 2])
        env.step(env.heuristic_actions(obs))
    outer = [e[0] for e in rec.events if not e[0].startswith("layer")]
    assert outer == ["step_start", "step_end"] and len(rec.events) > 2
    assert env.callbacks == [] and env.model.callback is None
    with hooked(env, None) as hooks:  # no callbacks: nothing registered
        assert hooks is None and env.callbacks == []
