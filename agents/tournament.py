"""Tournaments: scenarios x participants x episodes, scored, voted on, rated, stored.

:class:`Tournament` plays every participant (:mod:`agents.participants`) on every scenario
(:class:`~heas_envs.scenarios.Scenario`) for ``episodes`` episodes and keeps what happened in
a :class:`~agents.store.MatchStore`; :meth:`Tournament.run` returns the tables
(:class:`TournamentResults`).

**Common random numbers.** Episode ``e`` of scenario ``s`` is seeded
:func:`episode_seed` ``(seed, s.name, e)`` for every participant, so participants are compared
on the same worlds: two participants playing the same policy get identical returns.

**Modes.**

- ``"focal"``: each participant plays the scenario's focal agents (``scenario.focal``: every
  slot of its role, or the given slots) against the scenario's background, which drives every
  other agent exactly as :meth:`Scenario.make_focal_env` does (one policy per role drawn from
  the scenario's pool per episode, from the generator ``BackgroundPopulation`` would use, so a
  batched episode is the episode ``make_focal_env()`` plays from the same seed).
- ``"head_to_head"``: every participant plays in one shared world; the focal slots are seats,
  rotated across episodes (in episode ``e`` seat ``j`` goes to participant
  ``(e + j) mod k``), so each participant's return is the mean over its seats. Needs two or
  more participants and at least as many focal slots as participants in every scenario.

**Matches, batches and the store.** A *match* is one episode of one scenario played by one
participant (focal) or by all (head-to-head): one row of the store's ``matches`` table, keyed
``(run, scenario, participants, episode seed)``. The unit of work is a *batch*: every episode
of one ``(scenario, participant)`` in focal mode, of one scenario in head-to-head mode, played
as one vector env with one world per episode (:meth:`Scenario.make_vec`), so a participant's
policy is called once per step for all its episodes. A batch's matches are committed in one
transaction: after a crash a batch is either wholly stored or not at all, and ``run(resume=
True)`` plays only the batches not stored. Tables are always rebuilt from the store and sorted
(scenario order, participant order, episode), so a run killed and resumed any number of times
ends with the same tables as an uninterrupted one.

**Back ends.** ``"inprocess"`` (default), ``"process"`` (``n_jobs`` workers of a
``ProcessPoolExecutor`` started with ``"spawn"``) and ``"ray"`` (``ray.init(num_cpus=n_jobs)``
on this machine or ``ray.init(address=ray_address)``; a Ray already running in this process
is used as it is, with a warning when ``ray_address`` or ``n_jobs`` asked for another); a task
is one batch (well over the ~100 ms a Ray task needs to pay off). Workers compute; only the
calling process writes to the store. Batches are dispatched one at a time as workers free up
(one per worker plus one queued), and the store is asked again just before each is dispatched,
so a batch that another process running the same tournament into the same store finished
meanwhile is skipped, not played again. Every batch is played the same way wherever it runs,
so the tables are the same on every back end. As always with ``"spawn"``, a script using the
process pool must start it under ``if __name__ == "__main__":``; pool workers end when the
calling process dies, and so do the processes of a Ray started here.

**Callbacks.** ``Tournament(..., callbacks=[...])`` (:mod:`heas_envs.core.callbacks`) hears
of every batch's episodes (one per world: ``on_episode_start`` for all after the reset,
``on_episode_end`` as each ends; the env's automatic resets of worlds that finished early are
not reported), of every participant call (``on_policy_start`` / ``on_policy_end`` with the
participant's name; background policies are not reported) and of the env's steps and layers.
The runner hooks get the env the batch steps (``Scenario.make_vec``: maybe a wrapper), the step
and layer hooks the :class:`~heas_envs.env.VectorWorldsEnv` under it. Callbacks observe and
change no result. They run in the calling process only, so the ``"process"`` and ``"ray"``
back ends refuse them. A callback given twice is refused (it would run twice per hook).
The per-step collection (``collect_period``) is a callback too, :class:`StepMetrics`,
registered by :func:`play_batch` after the user's through the same plumbing
(:func:`~heas_envs.core.callbacks.hooked`), in every back end; with ``collect_period=0`` and
no callbacks nothing is registered. The end-of-episode metrics are read by the runner itself
as each episode ends (they are part of every record, and a callback for them would register
layer hooks on every batch's worlds).

**Tables.** :class:`TournamentResults` holds ``episodes`` (one row per participant and
episode: scenario, participant, episode, seed, return, steps, end-of-episode metrics),
``steps`` (every ``collect_period``-th step's metrics), ``scores`` (raw mean per scenario with
a bootstrap interval, and the Melting Pot style normalised score), ``votes`` (each (scenario,
episode) ranks the participants by return), ``rankings`` (plurality, Borda, Copeland and the
Condorcet winner over the votes, with ``pref_voting``), ``ratings`` (OpenSkill Plackett-Luce
over the same games) and ``intervals`` (bootstrap intervals of each participant's mean and
interquartile mean of normalised scores).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.participants import Participant
from agents.store import MatchRecord, MatchStore
from heas_envs.core.callbacks import Callback, CallbackList, as_callbacks, call_policy, hooked
from heas_envs.core.params import MAX_SEED
from heas_envs.data.backends import BACKENDS, run_tasks
from heas_envs.scenarios import Scenario
from heas_envs.scenarios.policies import make_policy, resolve_pool
from heas_envs.scenarios.wrappers.base import seeded_generator

if TYPE_CHECKING:
    import pandas as pd

MODES = ("focal", "head_to_head")
#: The voting rules of :func:`voting_rankings`, in table order.
RULES = ("plurality", "borda", "copeland", "condorcet")
#: Bootstrap resamples of the intervals.
N_RESAMPLES = 2000
#: The most participants one vote may tie (ties are expanded into their strict orders).
MAX_TIED = 8


def episode_seed(seed: int, scenario: str, episode: int) -> int:
    """The seed of episode ``episode`` of the scenario named ``scenario`` in a tournament
    seeded ``seed``: ``np.random.SeedSequence`` over ``seed``, the first 128 bits of the
    SHA-256 of the name and the episode index, as an integer in ``[0, 2**63)``."""
    words = np.frombuffer(hashlib.sha256(scenario.encode()).digest()[:16], dtype="<u4")
    state = np.random.SeedSequence([int(seed), *words.tolist(), int(episode)]).generate_state(
        2, np.uint32
    )
    return int((int(state[0]) << 31) ^ int(state[1]))


# -- batches --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Batch:
    """One unit of work: the episodes of one scenario played by ``participants`` (one in focal
    mode, all of them in head-to-head mode), one world per episode.

    Attributes:
        scenario: The scenario.
        participants: Who plays the focal slots.
        episodes: The episode indices.
        seeds: Their seeds (:func:`episode_seed`).
        collect_period: Keep every ``collect_period``-th step's metrics (0: none).
    """

    scenario: Scenario
    participants: tuple[Participant, ...]
    episodes: tuple[int, ...]
    seeds: tuple[int, ...]
    collect_period: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        """The participants' names (the store's ``participants`` key)."""
        return tuple(p.name for p in self.participants)


class _Background:
    """What drives the agents no participant plays: per role and world, the policy that
    ``BackgroundPopulation`` in :meth:`Scenario.make_focal_env` would draw for that episode,
    from the same generator (so random draws match too)."""

    def __init__(self, venv: Any, scenario: Scenario, seeds: Sequence[int]) -> None:
        focal = scenario.focal
        assert focal is not None
        members = resolve_pool(scenario.background)
        p = np.full(len(members), 1.0 / len(members))
        self.venv = venv
        self.parts: list[tuple[str, np.ndarray, np.ndarray, list[Any]]] = []
        for role in venv.roles:
            n = venv.groups[role].n_agents
            if role == focal.role:
                mine = set(range(n) if focal.slots is None else focal.slots)
                slots = [i for i in range(n) if i not in mine]
                if not slots:
                    continue
            else:
                slots = list(range(n))
            salt = f"BackgroundPopulation:{role}:{slots}"
            heuristic = np.zeros(len(seeds), dtype=bool)
            policies: list[Any] = []
            for b, s in enumerate(seeds):
                rng = seeded_generator(int(s), salt)
                name = members[int(rng.choice(len(members), 1, p=p)[0])]
                heuristic[b] = name == "heuristic"
                policies.append(None if heuristic[b] else make_policy(name, venv, role, rng))
            self.parts.append((role, np.array(slots), heuristic, policies))

    def actions(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{role: [B, n_agents, *act]}`` float64, the background's rows filled (others 0)."""
        out: dict[str, np.ndarray] = {}
        venv = self.venv
        for role, slots, heuristic, policies in self.parts:
            n = venv.groups[role].n_agents
            rows = np.zeros((len(policies), n, *venv.action_shapes[role]))
            if heuristic.any():
                chosen = np.asarray(venv.heuristic_actions({role: obs[role]})[role])
                rows[np.ix_(heuristic, slots)] = chosen[np.ix_(heuristic, slots)]
            for b in np.flatnonzero(~heuristic).tolist():
                rows[b, slots] = np.asarray(policies[b](obs[role][b : b + 1]))[0][slots]
            out[role] = rows
        return out


