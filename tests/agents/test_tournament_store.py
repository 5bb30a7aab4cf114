"""The results store: SIGKILL at any moment then resume equals an uninterrupted run; two
processes writing one file at once corrupt nothing and duplicate nothing.

The killed and concurrent runs are this file run as a script (see ``_child`` at the bottom).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agents.participants import Participant
from agents.store import MatchRecord, MatchStore, run_id_of
from agents.tournament import Tournament
from heas_envs.scenarios import make_grid

BATCHES = 8  # 4 scenarios x 2 participants
EPISODES = 3
STEPS = 20  # ticks per episode
PERIOD = 5  # collected every 5 ticks: 4 step rows per episode


def tournament(store: MatchStore | str | Path | None = None, seed: int = 0) -> Tournament:
    """The tournament every process of these tests plays."""
    scenarios = make_grid(
        "heas_envs/Enterprise-v0", {"n_firms": [2, 6], "costs": [0.3, 0.5]}, {"max_steps": STEPS}
    )
    return Tournament(
        scenarios, [Participant.heuristic()], EPISODES, seed, collect_period=PERIOD, store=store
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    """The tables of an uninterrupted run."""
    return tournament().run().tables()


def child(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def assert_complete_and_equal(path: Path, reference: dict[str, pd.DataFrame]) -> None:
    with MatchStore(path) as store:
        (run,) = store.runs()
        assert store.integrity_check() == "ok"
        assert store.counts(run["run_id"]) == {
            "matches": BATCHES * EPISODES,
            "steps": BATCHES * EPISODES * STEPS // PERIOD,
        }
        played = []
        results = tournament(store).run(on_batch=played.append)  # resuming a finished run
        assert played == []
    for name, table in results.tables().items():
        pd.testing.assert_frame_equal(table, reference[name], obj=name)


@pytest.mark.parametrize(
    "moment, batches_stored",
    [
        ("after-commit:2", 2),  # between batches: right after the 2nd commit
        ("in-commit:4", 3),  # inside the 4th transaction, rows inserted, COMMIT not run
        ("in-episode:110", 5),  # at the 110th env step: inside the 6th batch's episodes
    ],
)
def test_a_run_killed_at_any_moment_resumes_to_the_uninterrupted_tables(
    tmp_path, reference, moment, batches_stored
):
    path = tmp_path / "results.sqlite"
    proc = child(str(path), moment)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    with MatchStore(path) as store:
        (run,) = store.runs()
        assert store.counts(run["run_id"]) == {
            "matches": batches_stored * EPISODES,
            "steps": batches_stored * EPISODES * STEPS // PERIOD,
        }
        played: list[list[MatchRecord]] = []
        tournament(store).run(on_batch=played.append)  # resume
        assert len(played) == BATCHES - batches_stored
    assert_complete_and_equal(path, reference)


def test_two_processes_writing_one_store_at_once(tmp_path, reference):
    path = tmp_path / "results.sqlite"
    args = [
        (str(path), f"plain:{seed}", str(tmp_path / f"ready{i}"))
        for i, seed in enumerate([0, 0, 1])
    ]
    procs = [child(*a) for a in args]
    while not all(Path(a[2]).exists() for a in args):  # every child imported and waiting
        time.sleep(0.02)
    (tmp_path / "go").touch()  # ... then all write at once
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    with MatchStore(path) as store:
        assert store.integrity_check() == "ok"
        runs = {r["config"]["seed"]: r["run_id"] for r in store.runs()}
        assert sorted(runs) == [0, 1]
        full = {"matches": BATCHES * EPISODES, "steps": BATCHES * EPISODES * STEPS // PERIOD}
        assert store.counts(runs[0]) == store.counts(runs[1]) == full
        tables = tournament(store, seed=0).results().tables()
    for name, table in tables.items():
        pd.testing.assert_frame_equal(table, reference[name], obj=name)
    con = sqlite3.connect(path)
    distinct = (
        "SELECT COUNT(*) FROM (SELECT DISTINCT run_id, scenario, participants, seed FROM matches)"
    )
    assert con.execute(distinct).fetchone()[0] == 2 * BATCHES * EPISODES
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_a_fresh_start_refuses_a_store_holding_the_run(tmp_path):
    path = tmp_path / "results.sqlite"
    tournament(path).run()
    with pytest.raises(ValueError, match="holds 24 matches of this run"):
        tournament(path).run(resume=False)


def test_writing_a_batch_again_adds_nothing_and_rows_come_back_sorted(tmp_path):
    with MatchStore(tmp_path / "s.sqlite") as store:
        run_id = store.register_run({"b": 1, "a": [2.5]})
        assert run_id == run_id_of({"a": [2.5], "b": 1}) == store.register_run({"a": [2.5], "b": 1})
        result = {"returns": {"p": 1.5}, "seats": {"p": [0]}, "steps": 3, "metrics": {"m": None}}
        steps = ((1, {"x": 0.25}),)
        records = [
            MatchRecord("s", ("p",), seed, e, result, steps) for e, seed in [(1, 99), (0, 7)]
        ]
        assert store.write_batch(run_id, records) == 2
        assert store.write_batch(run_id, records) == 0
        assert [r.episode for r in store.matches(run_id)] == [0, 1]
        assert store.matches(run_id)[0].steps == ((1, {"x": 0.25}),)
        assert store.counts(run_id) == {"matches": 2, "steps": 2}
        with pytest.raises(ValueError, match="JSON-ready"):
            store.write_batch(run_id, [MatchRecord("s", ("p",), 5, 2, {"r": float("nan")})])
        assert store.counts(run_id)["matches"] == 2  # the refused batch wrote nothing
        assert json.loads(json.dumps(store.runs()[0]["config"])) == {"a": [2.5], "b": 1}


# -- the child processes ------------------------------------------------------------------------
class _KillAtCommit:
    """A connection that kills the process at the ``k``-th batch's COMMIT (rows inserted)."""

    def __init__(self, conn: sqlite3.Connection, k: int) -> None:
        self.conn, self.k, self.batches = conn, k, 0

    def executemany(self, sql: str, rows: object) -> object:
        self.batches += sql.startswith("INSERT OR IGNORE INTO matches")
        return self.conn.executemany(sql, rows)

    def execute(self, sql: str, *args: object) -> object:
        if sql == "COMMIT" and self.batches == self.k:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


def _child(path: str, moment: str, ready: str = "") -> None:
    kind, _, number = moment.partition(":")
    k = int(number)
    store = MatchStore(path)
    if ready:  # a barrier: say ready, wait for the go
        Path(ready).touch()
        while not (Path(ready).parent / "go").exists():
            time.sleep(0.005)
    on_batch = None
    if kind == "after-commit":
        done: list[int] = []

        def on_batch(records: list[MatchRecord]) -> None:
            done.append(1)
            if len(done) == k:
                os.kill(os.getpid(), signal.SIGKILL)

    elif kind == "in-commit":
        store._conn = _KillAtCommit(store._conn, k)  # type: ignore[assignment]
    elif kind == "in-episode":
        from heas_envs.env.vector import VectorWorldsEnv

        step, count = VectorWorldsEnv.step, [0]

        def counting_step(self, actions):  # type: ignore[no-untyped-def]
            count[0] += 1
            if count[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
            return step(self, actions)

        VectorWorldsEnv.step = counting_step  # type: ignore[method-assign]
    tournament(store, seed=k if kind == "plain" else 0).play(on_batch=on_batch)


if __name__ == "__main__":
    _child(*sys.argv[1:])
