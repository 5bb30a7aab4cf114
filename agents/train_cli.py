"""Training from the command line: ``heas-envs train sb3|evo|workers`` and ``scripts/train_*.py``.

The arguments of each path are one dataclass with a docstring under every field, in the style
of CleanRL; :func:`add_arguments` turns it into command-line options (``--total-timesteps``),
so the scripts and the ``heas-envs`` subcommands take the same options.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from heas_envs.cli import UsageError, _Parser, key_values, parse_params, register_command
from heas_envs.scenarios.objective import Objective


@dataclass
class SB3Args:
    """Train one role with Stable-Baselines3 on batched worlds (parameter sharing)."""

    env_id: str = "heas_envs/Ecology-v0"
    """a registered env id (see `heas-envs list`)"""
    role: str = "manager"
    """the trained role; every agent of it shares the policy"""
    algo: str = "PPO"
    """PPO or A2C (our MLPPolicy is the actor), SAC, TD3, DDPG or DQN (SB3's own policies)"""
    total_timesteps: int = 20_000
    """SB3's budget, in seat-steps (worlds x seats x env steps)"""
    seed: int = 0
    """seed of SB3, torch and the worlds"""
    num_worlds: int = 8
    """worlds stepped together"""
    seats: int = 0
    """seats of the role per world (0: its live agents at reset)"""
    background: str = "heuristic"
    """who plays the other roles: heuristic or random"""
    param: list[str] = field(default_factory=list)
    """a model parameter KEY=VALUE (repeatable; see `heas-envs params ENV_ID`)"""
    algo_kwarg: list[str] = field(default_factory=list)
    """an argument of the SB3 algorithm KEY=JSON (repeatable), e.g. n_steps=64"""
    run_root: str = "runs"
    """where the run directory is made"""
    checkpoints: int = 0
    """checkpoints saved over the run"""
    tensorboard: bool = True
    """log to TensorBoard in <run_dir>/tb"""
    progress: bool = True
    """show SB3's progress bar"""
    threads: int = 0
    """torch threads (0: HEAS_TORCH_THREADS or 1)"""
    eval_episodes: int = 10
    """held-out episodes (seeds 10000, 10001, ...) to compare the policy with the heuristic and random play (0: none)"""
    reward_negate: str = ""
    """train on this role's reward negated instead of the env's reward (empty: the env's reward)"""
    reward_metric: list[str] = field(default_factory=list)
    """train on a weighted sum of per-step metrics, KEY=WEIGHT (repeatable); SB3 refuses it (its worlds reset in the same step)"""


@dataclass
class EvoArgs:
    """Evolve one role's policy with EvoTorch, the whole population in one batched rollout."""

    env_id: str = "heas_envs/Enterprise-v0"
    """a registered env id (see `heas-envs list`)"""
    role: str = "firm"
    """the evolved role; every agent of it plays the candidate"""
    algo: str = "SNES"
    """SNES, CMAES, PGPE, CEM, or GA (several objectives)"""
    generations: int = 20
    """generations to run (in all, when resuming)"""
    popsize: int = 32
    """population size"""
    seed: int = 0
    """seed of the search"""
    objective: list[str] = field(default_factory=lambda: ["return:max"])
    """NAME:SENSE, repeatable: return or an episode metric, max or min"""
    episodes: int = 2
    """episodes per candidate (seeds 0, 1, ...; the same for every candidate)"""
    param: list[str] = field(default_factory=list)
    """a model parameter KEY=VALUE (repeatable)"""
    num_actors: int = 0
    """EvoTorch's Ray actors (0: evaluate in this process)"""
    run_root: str = "runs"
    """where the run directory is made"""
    resume: str = ""
    """a run directory to continue from its checkpoint"""
    progress: bool = True
    """show a progress bar over generations"""
    threads: int = 0
    """torch threads (0: HEAS_TORCH_THREADS or 1)"""
    reward_negate: str = ""
    """evolve on this role's reward negated instead of the env's reward: the return fitness is its return (empty: the env's reward)"""
    reward_metric: list[str] = field(default_factory=list)
    """evolve on a weighted sum of per-step metrics, KEY=WEIGHT (repeatable): the return fitness is its return"""


@dataclass
class WorkersArgs:
    """Train one role with PPO: one learner, several inference workers (brain and muscles)."""

    env_id: str = "heas_envs/PowerGrid-v0"
    """a registered env id (see `heas-envs list`)"""
    role: str = "defender"
    """the trained role; every agent of it shares the policy"""
    workers: int = 2
    """inference workers"""
    worlds_per_worker: int = 4
    """worlds each worker steps"""
    n_steps: int = 128
    """steps each worker collects per iteration"""
    iterations: int = 50
    """collect-and-update iterations"""
    backend: str = "process"
    """where the workers run: inprocess, process or ray"""
    seed: int = 0
    """seed of PPO, the worlds and the workers' samples"""
    seats: int = 0
    """seats of the role per world (0: its live agents at reset)"""
    background: str = "heuristic"
    """who plays the other roles: heuristic or random"""
    param: list[str] = field(default_factory=list)
    """a model parameter KEY=VALUE (repeatable; see `heas-envs params ENV_ID`)"""
    algo_kwarg: list[str] = field(default_factory=list)
    """an argument of SB3's PPO KEY=JSON (repeatable), e.g. batch_size=256"""
    run_root: str = "runs"
    """where the run directory is made"""
    progress: bool = True
    """show a progress bar over iterations"""
    threads: int = 0
    """the learner's torch threads (0: HEAS_TORCH_THREADS or 1)"""
    eval_episodes: int = 10
    """held-out episodes (seeds 10000, 10001, ...) to compare the policy with the heuristic and random play (0: none)"""
    reward_negate: str = ""
    """train on this role's reward negated instead of the env's reward (empty: the env's reward)"""


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of the dataclass ``cls`` (read from its source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = after.value.value
    return docs


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one option per field of the dataclass ``cls`` to ``parser`` (``--field-name``;
    booleans as ``--x``/``--no-x``, lists repeatable), with the field's docstring as help."""
    docs, hints = field_docs(cls), get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag, kind = "--" + f.name.replace("_", "-"), hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        text = f"{docs.get(f.name, '')} (default: {default!r})"
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=text
            )
        elif kind == list[str]:
            parser.add_argument(flag, action="append", default=None, metavar="VALUE", help=text)
        else:
            parser.add_argument(flag, type=kind, default=default, help=text)


def from_namespace(cls: type, ns: argparse.Namespace) -> Any:
    """The dataclass ``cls`` from parsed options (lists not given take their defaults)."""
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(ns, f.name)
        if value is None and f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            value = f.default_factory()  # type: ignore[misc]
        values[f.name] = value
    return cls(**values)


def reward_objective(role: str, negate: str, metric: Sequence[str]) -> Objective | None:
    """The :class:`~heas_envs.scenarios.Objective` of ``role`` that ``--reward-negate`` and
    ``--reward-metric KEY=WEIGHT`` ask for (``None`` when neither is given).

    Raises:
        UsageError: Both are given, or a metric is not KEY=WEIGHT with a finite number, or
            names a key twice.
    """
    if negate and metric:
        raise UsageError("give --reward-negate or --reward-metric, not both")
    if negate:
        return Objective(role, negate=negate)
    if not metric:
        return None
    weights = key_values(metric, "--reward-metric")
    for key, weight in weights.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
        ):
            raise UsageError(
                f"--reward-metric {key}: the weight must be a finite number, got {weight!r}"
            )
    return Objective(role, metrics=weights)


