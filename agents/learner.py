"""One learner and several inference workers: PPO whose experience is collected in parallel.

:func:`train_workers` trains one role of a registered env with Stable-Baselines3's ``PPO``, the
policy :class:`~agents.sb3.HeasActorCriticPolicy` (so its actor is our
:class:`~agents.policies.MLPPolicy`, a flat vector for evolution as after :func:`agents.sb3.
train_sb3`), with the experience collected by ``n_workers`` inference workers: in-process
objects (``"inprocess"``), persistent processes on a pipe each (``"process"``, like SB3's
``SubprocVecEnv``) or Ray actors (``"ray"``).

In palaestrAI's terms an agent is a *brain* (the learner) feeding *muscles* (inference
workers):

- **brain** = the learner, this process: it owns the SB3 ``PPO`` model (policy, optimizer,
  ``rollout_buffer``) and nothing of the env but its spaces. Each iteration it pushes the
  policy's weights (its ``state_dict``: actor and critic) to every worker, puts the workers'
  experience side by side on the buffer's env axis (worker order), computes returns and
  advantages (``RolloutBuffer.compute_returns_and_advantage``) and runs SB3's own update
  (``PPO.train``).
- **muscles** = the inference workers: each holds its own
  :class:`~agents.sb3.SharedRoleVecEnv` of ``worlds_per_worker`` worlds (made once and stepped
  on across iterations, so episodes run on over iteration boundaries) and a copy of the policy.
  Given the weights, a worker acts for ``n_steps`` steps as ``OnPolicyAlgorithm.
  collect_rollouts`` does (sampled actions, clipped into a ``Box`` for the env, values and
  log-probabilities, truncated episodes bootstrapped with ``gamma * V(terminal_observation)``)
  and sends back the observations, actions, rewards, episode starts, values, log-probabilities,
  the last observations' values and dones, and the returns of the episodes that ended.

What is synchronous: the weights are pushed once per iteration and every worker collects its
``n_steps`` with those same weights before the learner updates (PPO is on-policy: no worker
ever acts with stale weights). The workers collect at the same time (processes, Ray actors) or
one after the other (in-process); the learner waits for all of them.

Determinism: world ``b`` of worker ``w`` is seeded ``seed + (w * worlds_per_worker + b) *
seats`` (what one :class:`~agents.sb3.SharedRoleVecEnv` of all the worlds gets in
:func:`~agents.sb3.train_sb3`); worker ``w`` samples its actions in iteration ``i`` from torch's
generator seeded from ``(seed, w, i)`` inside ``torch.random.fork_rng`` (so in-process workers
leave the caller's global torch generator as it was), with one torch thread; the learner's
``PPO`` is seeded with ``seed`` (initial weights, minibatch shuffling), as in
:func:`~agents.sb3.train_sb3` (SB3 seeds Python's, numpy's and torch's global generators when
it builds the model). So the same arguments,
``n_workers`` included, give the same final weights on every back end (``"inprocess"``,
``"process"``, ``"ray"``) on one machine; another number of workers or worlds gives other
worlds and other draws, hence other weights.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices
from torch import nn

from agents.runs import new_run_dir
from agents.sb3 import HeasActorCriticPolicy, SharedRoleVecEnv, sb3_objective
from agents.threads import set_torch_threads
from heas_envs.core.callbacks import Callback, as_callbacks
from heas_envs.core.params import check_int
from heas_envs.data.backends import BACKENDS, watch_parent
from heas_envs.env.background import Background
from heas_envs.scenarios.objective import Objective

#: The algorithm the learner runs (and the ``algo`` part of the run directory's name).
ALGO = "PPO"
#: ``PPO`` arguments that :func:`train_workers` sets itself (``n_steps`` is its own argument) or
#: cannot honour (state-dependent exploration resamples noise inside the collection loop).
RESERVED_ALGO_KWARGS = (
    "policy",
    "env",
    "n_steps",
    "seed",
    "device",
    "use_sde",
    "sde_sample_freq",
    "tensorboard_log",
    "_init_setup_model",
)


# -- what a worker is told and sends back -------------------------------------------------------
@dataclass(frozen=True)
class WorkerSpec:
    """What an inference worker is built from (it pickles, for processes and Ray).

    Attributes:
        env_id: A registered env id.
        role: The trained role.
        worker: The worker's index ``w``.
        num_worlds: Its worlds.
        seats: Seats per world.
        seed: The run's seed (the worker's worlds are seeded from it and ``worker``).
        background: The other roles' policy.
        reward_objective: The role's objective (``to_dict()``) or ``None``.
        env_params: Model parameters.
        policy_params: The learner policy's constructor arguments (SB3's
            ``_get_constructor_parameters``).
        n_steps: Steps collected per iteration.
        gamma: The discount (for bootstrapping truncated episodes).
    """

    env_id: str
    role: str
    worker: int
    num_worlds: int
    seats: int
    seed: int
    background: Any
    reward_objective: dict[str, Any] | None
    env_params: dict[str, Any]
    policy_params: dict[str, Any]
    n_steps: int
    gamma: float


@dataclass
class Experience:
    """One worker's ``n_steps`` of experience, SB3's rollout-buffer layout (``n`` its envs).

    Attributes:
        observations: ``[n_steps, n, *obs_shape]``.
        actions: ``[n_steps, n, action_dim]``: the sampled actions (not clipped).
        rewards: ``[n_steps, n]``: the env's rewards, plus ``gamma * V(terminal_observation)``
            where a seat's episode was truncated.
        episode_starts: ``[n_steps, n]``: 1 where the observation starts an episode.
        values: ``[n_steps, n]``: the critic's values of the observations.
        log_probs: ``[n_steps, n]``: the log-probabilities of the actions.
        last_values: ``[n]``: the values of the observations after the last step.
        dones: ``[n]``: whether the last step ended a seat's episode.
        episode_returns: The undiscounted returns of the seat-episodes that ended.
        reward_sum: The sum of the env's rewards over all seat-steps (no bootstrap).
        seconds: The worker's own time collecting.
        seat_steps: Seat-steps so far in the worker's env (all iterations).
        empty_steps: Of those, the steps of empty seats.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray
    values: np.ndarray
    log_probs: np.ndarray
    last_values: np.ndarray
    dones: np.ndarray
    episode_returns: np.ndarray
    reward_sum: float
    seconds: float
    seat_steps: int
    empty_steps: int


