"""The evidence figures of the training issue: learning, the enterprise headline, a Pareto
front, speed and Ray, each from the library's own training entry points.

    python scripts/evidence_training.py                      # everything (about 10 minutes)
    python scripts/evidence_training.py --only learning pareto
    python scripts/evidence_training.py --quick              # tiny budgets (a smoke test)
    python scripts/evidence_training.py --out runs/evidence  # where PNG and CSVs go

Sections (``--only``; default all):

- ``learning``: PPO with parameter sharing (:func:`agents.sb3.train_sb3`) on the ecology's
  managers and the enterprise's firms; the trained actor, the shipped heuristic, random play
  and the untrained actor on 20 held-out seeds (:func:`agents.rollout.evaluate`), with paired
  bootstrap 95% confidence intervals (``scipy.stats.bootstrap`` over the per-seed
  differences). When the trained actor does not beat random play, the next configuration of
  the list is trained.
- ``enterprise``: the HEAS paper's headline on its 32 scenarios: an evolved firm policy
  against the shipped heuristic (the reference) on the same seeds, overall, per regime and
  per factor, with the number of scenarios won.
- ``pareto``: EvoTorch's ``GeneticAlgorithm`` (two objectives of the ecology) against random
  search with the same number of rollouts; both non-dominated fronts, their hypervolumes
  (pymoo's ``HV`` indicator) against one reference point, and a PNG of the fronts.
- ``speed``: a population of 64 evaluated in one batched rollout against one env per
  candidate; PPO samples per second on :class:`agents.sb3.SharedRoleVecEnv` against
  SuperSuit's vector env recipe (medians of 3, printed as ratios).
- ``ray``: :func:`agents.evo.train_evo` with two Ray actors against the serial run.

Results (markdown tables) go to stdout, progress lines to stderr, files to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import pickle
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from evidence_output import emit, markdown_table, progress, run_sections  # scripts/ is on the path
from stable_baselines3.common.callbacks import BaseCallback

import heas_envs
from agents.evo import BatchedRolloutProblem, make_searcher, train_evo
from agents.policies import MLPPolicy, vector_to_parameters
from agents.rollout import evaluate
from agents.sb3 import HeasActorCriticPolicy, SharedRoleVecEnv, train_sb3
from agents.threads import set_torch_threads
from heas_envs.models.enterprise import SCENARIOS

ECOLOGY = "heas_envs/Ecology-v0"
ENTERPRISE = "heas_envs/Enterprise-v0"
SECTIONS = ("learning", "enterprise", "pareto", "speed", "ray")
EVAL_SEEDS = list(range(10_000, 10_020))  # held out: training uses seeds 0, 1, ...
PROFIT = "agg.mean_profit"  # the enterprise's episode metric: mean firm profit per tick
PARETO_OBJECTIVES = [("aggregate.mean_biomass", "max"), ("aggregate.mean_cv", "min")]

#: PPO hyper-parameters of the learning section (and of the speed section's PPO runs).
PPO_ECOLOGY = {
    "n_steps": 64,
    "batch_size": 1024,
    "n_epochs": 5,
    "learning_rate": 3e-4,
    "gamma": 0.99,
}
PPO_ENTERPRISE = {**PPO_ECOLOGY, "batch_size": 512}
#: The enterprise's firms over-invest with gamma 0.99 (see the report); the fallbacks.
PPO_ENTERPRISE_SHORT = {**PPO_ENTERPRISE, "learning_rate": 1e-4, "gamma": 0.9}
PPO_ENTERPRISE_LONG = {**PPO_ENTERPRISE_SHORT, "learning_rate": 5e-5}


@dataclass
class Budget:
    """The sizes of every section (``--quick`` shrinks them)."""

    #: Per env: ``(label, total_timesteps, algo_kwargs)``, tried in order until one beats
    #: random play.
    ppo: dict[str, list[tuple[str, int, dict[str, Any]]]] = field(default_factory=dict)
    evo_default: tuple[int, int, int] = (50, 32, 2)  # generations, popsize, episodes
    evo_mix: tuple[int, int, int] = (200, 64, 8)  # generations, popsize, scenarios per call
    ga: tuple[int, int] = (30, 64)  # generations, popsize
    speed_pop: int = 64
    speed_repeats: int = 3
    speed_ppo_rollouts: int = 3
    ray: tuple[int, int] = (3, 8)  # generations, popsize
    bootstrap_resamples: int = 10_000


FULL = Budget(
    ppo={
        ECOLOGY: [("A", 2_000_000, PPO_ECOLOGY)],
        ENTERPRISE: [
            ("A", 300_000, PPO_ENTERPRISE),
            ("B", 300_000, PPO_ENTERPRISE_SHORT),
            ("C", 1_000_000, PPO_ENTERPRISE_LONG),
        ],
    }
)
QUICK = Budget(
    ppo={
        ECOLOGY: [("A", 12_288, PPO_ECOLOGY)],
        ENTERPRISE: [("A", 4_096, PPO_ENTERPRISE), ("B", 4_096, PPO_ENTERPRISE_SHORT)],
    },
    evo_default=(3, 8, 1),
    evo_mix=(3, 8, 2),
    ga=(3, 16),
    speed_pop=16,
    speed_repeats=1,
    speed_ppo_rollouts=1,
    ray=(2, 4),
    bootstrap_resamples=2_000,
)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what libraries print to stdout (Ray, EvoTorch) to stderr instead."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median wall time of ``repeats`` calls of ``fn`` and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def paired_bootstrap(diff: np.ndarray, resamples: int, seed: int = 0) -> tuple[float, float, float]:
    """Mean of the per-seed differences ``diff`` and its bootstrap 95% CI (BCa, or percentile
    when BCa is undefined)."""
    from scipy.stats import bootstrap

    diff = np.asarray(diff, dtype=float)
    mean = float(diff.mean())
    if np.ptp(diff) == 0.0:
        return mean, mean, mean
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = bootstrap(
                (diff,),
                np.mean,
                n_resamples=resamples,
                confidence_level=0.95,
                method=method,
                rng=np.random.default_rng(seed),
            ).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            break
    return mean, float(ci.low), float(ci.high)


def verdict(low: float, high: float, other: str) -> str:
    """Words for a 95% CI of ``trained - other``."""
    if low > 0:
        return f"trained beats {other}"
    if high < 0:
        return f"trained loses to {other}"
    return f"no significant difference from {other}"


def untrained_actor(env_id: str, role: str, seed: int = 0) -> MLPPolicy:
    """Our MLPPolicy at its initialisation (torch seed ``seed``), the kind of actor PPO
    starts from: deterministic actions near the middle of the action box."""
    torch.manual_seed(seed)
    group = heas_envs.make_parallel(env_id).group(role)
    return MLPPolicy(group.observation_space, group.action_space)


def scenario_params(scenario: dict[str, Any]) -> dict[str, Any]:
    """The env parameters of one of the enterprise's scenarios (everything but its name)."""
    return {k: v for k, v in scenario.items() if k != "name"}


