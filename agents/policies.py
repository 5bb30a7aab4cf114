"""Torch policies for the roles of every model, flat parameter vectors and the device helper.

- :class:`MLPPolicy`: a multilayer perceptron for any role whose action space is ``Discrete``,
  ``MultiDiscrete`` or a bounded ``Box``. Its ``body`` (observation to latent) and ``head``
  (latent to distribution parameters) are the layers a Stable-Baselines3 ``ActorCriticPolicy``
  reuses as its actor.
- :class:`CitizenPolicy`: the economy's citizen as five networks (broadcast, social attention,
  production, trade, consumption), in the style of HomoEconometra.
- :func:`parameters_to_vector`, :func:`vector_to_parameters`, :func:`num_parameters`: a policy's
  weights as one flat vector (EvoTorch's search space; the way weights move between SB3 and
  EvoTorch).
- :func:`device`: the torch device to run on; :func:`make_policy`: the policy of a role of a
  ``heas_envs`` env.

Every policy takes observations of any leading shape, ``[..., *obs_shape]`` (a whole
``[B, n_agents, obs_dim]`` batch of the vector env is one forward pass), as tensors or numpy
arrays, and returns actions ``[..., *act_shape]`` (``Discrete``: integers ``[...]``) that always
lie in the action space, so the envs accept them as they are:

- ``forward(obs)`` / ``act(obs)``: the deterministic action (the distribution's mode);
- ``act(obs, deterministic=False, generator=g)``: a sample, drawn from ``g`` when given;
- ``distribution(obs)``: the ``torch.distributions.Distribution`` of the actions;
- ``log_prob(obs, actions)``: ``distribution(obs).log_prob(actions)``, one value per row.

Action distributions:

- ``Discrete(n, start)``: a categorical over the ``n`` logits of the head; the action is the
  index plus ``start``.
- ``MultiDiscrete(nvec, start)``: one categorical per component, over ``sum(nvec)`` logits (the
  layout of SB3's ``MultiCategoricalDistribution``).
- bounded ``Box(low, high)``: a Gaussian with a state-independent log-std parameter whose mean
  is the head's output mapped into the box, ``low + (tanh(u) + 1) / 2 * (high - low)``; the
  deterministic action is that mean, and samples are clipped into the box. ``log_prob`` is the
  Gaussian density of the given action (the clipping is not part of it), as in SB3's
  ``DiagGaussianDistribution`` with the mean from this head.

Rollouts need no gradients: wrap them in ``torch.no_grad()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from heas_envs.models.economy import MAX_FOCUS, EconomyConfig, Layout, citizen_spaces

#: Activation names accepted by the policies.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
#: The ``kind`` values of :func:`make_policy`.
POLICY_KINDS = ("mlp", "citizen")
#: The device names of :func:`device` (``"cuda:<index>"`` too).
DEVICE_NAMES = ("auto", "cpu", "cuda")
HIDDEN_GAIN = math.sqrt(2.0)  # orthogonal initialisation, as SB3's ortho_init
OUTPUT_GAIN = 0.01  # the heads start near uniform logits and mid-box means, as in SB3


# -- building blocks ------------------------------------------------------------------------
class ObservationScaler(nn.Module):
    """Maps every bounded observation component from ``[low, high]`` to ``[-1, 1]``.

    Observations are clamped into the space's bounds first and NaN reads as 0, so that any
    input gives finite features; components without two finite bounds are only clamped at the
    bound they have. The bounds are buffers: nothing here is trained.

    Args:
        space: The observation space (flattened).
    """

    def __init__(self, space: spaces.Box) -> None:
        super().__init__()
        low = np.asarray(space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(space.high, dtype=np.float64).reshape(-1)
        scaled = np.isfinite(low) & np.isfinite(high) & (high > low)
        center = np.where(scaled, (low + high) / 2.0, 0.0)
        half = np.where(scaled, (high - low) / 2.0, 1.0)
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32))
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float32))
        self.register_buffer("radius", torch.as_tensor(half, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Scaled observations ``[..., obs_dim]``."""
        obs = torch.clamp(torch.nan_to_num(obs, nan=0.0), self.low, self.high)
        return (obs - self.center) / self.radius