def sample_seed(seed: int, worker: int, iteration: int) -> int:
    """The seed of worker ``worker``'s action samples in iteration ``iteration`` of a run
    seeded ``seed`` (one 64-bit word of ``np.random.SeedSequence([seed, worker, iteration])``)."""
    state = np.random.SeedSequence([seed, worker, iteration]).generate_state(1, np.uint64)
    return int(state[0])


class InferenceWorker:
    """A muscle: its own worlds and a copy of the policy, collecting with pushed weights.

    It does not set torch's thread count (the process and Ray wrappers set one thread; in the
    learner's process :func:`train_workers` does it around :meth:`collect`).

    Args:
        spec: What to build.
        callbacks: Hooks registered on the worker's worlds (in-process workers only).
    """

    def __init__(self, spec: WorkerSpec, callbacks: Sequence[Callback] = ()) -> None:
        self.spec = spec
        self.env = SharedRoleVecEnv(
            spec.env_id,
            spec.role,
            num_worlds=spec.num_worlds,
            seats=spec.seats,
            background=spec.background,
            reward_objective=spec.reward_objective,
            callbacks=list(callbacks) or None,
            **spec.env_params,
        )
        with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten anyway
            self.policy = HeasActorCriticPolicy(**spec.policy_params)
        self.policy.set_training_mode(False)
        n = self.env.num_envs
        self.action_dim = get_action_dim(self.env.action_space)
        self.env.seed(spec.seed + spec.worker * n)  # world b: seed + (w * worlds + b) * seats
        self.last_obs = self.env.reset()
        self.last_episode_starts = np.ones(n, dtype=bool)
        self.running = np.zeros(n)  # each seat's return in its current episode

    def collect(self, weights: Mapping[str, np.ndarray], iteration: int) -> Experience:
        """Load ``weights`` and collect ``n_steps`` steps (SB3's ``collect_rollouts``).

        Args:
            weights: The learner policy's ``state_dict`` as numpy arrays.
            iteration: The iteration (seeds the action samples with the run's seed and the
                worker's index).
        """
        start = time.perf_counter()
        spec, env, policy = self.spec, self.env, self.policy
        policy.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
        policy.set_training_mode(False)
        T, n = spec.n_steps, env.num_envs
        observations = np.zeros((T, n, *env.observation_space.shape), dtype=np.float32)
        actions_out = np.zeros((T, n, self.action_dim), dtype=env.action_space.dtype)
        rewards_out = np.zeros((T, n), dtype=np.float32)
        starts = np.zeros((T, n), dtype=np.float32)
        values_out = np.zeros((T, n), dtype=np.float32)
        log_probs_out = np.zeros((T, n), dtype=np.float32)
        returns: list[float] = []
        reward_sum = 0.0
        box = isinstance(env.action_space, spaces.Box)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed(spec.seed, spec.worker, iteration))
            for t in range(T):
                with torch.no_grad():
                    obs_tensor = obs_as_tensor(self.last_obs, policy.device)
                    actions, values, log_probs = policy(obs_tensor)
                actions_np = actions.cpu().numpy()
                clipped = actions_np
                if box:
                    clipped = np.clip(actions_np, env.action_space.low, env.action_space.high)
                new_obs, rewards, dones, infos = env.step(clipped)
                reward_sum += float(rewards.sum(dtype=np.float64))
                self.running += rewards
                for idx in np.flatnonzero(dones):
                    returns.append(float(self.running[idx]))
                    self.running[idx] = 0.0
                    info = infos[idx]
                    if info.get("terminal_observation") is not None and info.get(
                        "TimeLimit.truncated", False
                    ):
                        terminal = policy.obs_to_tensor(info["terminal_observation"])[0]
                        with torch.no_grad():
                            terminal_value = policy.predict_values(terminal)[0]  # type: ignore[arg-type]
                        rewards[idx] += (spec.gamma * terminal_value).item()
                observations[t] = self.last_obs
                actions_out[t] = actions_np.reshape(n, self.action_dim)
                rewards_out[t] = rewards
                starts[t] = self.last_episode_starts
                values_out[t] = values.cpu().numpy().reshape(-1)
                log_probs_out[t] = log_probs.cpu().numpy().reshape(-1)
                self.last_obs = new_obs
                self.last_episode_starts = dones
            with torch.no_grad():
                last_values = policy.predict_values(obs_as_tensor(new_obs, policy.device))
        return Experience(
            observations,
            actions_out,
            rewards_out,
            starts,
            values_out,
            log_probs_out,
            last_values.cpu().numpy().reshape(-1).astype(np.float32),
            np.asarray(dones, dtype=bool).copy(),
            np.asarray(returns, dtype=np.float64),
            reward_sum,
            time.perf_counter() - start,
            env.seat_steps,
            env.empty_steps,
        )

    def close(self) -> None:
        """Close the worlds."""
        self.env.close()