def play_batch(
    batch: Batch, callbacks: Callback | Sequence[Callback] | None = None
) -> list[MatchRecord]:
    """Play every episode of ``batch`` at once; one :class:`~agents.store.MatchRecord` per
    episode (in the batch's order).

    A participant's return in an episode is the summed reward of its seats' agents, averaged
    over those that lived (as :func:`agents.rollout.play_episodes`).

    Args:
        batch: The batch.
        callbacks: Hooks told of the episodes, participant calls, steps and layers (see the
            module docs); they change nothing in the records. With ``batch.collect_period``,
            a :class:`StepMetrics` after them records the records' ``steps``.

    Raises:
        ValueError: A scenario with a wrapper that has no batched version, a participant
            whose actions do not have the shape ``[B, n_agents, *act]``, or a callback given
            twice.
    """
    scenario = batch.scenario
    seeds = [int(s) for s in batch.seeds]
    B = len(seeds)
    try:
        venv = scenario.make_vec(B)
    except NotImplementedError as err:
        raise ValueError(
            f"scenario {scenario.name!r} cannot be played as batched worlds: {err}"
        ) from None
    period = int(batch.collect_period)
    collector = StepMetrics(period, B) if period else None
    runner = as_callbacks(callbacks) + ([collector] if collector is not None else [])
    with hooked(venv, runner) as hooks:
        return _play_batch(batch, venv, hooks, None if collector is None else collector.rows)


class StepMetrics(Callback):
    """The tournament's per-step collection (``collect_period``) as a runner callback: every
    ``period``-th step, the env's per-step metrics (``env.metrics()``, non-finite values as
    ``None``) of each world whose episode the runner still counts.

    Given to a runner (:func:`play_batch` registers one, after the user's callbacks, when
    ``collect_period > 0``): the runner's ``on_episode_start`` starts the count (all its
    worlds live, step 0), each ``on_step_end`` counts a step, and the runner's
    ``on_episode_end`` (after the step's ``on_step_end``) retires its worlds, so a world's
    last recorded step may be its episode's last.

    Args:
        period: Record every ``period``-th step (a positive integer).
        num_worlds: The worlds of the batch.

    Attributes:
        rows: Per world, ``(step, {metric: value})`` for each recorded step, in order.
    """

    def __init__(self, period: int, num_worlds: int) -> None:
        self.period = _check_int("period", period, 1, 10**9)
        self.rows: list[list[tuple[int, dict[str, float | None]]]] = [[] for _ in range(num_worlds)]
        self._live = np.zeros(num_worlds, dtype=bool)
        self._t = 0

    def on_episode_start(self, env: Any, worlds: np.ndarray) -> None:
        """The runner's episodes of ``worlds`` started: they are live, the count restarts."""
        self._live[worlds] = True
        self._t = 0

    def on_step_end(self, env: Any, result: Any) -> None:
        """Count the step; on every ``period``-th, record the live worlds' metrics."""
        self._t += 1
        if self._t % self.period:
            return
        now = env.metrics()
        for b in np.flatnonzero(self._live).tolist():
            self.rows[b].append((self._t, {key: _finite(v[b]) for key, v in now.items()}))

    def on_episode_end(self, env: Any, worlds: np.ndarray) -> None:
        """The runner's episodes of ``worlds`` ended: record them no more."""
        self._live[worlds] = False


