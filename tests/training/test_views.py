"""The views of a run: bins equal to grad_color's, the page's data, figures, files, comparisons, notebooks."""

from __future__ import annotations

import base64
import json
import math
import re

import numpy as np
import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.errors import OutputError
from graphviz_ad.render.gradcolor import SCALE, bin_of, fill_of
from graphviz_ad.training import TrainingError
from graphviz_ad.training.bins import NONFINITE_BIN, bins_of, edges, palette
from graphviz_ad.training.page import columns
from tests.helpers import needs_dot
from tests.training.conftest import train, widenet, widenet_data


def test_bins_are_grad_colors_bins_for_every_magnitude():
    mags = np.concatenate([np.logspace(-45, 45, 4001), [0.0, 5e-324, 1e-300, 1e300, 1.7976931348623157e308],
                           np.asarray(edges()), np.nextafter(np.asarray(edges()), 0)])
    assert bins_of(mags).tolist() == [bin_of(float(m)) for m in mags]
    assert bins_of([math.nan, math.inf]).tolist() == [NONFINITE_BIN, NONFINITE_BIN]
    assert [p for p in palette()] == [fill_of(10.0 ** (3 * (k - 5))) for k in range(len(SCALE))] + [fill_of(math.nan)]


def _page_runs(text: str) -> list[dict]:
    blob = re.search(r'<script type="application/json" class="gadt-data">(.*?)</script>', text, re.S).group(1)
    return json.loads(blob)["runs"]


def _f32(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4")


@needs_dot
def test_the_page_carries_the_record_and_colours_the_parameters_boxes(small_run, tmp_path):
    path = small_run.save(tmp_path / "run.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"',
                                                                              "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "<script src" not in text and "<link" not in text  # nothing is fetched
    (run,) = _page_runs(text)
    names = small_run.names
    grads = _f32(run["grad"]).reshape(run["rows"], len(names))
    h = small_run.history
    for i, n in enumerate(names):
        assert grads[:, i].tolist() == pytest.approx(h["grad_norm"][n], rel=1e-6)
    bins = np.frombuffer(base64.b64decode(run["bins"]), dtype=np.uint8).reshape(run["rows"], len(names))
    assert bins[:, 0].tolist() == [bin_of(v) for v in np.float32(h["grad_norm"][names[0]]).tolist()]
    # every parameter is a box of the graph (WideNet is small: nothing collapsed), coloured by its own norm
    assert sorted(run["boxes"]) == ["n1", "n2", "n5", "n6"]
    for b in run["boxes"]:
        assert re.search(rf'<g id="gadt-[0-9a-f]+-{b}" class="node gad&#45;node gad&#45;param">', text)


@needs_dot
def test_the_page_has_the_same_bytes_for_the_same_run(data):
    def one() -> str:
        model = widenet(32)
        opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
        with gad.watch(model, opt) as run:
            train(model, opt, 5, data, run)
        return run.to_html()

    assert one() == one()


@needs_dot
def test_collapsed_modules_stand_for_every_parameter_under_them():
    from graphviz_ad.training.graphview import trace_graph

    torch.manual_seed(0)
    inner = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4))
    model = torch.nn.Sequential(inner, torch.nn.Linear(4, 1))
    view = trace_graph(model, ((torch.randn(2, 4),), {}), depth=1)
    names = [n for n, _ in model.named_parameters()]
    boxes = dict(view.boxes_for(names))
    module_boxes = [members for members in boxes.values() if len(members) > 1]
    assert module_boxes == [(0, 1, 2, 3), (4, 5)]  # "0" and "1" collapsed: their parameters, aggregated
    assert sorted(i for m in boxes.values() for i in m) == [0, 1, 2, 3, 4, 5]


def test_long_runs_are_sampled_evenly_for_the_page():
    assert columns(5).tolist() == [0, 1, 2, 3, 4]
    c = columns(10_000, 2000)
    assert len(c) == 2000 and c[0] == 0 and c[-1] == 9999 and np.all(np.diff(c) > 0)


def test_plot_is_a_figure_with_loss_heatmap_and_ratios(small_run):
    fig = small_run.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["loss", "gradient norm per parameter (grad_color's log palette)",
                          "update / parameter ratio per layer (dashed: 1e-3)"]
    assert fig.axes[0].get_yscale() == "log" and small_run.plot(log_loss=False).axes[0].get_yscale() == "linear"
    acts = fig.axes[3]  # small_run watched activations: the tanh's saturated fraction per step
    assert acts.get_title().startswith("activations: saturated")
    (line,) = acts.lines
    assert line.get_label() == "1: saturated"
    assert list(line.get_ydata()) == small_run.history["activations"]["1"]["saturated"]
    image = fig.axes[1].images[0].get_array()
    assert image.shape == (4, 12)  # parameters x steps
    assert image[0].tolist() == bins_of(small_run.history["grad_norm"]["0.weight"]).tolist()