def run_sb3(args: SB3Args) -> int:
    """Train, save and (optionally) evaluate as ``args`` says; print a summary."""
    from agents.sb3 import ALGORITHMS, train_sb3

    if args.algo not in ALGORITHMS:
        raise UsageError(f"--algo must be one of {list(ALGORITHMS)}, got {args.algo!r}")
    if args.total_timesteps < 1 or args.num_worlds < 1 or args.seats < 0 or args.eval_episodes < 0:
        raise UsageError(
            "--total-timesteps and --num-worlds must be >= 1, --seats and --eval-episodes >= 0"
        )
    params = parse_params(args.env_id, args.param)
    objective = reward_objective(args.role, args.reward_negate, args.reward_metric)
    result = train_sb3(
        args.env_id,
        args.role,
        algo=args.algo,
        total_timesteps=args.total_timesteps,
        seed=args.seed,
        num_worlds=args.num_worlds,
        seats=args.seats or None,
        background=args.background,
        env_params=params,
        algo_kwargs=key_values(args.algo_kwarg, "--algo-kwarg"),
        run_root=args.run_root,
        checkpoints=args.checkpoints,
        tensorboard=args.tensorboard,
        progress_bar=args.progress,
        threads=args.threads or None,
        reward_objective=objective,
    )
    print(f"run directory: {result.run_dir}")
    print(f"empty seat-steps: {result.empty_share:.1%}")
    if args.eval_episodes and args.algo in ("PPO", "A2C"):
        compare(args, result.actor, params, objective)
    return 0


