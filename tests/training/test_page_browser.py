"""The training page in headless Chromium: the slider recolours the graph's parameter boxes with the bins of the
recorded gradient norms, play runs to the end, nothing is fetched, no console errors."""

from __future__ import annotations

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.training.bins import NONFINITE_BIN, bins_of, palette
from tests.helpers import needs_dot
from tests.training.conftest import train, widenet, widenet_data

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_dot]


@pytest.fixture(scope="module")
def exploding_run():
    """WideNet with too large a learning rate: its gradient norms climb through the palette's bins to nan."""
    model = widenet(512)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with gad.watch(model, opt) as run:
        train(model, opt, 30, widenet_data(), run)
    return run


def _fills(page) -> dict[str, str]:
    """The fill of each parameter box's shape, by the parameter node's id."""
    return page.eval_on_selector_all(
        "[data-box]", "els => Object.fromEntries(els.map(e => [e.getAttribute('data-box'), "
                      "e.querySelector('polygon, path, ellipse').getAttribute('fill')]))")


def _readout(run, k: int) -> str:
    """The readout's gradient part, as the page must write it: the largest (nan counts as largest, the first of
    ties) and the smallest norm at row k, to 4 significant digits."""
    import math

    def key(n: str) -> float:
        v = float(torch.tensor(run.history["grad_norm"][n][k], dtype=torch.float32))
        return math.inf if math.isnan(v) else v

    def show(n: str) -> str:
        v = float(torch.tensor(run.history["grad_norm"][n][k], dtype=torch.float32))
        return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{float(f'{v:.4g}'):g}")

    top = max(run.names, key=key)  # max/min return the first of ties
    low = min(run.names, key=key)
    return f"largest gradient norm {top} {show(top)} · smallest {low} {show(low)}"


def _expected(run, k: int) -> dict[str, str]:
    node_of = {"0.weight": "n1", "0.bias": "n2", "2.weight": "n5", "2.bias": "n6"}
    colours = [c for c, _ in palette()]
    return {node_of[n]: colours[int(bins_of([run.history["grad_norm"][n][k]])[0])] for n in run.names}


def test_the_slider_recolours_the_parameter_boxes(exploding_run, watched, tmp_path):
    path = exploding_run.save(tmp_path / "run.html")
    url = watched.open(path)
    page = watched.page
    last = len(exploding_run.history["step"]) - 1
    assert page.get_attribute(".gadt", "data-step") == "0"
    first = _fills(page)
    assert first == _expected(exploding_run, 0)
    assert _readout(exploding_run, 0) in page.text_content(".gadt-readout")
    page.eval_on_selector(".gadt-slider", f"s => {{ s.value = {last}; s.dispatchEvent(new Event('input')); }}")
    assert page.get_attribute(".gadt", "data-step") == str(last)
    end = _fills(page)
    assert end == _expected(exploding_run, last) and end != first  # the colours changed with the step
    assert palette()[NONFINITE_BIN][0] in end.values()  # the run blew up: nan/inf boxes are black
    assert page.text_content(".gadt-counter") == f"step {last + 1} ({last + 1} of {last + 1})"
    assert "nan/inf since step" in page.text_content(".gadt-readout")
    assert _readout(exploding_run, last) in page.text_content(".gadt-readout")
    assert float(page.get_attribute(".gadt", "data-redraw-ms")) >= 0
    # a click on the heatmap moves the slider to that column; hovering names the cell
    heat = page.query_selector("canvas.gadt-heat")
    box = heat.bounding_box()
    heat.click(position={"x": box["width"] * 4.5 / (last + 1), "y": box["height"] / 8})
    assert page.get_attribute(".gadt", "data-step") == "4"
    v = exploding_run.history["grad_norm"]["0.weight"][4]
    assert heat.get_attribute("title") == f"0.weight at step 5: gradient norm {float(f'{v:.4g}'):g}"
    # the keyboard moves the slider too
    page.focus(".gadt-slider")
    page.keyboard.press("Home")
    assert page.get_attribute(".gadt", "data-step") == "0" and _fills(page) == first
    assert watched.errors == [] and watched.requests == [url]


def test_play_runs_to_the_last_step(exploding_run, watched, tmp_path):
    path = exploding_run.save(tmp_path / "run.html")
    url = watched.open(path)
    page = watched.page
    last = len(exploding_run.history["step"]) - 1
    page.click(".gadt-play")
    assert page.text_content(".gadt-play") == "pause"
    page.wait_for_function(f"() => document.querySelector('.gadt').getAttribute('data-step') === '{last}'",
                           timeout=10000)
    page.wait_for_function("() => document.querySelector('.gadt-play').textContent === 'play'", timeout=5000)
    assert _fills(page) == _expected(exploding_run, last)
    assert watched.errors == [] and watched.requests == [url]


