"""The explorer as a notebook output: a real kernel (nbclient) displays ten explorers (a Trace ending a
cell, ``t.explore()``), Graphviz in the first output only; the notebook's size is reported; its
nbconvert HTML export runs every explorer in Chromium, independently; and in simulated output areas an
output that waits for Graphviz gets it from another output, before or after it, or says it is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.browser_support import Watched, launch_browser
from tests.explore.test_explorer_browser import layouts, local_requests, ready
from tests.test_lesson_notebook import OFFLINE_TEMPLATE

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

SETUP = """\
import torch, graphviz_ad as gad
from torch import nn
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
t = gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()
"""


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("t"),
                nbformat.v4.new_code_cell("t.explore(depth=1, theme='dark')")]
    nb.cells += [nbformat.v4.new_code_cell("t.explore(depth=2)")]
    nb.cells += [nbformat.v4.new_code_cell(f"t.explore(depth=1, digits={d})") for d in range(3, 10)]
    work = tmp_path_factory.mktemp("nb")
    spec = work / "jupyter" / "kernels" / "python3"  # a kernel that runs this Python with this checkout
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(ROOT)}}), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(work / "jupyter"))
    mp.setenv("IPYTHONDIR", str(work / "ipython"))
    mp.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))
    mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                resources={"metadata": {"path": str(work)}}).execute()
    finally:
        mp.undo()
    path = work / "explore.ipynb"
    nbformat.write(nb, str(path))
    return nb, path


def test_the_kernel_displays_ten_explorers_and_only_the_first_carries_graphviz(executed):
    nb, path = executed
    outs = [cell.outputs for cell in nb.cells[1:]]
    assert all(len(o) == 1 and o[0].output_type == "execute_result" for o in outs)
    html = [o[0].data["text/html"] for o in outs]
    assert len(html) == 10 and all('class="gad-explorer"' in h for h in html)
    assert ['class="gad-x-viz"' in h for h in html] == [True] + [False] * 9
    assert outs[0][0].data["text/plain"].startswith("<graphviz_ad.Trace")
    assert all(o[0].data["text/plain"].startswith("<graphviz_ad.Explorer") for o in outs[1:])
    size = path.stat().st_size
    # each output without Graphviz: its data, script and static picture, ~0.1 MB for this model
    print(f"notebook with ten explorers: {size / 1e6:.2f} MB (first output {len(html[0]) / 1e6:.2f} MB, "
          f"others {sum(map(len, html[1:])) / 9e6:.2f} MB each)")
    assert size < 2.5e6  # 1.7 MB here; with Graphviz in every output (before): 7.0 MB


def test_the_nbconvert_export_runs_every_explorer_independently(executed, browser, tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    exporters = pytest.importorskip("nbconvert.exporters")
    nb, _ = executed
    exporter = exporters.HTMLExporter(extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                                      template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    path = tmp_path / "explore.html"
    path.write_text(body, encoding="utf-8")
    w = Watched(browser)
    w.open(path)
    roots = w.page.eval_on_selector_all(".gad-explorer", "els => els.map(e => '#' + e.id)")
    assert len(roots) == 10
    for r in roots:
        ready(w.page, r)
    assert w.page.eval_on_selector_all(".gad-x-static", "els => els.length") == 0  # each picture gave way
    count = [w.page.eval_on_selector_all(f"{r} g[data-id]", "els => els.length") for r in roots]
    n = layouts(w.page, roots[1])
    w.page.click(f'{roots[1]} g[data-module="2"]')
    ready(w.page, roots[1], after=n)
    assert w.page.eval_on_selector_all(f"{roots[1]} g[data-id]", "els => els.length") > count[1]
    assert [w.page.eval_on_selector_all(f"{r} g[data-id]", "els => els.length") for r in roots[2:]] == count[2:]
    w.page.click(f"{roots[2]} .gad-x-next")
    assert [w.page.get_attribute(r, "data-step") for r in roots] == ["-1", "-1", "0"] + ["-1"] * 7
    assert w.errors == [] and local_requests(w) == []


def _net_trace():
    import torch
    from torch import nn

    import graphviz_ad as gad

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
    return gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()


@pytest.mark.parametrize("order", ["carrier-first", "carrier-last"])
@pytest.mark.parametrize("mode", ["jupyterlab", "jupyterlab-attached", "vscode", "classic"])
def test_two_explorers_in_each_front_ends_output_areas(browser, tmp_path, mode, order):
    """The output areas of tests/frontends/test_notebook.py: how JupyterLab, VS Code and the classic
    Notebook insert a text/html output and run its scripts. The second output of the session has no
    Graphviz of its own: it takes the first's, whether that stands before or after it on the page."""
    from graphviz_ad.explore.notebook import SESSION
    from tests.frontends.test_notebook import _host_page

    t = _net_trace()
    SESSION.reset()
    outputs = [t.explore(depth=1)._repr_mimebundle_()["text/html"],
               t.explore(depth=1, theme="dark")._repr_mimebundle_()["text/html"]]
    assert ['class="gad-x-viz"' in o for o in outputs] == [True, False]
    if order == "carrier-last":
        outputs.reverse()
    path = _host_page(tmp_path, outputs)
    w = Watched(browser)
    w.page.goto(path.as_uri() + "#" + mode)
    roots = w.page.eval_on_selector_all(".gad-explorer", "els => els.map(e => '#' + e.id)")
    assert len(roots) == 2
    for r in roots:
        ready(w.page, r)
    assert w.page.eval_on_selector_all("[data-graphviz]", "els => els.length") == 0
    count = [w.page.eval_on_selector_all(f"{r} g[data-id]", "els => els.length") for r in roots]
    n = layouts(w.page, roots[0])
    w.page.click(f'{roots[0]} g[data-module="2"]')
    ready(w.page, roots[0], after=n)
    assert w.page.eval_on_selector_all(f"{roots[0]} g[data-id]", "els => els.length") > count[0]
    assert w.page.eval_on_selector_all(f"{roots[1]} g[data-id]", "els => els.length") == count[1]
    assert layouts(w.page, roots[1]) == 1  # each set up once
    assert w.errors == [] and local_requests(w) == []
    w.page.close()


def test_an_output_whose_page_has_no_graphviz_keeps_its_picture_and_says_so(browser, tmp_path):
    from graphviz_ad.explore.notebook import SESSION
    from tests.frontends.test_notebook import _host_page

    t = _net_trace()
    SESSION.reset()
    t._repr_mimebundle_()  # the session's first output, not on this page (cleared, or run before a reload)
    path = _host_page(tmp_path, [t.explore(depth=1)._repr_mimebundle_()["text/html"]])
    w = Watched(browser)
    w.page.goto(path.as_uri() + "#jupyterlab")
    root = w.page.eval_on_selector(".gad-explorer", "e => '#' + e.id")
    w.page.wait_for_selector(f"{root}[data-graphviz='waiting']")
    status = w.page.text_content(f"{root} .gad-x-status")
    assert status.startswith("waiting for Graphviz, the layout engine") and "restart the kernel" in status
    assert w.page.get_attribute(root, "data-state") == "busy"
    picture = w.page.eval_on_selector(f"{root} img.gad-x-static", "e => [e.complete, e.naturalWidth, "
                                      "e.getBoundingClientRect().width]")
    assert picture[0] and picture[1] > 0 and picture[2] > 0  # the static picture, drawn
    assert w.errors == [] and local_requests(w) == []
    w.page.close()
