"""Parameter sweeps with Mesa's ``batch_run``: every combination of parameter values, a number
of iterations of each, rows of collected data ready for a DataFrame.

:func:`batch_run` takes Mesa's arguments and meanings:

- ``parameters``: name -> a constant or an iterable of values (a string is a constant); the
  runs cover the Cartesian product of the iterables, each combination ``iterations`` times;
- ``max_steps``: the steps of a run (here: the env's ``max_steps`` parameter, its truncation;
  a run also ends when nobody is left alive);
- ``data_collection_period``: ``-1`` keeps only the last step of each run, ``1`` every step
  (Step 0 is the state after reset), ``k`` every ``k``-th step and the last;
- ``number_processes``: ``1`` runs in this process, ``n`` in ``n`` worker processes, ``None``
  on every core;
- ``display_progress``: a progress bar over runs (tqdm);
- the result: a list of dicts, one per (run, collected step) with ``RunId``, ``iteration``,
  ``Step``, the run's parameters and the model reporters; with agent reporters, one per agent
  of each (run, step), with ``AgentID`` and the agent reporters (Mesa's layout).

Added here: ``policies`` (who acts, per role), the reporters (a
:class:`~heas_envs.data.DataCollector`'s), ``seed``, ``backend`` (``"inprocess"``,
``"process"``, ``"ray"``, as the tournament's) and a ``seed`` column.

**Where we differ from Mesa, and why.**

- *Batched iterations.* The iterations of one combination run as the worlds of one vector env
  (:func:`heas_envs.make_vec`), up to :data:`MAX_WORLDS` at a time, so a sweep costs far less
  than one model per run. World ``b`` seeded ``s_b`` is bit-identical to a single env reset
  with ``s_b`` (:mod:`heas_envs.env.vector`), and random play draws per world, so batching is
  a pure speed-up: a run's rows never depend on how many iterations were asked for, on the
  back end, on the number of processes or on how the work was split.
- *Seeds.* Mesa seeds nothing. Here run ``(parameters, iteration)`` of a sweep seeded ``seed``
  resets with :func:`run_seed` ``(seed, model_kwargs, iteration)``, a digest of the model's
  parameters (every one, defaults included, but ``max_steps``): a run keeps its seed when the
  sweep around it changes (values added, lists reordered, a default written out, more steps),
  and ``make_parallel(env_id, **params).reset(seed=row["seed"])`` replays it. Random play
  draws from :func:`~heas_envs.env.background.background_generator` ``(row["seed"])``, the
  random background's generator of that world in every view. Repeated values in one
  parameter's list are refused (they would be the same runs).
- *Steps.* Mesa steps a model ``max_steps + 1`` times and reports Steps ``0..max_steps``;
  here a run takes at most ``max_steps`` steps and Step ``max_steps`` is its final state.
  ``max_steps=None`` (the default; Mesa's is 1000) keeps the env's own. ``Step`` counts env
  steps: with ``decision="layer"`` (the economy) a tick is one step per decision layer, so a
  run of ``max_steps`` ticks has more Steps (and the period counts them).
- *Rows* come in ``(combination, iteration, Step, agent)`` order on every back end (Mesa's
  processes return them as they finish); ``RunId`` numbers runs in that order
  (``combination * iterations + iteration``; Mesa counts iteration-major); ``AgentID`` is
  the agent's PettingZoo id.
- *Default reporters*: every per-step metric of the env (Mesa needs the model's own
  ``datacollector``).

As with any process pool started with ``"spawn"``, a script using ``number_processes > 1``
must call :func:`batch_run` under ``if __name__ == "__main__":``, and its policies and
reporters must pickle (functions defined at module level; Ray also takes lambdas).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import pickle
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heas_envs.core.params import MAX_SEED, MAX_STEPS, check_int, show_value
from heas_envs.data.backends import BACKENDS, run_tasks
from heas_envs.data.collector import (
    AGENT_COLUMNS,
    DataCollector,
    obs_beyond_message,
    obs_feature,
)
from heas_envs.env.background import background_actions, background_generator, role_policies
from heas_envs.registration import env_params_class, env_spec, make_parallel, make_vec

#: The most iterations of one combination that run as the worlds of one vector env.
MAX_WORLDS = 64
#: The most iterations of one combination.
MAX_ITERATIONS = 1_000_000
#: The policies played by name (anything else is a function of one role's observations).
POLICY_NAMES = ("heuristic", "random")
#: The columns of every row besides the parameters and reporters.
RUN_COLUMNS = ("RunId", "iteration", "Step", "seed")


def run_seed(seed: int, model_kwargs: Mapping[str, Any], iteration: int) -> int:
    """The reset seed of iteration ``iteration`` of the run of ``model_kwargs`` (the model's
    parameters, every one but ``max_steps``) in a sweep seeded ``seed``:
    ``np.random.SeedSequence`` over ``seed``, 128 bits of the SHA-256 of the parameters as
    sorted JSON and the iteration, as an integer in ``[0, 2**63)``."""
    text = json.dumps(dict(model_kwargs), sort_keys=True)
    words = np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], dtype="<u4")
    state = np.random.SeedSequence([int(seed), *words.tolist(), int(iteration)]).generate_state(
        2, np.uint32
    )
    return int((int(state[0]) << 31) ^ int(state[1]))


def parameter_combinations(env_id: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Cartesian product of ``parameters`` (name -> constant or iterable of values; a
    string is a constant), in the order of the names, the last varying fastest; every value
    validated by the env's parameter declaration (and converted to its Python type).

    Raises:
        ValueError: An unknown parameter (listing the valid ones), a value outside its range,
            an empty or repeated list of values, a mapping as values, or a combination that
            breaks a rule between parameters (the message names the combination).
    """
    declared = env_params_class(env_id)
    if not isinstance(parameters, Mapping):
        raise ValueError(
            f"parameters must be a mapping from name to value or values, got "
            f"{show_value(parameters)}"
        )
    unknown = [k for k in parameters if k not in declared.names()]
    if unknown:
        raise ValueError(declared._unknown_message(sorted(map(str, unknown)), env_id))
    lists: list[list[tuple[str, Any]]] = []
    for name, values in parameters.items():
        info = declared.info(name)
        if isinstance(values, Mapping):
            raise ValueError(
                f"parameter {name!r}: give one value or a list of values, not a mapping"
            )
        chosen = [values]
        if not isinstance(values, (str, bytes)) and isinstance(values, Iterable):
            try:
                chosen = list(values)
            except TypeError:  # iterable in type only, such as a 0-d array: a constant
                pass
            if not chosen:
                raise ValueError(f"parameter {name!r} has an empty list of values")
        checked = [info.validate(v) for v in chosen]
        shown = [json.dumps(v) for v in checked]
        if len(set(shown)) != len(shown):
            raise ValueError(
                f"parameter {name!r} repeats a value in {checked}: the runs would be the same "
                "(more runs of one combination: iterations)"
            )
        lists.append([(name, v) for v in checked])
    combinations = [dict(items) for items in itertools.product(*lists)]
    for combo in combinations:
        try:
            declared.from_kwargs(combo, env_id)
        except ValueError as err:
            raise ValueError(f"the combination {combo}: {err}") from None
    return combinations


