"""The results store of tournaments: one SQLite file that survives a crash.

Three tables hold everything a tournament produced:

- ``runs``: one row per tournament configuration: ``run_id`` (a digest of the configuration's
  canonical JSON, so the same tournament always has the same id), the configuration JSON, the
  package version (``heas_envs.__version__``) and the UTC time the run was first registered;
- ``matches``: one row per played episode, keyed ``UNIQUE (run_id, scenario, participants,
  seed)`` (``participants``: the JSON list of the names that played, one name in focal mode),
  with the episode index and the episode's results as JSON (returns, seats, steps, metrics);
- ``steps``: the collected per-step metrics (``collect_period > 0``), keyed
  ``UNIQUE (run_id, scenario, participants, seed, step)``.

**Crash safety.** The file is in WAL mode with ``synchronous=FULL``, so a committed
transaction survives the process being killed (SIGKILL) at any moment, and an uncommitted one
leaves no trace. :meth:`MatchStore.write_batch` writes a whole batch of episodes (every episode
of one ``(scenario, participant)`` in focal mode, of one scenario in head-to-head mode) and its
steps in one ``BEGIN IMMEDIATE`` transaction with ``INSERT OR IGNORE``: a batch is stored whole
or not at all, and writing it again (a resumed run, or another process running the same
tournament into the same file) adds nothing. ``busy_timeout`` makes concurrent writers wait
for each other's transactions instead of failing.

Rows come back sorted by their key, never in insertion order, so tables rebuilt from the store
do not depend on which batch finished first.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 120.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    version TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS matches (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    scenario TEXT NOT NULL,
    participants TEXT NOT NULL,
    seed INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    result TEXT NOT NULL,
    UNIQUE (run_id, scenario, participants, seed)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    scenario TEXT NOT NULL,
    participants TEXT NOT NULL,
    seed INTEGER NOT NULL,
    step INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    UNIQUE (run_id, scenario, participants, seed, step)
);
"""


