"""SB3 -> EvoTorch -> SB3: trained weights centre a search; the evolved weights load back."""

from __future__ import annotations

import numpy as np
import torch

from agents.evo import train_evo
from agents.policies import parameters_to_vector
from agents.rollout import evaluate
from agents.sb3 import sb3_act, set_actor_parameters, train_sb3

ENV, ROLE, SHORT = "heas_envs/Ecology-v0", "manager", {"max_steps": 20}


def test_sb3_weights_centre_an_evotorch_search_and_the_result_evaluates_identically(tmp_path):
    trained = train_sb3(
        ENV,
        ROLE,
        total_timesteps=192,
        num_worlds=2,
        env_params=SHORT,
        algo_kwargs={"n_steps": 8, "batch_size": 48},
        run_root=tmp_path,
        tensorboard=False,
    )
    centre = parameters_to_vector(trained.actor)
    evolved = train_evo(
        ENV, ROLE, generations=2, popsize=6, center=centre, env_params=SHORT, run_root=tmp_path
    )
    assert evolved.best.shape == centre.shape and not torch.equal(evolved.best, centre)
    set_actor_parameters(trained.model, evolved.best)
    seeds = list(range(100, 106))
    through_sb3 = evaluate(ENV, ROLE, sb3_act(trained.model), seeds, env_params=SHORT)
    through_module = evaluate(ENV, ROLE, evolved.policy, seeds, env_params=SHORT)
    assert np.array_equal(through_sb3.returns, through_module.returns)
    assert len(set(through_sb3.returns.tolist())) > 1  # the seeds give different episodes
