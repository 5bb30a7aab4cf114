"""The evidence figures of the tournament issue: the HEAS paper's enterprise tournament with an
evolved firm, kill-and-resume of ``heas-envs tournament``, and throughput on every back end.

    python scripts/evidence_tournament.py                       # everything (10 minutes)
    python scripts/evidence_tournament.py --only kill throughput
    python scripts/evidence_tournament.py --only enterprise --evo runs/Enterprise-v0__firm__...
    python scripts/evidence_tournament.py --quick --only kill --kill-runner api  # smoke test

Sections (``--only``; default all):

- ``enterprise``: firm policies evolved two ways, each played by ``scripts/tournament_demo.py``
  against the heuristic (the reference) and random play on the 32 enterprise scenarios, 20
  episodes: (a) ``train_evo`` as shipped (SNES on the default parameters); (b) the training
  evidence's recipe (``evolve_on_mix`` of ``scripts/evidence_training.py``: SNES over a mix of
  the 32 scenarios), saved as a run directory (``best.pt``, ``args.json``) that ``--evo`` and
  ``evo:RUN_DIR`` take. ``--evo DIR`` (repeatable) plays given runs instead of training.
- ``kill``: ``heas-envs tournament`` uninterrupted into one directory; then three times into
  a fresh one, killed with SIGKILL from here (the store's match count is polled every
  millisecond) right after the first batch is committed, a quarter of a batch after the
  middle batch is committed (so inside the next one), and right after the last-but-one; the
  rows at the kill, the store's integrity check, ``--resume`` to the end, and every CSV
  compared byte for byte with the uninterrupted run's. Every run but the resumes is a forked
  child of this script calling the command's ``main`` (a fork starts in milliseconds, and
  the child is niced, so the kills land when asked); the resumes call it in this process.
  ``--kill-runner api`` plays the same tournament through :class:`Tournament` instead of the
  command (no summary, no HTML report: faster; the smoke test uses it).
- ``throughput``: the same tournament on each back end (fresh stores; the process pool and
  Ray with 2 workers, their start included), then with 10x the episodes (wider batches) and
  with 10x the scenarios (10x the batches), each twice, interleaved (the best time counts:
  the machine is shared): matches per second, seconds, the ratio to the 1x time and an
  estimate of each back end's start-up; the script stops with an error unless every run's
  tables equal the in-process ones.

Results (markdown) go to stdout, progress lines to stderr, stores and CSVs to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from evidence_output import emit, markdown_table, progress, run_sections  # scripts/ is on the path

from agents.cli import main as cli_main
from agents.participants import Participant
from agents.store import MatchStore
from agents.tournament import Tournament
from heas_envs.scenarios import scenario_set

SECTIONS = ("enterprise", "kill", "throughput")
ENTERPRISE = "heas_envs/Enterprise-v0"
CSVS = ("episodes", "steps", "scores", "votes", "rankings", "ratings", "intervals")


@dataclass(frozen=True)
class Sizes:
    """The sizes of every section (``--quick`` shrinks them)."""

    #: ``train_evo``: generations, popsize, episodes per candidate.
    evo: tuple[int, int, int] = (200, 32, 4)
    #: ``evolve_on_mix``: generations, popsize, scenarios per evaluation.
    evo_mix: tuple[int, int, int] = (200, 64, 8)
    demo_episodes: int = 20
    #: The kill section's tournament: the scenarios (``--set`` or ``--grid`` items) and episodes.
    kill_scenarios: tuple[str, ...] = ("--set", "enterprise32")
    kill_episodes: int = 4
    collect_period: int = 10
    #: The throughput section: scenarios of enterprise32 used, episodes of the base run.
    throughput_scenarios: int = 32
    throughput_episodes: int = 4
    workers: int = 2
    #: Runs of each throughput measurement (the best time is reported).
    repeats: int = 2


FULL = Sizes()
QUICK = Sizes(
    evo=(3, 8, 1),
    evo_mix=(3, 8, 2),
    demo_episodes=2,
    kill_scenarios=("--grid", ENTERPRISE, "n_firms=2,4"),
    kill_episodes=4,
    throughput_scenarios=2,
    throughput_episodes=2,
    repeats=1,
)


def command_line(argv: Sequence[str]) -> str:
    """``argv`` of ``agents.cli.main`` as the shell command ``heas-envs ...``."""
    return "heas-envs " + " ".join(argv)


def run_cli(argv: Sequence[str]) -> str:
    """Run ``heas-envs`` with ``argv`` in this process; return what it printed.

    Raises:
        RuntimeError: It exited with a non-zero status.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(list(argv))
    if code != 0:
        raise RuntimeError(f"{command_line(argv)} exited {code}: {err.getvalue()[-2000:]}")
    return out.getvalue()