class BoxSquash(nn.Module):
    """Maps unbounded values into a box, per component: ``low + (tanh(u) + 1) / 2 * (high - low)``.

    The result is clamped into ``[low, high]`` as well, so float rounding never leaves the box.

    Args:
        low: Lower bounds (flattened, finite).
        high: Upper bounds (flattened, finite).
    """

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32).reshape(-1))
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32).reshape(-1))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """The values ``u [..., dim]`` mapped into the box."""
        unit = (torch.tanh(u) + 1.0) * 0.5
        return torch.clamp(self.low + unit * (self.high - self.low), self.low, self.high)


class MLPBody(nn.Sequential):
    """Observation ``[..., obs_dim]`` to latent ``[..., latent_dim]``: scaler, then MLP layers.

    Attributes:
        latent_dim: The size of the latent (the last hidden width; ``obs_dim`` without hidden
            layers).
    """

    def __init__(
        self,
        obs_dim: int,
        hidden: Sequence[int],
        activation: str,
        scaler: nn.Module | None = None,
    ) -> None:
        layers: list[nn.Module] = [] if scaler is None else [scaler]
        width = obs_dim
        for size in hidden:
            layers += [_linear(width, size, HIDDEN_GAIN), _activation(activation)()]
            width = size
        super().__init__(*layers)
        self.latent_dim = width


class _Shifted(Distribution):
    """A discrete distribution over ``value + offset`` (``Discrete`` and ``MultiDiscrete`` spaces
    with a ``start``)."""

    arg_constraints: dict = {}

    def __init__(self, base: Distribution, offset: torch.Tensor) -> None:
        self.base, self.offset = base, offset
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def sample(self, sample_shape: Sequence[int] = ()) -> torch.Tensor:
        return self.base.sample(torch.Size(sample_shape)) + self.offset

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.base.log_prob(value - self.offset)

    def entropy(self) -> torch.Tensor:
        return self.base.entropy()

    @property
    def mode(self) -> torch.Tensor:
        return self.base.mode + self.offset