def _play_batch(
    batch: Batch,
    venv: Any,
    hooks: CallbackList | None,
    collected: list[list[tuple[int, dict[str, float | None]]]] | None,
) -> list[MatchRecord]:
    scenario = batch.scenario
    seeds = [int(s) for s in batch.seeds]
    B = len(seeds)
    focal = scenario.focal
    assert focal is not None
    role = focal.role
    n = venv.groups[role].n_agents
    slots = np.array(range(n) if focal.slots is None else focal.slots)
    k = len(batch.participants)
    # head-to-head: seat j of episode e to participant (e + j) mod k (focal mode: k = 1)
    seats = (np.array(batch.episodes)[:, None] + np.arange(len(slots))[None, :]) % k
    shape = (B, n, *venv.action_shapes[role])
    obs, info = venv.reset(seed=seeds)
    if hooks is not None:
        hooks.on_episode_start(venv, np.arange(B))
    acts = [p.bind(venv, role, seeds) for p in batch.participants]
    background = _Background(venv, scenario, seeds)
    seat_index = [np.nonzero(seats == i) for i in range(k)]
    returns = np.zeros((B, len(slots)))
    ever = info["alive"][role][:, slots].copy()
    done = np.zeros(B, dtype=bool)
    steps = np.zeros(B, dtype=np.int64)
    final: list[dict[str, float | None]] = [{} for _ in range(B)]
    while not done.all():
        actions = background.actions(obs)
        rows = actions.get(role)
        if rows is None:
            rows = np.zeros(shape)
        for participant, act, (b_idx, j_idx) in zip(batch.participants, acts, seat_index):
            chosen = call_policy(hooks, venv, role, obs[role], act, participant.name)
            if chosen.shape != shape:
                raise ValueError(
                    f"participant {participant.name!r} returned actions of shape "
                    f"{chosen.shape} in scenario {scenario.name!r}; expected {shape} (one row "
                    f"per world and slot of role {role!r})"
                )
            rows[b_idx, slots[j_idx]] = chosen[b_idx, slots[j_idx]]
        actions[role] = rows
        out = venv.step(actions)
        live = ~done
        returns[live] += out.rewards[role][live][:, slots]
        ever[live] |= out.alive[role][live][:, slots]
        steps[live] += 1
        ended = out.info["ended"] & live
        if ended.any():
            now = venv.episode_metrics()
            for b in np.flatnonzero(ended).tolist():
                final[b] = {key: _finite(v[b]) for key, v in now.items()}
            if hooks is not None:
                hooks.on_episode_end(venv, np.flatnonzero(ended))
        done |= ended
        obs = out.obs
    venv.close()
    records = []
    for b, (episode, seed) in enumerate(zip(batch.episodes, seeds)):
        result: dict[str, Any] = {"returns": {}, "seats": {}, "steps": int(steps[b])}
        for i, participant in enumerate(batch.participants):
            mine = seats[b] == i
            lived = max(int((ever[b] & mine).sum()), 1)
            result["returns"][participant.name] = _finite(returns[b, mine].sum() / lived)
            result["seats"][participant.name] = slots[mine].tolist()
        result["metrics"] = final[b]
        kept = () if collected is None else tuple(collected[b])
        records.append(MatchRecord(scenario.name, batch.names, seed, int(episode), result, kept))
    return records


def _worker_play(batch: Batch) -> list[MatchRecord]:
    """:func:`play_batch` in a worker process: one torch thread when a participant uses torch
    (callbacks run in the calling process only)."""
    if any(p.kind in ("module", "sb3", "evo") for p in batch.participants):
        from agents.threads import set_torch_threads

        set_torch_threads()
    return play_batch(batch)


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# -- the tournament -------------------------------------------------------------------------------
@dataclass
class TournamentResults:
    """The tables of a tournament (pandas DataFrames), rebuilt from its store.

    Attributes:
        run_id: The run's id in the store.
        episodes: One row per participant and episode: ``scenario``, ``participant``,
            ``episode``, ``seed``, ``return``, ``steps`` (the episode's length), ``seats``
            (head-to-head: the slots played, as ``"0,2"``) and the end-of-episode metrics.
        steps: Every ``collect_period``-th step (empty without collection): ``scenario``,
            ``participants`` (the names that played, joined by ``" vs "``), ``episode``,
            ``seed``, ``step`` and the step's metrics.
        scores: See :func:`scores_table`.
        votes: See :func:`votes_table`.
        rankings: See :func:`voting_rankings`.
        ratings: See :func:`ratings_table`.
        intervals: See :func:`intervals_table`.
        winners: The winners of each rule of :data:`RULES` (ties: several; ``"condorcet"``:
            the Condorcet winner alone, or none).
        condorcet_winner: The Condorcet winner, or ``None`` when there is none.
    """

    run_id: str
    episodes: pd.DataFrame
    steps: pd.DataFrame
    scores: pd.DataFrame
    votes: pd.DataFrame
    rankings: pd.DataFrame
    ratings: pd.DataFrame
    intervals: pd.DataFrame
    winners: dict[str, list[str]] = field(default_factory=dict)
    condorcet_winner: str | None = None

    TABLES = ("episodes", "steps", "scores", "votes", "rankings", "ratings", "intervals")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name (:attr:`TABLES` order)."""
        return {name: getattr(self, name) for name in self.TABLES}

    def to_csv(self, directory: str | Path) -> list[Path]:
        """Write every table as ``<directory>/<name>.csv``; return the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, table in self.tables().items():
            path = out / f"{name}.csv"
            table.to_csv(path, index=False)
            paths.append(path)
        return paths


