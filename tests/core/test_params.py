"""Parameter checks (refusals that name what is accepted) and the one-per-model declaration."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from dataclasses import dataclass

import numpy as np
import pytest

import heas_envs
from heas_envs.checks import documented_arguments, signature_arguments
from heas_envs.cli import params_table
from heas_envs.core.params import (
    MAX_TEXT_LENGTH,
    ModelParams,
    check_bool,
    check_choice,
    check_float,
    check_int,
    param,
)
from heas_envs.registration import env_json_schema, env_parameters, env_params_class, env_spec

ENV_IDS = heas_envs.list_envs()


# -- check_int / check_float / check_bool / check_choice -------------------------------------
@pytest.mark.parametrize(
    "value", [10**400, -(10**400), 10**5000], ids=["1e400", "-1e400", "1e5000"]
)
def test_huge_ints_give_a_short_value_error_naming_the_argument(value):
    for check in (check_float, check_int):
        with pytest.raises(ValueError) as info:
            check("size", value, 1, 100)
        message = str(info.value)
        assert message.startswith("size must be") and "[1, 100]" in message
        assert len(message) < 200 and "digits" in message


def test_a_huge_int_without_bounds_is_not_a_float():
    with pytest.raises(ValueError, match="rate must be a finite number, got an integer of"):
        check_float("rate", 10**400)


@pytest.mark.parametrize(
    "value",
    ["3", "3.5", " 1e3 ", b"3", bytearray(b"3"), 3 + 0j, complex(1, 2), np.complex128(1.0)],
)
def test_strings_bytes_and_complex_numbers_are_not_numbers(value):
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0, 10\], got "):
        check_float("rate", value, 0.0, 10.0)
    with pytest.raises(ValueError, match=r"count must be an integer in \[0, 10\], got "):
        check_int("count", value, 0, 10)


@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), np.ones((2, 2)), np.array([1.0])])
def test_arrays_with_dimensions_are_refused(value):
    with pytest.raises(ValueError, match=r"rate must be a finite number.*got an array of shape"):
        check_float("rate", value)
    with pytest.raises(ValueError, match=r"count must be an integer.*got an array of shape"):
        check_int("count", value.astype(int))


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.array(True)])
def test_bools_are_not_numbers(value):
    with pytest.raises(ValueError, match="rate must be a finite number"):
        check_float("rate", value)
    with pytest.raises(ValueError, match="count must be an integer"):
        check_int("count", value)


def test_numpy_scalars_and_0d_arrays_are_accepted_as_python_numbers():
    for value in (np.int8(3), np.int64(3), np.uint16(3), np.array(3)):
        out = check_int("count", value, 0, 10)
        assert out == 3 and type(out) is int
    for value in (np.float32(0.5), np.float64(0.5), np.array(0.5), np.int32(2), 2, 0.5):
        out = check_float("rate", value, 0.0, 10.0)
        assert out == float(value) and type(out) is float
    assert (
        check_bool("flag", np.array(True)) is True and check_bool("flag", np.bool_(False)) is False
    )


def test_non_finite_and_out_of_range_values_say_what_is_accepted():
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0, 1\], got nan"):
        check_float("rate", float("nan"), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"count must be an integer >= 1, got 0"):
        check_int("count", 0, 1)
    with pytest.raises(ValueError, match=r"count must be an integer in \[1, 5\], got 3.0"):
        check_int("count", 3.0, 1, 5)


def test_the_reason_of_a_bound_is_in_the_message():
    with pytest.raises(ValueError, match=r"in \[1, 5\], got 6 \(it needs too much memory\)$"):
        check_int("count", 6, 1, 5, why="it needs too much memory")


def test_check_choice_matches_values_of_the_same_kind_only():
    assert check_choice("mode", "a", ("a", "b")) == "a"
    for value in (np.array(["a", "b"]), True, 1, ["a"], None, b"a"):
        with pytest.raises(ValueError, match=r"mode must be one of \['a', 'b'\], got "):
            check_choice("mode", value, ("a", "b"))
    with pytest.raises(ValueError, match="level must be one of"):
        check_choice("level", True, (1, 2))


# -- the declaration --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ToyParams(ModelParams):
    """Parameters of a toy model."""

    size: int = param(10, 1, 100, "Number of agents", why="more would not fit")
    rate: float = param(0.5, 0.0, 1.0, "A rate")
    noisy: bool = param(True, doc="Whether there is noise")
    mode: str = param("a", doc="The mode", choices=("a", "b"))
    pool: int | None = param(None, 1, 1000, "Slots; None means 2 * size")
    max_steps: int = param(50, 1, 10**9, "Ticks per episode")

    def check(self) -> None:
        if self.pool is not None:
            check_int("pool", self.pool, self.size, 1000)


def test_building_validates_and_converts_every_field():
    p = ToyParams(size=np.int64(5), rate=1, noisy=np.bool_(False), pool=np.array(7))
    assert (p.size, p.rate, p.noisy, p.pool) == (5, 1.0, False, 7)
    assert type(p.size) is int and type(p.rate) is float and type(p.noisy) is bool
    with pytest.raises(ValueError, match=r"size must be an integer in \[1, 100\], got 101 \(more"):
        ToyParams(size=101)
    with pytest.raises(ValueError, match="mode must be one of"):
        ToyParams(mode="c")
    with pytest.raises(ValueError, match=r"pool must be an integer in \[10, 1000\], got 5"):
        ToyParams(pool=5)  # the cross-field rule of check()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.size = 3  # type: ignore[misc]


def test_from_kwargs_lists_the_valid_parameters_of_an_unknown_one():
    assert ToyParams.from_kwargs({"size": 3}).size == 3
    with pytest.raises(
        ValueError,
        match=r"unknown parameter\(s\) \['sise'\] for toy-v0; valid parameters: "
        r"\['max_steps', 'mode', 'noisy', 'pool', 'rate', 'size'\]",
    ):
        ToyParams.from_kwargs({"sise": 3}, env_id="toy-v0")


def test_defaults_args_doc_and_json_schema():
    assert ToyParams.defaults() == dict(
        size=10, rate=0.5, noisy=True, mode="a", pool=None, max_steps=50
    )
    assert ToyParams.args_doc().splitlines() == [
        "    size (int): Number of agents, in [1, 100].",
        "    rate (float): A rate, in [0, 1].",
        "    noisy (bool): Whether there is noise.",
        '    mode (str): The mode, one of "a", "b".',
        "    pool (int | None): Slots; None means 2 * size, in [1, 1000].",
        "    max_steps (int): Ticks per episode, in [1, 1000000000].",
    ]
    schema = ToyParams.json_schema()
    assert schema["title"] == "ToyParams" and schema["type"] == "object"
    assert schema["description"] == "Parameters of a toy model."
    assert schema["properties"]["size"] == {
        "type": "integer",
        "default": 10,
        "minimum": 1,
        "maximum": 100,
        "description": "Number of agents, in [1, 100].",
    }
    assert schema["properties"]["pool"]["type"] == ["integer", "null"]
    assert schema["properties"]["mode"]["enum"] == ["a", "b"]
    assert schema["properties"]["noisy"]["type"] == "boolean"
    json.dumps(schema)  # serialisable


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("size", "12", 12),
        ("size", "-3", -3),  # parsed; the range is checked when the params are built
        ("rate", "0.25", 0.25),
        ("rate", "1", 1.0),
        ("rate", "2e-3", 0.002),
        ("noisy", "false", False),
        ("noisy", "True", True),
        ("mode", "b", "b"),
        ("mode", '"b"', "b"),
        ("pool", "null", None),
        ("pool", "None", None),
        ("pool", "40", 40),
    ],
)
def test_parse_text_reads_json_like_literals(name, text, value):
    out = ToyParams.parse_text(name, text)
    assert out == value and type(out) is type(value)


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("size", "1.5", r"size must be an integer in \[1, 100\], got '1.5'"),
        ("size", "null", "size must be an integer"),
        ("rate", "fast", r"rate must be a number in \[0, 1\], got 'fast'"),
        ("noisy", "yes", "noisy must be true or false, got 'yes'"),
        ("size", "[1, 2]", "size takes one int .*not a list"),
        pytest.param(
            "size",
            "[" * 10_000 + "]" * 10_000,
            r"the value of size is too long \(20000 characters",
            id="nested-10000-deep",
        ),
        pytest.param(
            "size", "9" * 5000, r"the value of size is too long \(5000 characters", id="5000-digits"
        ),
        ("sise", "3", r"unknown parameter\(s\) \['sise'\]"),
    ],
)
def test_parse_text_refuses_other_text_naming_the_parameter(name, text, match):
    with pytest.raises(ValueError, match=match) as info:
        ToyParams.parse_text(name, text)
    assert len(str(info.value)) < 300
    assert len("9" * MAX_TEXT_LENGTH) == MAX_TEXT_LENGTH


# -- every registered env: one declaration, the same everywhere -------------------------------
def _doc_types(cls: type) -> dict[str, str]:
    doc = inspect.getdoc(cls)
    section = doc.split("\nArgs:\n", 1)[1]
    return dict(re.findall(r"^ {4}(\w+) \((.*?)\):", section, flags=re.M))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_args_signature_env_parameters_schema_and_cli_agree(env_id):
    cls = env_spec(env_id).load()
    declared = env_params_class(env_id)
    infos = declared.describe()
    names = [i.name for i in infos]
    env_args = ["render_mode", "max_cycles"]
    assert "max_steps" in names and "render_mode" not in names

    assert documented_arguments(cls) == signature_arguments(cls) == names + env_args
    doc_types = _doc_types(cls)
    assert [doc_types[n] for n in names] == [i.type_name for i in infos]
    signature = inspect.signature(cls).parameters
    assert [str(signature[n]) for n in names] == [
        f"{i.name}: {i.type_name} = {i.default!r}" for i in infos
    ]
    assert list(inspect.signature(cls.__init__).parameters)[1:] == names + env_args

    assert env_parameters(env_id) == {i.name: i.default for i in infos}
    schema = env_json_schema(env_id)
    assert list(schema["properties"]) == names
    assert [p["default"] for p in schema["properties"].values()] == [i.default for i in infos]
    assert schema["title"] == declared.__name__

    table = params_table(env_id).splitlines()[1:]
    assert [row.split()[0] for row in table] == names
    for row, i in zip(table, infos):
        assert row.split(None, 1)[1].startswith(f"{i.type_name}  ")
        assert f"  {json.dumps(i.default)}  " in row

    env = cls()
    assert env.max_steps == declared().max_steps
    assert env.model_params == declared()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_module_page_shows_the_generated_args(env_id):
    cls = env_spec(env_id).load()
    module = inspect.getmodule(cls)
    first = env_params_class(env_id).args_doc().splitlines()[0]
    assert first in module.__doc__ and first in cls.__doc__
    assert module.__doc__.count("\nArgs:\n") == 1
    assert "max_cycles (int | None)" in module.__doc__


@pytest.mark.parametrize(
    "env_id, size",
    [
        ("heas_envs/Market-v0", {"n_traders": 500_001}),
        ("heas_envs/Ecology-v0", {"n_patches": 1_000_001}),
        ("heas_envs/Enterprise-v0", {"n_firms": 1_000_001}),
        ("heas_envs/Economy-v0", {"n_agents": 100_000}),
        ("heas_envs/Economy-v0", {"n_agents": 10, "max_population": 20_000}),
        ("heas_envs/WolfSheep-v0", {"width": 5000}),
        ("heas_envs/WolfSheep-v0", {"max_animals": 10**8}),
        ("heas_envs/Boltzmann-v0", {"n_agents": 1_000_000}),
        ("heas_envs/Boltzmann-v0", {"width": 10_000}),
    ],
)
def test_sizes_beyond_this_machines_memory_are_refused_with_the_reason(env_id, size):
    (name,) = [k for k in size if k not in ("n_agents",)] or ["n_agents"]
    with pytest.raises(ValueError, match=rf"^{name} must be an integer .*memory") as info:
        heas_envs.make_parallel(env_id, **size)
    assert "GiB" in str(info.value)


def test_economy_default_population_is_ten_times_the_agents_within_the_bound():
    from heas_envs.models.economy import EconomyEnv

    assert EconomyEnv(n_agents=20).config.max_population == 200
    assert EconomyEnv(n_agents=3000, max_steps=1).config.max_population == 10_000
    assert EconomyEnv(n_agents=20, max_population=25).params["max_population"] == 25


def test_max_cycles_is_max_steps_and_positional_arguments_are_refused():
    from heas_envs.models.market import MarketEnv

    assert MarketEnv(max_cycles=7).max_steps == 7
    assert heas_envs.make_parallel("heas_envs/Market-v0", max_cycles=8).max_steps == 8
    with pytest.raises(ValueError, match="give max_steps or max_cycles"):
        MarketEnv(max_steps=5, max_cycles=7)
    with pytest.raises(TypeError):
        MarketEnv(10)  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['n_trader'\] for MarketEnv"):
        MarketEnv(n_trader=3)
