"""heas_envs: hierarchical agent-based models as PettingZoo and Gymnasium environments."""

from heas_envs import models
from heas_envs.checks import check_env
from heas_envs.core import AgentGroup, Context, LayerSpec, Model, Stream, StreamSpec, make_model
from heas_envs.env import HierarchicalParallelEnv, SingleAgentEnv
from heas_envs.env.vector import VectorWorldsEnv
from heas_envs.registration import env_spec, list_envs, make_parallel, make_vec, register

__version__ = "0.1.0"

__all__ = [
    "AgentGroup",
    "Context",
    "HierarchicalParallelEnv",
    "LayerSpec",
    "Model",
    "SingleAgentEnv",
    "Stream",
    "StreamSpec",
    "VectorWorldsEnv",
    "check_env",
    "env_spec",
    "list_envs",
    "make_model",
    "make_parallel",
    "make_vec",
    "models",
    "register",
]
