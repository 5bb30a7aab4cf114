"""One benchmark table: HEAS, Mesa and our runtime, every figure measured side by side in one run.

    python scripts/bench.py                      # everything (several minutes)
    python scripts/bench.py --quick              # a tiny run
    python scripts/bench.py --only models --repeats 3 --steps 100
    pip install -e ".[bench]"                    # HEAS 1.0.2 and Mesa 3.x, for their rows

Sections (the figures are agent-steps per second, agents x worlds x steps / seconds):

1. **HEAS quickstart rules** (``scripts/bench_rules.py``): one price stream and N trader
   streams written with HEAS 1.0.2's classes, against the same rules on our runtime through
   the dict API, the array API and the vector env over B worlds, and a bare numpy loop of the
   same update (B = 1 and B worlds: the floor).
2. **Mesa's example models** (``mesa.examples``, Boltzmann wealth and wolf-sheep) with the
   parameters of our ports ``heas_envs/Boltzmann-v0`` and ``heas_envs/WolfSheep-v0``, which
   play Mesa's rules here (Boltzmann: the heuristic, action 0; wolf-sheep: the ranger culls
   nothing and allows full grazing), in one world and in B worlds. Wolf-sheep's agents are the
   animals at reset (sheep + wolves); the populations then evolve (the mean alive is shown).
3. **Every registered model** at its default size with its heuristic policy: one env through
   the array API against the vector env over B worlds (agents: the live agents at reset).

Each figure is the median over ``--repeats`` runs, each run in a fresh subprocess (repeats are
interleaved: run 1 of every figure, then run 2, ...). A run resets with seed ``r``, warms up,
then times ``--steps`` steps or stops after ``--max-seconds`` (whichever comes first; at least
3 steps); in sections 2 and 3 the other runs of a row time as many steps as the row's first
(Mesa, or our single env) did in the same repeat, so that both sides of a ratio time the same
ticks of their episodes (wolf-sheep's and the economy's populations change as they go). Episodes are longer than the run, so no reset is timed; a single env whose agents
all die is reset inside the timing (the vector env resets its worlds itself). Ratios are ratios
of medians. Our envs run as users get them, without the per-layer metrics of every step
(``record_trace`` off: our metrics are computed when asked for); ``--trace`` records them, as
HEAS and Mesa's examples collect theirs every step. HEAS and Mesa are imported only in the subprocesses that measure
them. Progress goes to stderr, the tables (markdown) to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
MIN_TIMED = 3  # steps timed at least, whatever --max-seconds says
RESULT = "BENCH_RESULT "  # prefix of the worker's result line on stdout
INSTALL_HINT = 'pip install -e ".[bench]"'
BOLTZMANN, WOLF_SHEEP = "heas_envs/Boltzmann-v0", "heas_envs/WolfSheep-v0"
#: Our wolf-sheep parameters that Mesa's ``WolfSheep`` takes under the same name.
MESA_WOLF_SHEEP_PARAMS = (
    "width",
    "height",
    "initial_sheep",
    "initial_wolves",
    "sheep_reproduce",
    "wolf_reproduce",
    "wolf_gain_from_food",
    "grass",
    "grass_regrowth_time",
    "sheep_gain_from_food",
)
#: Mesa's rules as our wolf-sheep ranger's action: cull nothing, allow full grazing.
MESA_RANGER = {"ranger": [0.0, 1.0]}


# -- what to measure -------------------------------------------------------------------------------
@dataclass
class Task:
    """One figure: a measurement kind and its parameters (JSON-serialisable).

    ``follow`` names the task (planned earlier) whose run of the same repeat sets this one's
    timed steps: both sides of a ratio then time the same ticks of their episodes, which
    matters where populations change (wolf-sheep, the economy).
    """

    key: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    follow: str | None = None


@dataclass
class Settings:
    """How long each run is."""

    steps: int
    warmup: int
    max_seconds: float
    repeats: int
    worlds: int
    trace: bool = False


def plan_heas(ns: Sequence[int], s: Settings, have_heas: bool) -> list[Task]:
    """Section 1's tasks: per N, HEAS, our dict / array / vector APIs and the numpy floor."""
    tasks = []
    for n in ns:
        if have_heas:
            tasks.append(Task(f"heas/{n}", "heas_quickstart", {"n": n}))
        tasks.append(Task(f"dict/{n}", "quickstart_env", {"n": n, "api": "dict"}))
        tasks.append(Task(f"array/{n}", "quickstart_env", {"n": n, "api": "array"}))
        tasks.append(Task(f"vec/{n}", "quickstart_vec", {"n": n, "worlds": s.worlds}))
        tasks.append(Task(f"np1/{n}", "quickstart_numpy", {"n": n, "worlds": 1}))
        tasks.append(Task(f"npB/{n}", "quickstart_numpy", {"n": n, "worlds": s.worlds}))
    return tasks