# -- the three back ends -------------------------------------------------------------------------
class _InProcessWorkers:
    """The workers as objects of this process, collecting one after the other (one torch
    thread while they collect, the caller's count restored after)."""

    def __init__(self, specs: list[WorkerSpec], callbacks: Sequence[Callback] = ()) -> None:
        self.workers: list[InferenceWorker] = []
        try:
            for spec in specs:
                self.workers.append(InferenceWorker(spec, callbacks))
        except BaseException:
            self.close()
            raise

    def collect(self, weights: dict[str, np.ndarray], iteration: int) -> list[Experience]:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return [worker.collect(weights, iteration) for worker in self.workers]
        finally:
            torch.set_num_threads(threads)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def _worker_process(connection: Any, parent: int, spec: WorkerSpec) -> None:
    """A worker process's loop: ``("collect", (weights, iteration))`` answers ``("ok",
    Experience)``, ``("close", None)`` (or a closed pipe) ends it; an error answers
    ``("error", (exception, traceback))``."""
    watch_parent(parent)
    set_torch_threads(1)
    try:
        worker = InferenceWorker(spec)
    except BaseException as exc:  # noqa: BLE001 - handed to the learner
        connection.send(("error", _pickled_error(exc)))
        return
    connection.send(("ok", None))
    try:
        while True:
            try:
                command, payload = connection.recv()
            except (EOFError, OSError):
                return
            if command == "close":
                return
            try:
                connection.send(("ok", worker.collect(*payload)))
            except Exception as exc:  # noqa: BLE001 - handed to the learner
                connection.send(("error", _pickled_error(exc)))
    finally:
        worker.close()


