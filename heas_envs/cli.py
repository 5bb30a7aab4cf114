"""The ``heas-envs`` command: list the environments and run episodes with a built-in policy."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from heas_envs.registration import env_spec, list_envs, make_parallel

POLICIES = ("random", "heuristic")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def run_episodes(
    env_id: str,
    episodes: int = 1,
    steps: int | None = None,
    seed: int = 0,
    policy: str = "heuristic",
    params: dict[str, Any] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes of ``env_id``; one summary row per episode.

    Episode ``k`` is reset with seed ``seed + k``; random play draws from a generator seeded
    the same way, so every row can be reproduced alone.

    Args:
        env_id: A registered env id.
        episodes: Number of episodes, >= 1.
        steps: Ticks per episode (the env's ``max_steps``); default: the env's default.
        seed: Seed of the first episode.
        policy: ``"heuristic"`` (the model's reference policy) or ``"random"``.
        params: Model parameters.
        progress: Show a progress bar on standard error.

    Returns:
        Rows with ``episode``, ``seed``, ``steps``, ``return/<role>`` (mean over the role's
        agents of their summed rewards) and the streams' episode metrics.
    """
    from tqdm import tqdm

    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}")
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    params = dict(params or {})
    if steps is not None:
        params["max_steps"] = steps
    env = make_parallel(env_id, **params)
    rows = []
    for k in tqdm(range(episodes), desc=env_id, disable=not progress, file=sys.stderr):
        rng = np.random.default_rng(seed + k)
        obs, alive = env.reset_arrays(seed=seed + k)
        returns = {r: np.zeros(len(a)) for r, a in alive.items()}
        n = 0
        while env.agents:
            actions = env.heuristic_actions() if policy == "heuristic" else env.random_actions(rng)
            out = env.step_arrays(actions)
            for role, r in out.rewards.items():
                returns[role] += r
            n += 1
        row: dict[str, Any] = {"episode": k, "seed": seed + k, "steps": n}
        ever_alive = env.ever_alive
        for role, ret in returns.items():
            ever = ever_alive[role]
            row[f"return/{role}"] = float(ret[ever].mean()) if ever.any() else 0.0
        row.update(env.episode_metrics())
        rows.append(row)
    env.close()
    return rows


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param takes KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            params[key] = text
    return params


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``heas-envs``."""
    parser = _Parser(prog="heas-envs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the env ids with a one-line description")
    run = sub.add_parser("run", help="run episodes and print a summary table")
    run.add_argument("env_id", help="a registered env id (see `heas-envs list`)")
    run.add_argument("--episodes", type=int, default=3, help="number of episodes (default 3)")
    run.add_argument("--steps", type=int, default=None, help="ticks per episode (default: env's)")
    run.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    run.add_argument("--policy", choices=POLICIES, default="heuristic", help="who acts")
    run.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="model parameter"
    )
    run.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``heas-envs``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            for env_id in list_envs():
                print(f"{env_id:28s} {env_spec(env_id).description}")
            return 0
        if args.episodes < 1:
            raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
        rows = run_episodes(
            args.env_id,
            episodes=args.episodes,
            steps=args.steps,
            seed=args.seed,
            policy=args.policy,
            params=_parse_params(args.param),
            progress=not args.json and sys.stderr.isatty(),
        )
    except (UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 50):
            print(
                pd.DataFrame(rows).set_index("episode").to_string(float_format=lambda v: f"{v:.4g}")
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
