"""Ecology: a predator-prey metacommunity on a fragmented ring of patches, one manager per patch.

The HEAS paper's ecological case study (``heas.experiments.eco``: climate, landscape, prey with
a risk trait, predators, movement, aggregator), grown from one patch into a metacommunity of
``n_patches`` patches whose prey traits (risk, dispersal) are chosen each tick by a manager.

| | |
|---|---|
| Id | ``heas_envs/Ecology-v0`` (``heas_envs.make_parallel``; ``gymnasium.make`` gives one manager) |
| Agents | ``manager_0`` ... ``manager_{n_patches-1}``, one per patch, always alive |
| Manager action | ``Box(0, 1, (2,))``: [0] risk (prey boldness: foraging effort and exposure to predators), [1] dispersal (share of ``max_dispersal`` of the patch's prey sent to linked neighbours) |
| Manager observation | ``Box((8,))``: [0] own prey / ``carrying_capacity`` (clipped to [0, 10]), [1] predation pressure ``attack_rate`` * own predators / ``growth_rate`` (clipped to [0, 100]), [2] own climate anomaly of the last tick (in [-2, 2]), [3] habitat quality (in [0, 1]), [4] mean prey / ``carrying_capacity`` of the linked neighbours (0 without links; clipped to [0, 10]), [5] intact links / 2 (in [0, 1]), [6] sin and [7] cos of the coming tick's season phase ``2 pi tick / season_period`` |
| Manager reward | the patch's prey biomass at the end of the tick / ``carrying_capacity`` |
| State | every slot's observation, flattened |
| Names | observation ``prey``, ``predation_pressure``, ``climate_anomaly``, ``habitat_quality``, ``neighbour_prey``, ``intact_links``, ``season_sin``, ``season_cos``; action ``risk``, ``dispersal`` (in index order: the manager group's ``observation_names`` and ``action_names``) |

Layers and streams (a tick runs them in this order):

| layer | stream | reads | writes |
|---|---|---|---|
| L1 environment | ``climate`` | | ``value`` ``[B, P]`` |
| L1 environment | ``landscape`` (drawn at reset, then static) | | ``quality`` ``[B, P]``, ``left``, ``right`` ``[B, P]`` (intact links) |
| L2 populations | ``managers`` (agent group ``manager``) | ``movement.prey``, ``movement.predators``, ``climate.value``, ``landscape.quality``, ``landscape.left``, ``landscape.right`` | ``risk``, ``dispersal`` ``[B, P]`` |
| L2 populations | ``prey`` (logistic growth, predation) | ``movement.prey``, ``movement.predators`` (start of tick), ``climate.value``, ``landscape.quality``, ``managers.risk`` | ``biomass``, ``eaten`` ``[B, P]`` |
| L2 populations | ``predators`` (numerical response) | ``movement.predators`` (start of tick), ``prey.eaten`` | ``biomass`` ``[B, P]`` |
| L2 populations | ``movement`` (dispersal, quasi-extinction) | ``prey.biomass``, ``predators.biomass``, ``managers.dispersal``, ``landscape.left``, ``landscape.right`` | ``prey``, ``predators``, ``prey_extinctions``, ``predator_extinctions`` ``[B, P]``, ``migrants`` ``[B]`` |
| L3 aggregate | ``aggregate`` | ``movement.prey``, ``movement.predators``, ``movement.prey_extinctions``, ``movement.predator_extinctions`` | ``mean_biomass``, ``cv``, ``extinctions``, ``total_extinctions`` ``[B]`` |

``movement.prey`` / ``movement.predators`` are the populations at the end of a tick; the
``prey`` and ``predators`` streams read them before ``movement`` runs, so they see the start
of the tick.

Dynamics of patch ``i`` in one tick (``x`` prey, ``y`` predators, ``rho`` risk, ``d`` dispersal):

- Climate: ``c_i = amplitude * sin(2 pi tick / season_period) + s_i``, where with probability
  ``shock_prob`` (independently per patch) ``s_i`` is uniform in ``[-amplitude, amplitude]``,
  else 0 (HEAS ``Climate``, one draw per patch).
- Landscape: quality ``q = max(0, 1 - fragmentation)`` (HEAS ``Landscape``); the patches form a
  ring whose link between patch ``i`` and ``i + 1`` is intact with probability
  ``1 - fragmentation``, drawn per world at reset (one patch has no links).
- Prey: foraging ``f = rho * (1 + quality_effect * q)``; growth
  ``G = growth_rate * (1 + climate_effect * c) * f * x * (1 - x / carrying_capacity)``;
  predation ``E = min(max(x + G, 0), attack_rate * rho * f * x * y)``;
  ``x <- max(x + G, 0) - E``.
- Predators: ``y <- max(0, y + conversion * E - mortality * y)``.
- Movement: ``max_dispersal * d * x`` prey and ``predator_dispersal * y`` predators leave a
  patch with at least one intact link, split equally over its intact links; a share
  ``move_cost`` of the migrants dies on the way.
- Quasi-extinction: a population below ``extinction_threshold`` is set to 0. An extinction
  event is a prey or predator population that was above 0 at the start of the tick and is 0 at
  its end; immigrants can recolonise an empty patch.

Populations are never negative: every update is clipped at 0 and predation never takes more
prey than there are.

Deviations from ``heas.experiments.eco`` (1.0.2), and why:

- HEAS is one well-mixed patch (``n_patches`` is only written to the context); here every
  stream works on ``[B, n_patches]`` arrays and movement is real dispersal between patches.
- HEAS forages with ``(1 - risk)`` and leaves growth independent of risk, so risk has no
  benefit; the issue asks for a risk trait trading growth against predation, so foraging here
  is ``risk`` (bolder prey grow faster and meet more predators). The predation term keeps the
  HEAS form ``risk * forage * 0.01 * x * y``, with ``0.01`` exposed as ``attack_rate``. For
  fixed populations the tick's prey gain is largest at
  ``rho* = growth_rate * (1 + climate_effect * c) * (1 - x / K) / (2 * attack_rate * y)``.
- HEAS predators gain ``conv * 0.01 * x * y`` whatever the prey eat or risk, so predators can
  grow without bound on hiding prey; here they gain ``conversion`` times the prey actually
  eaten, which keeps every population bounded (the default ``conversion = 0.1`` is the usual
  ten-percent rule and lets both species persist at ``carrying_capacity = 1000``).
- HEAS movement multiplies prey by ``1 + 0.01 * dispersal`` (free biomass); here dispersal
  moves prey between linked patches at a cost (``move_cost``), and predators disperse too.
- In HEAS the episode seed never reaches the model's random generator; here every draw comes
  from ``ctx.rng`` (created by ``reset(seed)``), so a seed repeats an episode exactly.

Metrics (per tick): ``climate.mean``, ``landscape.connectivity`` (share of intact links),
``managers.mean_risk``, ``managers.mean_dispersal``, ``prey.eaten`` (mean per patch),
``movement.migrants`` (prey leaving patches), ``aggregate.mean_biomass`` (mean prey biomass per
patch), ``aggregate.cv`` (coefficient of variation of the patches' prey biomass,
``std / mean`` with numpy's population std; 0 when no prey is left), ``aggregate.mean_predators``,
``aggregate.extinctions`` (events this tick), ``aggregate.total_extinctions``,
``aggregate.empty_patches`` (patches without prey). Per episode: ``managers.mean_risk``,
``managers.mean_dispersal``, ``aggregate.mean_biomass`` (time mean of the mean prey biomass,
HEAS's ``agg.mean_biomass``), ``aggregate.cv`` (temporal coefficient of variation of the mean
prey biomass, HEAS's ``agg.cv``), ``aggregate.mean_cv`` (time mean of the per-tick spatial
``cv``), ``aggregate.extinctions`` (events in the episode), ``aggregate.final_prey``,
``aggregate.final_predators``, ``aggregate.extinct_fraction`` (share of patches where prey or
predators are extinct at the end, HEAS's ``agg.extinct`` per patch). The two HEAS objectives
for multi-objective search are ``aggregate.mean_biomass`` (maximise) and ``aggregate.cv``
(minimise).

Heuristic (managers): the myopic optimum ``rho*`` above, computed from the observation
(``1`` where there are no predators, ``0`` at or above carrying capacity), and no dispersal
(emigrants leave the manager's own patch, so a selfish manager keeps them). Played by every
manager it keeps the prey near carrying capacity and starves the predators out (prey refuge);
random play keeps both species in every patch.

Defaults are those of HEAS's ``make_trait_spec`` (12 patches, ``x0 = 100``, ``y0 = 20``,
``r = 0.55``, ``K = 1000``, ``amp = 0.4``, ``period = 12``, ``shock_prob = 0.1``,
``fragmentation = 0.2``, ``move_cost = 0.2``, ``betaF = 0.3``, ``gammaV = 0.2``,
``mort = 0.15``, ``ext_thresh = 1``, 200 steps) except ``conversion`` (see above).

Version history: v0 (initial release).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from heas_envs.core import (
    AgentGroup,
    Context,
    LayerSpec,
    Stream,
    StreamSpec,
    make_model,
)
from heas_envs.core.model import Model
from heas_envs.core.params import MAX_STEPS, ModelParams, param
from heas_envs.env.model_env import ModelEnv
from heas_envs.env.parallel import HierarchicalParallelEnv, pettingzoo_constructors

DENSITY_CLIP = 10.0  # observed prey densities (prey / K) are clipped to [0, DENSITY_CLIP]
PRESSURE_CLIP = 100.0  # observed predation pressure is clipped to [0, PRESSURE_CLIP]


def neighbour_sum(values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (``[..., P]``) over each patch's intact ring links (``[B, P]``).

    ``left[..., i]`` is the link from patch ``i`` to ``i - 1``, ``right[..., i]`` to ``i + 1``.
    """
    from_left = np.concatenate((values[..., -1:], values[..., :-1]), axis=-1)  # value of i - 1
    from_right = np.concatenate((values[..., 1:], values[..., :1]), axis=-1)  # value of i + 1
    return left * from_left + right * from_right