def test_static_files_png_and_deterministic_svg(small_run, tmp_path):
    png = small_run.save(tmp_path / "run.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    a = small_run.save(tmp_path / "a.svg").read_bytes()
    b = small_run.save(tmp_path / "b.svg").read_bytes()
    assert a == b and b"<svg" in a


def test_save_refuses_unknown_suffixes_and_leaves_nothing_half_written(small_run, tmp_path):
    with pytest.raises(ValueError, match="cannot tell the output format"):
        small_run.save(tmp_path / "run.txt")
    with pytest.raises(OutputError, match="does not exist"):
        small_run.save(tmp_path / "missing" / "run.json")
    assert list(tmp_path.iterdir()) == []


def _lr_runs(data, lrs, *, hidden: int, steps: int) -> list[gad.Run]:
    """One watched WideNet run (SGD, momentum 0.9) per learning rate."""
    runs = []
    for lr in lrs:
        model = widenet(hidden)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        with gad.watch(model, opt, graph=False) as run:
            train(model, opt, steps, data, run)
        runs.append(run)
    return runs


def test_compare_labels_runs_by_what_differs(data):
    runs = _lr_runs(data, (0.003, 0.03), hidden=16, steps=6)
    c = gad.compare(*runs)
    assert c.labels == ["lr=0.003", "lr=0.03"]
    fig = c.plot()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["loss", "gradient norm: lr=0.003", "gradient norm: lr=0.03"]
    assert len(fig.axes[0].lines) == 2 and [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["lr=0.003", "lr=0.03"]
    page = c.to_html()
    assert [r["label"] for r in _page_runs(page)] == ["lr=0.003", "lr=0.03"]
    assert page.count('class="gadt-heat"') == 2 and 'class="gadt-run"' in page
    assert gad.compare(*runs, labels=["slow", "fast"]).labels == ["slow", "fast"]
    with pytest.raises(TrainingError, match="one label per run"):
        gad.compare(*runs, labels=["one"])
    with pytest.raises(TrainingError, match="at least one run"):
        gad.compare()


def test_notebook_display_is_an_html_fragment(small_run):
    bundle = small_run._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<graphviz_ad.Run 'lr=0.003, momentum=0.9")
    assert bundle["text/html"].startswith("<style>") and "<html" not in bundle["text/html"]
    assert 'class="gadt"' in small_run._repr_html_()


def test_a_run_with_nothing_recorded_still_draws(tmp_path):
    model = widenet(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with gad.watch(model, opt) as run:
        pass
    assert run.history["step"] == [] and run.history["grad_norm"]["0.weight"] == []
    run.plot()
    page = run.to_html()
    assert "No graph: the watch saw no forward call" in page and _page_runs(page)[0]["rows"] == 0
    assert json.loads(run.save(tmp_path / "empty.json").read_text())["step"] == []


def test_watch_data_shared_by_widenet_fixture_is_the_lessons():
    inputs, targets = widenet_data()
    assert inputs.shape == (32, 1) and targets.shape == (32, 1)


def test_without_dot_the_page_says_why_and_shows_the_rest(small_run, monkeypatch, tmp_path):
    """No Graphviz binary: the page has no graph, says so, and still carries the curves and heatmaps."""
    import graphviz_ad.training.graphview as graphview
    from graphviz_ad.errors import ExecutableNotFound

    def no_dot(*args, **kwargs):
        raise ExecutableNotFound()

    monkeypatch.setattr(graphview, "trace_graph", no_dot)
    small_run._graph = None
    page = small_run.save(tmp_path / "run.html").read_text(encoding="utf-8")
    assert "No graph: it could not be drawn: Graphviz&#x27;s &#x27;dot&#x27; executable was not found" in page
    assert _page_runs(page)[0]["rows"] == 12


def test_a_diverging_run_leaves_the_others_readable(data):
    """The comparison's loss chart stops at 100x the largest starting loss; the diverged run says so."""
    runs = _lr_runs(data, (0.003, 0.05), hidden=512, steps=12)
    ax = gad.compare(*runs).plot().axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["lr=0.003", "lr=0.05 (off the chart: diverged)"]
    assert ax.get_ylim()[1] == pytest.approx(100 * max(r.history["loss"][0] for r in runs))