def mesa_sizes(quick: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """Section 2's sizes: ``(env id, label, our parameters)``."""
    from heas_envs.registration import env_parameters, env_spec

    sizes = []
    for env_id, factors in ((BOLTZMANN, (1, 10, 100)), (WOLF_SHEEP, (1, 10, 100))):
        spec = env_spec(env_id)
        defaults = env_parameters(env_id)
        for factor in factors[:2] if quick else factors:
            params = spec.scaled_params(factor)
            full = {**defaults, **params}
            if env_id == BOLTZMANN:
                label = f"Boltzmann, {full['n_agents']:,} agents, {full['width']}x{full['height']}"
            else:
                label = (
                    f"WolfSheep, {full['initial_sheep']:,} sheep + {full['initial_wolves']:,} "
                    f"wolves, {full['width']}x{full['height']}"
                )
            sizes.append((env_id, label, params))
    return sizes


def plan_mesa(s: Settings, have_mesa: bool, quick: bool) -> tuple[list[Task], list]:
    """Section 2's tasks: per size, Mesa's example, our array API and our vector env."""
    from heas_envs.registration import env_parameters

    tasks, rows = [], []
    for env_id, label, params in mesa_sizes(quick):
        key = f"{env_id}/{json.dumps(params, sort_keys=True)}"
        full = {**env_parameters(env_id), **params}
        if env_id == BOLTZMANN:
            mesa = {"model": "boltzmann", "n": full["n_agents"]}
            mesa |= {"width": full["width"], "height": full["height"]}
            policy: Any = "heuristic"  # action 0 for everyone: Mesa's rule
        else:
            mesa = {"model": "wolf_sheep", **{k: full[k] for k in MESA_WOLF_SHEEP_PARAMS}}
            policy = MESA_RANGER
        # wolf-sheep's agents are its animals at reset (the ranger is the env's only agent)
        animals = full["initial_sheep"] + full["initial_wolves"] if env_id == WOLF_SHEEP else None
        base = f"mesa/{key}" if have_mesa else None
        if have_mesa:
            tasks.append(Task(base, "mesa", mesa))
        env = {"env_id": env_id, "params": params, "policy": policy, "agents": animals}
        tasks.append(Task(f"ours1/{key}", "env_array", env, follow=base))
        tasks.append(
            Task(
                f"oursB/{key}",
                "env_vec",
                {**env, "worlds": s.worlds},
                follow=base or f"ours1/{key}",
            )
        )
        rows.append((label, key))
    return tasks, rows


def plan_models(s: Settings) -> tuple[list[Task], list[str]]:
    """Section 3's tasks: every registered id at its default size, one env and B worlds."""
    from heas_envs.registration import list_envs

    tasks = []
    for env_id in list_envs():
        env = {"env_id": env_id, "params": {}, "policy": "heuristic"}
        tasks.append(Task(f"model1/{env_id}", "env_array", env))
        vec = {**env, "worlds": s.worlds}
        tasks.append(Task(f"modelB/{env_id}", "env_vec", vec, follow=f"model1/{env_id}"))
    return tasks, list_envs()


# -- the subprocess side ---------------------------------------------------------------------------
def timed_loop(
    step: Callable[[], None], warmup: int, steps: int, max_seconds: float
) -> tuple[int, float]:
    """Run ``warmup`` untimed steps, then time up to ``steps`` steps, stopping early once
    ``max_seconds`` have passed (``0``: never) after at least :data:`MIN_TIMED` steps.

    Returns:
        The timed steps and their seconds.
    """
    for _ in range(warmup):
        step()
    perf = time.perf_counter
    start = perf()
    done = 0
    while done < steps:
        step()
        done += 1
        if max_seconds and done >= MIN_TIMED and perf() - start > max_seconds:
            break
    return done, perf() - start


def _fixed_actions(per_agent: dict[str, list[float]], shapes: dict[str, tuple]) -> dict:
    import numpy as np

    return {
        r: np.broadcast_to(np.asarray(a, np.float32), shapes[r]).copy()
        for r, a in per_agent.items()
    }


def measure(
    task: dict[str, Any], steps: int, warmup: int, max_seconds: float, seed: int, trace: bool = True
) -> dict:
    """Run one measurement (in the current process) and return its figures.

    ``trace`` says whether our envs record the per-layer metrics of every step (HEAS and Mesa's
    examples collect their metrics every step).

    Returns:
        ``{"agent_steps_per_s", "steps", "seconds", "agents", "worlds"}`` plus, for
        wolf-sheep, ``"mean_alive"`` (animals per world over the timed steps).
    """
    kind, p = task["kind"], task["params"]
    alive: list[float] = []
    if kind == "heas_quickstart":
        from bench_rules import heas_model

        model = heas_model(p["n"], seed=seed)
        agents, worlds, step = p["n"], 1, model.step
    elif kind == "quickstart_numpy":
        from bench_rules import NumpyQuickstart

        floor = NumpyQuickstart(p["n"], p["worlds"], seed=seed)
        agents, worlds, step = p["n"], p["worlds"], floor.step
    elif kind == "quickstart_env":
        from bench_rules import build_model

        from heas_envs import HierarchicalParallelEnv

        env = HierarchicalParallelEnv(build_model(p["n"]), max_steps=warmup + steps + 10)
        set_trace(env, trace)
        env.reset_arrays(seed=seed)
        agents, worlds = p["n"], 1
        if p["api"] == "dict":

            def step() -> None:
                env.step(env.agent_actions(env.heuristic_actions()))

        else:

            def step() -> None:
                env.step_arrays(env.heuristic_actions())

    elif kind == "quickstart_vec":
        from bench_rules import build_model

        from heas_envs.env.vector import VectorWorldsEnv

        n = p["n"]
        venv = VectorWorldsEnv(
            lambda b: build_model(n, b), num_worlds=p["worlds"], max_steps=warmup + steps + 10
        )
        set_trace(venv, trace)
        venv.reset(seed=seed)
        agents, worlds = n, p["worlds"]

        def step() -> None:
            venv.step(venv.heuristic_actions())

    elif kind == "mesa":
        return _measure_mesa(p, steps, warmup, max_seconds, seed)
    elif kind in ("env_array", "env_vec"):
        import numpy as np

        import heas_envs

        max_steps = warmup + steps + 10
        wolf_sheep = p["env_id"] == WOLF_SHEEP
        if kind == "env_array":
            env = heas_envs.make_parallel(p["env_id"], max_steps=max_steps, **p["params"])
            env.reset_arrays(seed=seed)
            set_trace(env, trace)
            agents, worlds, ctx = p.get("agents") or len(env.agents), 1, env.model.ctx
            if p["policy"] == "heuristic":
                policy = env.heuristic_actions
            else:
                shapes = {
                    r: (env.group(r).n_agents, *env.group(r).action_space.shape) for r in env.roles
                }
                fixed = _fixed_actions(p["policy"], shapes)

                def policy() -> dict:
                    return fixed

            def step() -> None:
                out = env.step_arrays(policy())
                if not any(a.any() for a in out.alive.values()):  # all died: a new episode
                    env.reset_arrays()
                if wolf_sheep:
                    alive.append(float(ctx["wolf_sheep.sheep"][0] + ctx["wolf_sheep.wolves"][0]))

        else:
            b = p["worlds"]
            venv = heas_envs.make_vec(p["env_id"], num_worlds=b, max_steps=max_steps, **p["params"])
            set_trace(venv, trace)
            venv.reset(seed=seed)
            probe = heas_envs.make_parallel(p["env_id"], max_steps=max_steps, **p["params"])
            probe.reset_arrays(seed=seed)
            agents, worlds = p.get("agents") or len(probe.agents), b
            if p["policy"] == "heuristic":
                policy = venv.heuristic_actions
            else:
                first = {r: np.asarray(o) for r, o in venv.heuristic_actions().items()}
                fixed = _fixed_actions(p["policy"], {r: a.shape for r, a in first.items()})

                def policy() -> dict:
                    return fixed

            def step() -> None:
                venv.step(policy())
                if wolf_sheep:
                    census = _census(venv)
                    if census is not None:
                        alive.append(census)

    else:
        raise ValueError(f"unknown measurement kind {kind!r}")
    done, seconds = timed_loop(step, warmup, steps, max_seconds)
    result = {
        "agent_steps_per_s": agents * worlds * done / seconds,
        "steps": done,
        "seconds": seconds,
        "agents": agents,
        "worlds": worlds,
    }
    if alive:
        result["mean_alive"] = sum(alive) / len(alive)
    return result


def set_trace(env: Any, on: bool) -> None:
    """Make ``env`` (one env or a vector env) record, or skip, the per-layer metrics of each
    step: its ``record_trace`` where it has one, else its model's."""
    if isinstance(getattr(type(env), "record_trace", None), property):
        env.record_trace = on
    else:
        env.model.record_trace = on


def _census(venv: Any) -> float | None:
    """Mean animals alive per world of a wolf-sheep vector env, where it can be read."""
    model = getattr(venv, "model", None)
    ctx = getattr(model, "ctx", None)
    if ctx is None or "wolf_sheep.sheep" not in ctx.data:
        return None
    return float((ctx["wolf_sheep.sheep"] + ctx["wolf_sheep.wolves"]).mean())


def _measure_mesa(p: dict, steps: int, warmup: int, max_seconds: float, seed: int) -> dict:
    """Mesa's example model ``p["model"]`` (imports Mesa here)."""
    params = {k: v for k, v in p.items() if k != "model"}
    alive: list[float] = []
    if p["model"] == "boltzmann":
        from mesa.examples import BoltzmannWealth

        model = BoltzmannWealth(seed=seed, **params)
        agents, step = params["n"], model.step
    else:
        from mesa.examples import WolfSheep
        from mesa.examples.advanced.wolf_sheep.agents import Sheep, Wolf
        from mesa.experimental.devs import ABMSimulator

        simulator = ABMSimulator()
        model = WolfSheep(seed=seed, simulator=simulator, **params)
        agents = params["initial_sheep"] + params["initial_wolves"]
        by_type = model.agents_by_type

        def step() -> None:
            simulator.run_for(1)  # model.step plus the grass regrowth events of the tick
            alive.append(float(len(by_type.get(Sheep, ())) + len(by_type.get(Wolf, ()))))

    done, seconds = timed_loop(step, warmup, steps, max_seconds)
    result = {
        "agent_steps_per_s": agents * done / seconds,
        "steps": done,
        "seconds": seconds,
        "agents": agents,
        "worlds": 1,
    }
    if alive:
        result["mean_alive"] = sum(alive) / len(alive)
    return result


def worker_main(argv: Sequence[str]) -> None:
    """The subprocess entry: ``argv[0]`` is the JSON of one run; prints its result line."""
    job = json.loads(argv[0])
    result = measure(
        job["task"], job["steps"], job["warmup"], job["max_seconds"], job["seed"], job["trace"]
    )
    print(RESULT + json.dumps(result), flush=True)


def run_in_subprocess(
    task: Task, s: Settings, seed: int, steps: int | None = None, timeout: float = 900.0
) -> dict:
    """One run of ``task`` in a fresh Python process; ``{"error": ...}`` if it failed.

    ``steps``: time exactly this many steps (no time limit) instead of ``s.steps`` or
    ``s.max_seconds``.
    """
    job = {
        "task": {"kind": task.kind, "params": task.params},
        "steps": s.steps if steps is None else steps,
        "warmup": s.warmup,
        "max_seconds": s.max_seconds if steps is None else 0.0,
        "seed": seed,
        "trace": s.trace,
    }
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bench; bench.worker_main(sys.argv[2:])"
    )
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"  # one thread for any BLAS or torch, on every side alike
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(SCRIPTS), json.dumps(job)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return {"error": tail[:200]}


