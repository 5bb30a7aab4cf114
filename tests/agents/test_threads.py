"""Torch's thread count for training: one unless the user asks for more."""

from __future__ import annotations

import pytest
import torch

from agents.threads import ENV_VAR, set_torch_threads


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_thread_by_default_and_the_environment_variable_overrides(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    torch.set_num_threads(2)
    assert set_torch_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv(ENV_VAR, "2")
    assert set_torch_threads() == 2 and torch.get_num_threads() == 2
    assert set_torch_threads(1) == 1 and torch.get_num_threads() == 1  # an argument wins


@pytest.mark.parametrize("bad", [0, -1, 2.0, "2", True])
def test_bad_thread_counts_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=r"torch threads must be an integer in \[1, 1024\]"):
        set_torch_threads(bad)


def test_a_bad_environment_variable_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "many")
    with pytest.raises(ValueError, match="HEAS_TORCH_THREADS must be a positive integer"):
        set_torch_threads()
