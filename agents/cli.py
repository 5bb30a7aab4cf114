"""The ``heas-envs`` command with the subcommands of the policy side (``train``, ``tournament``)
of the sweeps (``sweep``) and of the plots (``viz``, ``arch``) added."""

from __future__ import annotations

from collections.abc import Sequence

import agents.tournament_cli  # noqa: F401  (registers `heas-envs tournament`)
import agents.train_cli  # noqa: F401  (registers `heas-envs train`)
import heas_envs.data.cli  # noqa: F401  (registers `heas-envs sweep`)
import heas_envs.vis.cli  # noqa: F401  (registers `heas-envs viz` and `arch`)
from heas_envs.cli import main as _main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``heas-envs`` console script (see :func:`heas_envs.cli.main`)."""
    return _main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
