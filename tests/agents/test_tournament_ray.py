"""The Ray back end: a small tournament on a local Ray gives the tables of one process."""

from __future__ import annotations

import pandas as pd
import pytest

from agents.participants import Participant
from agents.tournament import Tournament
from heas_envs.scenarios import make_grid

ray = pytest.importorskip("ray")


def test_ray_gives_the_tables_of_one_process():
    scenarios = make_grid("heas_envs/Enterprise-v0", {"n_firms": [2, 6]}, {"max_steps": 10})
    kw = dict(episodes=2, seed=9, collect_period=4)
    inproc = Tournament(scenarios, [Participant.heuristic()], **kw).run()
    on_ray = Tournament(scenarios, [Participant.heuristic()], backend="ray", n_jobs=2, **kw)
    running = ray.is_initialized()  # an earlier test may have started Ray: then it is used
    assert on_ray.play() == 4
    assert ray.is_initialized() == running  # a Ray started for the run is shut down after it
    for name, table in inproc.tables().items():
        pd.testing.assert_frame_equal(table, on_ray.results().tables()[name], obj=name)