def _pickled_error(exc: BaseException) -> tuple[BaseException | None, str]:
    """``exc`` (``None`` if it does not pickle) and its traceback, for the learner."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001
        return None, text
    return exc, text


class _ProcessWorkers:
    """One persistent ``"spawn"`` process per worker, each on its own pipe; daemonic and
    watching this process (they end when it dies)."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        import multiprocessing

        try:
            pickle.dumps(specs[0])
        except Exception as exc:  # noqa: BLE001
            raise ValueError(
                f"backend 'process' sends the worker's arguments to a new process, and they do "
                f"not pickle ({exc}); give a background (and env_params) that pickle (names, "
                "module-level functions) or use backend 'inprocess' or 'ray'"
            ) from exc
        context = multiprocessing.get_context("spawn")
        self.connections: list[Any] = []
        self.processes: list[Any] = []
        try:
            self._start(context, specs)
            self._receive()  # every worker built (or the first error raised)
        except BaseException:
            self.close()
            raise

    def _start(self, context: Any, specs: list[WorkerSpec]) -> None:
        for spec in specs:
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_worker_process,
                args=(theirs, os.getpid(), spec),
                name=f"heas-inference-worker-{spec.worker}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.connections.append(mine)
            self.processes.append(process)

    def collect(self, weights: dict[str, np.ndarray], iteration: int) -> list[Experience]:
        for connection in self.connections:
            connection.send(("collect", (weights, iteration)))
        return self._receive()

    def _receive(self) -> list[Any]:
        results, error = [], None
        for w, connection in enumerate(self.connections):
            try:
                status, payload = connection.recv()
            except (EOFError, OSError) as exc:
                status, payload = "error", (None, _died(w, exc))
            if status == "error" and error is None:
                error = (w, payload)
            results.append(payload)
        if error is not None:
            _raise_worker_error(*error)
        return results

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for connection in self.connections:
            connection.close()


def _died(worker: int, exc: BaseException) -> str:
    return (
        f"inference worker {worker} ended without an answer ({exc!r}). Its process is "
        "started with 'spawn', which imports the calling script again: a script must guard "
        "its entry point with `if __name__ == '__main__':`"
    )


def _raise_worker_error(worker: int, error: tuple[BaseException | None, str]) -> None:
    exc, text = error
    if exc is None:
        raise RuntimeError(f"inference worker {worker} failed:\n{text}")
    exc.add_note(f"(raised in inference worker {worker}; its traceback:)\n{text}")
    raise exc


class _RayWorker:
    """An :class:`InferenceWorker` as a Ray actor (one torch thread)."""

    def __init__(self, spec: WorkerSpec) -> None:
        set_torch_threads(1)
        self.worker = InferenceWorker(spec)

    def collect(self, weights: dict[str, np.ndarray], iteration: int) -> Experience:
        return self.worker.collect(weights, iteration)