# -- 1. enterprise -------------------------------------------------------------------------------
def load_script(name: str) -> Any:
    """A module of ``scripts/`` by file name (they are scripts, not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def evolve_firms(sizes: Sizes, root: Path) -> list[tuple[str, Path, str]]:
    """Train the two evolved firm policies; ``(label, run directory, how)`` of each."""
    import torch

    from agents.evo import train_evo

    # evotorch sets its logger up when imported, INFO lines to the stdout of that moment
    logging.getLogger("evotorch").setLevel(logging.WARNING)
    gens, pop, episodes = sizes.evo
    progress(f"enterprise: train_evo SNES {gens} x {pop}, {episodes} episodes")
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        shipped = train_evo(
            ENTERPRISE,
            "firm",
            algo="SNES",
            generations=gens,
            popsize=pop,
            seed=0,
            episodes=episodes,
            run_root=root,
        )
    shipped_s = time.perf_counter() - start
    how = (
        f"`train_evo(algo='SNES', generations={gens}, popsize={pop}, episodes={episodes}, "
        f"seed=0)`, what `scripts/train_evo.py --generations {gens} --popsize {pop} --episodes "
        f"{episodes}` runs (the default parameters: 4 firms, costs 0.4, demand 100); "
        f"{shipped_s:.0f} s"
    )
    out = [("train_evo", shipped.run_dir, how)]
    mix_gens, mix_pop, per_call = sizes.evo_mix
    progress(f"enterprise: SNES on the scenario mix, {mix_gens} x {mix_pop}, {per_call}/call")
    training = load_script("evidence_training")
    with contextlib.redirect_stdout(sys.stderr):
        policy, mix_s = training.evolve_on_mix(mix_gens, mix_pop, per_call)
    run_dir = root / f"Enterprise-v0__firm__SNES-mix__seed0__{mix_gens}x{mix_pop}"
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(policy.state_dict(), run_dir / "best.pt")
    args = {
        "env_id": ENTERPRISE,
        "role": "firm",
        "algo": "SNES",
        "recipe": "scripts/evidence_training.py evolve_on_mix (the final search centre)",
        "generations": mix_gens,
        "popsize": mix_pop,
        "scenarios_per_evaluation": per_call,
        "seed": 0,
        "policy_kwargs": {},
    }
    (run_dir / "args.json").write_text(json.dumps(args, indent=2) + "\n")
    how = (
        f"`evolve_on_mix({mix_gens}, {mix_pop}, {per_call})` of scripts/evidence_training.py "
        f"(SNES; each generation draws {per_call} of the 32 scenarios; fitness: return / the "
        f"heuristic's return there); {mix_s:.0f} s"
    )
    out.append(("scenario mix", run_dir, how))
    return out


def section_enterprise(sizes: Sizes, out: Path, evo: Sequence[Path]) -> None:
    """Evolved firm policies against the reference heuristic (and random) on enterprise32."""
    emit("## 1. Enterprise: evolved firm vs the reference heuristic, 32 scenarios\n")
    if evo:
        runs = [(f"--evo {d.name}", d, "given") for d in evo]
    else:
        runs = evolve_firms(sizes, out / "runs")
    demo = load_script("tournament_demo")
    rows = []
    for label, run_dir, how in runs:
        target = out / f"enterprise_{label.replace(' ', '_').replace('-', '')}"
        argv = ["--episodes", str(sizes.demo_episodes), "--evo", str(run_dir), "--out"]
        argv.append(str(target))
        progress(f"enterprise: tournament_demo {' '.join(argv)}")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            demo.main(argv)
        emit(f"### Evolved ({label}): {how}\n")
        emit(f"`python scripts/tournament_demo.py {' '.join(argv)}` printed:\n")
        emit("```\n" + printed.getvalue().rstrip() + "\n```\n")
        rows.append([label, *evolved_vs_reference(target)])
    emit(
        markdown_table(
            [
                "evolved policy",
                "scenarios won by evolved (of 32)",
                "by the heuristic",
                "normalised mean, evolved",
                "IQM, evolved [95% CI]",
                "winners (plurality, Borda, Copeland, Condorcet)",
                "rules agree",
            ],
            rows,
        )
    )
    emit(
        "\nWon: the highest mean return of the three participants on a scenario. Normalised: "
        "per scenario, 0 = the worse of heuristic and random play, 1 = the better.\n"
    )


def evolved_vs_reference(directory: Path) -> list[Any]:
    """From a tournament_demo directory's CSVs: scenarios won by ``evolved`` and by the
    heuristic, the evolved mean normalised score, IQM with interval, the rules' winners."""
    scores = pd.read_csv(directory / "scores.csv")
    won = scores.groupby("participant")["won"].sum()
    iqm = pd.read_csv(directory / "intervals.csv").query("statistic == 'iqm'")
    iqm = iqm.set_index("participant").loc["evolved"]
    rankings = pd.read_csv(directory / "rankings.csv").query("winner")
    winners = {
        rule: "/".join(sorted(rankings[rankings["rule"] == rule]["participant"])) or "none"
        for rule in ("plurality", "borda", "copeland", "condorcet")
    }
    normalised = scores[scores["participant"] == "evolved"]["normalised"].mean()
    return [
        int(won.get("evolved", 0)),
        int(won.get("heuristic", 0)),
        float(normalised),
        f"{iqm['estimate']:.3f} [{iqm['ci_low']:.3f}, {iqm['ci_high']:.3f}]",
        ", ".join(winners.values()),
        "yes" if len(set(winners.values())) == 1 else "no",
    ]