# -- 1. learning ---------------------------------------------------------------------------------
def section_learning(budget: Budget, out: Path) -> None:
    """PPO with parameter sharing against heuristic and random play on held-out seeds."""
    emit("## 1. Learning: PPO with parameter sharing (`train_sb3`, 8 worlds)\n")
    emit(f"Held-out seeds {EVAL_SEEDS[0]}..{EVAL_SEEDS[-1]}; mean episode return per agent.\n")
    returns_rows, diff_rows, config_rows, per_seed = [], [], [], []
    for env_id, role in [(ECOLOGY, "manager"), (ENTERPRISE, "firm")]:
        fixed = {
            name: evaluate(env_id, role, policy, EVAL_SEEDS).returns
            for name, policy in [
                ("heuristic", "heuristic"),
                ("random", "random"),
                ("untrained", untrained_actor(env_id, role)),
            ]
        }
        for label, steps, kwargs in budget.ppo[env_id]:
            progress(f"learning: PPO {label} on {env_id} ({role}), {steps} timesteps")
            start = time.perf_counter()
            result = train_sb3(
                env_id,
                role,
                "PPO",
                total_timesteps=steps,
                seed=0,
                num_worlds=8,
                algo_kwargs=kwargs,
                run_root=out / "runs",
                tensorboard=False,
            )
            seconds = time.perf_counter() - start
            trained = evaluate(env_id, role, result.actor, EVAL_SEEDS).returns
            name = env_id.split("/")[-1]
            config_rows.append(
                [name, label, steps, seconds, *(kwargs[k] for k in PPO_ECOLOGY), result.run_dir]
            )
            returns_rows.append(
                [
                    name,
                    role,
                    label,
                    trained.mean(),
                    fixed["heuristic"].mean(),
                    fixed["random"].mean(),
                    fixed["untrained"].mean(),
                ]
            )
            beats_random = False
            for other in ("random", "heuristic"):
                mean, low, high = paired_bootstrap(
                    trained - fixed[other], budget.bootstrap_resamples
                )
                diff_rows.append(
                    [name, label, f"trained - {other}", mean, f"[{low:.4g}, {high:.4g}]"]
                    + [verdict(low, high, other)]
                )
                beats_random |= other == "random" and low > 0
            for k, seed in enumerate(EVAL_SEEDS):
                per_seed.append(
                    {
                        "env": name,
                        "config": label,
                        "seed": seed,
                        "trained": trained[k],
                        **{p: v[k] for p, v in fixed.items()},
                    }
                )
            progress(
                f"learning: {name} {label}: trained {trained.mean():.4g}, heuristic "
                f"{fixed['heuristic'].mean():.4g}, random {fixed['random'].mean():.4g}"
            )
            if beats_random:
                break
            last = label == budget.ppo[env_id][-1][0]
            emit(
                f"- {name} config {label}: PPO does NOT beat random play "
                f"({trained.mean():.4g} vs {fixed['random'].mean():.4g}); "
                + ("no configuration left." if last else "training the next configuration.")
            )
    emit("\nConfigurations trained (seed 0, 8 worlds, every agent of the role a seat):\n")
    emit(
        markdown_table(
            ["env", "config", "timesteps", "train s", *PPO_ECOLOGY, "run dir"], config_rows
        )
    )
    emit("\nMean return over the held-out seeds:\n")
    emit(
        markdown_table(
            ["env", "role", "config", "trained", "heuristic", "random", "untrained actor"],
            returns_rows,
        )
    )
    emit("\nPaired differences (per seed), mean and bootstrap 95% CI:\n")
    emit(markdown_table(["env", "config", "difference", "mean", "95% CI", "verdict"], diff_rows))
    pd.DataFrame(per_seed).to_csv(out / "learning_per_seed.csv", index=False)
    emit(f"\nPer-seed returns: {out / 'learning_per_seed.csv'}\n")