def disperse(
    amount: np.ndarray, left: np.ndarray, right: np.ndarray, survival: float
) -> tuple[np.ndarray, np.ndarray]:
    """Send ``amount`` (``[..., B, P]``) equally over each patch's intact links.

    Patches without an intact link send nothing. Returns ``(sent, arrived)``: what left each
    patch and what reached each patch after a share ``1 - survival`` died on the way.
    """
    degree = left + right
    sent = np.where(degree > 0, amount, 0.0)
    per_link = sent / np.maximum(degree, 1.0)
    arrived = survival * neighbour_sum(per_link, left, right)
    return sent, arrived


class Climate(Stream):
    """Seasonal climate anomaly plus random local shocks, one value per patch."""

    writes = ("value",)

    def __init__(
        self, name: str, n_patches: int, amplitude: float, season_period: float, shock_prob: float
    ) -> None:
        super().__init__(name)
        self.n_patches, self.amplitude = n_patches, amplitude
        self.season_period, self.shock_prob = season_period, shock_prob

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "value", np.zeros((ctx.n_worlds, self.n_patches)))

    def step(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_patches)
        seasonal = self.amplitude * np.sin(2.0 * np.pi * ctx.tick / self.season_period)
        hit = ctx.rng.random(shape) < self.shock_prob
        shock = self.amplitude * ctx.rng.uniform(-1.0, 1.0, shape)
        self.write(ctx, "value", seasonal + np.where(hit, shock, 0.0))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"mean": ctx[self.key("value")].mean(axis=1)}


