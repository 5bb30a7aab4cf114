"""Environment adapters: the PettingZoo ParallelEnv, the vector env of B worlds and the
single-agent Gymnasium views (one env, and B worlds as a Gymnasium VectorEnv)."""

from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import ArrayStep, HierarchicalParallelEnv, sample_actions
from heas_envs.env.single import SingleAgentEnv
from heas_envs.env.single_vector import SingleAgentVectorEnv
from heas_envs.env.vector import VectorStep, VectorWorldsEnv

__all__ = [
    "ArrayStep",
    "HierarchicalParallelEnv",
    "ModelEnv",
    "SingleAgentEnv",
    "SingleAgentVectorEnv",
    "VectorStep",
    "VectorWorldsEnv",
    "sample_actions",
]