# -- the table -------------------------------------------------------------------------------------
class Results:
    """The runs of every task, and their medians."""

    def __init__(self) -> None:
        self.runs: dict[str, list[dict]] = {}

    def add(self, key: str, result: dict) -> None:
        """Record one run of ``key``."""
        self.runs.setdefault(key, []).append(result)

    def median(self, key: str, field_: str = "agent_steps_per_s") -> float | None:
        """The median of ``field_`` over the successful runs of ``key``."""
        values = [r[field_] for r in self.runs.get(key, []) if field_ in r]
        return statistics.median(values) if values else None

    def cell(self, key: str) -> str:
        """The median agent-steps/s of ``key`` as text, or why there is none."""
        value = self.median(key)
        if value is not None:
            return fmt_rate(value)
        runs = self.runs.get(key)
        if not runs:
            return "not installed"
        return "error: " + str(runs[-1].get("error", "?"))[:60]

    def ratio(self, num: str, den: str) -> str:
        """The ratio of two medians as text (``-`` when either is missing)."""
        a, b = self.median(num), self.median(den)
        return fmt_ratio(a / b) if a is not None and b else "-"


def fmt_rate(value: float) -> str:
    """Agent-steps per second with thousands separators (three significant digits below 100)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def fmt_count(value: float | None) -> str:
    """A count such as ``1,234`` (``-`` for none)."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_ratio(value: float) -> str:
    """A speed-up such as ``12.3x``."""
    if value >= 100:
        return f"{value:,.0f}x"
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def heas_table(res: Results, ns: Sequence[int], b: int) -> str:
    """Section 1's table."""
    header = [
        "traders N",
        "HEAS 1.0.2",
        "dict API",
        "array API",
        f"vector B={b}",
        "numpy B=1",
        f"numpy B={b}",
        "dict / HEAS",
        "array / HEAS",
        "vector / HEAS",
        "numpy B=1 / HEAS",
        f"numpy B={b} / HEAS",
        "array / numpy B=1",
        f"vector / numpy B={b}",
    ]
    rows = []
    for n in ns:
        cols = ["heas", "dict", "array", "vec", "np1", "npB"]
        cells = [res.cell(f"{c}/{n}") for c in cols]
        ratios = [res.ratio(f"{c}/{n}", f"heas/{n}") for c in cols[1:]]
        ratios += [res.ratio(f"array/{n}", f"np1/{n}"), res.ratio(f"vec/{n}", f"npB/{n}")]
        rows.append([f"{n:,}", *cells, *ratios])
    return markdown(header, rows)