class Landscape(Stream):
    """Habitat quality and a ring of links, each intact with probability 1 - fragmentation."""

    writes = ("quality", "left", "right")

    def __init__(self, name: str, n_patches: int, fragmentation: float) -> None:
        super().__init__(name)
        self.n_patches, self.fragmentation = n_patches, fragmentation

    def reset(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_patches)
        # link i joins patch i and i + 1 (mod P); a single patch has no neighbour
        link = ctx.rng.random(shape) >= self.fragmentation
        if self.n_patches == 1:
            link[:] = False
        right = link.astype(np.float64)
        self.write(ctx, "quality", np.full(shape, max(0.0, 1.0 - self.fragmentation)))
        self.write(ctx, "right", right)
        self.write(ctx, "left", np.roll(right, 1, axis=1))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"connectivity": ctx[self.key("right")].mean(axis=1)}


class Managers(AgentGroup):
    """One manager per patch choosing the prey's risk and dispersal each tick."""

    role = "manager"
    reads = (
        "movement.prey",
        "movement.predators",
        "climate.value",
        "landscape.quality",
        "landscape.left",
        "landscape.right",
    )
    writes = ("risk", "dispersal")

    def __init__(
        self,
        name: str,
        n_agents: int,
        carrying_capacity: float,
        growth_rate: float,
        attack_rate: float,
        climate_effect: float,
        season_period: float,
    ) -> None:
        super().__init__(name, n_agents)
        self.carrying_capacity, self.growth_rate = carrying_capacity, growth_rate
        self.attack_rate, self.climate_effect = attack_rate, climate_effect
        self.season_period = season_period
        self.observation_names = (
            "prey",
            "predation_pressure",
            "climate_anomaly",
            "habitat_quality",
            "neighbour_prey",
            "intact_links",
            "season_sin",
            "season_cos",
        )
        self.action_names = ("risk", "dispersal")
        low = np.array([0, 0, -2, 0, 0, 0, -1, -1], dtype=np.float32)
        high = np.array(
            [DENSITY_CLIP, PRESSURE_CLIP, 2, 1, DENSITY_CLIP, 1, 1, 1], dtype=np.float32
        )
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_agents)
        self.write(ctx, "risk", np.zeros(shape))
        self.write(ctx, "dispersal", np.zeros(shape))
        self._risk_sum = np.zeros(ctx.n_worlds)
        self._dispersal_sum = np.zeros(ctx.n_worlds)
        self._ticks = 0

    def apply(self, actions: np.ndarray, ctx: Context) -> None:
        act = np.clip(np.asarray(actions, dtype=np.float64), 0.0, 1.0)
        act = act.reshape(ctx.n_worlds, self.n_agents, 2)
        self.write(ctx, "risk", act[..., 0])
        self.write(ctx, "dispersal", act[..., 1])
        self._risk_sum += act[..., 0].mean(axis=1)
        self._dispersal_sum += act[..., 1].mean(axis=1)
        self._ticks += 1

    def observe(self, ctx: Context) -> np.ndarray:
        k = self.carrying_capacity
        prey = self.read(ctx, "movement.prey")
        left, right = self.read(ctx, "landscape.left"), self.read(ctx, "landscape.right")
        degree = left + right
        phase = 2.0 * np.pi * ctx.tick / self.season_period
        obs = np.empty((ctx.n_worlds, self.n_agents, 8), dtype=np.float32)
        obs[..., 0] = np.clip(prey / k, 0.0, DENSITY_CLIP)
        pressure = self.attack_rate * self.read(ctx, "movement.predators") / self.growth_rate
        obs[..., 1] = np.clip(pressure, 0.0, PRESSURE_CLIP)
        obs[..., 2] = np.clip(self.read(ctx, "climate.value"), -2.0, 2.0)
        obs[..., 3] = self.read(ctx, "landscape.quality")
        neighbours = neighbour_sum(prey, left, right) / np.maximum(degree, 1.0) / k
        obs[..., 4] = np.clip(neighbours, 0.0, DENSITY_CLIP)
        obs[..., 5] = degree / 2.0
        obs[..., 6] = np.sin(phase)
        obs[..., 7] = np.cos(phase)
        return obs

    def reward(self, ctx: Context) -> np.ndarray:
        return self.read(ctx, "movement.prey") / self.carrying_capacity

    def heuristic(self, obs: np.ndarray) -> np.ndarray:
        """Myopic optimal risk (most prey after this tick's growth and predation); no dispersal."""
        obs = np.asarray(obs, dtype=np.float64)
        density, pressure, climate = obs[..., 0], obs[..., 1], obs[..., 2]
        gain = np.maximum(1.0 + self.climate_effect * climate, 0.0) * (1.0 - density)
        # rho* = r (1 + beta c)(1 - x / K) / (2 a y) = gain / (2 * pressure)
        risk = np.where(pressure > 0, gain / np.maximum(2.0 * pressure, 1e-12), 1.0)
        risk = np.where(gain > 0, risk, 0.0)
        out = np.stack([np.clip(risk, 0.0, 1.0), np.zeros_like(risk)], axis=-1)
        return out.astype(np.float32)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {
            "mean_risk": ctx[self.key("risk")].mean(axis=1),
            "mean_dispersal": ctx[self.key("dispersal")].mean(axis=1),
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._ticks, 1)
        return {"mean_risk": self._risk_sum / ticks, "mean_dispersal": self._dispersal_sum / ticks}