class Tournament:
    """Scenarios x participants x episodes with common random numbers (see the module docs).

    Example:
        >>> from heas_envs.scenarios import make_grid
        >>> scenarios = make_grid("heas_envs/Enterprise-v0", {"n_firms": [2, 6]})
        >>> t = Tournament(scenarios, [Participant.heuristic()], episodes=4, store="r.sqlite")
        >>> results = t.run()  # the random baseline joins automatically
        >>> results.scores[["scenario", "participant", "mean", "normalised"]]

    Args:
        scenarios: The scenarios (distinct names).
        participants: The participants (distinct names).
        episodes: Episodes per scenario (and per participant in focal mode).
        seed: The tournament's seed, in ``[0, 2**63 - 1]`` (see :func:`episode_seed`).
        mode: ``"focal"`` or ``"head_to_head"``.
        collect_period: Keep every ``collect_period``-th step's metrics (0: none).
        store: A :class:`~agents.store.MatchStore`, the path of its SQLite file, or ``None``
            (a store in memory: nothing survives the process).
        backend: ``"inprocess"``, ``"process"`` or ``"ray"``.
        n_jobs: Worker processes of the ``"process"`` back end, CPUs of a Ray started on this
            machine (``None``: 1). A Ray already running in this process keeps its CPUs (a
            warning says so when ``n_jobs`` differs from them; ``ray.shutdown()`` first to
            start one with ``n_jobs`` CPUs).
        ray_address: The address of a Ray cluster to join (``backend="ray"``); ``None``
            starts Ray on this machine. Ignored, with a warning, when Ray is already running
            in this process (``ray.shutdown()`` first to join another cluster).
        baselines: The names of the participants that normalise scores (0: the worst of them,
            1: the best). ``None``: the heuristic and random participants; a
            :meth:`~Participant.heuristic` named ``"heuristic"`` and a
            :meth:`~Participant.random` named ``"random"`` are added when no participant of
            that kind is given.
        callbacks: :class:`~heas_envs.core.callbacks.Callback` hooks (one, a list or
            ``None``; each once) told of every batch's episodes, participant calls, steps and
            layers (see the module docs); in-process only (``backend="inprocess"``).

    Raises:
        ValueError: A bad argument (the message says which and what is accepted).
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        participants: Sequence[Participant],
        episodes: int,
        seed: int = 0,
        mode: str = "focal",
        collect_period: int = 0,
        store: MatchStore | str | Path | None = None,
        backend: str = "inprocess",
        n_jobs: int | None = None,
        ray_address: str | None = None,
        baselines: Sequence[str] | None = None,
        callbacks: Callback | Sequence[Callback] | None = None,
    ) -> None:
        self.scenarios = _check_scenarios(scenarios)
        self.mode = _choice("mode", mode, MODES)
        self.backend = _choice("backend", backend, BACKENDS)
        self.callbacks = as_callbacks(callbacks)
        if self.callbacks and self.backend != "inprocess":
            raise ValueError(
                f"callbacks run in the calling process only, so backend={self.backend!r} "
                "cannot call them (its batches play in other processes); use "
                "backend='inprocess' with callbacks, or no callbacks"
            )
        self.episodes = _check_int("episodes", episodes, 1, 10**9)
        self.seed = _check_int("seed", seed, 0, MAX_SEED)
        self.collect_period = _check_int("collect_period", collect_period, 0, 10**9)
        # None: the default (1), which a running Ray may override without a warning
        self._n_jobs_given = n_jobs is not None
        self.n_jobs = 1 if n_jobs is None else _check_int("n_jobs", n_jobs, 1, 4096)
        if ray_address is not None and not isinstance(ray_address, str):
            raise ValueError(f"ray_address must be an address string or None, got {ray_address!r}")
        self.ray_address = ray_address
        self.participants, self.baselines = _check_participants(participants, baselines)
        seats = {s.name: len(s.focal_agents()) for s in self.scenarios}  # bad focal slots raise
        if self.mode == "head_to_head":
            k = len(self.participants)
            if k < 2:
                raise ValueError("head-to-head play needs two or more participants")
            for s in self.scenarios:
                if seats[s.name] < k:
                    raise ValueError(
                        f"head-to-head: scenario {s.name!r} has {seats[s.name]} focal slots for "
                        f"{k} participants {[p.name for p in self.participants]}; every "
                        "participant needs a seat (give fewer participants or more focal slots)"
                    )
        if store is None or isinstance(store, (str, Path)):
            store = MatchStore(":memory:" if store is None else store)
        if not isinstance(store, MatchStore):
            raise ValueError(f"store must be a MatchStore, a path or None, got {store!r}")
        self.store = store
        self.run_id: str | None = None

    # -- what is played -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The tournament as JSON data (what the store records; its digest is the run id).
        The back end is not part of it: a run may be resumed on another."""
        return {
            "scenarios": [s.to_dict() for s in self.scenarios],
            "participants": [p.to_dict() for p in self.participants],
            "episodes": self.episodes,
            "seed": self.seed,
            "mode": self.mode,
            "collect_period": self.collect_period,
            "baselines": list(self.baselines),
        }

    def seeds(self, scenario: Scenario | str) -> list[int]:
        """The episode seeds of ``scenario`` (a scenario or its name)."""
        name = scenario.name if isinstance(scenario, Scenario) else scenario
        return [episode_seed(self.seed, name, e) for e in range(self.episodes)]

    def batches(self) -> list[Batch]:
        """Every batch of the tournament, in table order."""
        out = []
        episodes = tuple(range(self.episodes))
        for s in self.scenarios:
            seeds = tuple(self.seeds(s))
            groups = (
                [(p,) for p in self.participants]
                if self.mode == "focal"
                else [tuple(self.participants)]
            )
            out.extend(Batch(s, g, episodes, seeds, self.collect_period) for g in groups)
        return out

    # -- playing --------------------------------------------------------------------------------
    def run(
        self,
        resume: bool = True,
        progress: bool = False,
        on_batch: Callable[[list[MatchRecord]], None] | None = None,
    ) -> TournamentResults:
        """Play every batch not stored yet (:meth:`play`) and return the tables.

        Args:
            resume: Skip the batches already stored (a run that was interrupted, or played by
                another process). ``False`` refuses to start when the store holds matches of
                this run already (nothing is overwritten).
            progress: Show a progress bar over batches on standard error.
            on_batch: Called with a batch's records after they are committed.

        Raises:
            ValueError: ``resume=False`` with stored matches of this run, or a batch that
                cannot be played (see :func:`play_batch`).
        """
        self.play(resume=resume, progress=progress, on_batch=on_batch)
        return self.results()

    def play(
        self,
        resume: bool = True,
        progress: bool = False,
        on_batch: Callable[[list[MatchRecord]], None] | None = None,
    ) -> int:
        """Play and store every batch not stored yet, without building the tables; return
        how many batches this call played and stored (arguments as for :meth:`run`).

        The store is asked again just before each batch is dispatched (on every back end), so
        a batch that another writer (another process running the same tournament into the
        same store) stored meanwhile is skipped. One that the other writer stores while it is
        being played here was played in vain: writing it adds nothing, and it is neither
        counted nor passed to ``on_batch``.
        """
        from tqdm import tqdm

        run_id = self.run_id = self.store.register_run(self.config)
        stored = self.store.stored_keys(run_id)
        if stored and not resume:
            raise ValueError(
                f"the store {self.store.path} holds {len(stored)} matches of this run "
                f"({run_id}) already; resume the run (resume=True; --resume on the command "
                "line) or use another store"
            )
        pending = [
            b
            for b in self.batches()
            if not all((b.scenario.name, b.names, s) in stored for s in b.seeds)
        ]
        bar = tqdm(
            total=len(pending),
            desc="tournament",
            unit="batch",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        )
        played = [0]

        def still_pending() -> Iterator[Batch]:
            for b in pending:
                if self.store.has_all(run_id, b.scenario.name, b.names, b.seeds):
                    bar.update()  # stored meanwhile by another writer
                    continue
                yield b

        def finish(_: int, records: list[MatchRecord]) -> None:
            new = self.store.write_batch(run_id, records)
            bar.update()
            if records and new == 0:
                return  # another writer stored this batch while it was played here
            played[0] += 1
            if on_batch is not None:
                on_batch(records)

        if self.backend == "process":
            n_jobs: int | None = min(self.n_jobs, max(len(pending), 1))
        else:  # a running Ray is used as it is, with a warning only for an n_jobs given
            n_jobs = self.n_jobs if self._n_jobs_given else None
        try:
            run_tasks(
                # in this process: play_batch as it is (the caller's torch threads untouched)
                (
                    functools.partial(play_batch, callbacks=list(self.callbacks))
                    if self.callbacks
                    else play_batch
                )
                if self.backend == "inprocess"
                else _worker_play,
                still_pending(),
                finish,
                backend=self.backend,
                n_jobs=n_jobs,
                ray_address=self.ray_address,
            )
        finally:
            bar.close()
        return played[0]

    def results(self) -> TournamentResults:
        """The tables of what the store holds of this run now."""
        run_id = self.run_id or self.store.register_run(self.config)
        return results_from_store(self.store, run_id)