# -- the policies ---------------------------------------------------------------------------
class _Policy(nn.Module):
    """The action-space side shared by the policies: spaces, distributions, sampling.

    A subclass implements :meth:`_params`, flattened observations ``[..., obs_dim]`` to the
    distribution parameters ``[..., n_params]``: logits (``Discrete``: ``n``;
    ``MultiDiscrete``: ``sum(nvec)``) or, for a ``Box``, the mean already in the box.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        log_std_init: float | None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(f"{name} needs a Box observation space, got {observation_space}")
        self.observation_space = observation_space
        self.action_space = action_space
        self.obs_shape = tuple(observation_space.shape)
        self.obs_dim = int(np.prod(self.obs_shape, dtype=np.int64))
        if isinstance(action_space, spaces.Discrete):
            self.kind = "discrete"
            self.act_shape: tuple[int, ...] = ()
            self.n_params = int(action_space.n)
            self.register_buffer("start", torch.tensor(int(action_space.start)))
        elif isinstance(action_space, spaces.MultiDiscrete):
            self.kind = "multi_discrete"
            nvec = np.asarray(action_space.nvec, dtype=np.int64)
            self.act_shape = tuple(nvec.shape)
            self.n_params = int(nvec.sum())
            width = int(nvec.max())
            # flat logits [..., sum(nvec)] -> padded [..., *nvec.shape, max(nvec)]
            index = np.zeros((nvec.size, width), dtype=np.int64)
            pad = np.ones((nvec.size, width), dtype=bool)
            offset = 0
            for k, n in enumerate(nvec.reshape(-1)):
                index[k, :n] = offset + np.arange(n)
                pad[k, :n] = False
                offset += n
            self.register_buffer("logit_index", torch.as_tensor(index.reshape(-1)))
            self.register_buffer("logit_pad", torch.as_tensor(pad.reshape(*nvec.shape, width)))
            start = np.asarray(action_space.start, dtype=np.int64).reshape(nvec.shape)
            self.register_buffer("start", torch.as_tensor(start))
        elif isinstance(action_space, spaces.Box):
            self.kind = "box"
            self.act_shape = tuple(action_space.shape)
            self.n_params = int(np.prod(self.act_shape, dtype=np.int64))
            low, high = _float32_bounds(action_space, name)
            self.register_buffer("low", torch.as_tensor(low.reshape(self.act_shape)))
            self.register_buffer("high", torch.as_tensor(high.reshape(self.act_shape)))
            if log_std_init is None:  # a quarter of each component's range
                init = np.log(np.maximum(0.25 * (high - low), 1e-3))
            else:
                init = np.full(self.n_params, float(log_std_init))
            self.log_std = nn.Parameter(torch.as_tensor(init, dtype=torch.float32))
        else:
            raise ValueError(
                f"{name} supports Discrete, MultiDiscrete and bounded Box action spaces, got "
                f"{action_space}"
            )
        self._shifted = self.kind != "box" and bool((self.start != 0).any())  # a start != 0

    def _params(self, obs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _output_layer(self, width: int) -> nn.Module:
        """The last layer of a head: to logits, or to the mean in the box."""
        layer = _linear(width, self.n_params, OUTPUT_GAIN)
        if self.kind == "box":
            return nn.Sequential(layer, BoxSquash(self.low, self.high))
        return layer

    # -- public API -------------------------------------------------------------------------
    def forward(self, obs: Any) -> torch.Tensor:
        """The deterministic actions ``[..., *act_shape]`` for observations ``[..., *obs_shape]``."""
        return self.act(obs, deterministic=True)

    def act(
        self,
        obs: Any,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Actions ``[..., *act_shape]`` in the action space for observations ``[..., *obs_shape]``.

        Args:
            obs: Observations (tensor or numpy array) of any leading shape.
            deterministic: The distribution's mode (``True``) or a sample.
            generator: The ``torch.Generator`` samples are drawn from (on the policy's
                device); ``None``: torch's global generator.

        Returns:
            Integer actions for ``Discrete`` and ``MultiDiscrete``, float actions for a ``Box``.
        """
        params = self.distribution_params(obs)
        if deterministic:
            return self._mode(params)
        return self._sample(params, generator)

    def distribution_params(self, obs: Any) -> torch.Tensor:
        """The distribution parameters ``[..., n_params]``: logits, or the Gaussian mean in the box."""
        return self._params(self._observations(obs))

    def distribution(self, obs: Any) -> Distribution:
        """The action distribution for observations ``[..., *obs_shape]`` (batch shape ``[...]``)."""
        return self._distribution(self.distribution_params(obs))

    def log_prob(self, obs: Any, actions: Any) -> torch.Tensor:
        """The log-probability (``Box``: log-density) of ``actions`` under the policy, ``[...]``."""
        dist = self.distribution(obs)
        ref = self._reference()
        dtype = ref.dtype if self.kind == "box" else torch.long
        return dist.log_prob(torch.as_tensor(actions, dtype=dtype, device=ref.device))

    # -- the action-space side --------------------------------------------------------------
    def _reference(self) -> torch.Tensor:
        return next(iter(self.parameters()))

    def _observations(self, obs: Any) -> torch.Tensor:
        ref = self._reference()
        x = torch.as_tensor(obs, dtype=ref.dtype, device=ref.device)
        k = len(self.obs_shape)
        if x.dim() < k or tuple(x.shape[x.dim() - k :]) != self.obs_shape:
            raise ValueError(
                f"observations must end in the observation shape {self.obs_shape}, got shape "
                f"{tuple(x.shape)}"
            )
        return x.reshape(*x.shape[: x.dim() - k], self.obs_dim)

    def _padded_logits(self, params: torch.Tensor) -> torch.Tensor:
        logits = params[..., self.logit_index].reshape(*params.shape[:-1], *self.logit_pad.shape)
        return logits.masked_fill(self.logit_pad, torch.finfo(logits.dtype).min)

    def _box_mean(self, params: torch.Tensor) -> torch.Tensor:
        return params.reshape(*params.shape[:-1], *self.act_shape)

    def _distribution(self, params: torch.Tensor) -> Distribution:
        if self.kind == "box":
            mean = self._box_mean(params)
            std = self.log_std.exp().reshape(self.act_shape).expand_as(mean)
            return Independent(Normal(mean, std), len(self.act_shape))
        if self.kind == "discrete":
            dist: Distribution = Categorical(logits=params)
        else:
            dist = Independent(Categorical(logits=self._padded_logits(params)), len(self.act_shape))
        return _Shifted(dist, self.start) if self._shifted else dist

    def _mode(self, params: torch.Tensor) -> torch.Tensor:
        if self.kind == "box":
            return self._box_mean(params)
        logits = params if self.kind == "discrete" else self._padded_logits(params)
        return logits.argmax(dim=-1) + self.start

    def _sample(self, params: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.kind == "box":
            mean = self._box_mean(params)
            noise = torch.randn(
                mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
            )
            std = self.log_std.exp().reshape(self.act_shape)
            return torch.clamp(mean + std * noise, self.low, self.high)
        logits = params if self.kind == "discrete" else self._padded_logits(params)
        probs = torch.softmax(logits, dim=-1)
        flat = probs.reshape(-1, probs.shape[-1])
        if flat.shape[0] == 0:
            index = torch.zeros(probs.shape[:-1], dtype=torch.long, device=probs.device)
        else:
            index = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])
        return index + self.start