class _RayWorkers:
    """One Ray actor per worker (``num_cpus=1``); a Ray started here (``ray.init(num_cpus=
    n_workers, include_dashboard=False)``) is shut down at :meth:`close`, a running one is
    used as it is."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        import ray

        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(num_cpus=len(specs), include_dashboard=False, logging_level="ERROR")
        self.actors: list[Any] = []
        try:
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus < len(specs):
                warnings.warn(
                    f"the running Ray has {cpus} CPUs for {len(specs)} inference workers of "
                    "one CPU each: the workers that find no CPU wait for one",
                    UserWarning,
                    stacklevel=4,
                )
            remote = ray.remote(num_cpus=1)(_RayWorker)
            self.actors = [remote.remote(spec) for spec in specs]
        except BaseException:
            self.close()
            raise

    def collect(self, weights: dict[str, np.ndarray], iteration: int) -> list[Experience]:
        ref = self.ray.put(weights)
        return self.ray.get([actor.collect.remote(ref, iteration) for actor in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self.started:
            self.ray.shutdown()
            self.started = False


_POOLS = {"inprocess": _InProcessWorkers, "process": _ProcessWorkers, "ray": _RayWorkers}


# -- the learner ----------------------------------------------------------------------------------
class _SpacesVecEnv(VecEnv):
    """The learner's stand-in env: the workers' spaces and their envs' total, nothing to step
    (SB3's ``PPO`` is built on it; the experience comes from the workers)."""

    def reset(self) -> np.ndarray:
        """Zero observations (nothing is reset: the worlds live in the workers)."""
        return np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)

    def step_async(self, actions: np.ndarray) -> None:
        """Refused: the learner does not step."""
        raise RuntimeError(
            "the learner of train_workers has no worlds: its experience comes from the "
            "inference workers; give the model a real env (model.set_env(SharedRoleVecEnv("
            "...))) to call learn"
        )

    def step_wait(self) -> Any:
        """Refused (see :meth:`step_async`)."""
        self.step_async(np.zeros(0))

    def close(self) -> None:
        """Nothing to close."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``None`` for ``render_mode``, else this env's attribute, once per env."""
        value = None if attr_name == "render_mode" else getattr(self, attr_name)
        return [value] * self.num_envs

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on this env."""
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """Refused: the envs live in the workers."""
        raise RuntimeError(f"the learner's stand-in env has no method {method_name!r} to call")

    def env_is_wrapped(self, wrapper_class: Any, indices: VecEnvIndices = None) -> list[bool]:
        """No env is wrapped."""
        return [False] * self.num_envs


@dataclass
class WorkersResult:
    """What :func:`train_workers` made.

    Attributes:
        run_dir: The run directory (``args.json``, ``model.zip``, ``actor.pt``,
            ``progress.csv``).
        model: The trained SB3 ``PPO`` model (its env is a stand-in with the spaces only).
        actor: The trained actor, our :class:`~agents.policies.MLPPolicy`.
        mean_rewards: Per iteration: the mean env reward per seat-step (all workers).
        episode_returns: Per iteration: the returns of the seat-episodes that ended in it
            (worker order).
        collect_seconds: Per iteration: the learner's wall time from pushing the weights to
            holding every worker's experience.
        learn_seconds: Per iteration: the learner's wall time filling the buffer and updating.
        empty_share: The share of seat-steps with no agent in the seat (all workers).
    """

    run_dir: Path
    model: Any
    actor: nn.Module
    mean_rewards: list[float] = field(default_factory=list)
    episode_returns: list[np.ndarray] = field(default_factory=list)
    collect_seconds: list[float] = field(default_factory=list)
    learn_seconds: list[float] = field(default_factory=list)
    empty_share: float = 0.0


def _ppo_kwargs(algo_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``algo_kwargs`` checked against ``PPO``'s arguments."""
    from stable_baselines3 import PPO

    kwargs = dict(algo_kwargs or {})
    accepted = sorted(set(inspect.signature(PPO.__init__).parameters) - {"self"})
    accepted = [k for k in accepted if k not in RESERVED_ALGO_KWARGS]
    bad = sorted(k for k in kwargs if k not in accepted)
    if bad:
        reserved = [k for k in bad if k in RESERVED_ALGO_KWARGS]
        hint = (
            f" ({reserved} are set by train_workers: n_steps and seed are its own arguments)"
            if reserved
            else ""
        )
        raise ValueError(f"unknown algo_kwargs {bad}{hint}; PPO's accepted: {accepted}")
    return kwargs


