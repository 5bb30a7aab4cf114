"""Economy diagnostics: the episode record matches the model, the plots show it, the GIF."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import heas_envs.vis.cli  # noqa: E402, F401  (registers `viz`)
from heas_envs.cli import main  # noqa: E402
from heas_envs.vis import (  # noqa: E402
    animate_episode,
    economy_episode,
    pca,
    plot_attention_heatmap,
    plot_gini,
    plot_job_shares,
    plot_signal_pca,
)

#: A tiny economy: few citizens, short lives, so deaths and births happen within 8 ticks.
TINY = dict(n_agents=5, max_population=12, max_age=6, birth_rate=0.5, birth_wealth=0.3)


@pytest.fixture(scope="module")
def episode():
    return economy_episode(seed=3, steps=8, **TINY)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_the_record_matches_the_models_own_state_and_metrics(episode):
    m = episode.metrics
    assert list(m["tick"]) == list(range(1, 9)) and len(episode.alive) == 8
    assert episode.survivors.sum(axis=1).tolist() == m["demography.population"].tolist()
    assert (m["demography.births"] > 0).any() and (m["demography.deaths"] > 0).any()
    np.testing.assert_allclose(episode.gini_wealth, m["demography.gini_wealth"], atol=1e-12)
    np.testing.assert_allclose(episode.gini_utility, m["consumption.gini_reward"], atol=1e-12)
    shares = m[[f"production.job_share_{g}" for g in range(episode.n_goods)]].to_numpy()
    np.testing.assert_array_equal(episode.job_shares, shares)
    # the recomputed attention gives the social stream's output and attention entropy
    a = episode.attention
    np.testing.assert_allclose(
        np.einsum("tij,tjd->tid", a, episode.signals), episode.social, atol=1e-12
    )
    counted = episode.alive & (episode.alive.sum(axis=1, keepdims=True) > 2)
    logs = np.where(a > 0, np.log(np.where(a > 0, a, 1.0)), 0.0)
    n_others = episode.alive.sum(axis=1, keepdims=True) - 1
    entropy = -(a * logs).sum(axis=2) / np.log(np.maximum(n_others, 2))
    mean = (entropy * counted).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)
    np.testing.assert_allclose(mean, m["social.attention_entropy"], atol=1e-9)
    np.testing.assert_allclose(a.sum(axis=2)[episode.alive], 1.0)
    assert (a[~episode.alive] == 0).all() and (np.diagonal(a, axis1=1, axis2=2) == 0).all()


def test_the_same_seed_gives_the_same_episode_and_random_play_differs(episode):
    again = economy_episode(seed=3, steps=8, **TINY)
    for name in ("alive", "signals", "attention", "holdings", "jobs"):
        np.testing.assert_array_equal(getattr(again, name), getattr(episode, name))
    other = economy_episode(seed=3, steps=8, policy="random", **TINY)
    assert not np.array_equal(other.signals[0], episode.signals[0])


def test_the_plots_show_the_signal_pca_attention_gini_and_job_shares(episode):
    fig = plot_signal_pca(episode)
    scatter, spectrum = fig.axes[0], fig.axes[1]
    t, i = np.nonzero(episode.alive)
    scores, explained = pca(episode.signals[t, i])
    assert scatter.get_xlabel() == f"PC1 ({100 * explained[0]:.1f}% of variance)"
    assert scatter.get_ylabel().startswith("PC2 (") and explained.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(scatter.collections[0].get_offsets()[:, 0], scores[:, 0])
    assert [p.get_height() for p in spectrum.patches] == pytest.approx(list(explained))

    ax = plot_attention_heatmap(episode, tick=4).axes[0]
    live = np.flatnonzero(episode.alive[3])
    np.testing.assert_array_equal(
        ax.images[0].get_array(), episode.attention[3][np.ix_(live, live)]
    )
    assert ax.get_title() == f"Attention at tick 4 ({len(live)} citizens)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("attended citizen j", "attending citizen i")

    ax = plot_gini(episode).axes[0]
    wealth, utility = ax.get_lines()
    np.testing.assert_array_equal(wealth.get_ydata(), episode.metrics["demography.gini_wealth"])
    np.testing.assert_array_equal(utility.get_xdata(), episode.ticks)
    assert ax.get_ylabel() == "Gini coefficient" and ax.get_xlabel() == "tick"

    ax = plot_job_shares(episode).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["job 0", "job 1"]
    assert len(ax.collections) == episode.n_goods and ax.get_ylabel() == "share of live citizens"


def test_the_gif_has_one_frame_per_drawn_tick(episode, tmp_path):
    path = animate_episode(episode, tmp_path / "a" / "episode.gif", every=3)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == len(range(0, 8, 3))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e: economy_episode(policy="greedy"), "policy must be one of"),
        (lambda e: economy_episode(steps=0), "steps must be"),
        (lambda e: economy_episode(decision="layer"), "decision must be 'tick'"),
        (lambda e: economy_episode(n_agent=3), "unknown parameter"),
        (lambda e: plot_attention_heatmap(e, tick=9), r"tick must be in 1\.\.8"),
        (lambda e: animate_episode(e, "x.mp4"), "must end in .gif"),
    ],
)
def test_bad_input_is_refused_with_what_is_accepted(episode, call, message):
    with pytest.raises(ValueError, match=message):
        call(episode)


def test_viz_economy_writes_the_four_diagnostics_and_the_gif(tmp_path, capsys):
    argv = ["viz", "economy", "--save-dir", str(tmp_path), "--steps", "3", "--seed", "1"]
    argv += ["--param", "n_agents=4", "--gif", "--every", "2", "--no-progress"]
    assert main(argv) == 0
    names = ["attention.png", "episode.gif", "gini.png", "job_shares.png", "signal_pca.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert capsys.readouterr().out.count("wrote ") == 5
    assert main([*argv[:4], "--param", "max_steps=3"]) == 2
    assert "give the number of ticks as steps" in capsys.readouterr().err