class Prey(Stream):
    """Logistic prey growth scaled by climate and foraging, minus predation."""

    reads = (
        "movement.prey",
        "movement.predators",
        "climate.value",
        "landscape.quality",
        "managers.risk",
    )
    writes = ("biomass", "eaten")

    def __init__(
        self,
        name: str,
        n_patches: int,
        prey0: float,
        growth_rate: float,
        carrying_capacity: float,
        climate_effect: float,
        quality_effect: float,
        attack_rate: float,
    ) -> None:
        super().__init__(name)
        self.n_patches, self.prey0 = n_patches, prey0
        self.growth_rate, self.carrying_capacity = growth_rate, carrying_capacity
        self.climate_effect, self.quality_effect = climate_effect, quality_effect
        self.attack_rate = attack_rate

    def reset(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_patches)
        self.write(ctx, "biomass", np.full(shape, self.prey0))
        self.write(ctx, "eaten", np.zeros(shape))

    def step(self, ctx: Context) -> None:
        x = self.read(ctx, "movement.prey")
        y = self.read(ctx, "movement.predators")
        risk = self.read(ctx, "managers.risk")
        forage = risk * (1.0 + self.quality_effect * self.read(ctx, "landscape.quality"))
        climate = 1.0 + self.climate_effect * self.read(ctx, "climate.value")
        growth = self.growth_rate * climate * forage * x * (1.0 - x / self.carrying_capacity)
        grown = np.maximum(x + growth, 0.0)
        eaten = np.minimum(grown, self.attack_rate * risk * forage * x * y)
        self.write(ctx, "biomass", grown - eaten)
        self.write(ctx, "eaten", eaten)

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"eaten": ctx[self.key("eaten")].mean(axis=1)}


