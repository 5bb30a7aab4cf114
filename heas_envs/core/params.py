"""Model parameters: one declaration per model, and checks whose messages say what is accepted.

A model declares its parameters once, as a frozen dataclass derived from :class:`ModelParams`
whose fields come from :func:`param`::

    @dataclass(frozen=True, kw_only=True)
    class MarketParams(ModelParams):
        n_traders: int = param(10, 1, 1_000_000, "Number of traders")
        regulator: bool = param(True, doc="Whether a regulator agent sets the tax")

Building an instance validates every field from its annotation (``int``, ``float``, ``bool``,
``str`` with ``choices``, ``int | None``) and its bounds, then runs :meth:`ModelParams.check`
(cross-field rules). The same declaration gives the docstring's ``Args:`` lines
(:meth:`ModelParams.args_doc`), a JSON schema (:meth:`ModelParams.json_schema`) and the parsing
of command-line text (:meth:`ModelParams.parse_text`).

The ``check_*`` functions are usable alone; they accept Python and NumPy scalars (and 0-d
arrays) of the right kind, refuse everything else (bools as numbers, numeric strings, bytes,
complex numbers, arrays with dimensions) and never raise anything but ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The largest ``max_steps`` of the built-in models (ticks per episode).
MAX_STEPS = 1_000_000_000

#: The largest seed (NumPy seeds are non-negative; 2**63 - 1 fits every integer type).
MAX_SEED = 2**63 - 1

#: Longest command-line text :meth:`ModelParams.parse_text` parses (a value, not a structure).
MAX_TEXT_LENGTH = 100

_SHOW_LENGTH = 60  # longest repr shown in an error message


# -- single checks ---------------------------------------------------------------------------
def check_int(
    name: str,
    value: Any,
    low: int | None = None,
    high: int | None = None,
    *,
    why: str | None = None,
) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise a ``ValueError`` naming ``name``.

    Python and NumPy integers (and 0-d integer arrays) are accepted; bools, floats, strings and
    arrays are not. ``why`` (the reason for the bounds) is added to an out-of-range message.
    """
    expected = f"{name} must be an integer{_range(low, high)}"
    value = _unwrap(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{expected}, got {show_value(value)}")
    out = int(value)
    if (low is not None and out < low) or (high is not None and out > high):
        raise ValueError(f"{expected}, got {show_value(out)}{_because(why)}")
    return out


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    why: str | None = None,
) -> float:
    """Return ``value`` as a finite float in ``[low, high]`` or raise a ``ValueError``.

    Python and NumPy reals (ints included; 0-d arrays too) are accepted; bools, strings, bytes,
    complex numbers and arrays are not, and neither are NaN, infinities or ints too large for a
    float. ``why`` (the reason for the bounds) is added to an out-of-range message.
    """
    expected = f"{name} must be a finite number{_range(low, high)}"
    value = _unwrap(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{expected}, got {show_value(value)}")
    try:
        out = float(value)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"{expected}, got {show_value(value)}") from None
    if not math.isfinite(out):
        raise ValueError(f"{expected}, got {show_value(value)}")
    if (low is not None and out < low) or (high is not None and out > high):
        raise ValueError(f"{expected}, got {show_value(value)}{_because(why)}")
    return out


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is one (Python or NumPy), else raise a ``ValueError``."""
    value = _unwrap(value)
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {show_value(value)}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them.

    A value matches a choice of the same kind only (a string a string, a bool a bool, a number
    a number), so ``True`` is not the choice ``1`` and ``"1"`` is not ``1``.
    """
    for choice in choices:
        if _same_kind(value, choice) and value == choice:
            return choice
    raise ValueError(f"{name} must be one of {list(choices)}, got {show_value(value)}")


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` as an int if it is ``None`` or an integer in ``[0, 2**63 - 1]``.

    Raises:
        ValueError: Anything else (the message says ``name`` and the accepted range).
    """
    value = _unwrap(seed)
    if value is None:
        return None
    integral = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not integral or not 0 <= int(value) <= MAX_SEED:
        raise ValueError(
            f"{name} must be None or an integer in [0, 2**63 - 1], got {show_value(value)}"
        )
    return int(value)


def _unwrap(value: Any) -> Any:
    """A 0-d array (NumPy, or anything with ``shape == ()`` and ``item()``) as its scalar."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item() if value.dtype.kind in "biuf" else value
    if not isinstance(value, (numbers.Number, str, bytes, np.generic)):
        shape = getattr(value, "shape", None)
        if shape is not None and tuple(shape) == () and callable(getattr(value, "item", None)):
            try:
                return value.item()
            except Exception:
                return value
    return value


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_))
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str)
    if isinstance(a, numbers.Number) or isinstance(b, numbers.Number):
        return isinstance(a, numbers.Number) and isinstance(b, numbers.Number)
    return a is None and b is None


def show_value(value: Any, note_kind: bool = True) -> str:
    """A short description of ``value`` for an error message (never raises): long reprs are
    cut, huge integers given by their number of digits, arrays by their shape; with
    ``note_kind``, numeric strings, bytes and complex numbers are named as such."""
    if isinstance(value, bool):
        return f"{value!r} (a bool)"
    if isinstance(value, int) and abs(value) >= 10**18:
        digits = max(1, math.floor(value.bit_length() * math.log10(2)))
        return f"an integer of about {digits} digits"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if not note_kind:
        kind = ""
    elif isinstance(value, str) and not isinstance(value, np.str_):
        kind = " (a string)" if _looks_numeric(value) else ""
    elif isinstance(value, (bytes, bytearray)):
        kind = " (bytes)"
    elif isinstance(value, complex):
        kind = " (a complex number)"
    else:
        kind = ""
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    if len(text) > _SHOW_LENGTH:
        text = f"{text[: _SHOW_LENGTH - 3]}... ({len(text)} characters)"
    return text + kind


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt(v: float) -> str:
    """A bound as written in messages and docs: ``5``, ``0.1``, ``1e-06``, ``1e+09``."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    text = f"{v:g}"
    return text.replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{_fmt(low)}, {_fmt(high)}]"
    if low is not None:
        return f" >= {_fmt(low)}"
    if high is not None:
        return f" <= {_fmt(high)}"
    return ""


def _because(why: str | None) -> str:
    return f" ({why})" if why else ""


# -- the declaration -------------------------------------------------------------------------
def param(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    doc: str = "",
    *,
    choices: Sequence[Any] | None = None,
    why: str | None = None,
) -> Any:
    """A field of a :class:`ModelParams` dataclass.

    Args:
        default: The default value.
        low: The smallest accepted value (numbers), or ``None``.
        high: The largest accepted value (numbers), or ``None``.
        doc: What the parameter means (one phrase; the range is added where it is shown).
        choices: The accepted values of a ``str`` parameter.
        why: The reason for the bounds, added to an out-of-range error (e.g. the memory a
            larger size would need).

    Returns:
        A ``dataclasses.field`` carrying these in its ``metadata``.
    """
    metadata = {
        "low": low,
        "high": high,
        "doc": doc,
        "choices": tuple(choices) if choices is not None else None,
        "why": why,
    }
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """What the declaration says of one parameter (see :func:`param`).

    Attributes:
        name: The parameter's name.
        type: ``int``, ``float``, ``bool`` or ``str``.
        optional: Whether ``None`` is accepted too (``int | None``).
        default: The default value.
        low: The smallest accepted value, or ``None``.
        high: The largest accepted value, or ``None``.
        choices: The accepted values of a ``str`` parameter, or ``None``.
        doc: What the parameter means.
        why: The reason for the bounds, or ``None``.
    """

    name: str
    type: type
    optional: bool
    default: Any
    low: float | None
    high: float | None
    choices: tuple[Any, ...] | None
    doc: str
    why: str | None

    @property
    def type_name(self) -> str:
        """``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"int | None"``."""
        return f"{self.type.__name__} | None" if self.optional else self.type.__name__

    @property
    def annotation(self) -> Any:
        """The type as an annotation (``int``, ``int | None``, ...)."""
        return self.type | None if self.optional else self.type

    def range_text(self) -> str:
        """The accepted values in words: ``in [1, 100]``, ``>= 0``, ``one of "a", "b"``."""
        if self.choices is not None:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        return _range(self.low, self.high).strip()

    def validate(self, value: Any) -> Any:
        """``value`` converted to the parameter's type, or a ``ValueError`` naming it."""
        if self.optional and value is None:
            return None
        if self.type is bool:
            return check_bool(self.name, value)
        if self.type is int:
            return check_int(self.name, value, self.low, self.high, why=self.why)
        if self.type is float:
            return check_float(self.name, value, self.low, self.high, why=self.why)
        if self.choices is not None:
            return check_choice(self.name, value, self.choices)
        if not isinstance(value, str):
            raise ValueError(f"{self.name} must be a string, got {show_value(value)}")
        return value


_SCALARS = (bool, int, float, str)
_INFOS: dict[type, tuple[ParamInfo, ...]] = {}
_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelParams:
    """Base of a model's parameter declaration (a frozen, keyword-only dataclass).

    Subclasses declare fields with :func:`param` and may override :meth:`check` (rules that
    involve several fields) and :meth:`model_kwargs`. Every subclass has a ``max_steps``
    field (ticks per episode), which the env takes; the others go to the model.
    """

    def __post_init__(self) -> None:
        for info in self.describe():
            object.__setattr__(self, info.name, info.validate(getattr(self, info.name)))
        self.check()

    def check(self) -> None:
        """Cross-field rules; raise a ``ValueError`` naming the parameter. Default: none."""

    def model_kwargs(self) -> dict[str, Any]:
        """The model's keyword arguments: every field but ``max_steps``."""
        return {i.name: getattr(self, i.name) for i in self.describe() if i.name != "max_steps"}

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (``max_steps`` included)."""
        return {i.name: getattr(self, i.name) for i in self.describe()}

    # -- the declaration ------------------------------------------------------------------
    @classmethod
    def describe(cls) -> tuple[ParamInfo, ...]:
        """The declared parameters, in declaration order."""
        if cls not in _INFOS:
            _INFOS[cls] = _describe(cls)
        return _INFOS[cls]

    @classmethod
    def names(cls) -> list[str]:
        """The parameter names, in declaration order."""
        return [i.name for i in cls.describe()]

    @classmethod
    def info(cls, name: str) -> ParamInfo:
        """The declaration of parameter ``name``; an unknown name lists the valid ones."""
        for i in cls.describe():
            if i.name == name:
                return i
        raise ValueError(cls._unknown_message([name]))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter with its default, in declaration order."""
        return {i.name: i.default for i in cls.describe()}

    @classmethod
    def from_kwargs(
        cls,
        mapping: Mapping[str, Any],
        env_id: str | None = None,
        *,
        also_valid: Sequence[str] = (),
    ) -> ModelParams:
        """Validated parameters from keyword arguments (missing ones take their defaults).

        Args:
            mapping: Parameter values by name.
            env_id: Named in the message of an unknown parameter (default: the class name).
            also_valid: Other accepted names, listed with the valid parameters (the env's own
                arguments); they must not be in ``mapping``.

        Raises:
            ValueError: An unknown parameter (the message lists the valid ones) or a value
                outside its declared range.
        """
        unknown = sorted(set(mapping) - set(cls.names()))
        if unknown:
            raise ValueError(cls._unknown_message(unknown, env_id, also_valid))
        return cls(**mapping)

    @classmethod
    def _unknown_message(
        cls, unknown: list[str], env_id: str | None = None, also_valid: Sequence[str] = ()
    ) -> str:
        valid = sorted([*cls.names(), *also_valid])
        shown = [n if len(n) <= _SHOW_LENGTH else n[:_SHOW_LENGTH] + "..." for n in unknown]
        return (
            f"unknown parameter(s) {shown} for {env_id or cls.__name__}; valid parameters: {valid}"
        )

    # -- what comes from it ---------------------------------------------------------------
    @classmethod
    def args_doc(cls, indent: int = 4, width: int = 100) -> str:
        """The Google-style ``Args:`` lines (without the ``Args:`` heading), one per field.

        For example ``    n_traders (int): Number of traders, in [1, 1000000].``
        """
        return "\n".join(
            _arg_line(i.name, i.type_name, _meaning(i), indent, width) for i in cls.describe()
        )

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """A JSON Schema (draft 2020-12) of the parameters: type, default, bounds, enum and
        description of each; ``title`` is the class name."""
        kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
        properties: dict[str, Any] = {}
        for i in cls.describe():
            prop: dict[str, Any] = {
                "type": [kinds[i.type], "null"] if i.optional else kinds[i.type],
                "default": i.default,
            }
            if i.low is not None:
                prop["minimum"] = i.low
            if i.high is not None:
                prop["maximum"] = i.high
            if i.choices is not None:
                prop["enum"] = list(i.choices)
            prop["description"] = _meaning(i)
            properties[i.name] = prop
        doc = (cls.__doc__ or "").strip().splitlines()
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": cls.__name__,
            "description": doc[0] if doc else "",
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }

    @classmethod
    def parse_text(cls, name: str, text: str, env_id: str | None = None) -> Any:
        """Parse command-line ``text`` as a value of parameter ``name`` (not yet range-checked).

        Only single JSON-like literals are read: integers, numbers (``1.5``, ``2e-3``),
        ``true``/``false`` (or ``True``/``False``), ``null``/``None`` where ``None`` is
        accepted, and strings (quoted or bare). Lists, dicts and text longer than
        :data:`MAX_TEXT_LENGTH` characters are refused.

        Raises:
            ValueError: An unknown parameter (listing the valid ones) or text that is not a
                value of the parameter's type; the message names the parameter.
        """
        if name not in cls.names():
            raise ValueError(cls._unknown_message([name], env_id))
        i = cls.info(name)
        if not isinstance(text, str):
            raise ValueError(f"{name}: expected text, got {show_value(text)}")
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(
                f"the value of {name} is too long ({len(text)} characters; at most "
                f"{MAX_TEXT_LENGTH}): {name} takes one {i.type_name}"
            )
        raw = text.strip()
        if raw[:1] in ("[", "{", "("):
            raise ValueError(
                f"{name} takes one {i.type_name} ({i.range_text() or 'any'}), "
                f"not a list or mapping; got {show_value(text)}"
            )
        if i.optional and raw in ("None", "null", "none"):
            return None
        if i.type is bool:
            if raw in ("true", "True"):
                return True
            if raw in ("false", "False"):
                return False
            raise ValueError(f"{name} must be true or false, got {show_value(text)}")
        if i.type is int:
            if _INT_TEXT.fullmatch(raw):
                return int(raw)
            none = " or null" if i.optional else ""
            raise ValueError(
                f"{name} must be an integer{_range(i.low, i.high)}{none}, got {show_value(text)}"
            )
        if i.type is float:
            if _FLOAT_TEXT.fullmatch(raw):
                return float(raw)
            raise ValueError(
                f"{name} must be a number{_range(i.low, i.high)}, got {show_value(text)}"
            )
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            return raw[1:-1]
        return raw


def _describe(cls: type) -> tuple[ParamInfo, ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(
            f"{cls.__name__} must be a dataclass (@dataclass(frozen=True, kw_only=True))"
        )
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        base, optional = _kind(hints[f.name])
        if base is None:
            raise TypeError(
                f"{cls.__name__}.{f.name}: parameters are int, float, bool, str or int | None; "
                f"got {hints[f.name]!r}"
            )
        meta = f.metadata
        choices = meta.get("choices")
        if base is str and choices is None:
            raise TypeError(f"{cls.__name__}.{f.name}: a str parameter needs choices")
        if f.default is dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a parameter needs a default (use param())")
        out.append(
            ParamInfo(
                name=f.name,
                type=base,
                optional=optional,
                default=f.default,
                low=meta.get("low"),
                high=meta.get("high"),
                choices=choices,
                doc=meta.get("doc", ""),
                why=meta.get("why"),
            )
        )
    return tuple(out)


def _kind(hint: Any) -> tuple[type | None, bool]:
    if hint in _SCALARS:
        return hint, False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        rest = [a for a in args if a is not type(None)]
        if len(args) == 2 and len(rest) == 1 and rest[0] is int:
            return int, True
    return None, False


def _meaning(i: ParamInfo) -> str:
    text = i.doc.rstrip(". ")
    rng = i.range_text()
    if rng:
        text = f"{text}, {rng}" if text else rng
    return text + "."


def _arg_line(name: str, type_name: str, meaning: str, indent: int, width: int) -> str:
    # keep "[low, high]" on one line
    meaning = re.sub(r"\[([^\]]*)\]", lambda m: m.group(0).replace(" ", "\x00"), meaning)
    text = textwrap.fill(
        f"{name} ({type_name}): {meaning}",
        width=width,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent + 4),
        break_on_hyphens=False,
    )
    return text.replace("\x00", " ")