class MLPPolicy(_Policy):
    """A multilayer perceptron policy for one role: ``head(body(obs))`` gives the distribution.

    ``body`` is an ``nn.Sequential`` (observation scaler, then linear layers with activations)
    from the flattened observation ``[..., obs_dim]`` to the latent ``[..., body.latent_dim]``;
    ``head`` maps the latent to the distribution parameters: logits (``Discrete``: ``n``;
    ``MultiDiscrete``: ``sum(nvec)``, SB3's layout), or for a ``Box`` a linear layer followed
    by :class:`BoxSquash`, so that its output is the Gaussian mean inside the box; the Gaussian's
    state-independent log-std is ``log_std`` ``[prod(act_shape)]``. An SB3 ``ActorCriticPolicy``
    can use ``body`` as its actor network and ``head`` as its ``action_net`` (with ``log_std``)
    and compute exactly these distributions.

    Args:
        observation_space: The role's observation space (a ``Box`` of any shape; flattened).
        action_space: ``Discrete``, ``MultiDiscrete`` or a ``Box`` with finite bounds.
        hidden: Widths of the hidden layers (``()``: the head is linear in the observation).
        activation: One of :data:`ACTIVATIONS`.
        log_std_init: The initial log-std of a ``Box`` policy; ``None``: the log of a quarter
            of each component's range.
        scale_observations: Start ``body`` with an :class:`ObservationScaler` (bounded
            components mapped to [-1, 1]).

    Raises:
        ValueError: An unsupported space (an unbounded or integer ``Box`` action space among
            them), bad hidden widths or an unknown activation.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        *,
        log_std_init: float | None = None,
        scale_observations: bool = True,
    ) -> None:
        super().__init__(observation_space, action_space, log_std_init)
        hidden = _hidden_widths(hidden)
        scaler = ObservationScaler(observation_space) if scale_observations else None
        self.body = MLPBody(self.obs_dim, hidden, activation, scaler)
        self.head = self._output_layer(self.body.latent_dim)

    @property
    def latent_dim(self) -> int:
        """The width of the latent that ``body`` returns and ``head`` reads."""
        return self.body.latent_dim

    def _params(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(obs))


class SocialAttention(nn.Module):
    """The citizen's social filter: the query and focus it broadcasts, and its own attention.

    The economy's observation does not hold the other citizens' signals: the env's L2 ``social``
    stream attends over them, with ``softmax_j(beta_i * q_i . s_j / sqrt(D))`` over the other
    live citizens ``j``, and shows each citizen only the result, its *social signal* (the
    attention-weighted mean of the others' signals). The query ``q_i`` and focus ``beta_i / 10``
    are components of the citizen's action, so this module sets them (``query_net``): the
    attention over the others runs in the env, driven by the policy.

    Inside the policy the module attends, by the same rule with the same query and focus, over
    the signals the citizen can see: token 0, the social signal of its observation (what the
    others said, filtered by its attention of the last broadcast), and token 1, its own new
    signal (what it says now). The weights (``[..., 2]``, a probability vector per citizen:
    how much the citizen listens to the society rather than to itself) mix learned values of
    the tokens into the context that the production, trade and consumption networks read.

    Args:
        state_dim: Width of the citizen's private state (observation without the social signal).
        signal_dim: The signal dimension ``D``.
        hidden: Hidden width of ``query_net``.
        context_dim: Width of the values and of the context.
        activation: One of :data:`ACTIVATIONS`.
    """

    def __init__(
        self, state_dim: int, signal_dim: int, hidden: int, context_dim: int, activation: str
    ) -> None:
        super().__init__()
        self.signal_dim = signal_dim
        self.query_net = _mlp(state_dim, hidden, signal_dim + 1, activation)  # raw query, focus
        self.value = _linear(signal_dim, context_dim, 1.0)

    def forward(
        self, state: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attend over ``tokens [..., T, D]`` from the private ``state [..., state_dim]``.

        Returns:
            The raw (unsquashed) query and focus ``[..., D + 1]``, the context
            ``[..., context_dim]`` and the attention weights ``[..., T]``.
        """
        raw = self.query_net(state)
        query = torch.tanh(raw[..., : self.signal_dim])  # the query in [-1, 1], as broadcast
        beta = (torch.tanh(raw[..., self.signal_dim :]) + 1.0) * 0.5 * MAX_FOCUS  # [..., 1]
        scores = (tokens @ query.unsqueeze(-1)).squeeze(-1)  # [..., T]
        weights = torch.softmax(beta * scores / math.sqrt(self.signal_dim), dim=-1)
        context = (weights.unsqueeze(-1) * self.value(tokens)).sum(dim=-2)
        return raw, context, weights


class CitizenPolicy(_Policy):
    """The economy's citizen as five networks, in the style of HomoEconometra.

    From the citizen's observation (``heas_envs/Economy-v0``; layout in
    :mod:`heas_envs.models.economy`), scaled to [-1, 1], the *private state* is everything but
    the social signal. Then, writing the action's parts in its layout:

    - ``broadcast``: private state -> the signal ``[0, D)``;
    - ``attention`` (:class:`SocialAttention`): private state -> the query ``[D, 2D)`` and
      focus ``2D`` that the env's attention over the other live citizens uses, and the
      policy's own attention over the social signal and its own signal, whose weights are kept
      in :attr:`last_attention`; its context feeds the three networks below;
    - ``production``: private state and context -> job scores and effort;
    - ``trade``: private state and context -> declared preferences and willingness to trade;
    - ``consumption``: private state and context -> the share of each good consumed.

    The raw outputs, in action order, go through :class:`BoxSquash` into the action box: the
    mean of a Gaussian with a state-independent ``log_std`` (as :class:`MLPPolicy` for a
    ``Box``), so the job is the highest of continuous scores and every sample is a valid action
    once clipped. The same network runs in every decision phase of ``decision="layer"`` (the
    phase is in the observation; the env uses only the active phase's part of the action).

    Build it with :meth:`for_env`, or from the citizen's spaces (``n_goods`` and
    ``signal_dim`` follow from the two sizes) and optionally the economy's config, which is
    then checked against them.

    Args:
        observation_space: The citizen's observation space.
        action_space: The citizen's action space.
        config: The economy's :class:`~heas_envs.models.economy.EconomyConfig` (``env.config``),
            or ``None``.
        hidden: Hidden width of every network.
        context_dim: Width of the attention's values and context.
        activation: One of :data:`ACTIVATIONS`.
        log_std_init: As for :class:`MLPPolicy`.

    Attributes:
        last_attention: The attention weights of the last call, ``[..., 2]`` over
            :attr:`ATTENTION_TOKENS` (detached; ``None`` before the first call).
        layout: The :class:`~heas_envs.models.economy.Layout` of the spaces.

    Raises:
        ValueError: Spaces that are not a citizen's, or a config that does not match them.
    """

    #: What the attention weights of :attr:`last_attention` refer to, in order.
    ATTENTION_TOKENS = ("social signal", "own signal")

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.Box,
        config: EconomyConfig | None = None,
        *,
        hidden: int = 64,
        context_dim: int = 16,
        activation: str = "tanh",
        log_std_init: float | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, log_std_init)
        n_goods, signal_dim = _citizen_sizes(observation_space, action_space)
        if config is not None and (config.n_goods, config.signal_dim) != (n_goods, signal_dim):
            raise ValueError(
                f"the config has n_goods={config.n_goods}, signal_dim={config.signal_dim} but "
                f"the spaces are those of n_goods={n_goods}, signal_dim={signal_dim}"
            )
        (hidden,) = _hidden_widths((hidden,))
        (context_dim,) = _hidden_widths((context_dim,))
        self.n_goods, self.signal_dim = n_goods, signal_dim
        self.layout = lay = Layout.of(n_goods, signal_dim)
        _check_action_order(lay)
        private = [i for i in range(lay.obs_dim) if not lay.social.start <= i < lay.social.stop]
        self.register_buffer("private_index", torch.as_tensor(private, dtype=torch.long))
        state = len(private)
        g, d = n_goods, signal_dim
        self.scaler = ObservationScaler(observation_space)
        self.broadcast = _mlp(state, hidden, d, activation)
        self.attention = SocialAttention(state, d, hidden, context_dim, activation)
        self.production = _mlp(state + context_dim, hidden, g + 1, activation)
        self.trade = _mlp(state + context_dim, hidden, g + 1, activation)
        self.consumption = _mlp(state + context_dim, hidden, g, activation)
        self.squash = BoxSquash(self.low, self.high)
        self.last_attention: torch.Tensor | None = None

    @classmethod
    def for_env(cls, env: Any, role: str = "citizen", **kwargs: Any) -> CitizenPolicy:
        """The citizen policy of an economy env.

        Args:
            env: A ``heas_envs`` economy: ``make_parallel``, ``make_vec`` or ``gymnasium.make``
                of ``"heas_envs/Economy-v0"``.
            role: The citizens' role.
            **kwargs: Keyword arguments of :class:`CitizenPolicy`.
        """
        group = _role_group(env, role)
        config = getattr(group, "cfg", None)
        config = config if isinstance(config, EconomyConfig) else None
        return cls(group.observation_space, group.action_space, config, **kwargs)

    def _params(self, obs: torch.Tensor) -> torch.Tensor:
        lay = self.layout
        x = self.scaler(obs)
        state = x.index_select(-1, self.private_index)
        signal = self.broadcast(state)
        tokens = torch.stack([x[..., lay.social], torch.tanh(signal)], dim=-2)
        query_focus, context, weights = self.attention(state, tokens)
        self.last_attention = weights.detach()
        h = torch.cat([state, context], dim=-1)
        raw = torch.cat(
            [signal, query_focus, self.production(h), self.trade(h), self.consumption(h)], dim=-1
        )  # signal, query, focus, job, effort, preference, willingness, consumption
        return self.squash(raw)