def mesa_table(res: Results, rows_: Sequence[tuple[str, str]], b: int) -> str:
    """Section 2's table."""
    header = [
        "model and size",
        "Mesa 3",
        "ours, 1 world",
        f"ours, B={b}",
        "ours 1 world / Mesa",
        f"ours B={b} / Mesa",
        f"mean animals alive (Mesa / ours / B={b} per world)",
        "ticks timed",
    ]
    rows = []
    for label, key in rows_:
        alive = [res.median(f"{c}/{key}", "mean_alive") for c in ("mesa", "ours1", "oursB")]
        shown = " / ".join("-" if a is None else f"{a:,.0f}" for a in alive)
        rows.append(
            [
                label,
                res.cell(f"mesa/{key}"),
                res.cell(f"ours1/{key}"),
                res.cell(f"oursB/{key}"),
                res.ratio(f"ours1/{key}", f"mesa/{key}"),
                res.ratio(f"oursB/{key}", f"mesa/{key}"),
                shown if key.startswith(WOLF_SHEEP) else "-",
                fmt_count(res.median(f"ours1/{key}", "steps")),
            ]
        )
    return markdown(header, rows)


def models_table(res: Results, ids: Sequence[str], b: int) -> str:
    """Section 3's table."""
    header = [
        "env",
        "agents",
        "array API, 1 world",
        f"vector env, B={b}",
        f"gain (B={b} / 1)",
        "ticks timed",
    ]
    rows = []
    for env_id in ids:
        runs = [r for r in res.runs.get(f"model1/{env_id}", []) if "agents" in r]
        agents = f"{runs[0]['agents']:,}" if runs else "-"
        rows.append(
            [
                env_id,
                agents,
                res.cell(f"model1/{env_id}"),
                res.cell(f"modelB/{env_id}"),
                res.ratio(f"modelB/{env_id}", f"model1/{env_id}"),
                fmt_count(res.median(f"model1/{env_id}", "steps")),
            ]
        )
    return markdown(header, rows)


