"""Named scenario sets: the enterprise paper grid and two grids of the other case studies."""

from __future__ import annotations

from collections.abc import Callable

from heas_envs.scenarios.scenario import Scenario, make_grid

_SETS: dict[str, Callable[[], list[Scenario]]] = {}


def register_scenario_set(name: str, build: Callable[[], list[Scenario]]) -> None:
    """Add a named set: ``build()`` returns its scenarios (called on every
    :func:`scenario_set`, so building is deferred until the set is asked for).

    Raises:
        ValueError: The name is taken or empty, or ``build`` is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a scenario set name must be a non-empty string, got {name!r}")
    if name in _SETS:
        raise ValueError(f"a scenario set named {name!r} is registered already")
    if not callable(build):
        raise ValueError(f"the builder of scenario set {name!r} must be callable, got {build!r}")
    _SETS[name] = build


def list_scenario_sets() -> list[str]:
    """The names of the registered scenario sets, in registration order."""
    return list(_SETS)


def scenario_set(name: str) -> list[Scenario]:
    """The scenarios of the set ``name`` (fresh objects on every call).

    Raises:
        ValueError: An unknown name (the message lists the sets).
    """
    if name not in _SETS:
        raise ValueError(f"unknown scenario set {name!r}; sets: {list_scenario_sets()}")
    return _SETS[name]()


def enterprise32() -> list[Scenario]:
    """The HEAS paper's 32 enterprise scenarios (:data:`heas_envs.models.enterprise.SCENARIOS`):
    regime x base demand (80, 120) x audit probability (0.1, 0.4) x firms (2, 6) x costs
    (0.3, 0.5), named as there (``"coop-lowdemand-lowaudit-2firms-lowcost"``)."""
    from heas_envs.models.enterprise import SCENARIOS

    return [
        Scenario(s["name"], "heas_envs/Enterprise-v0", {k: v for k, v in s.items() if k != "name"})
        for s in SCENARIOS
    ]


def ecology_climate_fragmentation() -> list[Scenario]:
    """The ecology under climate amplitude (``amplitude``: 0, the default 0.4, 0.8; the seasonal
    swing of the climate anomaly and the size of its shocks) x habitat fragmentation
    (``fragmentation``: 0, the default 0.2, 0.5; habitat quality is ``1 - fragmentation`` and
    ring links break with that probability): 9 scenarios, ``"amplitude=0.4,fragmentation=0.2"``
    style."""
    return make_grid(
        "heas_envs/Ecology-v0",
        {"amplitude": [0.0, 0.4, 0.8], "fragmentation": [0.0, 0.2, 0.5]},
    )


def market_volatility_regulator() -> list[Scenario]:
    """The market under price volatility (``volatility``: 0.005, the default 0.01, 0.02, 0.05;
    the standard deviation of the log-price noise per tick) x the regulator on or off
    (``regulator``: True, False): 8 scenarios, ``"volatility=0.02,regulator=False"`` style.

    "Off" is ``regulator=False``: no regulator agent exists (the env has the ``trader`` role
    only) and the transaction tax stays at the fixed ``tax`` parameter, 0 by default: no tax.
    "On" is the default regulator agent setting the tax every ``regulator_period`` ticks."""
    return make_grid(
        "heas_envs/Market-v0",
        {"volatility": [0.005, 0.01, 0.02, 0.05], "regulator": [True, False]},
    )


register_scenario_set("enterprise32", enterprise32)
register_scenario_set("ecology-climate-fragmentation", ecology_climate_fragmentation)
register_scenario_set("market-volatility-regulator", market_volatility_regulator)