# -- flat parameter vectors -----------------------------------------------------------------
def num_parameters(module: nn.Module) -> int:
    """The number of scalar parameters of ``module`` (the length of its parameter vector)."""
    return sum(p.numel() for p in module.parameters())


def parameters_to_vector(module: nn.Module) -> torch.Tensor:
    """The parameters of ``module`` as one flat vector, in ``module.parameters()`` order.

    The vector is a detached copy: editing it leaves the module unchanged. Buffers (such as
    the observation scaler's bounds) are not parameters and are not in it.
    """
    params = list(module.parameters())
    if not params:
        return torch.zeros(0)
    return torch.nn.utils.parameters_to_vector(params).detach()


def vector_to_parameters(vec: Any, module: nn.Module) -> None:
    """Set the parameters of ``module`` from a flat vector (the inverse of
    :func:`parameters_to_vector`).

    The values are copied: editing ``vec`` afterwards leaves the module unchanged.

    Args:
        vec: A 1-D tensor or array of :func:`num_parameters` finite values.
        module: The module to set.

    Raises:
        ValueError: A vector of the wrong length or shape, or with non-finite values.
    """
    params = list(module.parameters())
    expected = sum(p.numel() for p in params)
    values = torch.as_tensor(vec)
    if values.dim() != 1 or values.numel() != expected:
        raise ValueError(
            f"{type(module).__name__} has {expected} parameters: expected a vector of length "
            f"{expected}, got one of shape {tuple(values.shape)} ({values.numel()} values)"
        )
    if not expected:
        return
    if not bool(torch.isfinite(values).all()):
        raise ValueError("the parameter vector holds NaN or infinite values")
    ref = params[0]
    values = values.detach().to(device=ref.device, dtype=ref.dtype).clone()
    torch.nn.utils.vector_to_parameters(values, params)