@dataclass(frozen=True)
class RunBatch:
    """Iterations of one combination played as the worlds of one vector env (a task).

    Attributes:
        env_id: The env id.
        params: The env's parameters (the combination, and ``max_steps`` if given apart).
        columns: The combination as given (the parameter columns of the rows).
        run_ids: ``RunId`` of each world.
        iterations: The iteration of each world.
        seeds: The reset seed of each world.
        period: ``data_collection_period``.
        policies: Per role, ``"heuristic"``, ``"random"`` or a function.
        model_reporters: The collector's model reporters (``None``: every metric).
        agent_reporters: The collector's agent reporters.
        agent_roles: The roles whose agents get rows.
    """

    env_id: str
    params: dict[str, Any]
    columns: dict[str, Any]
    run_ids: tuple[int, ...]
    iterations: tuple[int, ...]
    seeds: tuple[int, ...]
    period: int
    policies: Any
    model_reporters: dict[str, Any] | None
    agent_reporters: dict[str, Any] | None
    agent_roles: tuple[str, ...] | None


def play_runs(batch: RunBatch) -> list[dict[str, Any]]:
    """Play the runs of ``batch`` and return their rows (iteration, step, agent order).

    Each world steps until its episode ends (truncation at ``max_steps``, or nobody alive);
    its rows stop there, while the others go on.
    """
    B = len(batch.seeds)
    venv = make_vec(batch.env_id, num_worlds=B, autoreset="next_step", **batch.params)
    chosen = batch.policies
    if isinstance(chosen, Mapping):  # a role swept out of this combination plays nothing
        chosen = {r: p for r, p in chosen.items() if r in venv.roles}
    policies = role_policies(chosen, venv.roles)
    generators = [background_generator(s) for s in batch.seeds]
    collector = DataCollector(
        batch.model_reporters,
        batch.agent_reporters,
        None if batch.agent_roles is None else [r for r in batch.agent_roles if r in venv.roles],
    )
    obs, _ = venv.reset(seed=list(batch.seeds))
    running = np.ones(B, dtype=bool)
    if batch.period > 0:
        collector.collect(venv, step=0)
    step = 0
    while running.any():
        out = venv.step(background_actions(venv, policies, obs, generators))
        obs, step = out.obs, step + 1
        ended = out.info["ended"] & running
        keep = running if batch.period > 0 and step % batch.period == 0 else ended
        if keep.any():
            collector.collect(venv, step=step, result=out, worlds=keep)
        running &= ~ended
    venv.close()
    return _rows(batch, collector)