# -- 2. enterprise -------------------------------------------------------------------------------
class ScenarioMixProblem(BatchedRolloutProblem):
    """The firm's policy evolved over several enterprise scenarios at once.

    Each call of :meth:`evaluate_parameters` draws ``per_call`` of the scenarios (the same for
    every candidate of the batch) and returns the mean, over them, of the candidate's return
    divided by the reference heuristic's return on the same scenario and seeds (so every
    scenario weighs alike). Each scenario is a :class:`~agents.evo.BatchedRolloutProblem`.

    Args:
        scenarios: Scenario dicts (:data:`heas_envs.models.enterprise.SCENARIOS`).
        per_call: Scenarios drawn per evaluation.
        episodes: Episodes per candidate and scenario (seeds ``0 .. episodes - 1``).
        seed: Seed of the scenario draws.
    """

    def __init__(
        self, scenarios: Sequence[dict[str, Any]], per_call: int, episodes: int = 1, seed: int = 0
    ) -> None:
        super().__init__(
            ENTERPRISE, "firm", episodes=episodes, env_params=scenario_params(scenarios[0])
        )
        self.parts = [
            BatchedRolloutProblem(
                ENTERPRISE, "firm", episodes=episodes, env_params=scenario_params(s)
            )
            for s in scenarios
        ]
        self.reference = [
            abs(
                float(
                    evaluate(
                        ENTERPRISE, "firm", "heuristic", p.episode_seeds, env_params=p.env_params
                    ).returns.mean()
                )
            )
            or 1.0
            for p in self.parts
        ]
        self.per_call = min(per_call, len(self.parts))
        self._draws = np.random.default_rng(seed)

    def evaluate_parameters(self, values: torch.Tensor) -> torch.Tensor:
        """Relative fitness ``[P]`` of ``P`` parameter vectors over ``per_call`` scenarios."""
        chosen = self._draws.choice(len(self.parts), size=self.per_call, replace=False)
        relative = [self.parts[i].evaluate_parameters(values) / self.reference[i] for i in chosen]
        return torch.stack(relative).mean(dim=0)