class Predators(Stream):
    """Predators convert the prey they eat and die at a constant rate."""

    reads = ("movement.predators", "prey.eaten")
    writes = ("biomass",)

    def __init__(
        self, name: str, n_patches: int, predators0: float, conversion: float, mortality: float
    ) -> None:
        super().__init__(name)
        self.n_patches, self.predators0 = n_patches, predators0
        self.conversion, self.mortality = conversion, mortality

    def reset(self, ctx: Context) -> None:
        self.write(ctx, "biomass", np.full((ctx.n_worlds, self.n_patches), self.predators0))

    def step(self, ctx: Context) -> None:
        y = self.read(ctx, "movement.predators")
        eaten = self.read(ctx, "prey.eaten")
        self.write(
            ctx, "biomass", np.maximum(y + self.conversion * eaten - self.mortality * y, 0.0)
        )


class Movement(Stream):
    """Dispersal of prey and predators along intact links, then quasi-extinction."""

    reads = (
        "prey.biomass",
        "predators.biomass",
        "managers.dispersal",
        "landscape.left",
        "landscape.right",
    )
    writes = ("prey", "predators", "prey_extinctions", "predator_extinctions", "migrants")

    def __init__(
        self,
        name: str,
        n_patches: int,
        prey0: float,
        predators0: float,
        max_dispersal: float,
        predator_dispersal: float,
        move_cost: float,
        extinction_threshold: float,
    ) -> None:
        super().__init__(name)
        self.n_patches, self.prey0, self.predators0 = n_patches, prey0, predators0
        self.max_dispersal, self.predator_dispersal = max_dispersal, predator_dispersal
        self.move_cost, self.extinction_threshold = move_cost, extinction_threshold

    def reset(self, ctx: Context) -> None:
        shape = (ctx.n_worlds, self.n_patches)
        self.write(ctx, "prey", self._settle(np.full(shape, self.prey0)))
        self.write(ctx, "predators", self._settle(np.full(shape, self.predators0)))
        self.write(ctx, "prey_extinctions", np.zeros(shape, dtype=bool))
        self.write(ctx, "predator_extinctions", np.zeros(shape, dtype=bool))
        self.write(ctx, "migrants", np.zeros(ctx.n_worlds))

    def _settle(self, population: np.ndarray) -> np.ndarray:
        """Quasi-extinction: populations below the threshold (or not positive) become 0."""
        return np.where(population >= max(self.extinction_threshold, 1e-300), population, 0.0)

    def step(self, ctx: Context) -> None:
        before_prey, before_pred = ctx[self.key("prey")], ctx[self.key("predators")]
        left, right = self.read(ctx, "landscape.left"), self.read(ctx, "landscape.right")
        survival = 1.0 - self.move_cost
        prey = self.read(ctx, "prey.biomass")
        pred = self.read(ctx, "predators.biomass")
        wanted = np.stack(
            (
                self.max_dispersal * self.read(ctx, "managers.dispersal") * prey,
                self.predator_dispersal * pred,
            )
        )
        (prey_out, pred_out), (prey_in, pred_in) = disperse(wanted, left, right, survival)
        prey = self._settle(np.maximum(prey - prey_out, 0.0) + prey_in)
        pred = self._settle(np.maximum(pred - pred_out, 0.0) + pred_in)
        self.write(ctx, "prey", prey)
        self.write(ctx, "predators", pred)
        self.write(ctx, "prey_extinctions", (before_prey > 0) & (prey == 0))
        self.write(ctx, "predator_extinctions", (before_pred > 0) & (pred == 0))
        self.write(ctx, "migrants", prey_out.sum(axis=1))

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        return {"migrants": ctx[self.key("migrants")]}