# -- main ------------------------------------------------------------------------------------------
def installed(name: str) -> bool:
    """Whether a top-level package is installed, without importing it."""
    return importlib.util.find_spec(name) is not None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (fewer sizes and steps)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps per run (default 200; quick 20)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop a run's timing after this many seconds (0: never; default 1.0; quick 0.1)",
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps per run (default 3; quick 1)"
    )
    parser.add_argument("--worlds", type=int, default=64, help="B of the vector rows")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="our envs record the per-layer metrics of each step, as HEAS and Mesa's examples "
        "collect theirs (default: off, as our envs are by default)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("heas", "mesa", "models"),
        default=("heas", "mesa", "models"),
        help="sections to run",
    )
    args = parser.parse_args(argv)
    for name in ("repeats", "worlds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print the tables."""
    from tqdm import tqdm

    args = parse_args(argv)
    s = Settings(
        steps=args.steps if args.steps is not None else (20 if args.quick else 200),
        warmup=args.warmup if args.warmup is not None else (1 if args.quick else 3),
        max_seconds=args.max_seconds
        if args.max_seconds is not None
        else (0.1 if args.quick else 1.0),
        repeats=args.repeats,
        worlds=args.worlds,
        trace=args.trace,
    )
    have_heas, have_mesa = installed("heas"), installed("mesa")
    notes: dict[str, str] = {}
    if "heas" in args.only and not have_heas:
        notes["heas"] = f"HEAS is not installed: its column is skipped ({INSTALL_HINT})."
    if "mesa" in args.only and not have_mesa:
        notes["mesa"] = f"Mesa is not installed: its column is skipped ({INSTALL_HINT})."
    for note in notes.values():
        print(note, file=sys.stderr)

    ns = [1, 100, 1000] if args.quick else [1, 10, 100, 1000, 10000]
    tasks: list[Task] = []
    if "heas" in args.only:
        tasks += plan_heas(ns, s, have_heas)
    mesa_rows: list = []
    if "mesa" in args.only:
        more, mesa_rows = plan_mesa(s, have_mesa, args.quick)
        tasks += more
    model_ids: list[str] = []
    if "models" in args.only:
        more, model_ids = plan_models(s)
        tasks += more

    res = Results()
    start = time.perf_counter()
    with tqdm(total=len(tasks) * s.repeats, file=sys.stderr, desc="bench", unit="run") as bar:
        for r in range(s.repeats):
            for task in tasks:
                bar.set_postfix_str(f"repeat {r + 1}: {task.key[:60]}")
                lead = res.runs.get(task.follow, [])[r:] if task.follow else []
                steps = lead[0].get("steps") if lead else None
                result = run_in_subprocess(task, s, seed=r, steps=steps)
                if "error" in result:
                    tqdm.write(f"{task.key}: {result['error']}", file=sys.stderr)
                res.add(task.key, result)
                bar.update()
    elapsed = time.perf_counter() - start

    print(
        f"Agent-steps per second (agents x worlds x steps / s), median of {s.repeats} runs, each in "
        f"a fresh process; up to {s.steps} timed steps (or {s.max_seconds:g} s) after "
        f"{s.warmup} warm-up steps; our envs {'record' if s.trace else 'skip'} the per-step "
        f"metrics. Ratios are speed-ups of medians. Measured in {elapsed:.0f} s."
    )
    if "heas" in args.only:
        print("\n### HEAS quickstart rules: HEAS 1.0.2 vs the same rules on our runtime\n")
        if "heas" in notes:
            print(notes["heas"] + "\n")
        print(heas_table(res, ns, s.worlds))
    if "mesa" in args.only:
        print("\n### Mesa's example models vs our ports (Mesa's rules)\n")
        if "mesa" in notes:
            print(notes["mesa"] + "\n")
        print(mesa_table(res, mesa_rows, s.worlds))
    if "models" in args.only:
        print("\n### Every registered model at its default size (heuristic policy)\n")
        print(models_table(res, model_ids, s.worlds))


if __name__ == "__main__":
    main()
