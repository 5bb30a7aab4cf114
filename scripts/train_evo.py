"""Evolve one role's policy with EvoTorch; the options are ``agents.train_cli.EvoArgs``.

    python scripts/train_evo.py --env-id heas_envs/Enterprise-v0 --role firm --generations 20
    python scripts/train_evo.py --algo GA --env-id heas_envs/Ecology-v0 --role manager \\
        --objective aggregate.mean_biomass:max --objective aggregate.mean_cv:min
    python scripts/train_evo.py --resume runs/<run directory> --generations 40

Same as ``heas-envs train evo ...``: the whole population plays in one batched rollout, every
candidate on the same episode seeds; the run directory holds the generation log (``log.csv``),
the best policy (``best.pt``), a checkpoint rewritten after every generation and, for several objectives, the
Pareto front (``pareto.csv``).
"""

from __future__ import annotations

from agents.train_cli import EvoArgs, run_evo, script_main

if __name__ == "__main__":
    raise SystemExit(script_main(EvoArgs, run_evo))
