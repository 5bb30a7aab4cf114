"""The hierarchy runtime: data-flow validation, sub-step order, periods, seeding, worlds."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Clock, Watchers, toy_spec

from heas_envs.core import Layer, LayerSpec, Model, Stream, StreamSpec, data_flow_edges, make_model
from heas_envs.models.market import MarketEnv, market_spec


class Reader(Stream):
    reads = ("clock.tick",)
    writes = ("copy",)

    def reset(self, ctx):
        self.write(ctx, "copy", np.zeros(ctx.n_worlds))

    def step(self, ctx):
        self.write(ctx, "copy", self.read(ctx, "clock.tick").copy())


class Typo(Stream):
    reads = ("clock.tik",)


class ClockTwin(Stream):
    writes = ("tick",)


class Lazy(Stream):
    writes = ("value",)


class Sneaky(Stream):
    writes = ("declared",)

    def reset(self, ctx):
        self.write(ctx, "undeclared", np.zeros(1))


def test_two_writers_of_one_key_are_refused():
    with pytest.raises(ValueError, match="two streams are named 'clock'"):
        make_model(
            [LayerSpec([StreamSpec("clock", Clock)]), LayerSpec([StreamSpec("clock", ClockTwin)])]
        )


def test_a_read_nobody_writes_is_refused_with_the_written_keys():
    with pytest.raises(ValueError, match=r"reads 'clock.tik', which no stream writes.*clock.tick"):
        make_model([LayerSpec([StreamSpec("clock", Clock), StreamSpec("typo", Typo)])])


def test_reset_must_write_every_declared_key():
    model = make_model([LayerSpec([StreamSpec("lazy", Lazy)])])
    with pytest.raises(RuntimeError, match=r"lacks declared keys \['lazy.value'\]"):
        model.reset(seed=0)


def test_an_undeclared_write_is_refused():
    model = make_model([LayerSpec([StreamSpec("sneaky", Sneaky)])])
    with pytest.raises(KeyError, match="does not declare"):
        model.reset(seed=0)


def test_data_flow_edges_are_the_declared_reads():
    streams = [Clock("clock"), Reader("reader")]
    assert data_flow_edges(streams) == [("clock", "reader", "clock.tick")]


def test_a_later_layer_sees_this_ticks_earlier_layer_writes():
    model = make_model(toy_spec())
    model.reset(seed=0)
    for tick in range(4):
        model.advance({"watcher": np.zeros((1, 3, 1))})
        assert model.ctx["watchers.seen"][0, 0] == tick  # written by layer 1 in the same tick


def test_an_earlier_layer_reads_last_ticks_value_of_a_later_layer():
    model = make_model(
        [LayerSpec([StreamSpec("reader", Reader)]), LayerSpec([StreamSpec("clock", Clock)])]
    )
    model.reset(seed=0)
    seen = []
    for _ in range(3):
        model.advance({})
        seen.append(float(model.ctx["reader.copy"][0]))
    assert seen == [-1.0, 0.0, 1.0]


def test_a_slow_layer_runs_on_its_period_only():
    model = Model([Layer([Clock("clock")]), Layer([Reader("reader")], period=3)])
    model.reset(seed=0)
    copies = []
    for _ in range(7):
        model.advance({})
        copies.append(float(model.ctx["reader.copy"][0]))
    assert copies == [0, 0, 0, 3, 3, 3, 6]


def test_same_seed_repeats_and_episodes_differ():
    def episode(model, seed):
        model.reset(seed=seed)
        out = []
        for _ in range(5):
            model.advance({"watcher": np.zeros((1, 3, 1))})
            out.append(float(model.ctx["clock.noise"][0]))
        return out

    a, b = make_model(toy_spec()), make_model(toy_spec())
    first_a, first_b = episode(a, 7), episode(b, 7)
    assert first_a == first_b
    second_a, second_b = episode(a, None), episode(b, None)
    assert second_a == second_b and second_a != first_a
    assert episode(make_model(toy_spec()), 8) != first_a


def test_worlds_are_independent_and_share_the_leading_dimension():
    model = make_model(market_spec(**MarketEnv(n_traders=5).params), n_worlds=4)
    model.reset(seed=1)
    for _ in range(20):
        model.advance({"trader": np.zeros((4, 5, 1)), "regulator": np.zeros((4, 1, 1))})
    prices = model.ctx["price.price"]
    assert prices.shape == (4,) and len(set(prices.tolist())) == 4
    assert model.ctx["traders.position"].shape == (4, 5)


def test_groups_sharing_a_role_must_agree_on_their_agents():
    with pytest.raises(ValueError, match="share role 'watcher'"):
        Model([Layer([Clock("clock"), Watchers("a", 3), Watchers("b", 4)])])


def test_decision_layer_mode_stops_before_every_decision_layer():
    layers = [
        LayerSpec([StreamSpec("clock", Clock)]),
        LayerSpec([StreamSpec("first", Watchers, {"n_agents": 2})]),
        LayerSpec([StreamSpec("second", Watchers, {"n_agents": 2})]),
    ]
    model = make_model(layers, decision="layer")
    model.reset(seed=0)
    acts = {"watcher": np.zeros((1, 2, 1))}
    positions = [(model.ctx.tick, model.cursor)]
    completed = []
    for _ in range(4):
        completed.append(model.advance(acts))
        positions.append((model.ctx.tick, model.cursor))
    assert positions == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1)]
    assert completed == [False, True, False, True]
    assert model.observing_group("watcher").name == "first"