def evolve_on_mix(generations: int, popsize: int, per_call: int) -> tuple[MLPPolicy, float]:
    """SNES (``agents.evo.make_searcher``) on :class:`ScenarioMixProblem`; the final search
    centre as a policy, and the seconds it took."""
    torch.manual_seed(0)
    start = time.perf_counter()
    problem = ScenarioMixProblem(SCENARIOS, per_call)
    searcher = make_searcher(problem, "SNES", popsize)
    for gen in range(1, generations + 1):
        searcher.step()
        if gen == 1 or gen % 20 == 0 or gen == generations:
            evals = searcher.population.evals[:, 0]
            progress(
                f"enterprise: mix generation {gen}/{generations}, relative fitness mean "
                f"{float(evals.mean()):.3f}, best {float(evals.max()):.3f}"
            )
    policy = problem.make_policy()
    vector_to_parameters(torch.as_tensor(searcher.status["center"]).clone(), policy)
    return policy, time.perf_counter() - start


def scenario_profits(policy: Any) -> np.ndarray:
    """``[32]``: the mean of ``agg.mean_profit`` over the held-out seeds, per scenario."""
    return np.array(
        [
            evaluate(
                ENTERPRISE,
                "firm",
                policy,
                EVAL_SEEDS,
                env_params=scenario_params(s),
                metric_names=[PROFIT],
            )
            .metrics[PROFIT]
            .mean()
            for s in SCENARIOS
        ]
    )


def section_enterprise(budget: Budget, out: Path) -> None:
    """An evolved firm policy against the reference heuristic on the 32 scenarios."""
    emit("## 2. Enterprise: evolved firm policy vs the reference heuristic, 32 scenarios\n")
    gens, pop, episodes = budget.evo_default
    progress(f"enterprise: train_evo SNES on the default parameters, {gens} x {pop}")
    start = time.perf_counter()
    with stdout_to_stderr():
        default = train_evo(
            ENTERPRISE,
            "firm",
            algo="SNES",
            generations=gens,
            popsize=pop,
            seed=0,
            episodes=episodes,
            run_root=out / "runs",
        )
    default_s = time.perf_counter() - start
    mix_gens, mix_pop, per_call = budget.evo_mix
    progress(f"enterprise: SNES on the scenario mix, {mix_gens} x {mix_pop}, {per_call}/call")
    with stdout_to_stderr():
        mix_policy, mix_s = evolve_on_mix(mix_gens, mix_pop, per_call)
    progress("enterprise: evaluating on the 32 scenarios")
    reference = scenario_profits("heuristic")
    evolved = {"mix": scenario_profits(mix_policy), "default": scenario_profits(default.policy)}
    emit(
        "Two evolved policies (SNES, MLP 64x64, seed 0; training seeds 0, 1, ...; evaluation "
        f"on the held-out seeds {EVAL_SEEDS[0]}..{EVAL_SEEDS[-1]} of every scenario):\n"
    )
    emit(
        f"- **mix** (the headline): SNES via `agents.evo.make_searcher` on a "
        f"`BatchedRolloutProblem` per scenario, {mix_gens} generations x {mix_pop}; each "
        f"generation draws {per_call} of the 32 scenarios, fitness = mean of return / the "
        f"heuristic's return on that scenario (train_evo takes one parameter set only); the "
        f"final search centre; {mix_s:.0f} s.\n"
        f"- **default**: `train_evo(..., algo='SNES')` on the default parameters (4 firms, "
        f"costs 0.4, demand 100), {gens} generations x {pop}, {episodes} episode(s); the hall "
        f"of fame's best; {default_s:.0f} s.\n"
    )
    emit(
        f"Profit: the episode metric `{PROFIT}` (mean firm profit per tick over the 50 ticks), "
        "averaged over the seeds, then over the scenarios of the group.\n"
    )
    groups: list[tuple[str, np.ndarray]] = [("all", np.ones(len(SCENARIOS), dtype=bool))]
    for key in ("regime", "base_demand", "audit_prob", "n_firms", "costs"):
        for value in sorted({s[key] for s in SCENARIOS}, key=str):
            groups.append((f"{key} = {value}", np.array([s[key] == value for s in SCENARIOS])))
    for name in ("mix", "default"):
        rows = []
        for label, mask in groups:
            ev, ref = evolved[name][mask], reference[mask]
            won = int((ev > ref).sum())
            rows.append([label, int(mask.sum()), ev.mean(), ref.mean(), ev.mean() - ref.mean()])
            rows[-1].append(f"{won}/{int(mask.sum())}")
        emit(f"**Evolved ({name}) vs reference:**\n")
        emit(
            markdown_table(
                [
                    "group",
                    "scenarios",
                    "evolved mean profit",
                    "reference mean profit",
                    "evolved - reference",
                    "won by evolved",
                ],
                rows,
            )
        )
        emit()
    emit(
        f"Headline (our model; the paper reports 1036 vs 375): evolved (mix) "
        f"{evolved['mix'].mean():.4g} vs reference {reference.mean():.4g} mean profit per "
        f"tick; the evolved policy wins {int((evolved['mix'] > reference).sum())} of 32 "
        "scenarios.\n"
    )
    frame = pd.DataFrame(SCENARIOS)
    frame["reference"] = reference
    frame["evolved_mix"] = evolved["mix"]
    frame["evolved_default"] = evolved["default"]
    frame.to_csv(out / "enterprise_scenarios.csv", index=False)
    emit(f"Per-scenario profits: {out / 'enterprise_scenarios.csv'}\n")


