"""The architecture diagram is the model's own: a box per stream, an arrow per data-flow edge."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import heas_envs  # noqa: E402
import heas_envs.vis.cli  # noqa: E402, F401  (registers `arch`)
from heas_envs.cli import main  # noqa: E402
from heas_envs.core import AgentGroup, LayerSpec, Stream, StreamSpec  # noqa: E402
from heas_envs.core.model import data_flow_edges  # noqa: E402
from heas_envs.registration import list_envs  # noqa: E402
from heas_envs.vis import plot_architecture, resolve_model  # noqa: E402
from heas_envs.vis.architecture import BOX_HEIGHT  # noqa: E402


class Source(Stream):
    writes = ("level",)


class Sink(Stream):
    reads = ("source.level",)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def by_gid(fig, prefix: str) -> dict[str, object]:
    ax = fig.axes[0]
    artists = [*ax.patches, *ax.texts]
    return {
        a.get_gid()[len(prefix) :]: a for a in artists if (a.get_gid() or "").startswith(prefix)
    }


@pytest.mark.parametrize("env_id", list_envs())
def test_every_stream_has_a_box_and_every_read_an_arrow_labelled_with_its_keys(env_id):
    model = heas_envs.make_parallel(env_id).model
    fig = plot_architecture(env_id)
    names = [s.name for s in model.streams]
    assert list(by_gid(fig, "stream:")) == names
    assert {k: t.get_text() for k, t in by_gid(fig, "stream-name:").items()} == {
        n: n for n in names
    }
    info = by_gid(fig, "stream-info:")
    for s in model.streams:
        lines = info[s.name].get_text().split("\n")
        assert lines[0] == type(s).__name__
        if isinstance(s, AgentGroup):
            assert lines[1] == f"agents: {s.role} x {s.n_agents}"
    layers = [t.get_text().split(" (every")[0] for t in by_gid(fig, "layer-label:").values()]
    assert layers == [layer.name for layer in model.layers]

    # the expected arrows, straight from the declared reads and writes
    order = {n: i for i, n in enumerate(names)}
    expected: dict[str, list[str]] = {}
    for writer, reader, key in data_flow_edges(model.streams):
        kind = "feedback" if order[writer] >= order[reader] else "edge"
        expected.setdefault(f"{kind}:{writer}->{reader}", []).append(key)
    arrows = {g: a for g, a in by_gid(fig, "").items() if g.startswith(("edge:", "feedback:"))}
    assert sorted(arrows) == sorted(expected)
    labels = {k: t.get_text() for k, t in by_gid(fig, "label:").items()}
    for gid, keys in expected.items():
        assert labels[gid.split(":", 1)[1]] == ", ".join(keys)
        # the arrow leaves the writer's box edge and runs in a lane outside the boxes
        (_, y0), (_, lane), _, (_, y1) = arrows[gid].get_path().vertices[:4]
        side = -1 if gid.startswith("feedback") else 1
        assert y0 == pytest.approx(side * BOX_HEIGHT / 2) and side * lane > BOX_HEIGHT / 2
        assert y1 == pytest.approx(side * BOX_HEIGHT / 2, abs=0.02)  # under the arrowhead
    assert sum(len(k) for k in expected.values()) == len(data_flow_edges(model.streams))


def test_the_diagram_takes_an_env_a_vector_env_a_model_or_layer_specs():
    env = heas_envs.make_parallel("heas_envs/Market-v0")
    assert resolve_model(env) is env.model
    vec = heas_envs.make_vec("heas_envs/Market-v0", 2)
    assert resolve_model(vec) is vec.model
    assert resolve_model(env.model) is env.model
    spec = [
        LayerSpec([StreamSpec("source", Source)], name="first"),
        LayerSpec([StreamSpec("sink", Sink)], period=5, name="slow"),
    ]
    fig = plot_architecture(spec)
    assert list(by_gid(fig, "stream:")) == ["source", "sink"]
    assert sorted(by_gid(fig, "edge:")) == ["source->sink"]
    assert by_gid(fig, "label:")["source->sink"].get_text() == "source.level"
    assert by_gid(fig, "layer-label:")["slow"].get_text() == "slow (every 5 ticks)"
    small = resolve_model("heas_envs/Market-v0", n_traders=3)
    assert small.groups["trader"][0].n_agents == 3
    with pytest.raises(ValueError, match="apply to an env id only"):
        resolve_model(env, n_traders=3)
    with pytest.raises(ValueError, match="got an object of type 'int'"):
        resolve_model(3)
    with pytest.raises(ValueError, match="unknown env id 'nope'"):
        plot_architecture("nope")


def test_arch_writes_the_file_its_extension_names(tmp_path, capsys):
    path = tmp_path / "sub" / "economy.svg"
    assert main(["arch", "heas_envs/Economy-v0", "--save", str(path)]) == 0
    svg = path.read_text()
    assert svg.startswith("<?xml") and 'id="stream:demography"' in svg
    assert 'id="feedback:demography-&gt;broadcast"' in svg
    assert capsys.readouterr().out == f"wrote {path}\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["heas_envs/Nope-v0", "--save", "{d}/a.png"],
            "unknown env id 'heas_envs/Nope-v0'; valid ids",
        ),
        (["heas_envs/Market-v0", "--save", "{d}/a.jpg"], "must end in .png, .svg or .pdf"),
        (["heas_envs/Market-v0", "--save", "{d}"], "must end in"),
        (
            ["heas_envs/Market-v0", "--save", "{d}/a.png", "--param", "n_trader=2"],
            "unknown parameter",
        ),
        (["heas_envs/Market-v0"], "required: --save"),
    ],
)
def test_bad_arch_input_gives_one_line_and_status_2(tmp_path, capsys, argv, message):
    assert main(["arch", *[a.format(d=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
