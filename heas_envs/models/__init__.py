"""The built-in models, one per module; ``import heas_envs`` makes each reachable as
``heas_envs.models.<name>`` (``help(heas_envs.models.market)`` is the market's page)."""

from heas_envs.models import boltzmann, ecology, economy, enterprise, market, wolf_sheep

__all__ = ["boltzmann", "ecology", "economy", "enterprise", "market", "wolf_sheep"]
