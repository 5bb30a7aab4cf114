"""Neuroevolution with EvoTorch on batched worlds: a whole population in one rollout.

:class:`BatchedRolloutProblem` is an EvoTorch ``NEProblem`` whose ``_evaluate_batch`` plays
every candidate of a batch at once: one world per (candidate, episode) in one
:func:`heas_envs.make_vec`, the candidates' policies evaluated together in one call
(``torch.func.functional_call`` under ``torch.vmap`` over the stacked parameter vectors), every
candidate facing the same episode seeds (common random numbers). Every agent of the evolved
role in a candidate's worlds plays the candidate's policy (parameter sharing); the other roles
play a background policy.

Fitness is one or more objectives, each ``(name, sense)``: ``"return"`` (the mean episode
return of the role's agents, over the slots that lived) or an end-of-episode metric of the
model (``"aggregate.mean_biomass"``, see ``venv.episode_metrics()``), averaged over the
episodes; ``sense`` is ``"max"`` or ``"min"``. The reward behind ``"return"`` is the env's,
or, given a ``reward_objective`` (an :class:`~heas_envs.scenarios.Objective` of the role), the
objective's: the rollout worlds are wrapped by ``ObjectiveReward``.

Evaluation uses only the episode seeds, so a candidate's fitness does not depend on the
batch it is in: serial runs and runs with Ray actors (``num_actors``) give the same results.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from evotorch import SolutionBatch
from evotorch.neuroevolution import NEProblem
from torch import nn

import heas_envs
from agents.policies import MLPPolicy
from agents.rollout import play_episodes
from agents.runs import new_run_dir
from agents.threads import set_torch_threads
from heas_envs.core.callbacks import Callback, as_callbacks
from heas_envs.env.background import Background, role_policies
from heas_envs.scenarios.objective import Objective

SENSES = ("max", "min")


class BatchedRolloutProblem(NEProblem):
    """An EvoTorch problem: evolve the policy of ``role`` of ``env_id`` on batched worlds.

    Args:
        env_id: A registered env id.
        role: The evolved role.
        objectives: ``[(name, sense), ...]``: ``"return"`` or an episode metric, with
            ``"max"`` or ``"min"``.
        episodes: Episodes per candidate.
        episode_seeds: Their seeds (default ``0, 1, ..., episodes - 1``); every candidate
            plays the same ones.
        policy_kwargs: Keyword arguments of the policy (:class:`~agents.policies.MLPPolicy`).
        background: The other roles' policy (``"heuristic"``, ``"random"``, a function of one
            role's observations, or a mapping by role).
        env_params: Model parameters.
        initial_bounds: The range of the initial parameters EvoTorch samples.
        num_actors: EvoTorch's Ray actors (``None`` or 0: evaluate in this process).
        reward_objective: The role's reward objective (an :class:`~heas_envs.scenarios.
            Objective` of ``role``, or its ``to_dict()``): the ``"return"`` fitness is the
            return of its reward instead of the env's. Not to be confused with
            ``objectives``, the fitness criteria.
        callbacks: Hooks (:mod:`heas_envs.core.callbacks`) told of every rollout's episodes,
            policy calls, steps and layers (:func:`agents.rollout.play_episodes`); in this
            process only, so not with ``num_actors``; not pickled with the problem.

    Raises:
        ValueError: An unknown role, objective or sense, bad seeds, a reward objective of
            another role or that does not fit the env, or callbacks with Ray actors.
    """

    def __init__(
        self,
        env_id: str,
        role: str,
        objectives: Sequence[tuple[str, str]] = (("return", "max"),),
        episodes: int = 1,
        episode_seeds: Sequence[int] | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        background: Background = "heuristic",
        env_params: dict[str, Any] | None = None,
        initial_bounds: tuple[float, float] = (-0.1, 0.1),
        num_actors: int | None = None,
        reward_objective: Objective | dict[str, Any] | None = None,
        callbacks: Callback | Sequence[Callback] | None = None,
    ) -> None:
        self.callbacks = as_callbacks(callbacks)
        self.requested_actors = num_actors
        if self.callbacks and num_actors:
            raise ValueError(
                "callbacks run in this process only, so they cannot hear rollouts played by "
                f"Ray actors (num_actors={num_actors!r}); leave num_actors unset to use them"
            )
        probe = heas_envs.make_parallel(env_id, **(env_params or {}))
        if role not in probe.roles:
            raise ValueError(f"unknown role {role!r} of {env_id}; roles are {probe.roles}")
        if reward_objective is not None:
            reward_objective = Objective.of(reward_objective, role, "evolved")
            reward_objective.wrap(probe)  # checks its roles, slots and metric keys
        self.reward_objective = reward_objective
        probe.reset_arrays(seed=0)
        known = ["return", *probe.episode_metrics()]
        objectives = [tuple(o) for o in objectives]
        for name, sense in objectives:
            if name not in known:
                raise ValueError(f"unknown objective {name!r}; objectives of {env_id}: {known}")
            if sense not in SENSES:
                raise ValueError(f"objective {name!r}: sense must be 'max' or 'min', got {sense!r}")
        if not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
        seeds = list(range(episodes)) if episode_seeds is None else [int(s) for s in episode_seeds]
        if len(seeds) != episodes:
            raise ValueError(f"give {episodes} episode seeds, got {len(seeds)}")
        self.env_id, self.role, self.objectives = env_id, role, objectives
        self.episodes, self.episode_seeds = episodes, seeds
        self.env_params = dict(env_params or {})
        self.policy_kwargs = dict(policy_kwargs or {})
        self.background = role_policies(background, probe.roles)
        group = probe.group(role)
        self.observation_space, self.action_space = group.observation_space, group.action_space
        self._worlds: dict[int, Any] = {}
        self.episodes_played = 0
        self.agent_steps = 0
        senses = [s for _, s in objectives]
        super().__init__(
            senses[0] if len(senses) == 1 else senses,
            self.make_policy,
            initial_bounds=initial_bounds,
            num_actors=num_actors,
        )

    def _template(self) -> nn.Module:
        """One policy module whose parameters ``torch.func`` replaces, built once."""
        if getattr(self, "_module", None) is None:
            self._module = self.make_policy()
        return self._module

    def evaluate(self, x: Any) -> None:
        """EvoTorch's ``evaluate`` under a forked torch generator. EvoTorch samples its
        populations from torch's global generator; evaluation (building networks here, the
        actors' seeds with ``num_actors``) must not draw from it, or serial runs and runs with
        Ray actors would sample different populations. Fitness depends only on the episode
        seeds."""
        with torch.random.fork_rng():
            super().evaluate(x)

    def make_policy(self) -> nn.Module:
        """A new policy module of the evolved role (the network EvoTorch parameterises)."""
        return MLPPolicy(self.observation_space, self.action_space, **self.policy_kwargs)

    def seed(self, seed: int | None = None) -> None:
        """Seed the problem's own generator (EvoTorch's Ray actors call this)."""
        self.manual_seed(seed)

    def _evaluate_batch(self, batch: SolutionBatch) -> None:
        batch.set_evals(self.evaluate_parameters(batch.values))

    # -- the batched rollout --------------------------------------------------------------------
    def evaluate_parameters(self, values: torch.Tensor) -> torch.Tensor:
        """Fitness ``[P, n_objectives]`` (``[P]`` for one objective) of ``P`` parameter
        vectors, all played in one batched rollout."""
        values = torch.as_tensor(values, dtype=torch.float32).detach().cpu()
        P, E = values.shape[0], self.episodes
        venv = self._venv(P * E)
        seeds = [s for _ in range(P) for s in self.episode_seeds]
        module = self._template()
        stacked = _stack_parameters(module, values)

        def act(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(module, params, (x,))

        batched = torch.vmap(act)
        n = venv.groups[self.role].n_agents

        def act_all(obs: np.ndarray) -> np.ndarray:
            x = torch.as_tensor(obs).reshape(P, E * n, *obs.shape[2:])
            with torch.no_grad():
                actions = batched(stacked, x).numpy()
            return actions.reshape(P * E, n, *actions.shape[2:])

        names = [name for name, _ in self.objectives if name != "return"]
        played = play_episodes(
            venv, self.role, act_all, seeds, self.background, names, self.callbacks or None
        )
        self.agent_steps += played.agent_steps
        self.episodes_played += P * E
        per_world = {"return": played.returns, **played.metrics}
        fitness = np.stack(
            [per_world[name].reshape(P, E).mean(axis=1) for name, _ in self.objectives], axis=1
        )
        out_t = torch.as_tensor(fitness, dtype=torch.float32)
        return out_t[:, 0] if len(self.objectives) == 1 else out_t

    def _venv(self, n_worlds: int) -> Any:
        """``n_worlds`` batched worlds (a ``VectorWorldsEnv``, wrapped by the reward
        objective if there is one), built once per size."""
        if n_worlds not in self._worlds:
            venv = heas_envs.make_vec(self.env_id, num_worlds=n_worlds, **self.env_params)
            if self.reward_objective is not None:
                venv = self.reward_objective.wrap(venv)
            self._worlds[n_worlds] = venv
        return self._worlds[n_worlds]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state["_worlds"] = {}  # rebuilt on demand
        state["_module"] = None
        state["callbacks"] = []  # hooks of this process, not state of the search
        return state


def _stack_parameters(module: nn.Module, values: torch.Tensor) -> dict[str, torch.Tensor]:
    """The rows of ``values`` ``[P, L]`` as ``{name: [P, *shape]}`` of ``module``'s
    parameters (the order of ``module.parameters()``, as EvoTorch flattens them)."""
    total = sum(p.numel() for p in module.parameters())
    if values.ndim != 2 or values.shape[1] != total:
        raise ValueError(
            f"parameter vectors have length {values.shape[-1]}, the policy {total}: give [P, {total}]"
        )
    out, offset = {}, 0
    for name, p in module.named_parameters():
        k = p.numel()
        out[name] = values[:, offset : offset + k].reshape(values.shape[0], *p.shape)
        offset += k
    return out


# -- searching ---------------------------------------------------------------------------------
ALGORITHMS = ("SNES", "CMAES", "PGPE", "CEM", "GA")


@dataclass
class EvoResult:
    """What :func:`train_evo` made.

    Attributes:
        run_dir: The run directory (``args.json``, ``log.csv``, ``best.pt``,
            ``checkpoint.pkl``, and for several objectives ``pareto.csv``).
        log: The generation log (one row per generation).
        best: The best parameter vector by the first objective (with several objectives the
            hall of fame ranks by the first too; the trade-offs are in ``pareto``).
        policy: A policy module holding ``best``.
        hall_of_fame: The best solutions seen, best first, as ``(fitness, vector)``.
        pareto: For several objectives, the final population's non-dominated evaluations.
    """

    run_dir: Path
    log: pd.DataFrame
    best: torch.Tensor
    policy: nn.Module
    hall_of_fame: list[tuple[float, torch.Tensor]]
    pareto: pd.DataFrame | None = None


def make_searcher(problem: BatchedRolloutProblem, algo: str, popsize: int, **kwargs: Any) -> Any:
    """An EvoTorch search algorithm ``algo`` (one of :data:`ALGORITHMS`) on ``problem``.

    ``GA`` (EvoTorch's ``GeneticAlgorithm`` with simulated binary crossover and Gaussian
    mutation) handles several objectives (NSGA-II style selection); the others one.
    """
    from evotorch import algorithms, operators

    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algo!r}; choose one of {list(ALGORITHMS)}")
    stdev = kwargs.pop("stdev_init", 0.1)
    if algo == "SNES":
        return algorithms.SNES(problem, popsize=popsize, stdev_init=stdev, **kwargs)
    if algo == "CMAES":
        return algorithms.CMAES(problem, popsize=popsize, stdev_init=stdev, **kwargs)
    if algo == "PGPE":
        kwargs.setdefault("center_learning_rate", 0.05)
        kwargs.setdefault("stdev_learning_rate", 0.1)
        return algorithms.PGPE(problem, popsize=popsize, stdev_init=stdev, **kwargs)
    if algo == "CEM":
        kwargs.setdefault("parenthood_ratio", 0.25)
        return algorithms.CEM(problem, popsize=popsize, stdev_init=stdev, **kwargs)
    kwargs.setdefault("re_evaluate", False)  # fitness on fixed seeds is deterministic
    return algorithms.GeneticAlgorithm(
        problem,
        popsize=popsize,
        operators=[
            operators.SimulatedBinaryCrossOver(problem, tournament_size=4, eta=8),
            operators.GaussianMutation(problem, stdev=stdev),
        ],
        **kwargs,
    )


def train_evo(
    env_id: str,
    role: str,
    algo: str = "SNES",
    generations: int = 10,
    popsize: int = 16,
    seed: int = 0,
    objectives: Sequence[tuple[str, str]] = (("return", "max"),),
    episodes: int = 1,
    env_params: dict[str, Any] | None = None,
    policy_kwargs: dict[str, Any] | None = None,
    center: torch.Tensor | None = None,
    hall_of_fame: int = 5,
    num_actors: int | None = None,
    run_root: str | Path = "runs",
    resume: str | Path | None = None,
    progress: bool = False,
    threads: int | None = None,
    reward_objective: Objective | dict[str, Any] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
) -> EvoResult:
    """Evolve the policy of ``role`` of ``env_id``; log, checkpoint and keep a hall of fame.

    Args:
        env_id, role, objectives, episodes, env_params, policy_kwargs, num_actors,
            reward_objective, callbacks: As for :class:`BatchedRolloutProblem` (episode
            seeds ``0 .. episodes - 1``); the reward objective is recorded in ``args.json``;
            the callbacks hear a resumed run too.
        algo: One of :data:`ALGORITHMS` (``GA`` for several objectives).
        generations: Generations to run (in all, counting those of a resumed run).
        popsize: Population size.
        seed: Seeds torch (EvoTorch's sampling) before the search.
        center: A start for the search distribution's centre (e.g. weights trained by SB3,
            :func:`agents.policies.parameters_to_vector`); distribution-based algorithms only.
        hall_of_fame: How many best solutions to keep.
        run_root: Where the run directory is made.
        resume: A run directory whose ``checkpoint.pkl`` to continue.
        progress: Show a progress bar over generations.
        threads: Torch threads (default 1).

    Returns:
        An :class:`EvoResult`.
    """
    from tqdm.auto import tqdm

    set_torch_threads(threads)
    arguments = {
        "env_id": env_id,
        "role": role,
        "algo": algo,
        "generations": generations,
        "popsize": popsize,
        "seed": seed,
        "objectives": [list(o) for o in objectives],
        "episodes": episodes,
        "env_params": env_params or {},
        "policy_kwargs": policy_kwargs or {},
        "num_actors": num_actors,
        "reward_objective": None,
    }
    for name, value, low in (("generations", generations, 1), ("popsize", popsize, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if resume is not None and not (Path(resume) / "checkpoint.pkl").is_file():
        raise ValueError(
            f"resume must be a run directory of train_evo holding checkpoint.pkl; {resume!r} "
            "holds none"
        )
    if resume is not None:
        run_dir = Path(resume)
        with open(run_dir / "checkpoint.pkl", "rb") as f:
            state = pickle.load(f)
        searcher, rows, fame = state["searcher"], state["log"], state["hall_of_fame"]
        algo = json.loads((run_dir / "args.json").read_text())["algo"]  # the run's own
        torch.set_rng_state(state["torch_rng"])
    else:
        torch.manual_seed(seed)
        problem = BatchedRolloutProblem(
            env_id,
            role,
            objectives=objectives,
            episodes=episodes,
            env_params=env_params,
            policy_kwargs=policy_kwargs,
            num_actors=num_actors,
            reward_objective=reward_objective,
            callbacks=callbacks,
        )
        if problem.reward_objective is not None:
            arguments["reward_objective"] = problem.reward_objective.to_dict()
        kwargs: dict[str, Any] = {}
        if center is not None:
            kwargs["center_init"] = torch.as_tensor(center, dtype=torch.float32)
        searcher = make_searcher(problem, algo, popsize, **kwargs)
        rows, fame = [], []
        run_dir = new_run_dir(run_root, env_id, role, algo, seed)
        (run_dir / "args.json").write_text(json.dumps(arguments, indent=2) + "\n")
    problem = searcher.problem
    if resume is not None and callbacks is not None:
        if getattr(problem, "requested_actors", None):
            raise ValueError("callbacks cannot hear a resumed run whose rollouts Ray actors play")
        problem.callbacks = as_callbacks(callbacks)
    first = 0 if not rows else rows[-1]["generation"]
    ray_was_running = _ray_running()
    try:
        for gen in tqdm(
            range(first + 1, generations + 1), disable=not progress, desc="generations"
        ):
            searcher.step()
            fame = _log_generation(
                problem, searcher.population, algo, gen, rows, fame, hall_of_fame
            )
            _save_checkpoint(run_dir, searcher, rows, fame)
            pd.DataFrame(rows).to_csv(run_dir / "log.csv", index=False)
    finally:
        if not ray_was_running and _ray_running():  # the actors' Ray was started for this run
            import ray

            ray.shutdown()
    log = pd.DataFrame(rows)
    best = fame[0][1]
    policy = problem.make_policy()
    torch.nn.utils.vector_to_parameters(best.clone(), policy.parameters())
    torch.save(policy.state_dict(), run_dir / "best.pt")
    pareto = None
    if len(problem.objectives) > 1:
        pop = searcher.population
        ranks, _ = pop.compute_pareto_ranks(crowdsort=False)
        front = pop.evals[ranks == 0, : len(problem.objectives)].detach().numpy()
        pareto = pd.DataFrame(front, columns=[n for n, _ in problem.objectives])
        pareto.to_csv(run_dir / "pareto.csv", index=False)
    return EvoResult(run_dir, log, best, policy, fame, pareto)


def _log_generation(
    problem: BatchedRolloutProblem,
    pop: Any,
    algo: str,
    gen: int,
    rows: list[dict[str, Any]],
    fame: list[tuple[float, torch.Tensor]],
    size: int,
) -> list[tuple[float, torch.Tensor]]:
    """Append generation ``gen``'s log row to ``rows``; return the updated hall of fame (by
    the first objective: with several, the Pareto front is ``pareto.csv``)."""
    evals = pop.evals[:, : len(problem.objectives)].detach().clone()
    sense = problem.objectives[0][1]
    k = int(torch.argmax(evals[:, 0] if sense == "max" else -evals[:, 0]))
    fame = sorted(
        [*fame, (float(evals[k, 0]), pop.values[k].detach().clone())],
        key=lambda f: f[0],
        reverse=sense == "max",
    )[:size]
    # evaluated candidates: a population per generation; the GA also its first parents
    row: dict[str, Any] = {
        "generation": gen,
        "evaluations": len(pop) * (gen + 1 if algo == "GA" else gen),
    }
    for j, (name, s) in enumerate(problem.objectives):
        row[f"{name}_mean"] = float(evals[:, j].mean())
        row[f"{name}_best"] = float(evals[:, j].max() if s == "max" else evals[:, j].min())
    row["hall_of_fame_best"] = fame[0][0]
    rows.append(row)
    return fame


def _save_checkpoint(run_dir: Path, searcher: Any, rows: list, fame: list) -> None:
    """Write ``checkpoint.pkl`` atomically (a kill mid-write leaves the previous one)."""
    state = {
        "searcher": searcher,
        "log": rows,
        "hall_of_fame": fame,
        "torch_rng": torch.get_rng_state(),
    }
    tmp = run_dir / "checkpoint.pkl.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(state, f)
    tmp.replace(run_dir / "checkpoint.pkl")


def _ray_running() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return bool(ray.is_initialized())


def copy_policy(policy: nn.Module) -> nn.Module:
    """A deep copy of ``policy`` (for a hall of fame or a participant)."""
    return copy.deepcopy(policy)