class Aggregate(Stream):
    """Mean prey biomass, its coefficient of variation across patches, and extinctions."""

    reads = (
        "movement.prey",
        "movement.predators",
        "movement.prey_extinctions",
        "movement.predator_extinctions",
    )
    writes = ("mean_biomass", "cv", "extinctions", "total_extinctions")

    def reset(self, ctx: Context) -> None:
        b = ctx.n_worlds
        self.write(ctx, "mean_biomass", self.read(ctx, "movement.prey").mean(axis=1))
        self.write(ctx, "cv", coefficient_of_variation(self.read(ctx, "movement.prey")))
        self.write(ctx, "extinctions", np.zeros(b))
        self.write(ctx, "total_extinctions", np.zeros(b))
        self._sum, self._sum_sq, self._cv_sum = np.zeros(b), np.zeros(b), np.zeros(b)
        self._ticks = 0

    def step(self, ctx: Context) -> None:
        prey = self.read(ctx, "movement.prey")
        mean = prey.mean(axis=1)
        cv = coefficient_of_variation(prey)
        events = self.read(ctx, "movement.prey_extinctions").sum(axis=1) + self.read(
            ctx, "movement.predator_extinctions"
        ).sum(axis=1)
        self.write(ctx, "mean_biomass", mean)
        self.write(ctx, "cv", cv)
        self.write(ctx, "extinctions", events.astype(np.float64))
        self.write(ctx, "total_extinctions", ctx[self.key("total_extinctions")] + events)
        self._sum += mean
        self._sum_sq += mean**2
        self._cv_sum += cv
        self._ticks += 1

    def metrics_step(self, ctx: Context) -> dict[str, np.ndarray]:
        prey = self.read(ctx, "movement.prey")
        return {
            "mean_biomass": ctx[self.key("mean_biomass")],
            "cv": ctx[self.key("cv")],
            "mean_predators": self.read(ctx, "movement.predators").mean(axis=1),
            "extinctions": ctx[self.key("extinctions")],
            "total_extinctions": ctx[self.key("total_extinctions")],
            "empty_patches": (prey == 0).sum(axis=1).astype(np.float64),
        }

    def metrics_episode(self, ctx: Context) -> dict[str, np.ndarray]:
        ticks = max(self._ticks, 1)
        mean = self._sum / ticks
        var = np.maximum(self._sum_sq / ticks - mean**2, 0.0)
        temporal_cv = np.where(mean > 0, np.sqrt(var) / np.where(mean > 0, mean, 1.0), 0.0)
        prey = self.read(ctx, "movement.prey")
        pred = self.read(ctx, "movement.predators")
        return {
            "mean_biomass": mean,
            "cv": temporal_cv,
            "mean_cv": self._cv_sum / ticks,
            "extinctions": ctx[self.key("total_extinctions")],
            "final_prey": prey.mean(axis=1),
            "final_predators": pred.mean(axis=1),
            "extinct_fraction": ((prey == 0) | (pred == 0)).mean(axis=1),
        }


