"""Where independent tasks run: in this process, in a pool of processes, or on Ray.

:func:`run_tasks` maps a module-level function over tasks and hands each result back, with
its task's index, as soon as it is ready; the caller puts results in order, so what comes out
never depends on the back end. The sweeps (:func:`heas_envs.data.batch_run`) and the
tournament (``agents.tournament``) both run on it.

Tasks are drawn from their iterable only when a worker is about to be free (one task per
worker in flight, plus :data:`EXTRA_IN_FLIGHT` queued), so a caller's generator can decide at
the last moment whether a task is still needed (the tournament asks its store). The process
pool is started with ``"spawn"`` (a fresh interpreter: no state of the caller leaks into
workers; what Mesa forces anyway), and its workers end when the calling process dies. A Ray
started here (``ray.init(num_cpus=n_jobs)``, or joining the cluster at ``ray_address``) is shut
down when the tasks are done; a Ray running already in this process is used as it is, with a
warning when ``ray_address`` or ``n_jobs`` asked for another.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

BACKENDS = ("inprocess", "process", "ray")
#: Tasks queued beyond one per worker, so that a worker does not wait while the calling process
#: handles a result (what ``ProcessPoolExecutor`` prefetches anyway).
EXTRA_IN_FLIGHT = 1


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Iterable[Any],
    on_result: Callable[[int, Any], None],
    *,
    backend: str = "inprocess",
    n_jobs: int | None = None,
    ray_address: str | None = None,
) -> None:
    """Call ``fn(task)`` for every task and ``on_result(index, result)`` for each result, in
    the order results become ready (task order in-process); ``index`` counts the tasks in the
    order they were drawn from ``tasks``.

    Args:
        fn: A function importable by name (defined at module level) for the process pool.
        tasks: The tasks (drawn lazily, see the module docs); they must pickle for
            ``"process"`` and ``"ray"``.
        on_result: Called in this process with the task's index and ``fn``'s result.
        backend: ``"inprocess"``, ``"process"`` or ``"ray"``.
        n_jobs: Worker processes (``"process"``), CPUs of a Ray started here (``"ray"``);
            ``None``: 1, and no warning when a running Ray has another number of CPUs.
        ray_address: A Ray cluster to join; ``None`` starts Ray on this machine.

    Raises:
        ValueError: An unknown back end. An exception of a task is raised here (the tasks
            still pending or running are cancelled first).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    numbered = enumerate(tasks)
    if backend == "inprocess":
        for index, task in numbered:
            on_result(index, fn(task))
        return
    first = next(numbered, None)  # start no pool and no Ray for nothing
    if first is None:
        return
    todo = _chain(first, numbered)
    if backend == "process":
        _run_pool(fn, todo, on_result, n_jobs or 1)
    else:
        _run_ray(fn, todo, on_result, n_jobs, ray_address)


def _chain(first: tuple[int, Any], rest: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    yield first
    yield from rest


def _dispatch(
    todo: Iterator[tuple[int, Any]],
    limit: int,
    submit: Callable[[Any], Any],
    next_done: Callable[[list[Any]], tuple[int, Any]],
    on_result: Callable[[int, Any], None],
    in_flight: list[Any],
) -> None:
    """Keep at most ``limit`` tasks of ``todo`` in flight: ``submit(task)`` returns a handle,
    ``next_done(handles)`` waits for one and returns its position in ``handles`` and its
    result. ``in_flight`` holds the handles not finished yet (for the caller to cancel on an
    error)."""
    indices: list[int] = []

    def finish_one() -> None:
        position, result = next_done(in_flight)
        del in_flight[position]
        on_result(indices.pop(position), result)

    for index, task in todo:
        in_flight.append(submit(task))
        indices.append(index)
        if len(in_flight) >= limit:
            finish_one()
    while in_flight:
        finish_one()


def _run_pool(
    fn: Callable, todo: Iterator[tuple[int, Any]], on_result: Callable, workers: int
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    def next_done(futures: list[Any]) -> tuple[int, Any]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        position = next(k for k, f in enumerate(futures) if f in done)  # the earliest of them
        return position, futures[position].result()

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=watch_parent, initargs=(os.getpid(),)
    ) as pool:
        futures: list[Any] = []
        try:
            _dispatch(
                todo,
                workers + EXTRA_IN_FLIGHT,
                lambda task: pool.submit(fn, task),
                next_done,
                on_result,
                futures,
            )
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # do not wait for running tasks
            raise


def _run_ray(
    fn: Callable,
    todo: Iterator[tuple[int, Any]],
    on_result: Callable,
    n_jobs: int | None,
    address: str | None,
) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        if address is not None:
            ray.init(address=address, logging_level="ERROR")
        else:
            ray.init(num_cpus=n_jobs or 1, include_dashboard=False, logging_level="ERROR")
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        if not started:
            _warn_ray_running(address, n_jobs, cpus)
        remote = ray.remote(num_cpus=1)(fn)

        def next_done(refs: list[Any]) -> tuple[int, Any]:
            ready, _ = ray.wait(refs, num_returns=1)
            return refs.index(ready[0]), ray.get(ready[0])

        refs: list[Any] = []
        try:
            _dispatch(todo, cpus + EXTRA_IN_FLIGHT, remote.remote, next_done, on_result, refs)
        except BaseException:
            for ref in refs:  # a running Ray (not shut down here) would go on with them
                ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


def _warn_ray_running(address: str | None, n_jobs: int | None, cpus: int) -> None:
    """Warn that a Ray running already overrides ``ray_address`` / ``n_jobs``."""
    ignored = []
    if address is not None:
        ignored.append(f"ray_address={address!r}")
    if n_jobs is not None and n_jobs != cpus:
        ignored.append(f"n_jobs={n_jobs} (the running Ray has {cpus} CPUs)")
    if ignored:
        warnings.warn(
            f"Ray is already initialised in this process, so the tasks run on it and ignore "
            f"{' and '.join(ignored)}; call ray.shutdown() before the run to start a Ray "
            "with n_jobs CPUs or to join ray_address",
            UserWarning,
            stacklevel=5,  # the caller of run_tasks' caller (batch_run, Tournament.play)
        )


def watch_parent(parent: int) -> None:
    """Start a thread that ends this worker when its parent is gone (a pool's workers would
    otherwise outlive a main process killed with SIGKILL, waiting on their queue for ever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