def _rows(batch: RunBatch, collector: DataCollector) -> list[dict[str, Any]]:
    """The collector's rows in Mesa's layout, ordered by world, step and agent."""
    by_world: list[list[dict[str, Any]]] = [[] for _ in batch.seeds]
    agents: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in collector.agent_rows:
        agents.setdefault((row["World"], row["Step"]), []).append(row)
    for model_row in collector.model_rows:
        b, step = model_row["World"], model_row["Step"]
        head = {
            "RunId": batch.run_ids[b],
            "iteration": batch.iterations[b],
            "Step": step,
            "seed": batch.seeds[b],
            **batch.columns,
        }
        head.update((k, v) for k, v in model_row.items() if k not in ("World", "Step"))
        mine = agents.get((b, step))
        if not mine:  # no agent reporters, or nobody to report: one row (as Mesa does)
            by_world[b].append(head)
            continue
        for agent_row in mine:
            row = dict(head)
            row.update((k, v) for k, v in agent_row.items() if k not in ("World", "Step"))
            by_world[b].append(row)
    return [row for rows in by_world for row in rows]


def batch_run(
    env_id: str,
    parameters: Mapping[str, Any] | None = None,
    number_processes: int | None = 1,
    iterations: int = 1,
    data_collection_period: int = -1,
    max_steps: int | None = None,
    display_progress: bool = True,
    *,
    policies: Any = None,
    model_reporters: Mapping[str, Any] | None = None,
    agent_reporters: Mapping[str, Any] | None = None,
    agent_roles: Sequence[str] | None = None,
    seed: int = 0,
    backend: str | None = None,
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``env_id`` over every combination of ``parameters``, ``iterations`` times each, and
    return the collected rows (see the module docs for the semantics and Mesa's differences).

    Example:
        >>> rows = batch_run("heas_envs/Market-v0", {"n_traders": [5, 20], "volatility": 0.02},
        ...                  iterations=3, max_steps=50, data_collection_period=10)
        >>> pd.DataFrame(rows).groupby(["n_traders", "Step"])["price.price"].mean()

    Args:
        env_id: A registered env id.
        parameters: Model parameter -> a constant or an iterable of values (a string is a
            constant); default: the env's defaults (one combination).
        number_processes: Workers (processes, or the CPUs of a Ray started here); ``None``:
            every core. ``1`` with the default back end runs in this process.
        iterations: Runs of each combination, in [1, :data:`MAX_ITERATIONS`].
        data_collection_period: ``-1`` (the last step of each run), ``1`` (every step, Step 0
            included) or ``k > 1`` (Steps 0, k, 2k, ... and the last).
        max_steps: The steps of a run (the env's ``max_steps``); ``None``: the env's default,
            or the ``max_steps`` given in ``parameters``.
        display_progress: A progress bar over runs on standard error.
        policies: Who acts: ``"heuristic"`` (the model's reference policy), ``"random"``
            (uniform actions, each run drawing from its own generator) or a function of one
            role's observations ``[B, n, *obs]`` to its actions ``[B, n, *act]``, called on
            the worlds of one batch (row ``b`` is one run: act on each row alone, or a run's
            rows depend on the batch); one for every role, or a mapping role -> policy (roles
            left out play the heuristic). Default: the heuristic everywhere.
        model_reporters: Name -> metric key or ``f(env) -> [B]`` (see
            :class:`~heas_envs.data.DataCollector`); ``None``: every per-step metric.
        agent_reporters: Name -> ``"reward"``, ``"alive"``, ``"obs[k]"`` or
            ``f(env, role) -> [B, n]``; ``None``: one row per run and step, no agent rows.
        agent_roles: The roles whose agents get rows (default: every role).
        seed: The sweep's seed, in [0, 2**63 - 1] (see :func:`run_seed`).
        backend: ``"inprocess"``, ``"process"`` (a pool of ``number_processes`` processes
            started with ``"spawn"``) or ``"ray"``; ``None``: in-process for one process,
            else the process pool.
        ray_address: A Ray cluster to join (``backend="ray"``); ``None`` starts Ray here
            unless it runs already (a Ray started here is shut down at the end).

    Returns:
        The rows, in ``(combination, iteration, Step, agent)`` order.

    Raises:
        ValueError: Bad input, before anything runs: an unknown env id, parameter or role
            (each listing the valid ones), a value out of range, a bad period, iteration
            count, seed, back end or policy, an unknown metric, or (with processes) a policy
            or reporter that does not pickle.
    """
    spec = env_spec(env_id)
    combos = parameter_combinations(env_id, parameters or {})
    iterations = check_int("iterations", iterations, 1, MAX_ITERATIONS)
    period = check_int("data_collection_period", data_collection_period, -1, MAX_STEPS)
    if period == 0:
        raise ValueError(
            "data_collection_period must be -1 (the last step of each run), 1 (every step) or "
            "k > 1 (every k-th step and the last), got 0"
        )
    seed = check_int("seed", seed, 0, MAX_SEED)
    if max_steps is not None:
        max_steps = check_int("max_steps", max_steps, 1, MAX_STEPS)
        if "max_steps" in (parameters or {}):
            raise ValueError("give max_steps or the parameter max_steps, not both")
    backend, workers = _backend(backend, number_processes, ray_address)
    collector = DataCollector(model_reporters, agent_reporters, agent_roles)  # checks them
    taken = set(RUN_COLUMNS) | set(AGENT_COLUMNS) | {k for c in combos for k in c}
    clash = sorted(taken & {*(collector.model_reporters or {}), *collector.agent_reporters})
    if clash:
        raise ValueError(f"reporter names {clash} are columns of the rows; choose other names")
    policies = _checked_policies(policies)
    batches, roles = _batches(
        spec.id,
        combos,
        max_steps,
        iterations,
        seed,
        period,
        policies,
        collector,
        workers if backend != "inprocess" else 1,
    )
    unknown = (
        sorted(str(r) for r in policies if r not in roles) if isinstance(policies, Mapping) else []
    )
    if unknown:
        raise ValueError(f"policies name unknown roles {unknown}; roles are {sorted(roles)}")
    unknown = sorted(set(collector.roles or ()) - roles)
    if unknown:
        raise ValueError(
            f"agent_roles {unknown} are not roles of {env_id}; roles are {sorted(roles)}"
        )
    if backend != "inprocess":
        _check_pickles(backend, policies, collector)
    return _play(
        batches, backend, workers, ray_address, display_progress, env_id, len(combos) * iterations
    )


def _batches(
    env_id: str,
    combos: list[dict[str, Any]],
    max_steps: int | None,
    iterations: int,
    seed: int,
    period: int,
    policies: Any,
    collector: DataCollector,
    workers: int,
) -> tuple[list[RunBatch], set[str]]:
    """The tasks of a sweep, in row order, and every role of its envs (one env of each
    combination is built to check the reporters against it and to give the runs' seeds)."""
    batches: list[RunBatch] = []
    roles: set[str] = set()
    chunks = _chunks(iterations, len(combos), workers)
    for c, combo in enumerate(combos):
        env_params = combo if max_steps is None else {**combo, "max_steps": max_steps}
        probe = make_parallel(env_id, **env_params)
        roles.update(probe.roles)
        _probe_reporters(probe, collector, combo)
        for part in chunks:
            batches.append(
                RunBatch(
                    env_id=env_id,
                    params=env_params,
                    columns=combo,
                    run_ids=tuple(c * iterations + i for i in part),
                    iterations=tuple(part),
                    seeds=tuple(run_seed(seed, probe.params, i) for i in part),
                    period=period,
                    policies=policies,
                    model_reporters=collector.model_reporters,
                    agent_reporters=collector.agent_reporters or None,
                    agent_roles=None if collector.roles is None else tuple(collector.roles),
                )
            )
    return batches, roles


def _play(
    batches: list[RunBatch],
    backend: str,
    workers: int,
    ray_address: str | None,
    display_progress: bool,
    desc: str,
    total: int,
) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    results: list[list[dict[str, Any]] | None] = [None] * len(batches)
    with tqdm(
        total=total, desc=desc, unit="run", disable=not display_progress, file=sys.stderr
    ) as bar:

        def finish(index: int, rows: list[dict[str, Any]]) -> None:
            results[index] = rows
            bar.update(len(batches[index].seeds))

        run_tasks(
            play_runs,
            batches,
            finish,
            backend=backend,
            n_jobs=None if workers == 1 else workers,  # Mesa's default 1 asks for no Ray size
            ray_address=ray_address,
        )
    return [row for rows in results for row in rows or ()]


def _backend(backend: Any, number_processes: Any, ray_address: Any) -> tuple[str, int]:
    if number_processes is None:
        workers = os.cpu_count() or 1
    else:
        workers = check_int("number_processes", number_processes, 1, 4096)
    if backend is None:
        backend = "inprocess" if workers == 1 and ray_address is None else "process"
        if ray_address is not None:
            backend = "ray"
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {list(BACKENDS)} or None, got {show_value(backend)}"
        )
    if backend == "inprocess" and workers != 1:
        raise ValueError(
            f"number_processes={number_processes} needs backend 'process' or 'ray' "
            "(the in-process back end is one process)"
        )
    if ray_address is not None and (backend != "ray" or not isinstance(ray_address, str)):
        raise ValueError(
            f"ray_address is the address string of a Ray cluster, for backend 'ray'; got "
            f"{show_value(ray_address)} with backend {backend!r}"
        )
    return backend, workers


def _chunks(iterations: int, n_combos: int, workers: int) -> list[list[int]]:
    """The iterations of one combination split into tasks: at most :data:`MAX_WORLDS` each,
    and enough of them to keep ``workers`` busy when there are fewer combinations."""
    parts = max(math.ceil(iterations / MAX_WORLDS), min(iterations, math.ceil(workers / n_combos)))
    return [p.tolist() for p in np.array_split(np.arange(iterations), parts)]


def _probe_reporters(probe: Any, collector: DataCollector, combo: Mapping[str, Any]) -> None:
    """Refuse, before anything runs, a metric that the env of ``combo`` does not have, or an
    ``"obs[k]"`` beyond the observation of a role it reports."""
    roles = [r for r in probe.roles if collector.roles is None or r in collector.roles]
    for name, reporter in collector.agent_reporters.items():
        k = obs_feature(reporter)
        for role in roles if k is not None else ():
            size = int(np.prod(probe.group(role).observation_space.shape))
            if k >= size:
                raise ValueError(obs_beyond_message(name, reporter, role, size))
    names = [r for r in (collector.model_reporters or {}).values() if isinstance(r, str)]
    if not names:
        return
    probe.reset(seed=0)
    metrics = probe.metrics()
    for name, reporter in (collector.model_reporters or {}).items():
        if isinstance(reporter, str) and reporter not in metrics:
            where = f" with {dict(combo)}" if combo else ""
            raise ValueError(
                f"model_reporters[{name!r}]: {reporter!r} is not a metric of the env{where}; "
                f"its metrics: {sorted(metrics)}"
            )


def _checked_policies(policies: Any) -> Any:
    """``policies`` (``None``: the heuristic) if each is a known name or a function."""
    policies = "heuristic" if policies is None else policies
    chosen = policies if isinstance(policies, Mapping) else {"every role": policies}
    for role, policy in chosen.items():
        if isinstance(policy, str) and policy in POLICY_NAMES:
            continue
        if not isinstance(policy, str) and callable(policy):
            continue
        which = role if role == "every role" else f"role {role!r}"
        raise ValueError(
            f"the policy of {which} must be one of {list(POLICY_NAMES)} or a function "
            f"of the role's observations [B, n, *obs] -> actions, got {show_value(policy)}"
        )
    return policies


def _check_pickles(backend: str, policies: Any, collector: DataCollector) -> None:
    """Refuse what cannot travel to a worker, naming it: what does not pickle, and (for the
    process pool) functions defined interactively, which spawned workers cannot import."""
    if backend == "ray":
        from ray import cloudpickle as pickler
    else:
        pickler = pickle
    items: list[tuple[str, Any]] = []
    if isinstance(policies, Mapping):
        items += [(f"the policy of role {r!r}", p) for r, p in policies.items()]
    else:
        items.append(("the policy", policies))
    items += [(f"model_reporters[{k!r}]", v) for k, v in (collector.model_reporters or {}).items()]
    items += [(f"agent_reporters[{k!r}]", v) for k, v in collector.agent_reporters.items()]
    interactive = not hasattr(sys.modules.get("__main__"), "__file__")
    for what, value in items:
        if isinstance(value, str):
            continue
        try:
            pickler.dumps(value)
            problem = None
        except Exception as err:
            problem = f"does not pickle ({err})"
        if problem is None and backend == "process" and interactive:
            if getattr(value, "__module__", None) == "__main__":
                problem = "is defined interactively, where spawned workers cannot import it"
        if problem is not None:
            raise ValueError(
                f"backend {backend!r} sends policies and reporters to other processes; {what} "
                f"({show_value(value)}) {problem}. Define it in a module (not as a lambda or a "
                "local function), or use one process"
            )