# -- device and factory ---------------------------------------------------------------------
def device(preference: str | torch.device = "auto") -> torch.device:
    """The torch device to run on.

    Args:
        preference: ``"auto"`` or ``"cuda"`` (``"cuda:<index>"``): CUDA when it is available,
            else the CPU; ``"cpu"``: the CPU. A ``torch.device`` is returned as it is.

    Raises:
        ValueError: Any other string.
    """
    if isinstance(preference, torch.device):
        return preference
    name, colon, index = preference.partition(":") if isinstance(preference, str) else ("", "", "")
    if name not in DEVICE_NAMES or (colon and (name != "cuda" or not index.isdigit())):
        raise ValueError(
            f"unknown device {preference!r}; use one of {list(DEVICE_NAMES)} or 'cuda:<index>'"
        )
    if name != "cpu" and torch.cuda.is_available():
        return torch.device(preference if name == "cuda" else "cuda")
    return torch.device("cpu")


def make_policy(env: Any, role: str, kind: str = "mlp", **kwargs: Any) -> nn.Module:
    """The policy of ``role`` in a ``heas_envs`` env, built from the role's spaces.

    Args:
        env: A parallel env (``make_parallel``), a vector env (``make_vec``) or the single-agent
            view (``gymnasium.make``) of a ``heas_envs`` model.
        role: A role of the env (``env.roles``).
        kind: ``"mlp"`` (:class:`MLPPolicy`, any role) or ``"citizen"`` (:class:`CitizenPolicy`,
            the economy's citizens).
        **kwargs: Keyword arguments of the policy class.

    Raises:
        ValueError: An unknown kind or role, or spaces that the kind does not fit.
    """
    if kind not in POLICY_KINDS:
        raise ValueError(f"unknown policy kind {kind!r}; kinds are {list(POLICY_KINDS)}")
    group = _role_group(env, role)
    if kind == "citizen":
        return CitizenPolicy.for_env(env, role, **kwargs)
    return MLPPolicy(group.observation_space, group.action_space, **kwargs)