def results_from_store(store: MatchStore, run_id: str) -> TournamentResults:
    """The tables of the run ``run_id`` of ``store``, from its stored configuration and
    matches alone (no participant needs to be rebuilt).

    Raises:
        KeyError: An unknown run id.
    """
    config = store.run_config(run_id)
    return results_from_records(config, store.matches(run_id), run_id)


def results_from_records(
    config: Mapping[str, Any], records: Sequence[MatchRecord], run_id: str = ""
) -> TournamentResults:
    """The tables of a tournament's configuration (:attr:`Tournament.config`) and records."""
    import pandas as pd

    scenario_order = {s["name"]: i for i, s in enumerate(config["scenarios"])}
    names = [p["name"] for p in config["participants"]]
    order = {n: i for i, n in enumerate(names)}
    head_to_head = config["mode"] == "head_to_head"
    rows = []
    step_rows = []
    for rec in records:
        for name in rec.participants:
            row: dict[str, Any] = {
                "scenario": rec.scenario,
                "participant": name,
                "episode": rec.episode,
                "seed": rec.seed,
                "return": _nan(rec.result["returns"][name]),
                "steps": rec.result["steps"],
            }
            if head_to_head:
                row["seats"] = ",".join(str(s) for s in rec.result["seats"][name])
            row.update({k: _nan(v) for k, v in rec.result["metrics"].items()})
            rows.append(row)
        for t, metrics in rec.steps:
            step_rows.append(
                {
                    "scenario": rec.scenario,
                    "participants": " vs ".join(rec.participants),
                    "episode": rec.episode,
                    "seed": rec.seed,
                    "step": t,
                    **{k: _nan(v) for k, v in metrics.items()},
                }
            )
    base = ["scenario", "participant", "episode", "seed", "return", "steps"]
    base += ["seats"] if head_to_head else []
    episodes = pd.DataFrame(rows, columns=None if rows else base)
    if rows:
        episodes = _sorted(episodes, scenario_order, "participant", order)
    steps = pd.DataFrame(
        step_rows,
        columns=None if step_rows else ["scenario", "participants", "episode", "seed", "step"],
    )
    if step_rows:
        key = steps["participants"].map(lambda s: [order.get(n, 0) for n in s.split(" vs ")])
        steps = (
            steps.assign(_s=steps["scenario"].map(scenario_order), _p=key.map(tuple))
            .sort_values(["_s", "_p", "episode", "step"], kind="stable")
            .drop(columns=["_s", "_p"])
            .reset_index(drop=True)
        )
    seed = int(config["seed"])
    present = [n for n in names if n in set(episodes["participant"])]
    votes = votes_table(episodes)
    rankings, winners, condorcet = voting_rankings(votes, present)
    return TournamentResults(
        run_id=run_id,
        episodes=episodes,
        steps=steps,
        scores=scores_table(episodes, config["baselines"], seed),
        votes=votes,
        rankings=rankings,
        ratings=ratings_table(votes, present),
        intervals=intervals_table(episodes, config["baselines"], seed),
        winners=winners,
        condorcet_winner=condorcet,
    )