def coefficient_of_variation(values: np.ndarray) -> np.ndarray:
    """``std / mean`` over the last axis (population std); 0 where the mean is 0."""
    mean = values.mean(axis=-1)
    std = values.std(axis=-1)
    return np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), 0.0)


def ecology_spec(
    *,
    n_patches: int,
    amplitude: float,
    season_period: float,
    shock_prob: float,
    fragmentation: float,
    move_cost: float,
    prey0: float,
    predators0: float,
    growth_rate: float,
    carrying_capacity: float,
    climate_effect: float,
    quality_effect: float,
    attack_rate: float,
    conversion: float,
    mortality: float,
    max_dispersal: float,
    predator_dispersal: float,
    extinction_threshold: float,
) -> list[LayerSpec]:
    """The ecology's layer specs (parameters as in :class:`EcologyEnv`, validated there)."""
    p = n_patches
    climate = StreamSpec(
        "climate",
        Climate,
        dict(n_patches=p, amplitude=amplitude, season_period=season_period, shock_prob=shock_prob),
    )
    landscape = StreamSpec("landscape", Landscape, dict(n_patches=p, fragmentation=fragmentation))
    managers = StreamSpec(
        "managers",
        Managers,
        dict(
            n_agents=p,
            carrying_capacity=carrying_capacity,
            growth_rate=growth_rate,
            attack_rate=attack_rate,
            climate_effect=climate_effect,
            season_period=season_period,
        ),
    )
    prey = StreamSpec(
        "prey",
        Prey,
        dict(
            n_patches=p,
            prey0=prey0,
            growth_rate=growth_rate,
            carrying_capacity=carrying_capacity,
            climate_effect=climate_effect,
            quality_effect=quality_effect,
            attack_rate=attack_rate,
        ),
    )
    predators = StreamSpec(
        "predators",
        Predators,
        dict(n_patches=p, predators0=predators0, conversion=conversion, mortality=mortality),
    )
    movement = StreamSpec(
        "movement",
        Movement,
        dict(
            n_patches=p,
            prey0=prey0,
            predators0=predators0,
            max_dispersal=max_dispersal,
            predator_dispersal=predator_dispersal,
            move_cost=move_cost,
            extinction_threshold=extinction_threshold,
        ),
    )
    return [
        LayerSpec([climate, landscape], name="L1 environment"),
        LayerSpec([managers, prey, predators, movement], name="L2 populations"),
        LayerSpec([StreamSpec("aggregate", Aggregate)], name="L3 aggregate"),
    ]


