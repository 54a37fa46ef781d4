"""In a real JupyterLab (a ``jupyter lab`` server on localhost, its notebook in Chromium, cells run by
JupyterLab's own command): the explorer a Trace shows, Graphviz carried by one output only, expanding
and collapsing in place, the stepper's arrow keys right after a click on Next (#17), and text that
stays readable in a cell (the fit floor)."""

from __future__ import annotations

import pytest

from tests.browser_support import Watched, launch_browser
from tests.jupyterlab.lab import start_lab, write_notebook

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.slow]

SETUP = """\
import torch, graphviz_ad as gad
from torch import nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
t = gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()
small = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
m = gad.trace(lambda x, y: nn.functional.mse_loss(small(x), y), torch.randn(5, 3), torch.randn(5, 1)).backward()
"""
CELLS = [SETUP, "t", "t.explore(depth=1)", "m.stepper(rankdir='LR', grad_color=True)"]

# the rendered size, in px, of the smallest text of the graph's boxes (legend aside): font-size in the
# SVG's user units times the drawn width over the viewBox's
TEXT_PX = """root => {
  const svg = document.querySelector(root + ' svg'), vb = svg.viewBox.baseVal;
  const scale = svg.getBoundingClientRect().width / vb.width;
  const sizes = Array.from(svg.querySelectorAll('g.node text')).filter(t => !t.closest('#legend, [id$="-legend"]'))
    .map(t => parseFloat(t.getAttribute('font-size')) * scale);
  return Math.min(...sizes);
}"""


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from start_lab(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def opened(lab, browser):
    write_notebook(lab.root / "explore.ipynb", CELLS)
    w = Watched(browser, width=1280)
    lab.open(w.page, "explore.ipynb", len(CELLS))
    w.page.wait_for_function("() => document.querySelectorAll('.gad-explorer[data-state=\"ready\"]').length === 2",
                             timeout=60000)
    yield w
    w.page.close()


def _roots(page, cls: str) -> list[str]:
    return page.eval_on_selector_all(f".jp-OutputArea-output .{cls}", "els => els.map(e => '#' + e.id)")


def _count(page, root: str) -> int:
    return page.eval_on_selector_all(f"{root} g[data-id]", "els => els.length")


def _layouts(page, root: str) -> int:
    return int(page.get_attribute(root, "data-layouts") or 0)


def _ready(page, root: str, after: int) -> None:
    page.wait_for_function("([r, n]) => { const e = document.querySelector(r); return e.getAttribute('data-state')"
                           " === 'ready' && Number(e.getAttribute('data-layouts')) > n; }", arg=[root, after],
                           timeout=30000)


def test_a_trace_shows_the_explorer_and_only_the_first_output_carries_graphviz(opened):
    page = opened.page
    trace_out, explore_out = _roots(page, "gad-explorer")
    carriers = page.eval_on_selector_all(".gad-explorer .gad-x-viz", "els => els.length")
    assert carriers == 1 and page.eval_on_selector(trace_out, "e => !!e.querySelector('.gad-x-viz')")
    assert page.get_attribute(explore_out, "data-viz") == page.get_attribute(trace_out, "data-viz")
    assert _count(page, trace_out) == int(page.get_attribute(trace_out, "data-boxes")) > 0
    assert page.eval_on_selector_all(".gad-x-static", "els => els.length") == 0  # the pictures gave way
    assert opened.errors == []


def test_expanding_a_module_grows_the_drawing_and_collapsing_returns_it(opened):
    page = opened.page
    root = _roots(page, "gad-explorer")[1]
    before, n = _count(page, root), _layouts(page, root)
    cid = page.get_attribute(f'{root} g[data-module="2"]', "data-cluster")
    page.click(f'{root} g[data-module="2"]')
    _ready(page, root, n)
    assert _count(page, root) > before
    n = _layouts(page, root)
    page.locator(f'{root} g.cluster[data-cluster="{cid}"] > text').first.click()
    _ready(page, root, n)
    assert _count(page, root) == before
    assert opened.errors == []


def test_the_explorers_text_is_readable_in_a_cell(opened):
    page = opened.page
    for root in _roots(page, "gad-explorer"):  # JupyterLab's svg{max-width:100%} must not shrink it
        assert page.evaluate(TEXT_PX, root) >= 10


def test_the_steppers_arrow_keys_work_right_after_clicking_next(opened):
    page = opened.page
    (root,) = _roots(page, "gad-stepper")
    assert page.get_attribute(root, "data-step") == "0"
    page.click(f"{root} .gad-next")
    assert page.get_attribute(root, "data-step") == "1"
    page.keyboard.press("ArrowRight")
    page.wait_for_function("r => document.querySelector(r).getAttribute('data-step') === '2'", arg=root, timeout=5000)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("r => document.querySelector(r).getAttribute('data-step') === '1'", arg=root, timeout=5000)
    # JupyterLab kept its own state: still the same cell, no cell moved or selected by the arrows
    assert page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex") == 3


def test_the_steppers_graph_is_readable_in_a_cell(opened):
    page = opened.page
    (root,) = _roots(page, "gad-stepper")
    assert page.evaluate(TEXT_PX, root) >= 10


def test_the_explorers_arrow_keys_step_right_after_clicking_its_button(opened):
    page = opened.page
    root = _roots(page, "gad-explorer")[1]
    page.click(f"{root} .gad-x-next")
    k = int(page.get_attribute(root, "data-step"))
    page.keyboard.press("ArrowRight")
    page.wait_for_function("([r, k]) => document.querySelector(r).getAttribute('data-step') === String(k + 1)",
                           arg=[root, k], timeout=5000)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("([r, k]) => document.querySelector(r).getAttribute('data-step') === String(k)",
                           arg=[root, k], timeout=5000)
    assert opened.errors == []


@pytest.fixture(scope="module")
def saved(lab, browser):
    """A notebook with someone else's saved outputs (made here, unsigned): JupyterLab does not trust it."""
    nbformat = pytest.importorskip("nbformat")
    from graphviz_ad.explore.notebook import SESSION
    from tests.explore.test_explorer_notebook import _net_trace

    t = _net_trace()
    SESSION.reset()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("t"),
                nbformat.v4.new_code_cell("t.explore(depth=1)")]
    for k, shown in ((1, t), (2, t.explore(depth=1))):
        nb.cells[k].execution_count = k
        nb.cells[k].outputs = [nbformat.v4.new_output("execute_result", data=shown._repr_mimebundle_(),
                                                      execution_count=k)]
    nbformat.write(nb, str(lab.root / "saved.ipynb"))
    w = Watched(browser, width=1280)
    lab.open(w.page, "saved.ipynb", len(nb.cells), run=False)
    yield lab, w, len(nb.cells)
    w.page.close()