# -- 2. kill and resume --------------------------------------------------------------------------
def stored_matches(path: Path) -> int:
    """The rows of the ``matches`` table of the store at ``path`` (0 while it is not there)."""
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(*) FROM matches").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:  # tables not created yet
        return 0


class KillRunner:
    """One tournament of the kill section, run into a directory by ``heas-envs tournament``
    (``kind="cli"``: the command's ``main`` in this process) or by the same
    :class:`~agents.tournament.Tournament` in Python (``kind="api"``: ``run()`` and
    ``to_csv()``, without the command's summary and HTML report; the same run id).
    """

    def __init__(self, kind: str, sizes: Sizes) -> None:
        self.kind, self.sizes = kind, sizes
        self.argv = ["tournament", *sizes.kill_scenarios, "--participant", "heuristic"]
        self.argv += ["--participant", "random:0", "--episodes", str(sizes.kill_episodes)]
        self.argv += ["--collect-period", str(sizes.collect_period), "--no-progress"]
        self.scenarios = scenarios_of(sizes.kill_scenarios)
        # the tables' libraries (pref_voting, scipy, openskill), imported once before any fork
        Tournament(self.scenarios, [Participant.heuristic()], episodes=1).results()

    def command(self, out: Path, resume: bool = False) -> str:
        """What runs into ``out``, as a line to print."""
        if self.kind == "cli":
            return command_line([*self.argv, "--out", str(out), *(["--resume"] if resume else [])])
        return (
            f"Tournament(scenarios_of({' '.join(self.sizes.kill_scenarios)}), [heuristic, "
            f"random:0], episodes={self.sizes.kill_episodes}, collect_period="
            f"{self.sizes.collect_period}, store='{out}/results.sqlite').run(resume={resume})"
            ".to_csv(out)"
        )

    def __call__(self, out: Path, resume: bool = False) -> None:
        """Run the tournament into ``out`` (``resume``: continue what is stored there)."""
        if self.kind == "cli":
            run_cli([*self.argv, "--out", str(out), *(["--resume"] if resume else [])])
            return
        from agents.participants import parse_participant

        tournament = Tournament(
            self.scenarios,
            [parse_participant("heuristic"), parse_participant("random:0")],
            episodes=self.sizes.kill_episodes,
            collect_period=self.sizes.collect_period,
            store=out / "results.sqlite",
        )
        try:
            tournament.run(resume=resume).to_csv(out)
        finally:
            tournament.store.close()