@dataclass(frozen=True)
class MatchRecord:
    """One played episode, as the store holds it.

    Attributes:
        scenario: The scenario's name.
        participants: The names of who played (one in focal mode; every participant of the
            shared world in head-to-head mode).
        seed: The episode's seed (the key with the run, scenario and participants).
        episode: The episode's index in the tournament.
        result: JSON-ready results: ``returns`` by participant, ``seats`` by participant,
            ``steps`` (the episode's length) and ``metrics`` (end-of-episode metrics).
        steps: The collected steps, ``(step, {metric: value})`` in step order.
    """

    scenario: str
    participants: tuple[str, ...]
    seed: int
    episode: int
    result: dict[str, Any]
    steps: tuple[tuple[int, dict[str, float]], ...] = field(default=())


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, NaN refused (one text per value)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_id_of(config: Mapping[str, Any]) -> str:
    """The run id of a configuration: the first 16 hex digits of the SHA-256 of its
    :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


class MatchStore:
    """A tournament results store in one SQLite file (see the module docs).

    Only one process should play and write a run at a time for efficiency, but any number may
    write into one file safely: duplicates are ignored and transactions are serialised.

    Example:
        >>> with MatchStore("results.sqlite") as store:
        ...     run_id = store.register_run({"episodes": 2})
        ...     store.counts(run_id)
        {'matches': 0, 'steps': 0}

    Args:
        path: The file (created with its tables if missing), or ``":memory:"`` for a store
            that lives as long as the object (nothing survives a crash then).
        timeout: Seconds to wait for another writer's lock (SQLite's ``busy_timeout``).

    Raises:
        sqlite3.DatabaseError: The file is not an SQLite database.
    """

    def __init__(self, path: str | Path = ":memory:", timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write opens its own.
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._retry(lambda: self._conn.execute("PRAGMA journal_mode = WAL"), timeout)
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._retry(self._create_tables, timeout)

    def _create_tables(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)

    @staticmethod
    def _retry(action: Any, timeout: float) -> None:
        """Run ``action``, retrying while another process holds a lock that SQLite's busy
        handler does not wait for (changing the journal mode, creating the tables)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                action()
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _transaction(self) -> Any:
        return _Transaction(self._conn)

    # -- runs -----------------------------------------------------------------------------------
    def register_run(self, config: Mapping[str, Any]) -> str:
        """Record ``config`` (once: registering it again keeps the first row) and return its
        run id (:func:`run_id_of`).

        Raises:
            ValueError: The configuration is not JSON-ready.
        """
        import heas_envs

        try:
            text = canonical_json(config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"a run configuration must be JSON-ready: {err}") from None
        run_id = run_id_of(config)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, config, version, created) VALUES (?, ?, ?, ?)",
                (run_id, text, heas_envs.__version__, created),
            )
        return run_id

    def runs(self) -> list[dict[str, Any]]:
        """Every run: ``run_id``, ``config`` (parsed), ``version``, ``created``; by creation."""
        rows = self._conn.execute(
            "SELECT run_id, config, version, created FROM runs ORDER BY created, run_id"
        ).fetchall()
        return [
            {"run_id": r, "config": json.loads(c), "version": v, "created": t}
            for r, c, v, t in rows
        ]

    def run_config(self, run_id: str) -> dict[str, Any]:
        """The configuration of ``run_id``.

        Raises:
            KeyError: An unknown run id.
        """
        row = self._conn.execute("SELECT config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        return json.loads(row[0])

    # -- matches --------------------------------------------------------------------------------
    def write_batch(self, run_id: str, records: Sequence[MatchRecord]) -> int:
        """Store ``records`` and their steps in one transaction; return how many match rows
        were new (rows already stored are left as they are).

        Raises:
            ValueError: A result that is not JSON-ready (a NaN, say); nothing is written.
        """
        match_rows = []
        step_rows = []
        for rec in records:
            who = canonical_json(list(rec.participants))
            match_rows.append(
                (run_id, rec.scenario, who, int(rec.seed), int(rec.episode), _dump(rec.result))
            )
            step_rows.extend(
                (run_id, rec.scenario, who, int(rec.seed), int(t), _dump(m)) for t, m in rec.steps
            )
        with self._transaction():
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT OR IGNORE INTO matches (run_id, scenario, participants, seed, episode, "
                "result) VALUES (?, ?, ?, ?, ?, ?)",
                match_rows,
            )
            new = self._conn.total_changes - before
            self._conn.executemany(
                "INSERT OR IGNORE INTO steps (run_id, scenario, participants, seed, step, "
                "metrics) VALUES (?, ?, ?, ?, ?, ?)",
                step_rows,
            )
        return new

    def stored_keys(self, run_id: str) -> set[tuple[str, tuple[str, ...], int]]:
        """The ``(scenario, participants, seed)`` of every stored match of ``run_id``."""
        rows = self._conn.execute(
            "SELECT scenario, participants, seed FROM matches WHERE run_id = ?", (run_id,)
        ).fetchall()
        return {(s, tuple(json.loads(p)), int(seed)) for s, p, seed in rows}

    def has_all(
        self, run_id: str, scenario: str, participants: Sequence[str], seeds: Iterable[int]
    ) -> bool:
        """Whether every match of ``seeds`` of ``(scenario, participants)`` is stored."""
        seeds = {int(s) for s in seeds}
        rows = self._conn.execute(
            "SELECT seed FROM matches WHERE run_id = ? AND scenario = ? AND participants = ?",
            (run_id, scenario, canonical_json(list(participants))),
        ).fetchall()
        return seeds <= {int(r[0]) for r in rows}

    def matches(self, run_id: str) -> list[MatchRecord]:
        """The stored matches of ``run_id`` with their steps, sorted by (scenario,
        participants, episode, seed)."""
        steps: dict[tuple[str, str, int], list[tuple[int, dict[str, float]]]] = {}
        for s, p, seed, t, m in self._conn.execute(
            "SELECT scenario, participants, seed, step, metrics FROM steps WHERE run_id = ? "
            "ORDER BY scenario, participants, seed, step",
            (run_id,),
        ):
            steps.setdefault((s, p, int(seed)), []).append((int(t), json.loads(m)))
        out = []
        for s, p, seed, e, r in self._conn.execute(
            "SELECT scenario, participants, seed, episode, result FROM matches WHERE run_id = ? "
            "ORDER BY scenario, participants, episode, seed",
            (run_id,),
        ):
            out.append(
                MatchRecord(
                    s,
                    tuple(json.loads(p)),
                    int(seed),
                    int(e),
                    json.loads(r),
                    tuple(steps.get((s, p, int(seed)), ())),
                )
            )
        return out

    def counts(self, run_id: str | None = None) -> dict[str, int]:
        """Rows in ``matches`` and ``steps`` (of ``run_id``, or of every run)."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        out = {}
        for table in ("matches", "steps"):
            row = self._conn.execute(f"SELECT COUNT(*) FROM {table} {where}", args).fetchone()
            out[table] = int(row[0])
        return out

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        return "; ".join(r[0] for r in self._conn.execute("PRAGMA integrity_check").fetchall())

    # -- life cycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (committed data is on disk already)."""
        self._conn.close()

    def __enter__(self) -> MatchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MatchStore({self.path!r})"


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception): the write lock is
    taken at the start, so two writers never deadlock upgrading read locks."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type | None, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _dump(value: Any) -> str:
    try:
        return canonical_json(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"a match result must be JSON-ready (finite numbers): {err}") from None