def test_an_untrusted_explorer_output_shows_its_picture_and_how_to_make_it_live(saved):
    lab, w, cells = saved
    page = w.page
    page.wait_for_function("() => Array.from(document.querySelectorAll('.jp-OutputArea-output img.gad-x-static'))"
                           ".filter(i => i.complete && i.naturalWidth > 0).length === 2", timeout=30000)
    assert page.eval_on_selector_all(".jp-OutputArea-output script", "els => els.length") == 0  # sanitized
    assert page.eval_on_selector_all("[data-gad-ready]", "els => els.length") == 0  # no script ran
    notes = page.eval_on_selector_all(".gad-x-stale", "els => els.map(e => e.offsetParent !== null && e.textContent)")
    assert len(notes) == 2 and all("run the cell, or trust the notebook" in n for n in notes)
    shown = "els => els.filter(e => e.offsetParent !== null).length"  # no dead buttons, no empty panel
    assert page.eval_on_selector_all(".jp-OutputArea-output .gad-explorer button", shown) == 0
    assert page.eval_on_selector_all(".jp-OutputArea-output .gad-explorer input", shown) == 0
    # readable: the picture keeps its floor (0.85 of its natural size) and its box scrolls sideways
    sizes = page.eval_on_selector_all("img.gad-x-static", "els => els.map(e => [e.getBoundingClientRect().width, "
                                      "e.naturalWidth])")
    assert all(shown >= 0.84 * natural for shown, natural in sizes)
    lab.run_all(page, cells)  # what the line says: run the cells
    page.wait_for_function("() => document.querySelectorAll('.gad-explorer[data-state=\"ready\"]').length === 2",
                           timeout=60000)
    assert page.eval_on_selector_all(".gad-explorer .gad-x-viz", "els => els.length") == 1
    assert page.eval_on_selector_all(".gad-x-stale", "els => els.length") == 0
    assert page.eval_on_selector_all(".jp-OutputArea-output .gad-explorer .gad-x-next", shown) == 2
    assert w.errors == []


def _rerun(page, index: int) -> None:
    """Run cell ``index`` again (JupyterLab sends its id with the request) and wait for its new output."""
    count = page.evaluate("i => window.jupyterapp.shell.currentWidget.content.widgets[i].model.executionCount", index)
    page.evaluate("i => { const w = window.jupyterapp.shell.currentWidget; w.content.activeCellIndex = i;"
                  " return window.jupyterapp.commands.execute('notebook:run-cell'); }", index)
    page.wait_for_function("([i, n]) => { const w = window.jupyterapp.shell.currentWidget;"
                           " const c = w.content.widgets[i]; return c.model.executionCount > n"
                           " && w.sessionContext.session.kernel.status === 'idle'"
                           " && c.node.querySelector('.gad-explorer[data-state=\"ready\"]'); }",
                           arg=[index, count], timeout=60000)


def test_running_the_carrying_cell_again_carries_graphviz_again(opened):
    page = opened.page
    carried = "i => !!window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.gad-x-viz')"
    _rerun(page, 2)  # another cell: its new output shares the page's Graphviz
    assert not page.evaluate(carried, 2)
    _rerun(page, 1)  # the carrier's cell: its old output (and Graphviz with it) goes, the new one brings it
    assert page.evaluate(carried, 1)
    assert page.eval_on_selector_all(".gad-explorer .gad-x-viz", "els => els.length") == 1
    assert opened.errors == []