def forked_run(
    run: KillRunner, out: Path, kill_at: int | None = None, delay: float = 0.0
) -> tuple[dict[int, float], float]:
    """Run ``run`` into ``out`` in a forked child, polling its store every millisecond; with
    ``kill_at``, SIGKILL the child ``delay`` seconds after the store first holds ``kill_at``
    matches (else wait for it to finish).

    Returns:
        ``(seen, seconds)``: when (seconds after the fork) each count of stored matches was
        first seen, and the seconds from the fork to the kill or the end.

    Raises:
        RuntimeError: The child failed, or ended before it was killed.
    """
    store = out / "results.sqlite"
    start = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: the run, its output discarded
        code = 1
        try:
            if kill_at is not None:
                os.nice(10)  # this process, which polls, is served first: the kill is on time
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            run(out)
            code = 0
        finally:
            os._exit(code)
    seen: dict[int, float] = {}
    while True:
        n = stored_matches(store)
        seen.setdefault(n, time.perf_counter() - start)
        if kill_at is not None and n >= kill_at:
            break
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            seconds = time.perf_counter() - start
            if kill_at is not None or status != 0:
                raise RuntimeError(f"the run ended (status {status}) before it was killed")
            seen.setdefault(stored_matches(store), seconds)
            return seen, seconds
        time.sleep(0.001)
    if delay:
        time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    seconds = time.perf_counter() - start
    _, status = os.waitpid(pid, 0)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise RuntimeError(f"the run ended (status {status}) before it was killed")
    return seen, seconds


def store_state(path: Path) -> tuple[int, int, str]:
    """``(matches, steps, integrity check)`` of the store at ``path``."""
    with MatchStore(path) as store:
        counts = store.counts()
        return counts["matches"], counts["steps"], store.integrity_check()


def differing_csvs(a: Path, b: Path) -> list[str]:
    """The CSVs of :data:`CSVS` whose bytes differ between directories ``a`` and ``b``."""
    return [n for n in CSVS if (a / f"{n}.csv").read_bytes() != (b / f"{n}.csv").read_bytes()]


def section_kill(sizes: Sizes, out: Path, runner: str) -> None:
    """SIGKILL a tournament at three moments, resume it, compare with an uninterrupted run."""
    import shutil

    run = KillRunner(runner, sizes)
    what = "`heas-envs tournament`" if runner == "cli" else "a tournament (Python API)"
    emit(f"## 2. Kill and resume: {what} killed with SIGKILL at three moments\n")
    root = out / "kill"
    shutil.rmtree(root, ignore_errors=True)
    batches = len(run.scenarios) * 2
    episodes = sizes.kill_episodes
    reference = root / "uninterrupted"
    progress(f"kill: {run.command(reference)}")
    seen, seconds = forked_run(run, reference)  # forked too: timed the way kills are
    matches, steps, check = store_state(reference / "results.sqlite")
    # when each batch's commit was seen (two commits within one poll: the same moment)
    commits = [min(t for n, t in seen.items() if n >= b * episodes) for b in range(1, batches + 1)]
    took = np.diff([0.0, *commits])  # the first includes the child's start
    emit(
        f"The tournament: {len(run.scenarios)} scenarios x heuristic and random x {episodes} "
        f"episodes, every {sizes.collect_period}th step collected: {batches} batches (one "
        f"transaction each), {batches * episodes} matches. Uninterrupted: {matches} matches, "
        f"{steps} step rows, integrity {check}; {seconds:.2f} s, the last commit at "
        f"{commits[-1]:.2f} s; a batch takes {np.median(took[1:]) * 1000:.0f} ms (median; "
        f"{took[1:].min() * 1000:.0f} to {took[1:].max() * 1000:.0f}).\n"
    )
    middle = batches // 2
    # a quarter of a batch after a commit: inside the next batch (its time varies with the load)
    quarter = float(np.median(took[1:])) / 4
    moments = [
        ("right after batch 1 is committed", 1, 0.0),
        (f"{quarter * 1000:.0f} ms after batch {middle} is committed", middle, quarter),
        (f"right after batch {batches - 1} (the last but one) is committed", batches - 1, 0.0),
    ]
    emit("Commands (each run is a forked child of this script, polled and killed from here):\n")
    emit("```")
    emit(run.command(reference))
    rows = []
    for i, (moment, committed, delay) in enumerate(moments, start=1):
        target = root / f"killed{i}"
        progress(f"kill {i}: {moment}")
        _, killed_after = forked_run(run, target, committed * episodes, delay)
        at_kill = store_state(target / "results.sqlite")
        if delay:
            stored = at_kill[0] // episodes
            moment += (
                f": during batch {stored + 1}, uncommitted"
                if stored == committed
                else f" (batch {stored} was committed by then: the kill hit batch {stored + 1})"
            )
        emit(f"{run.command(target)}    # SIGKILL {moment}; {killed_after:.2f} s after the start")
        emit(run.command(target, resume=True))
        run(target, resume=True)
        after = store_state(target / "results.sqlite")
        differ = differing_csvs(reference, target)
        if differ or after != (matches, steps, "ok") or at_kill[2] != "ok":
            raise SystemExit(f"kill {i}: the resumed run differs: {differ}, {after}, {at_kill}")
        rows.append(
            [
                i,
                moment,
                f"{at_kill[0]} / {at_kill[1]}",
                at_kill[0] // episodes,
                at_kill[2],
                batches - at_kill[0] // episodes,
                f"{after[0]} / {after[1]}",
                after[2],
                f"equal ({len(CSVS)} of {len(CSVS)} CSVs byte for byte)",
            ]
        )
    emit("```\n")
    emit(
        markdown_table(
            [
                "kill",
                "moment",
                "rows at the kill (matches / steps)",
                "batches stored",
                "integrity at the kill",
                "batches the resume played",
                "rows after the resume",
                "integrity after",
                "tables vs uninterrupted",
            ],
            rows,
        )
    )
    emit()
    for i, row in enumerate(rows, start=1):
        emit(f"kill {i}: {row[2]} rows at the kill; tables equal")
    emit(
        f"\nEvery resumed run's CSVs ({', '.join(c + '.csv' for c in CSVS)}) are byte for byte "
        "those of the uninterrupted run; a kill in the middle of a batch loses that batch's "
        "uncommitted episodes only, and the resume plays it again.\n"
    )


