"""Train one role with Stable-Baselines3 on batched worlds; the options are ``agents.train_cli.SB3Args``.

    python scripts/train_sb3.py --env-id heas_envs/Ecology-v0 --role manager --total-timesteps 20000
    python scripts/train_sb3.py --help

Same as ``heas-envs train sb3 ...``: seeds SB3, torch and the worlds, trains with parameter
sharing over the role's seats, saves ``args.json``, ``model.zip`` and ``actor.pt`` in a run
directory, and compares the trained policy with the heuristic and random play on held-out seeds.
"""

from __future__ import annotations

from agents.train_cli import SB3Args, run_sb3, script_main

if __name__ == "__main__":
    raise SystemExit(script_main(SB3Args, run_sb3))
