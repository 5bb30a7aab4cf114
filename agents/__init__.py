"""The policy side of heas_envs: torch policies, participants, training and evolution."""