def train_workers(
    env_id: str,
    role: str,
    *,
    n_workers: int = 2,
    worlds_per_worker: int = 4,
    n_steps: int = 64,
    iterations: int = 10,
    seed: int = 0,
    backend: str = "process",
    seats: int | None = None,
    background: Background = "heuristic",
    env_params: dict[str, Any] | None = None,
    reward_objective: Objective | dict[str, Any] | None = None,
    algo_kwargs: dict[str, Any] | None = None,
    actor_kwargs: dict[str, Any] | None = None,
    run_root: str | Path = "runs",
    threads: int | None = None,
    progress_bar: bool = False,
    callbacks: Callback | Sequence[Callback] | None = None,
) -> WorkersResult:
    """Train ``role`` of ``env_id`` with PPO: one learner, ``n_workers`` inference workers.

    See the module docs for the roles of learner and workers and the determinism guarantee.
    The rollout buffer holds ``n_steps`` steps of ``n_workers * worlds_per_worker * seats``
    envs per iteration (worker ``w``'s envs in columns ``w * worlds_per_worker * seats ...``).

    Args:
        env_id: A registered env id.
        role: The trained role (every seat of it shares the policy).
        n_workers: Inference workers.
        worlds_per_worker: Worlds each worker steps.
        n_steps: Steps each worker collects per iteration (PPO's ``n_steps``).
        iterations: Collect-and-update iterations.
        seed: Seeds the learner's PPO and the workers' worlds and samples (a non-negative
            integer).
        backend: ``"inprocess"``, ``"process"`` (``"spawn"`` processes) or ``"ray"``.
        seats: Seats per world (default: the role's live agents at reset).
        background: The other roles' policy (see :class:`~agents.sb3.SharedRoleVecEnv`); it
            must pickle for ``"process"``.
        env_params: Model parameters.
        reward_objective: The role's objective, trained on instead of the env's reward (an
            :class:`~heas_envs.scenarios.Objective` of ``role`` with ``negate``, or its
            ``to_dict()``); recorded in ``args.json``.
        algo_kwargs: Keyword arguments of SB3's ``PPO`` (``learning_rate``, ``n_epochs``,
            ``batch_size``, ``gamma``, ``gae_lambda``, ``policy_kwargs``, ...; not those of
            :data:`RESERVED_ALGO_KWARGS`).
        actor_kwargs: Keyword arguments of the actor (:class:`~agents.policies.MLPPolicy`).
        run_root: Where the run directory is made.
        threads: The learner's torch threads (default 1, or ``HEAS_TORCH_THREADS``); the
            workers use one.
        progress_bar: Show a ``tqdm`` bar over the iterations.
        callbacks: Hooks (:mod:`heas_envs.core.callbacks`) registered on every worker's
            worlds (steps, layers, episodes); ``"inprocess"`` only, as the other back ends'
            workers are other processes.

    Returns:
        A :class:`WorkersResult`.

    Raises:
        ValueError: An unknown back end, a count that is not a positive integer, a negative
            seed, an unknown or reserved PPO argument, an unknown role or parameter, or a
            reward objective SB3 cannot train on. A worker's exception is raised here (with
            the worker's traceback as a note), after every worker is closed.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import configure

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    hooks = as_callbacks(callbacks)
    if hooks and backend != "inprocess":
        raise ValueError(
            f"callbacks run in this process only, so backend={backend!r} cannot call them (its "
            "workers are other processes); use backend='inprocess'"
        )
    n_workers = check_int("n_workers", n_workers, 1)
    worlds_per_worker = check_int("worlds_per_worker", worlds_per_worker, 1)
    n_steps = check_int("n_steps", n_steps, 1)
    iterations = check_int("iterations", iterations, 1)
    seed = check_int("seed", seed, 0)
    kwargs = _ppo_kwargs(algo_kwargs)
    objective = sb3_objective(reward_objective, role)
    set_torch_threads(threads)
    # one world here: checks role, seats and parameters before any worker starts
    probe = SharedRoleVecEnv(
        env_id,
        role,
        num_worlds=1,
        seats=seats,
        background=background,
        reward_objective=objective,
        **(env_params or {}),
    )
    seats = probe.seats
    observation_space, action_space = probe.observation_space, probe.action_space
    probe.close()
    num_envs = n_workers * worlds_per_worker * seats
    arguments = {
        "env_id": env_id,
        "role": role,
        "algo": ALGO,
        "n_workers": n_workers,
        "worlds_per_worker": worlds_per_worker,
        "n_steps": n_steps,
        "iterations": iterations,
        "total_timesteps": iterations * n_steps * num_envs,
        "seed": seed,
        "backend": backend,
        "seats": seats,
        "background": background if isinstance(background, str) else repr(background),
        "env_params": env_params or {},
        "reward_objective": objective.to_dict() if objective is not None else None,
        "algo_kwargs": algo_kwargs or {},
        "actor_kwargs": actor_kwargs or {},
    }
    run_dir = new_run_dir(run_root, env_id, role, ALGO, seed)
    (run_dir / "args.json").write_text(json.dumps(arguments, indent=2, default=str) + "\n")

    env = _SpacesVecEnv(num_envs, observation_space, action_space)
    kwargs["policy_kwargs"] = {
        "actor_kwargs": actor_kwargs or {},
        **kwargs.get("policy_kwargs", {}),
    }
    model = PPO(HeasActorCriticPolicy, env, n_steps=n_steps, seed=seed, device="cpu", **kwargs)
    formats = ["csv"] + (["stdout"] if model.verbose >= 1 else [])
    model.set_logger(configure(str(run_dir), formats))
    policy_params = model.policy._get_constructor_parameters()
    specs = [
        WorkerSpec(
            env_id,
            role,
            w,
            worlds_per_worker,
            seats,
            seed,
            background,
            arguments["reward_objective"],
            dict(env_params or {}),
            policy_params,
            n_steps,
            float(model.gamma),
        )
        for w in range(n_workers)
    ]
    result = WorkersResult(run_dir, model, model.policy.actor)
    total = arguments["total_timesteps"]
    bar = _progress(iterations) if progress_bar else None
    pool: Any = None
    try:
        pool = _InProcessWorkers(specs, hooks) if hooks else _POOLS[backend](specs)
        for iteration in range(iterations):
            start = time.perf_counter()
            weights = {k: v.detach().cpu().numpy() for k, v in model.policy.state_dict().items()}
            parts: list[Experience] = pool.collect(weights, iteration)
            collected = time.perf_counter()
            _fill_buffer(model, parts)
            model.num_timesteps += n_steps * num_envs
            model._update_current_progress_remaining(model.num_timesteps, total)
            model.train()
            learned = time.perf_counter()
            _record(result, parts, collected - start, learned - collected, n_steps * num_envs)
            model.logger.record("time/iterations", iteration + 1)
            model.logger.record("time/total_timesteps", model.num_timesteps)
            model.logger.record("time/collect_s", result.collect_seconds[-1])
            model.logger.record("time/learn_s", result.learn_seconds[-1])
            model.logger.record("rollout/mean_reward", result.mean_rewards[-1])
            if len(result.episode_returns[-1]):
                model.logger.record("rollout/ep_rew_mean", float(result.episode_returns[-1].mean()))
            model.logger.dump(step=model.num_timesteps)
            if bar is not None:
                bar.set_postfix(mean_reward=f"{result.mean_rewards[-1]:.4g}")
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.close()
        model.logger.close()
    model.save(run_dir / "model.zip")
    torch.save(model.policy.actor.state_dict(), run_dir / "actor.pt")
    return result


def _fill_buffer(model: Any, parts: list[Experience]) -> None:
    """Put the workers' experience side by side (env axis, worker order) into the model's
    rollout buffer and compute returns and advantages."""
    buffer = model.rollout_buffer
    buffer.reset()
    joined = {
        name: np.concatenate([getattr(p, name) for p in parts], axis=1)
        for name in ("observations", "actions", "rewards", "episode_starts", "values", "log_probs")
    }
    for t in range(model.n_steps):
        buffer.add(
            joined["observations"][t],
            joined["actions"][t],
            joined["rewards"][t],
            joined["episode_starts"][t],
            torch.as_tensor(joined["values"][t]),
            torch.as_tensor(joined["log_probs"][t]),
        )
    last_values = torch.as_tensor(np.concatenate([p.last_values for p in parts]))
    buffer.compute_returns_and_advantage(
        last_values=last_values, dones=np.concatenate([p.dones for p in parts])
    )


def _record(
    result: WorkersResult, parts: list[Experience], collect: float, learn: float, steps: int
) -> None:
    result.mean_rewards.append(sum(p.reward_sum for p in parts) / steps)
    result.episode_returns.append(np.concatenate([p.episode_returns for p in parts]))
    result.collect_seconds.append(collect)
    result.learn_seconds.append(learn)
    seat_steps = sum(p.seat_steps for p in parts)
    result.empty_share = sum(p.empty_steps for p in parts) / seat_steps if seat_steps else 0.0


def _progress(iterations: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=iterations, desc="train_workers", unit="iteration")