# -- helpers --------------------------------------------------------------------------------
def _role_group(env: Any, role: str) -> Any:
    """The agent group of ``role`` (its spaces and config) in any view of a ``heas_envs`` env."""
    groups = getattr(env, "groups", None)
    if isinstance(groups, Mapping):  # VectorWorldsEnv
        if role not in groups:
            raise ValueError(f"unknown role {role!r}; roles are {list(groups)}")
        return groups[role]
    if hasattr(env, "group"):  # HierarchicalParallelEnv: an unknown role raises, listing roles
        return env.group(role)
    parallel = getattr(getattr(env, "unwrapped", None), "parallel", None)  # SingleAgentEnv
    if parallel is not None:
        return parallel.group(role)
    raise ValueError(
        f"expected a heas_envs env (make_parallel, make_vec or gymnasium.make of a heas_envs "
        f"id), got {type(env).__name__}"
    )


def _citizen_sizes(observation_space: spaces.Box, action_space: spaces.Space) -> tuple[int, int]:
    """``(n_goods, signal_dim)`` of the economy citizen's spaces; other spaces raise."""
    refused = (
        f"not the spaces of an economy citizen (observation Box((9 + 5 G + D,)), action "
        f"Box((2 D + 3 G + 3,))): got {observation_space} and {action_space}"
    )
    if not isinstance(action_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(refused)
    if len(action_space.shape) != 1:
        raise ValueError(refused)
    obs_dim, act_dim = observation_space.shape[0], action_space.shape[0]
    # obs_dim = 9 + 5 G + D and act_dim = 2 D + 3 G + 3, so 7 G = 2 obs_dim - 15 - act_dim
    n_goods, rest = divmod(2 * obs_dim - 15 - act_dim, 7)
    signal_dim = obs_dim - 9 - 5 * n_goods
    if rest or n_goods < 1 or signal_dim < 1:
        raise ValueError(refused)
    # the bounds of the model's own spaces (citizen_spaces reads only these two sizes)
    obs, act = citizen_spaces(SimpleNamespace(n_goods=n_goods, signal_dim=signal_dim))  # type: ignore[arg-type]
    for got, want in ((observation_space, obs), (action_space, act)):
        if not (np.array_equal(got.low, want.low) and np.array_equal(got.high, want.high)):
            raise ValueError(refused)
    return n_goods, signal_dim


def _check_action_order(lay: Layout) -> None:
    """The citizen's networks write the action's parts in this order; a changed layout raises."""
    parts = (lay.signal, lay.query, lay.focus, lay.job, lay.effort, lay.preference)
    parts += (lay.willingness, lay.consumption)
    end = 0
    for part in parts:
        start, stop = (part.start, part.stop) if isinstance(part, slice) else (part, part + 1)
        if start != end:
            raise RuntimeError("the economy's action layout changed: update CitizenPolicy")
        end = stop
    if end != lay.action_dim:
        raise RuntimeError("the economy's action layout changed: update CitizenPolicy")


def _float32_bounds(space: spaces.Box, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """The finite bounds of a float ``Box``, flattened, as float32 values inside the box."""
    if not np.issubdtype(space.dtype, np.floating):
        raise ValueError(f"{owner} needs a float Box action space, got {space}")
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise ValueError(
            f"{owner} needs a bounded Box action space (finite low and high), got {space}"
        )
    low32, high32 = low.astype(np.float32), high.astype(np.float32)
    # a bound that rounds outside the box in float32 moves one float32 step inwards
    low32 = np.where(low32 < low, np.nextafter(low32, np.float32(np.inf)), low32)
    high32 = np.where(high32 > high, np.nextafter(high32, np.float32(-np.inf)), high32)
    return low32.astype(np.float32), high32.astype(np.float32)


def _hidden_widths(hidden: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(hidden) if isinstance(hidden, Sequence) and not isinstance(hidden, str) else None
    if widths is None or not all(
        isinstance(w, int | np.integer) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ValueError(f"hidden widths must be positive integers, got {hidden!r}")
    return tuple(int(w) for w in widths)


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; activations are {list(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _linear(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(n_in: int, hidden: int, n_out: int, activation: str) -> nn.Sequential:
    """One hidden layer: the shape of each of the citizen's networks."""
    return nn.Sequential(
        _linear(n_in, hidden, HIDDEN_GAIN),
        _activation(activation)(),
        _linear(hidden, n_out, OUTPUT_GAIN),
    )
