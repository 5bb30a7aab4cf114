"""Torch policies: actions in every role's space, batching, parameter vectors, the citizen."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    MultiCategoricalDistribution,
)

import heas_envs
from agents.policies import (
    CitizenPolicy,
    MLPPolicy,
    device,
    make_policy,
    num_parameters,
    parameters_to_vector,
    vector_to_parameters,
)
from agents.threads import set_torch_threads
from heas_envs.models.economy import MAX_FOCUS

ECONOMY = "heas_envs/Economy-v0"
WORLDS = 3
#: (env id, role, policy kind) for every role of every registered env.
CASES = [
    (env_id, role, kind)
    for env_id in heas_envs.list_envs()
    for role in heas_envs.make_vec(env_id).roles
    for kind in (("mlp", "citizen") if (env_id, role) == (ECONOMY, "citizen") else ("mlp",))
]
CASE_IDS = [f"{e.split('/')[1]}-{r}-{k}" for e, r, k in CASES]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    set_torch_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def reset_batch(env_id: str, **params) -> tuple[heas_envs.VectorWorldsEnv, dict[str, np.ndarray]]:
    venv = heas_envs.make_vec(env_id, num_worlds=WORLDS, **params)
    obs, _ = venv.reset(seed=0)
    return venv, obs


def assert_in_space(space: spaces.Space, actions: torch.Tensor) -> None:
    rows = actions.detach().cpu().numpy().reshape(-1, *space.shape)
    outside = [i for i, row in enumerate(rows) if not space.contains(row)]
    assert not outside, f"rows {outside[:5]} of {len(rows)} lie outside {space}"


def randomise(policy: torch.nn.Module, seed: int = 0) -> None:
    """Standard normal weights: outputs far from the near-uniform initialisation."""
    gen = torch.Generator().manual_seed(seed)
    vector_to_parameters(torch.randn(num_parameters(policy), generator=gen), policy)


# -- every role of every env ------------------------------------------------------------------
@pytest.mark.parametrize(("env_id", "role", "kind"), CASES, ids=CASE_IDS)
def test_actions_of_every_role_lie_in_its_space_and_step_the_vector_env(env_id, role, kind):
    venv, obs = reset_batch(env_id)
    policy = make_policy(venv, role, kind)
    group = venv.groups[role]
    space = group.action_space
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for step in range(4):
            batch = obs[role]
            det = policy(batch)
            sto = policy.act(batch, deterministic=False, generator=gen)
            assert det.shape == sto.shape == (WORLDS, group.n_agents, *space.shape)
            assert_in_space(space, det)
            assert_in_space(space, sto)
            assert not torch.equal(det, sto)  # the stochastic mode samples
            assert torch.equal(policy(torch.as_tensor(batch)), det)  # numpy in = tensor in
            actions = venv.heuristic_actions()
            actions[role] = (det if step % 2 == 0 else sto).numpy()
            out = venv.step(actions)  # the env refuses actions outside the space
            assert out.obs[role].shape == batch.shape
            obs = out.obs


@pytest.mark.parametrize(("env_id", "role", "kind"), CASES, ids=CASE_IDS)
def test_a_batched_forward_equals_the_forward_of_each_row(env_id, role, kind):
    venv, obs = reset_batch(env_id)
    policy = make_policy(venv, role, kind)
    randomise(policy)
    batch = torch.as_tensor(obs[role])
    n = batch.shape[1]
    agents = sorted({0, n // 2, n - 1, *range(0, n, max(1, n // 6))})  # economy: live and unborn
    with torch.no_grad():
        params = policy.distribution_params(batch)
        actions = policy(batch)
        attention = policy.last_attention if kind == "citizen" else None
        flat = policy.distribution_params(batch.reshape(-1, batch.shape[-1]))
        torch.testing.assert_close(flat.reshape(params.shape), params)
        for b in range(WORLDS):
            for i in agents:
                torch.testing.assert_close(policy.distribution_params(batch[b, i]), params[b, i])
                torch.testing.assert_close(policy(batch[b, i]), actions[b, i])
                if attention is not None:
                    torch.testing.assert_close(policy.last_attention, attention[b, i])


@pytest.mark.parametrize(("env_id", "role", "kind"), CASES, ids=CASE_IDS)
def test_the_same_generator_seed_gives_the_same_samples(env_id, role, kind):
    venv, obs = reset_batch(env_id)
    policy = make_policy(venv, role, kind)
    with torch.no_grad():

        def sample(seed: int) -> torch.Tensor:
            gen = torch.Generator().manual_seed(seed)
            return policy.act(obs[role], deterministic=False, generator=gen)

        first = sample(7)
        torch.manual_seed(123)  # the global generator plays no part
        assert torch.equal(sample(7), first)
        assert not torch.equal(sample(8), first)


@pytest.mark.parametrize(("env_id", "role", "kind"), CASES, ids=CASE_IDS)
def test_log_prob_is_finite_and_matches_the_distribution(env_id, role, kind):
    venv, obs = reset_batch(env_id)
    policy = make_policy(venv, role, kind)
    randomise(policy)
    batch = obs[role]
    with torch.no_grad():
        actions = policy.act(batch, deterministic=False, generator=torch.Generator().manual_seed(0))
        log_prob = policy.log_prob(batch, actions)
        assert log_prob.shape == batch.shape[:2] and torch.isfinite(log_prob).all()
        torch.testing.assert_close(log_prob, policy.distribution(batch).log_prob(actions))
        params = policy.distribution_params(batch)
        if isinstance(policy.action_space, spaces.Discrete):  # against the logits
            expected = torch.log_softmax(params, -1).gather(-1, actions[..., None])[..., 0]
            every = (
                torch.arange(policy.action_space.n).reshape(-1, 1, 1).expand(-1, *batch.shape[:2])
            )
            total = policy.log_prob(batch, every).exp().sum(0)
            torch.testing.assert_close(total, torch.ones_like(total))
        else:  # the Gaussian density around the mean in the box
            std = policy.log_std.exp()
            z = (actions - params) / std
            expected = (-0.5 * z**2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        torch.testing.assert_close(log_prob, expected)


# -- action spaces -----------------------------------------------------------------------------
def test_multi_discrete_and_discrete_actions_honour_start_and_the_per_component_sizes():
    obs_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
    multi = spaces.MultiDiscrete([[3, 5], [2, 4]], start=[[1, 0], [-2, 3]])
    policy = MLPPolicy(obs_space, multi, hidden=(8,))
    randomise(policy)
    obs = torch.rand(6, 2, 4) * 2 - 1
    with torch.no_grad():
        det = policy(obs)
        sto = policy.act(obs, deterministic=False, generator=torch.Generator().manual_seed(0))
        assert det.shape == sto.shape == (6, 2, 2, 2)
        assert_in_space(multi, det)
        assert_in_space(multi, sto)
        logits = policy.distribution_params(obs)  # [..., 3 + 5 + 2 + 4]
        assert logits.shape == (6, 2, 14)
        parts = torch.split(logits, [3, 5, 2, 4], dim=-1)
        start = torch.as_tensor(multi.start).reshape(-1)
        chosen = sto.reshape(6, 2, 4) - start
        expected = sum(
            torch.log_softmax(p, -1).gather(-1, chosen[..., k, None])[..., 0]
            for k, p in enumerate(parts)
        )
        torch.testing.assert_close(policy.log_prob(obs, sto), expected)
        modes = torch.stack([p.argmax(-1) for p in parts], -1).reshape(6, 2, 2, 2)
        assert torch.equal(det, modes + torch.as_tensor(multi.start))

    single = spaces.Discrete(4, start=-2)
    policy = MLPPolicy(obs_space, single, hidden=(8,))
    randomise(policy)
    with torch.no_grad():
        actions = policy.act(obs, deterministic=False, generator=torch.Generator().manual_seed(0))
        assert_in_space(single, actions)
        assert set(actions.reshape(-1).tolist()) <= {-2, -1, 0, 1}
        logits = policy.distribution_params(obs)
        expected = torch.log_softmax(logits, -1).gather(-1, (actions + 2)[..., None])[..., 0]
        torch.testing.assert_close(policy.log_prob(obs, actions), expected)
        torch.testing.assert_close(policy.distribution(obs).log_prob(actions), expected)


def test_box_actions_stay_inside_float64_bounds_that_float32_cannot_hold():
    # float32(0.1) > 0.1 and float32(-0.1) < -0.1: the policy's bounds move inwards
    box = spaces.Box(np.array([-0.1, 0.0]), np.array([0.1, 1e-7]), dtype=np.float64)
    policy = MLPPolicy(spaces.Box(-1.0, 1.0, (3,), dtype=np.float32), box, log_std_init=3.0)
    randomise(policy)
    obs = torch.cat([torch.full((50, 3), 1e6), torch.full((50, 3), -1e6)])  # saturated means
    with torch.no_grad():
        det = policy(obs)
        sto = policy.act(obs, deterministic=False, generator=torch.Generator().manual_seed(0))
    assert_in_space(box, det)
    assert_in_space(box, sto)
    assert (sto[:, 0] == sto[:, 0].max()).any() and sto[:, 0].max() <= 0.1  # clipped samples


@pytest.mark.parametrize("kind", ["mlp", "citizen"])
def test_any_observation_gives_a_valid_citizen_action(kind):
    venv, _ = reset_batch(ECONOMY)
    policy = make_policy(venv, "citizen", kind)
    randomise(policy)
    gen = torch.Generator().manual_seed(0)
    obs = (torch.rand(64, 23, generator=gen) * 2 - 1) * 1e6
    obs[::3, ::4] = float("nan")
    obs[1::3, 1::5] = float("inf")
    obs[2::3, 2::5] = -float("inf")
    with torch.no_grad():
        assert_in_space(venv.groups["citizen"].action_space, policy(obs))
        sto = policy.act(obs, deterministic=False, generator=gen)
    assert_in_space(venv.groups["citizen"].action_space, sto)


@pytest.mark.parametrize(
    ("action_space", "message"),
    [
        (spaces.Box(-np.inf, np.inf, (2,), dtype=np.float32), "bounded Box action space"),
        (spaces.Box(0, 5, (2,), dtype=np.int64), "float Box action space"),
        (spaces.MultiBinary(3), "supports Discrete, MultiDiscrete and bounded Box"),
    ],
)
def test_unsupported_action_spaces_are_refused_by_name(action_space, message):
    with pytest.raises(ValueError, match=message):
        MLPPolicy(spaces.Box(-1.0, 1.0, (3,), dtype=np.float32), action_space)


def test_bad_arguments_and_observations_are_refused():
    obs_space, act_space = spaces.Box(-1.0, 1.0, (3,)), spaces.Discrete(2)
    with pytest.raises(ValueError, match="Box observation space"):
        MLPPolicy(spaces.Discrete(3), act_space)
    with pytest.raises(ValueError, match="unknown activation 'sigmoidal'"):
        MLPPolicy(obs_space, act_space, activation="sigmoidal")
    with pytest.raises(ValueError, match="hidden widths must be positive integers"):
        MLPPolicy(obs_space, act_space, hidden=(64, 0))
    policy = MLPPolicy(obs_space, act_space)
    with pytest.raises(ValueError, match=r"must end in the observation shape \(3,\), got shape"):
        policy(torch.zeros(5, 4))


# -- structure for SB3 -----------------------------------------------------------------------
def test_body_and_head_give_the_distributions_sb3_computes_from_them():
    obs_space = spaces.Box(-2.0, 2.0, (5,), dtype=np.float32)
    obs = torch.rand(7, 5) * 4 - 2
    for act_space, sb3 in [
        (spaces.Box(0.0, 1.0, (3,), dtype=np.float32), DiagGaussianDistribution(3)),
        (spaces.Discrete(4), CategoricalDistribution(4)),
        (spaces.MultiDiscrete([3, 2]), MultiCategoricalDistribution([3, 2])),
    ]:
        policy = MLPPolicy(obs_space, act_space, hidden=(16, 32))
        randomise(policy)
        assert isinstance(policy.body, torch.nn.Sequential) and policy.body.latent_dim == 32
        latent = policy.body(obs)
        assert latent.shape == (7, 32)
        with torch.no_grad():
            actions = policy.act(obs, deterministic=False)
            if isinstance(act_space, spaces.Box):
                dist = sb3.proba_distribution(policy.head(latent), policy.log_std)
            else:
                dist = sb3.proba_distribution(policy.head(latent))
            torch.testing.assert_close(dist.log_prob(actions), policy.log_prob(obs, actions))
            torch.testing.assert_close(dist.mode(), policy(obs).to(dist.mode().dtype))
    linear = MLPPolicy(obs_space, spaces.Discrete(4), hidden=())
    assert linear.latent_dim == 5 and num_parameters(linear) == 5 * 4 + 4


# -- parameter vectors -----------------------------------------------------------------------
def test_an_mlp_has_the_parameters_of_its_layers_and_log_std():
    policy = MLPPolicy(spaces.Box(-1.0, 1.0, (8,)), spaces.Box(-1.0, 1.0, (1,)))
    assert num_parameters(policy) == (8 * 64 + 64) + (64 * 64 + 64) + (64 * 1 + 1) + 1
    assert parameters_to_vector(policy).shape == (num_parameters(policy),)


@pytest.mark.parametrize(
    ("env_id", "role", "kind"),
    [("heas_envs/Market-v0", "trader", "mlp"), ("heas_envs/Boltzmann-v0", "agent", "mlp")]
    + [(ECONOMY, "citizen", "citizen")],
)
def test_a_parameter_vector_round_trip_restores_identical_outputs(env_id, role, kind):
    venv, obs = reset_batch(env_id)
    source, target = make_policy(venv, role, kind), make_policy(venv, role, kind)
    randomise(source, seed=1)
    randomise(target, seed=2)
    batch = obs[role]
    with torch.no_grad():
        expected = source.distribution_params(batch)
        assert not torch.equal(target.distribution_params(batch), expected)
        vec = parameters_to_vector(source)
        vector_to_parameters(vec, target)
        assert torch.equal(target.distribution_params(batch), expected)
        assert torch.equal(target(batch), source(batch))
        assert torch.equal(parameters_to_vector(target), vec)
        vec += 1.0  # both policies hold copies of the vector
        assert torch.equal(target.distribution_params(batch), expected)
        assert torch.equal(source.distribution_params(batch), expected)
        vector_to_parameters(vec.numpy(), target)  # numpy arrays too
        assert torch.equal(parameters_to_vector(target), vec)


def test_a_parameter_vector_of_the_wrong_length_shape_or_values_is_refused():
    policy = MLPPolicy(spaces.Box(-1.0, 1.0, (8,)), spaces.Box(-1.0, 1.0, (1,)))
    n = num_parameters(policy)
    before = parameters_to_vector(policy)
    with pytest.raises(
        ValueError, match=rf"expected a vector of length {n}, got one of shape \({n - 1},\)"
    ):
        vector_to_parameters(torch.zeros(n - 1), policy)
    with pytest.raises(ValueError, match=rf"length {n}, got one of shape \(1, {n}\)"):
        vector_to_parameters(torch.zeros(1, n), policy)
    bad = torch.zeros(n)
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        vector_to_parameters(bad, policy)
    assert torch.equal(parameters_to_vector(policy), before)  # refusals change nothing


# -- the citizen -----------------------------------------------------------------------------
def test_citizen_attention_rows_are_probability_vectors_by_the_broadcast_query_and_focus():
    venv, obs = reset_batch(ECONOMY)
    policy = CitizenPolicy.for_env(venv)
    randomise(policy)
    lay = policy.layout
    for _ in range(2):  # a tick later the social signals are not zero
        with torch.no_grad():
            actions = policy(obs["citizen"])
        obs = venv.step({"citizen": actions.numpy()}).obs
    with torch.no_grad():
        mean = policy(obs["citizen"])
    weights = policy.last_attention
    assert weights.shape == (WORLDS, 200, len(CitizenPolicy.ATTENTION_TOKENS)) == (3, 200, 2)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 200))
    # the documented rule: softmax(beta * q . token / sqrt(D)) over (social signal, own signal)
    tokens = torch.stack(
        [torch.as_tensor(obs["citizen"][..., lay.social]), mean[..., lay.signal]], -2
    )
    query, beta = mean[..., lay.query], mean[..., lay.focus] * MAX_FOCUS
    scores = (tokens @ query[..., None])[..., 0] * beta[..., None] / math.sqrt(policy.signal_dim)
    torch.testing.assert_close(weights, torch.softmax(scores, -1))
    live = venv.alive["citizen"]
    assert (weights[torch.as_tensor(live)][:, 0] - 0.5).abs().max() > 0.01  # not uniform
    with torch.no_grad():
        policy(obs["citizen"][0, 0])
    assert policy.last_attention.shape == (2,)


def test_citizen_policy_builds_from_every_view_and_from_spaces_with_a_checked_config():
    venv, _ = reset_batch(ECONOMY)
    group = venv.groups["citizen"]
    from_vec = CitizenPolicy.for_env(venv)
    from_parallel = CitizenPolicy.for_env(heas_envs.make_parallel(ECONOMY))
    from_gym = make_policy(gymnasium.make(ECONOMY), "citizen", "citizen")
    from_spaces = CitizenPolicy(group.observation_space, group.action_space, group.cfg)
    sizes = {num_parameters(p) for p in (from_vec, from_parallel, from_gym, from_spaces)}
    assert sizes == {num_parameters(from_vec)}
    assert (from_spaces.n_goods, from_spaces.signal_dim) == (2, 4)

    other, obs = reset_batch(ECONOMY, n_goods=3, signal_dim=2, n_agents=5, decision="layer")
    space = other.groups["citizen"].action_space
    policy = CitizenPolicy.for_env(other, hidden=16, context_dim=4)
    assert (policy.n_goods, policy.signal_dim) == (3, 2)
    with torch.no_grad():
        for _ in range(4):  # one tick: broadcast, production, trade, consumption
            actions = policy.act(obs["citizen"], deterministic=False)
            assert_in_space(space, actions)
            obs = other.step({"citizen": actions.numpy()}).obs
    assert other.ticks().tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="config has n_goods=2, signal_dim=4 but the spaces"):
        CitizenPolicy(other.groups["citizen"].observation_space, space, group.cfg)


def test_spaces_that_are_not_a_citizens_are_refused():
    venv, _ = reset_batch("heas_envs/Market-v0")
    with pytest.raises(ValueError, match="not the spaces of an economy citizen"):
        make_policy(venv, "trader", "citizen")
    group = heas_envs.make_vec(ECONOMY).groups["citizen"]
    wider = spaces.Box(-2.0, 1.0, group.action_space.shape, dtype=np.float32)
    with pytest.raises(ValueError, match="not the spaces of an economy citizen"):
        CitizenPolicy(group.observation_space, wider)


# -- factory and device ----------------------------------------------------------------------
def test_make_policy_refuses_unknown_roles_kinds_and_envs():
    venv, _ = reset_batch("heas_envs/Market-v0")
    with pytest.raises(
        ValueError, match=r"unknown role 'farmer'; roles are \['trader', 'regulator'\]"
    ):
        make_policy(venv, "farmer")
    with pytest.raises(ValueError, match="unknown role 'farmer'"):
        make_policy(heas_envs.make_parallel("heas_envs/Market-v0"), "farmer")
    with pytest.raises(
        ValueError, match=r"unknown policy kind 'cnn'; kinds are \['mlp', 'citizen'\]"
    ):
        make_policy(venv, "trader", "cnn")
    with pytest.raises(ValueError, match="expected a heas_envs env"):
        make_policy(object(), "trader")
    policy = make_policy(heas_envs.make_parallel("heas_envs/Market-v0"), "regulator", hidden=(8,))
    assert policy.latent_dim == 8 and policy.action_space == venv.groups["regulator"].action_space


def test_device_prefers_cuda_when_available_and_refuses_unknown_names():
    cuda = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    assert device() == device("auto") == device("cuda") == cuda
    assert device("cpu") == torch.device("cpu")
    assert device(torch.device("cpu")) == torch.device("cpu")
    if torch.cuda.is_available():
        assert device("cuda:0") == torch.device("cuda:0")
    for bad in ["gpu", "CPU", "cuda:x", "cpu:0", ""]:
        with pytest.raises(ValueError, match=rf"unknown device {bad!r}; use one of"):
            device(bad)
