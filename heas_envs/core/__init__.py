"""The hierarchy runtime: context, streams, agent groups, layers, models and specs."""

from heas_envs.core.callbacks import Callback, CallbackList
from heas_envs.core.context import Context
from heas_envs.core.model import (
    Layer,
    LayerSpec,
    LayerTrace,
    Model,
    StreamSpec,
    data_flow_edges,
    make_model,
    make_model_from_spec,
    validate_data_flow,
)
from heas_envs.core.params import (
    ModelParams,
    ParamInfo,
    check_bool,
    check_choice,
    check_float,
    check_int,
    param,
)
from heas_envs.core.stream import AgentGroup, Stream

__all__ = [
    "AgentGroup",
    "Callback",
    "CallbackList",
    "Context",
    "Layer",
    "LayerSpec",
    "LayerTrace",
    "Model",
    "ModelParams",
    "ParamInfo",
    "Stream",
    "StreamSpec",
    "check_bool",
    "check_choice",
    "check_float",
    "check_int",
    "data_flow_edges",
    "make_model",
    "make_model_from_spec",
    "param",
    "validate_data_flow",
]