def scenarios_of(items: Sequence[str]) -> list[Any]:
    """The scenarios that the command-line items ``--set NAME`` / ``--grid ...`` name."""
    from agents.tournament_cli import scenarios_from_args

    args = argparse.Namespace(set=None, scenarios=None, grid=None)
    if items[0] == "--set":
        args.set = items[1]
    else:
        args.grid = list(items[1:])
    return scenarios_from_args(args)


# -- 3. throughput -------------------------------------------------------------------------------
def throughput_participants() -> list[Participant]:
    """The heuristic, random play and a torch MLP firm policy (torch seed 0)."""
    import torch

    from agents.policies import make_policy

    torch.manual_seed(0)
    policy = make_policy(scenario_set("enterprise32")[0].make_vec(1), "firm")
    return [Participant.heuristic(), Participant.random(0), Participant.from_module(policy, "mlp")]


def throughput_scenarios(sizes: Sizes, copies: int) -> list[Any]:
    """The first ``sizes.throughput_scenarios`` of enterprise32, ``copies`` times (copy ``k``
    named ``"<name> #k"``, so its episode seeds differ)."""
    import dataclasses

    base = scenario_set("enterprise32")[: sizes.throughput_scenarios]
    if copies == 1:
        return base
    return [dataclasses.replace(s, name=f"{s.name} #{k}") for k in range(copies) for s in base]


def timed_play(
    scenarios: Sequence[Any], episodes: int, backend: str, workers: int, store: Path
) -> tuple[float, int, int, dict[str, pd.DataFrame]]:
    """Play the throughput tournament into a fresh ``store``: seconds of ``play()``, matches,
    batches played, and the tables."""
    if store.exists():
        store.unlink()
    tournament = Tournament(
        scenarios,
        throughput_participants(),
        episodes=episodes,
        seed=0,
        store=store,
        backend=backend,
        n_jobs=None if backend == "inprocess" else workers,
    )
    start = time.perf_counter()
    played = tournament.play()
    seconds = time.perf_counter() - start
    matches = tournament.store.counts(tournament.run_id)["matches"]
    tables = tournament.results().tables()
    tournament.store.close()
    return seconds, matches, played, tables