# -- tables ---------------------------------------------------------------------------------------
def votes_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Each (scenario, episode) as a vote ranking the participants by return.

    Returns:
        ``scenario``, ``episode``, ``seed``, ``participant``, ``return`` and ``rank`` (1 is
        the highest return; equal returns share the best of their ranks), in the order of
        ``episodes``. A NaN return ranks last.
    """
    import pandas as pd

    columns = ["scenario", "episode", "seed", "participant", "return", "rank"]
    if episodes.empty:
        return pd.DataFrame(columns=columns)
    votes = episodes[["scenario", "episode", "seed", "participant", "return"]].copy()
    ranks = votes.groupby(["scenario", "episode"], sort=False)["return"].rank(
        method="min", ascending=False, na_option="bottom"
    )
    votes["rank"] = ranks.astype(int)
    return votes.reset_index(drop=True)


def vote_profile(votes: pd.DataFrame, participants: Sequence[str]) -> tuple[Any, int]:
    """A ``pref_voting.profiles.Profile`` of ``votes`` (one voter per (scenario, episode);
    candidate ``i`` is ``participants[i]``) and the weight ``L`` of one vote in it.

    ``Profile`` holds strict rankings only, so a vote that ties participants counts as the
    uniform mixture of the strict orders that break its ties: each of them weighs
    ``L / (number of such orders)``, with ``L`` the least common multiple of those numbers over
    all votes (1 when no vote has a tie). A tie between two participants thus gives each half a
    first place in plurality, the average of the two positions in Borda, and nothing to either
    in their pairwise majority.

    Raises:
        ValueError: A vote that does not rank every participant once, or ties more than
            :data:`MAX_TIED` participants.
    """
    Profile = _pref_voting()["Profile"]
    index = {n: i for i, n in enumerate(participants)}
    voters = []
    for (scenario, episode), vote in votes.groupby(["scenario", "episode"], sort=False):
        if sorted(vote["participant"]) != sorted(participants):
            raise ValueError(
                f"the vote of scenario {scenario!r} episode {episode} ranks "
                f"{sorted(vote['participant'])}, not every participant {sorted(participants)}"
            )
        groups = [
            sorted(index[p] for p in g["participant"]) for _, g in vote.groupby("rank", sort=True)
        ]
        if max(len(g) for g in groups) > MAX_TIED:
            raise ValueError(
                f"the vote of scenario {scenario!r} episode {episode} ties more than "
                f"{MAX_TIED} participants"
            )
        voters.append(groups)
    sizes = [math.prod(math.factorial(len(g)) for g in groups) for groups in voters]
    scale = math.lcm(*sizes) if sizes else 1
    counts: Counter[tuple[int, ...]] = Counter()
    for groups, size in zip(voters, sizes):
        for parts in itertools.product(*(itertools.permutations(g) for g in groups)):
            counts[tuple(c for part in parts for c in part)] += scale // size
    rankings = sorted(counts)
    cmap = {i: n for i, n in enumerate(participants)}
    return Profile([list(r) for r in rankings], [counts[r] for r in rankings], cmap=cmap), scale


def _pref_voting() -> dict[str, Any]:
    """``Profile`` and the rules of ``pref_voting``.

    pref_voting decorates its helpers with numba's ``jit``, whose compilation on first use
    took about 8 s per process here, for profiles far larger than a tournament's (at most
    ``k!`` distinct rankings of ``k`` participants). Its modules are therefore imported with
    ``numba.config.DISABLE_JIT`` set for the duration of the import only (the decorator reads
    it when it is applied), which leaves them plain Python and numba's JIT on for any other
    code. Already imported modules are used as they are.
    """
    if "pref_voting.c1_methods" not in sys.modules:
        from numba.core import config

        before = config.DISABLE_JIT
        config.DISABLE_JIT = True
        try:
            import pref_voting.c1_methods
            import pref_voting.profiles
            import pref_voting.scoring_methods  # noqa: F401
        finally:
            config.DISABLE_JIT = before
    from pref_voting.c1_methods import copeland
    from pref_voting.profiles import Profile
    from pref_voting.scoring_methods import borda, plurality

    return {"Profile": Profile, "plurality": plurality, "borda": borda, "copeland": copeland}


def voting_rankings(
    votes: pd.DataFrame, participants: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, list[str]], str | None]:
    """Aggregate rankings of ``votes`` (:func:`votes_table`) by four rules, with
    ``pref_voting`` (ties in a vote as in :func:`vote_profile`).

    - ``plurality``: the score is the number of votes ranking the participant first (a first
      place shared by ``t`` participants counts ``1/t`` to each); the winners are every
      participant with the highest score (``pref_voting.scoring_methods.plurality``).
    - ``borda``: the score is the sum over votes of the number of participants ranked below
      (tied participants share the average); the winners are every participant with the
      highest score (``pref_voting.scoring_methods.borda``).
    - ``copeland``: the score is the number of participants beaten by a majority of votes
      minus the number that beat it (a majority tie counts 0); the winners are every
      participant with the highest score (``pref_voting.c1_methods.copeland``).
    - ``condorcet``: the score is the number of participants beaten by a majority of votes;
      the winner is the participant beating every other one by a majority, if there is one
      (``Profile.condorcet_winner``); with a majority cycle or tie there is no winner.

    Returns:
        ``(table, winners, condorcet_winner)``: the table has ``rule``, ``participant``,
        ``score``, ``rank`` (1 is the best score of the rule; equal scores share a rank) and
        ``winner`` (bool) for every rule of :data:`RULES` and participant; ``winners`` maps
        each rule to its winners (several when tied; none for ``condorcet`` without a
        Condorcet winner); ``condorcet_winner`` is the winner's name or ``None``.
    """
    import pandas as pd

    methods = _pref_voting()
    plurality, borda, copeland = methods["plurality"], methods["borda"], methods["copeland"]
    columns = ["rule", "participant", "score", "rank", "winner"]
    participants = list(participants)
    if votes.empty or not participants:
        return pd.DataFrame(columns=columns), {r: [] for r in RULES}, None
    if len(participants) == 1:
        rows = [(rule, participants[0], 0.0, 1, True) for rule in RULES]
        return (
            pd.DataFrame(rows, columns=columns),
            {r: participants[:1] for r in RULES},
            (participants[0]),
        )
    profile, scale = vote_profile(votes, participants)
    cands = profile.candidates
    beats = {c: sum(profile.majority_prefers(c, d) for d in cands if d != c) for c in cands}
    cw = profile.condorcet_winner()
    results = {
        "plurality": ({c: v / scale for c, v in profile.plurality_scores().items()}, plurality),
        "borda": ({c: v / scale for c, v in profile.borda_scores().items()}, borda),
        "copeland": (profile.copeland_scores(), copeland),
        "condorcet": (beats, None),
    }
    rows = []
    winners: dict[str, list[str]] = {}
    for rule, (scores, method) in results.items():
        won = ([] if cw is None else [cw]) if method is None else list(method(profile))
        winners[rule] = [participants[c] for c in sorted(won)]
        for c in cands:
            rank = 1 + sum(scores[d] > scores[c] for d in cands)
            rows.append((rule, participants[c], float(scores[c]), rank, c in won))
    return pd.DataFrame(rows, columns=columns), winners, None if cw is None else participants[cw]


def scores_table(episodes: pd.DataFrame, baselines: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """Per scenario and participant: the raw mean return and its normalised value.

    Returns:
        ``scenario``, ``participant``, ``episodes``, ``mean``, ``std`` (ddof 1), ``ci_low`` /
        ``ci_high`` (a 95% percentile bootstrap interval of the mean,
        ``scipy.stats.bootstrap``, resampling the same episodes for every participant of a
        scenario; NaN with one episode), ``normalised`` (Melting Pot style:
        ``(mean - worst) / (best - worst)`` with ``worst`` and ``best`` the lowest and highest
        mean of the ``baselines`` on the scenario; NaN when they are equal), ``rank`` (1 is
        the highest mean of the scenario; ties share) and ``won`` (rank 1).
    """
    import pandas as pd

    columns = ["scenario", "participant", "episodes", "mean", "std", "ci_low", "ci_high"]
    columns += ["normalised", "rank", "won"]
    if episodes.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    scenario_index = {s: i for i, s in enumerate(dict.fromkeys(episodes["scenario"]))}
    for scenario, table in episodes.groupby("scenario", sort=False):
        returns = _returns_by_participant(table)
        lo, hi = _baseline_range(returns, baselines)
        for name, data in returns.items():
            mean = float(np.mean(data))
            low, high = bootstrap_mean(data, [seed, scenario_index[scenario]])
            rows.append(
                {
                    "scenario": scenario,
                    "participant": name,
                    "episodes": len(data),
                    "mean": mean,
                    "std": float(np.std(data, ddof=1)) if len(data) > 1 else math.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "normalised": (mean - lo) / (hi - lo) if hi > lo else math.nan,
                }
            )
    scores = pd.DataFrame(rows, columns=columns[:8])
    scores["rank"] = (
        scores.groupby("scenario", sort=False)["mean"]
        .rank(method="min", ascending=False, na_option="bottom")
        .astype(int)
    )
    scores["won"] = scores["rank"] == 1
    return scores


def ratings_table(votes: pd.DataFrame, participants: Sequence[str]) -> pd.DataFrame:
    """OpenSkill ratings (``openskill.models.PlackettLuce`` with its defaults) from the votes:
    each (scenario, episode), in table order, is one free-for-all game whose ranks are the
    vote's (ties stay ties). In head-to-head mode the games are the shared worlds; in focal mode
    they are the participants' plays of the same seeds. Updates are sequential, so ratings
    depend on the order of the games, and OpenSkill's default ``tau`` (a little uncertainty
    added before every game) weighs the later scenarios more than a vote does: a participant
    that wins the last scenarios may out-rate one that wins more votes.

    Returns:
        ``participant``, ``mu``, ``sigma``, ``ordinal`` (``mu - 3 sigma``, a conservative
        skill) and ``rank`` (1 is the highest ordinal), sorted by rank.
    """
    import pandas as pd
    from openskill.models import PlackettLuce

    columns = ["participant", "mu", "sigma", "ordinal", "rank"]
    if not participants:
        return pd.DataFrame(columns=columns)
    model = PlackettLuce()
    ratings = {p: model.rating(name=p) for p in participants}
    if len(participants) > 1:
        for _, vote in votes.groupby(["scenario", "episode"], sort=False):
            names = list(vote["participant"])
            new = model.rate([[ratings[n]] for n in names], ranks=[float(r) for r in vote["rank"]])
            for n, team in zip(names, new):
                ratings[n] = team[0]
    rows = [
        {"participant": p, "mu": r.mu, "sigma": r.sigma, "ordinal": r.ordinal()}
        for p, r in ratings.items()
    ]
    table = pd.DataFrame(rows, columns=columns[:4])
    table["rank"] = table["ordinal"].rank(method="min", ascending=False).astype(int)
    return table.sort_values(["rank", "participant"], kind="stable").reset_index(drop=True)


def intervals_table(
    episodes: pd.DataFrame,
    baselines: Sequence[str],
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Each participant's aggregate normalised score with 95% bootstrap intervals.

    Every episode's return is normalised by its scenario's baselines (as in
    :func:`scores_table`); scenarios whose baselines tie are left out. The resampled indices
    are the same for every participant (the bootstrap is paired, as the episodes are). Two
    statistics:

    - ``mean``: the mean over all (scenario, episode) scores, with a percentile interval from
      ``scipy.stats.bootstrap``;
    - ``iqm``: the interquartile mean (``scipy.stats.trim_mean(scores, 0.25)``) with a
      *stratified* bootstrap interval (episodes resampled with replacement within each
      scenario, percentile interval), the estimator of Agarwal et al. (2021).

    The IQM and its stratified bootstrap are computed here, not with ``rliable``: rliable
    1.2 imports ``arch``, and the ``arch`` its requirements admit (< 8) fails to import under
    pandas 3 (``TypeError`` in ``deprecate_kwarg``); the computation is rliable's
    ``StratifiedBootstrap`` with ``aggregate_iqm``, a few lines with NumPy.

    Returns:
        ``participant``, ``statistic`` (``"mean"`` or ``"iqm"``), ``estimate``, ``ci_low``,
        ``ci_high``, ``scenarios`` (used) and ``episodes`` (scores used); NaN intervals with
        fewer than two scores.
    """
    import pandas as pd
    from scipy.stats import trim_mean

    columns = ["participant", "statistic", "estimate", "ci_low", "ci_high", "scenarios"]
    columns += ["episodes"]
    if episodes.empty:
        return pd.DataFrame(columns=columns)
    strata: dict[str, list[np.ndarray]] = {}
    for _, table in episodes.groupby("scenario", sort=False):
        returns = _returns_by_participant(table)
        lo, hi = _baseline_range(returns, baselines)
        if not hi > lo:
            continue
        for name, data in returns.items():
            strata.setdefault(name, []).append((data - lo) / (hi - lo))
    rows = []
    for name in dict.fromkeys(episodes["participant"]):
        parts = strata.get(name, [])
        data = np.concatenate(parts) if parts else np.zeros(0)
        mean = iqm = (math.nan, math.nan, math.nan)
        if len(data):
            mean = (float(data.mean()), *bootstrap_mean(data, [seed, 1], n_resamples))
            iqm = (float(trim_mean(data, 0.25)), math.nan, math.nan)
        if len(data) > 1:
            rng = np.random.default_rng([seed, 2])
            samples = np.concatenate(
                [p[rng.integers(0, len(p), size=(n_resamples, len(p)))] for p in parts], axis=1
            )
            boot = trim_mean(samples, 0.25, axis=1)
            iqm = (iqm[0], *(float(v) for v in np.percentile(boot, [2.5, 97.5])))
        for stat, values in (("mean", mean), ("iqm", iqm)):
            rows.append((name, stat, *values, len(parts), len(data)))
    return pd.DataFrame(rows, columns=columns)


