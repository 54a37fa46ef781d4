"""The explorer as a notebook output: a real kernel (nbclient) displays ``t.explore()``, the notebook's
size is reported, and its nbconvert HTML export runs the explorer in Chromium."""

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
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("t.explore(depth=1)"),
                nbformat.v4.new_code_cell("t.explore(depth=1, theme='dark')")]
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


def test_the_kernel_displays_the_explorer_as_html(executed):
    nb, path = executed
    for cell in nb.cells[1:]:
        (out,) = cell.outputs
        assert out.output_type == "execute_result"
        assert 'class="gad-explorer"' in out.data["text/html"]
        assert out.data["text/plain"].startswith("<graphviz_ad.Explorer")
    print(f"notebook with two explorers: {path.stat().st_size / 1e6:.2f} MB")  # each output carries Graphviz (1.3 MB)


def test_the_nbconvert_export_runs_both_explorers_independently(executed, browser, tmp_path):
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
    assert len(roots) == 2
    for r in roots:
        ready(w.page, r)
    count = [w.page.eval_on_selector_all(f"{r} g[data-id]", "els => els.length") for r in roots]
    n = layouts(w.page, roots[1])
    w.page.click(f'{roots[1]} g[data-module="2"]')
    ready(w.page, roots[1], after=n)
    assert w.page.eval_on_selector_all(f"{roots[1]} g[data-id]", "els => els.length") > count[1]
    assert w.page.eval_on_selector_all(f"{roots[0]} g[data-id]", "els => els.length") == count[0]
    assert w.errors == [] and local_requests(w) == []


@pytest.mark.parametrize("mode", ["jupyterlab", "jupyterlab-attached", "vscode", "classic"])
def test_two_explorers_in_each_front_ends_output_areas(browser, tmp_path, mode):
    """The output areas of tests/frontends/test_notebook.py: how JupyterLab, VS Code and the classic
    Notebook insert a text/html output and run its scripts."""
    import torch
    from torch import nn

    import graphviz_ad as gad
    from tests.frontends.test_notebook import _host_page

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
    t = gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()
    outputs = [t.explore(depth=1)._repr_mimebundle_()["text/html"],
               t.explore(depth=1, theme="dark")._repr_mimebundle_()["text/html"]]
    path = _host_page(tmp_path, outputs)
    w = Watched(browser)
    w.page.goto(path.as_uri() + "#" + mode)
    roots = w.page.eval_on_selector_all(".gad-explorer", "els => els.map(e => '#' + e.id)")
    assert len(roots) == 2
    for r in roots:
        ready(w.page, r)
    count = [w.page.eval_on_selector_all(f"{r} g[data-id]", "els => els.length") for r in roots]
    n = layouts(w.page, roots[0])
    w.page.click(f'{roots[0]} g[data-module="2"]')
    ready(w.page, roots[0], after=n)
    assert w.page.eval_on_selector_all(f"{roots[0]} g[data-id]", "els => els.length") > count[0]
    assert w.page.eval_on_selector_all(f"{roots[1]} g[data-id]", "els => els.length") == count[1]
    assert layouts(w.page, roots[1]) == 1  # each set up once
    assert w.errors == [] and local_requests(w) == []
    w.page.close()