def test_a_comparison_page_switches_the_graph_between_runs(exploding_run, watched, tmp_path, small_run):
    path = gad.compare(small_run, exploding_run, labels=["calm", "exploding"]).save(tmp_path / "cmp.html")
    url = watched.open(path)
    page = watched.page
    assert page.eval_on_selector_all("canvas.gadt-heat", "els => els.length") == 2
    page.select_option(".gadt-run", "1")
    last = len(exploding_run.history["step"]) - 1
    page.eval_on_selector(".gadt-slider", f"s => {{ s.value = {last}; s.dispatchEvent(new Event('input')); }}")
    assert page.get_attribute(".gadt", "data-step") == str(last)
    assert palette()[NONFINITE_BIN][0] in _fills(page).values()
    assert watched.errors == [] and watched.requests == [url]


def _act_cells(run, k: int) -> dict[str, list[str]]:
    """The activation table's cells at row k as the page must write them: the recorded float32 value to 4
    significant digits, the fraction followed by its name."""
    import math

    def show(v: float) -> str:
        v = float(torch.tensor(v, dtype=torch.float32))
        return "nan" if math.isnan(v) else f"{float(f'{v:.4g}'):g}"

    out = {}
    for module, stats in run.history["activations"].items():
        frac = [s for s in stats if s not in ("mean", "std")]
        out[module] = [module, show(stats["mean"][k]), show(stats["std"][k]),
                       f"{show(stats[frac[0]][k])} {frac[0]}" if frac else "-"]
    return out


def _table(page) -> dict[str, list[str]]:
    return page.eval_on_selector_all(
        ".gadt-act-table tbody tr", "trs => Object.fromEntries(trs.map(tr => [tr.getAttribute('data-module'), "
                                    "Array.from(tr.children).map(td => td.textContent)]))")


def test_the_activation_panel_shows_the_recorded_statistics(small_run, exploding_run, watched, tmp_path):
    """activations=True: the page has the activations panel, whose table follows the slider with the recorded
    mean, std and saturated fraction of each module and whose heatmap has one row per module with a fraction;
    a run without activations has no panel at all."""
    url = watched.open(small_run.save(tmp_path / "acts.html"))
    page = watched.page
    acts = small_run.history["activations"]
    assert set(acts) == {"0", "1", "2"} and set(acts["1"]) == {"mean", "std", "saturated"}
    assert page.eval_on_selector_all(".gadt-acts", "els => els.length") == 1
    assert _table(page) == _act_cells(small_run, 0)
    last = len(small_run.history["step"]) - 1
    page.eval_on_selector(".gadt-slider", f"s => {{ s.value = {last}; s.dispatchEvent(new Event('input')); }}")
    assert _table(page) == _act_cells(small_run, last) != _act_cells(small_run, 0)
    heat = page.query_selector("canvas.gadt-act-heat")
    assert heat.is_visible() and page.eval_on_selector(".gadt-act-heat", "c => [c.width, c.height]") == [last + 1, 1]
    assert page.text_content(".gadt-act-rows") == "rows, top to bottom: 1 (saturated)"
    # the heatmap's pixels are the recorded fractions (white 0 to orange 1)
    px = page.eval_on_selector(".gadt-act-heat", "c => Array.from(c.getContext('2d').getImageData(0, 0, "
                                                 "c.width, 1).data)")
    for i, f in enumerate(acts["1"]["saturated"]):
        f = float(torch.tensor(f, dtype=torch.float32))
        assert px[4 * i:4 * i + 4] == [round(255 - 42 * f), round(255 - 161 * f), round(255 - 255 * f), 255], i
    # hovering names the cell; a click moves the slider there
    box = heat.bounding_box()
    heat.hover(position={"x": box["width"] * 2.5 / (last + 1), "y": box["height"] / 2})
    assert heat.get_attribute("title").startswith("1 at step 3: saturated fraction ")
    heat.click(position={"x": box["width"] * 2.5 / (last + 1), "y": box["height"] / 2})
    assert page.get_attribute(".gadt", "data-step") == "2" and _table(page) == _act_cells(small_run, 2)
    assert watched.errors == [] and watched.requests == [url]

    url2 = watched.open(exploding_run.save(tmp_path / "plain.html"))
    assert watched.page.eval_on_selector_all(".gadt-acts, .gadt-act-table", "els => els.length") == 0
    assert watched.errors == [] and watched.requests == [url, url2]

    # a comparison of a run with and one without activations: the panel says so for the second
    url3 = watched.open(gad.compare(small_run, exploding_run, labels=["a", "b"]).save(tmp_path / "cmp.html"))
    page = watched.page
    assert _table(page) == _act_cells(small_run, 0)
    page.select_option(".gadt-run", "1")
    assert _table(page) == {} and "recorded no activations" in page.text_content(".gadt-act-note")
    assert not page.is_visible(".gadt-act-heat")
    assert watched.errors == [] and watched.requests == [url, url2, url3]