def section_throughput(sizes: Sizes, out: Path) -> None:
    """Matches per second on each back end, and tournaments with 10x the episodes and 10x
    the scenarios."""
    import ray

    emit(
        f"## 3. Throughput: in-process, {sizes.workers} processes and Ray "
        f"({sizes.workers} CPUs) on this machine\n"
    )
    if ray.is_initialized():
        ray.shutdown()  # the Ray back end starts its own with sizes.workers CPUs
    root = out / "throughput"
    root.mkdir(parents=True, exist_ok=True)
    backends = ("inprocess", "process", "ray")
    episodes = sizes.throughput_episodes
    runs = [
        ("1x", throughput_scenarios(sizes, 1), episodes),
        ("10x episodes", throughput_scenarios(sizes, 1), 10 * episodes),
        ("10x scenarios", throughput_scenarios(sizes, 10), episodes),
    ]
    timings: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    reference: dict[str, dict[str, pd.DataFrame]] = {}  # the first in-process tables
    for repeat in range(1, sizes.repeats + 1):  # interleaved, so a burst of load hits one
        for label, scenarios, n in runs:
            for backend in backends:
                progress(
                    f"throughput {repeat}/{sizes.repeats}: {backend}, {len(scenarios)} "
                    f"scenarios x {n} episodes"
                )
                store = root / f"{backend}_{label.replace(' ', '_')}.sqlite"
                seconds, matches, played, tables = timed_play(
                    scenarios, n, backend, sizes.workers, store
                )
                timings.setdefault((label, backend), []).append(seconds)
                counts[label, backend] = matches, played
                for name, table in tables.items():
                    expected = reference.setdefault(label, tables)[name]
                    pd.testing.assert_frame_equal(
                        table, expected, obj=f"{label} on {backend}, run {repeat}: {name}"
                    )
    best = {key: min(values) for key, values in timings.items()}
    rows = []
    for label, scenarios, n in runs:
        for backend in backends:
            seconds = best[label, backend]
            matches, played = counts[label, backend]
            rows.append(
                [
                    label,
                    backend if backend == "inprocess" else f"{backend} ({sizes.workers})",
                    f"{len(scenarios)} x 3 x {n}",
                    matches,
                    played,
                    seconds,
                    max(timings[label, backend]),
                    matches / seconds,
                    seconds / best["1x", backend],
                    best[label, "inprocess"] / seconds,
                ]
            )
    emit(
        f"Participants: heuristic, random and a torch MLP firm policy (torch seed 0), on the "
        f"first {sizes.throughput_scenarios} enterprise32 scenarios x {episodes} episodes "
        f"(1x); 10x episodes (a batch has 10x the worlds, as many batches); 10x scenarios "
        f"(the scenarios 10 times under other names, so other seeds: 10x the batches). Each "
        f"run into a fresh store, one after the other in this process, {sizes.repeats} "
        "time(s) (interleaved; the best time is used, the machine being shared); seconds of "
        "`Tournament.play()`, starting the pool (spawn) or Ray included, building the tables "
        "not.\n"
    )
    emit(
        markdown_table(
            [
                "size",
                "back end (workers)",
                "scenarios x participants x episodes",
                "matches",
                "batches",
                f"seconds (best of {sizes.repeats})",
                "slowest",
                "matches/s (best)",
                "time / its 1x time",
                "speed-up vs in-process",
            ],
            rows,
        )
    )
    starts = []
    for backend in backends:
        t1, t10 = best["1x", backend], best["10x scenarios", backend]
        starts.append(f"{backend} {(10 * t1 - t10) / 9:.1f} s")
    emit(
        "\nFixed cost per run (start-up), estimated from 1x and 10x scenarios as "
        f"(10 t1x - t10x) / 9: {', '.join(starts)}.\n"
    )
    emit("tables equal on every back end and every run (each size): yes\n")


# -- main ----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections and print their results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/evidence_tournament"), help="output folder"
    )
    parser.add_argument(
        "--evo",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="enterprise: play this evolved run (repeatable) instead of training two",
    )
    parser.add_argument(
        "--kill-runner",
        choices=("cli", "api"),
        default="cli",
        help="kill: run heas-envs tournament (default) or the same Tournament in Python, which "
        "skips the command's summary and HTML report (faster; the smoke test)",
    )
    args = parser.parse_args(argv)
    for d in args.evo:
        if not (d / "best.pt").is_file():
            parser.error(f"--evo {d}: no best.pt there (give a run directory of train_evo)")
    os.environ.setdefault("HEAS_TORCH_THREADS", "1")
    from agents.threads import set_torch_threads

    set_torch_threads()
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    emit(
        f"# Tournament evidence{' (--quick sizes)' if args.quick else ''}: "
        f"{' '.join(s for s in SECTIONS if s in args.only)}\n"
    )
    emit(f"CPUs: {os.cpu_count()}; torch threads: 1\n")
    run_sections(
        {
            "enterprise": lambda: section_enterprise(sizes, args.out, args.evo),
            "kill": lambda: section_kill(sizes, args.out, args.kill_runner),
            "throughput": lambda: section_throughput(sizes, args.out),
        },
        args.only,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