# -- 3. pareto -----------------------------------------------------------------------------------
def to_minimised(points: np.ndarray) -> np.ndarray:
    """Objectives as minimised values (maximised ones negated), in PARETO_OBJECTIVES order."""
    signs = np.array([-1.0 if sense == "max" else 1.0 for _, sense in PARETO_OBJECTIVES])
    return np.asarray(points, dtype=float) * signs


def front_of(points: np.ndarray) -> np.ndarray:
    """The non-dominated points of ``points`` (pymoo's non-dominated sorting), unique, sorted
    by the first objective."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    unique = np.unique(np.asarray(points, dtype=float), axis=0)
    first = NonDominatedSorting().do(to_minimised(unique), only_non_dominated_front=True)
    front = unique[np.asarray(first, dtype=int)]
    return front[np.argsort(front[:, 0])]


def hypervolume(front: np.ndarray, ref: np.ndarray) -> float:
    """The hypervolume of ``front`` (objectives' own signs) against ``ref`` (minimised
    values), by pymoo's ``HV`` indicator, which minimises: maximised objectives negated."""
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=np.asarray(ref, dtype=float))(to_minimised(front)))


def section_pareto(budget: Budget, out: Path) -> None:
    """GA vs random search on two ecology objectives: fronts, hypervolumes, a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    emit("## 3. Pareto: GeneticAlgorithm vs random search (ecology, role manager)\n")
    gens, pop = budget.ga
    progress(f"pareto: GA {gens} generations x {pop}")
    start = time.perf_counter()
    with stdout_to_stderr():
        ga = train_evo(
            ECOLOGY,
            "manager",
            algo="GA",
            generations=gens,
            popsize=pop,
            seed=0,
            objectives=PARETO_OBJECTIVES,
            run_root=out / "runs",
        )
    ga_s = time.perf_counter() - start
    with open(ga.run_dir / "checkpoint.pkl", "rb") as f:
        searcher = pickle.load(f)["searcher"]
    rollouts = int(searcher.problem.episodes_played)  # what the GA really played
    logged = int(ga.log["evaluations"].iloc[-1])
    final_pop = searcher.population.evals[:, : len(PARETO_OBJECTIVES)].detach().numpy()
    problem = BatchedRolloutProblem(ECOLOGY, "manager", objectives=PARETO_OBJECTIVES)
    low_t, high_t = problem.initial_lower_bounds.float(), problem.initial_upper_bounds.float()
    low, high = float(low_t.min()), float(high_t.max())
    progress(f"pareto: random search, {rollouts} vectors in one batch")
    generator = torch.Generator().manual_seed(0)
    unit = torch.rand(rollouts, problem.solution_length, generator=generator)
    values = low_t + (high_t - low_t) * unit
    start = time.perf_counter()
    with stdout_to_stderr():
        random_points = problem.evaluate_parameters(values).numpy()
    random_s = time.perf_counter() - start
    ga_front = front_of(np.vstack([ga.pareto.to_numpy(), final_pop]))
    random_front = front_of(random_points)
    everything = np.vstack([final_pop, ga.pareto.to_numpy(), random_points])
    worst = to_minimised(everything).max(axis=0)
    spread = to_minimised(everything).max(axis=0) - to_minimised(everything).min(axis=0)
    ref = worst + 0.01 * np.where(spread > 0, spread, 1.0)
    hv_ga, hv_random = hypervolume(ga_front, ref), hypervolume(random_front, ref)
    ref_shown = to_minimised(ref[None])[0]  # back to the objectives' own signs
    names = [name for name, _ in PARETO_OBJECTIVES]
    emit(
        f"Objectives: {names[0]} (max), {names[1]} (min); one episode (seed 0) per "
        f"candidate. GA: `train_evo(algo='GA')`, popsize {pop}, {gens} generations, "
        f"{ga_s:.0f} s. EvoTorch's GA re-evaluates the parents every generation, so it played "
        f"{rollouts} rollouts (its log's `evaluations` column says {logged}). Random search: "
        f"{rollouts} vectors uniform in the GA's initial bounds [{low:.3g}, {high:.3g}] (its initial "
        f"population's distribution), one `evaluate_parameters` batch, {random_s:.0f} s.\n"
    )
    emit(
        f"Hypervolume (pymoo's `HV`, maximised objectives negated) against the common reference "
        f"point ({ref_shown[0]:.5g}, {ref_shown[1]:.5g}): the worst value of each objective "
        "over all points evaluated and kept (random search, GA final population and front), "
        "moved out by 1% of the range.\n"
    )
    emit(
        markdown_table(
            ["search", "rollouts", "front size", "best biomass", "best CV", "hypervolume"],
            [
                [
                    "GA (NSGA-II style)",
                    rollouts,
                    len(ga_front),
                    ga_front[:, 0].max(),
                    ga_front[:, 1].min(),
                    hv_ga,
                ],
                [
                    "random search",
                    rollouts,
                    len(random_front),
                    random_front[:, 0].max(),
                    random_front[:, 1].min(),
                    hv_random,
                ],
            ],
        )
    )
    ratio = hv_ga / hv_random if hv_random > 0 else math.inf
    emit(f"\nHypervolume ratio GA / random: {ratio:.3g}\n")
    for label, front in [("GA", ga_front), ("random search", random_front)]:
        emit(f"{label} front ({names[0]}, {names[1]}):\n")
        emit(markdown_table(names, [list(p) for p in front]))
        emit()
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    ax.scatter(*random_points.T, s=6, c="0.75", label=f"random search ({rollouts} points)")
    ax.scatter(*final_pop.T, s=10, c="tab:blue", alpha=0.4, label="GA final population")
    for front, color, label in [
        (random_front, "tab:gray", "random-search front"),
        (ga_front, "tab:red", "GA front"),
    ]:
        ax.step(front[:, 0], front[:, 1], where="pre", c=color, lw=1.5)
        ax.scatter(*front.T, s=28, c=color, edgecolors="k", linewidths=0.5, label=label)
    ax.scatter(*ref_shown, marker="x", c="k", s=50, label="hypervolume reference")
    ax.set_xlabel(f"{names[0]} (maximise)")
    ax.set_ylabel(f"{names[1]} (minimise)")
    ax.set_title(f"Ecology managers: HV GA {hv_ga:.4g} vs random {hv_random:.4g}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = out / "pareto.png"
    fig.savefig(png)
    plt.close(fig)
    pd.DataFrame(random_points, columns=names).to_csv(out / "pareto_random.csv", index=False)
    pd.DataFrame(ga_front, columns=names).to_csv(out / "pareto_ga_front.csv", index=False)
    emit(f"Plot: {png}; points: {out / 'pareto_random.csv'}, {out / 'pareto_ga_front.csv'}\n")


# -- 4. speed ------------------------------------------------------------------------------------
def one_env_per_candidate(values: torch.Tensor, seed: int = 0) -> np.ndarray:
    """Mean episode return of the firms for each parameter vector, each played in turn on
    one ``make_parallel`` env with ``step_arrays`` and the candidate's torch module."""
    env = heas_envs.make_parallel(ENTERPRISE)
    group = env.group("firm")
    module = MLPPolicy(group.observation_space, group.action_space)
    fitness = []
    for row in values:
        vector_to_parameters(row, module)
        obs, alive = env.reset_arrays(seed=seed)
        total, ever = np.zeros(alive["firm"].shape), alive["firm"].copy()
        while True:
            with torch.no_grad():
                actions = module(torch.as_tensor(obs["firm"])).numpy()
            step = env.step_arrays({"firm": actions})
            total += step.rewards["firm"]
            ever |= step.alive["firm"]
            obs = step.obs
            if (step.terminated["firm"] | step.truncated["firm"] | ~step.alive["firm"]).all():
                break
        fitness.append(total.sum() / max(int(ever.sum()), 1))
    return np.array(fitness)


