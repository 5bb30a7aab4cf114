"""The clients users bring, on every registered id: PettingZoo's registry and tests, SB3's
``make_vec_env`` with SubprocVecEnv workers, Gymnasium's ``RecordVideo``."""

from __future__ import annotations

import functools
import subprocess
import sys
import types
from pathlib import Path

import gymnasium
import numpy as np
import pettingzoo
import pytest
from pettingzoo.test import max_cycles_test, render_test

import heas_envs
from heas_envs.registration import env_spec

ENV_IDS = heas_envs.list_envs()
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def model_module(env_id: str) -> types.ModuleType:
    return sys.modules[env_spec(env_id).entry_point.split(":")[0]]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pettingzoo_registry_makes_every_id_with_max_cycles(env_id):
    par = pettingzoo.make("parallel", env_id, max_cycles=7)
    aec = pettingzoo.make("aec", env_id)
    assert isinstance(par, heas_envs.HierarchicalParallelEnv) and par.max_steps == 7
    assert isinstance(aec, pettingzoo.AECEnv) and aec.possible_agents == par.possible_agents
    with pytest.raises(ValueError, match="give max_steps or max_cycles"):
        pettingzoo.make("parallel", env_id, max_cycles=7, max_steps=8)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pettingzoo_max_cycles_test_passes(env_id):
    module = model_module(env_id)
    if env_id == "heas_envs/Economy-v0":
        # PettingZoo's test takes the median over possible agents of the turns each had, so it
        # assumes most possible agents exist from reset; here every id is alive from reset.
        module = types.SimpleNamespace(
            parallel_env=functools.partial(module.parallel_env, max_population=20),
            env=functools.partial(module.env, max_population=20),
        )
    max_cycles_test(module)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pettingzoo_render_test_passes_in_every_mode(env_id, capsys):
    module = model_module(env_id)
    render_test(module.env)
    name = module.parallel_env().metadata["name"]
    assert capsys.readouterr().out.count(f"{name} tick ") == 5  # "human" printed 5 renders


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_frames_show_the_state_and_change_with_it(env_id):
    env = heas_envs.make_parallel(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    rng = np.random.default_rng(0)
    for _ in range(5):
        env.step_arrays(env.random_actions(rng))
    later = env.render()
    assert first.shape == later.shape and first.dtype == np.uint8 and first.shape[2] == 3
    assert first.shape[0] % 16 == 0 and first.shape[1] % 16 == 0  # what video codecs want
    assert len(np.unique(later.reshape(-1, 3), axis=0)) >= 3  # a picture, not a blank
    assert not np.array_equal(first, later)


def test_gymnasium_record_video_writes_an_episode(tmp_path):
    env = gymnasium.make("heas_envs/WolfSheep-v0", render_mode="rgb_array", max_steps=20)
    env = gymnasium.wrappers.RecordVideo(env, str(tmp_path / "videos"), disable_logger=True)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_state_space_is_finite(env_id):
    space = heas_envs.make_parallel(env_id).state_space
    assert np.isfinite(space.low).all() and np.isfinite(space.high).all()


def test_sb3_subproc_vec_env_script_trains_ppo_on_every_id():
    """SB3's make_vec_env (which passes render_mode="rgb_array") with SubprocVecEnv workers
    and PPO, for every id: the in-process DummyVecEnv path is the same make_vec_env call
    without the workers, so it is not trained separately (that cost 9 s of the suite)."""
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "sb3_subproc.py"), "--timesteps", "64"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    trained = [line.split(":")[0] for line in out.splitlines() if "PPO trained 64 steps" in line]
    assert trained == ENV_IDS, out