@dataclass(frozen=True, kw_only=True)
class EcologyParams(ModelParams):
    """The ecology's parameters (the keyword arguments of :class:`EcologyEnv`)."""

    n_patches: int = param(
        12,
        1,
        1_000_000,
        "Number of patches (and managers); HEAS's default is 12",
        why="a million patches take about 1.5 GiB at reset and step; more need more than "
        "this machine's memory",
    )
    amplitude: float = param(
        0.4, 0.0, 1.0, "Seasonal amplitude of the climate anomaly (and shock size)"
    )
    season_period: float = param(12.0, 1.0, 1e6, "Ticks per seasonal cycle")
    shock_prob: float = param(0.1, 0.0, 1.0, "Probability of a climate shock per patch per tick")
    fragmentation: float = param(
        0.2, 0.0, 1.0, "Habitat quality is 1 - fragmentation; ring links break with it"
    )
    move_cost: float = param(0.2, 0.0, 1.0, "Share of migrants that die while moving")
    prey0: float = param(100.0, 0.0, 1e9, "Initial prey biomass per patch")
    predators0: float = param(20.0, 0.0, 1e9, "Initial predators per patch")
    growth_rate: float = param(0.55, 1e-9, 3.0, "Prey intrinsic growth rate r")
    carrying_capacity: float = param(1000.0, 1e-9, 1e9, "Prey carrying capacity K per patch")
    climate_effect: float = param(
        0.3, 0.0, 1.0, "Effect of the climate anomaly on prey growth (HEAS betaF)"
    )
    quality_effect: float = param(
        0.2, 0.0, 1.0, "Effect of habitat quality on foraging (HEAS gammaV)"
    )
    attack_rate: float = param(0.01, 0.0, 1.0, "Predation rate per predator at full risk")
    conversion: float = param(0.1, 0.0, 10.0, "Predators gained per prey eaten")
    mortality: float = param(0.15, 0.0, 1.0, "Predator mortality per tick")
    max_dispersal: float = param(0.2, 0.0, 1.0, "Share of prey that leaves a patch at dispersal 1")
    predator_dispersal: float = param(
        0.05, 0.0, 1.0, "Share of predators that leaves a patch each tick"
    )
    extinction_threshold: float = param(
        1.0, 0.0, 1e9, "Populations below it are set to 0 (extinct)"
    )
    max_steps: int = param(200, 1, MAX_STEPS, "Ticks per episode (truncation); HEAS runs 200")


class EcologyEnv(ModelEnv):
    __doc__ = __doc__

    metadata = {**HierarchicalParallelEnv.metadata, "name": "ecology_v0"}
    Params = EcologyParams

    def build_model(self, params: EcologyParams, n_worlds: int = 1) -> Model:
        """The ecology model for validated ``params``."""
        return make_model(ecology_spec(**params.model_kwargs()), n_worlds)


parallel_env, raw_env = pettingzoo_constructors(EcologyEnv)
env = raw_env
__doc__ = EcologyEnv.__doc__  # with the Args: section generated from the declaration