def compare(args: Any, actor: Any, params: dict[str, Any], objective: Objective | None) -> None:
    """Print the mean return of ``actor``, the heuristic and random play on ``args``'s
    held-out seeds, on the reward the policy was trained on."""
    from agents.rollout import evaluate

    seeds = list(range(10_000, 10_000 + args.eval_episodes))
    for name, policy in [("trained", actor), ("heuristic", "heuristic"), ("random", "random")]:
        returns = evaluate(
            args.env_id,
            args.role,
            policy,
            seeds,
            args.background,
            params,
            reward_objective=objective,
        ).returns
        print(f"{name:10s} mean return {returns.mean():.4g} over {len(seeds)} held-out episodes")


def run_workers(args: WorkersArgs) -> int:
    """Train with a learner and inference workers as ``args`` says; print a summary."""
    from agents.learner import train_workers

    if args.eval_episodes < 0 or args.seats < 0:
        raise UsageError("--eval-episodes and --seats must be >= 0")
    params = parse_params(args.env_id, args.param)
    objective = reward_objective(args.role, args.reward_negate, [])
    result = train_workers(
        args.env_id,
        args.role,
        n_workers=args.workers,
        worlds_per_worker=args.worlds_per_worker,
        n_steps=args.n_steps,
        iterations=args.iterations,
        seed=args.seed,
        backend=args.backend,
        seats=args.seats or None,
        background=args.background,
        env_params=params,
        reward_objective=objective,
        algo_kwargs=key_values(args.algo_kwarg, "--algo-kwarg"),
        run_root=args.run_root,
        threads=args.threads or None,
        progress_bar=args.progress,
    )
    collect, learn = sum(result.collect_seconds), sum(result.learn_seconds)
    print(f"run directory: {result.run_dir}")
    print(
        f"last mean reward per seat-step {result.mean_rewards[-1]:.4g}; collecting {collect:.1f} s, "
        f"learning {learn:.1f} s"
    )
    if args.eval_episodes:
        compare(args, result.actor, params, objective)
    return 0


def run_evo(args: EvoArgs) -> int:
    """Evolve as ``args`` says; print the last generations of the log."""
    from agents.evo import ALGORITHMS, train_evo

    if args.algo not in ALGORITHMS:
        raise UsageError(f"--algo must be one of {list(ALGORITHMS)}, got {args.algo!r}")
    if args.generations < 1 or args.popsize < 2 or args.episodes < 1 or args.num_actors < 0:
        raise UsageError(
            "--generations and --episodes must be >= 1, --popsize >= 2, --num-actors >= 0"
        )
    objectives = []
    for item in args.objective:
        name, sep, sense = item.rpartition(":")
        if not sep:
            raise UsageError(f"--objective takes NAME:SENSE (sense max or min), got {item!r}")
        objectives.append((name, sense))
    result = train_evo(
        args.env_id,
        args.role,
        algo=args.algo,
        generations=args.generations,
        popsize=args.popsize,
        seed=args.seed,
        objectives=objectives,
        episodes=args.episodes,
        env_params=parse_params(args.env_id, args.param),
        num_actors=args.num_actors or None,
        run_root=args.run_root,
        resume=args.resume or None,
        progress=args.progress,
        threads=args.threads or None,
        reward_objective=reward_objective(args.role, args.reward_negate, args.reward_metric),
    )
    print(result.log.tail(5).to_string(index=False))
    print(f"run directory: {result.run_dir}")
    return 0


#: ``heas-envs train`` subcommands: name -> (arguments, run).
TRAINERS: dict[str, tuple[type, Any]] = {
    "sb3": (SB3Args, run_sb3),
    "evo": (EvoArgs, run_evo),
    "workers": (WorkersArgs, run_workers),
}


def configure_train(parser: argparse.ArgumentParser) -> None:
    """The ``heas-envs train sb3|evo|workers`` options."""
    sub = parser.add_subparsers(dest="trainer", required=True, parser_class=_Parser)
    for name, (cls, _) in TRAINERS.items():
        add_arguments(sub.add_parser(name, help=cls.__doc__), cls)


def run_train(ns: argparse.Namespace) -> int:
    """Run ``heas-envs train sb3|evo|workers``."""
    cls, run = TRAINERS[ns.trainer]
    return run(from_namespace(cls, ns))


def script_main(cls: type, run: Any, argv: Sequence[str] | None = None) -> int:
    """The main of ``scripts/train_sb3.py`` / ``train_evo.py``: parse ``cls``'s options, run;
    one-line errors with exit status 2."""
    parser = _Parser(description=cls.__doc__)
    add_arguments(parser, cls)
    try:
        return run(from_namespace(cls, parser.parse_args(argv)))
    except (UsageError, ValueError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


register_command(
    "train",
    "train a policy: sb3 (Stable-Baselines3), evo (EvoTorch) or workers (PPO, a learner and "
    "inference workers)",
    configure_train,
    run_train,
)
