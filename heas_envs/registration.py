"""The one list of environments: ids, entry points, descriptions and focal roles.

Importing :mod:`heas_envs` registers every id here with Gymnasium too (the single-agent view),
so ``gymnasium.make(env_id)`` and :func:`make_parallel` take the same ids.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import pettingzoo

from heas_envs.core.params import ModelParams
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.vector import VectorWorldsEnv


@dataclass(frozen=True)
class EnvSpec:
    """One registered environment.

    Attributes:
        id: The env id, ``"heas_envs/<Name>-v<k>"``.
        entry_point: ``"module:Class"`` of its :class:`~heas_envs.env.HierarchicalParallelEnv`.
        description: One line for ``heas-envs list``.
        focal_role: The role of the focal agent in the single-agent (Gymnasium) view.
        size_param: The parameter that sets the number of agents (or simulated individuals).
        scaling: Exponents of the parameters that grow with the size: :meth:`scaled_params`
            multiplies each default by ``factor ** exponent`` (default: ``size_param`` alone,
            exponent 1). A grid side that should keep the density has exponent 0.5.
    """

    id: str
    entry_point: str
    description: str
    focal_role: str
    size_param: str
    scaling: dict[str, float] = field(default_factory=dict)

    def scaled_params(self, factor: float) -> dict[str, int]:
        """The size parameters for ``factor`` times the default number of agents."""
        defaults = env_parameters(self.id)
        exponents = self.scaling or {self.size_param: 1.0}
        return {k: max(1, round(defaults[k] * factor**e)) for k, e in exponents.items()}

    def load(self) -> type:
        """Import and return the env class."""
        module, name = self.entry_point.split(":")
        return getattr(importlib.import_module(module), name)


_REGISTRY: dict[str, EnvSpec] = {}


def register(
    id: str,
    entry_point: str,
    description: str,
    focal_role: str,
    size_param: str,
    scaling: dict[str, float] | None = None,
) -> None:
    """Add an environment to the registry, to Gymnasium's (as its single-agent view) and,
    where the installed PettingZoo has a registry (1.27 and later), to PettingZoo's:
    ``pettingzoo.make("parallel", id)`` and ``pettingzoo.make("aec", id)``.

    The arguments are the fields of :class:`EnvSpec`.
    """
    if id in _REGISTRY:
        raise ValueError(f"env id {id!r} is registered already")
    _REGISTRY[id] = EnvSpec(id, entry_point, description, focal_role, size_param, scaling or {})
    gymnasium.register(
        id=id,
        entry_point="heas_envs.env.single:SingleAgentEnv",
        vector_entry_point="heas_envs.env.single_vector:SingleAgentVectorEnv",
        kwargs={"env_id": id},
        disable_env_checker=True,
    )
    if hasattr(pettingzoo, "register"):
        module = entry_point.split(":")[0]
        pettingzoo.register("parallel", id, entry_point=f"{module}:parallel_env")
        pettingzoo.register("aec", id, entry_point=f"{module}:env")


def list_envs() -> list[str]:
    """The registered env ids, in registration order."""
    return list(_REGISTRY)


def env_spec(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; an unknown id raises a ``ValueError`` listing the valid ones."""
    if env_id not in _REGISTRY:
        raise ValueError(f"unknown env id {env_id!r}; valid ids: {list_envs()}")
    return _REGISTRY[env_id]


#: The env arguments that are not model parameters.
ENV_ARGUMENTS = ("render_mode", "max_cycles")


def env_params_class(env_id: str) -> type[ModelParams]:
    """The parameter declaration of ``env_id`` (a :class:`~heas_envs.core.params.ModelParams`
    dataclass): names, types, defaults, bounds and meanings.

    Raises:
        ValueError: An unknown id, or an env class without a declaration (a user's model that
            is not a :class:`~heas_envs.env.model_env.ModelEnv`).
    """
    params = _declaration(env_spec(env_id).load())
    if params is None:
        raise ValueError(
            f"{env_id} declares no parameters (its class is not a "
            f"heas_envs.env.model_env.ModelEnv); see the signature of its class"
        )
    return params


def env_json_schema(env_id: str) -> dict[str, Any]:
    """The JSON Schema of the parameters of ``env_id`` (see :func:`env_params_class`)."""
    return env_params_class(env_id).json_schema()


def env_parameters(env_id: str) -> dict[str, Any]:
    """The model parameters of ``env_id`` with their defaults (``max_steps`` included; not
    the env arguments ``render_mode`` and ``max_cycles``)."""
    cls = env_spec(env_id).load()
    params = _declaration(cls)
    if params is not None:
        return params.defaults()
    signature = list(inspect.signature(cls).parameters.values())
    return {
        p.name: p.default
        for p in signature
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ENV_ARGUMENTS
    }