def _returns_by_participant(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """One scenario's returns by participant (table order), as float64 arrays."""
    return {
        str(name): values.to_numpy(dtype=np.float64)
        for name, values in table.groupby("participant", sort=False)["return"]
    }


def _baseline_range(
    returns: Mapping[str, np.ndarray], baselines: Sequence[str]
) -> tuple[float, float]:
    """The lowest and highest mean return of the baselines (NaN when none has one)."""
    means = [float(np.mean(returns[b])) for b in baselines if b in returns]
    means = [m for m in means if not math.isnan(m)]
    if not means:
        return math.nan, math.nan
    return min(means), max(means)


def bootstrap_mean(
    data: np.ndarray, seed: Sequence[int], n_resamples: int = N_RESAMPLES
) -> tuple[float, float]:
    """The 95% percentile bootstrap interval of the mean of ``data`` (``scipy.stats.
    bootstrap``, resampling from ``default_rng(seed)``); ``(nan, nan)`` for fewer than two
    values or a non-finite one, ``(x, x)`` when every value is ``x``."""
    from scipy.stats import bootstrap

    if len(data) < 2 or not np.isfinite(data).all():
        return math.nan, math.nan
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    result = bootstrap(
        (data,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(list(seed)),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _sorted(
    table: pd.DataFrame, scenario_order: Mapping[str, int], column: str, order: Mapping[str, int]
) -> pd.DataFrame:
    return (
        table.assign(_s=table["scenario"].map(scenario_order), _p=table[column].map(order))
        .sort_values(["_s", "_p", "episode"], kind="stable")
        .drop(columns=["_s", "_p"])
        .reset_index(drop=True)
    )


def _nan(value: Any) -> float:
    return math.nan if value is None else value


# -- validation -----------------------------------------------------------------------------------
def _check_scenarios(scenarios: Sequence[Scenario]) -> list[Scenario]:
    if isinstance(scenarios, Scenario) or not isinstance(scenarios, Sequence) or not scenarios:
        raise ValueError("scenarios must be a non-empty list of Scenario objects")
    bad = [s for s in scenarios if not isinstance(s, Scenario)]
    if bad:
        raise ValueError(f"scenarios must be Scenario objects, got {bad[0]!r}")
    names = [s.name for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"scenario names must be distinct (they key the results): {repeated}")
    return list(scenarios)


def _check_participants(
    participants: Sequence[Participant], baselines: Sequence[str] | None
) -> tuple[list[Participant], list[str]]:
    if isinstance(participants, Participant) or not isinstance(participants, Sequence):
        raise ValueError("participants must be a list of Participant objects")
    out = list(participants)
    bad = [p for p in out if not isinstance(p, Participant)]
    if bad:
        raise ValueError(f"participants must be Participant objects, got {bad[0]!r}")
    if baselines is None:
        for kind, build in (("heuristic", Participant.heuristic), ("random", Participant.random)):
            if not any(p.kind == kind for p in out):
                out.append(build())
        baselines = [p.name for p in out if p.kind in ("heuristic", "random")]
    names = [p.name for p in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"participant names must be distinct (they key the results): {repeated} (the "
            "heuristic and random baselines are added as 'heuristic' and 'random' when absent)"
        )
    if isinstance(baselines, str) or not isinstance(baselines, Sequence) or len(baselines) < 2:
        raise ValueError(
            f"baselines must be None or the names of two or more participants, got {baselines!r}"
        )
    unknown = [b for b in baselines if b not in names]
    if unknown:
        raise ValueError(f"baselines {unknown} are not participants; participants: {names}")
    return out, list(baselines)


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)
