"""Wrappers over the environments: :class:`FixedSlots` shows every possible agent at every
step (absent ones zero-observed and masked), for TorchRL, RLlib and SuperSuit."""

from heas_envs.wrappers.fixed_slots import FixedSlots

__all__ = ["FixedSlots"]