def make_parallel(env_id: str, **params: Any):
    """Build the PettingZoo ``ParallelEnv`` of ``env_id``.

    Args:
        env_id: A registered id (see :func:`list_envs`).
        **params: Model parameters (see :func:`env_parameters`) and the env arguments
            ``render_mode`` and ``max_cycles``.

    Raises:
        ValueError: An unknown id or parameter (the message lists the valid ones), or a
            parameter value outside its range.
    """
    cls = env_spec(env_id).load()
    if _declaration(cls) is not None:
        valid = [*env_parameters(env_id), *ENV_ARGUMENTS]
    else:  # a user's class: its signature
        signature = inspect.signature(cls).parameters.values()
        valid = [p.name for p in signature if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if any(p.kind == p.VAR_KEYWORD for p in signature):
            valid += list(params)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for {env_id}; valid parameters: {sorted(valid)}"
        )
    return cls(**params)


def make_vec(
    env_id: str,
    num_worlds: int = 1,
    *,
    autoreset: str = "next_step",
    record_trace: bool = False,
    focal: tuple[str, int] | None = None,
    callbacks: Any = None,
    **params: Any,
) -> VectorWorldsEnv:
    """Build ``num_worlds`` worlds of ``env_id`` stepped together as one array env.

    World ``b`` reset with seed ``s_b`` follows exactly the env that :func:`make_parallel`
    builds, reset with ``s_b``, under the same actions (see :mod:`heas_envs.env.vector`).

    Args:
        env_id: A registered id whose class is a :class:`~heas_envs.env.model_env.ModelEnv`.
        num_worlds: The number of worlds B.
        autoreset: ``"next_step"`` or ``"same_step"`` (see :mod:`heas_envs.env.vector`).
        record_trace: Keep each step's per-layer trace.
        focal: ``(role, index)`` of an agent whose end ends its world's episode.
        callbacks: :class:`~heas_envs.core.callbacks.Callback` hooks to register (one, a list
            or ``None``; see :mod:`heas_envs.core.callbacks`).
        **params: Model parameters, as for :func:`make_parallel` (``max_cycles`` too).

    Raises:
        ValueError: An unknown id or parameter, a bad value, or an env class that cannot
            build batched models.
    """
    if "render_mode" in params:
        raise ValueError(
            "make_vec renders nothing: leave out render_mode (render a single env from "
            "make_parallel instead)"
        )
    env = make_parallel(env_id, **params)
    if not isinstance(env, ModelEnv):
        raise ValueError(
            f"{env_id} cannot be batched: its class {type(env).__name__} is not a "
            "heas_envs.env.model_env.ModelEnv (which builds models of any number of worlds)"
        )
    venv = VectorWorldsEnv(
        env.batched_model,
        num_worlds,
        max_steps=env.max_steps,
        autoreset=autoreset,
        focal=focal,
        record_trace=record_trace,
        callbacks=callbacks,
    )
    venv.env_id = env_id
    venv.params = {**env.params, "max_steps": env.max_steps}
    venv.single_env = env
    return venv


def _declaration(cls: type) -> type[ModelParams] | None:
    params = getattr(cls, "Params", None)
    return params if isinstance(params, type) and issubclass(params, ModelParams) else None


register(
    "heas_envs/Market-v0",
    "heas_envs.models.market:MarketEnv",
    "traders on a price process with impact, under a regulator's transaction tax",
    focal_role="trader",
    size_param="n_traders",
)
register(
    "heas_envs/Ecology-v0",
    "heas_envs.models.ecology:EcologyEnv",
    "predator-prey metacommunity: patch managers set prey risk and dispersal (HEAS eco case)",
    focal_role="manager",
    size_param="n_patches",
)
register(
    "heas_envs/Enterprise-v0",
    "heas_envs.models.enterprise:EnterpriseEnv",
    "firms choose output, investment and compliance under a government (HEAS enterprise case)",
    focal_role="firm",
    size_param="n_firms",
)
register(
    "heas_envs/Economy-v0",
    "heas_envs.models.economy:EconomyEnv",
    "artificial society: signals, attention, production, trade, consumption, reproduction",
    focal_role="citizen",
    size_param="n_agents",
    scaling={"n_agents": 1.0},  # max_population follows n_agents
)
register(
    "heas_envs/WolfSheep-v0",
    "heas_envs.models.wolf_sheep:WolfSheepEnv",
    "Mesa's wolf-sheep predation on a grass grid, under a ranger who culls and limits grazing",
    focal_role="ranger",
    size_param="initial_sheep",
    scaling={
        "initial_sheep": 1.0,
        "initial_wolves": 1.0,
        "max_animals": 1.0,
        "width": 0.5,
        "height": 0.5,
    },
)
register(
    "heas_envs/Boltzmann-v0",
    "heas_envs.models.boltzmann:BoltzmannEnv",
    "Mesa's Boltzmann wealth model: agents decide whether and to whom they give one unit",
    focal_role="agent",
    size_param="n_agents",
    scaling={"n_agents": 1.0, "width": 0.5, "height": 0.5},
)
register(
    "heas_envs/PowerGrid-v0",
    "heas_envs.models.grid:PowerGridEnv",
    "IEEE 14-bus DC power flow: an attacker trips lines and biases sensors, a defender redispatches",
    focal_role="defender",
    size_param="attack_budget",
)
