"""The parallel back ends: a small tournament on a local Ray gives the tables of one process;
every back end asks the store again before each batch (a batch another writer stored meanwhile
is not played again); a Ray already running says which arguments it overrides.

Only the first test starts a real Ray; the others run the pool and Ray back ends on stand-ins
in this process (threads for the pool's workers, ``conftest.InlineRay`` for Ray), which is what
dispatching and the store see either way.
"""

from __future__ import annotations

import sys
import warnings

import pandas as pd
import pytest
from conftest import InlineRay, ThreadPool

import agents.tournament as tournament_module
from agents.participants import Participant
from agents.store import MatchStore
from agents.tournament import Tournament
from heas_envs.scenarios import make_grid

TINY = make_grid(
    "heas_envs/Enterprise-v0", {"n_firms": [2, 3, 4]}, base={"max_steps": 4, "costs": 0.3}
)  # x heuristic and random: 6 batches


def test_ray_gives_the_tables_of_one_process():
    ray = pytest.importorskip("ray")
    scenarios = make_grid("heas_envs/Enterprise-v0", {"n_firms": [2, 6]}, {"max_steps": 10})
    kw = dict(episodes=2, seed=9, collect_period=4)
    inproc = Tournament(scenarios, [Participant.heuristic()], **kw).run()
    on_ray = Tournament(scenarios, [Participant.heuristic()], backend="ray", n_jobs=2, **kw)
    running = ray.is_initialized()  # an earlier test may have started Ray: then it is used
    assert on_ray.play() == 4
    assert ray.is_initialized() == running  # a Ray started for the run is shut down after it
    for name, table in inproc.tables().items():
        pd.testing.assert_frame_equal(table, on_ray.results().tables()[name], obj=name)


@pytest.mark.parametrize("backend", ["inprocess", "process", "ray"])
def test_a_batch_another_writer_stores_meanwhile_is_not_played_again(
    tmp_path, monkeypatch, backend
):
    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", ThreadPool)
    monkeypatch.setitem(sys.modules, "ray", InlineRay(running=False, cpus=1))
    path = tmp_path / "results.sqlite"
    t = Tournament(TINY, [Participant.heuristic()], episodes=2, store=path, backend=backend)
    batches = t.batches()
    assert len(batches) == 6
    play_batch = tournament_module.play_batch
    theirs = {i: play_batch(batches[i]) for i in (1, 5)}  # what the other writer stores
    other = MatchStore(path)
    played_here: list[int] = []

    def play_and_meanwhile(batch):  # the other writer stores batch 1 (being played here) and 5
        i = batches.index(batch)
        played_here.append(i)
        if i == 1:
            for records in theirs.values():
                other.write_batch(t.run_id, records)
        return play_batch(batch)

    monkeypatch.setattr(tournament_module, "play_batch", play_and_meanwhile)
    committed = []
    assert t.play(on_batch=committed.append) == 4  # batch 1 was played in vain: not counted
    assert played_here == [0, 1, 2, 3, 4]  # batch 5 was stored before its turn: skipped
    assert [records[0].scenario for records in committed] == [
        batches[i].scenario.name for i in (0, 2, 3, 4)
    ]
    other.close()
    monkeypatch.setattr(tournament_module, "play_batch", play_batch)
    reference = Tournament(TINY, [Participant.heuristic()], episodes=2).run()
    with MatchStore(path) as store:
        assert store.counts(t.run_id)["matches"] == 6 * 2
        tables = Tournament(TINY, [Participant.heuristic()], episodes=2, store=store)
        for name, table in tables.results().tables().items():
            pd.testing.assert_frame_equal(table, reference.tables()[name], obj=name)


@pytest.mark.parametrize(
    "kwargs, ignored",
    [
        (
            {"n_jobs": 2, "ray_address": "ray://head:10001"},
            ["ray_address='ray://head:10001'", "n_jobs=2 (the running Ray has 4 CPUs)"],
        ),
        ({"n_jobs": 2}, ["n_jobs=2 (the running Ray has 4 CPUs)"]),
        ({"n_jobs": 4}, []),  # what is running
        ({}, []),  # n_jobs not given
    ],
)
def test_a_running_ray_warns_about_the_arguments_it_overrides(monkeypatch, kwargs, ignored):
    ray = InlineRay(running=True, cpus=4)
    monkeypatch.setitem(sys.modules, "ray", ray)
    t = Tournament(TINY[:1], [Participant.heuristic()], episodes=1, backend="ray", **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert t.play() == 2
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if not ignored:
        assert messages == []
    else:
        (message,) = messages
        assert all(item in message for item in ignored) and "ray.shutdown() before" in message
    assert ray.running and ray.inits == []  # the running Ray is used and left running


def test_a_ray_started_for_the_run_takes_n_jobs_cpus_and_is_shut_down(monkeypatch):
    ray = InlineRay(running=False, cpus=1)
    monkeypatch.setitem(sys.modules, "ray", ray)
    t = Tournament(TINY[:1], [Participant.heuristic()], episodes=1, backend="ray", n_jobs=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert t.play() == 2
    assert [i["num_cpus"] for i in ray.inits] == [3] and not ray.running