class RolloutTimer(BaseCallback):
    """An SB3 callback adding up the time spent collecting rollouts (``collect``, seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.collect, self._start = 0.0, 0.0

    def _on_rollout_start(self) -> None:
        self._start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.collect += time.perf_counter() - self._start

    def _on_step(self) -> bool:
        return True


def ppo_rate(env: Any, kwargs: dict[str, Any], rollouts: int, repeats: int) -> dict[str, float]:
    """PPO's samples per second on ``env`` (median of ``repeats`` ``learn`` calls of
    ``rollouts`` rollouts each, after one warm-up rollout), and its collection-only rate."""
    from stable_baselines3 import PPO

    torch.manual_seed(0)
    model = PPO(HeasActorCriticPolicy, env, device="cpu", **kwargs)
    model.learn(env.num_envs * kwargs["n_steps"])
    n = env.num_envs * kwargs["n_steps"] * rollouts
    walls, collects = [], []
    for _ in range(repeats):
        timer = RolloutTimer()
        start = time.perf_counter()
        model.learn(n, callback=timer)
        walls.append(time.perf_counter() - start)
        collects.append(timer.collect)
    wall, collect = statistics.median(walls), statistics.median(collects)
    return {"samples": n, "learn": n / wall, "collect": n / collect, "share": collect / wall}


def section_speed(budget: Budget, out: Path) -> None:
    """Batched population evaluation and PPO sampling against the one-env-per-X recipes."""
    import supersuit as ss

    emit(f"## 4. Speed (same run, side by side; medians of {budget.speed_repeats})\n")
    P, repeats = budget.speed_pop, budget.speed_repeats
    problem = BatchedRolloutProblem(ENTERPRISE, "firm")
    generator = torch.Generator().manual_seed(1)
    values = -0.1 + 0.2 * torch.rand(P, problem.solution_length, generator=generator)
    progress(f"speed: one generation of {P} on the enterprise, batched and one env each")
    with stdout_to_stderr():
        problem.evaluate_parameters(values)  # warm-up (builds the worlds)
        batched_s, batched = median_time(lambda: problem.evaluate_parameters(values), repeats)
    single_s, single = median_time(lambda: one_env_per_candidate(values), repeats)
    agree = float(np.abs(batched.numpy() - single).max())
    kwargs = dict(PPO_ECOLOGY)
    progress("speed: PPO on SharedRoleVecEnv, B = 16")
    ours = ppo_rate(
        SharedRoleVecEnv(ECOLOGY, "manager", num_worlds=16),
        kwargs,
        budget.speed_ppo_rollouts,
        repeats,
    )
    progress("speed: PPO on SuperSuit's concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1), 16")
    venv = ss.concat_vec_envs_v1(
        ss.pettingzoo_env_to_vec_env_v1(heas_envs.make_parallel(ECOLOGY)),
        16,
        num_cpus=0,
        base_class="stable_baselines3",
    )
    theirs = ppo_rate(venv, kwargs, budget.speed_ppo_rollouts, repeats)
    gen_ratio = single_s / batched_s
    ppo_ratio = ours["learn"] / theirs["learn"]
    emit(
        markdown_table(
            ["measure", "ours", "baseline", "ratio", "target", "met"],
            [
                [
                    f"(a) one generation, {P} candidates, enterprise (s)",
                    batched_s,
                    single_s,
                    f"{gen_ratio:.3g}x",
                    ">= 10x",
                    "yes" if gen_ratio >= 10 else "NO",
                ],
                [
                    "(b) PPO learn, samples/s (ecology, B = 16, 192 envs)",
                    ours["learn"],
                    theirs["learn"],
                    f"{ppo_ratio:.3g}x",
                    ">= 3x",
                    "yes" if ppo_ratio >= 3 else "NO",
                ],
                [
                    "(b') of which rollout collection only, samples/s",
                    ours["collect"],
                    theirs["collect"],
                    f"{ours['collect'] / theirs['collect']:.3g}x",
                    "",
                    "",
                ],
            ],
        )
    )
    emit(
        f"\n(a) ours: `BatchedRolloutProblem.evaluate_parameters` on a [{P}, "
        f"{problem.solution_length}] batch (one episode of 50 ticks each, seed 0); baseline: "
        "one `make_parallel` env per candidate in turn, `step_arrays` with the candidate's "
        f"MLPPolicy. Largest fitness difference between the two: {agree:.2g}.\n"
        f"(b) `model.learn({ours['samples']})` timesteps / wall time, PPO with our actor "
        f"(HeasActorCriticPolicy) and {kwargs}; ours: `SharedRoleVecEnv` (16 worlds x 12 "
        "seats); baseline: `ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1("
        "make_parallel(ecology)), 16, num_cpus=0, base_class='stable_baselines3')` (no seed). "
        f"Rollout collection is {ours['share']:.0%} of ours' learn time and "
        f"{theirs['share']:.0%} of the baseline's; the rest is PPO's gradient updates, the "
        "same work on both.\n"
    )
    pd.DataFrame(
        [
            {"measure": "generation_s", "ours": batched_s, "baseline": single_s},
            {"measure": "ppo_learn_sps", "ours": ours["learn"], "baseline": theirs["learn"]},
            {"measure": "ppo_collect_sps", "ours": ours["collect"], "baseline": theirs["collect"]},
        ]
    ).to_csv(out / "speed.csv", index=False)


# -- 5. ray --------------------------------------------------------------------------------------
def _evo_pair(gens: int, pop: int, out: Path) -> tuple[Any, Any]:
    runs = []
    for actors in (None, 2):
        with stdout_to_stderr():
            runs.append(
                train_evo(
                    ENTERPRISE,
                    "firm",
                    algo="SNES",
                    generations=gens,
                    popsize=pop,
                    seed=0,
                    num_actors=actors,
                    run_root=out / "runs",
                )
            )
    return runs[0], runs[1]


def _compare(serial: Any, ray_run: Any) -> list[Any]:
    same_best = bool(torch.equal(serial.best, ray_run.best))
    same_log = bool(serial.log.equals(ray_run.log))
    cols = [c for c in serial.log.columns if c.endswith("_mean")]
    diverge = [
        int(g)
        for g, a, b in zip(serial.log["generation"], serial.log[cols[0]], ray_run.log[cols[0]])
        if a != b
    ]
    return [same_best, same_log, diverge[0] if diverge else "none"]


def section_ray(budget: Budget, out: Path) -> None:
    """``train_evo`` with two Ray actors against the serial run of the same seed."""
    emit("## 5. Ray: train_evo with num_actors=2 vs serial (same seed)\n")
    gens, pop = budget.ray
    progress(f"ray: SNES {gens} x {pop} on the enterprise, serial and with 2 Ray actors")
    serial, ray_run = _evo_pair(gens, pop, out)
    rows = [["train_evo", *_compare(serial, ray_run)]]
    probe = BatchedRolloutProblem(ENTERPRISE, "firm")
    batch = probe.generate_batch(2)
    state = torch.get_rng_state()
    with stdout_to_stderr():
        probe.evaluate(batch)
    consumes = not torch.equal(state, torch.get_rng_state())
    with contextlib.suppress(Exception):
        import ray

        if ray.is_initialized():
            ray.shutdown()
    emit(
        f"SNES, popsize {pop}, {gens} generations, seed 0, on the enterprise; serial "
        "(`num_actors=None`) against `num_actors=2`.\n"
    )
    emit(
        markdown_table(
            ["run", "identical best vector", "identical log", "first generation that differs"],
            rows,
        )
    )
    col = [c for c in serial.log.columns if c.endswith("_mean")][0]
    emit(f"\nLog `{col}` per generation:\n")
    emit(
        markdown_table(
            ["generation", "serial", "2 Ray actors"],
            [
                [int(g), a, b]
                for g, a, b in zip(serial.log["generation"], serial.log[col], ray_run.log[col])
            ],
        )
    )
    emit(
        "\nEvoTorch's SNES samples every population from torch's global generator; the "
        "problem's `evaluate` runs under `torch.random.fork_rng()`, so evaluating (building the "
        "policy template, creating the Ray actors and their seeds) leaves that generator as it "
        f"was (an evaluation changed it here: {consumes}).\n"
    )


# -- main ----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections and print their results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test)")
    parser.add_argument("--out", type=Path, default=Path("runs/evidence"), help="output folder")
    args = parser.parse_args(argv)
    set_torch_threads()
    logging.getLogger("evotorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args.out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if args.quick else FULL
    emit(
        f"# Training evidence{' (--quick budgets)' if args.quick else ''}: "
        f"{' '.join(s for s in SECTIONS if s in args.only)}\n"
    )
    emit(f"torch threads: {torch.get_num_threads()}\n")
    sections = {
        "learning": section_learning,
        "enterprise": section_enterprise,
        "pareto": section_pareto,
        "speed": section_speed,
        "ray": section_ray,
    }
    run_sections(
        {name: lambda f=sections[name]: f(budget, args.out) for name in SECTIONS}, args.only
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
