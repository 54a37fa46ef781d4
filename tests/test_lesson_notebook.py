"""examples/lesson.ipynb: committed clean, executed in a real ipykernel, exported to HTML with nbconvert and
stepped through in headless Chromium, every number checked against torch."""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.render.format import fmt_number
from tests.browser_support import Watched, check_panel, fmt
from tests.helpers import f, leaves, needs_dot, neuron_loss

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "examples" / "lesson.ipynb"

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

# nbconvert's lab template loads require.js and MathJax from a CDN; this one leaves them out (the
# markdown's $...$ stays as text), so the exported page must not make a single request.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _read(path: Path) -> Any:
    nbformat = pytest.importorskip("nbformat", reason="the notebook tests need: pip install nbformat")
    return nbformat.read(str(path), as_version=4)


def test_lesson_is_committed_without_outputs() -> None:
    nbformat = pytest.importorskip("nbformat", reason="the notebook tests need: pip install nbformat")
    nb = _read(LESSON)
    nbformat.validate(nb)
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        assert re.fullmatch(r"[a-z0-9-]+", cell.id), cell.id  # readable, fixed ids (not random ones)
        assert cell.metadata == {}
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert nbformat.writes(nb) + "\n" == LESSON.read_text(encoding="utf-8")  # nbformat's own layout


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The lesson run top to bottom in a fresh ipykernel of this interpreter, in a temporary folder."""
    nbclient = pytest.importorskip("nbclient", reason="the notebook tests need: pip install nbclient")
    pytest.importorskip("ipykernel", reason="the notebook tests need: pip install ipykernel")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    work = tmp_path_factory.mktemp("lesson")
    shutil.copy(LESSON, work / "lesson.ipynb")
    # a kernel spec named python3 for this interpreter, found first on JUPYTER_PATH: whatever
    # python3 spec the machine has (or lacks), the kernel runs this Python with this checkout
    spec = work / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(ROOT)}}), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(work / "jupyter"))
    mp.setenv("IPYTHONDIR", str(work / "ipython"))  # no user profile or startup files
    mp.setenv("JUPYTER_RUNTIME_DIR", str(work / "runtime"))  # the connection file too stays here
    mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        nb = _read(work / "lesson.ipynb")
        nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                resources={"metadata": {"path": str(work)}}).execute()
    finally:
        mp.undo()
    return nb, work


def _cell(nb: Any, cid: str) -> Any:
    return next(c for c in nb.cells if c.id == cid)


def _stream(nb: Any, cid: str) -> str:
    return "".join(o.text for o in _cell(nb, cid).outputs if o.output_type == "stream")


def _rich(nb: Any, cid: str) -> list[dict[str, Any]]:
    return [o.data for o in _cell(nb, cid).outputs if o.output_type in ("display_data", "execute_result")]


def _graph(data: dict[str, Any]) -> str:
    """The graph's SVG text (entities decoded), checked to be the same graph the HTML carries (a
    GraphView's zoomable graph, or the static picture of a Trace's explorer)."""
    assert set(data) == {"text/html", "image/svg+xml", "text/plain"}
    svg = data["image/svg+xml"]
    m = re.search(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', data["text/html"])
    assert m
    inner = base64.b64decode(m.group(1)).decode("utf-8")
    if 'class="gad-explorer"' in data["text/html"]:
        assert inner == svg[svg.find("<svg"):]
        return html.unescape(svg)
    assert 'class="gad-nbgraph"' in data["text/html"]
    assert re.sub(r'(\sid=")gad-nbgraph-[0-9a-f]{12}-', r"\1", inner) == re.sub(
        r"<!--.*?-->\n?", "", svg[svg.find("<svg"):], flags=re.S)
    return html.unescape(svg)


def _widenet_bias() -> tuple[float, float]:
    """The output bias before and after one SGD step of the lesson's WideNet, from torch alone."""
    torch.manual_seed(2021)
    inputs = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    targets = torch.sin(math.pi * inputs) + torch.randn(32, 1) / 4
    torch.manual_seed(2021)
    model = nn.Sequential(nn.Linear(1, 512), nn.Tanh(), nn.Linear(512, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    old = model[2].bias.item()
    opt.zero_grad()
    nn.MSELoss()(model(inputs), targets).backward()
    opt.step()
    return old, model[2].bias.item()


def test_lesson_runs_and_shows_autograds_numbers(executed) -> None:
    nb, _ = executed
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    ref = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()

    (nested,) = _rich(nb, "nested-graph")
    svg = _graph(nested)
    assert fmt(ref.node("f").value) == "0.96595" and "0.96595" in svg
    assert fmt(ref.node("x").grad) == "0.058131" and "∇ 0.058131" in svg
    m = re.search(r"df/dx = (\S+)", _stream(nb, "nested-table"))
    assert m and float(m.group(1)) == pytest.approx(0.058130822, rel=1e-6)  # float32 on any CPU

    (steps,) = _rich(nb, "nested-steps")
    assert set(steps) == {"text/html", "text/plain"} and 'class="gad-stepper' in steps["text/html"]
    assert steps["text/html"] == ref.stepper()._repr_mimebundle_()["text/html"]  # the same bytes as here

    slip = _stream(nb, "slip")
    d = ref.node("d").value.scalar()
    log_local = next(s for s in ref.steps if s.grad_fn == "LogBackward0").local[0].value.scalar()
    assert log_local == pytest.approx(1 / d)
    assert f"autograd's local derivative of ln at d: {log_local:.6g}" in slip
    assert f"1/(d+1) = {1 / (d + 1):.6g}" in slip and "= 1/d = 0.1316 " in slip

    x, w, b, y_true = torch.tensor(1.0), *leaves(-0.5, 0.5), torch.tensor(7.0)
    grads = torch.autograd.grad(neuron_loss(x, w, b, y_true), (w, b))
    assert [fmt_number(g.item()) for g in grads] == ["-14", "-14"]
    (neuron,) = _rich(nb, "neuron-magic")
    assert "∇ -14" in _graph(neuron) and "49" in _graph(neuron)
    assert "dloss/dw: autograd -14, by hand -14" in _stream(nb, "neuron-hand")
    (neuron_steps,) = _rich(nb, "neuron-show")
    assert 'class="gad-stepper' in neuron_steps["text/html"]

    (widenet,) = _rich(nb, "widenet-iteration")
    assert "0.weight" in _graph(widenet)
    old, new = _widenet_bias()
    update = _stream(nb, "widenet-update")
    assert f"old - lr * grad = {old:.6g} - 0.003 * " in update and f"the optimizer wrote {new:.6g}" in update
    assert all(name in update for name in ("0.weight", "0.bias", "2.weight", "2.bias"))

    exploding, vanishing = _rich(nb, "depth")
    assert fmt_number(2.0**49) == "5.6295e+14" and "∇ 5.6295e+14" in _graph(exploding)
    assert fmt_number(0.5**49) == "1.7764e-15" and "∇ 1.7764e-15" in _graph(vanishing)
    depth = _stream(nb, "depth")
    assert f"d prediction / d w1 = {2.0**49:.8g}" in depth and f"d prediction / d w1 = {0.5**49:.8g}" in depth


@pytest.mark.browser
@needs_dot
def test_exported_lesson_steps_in_chromium(executed, browser, tmp_path) -> None:
    jinja2 = pytest.importorskip("jinja2")
    exporters = pytest.importorskip("nbconvert.exporters", reason="the export test needs: pip install nbconvert")
    nb, _ = executed
    exporter = exporters.HTMLExporter(extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                                      template_file="offline.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    assert "jp-Notebook" in body and "cdnjs" not in body
    path = tmp_path / "lesson.html"
    path.write_text(body, encoding="utf-8")

    watched = Watched(browser)
    try:
        url = watched.open(path)
        page = watched.page
        # the graphs of the %%autograd magic and GraphView (3); the traces ending a cell show explorers (2)
        assert page.eval_on_selector_all(".gad-nbgraph[data-gad-ready='1'] svg.gad-nbgraph-img",
                                         "els => els.length") == 3
        page.wait_for_function("() => document.querySelectorAll('.gad-explorer[data-state=\"ready\"]').length === 2",
                               timeout=30000)
        roots = page.eval_on_selector_all(".gad-stepper[data-gad-ready='1']", "els => els.map(e => e.id)")
        assert len(roots) == 2
        ref = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
        root, other, last = f"#{roots[0]}", f"#{roots[1]}", len(ref.steps) + 1
        check_panel(page, root, 0, ref)
        page.keyboard.press("ArrowRight")  # nothing focused: the page's first stepper answers
        check_panel(page, root, 1, ref)
        for k in range(2, 6):
            page.click(f"{root} .gad-next")
            check_panel(page, root, k, ref)
        page.click(f"{root} .gad-prev")
        check_panel(page, root, 4, ref)
        page.keyboard.press("ArrowRight")  # focus is on the Prev button, inside the stepper
        check_panel(page, root, 5, ref)
        page.keyboard.press("ArrowLeft")
        check_panel(page, root, 4, ref)
        for k in (7, last, 2):
            page.fill(f"{root} .gad-slider", str(k))
            check_panel(page, root, k, ref)
        page.keyboard.press("End")  # the slider has focus: its own keys move it
        check_panel(page, root, last, ref)
        assert page.get_attribute(other, "data-step") == "0"  # the neuron's stepper did not move
        page.click(f"{other} .gad-next")
        assert page.get_attribute(other, "data-step") == "1"
        assert page.get_attribute(root, "data-step") == str(last)

        chain = page.eval_on_selector_all(".gad-nbgraph", "els => els.map(e => e.id)")[-1]
        page.click(f"#{chain} .gad-zoom-in")
        assert page.get_attribute(f"#{chain}", "data-gad-zoom") == "1.5"
        ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
        assert len(ids) == len(set(ids))
        assert watched.errors == []
        assert [r for r in watched.requests if not r.startswith("blob:")] == [url]  # blob: the explorers' workers
    finally:
        watched.page.close()
