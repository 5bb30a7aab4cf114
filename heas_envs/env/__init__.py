"""Environment adapters: the PettingZoo ParallelEnv and the single-agent Gymnasium view."""

from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import ArrayStep, HierarchicalParallelEnv, sample_actions
from heas_envs.env.single import SingleAgentEnv

__all__ = ["ArrayStep", "HierarchicalParallelEnv", "ModelEnv", "SingleAgentEnv", "sample_actions"]
