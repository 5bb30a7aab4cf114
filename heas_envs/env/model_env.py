"""The base of the built-in model envs: constructor, signature and ``Args:`` from one declaration.

A model env subclasses :class:`ModelEnv`, sets ``Params`` to its :class:`ModelParams` dataclass
and implements :meth:`ModelEnv.build_model`::

    class MarketEnv(ModelEnv):
        __doc__ = __doc__            # the module docstring; its Args: section is generated
        Params = MarketParams

        def build_model(self, params):
            return make_model(market_spec(**params.model_kwargs()))

The class then takes the declared parameters as keyword arguments (plus ``render_mode`` and
PettingZoo's ``max_cycles``), ``inspect.signature`` lists them with their types and defaults,
and its docstring has an ``Args:`` section generated from the declaration.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from heas_envs.core.model import Model
from heas_envs.core.params import ModelParams, check_int
from heas_envs.env.parallel import HierarchicalParallelEnv, with_max_cycles

#: The env arguments that are not model parameters.
ENV_ARGUMENTS = ("render_mode", "max_cycles")


class ModelEnv(HierarchicalParallelEnv):
    """A :class:`HierarchicalParallelEnv` over a model built from declared parameters.

    Attributes:
        Params: The parameter declaration (a :class:`~heas_envs.core.params.ModelParams`
            dataclass); set by every subclass.
        model_params: The validated parameters of this env (an instance of ``Params``).
        params: The model's keyword arguments (every parameter but ``max_steps``), as the
            model module's ``*_spec`` function takes them.
    """

    Params: ClassVar[type[ModelParams]]

    def __init__(
        self, *, render_mode: str | None = None, max_cycles: int | None = None, **params: Any
    ) -> None:
        params = with_max_cycles(params, max_cycles)
        self.model_params = self.Params.from_kwargs(
            params, env_id=type(self).__name__, also_valid=ENV_ARGUMENTS
        )
        self.params: dict[str, Any] = self.model_params.model_kwargs()
        model = self.build_model(self.model_params)
        HierarchicalParallelEnv.__init__(
            self, model, max_steps=self.model_params.max_steps, render_mode=render_mode
        )

    def build_model(self, params: ModelParams, n_worlds: int = 1) -> Model:
        """The model of ``n_worlds`` worlds for the validated ``params`` (an instance of
        ``Params``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_model")

    def batched_model(self, n_worlds: int) -> Model:
        """A model of ``n_worlds`` worlds with this env's parameters; world ``b`` of it,
        reset with seeds ``[s_0, ..., s_{B-1}]``, is bit-identical to this env's model reset
        with ``s_b`` under the same actions (see :mod:`heas_envs.core.random`)."""
        return self.build_model(self.model_params, n_worlds=check_int("n_worlds", n_worlds, 1))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" not in cls.__dict__:
            return
        if "max_steps" not in cls.Params.names():
            raise TypeError(f"{cls.Params.__name__} must declare max_steps")
        signature = env_signature(cls)
        if "__init__" not in cls.__dict__:

            def __init__(self: ModelEnv, **kwargs: Any) -> None:
                ModelEnv.__init__(self, **kwargs)

            __init__.__qualname__ = f"{cls.__qualname__}.__init__"
            __init__.__module__ = cls.__module__
            __init__.__doc__ = f"Build the env; the arguments are those of :class:`{cls.__name__}`."
            self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
            __init__.__signature__ = signature.replace(  # type: ignore[attr-defined]
                parameters=[self_param, *signature.parameters.values()]
            )
            cls.__init__ = __init__  # type: ignore[method-assign]
        cls.__signature__ = signature  # type: ignore[attr-defined]
        cls.__doc__ = with_args_section(cls.__doc__ or "", env_args_doc(cls))


def env_signature(cls: type[ModelEnv]) -> inspect.Signature:
    """The keyword-only signature of ``cls``: its declared parameters, ``render_mode`` and
    ``max_cycles``."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(i.name, kw, default=i.default, annotation=i.annotation)
        for i in cls.Params.describe()
    ]
    params.append(inspect.Parameter("render_mode", kw, default=None, annotation=str | None))
    params.append(inspect.Parameter("max_cycles", kw, default=None, annotation=int | None))
    return inspect.Signature(params, return_annotation=None)


def env_args_doc(cls: type[ModelEnv]) -> str:
    """The ``Args:`` lines of ``cls``: the declared parameters, then the env arguments."""
    modes = ", ".join(f'"{m}"' for m in cls.metadata.get("render_modes", []))
    modes = f"None or one of {modes}" if modes else "None"
    return "\n".join(
        [
            cls.Params.args_doc(),
            f"    render_mode (str | None): {modes}.",
            "    max_cycles (int | None): PettingZoo's name of max_steps (give one of the two).",
        ]
    )


def with_args_section(doc: str, args: str) -> str:
    """``doc`` with ``args`` as its ``Args:`` section: replacing an existing one, else placed
    before a ``Version history`` paragraph, else at the end."""
    doc = doc.rstrip("\n")
    section = f"Args:\n{args}\n"
    lines = doc.split("\n")
    if "Args:" in lines:
        start = lines.index("Args:")
        end = start + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
            end += 1
        return "\n".join([*lines[:start], section, *lines[end:]]) + "\n"
    for k, line in enumerate(lines):
        if line.startswith("Version history"):
            return "\n".join([*lines[:k], section, *lines[k:]]) + "\n"
    return f"{doc}\n\n{section}"
