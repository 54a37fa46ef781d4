"""Notebook display: the Trace's mime bundle, show(), the %%autograd magic, and both displays inside
simulated Jupyter output areas (JupyterLab, VS Code, classic Notebook) in headless Chromium."""

from __future__ import annotations

import base64
import builtins
import html
import inspect
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import graphviz_ad as gad
from graphviz_ad.frontends.notebook import GraphView
from graphviz_ad.render.display import graph_html
from tests.browser_support import check_panel
from tests.helpers import f, leaves, needs_dot

__all__: list[str] = []

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

DATA_URL = re.compile(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')


def _nested() -> gad.Trace:
    return gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()


def _embedded_svg(fragment: str) -> str:
    m = DATA_URL.search(fragment)
    assert m, "the HTML carries the graph as a data: URL"
    return base64.b64decode(m.group(1)).decode("utf-8")


# -- the bundle ---------------------------------------------------------------------------------

def test_importing_graphviz_ad_does_not_import_ipython() -> None:
    code = ("import sys, graphviz_ad, graphviz_ad.frontends.notebook as nb; "
            "nb.GraphView; print('IPython' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@needs_dot
def test_a_trace_shows_its_explorer_and_graph_view_the_static_graph() -> None:
    t = _nested()
    shown = t._repr_mimebundle_()
    assert list(shown) == ["text/html", "image/svg+xml", "text/plain"]
    assert shown["text/html"].startswith('<div class="gad-explorer"') and shown["image/svg+xml"] == t.to_svg()
    assert shown["text/plain"] == repr(t)
    assert GraphView(t, rankdir="LR")._repr_mimebundle_()["image/svg+xml"] == t.to_svg(rankdir="LR")


@needs_dot
def test_graph_view_bundle_offers_html_svg_and_text() -> None:
    t = _nested()
    bundle = GraphView(t)._repr_mimebundle_()
    assert list(bundle) == ["text/html", "image/svg+xml", "text/plain"]
    svg = bundle["image/svg+xml"]
    assert svg == t.to_svg()
    assert bundle["text/plain"] == repr(t)
    labels = html.unescape(svg)
    assert "0.96595" in labels and "∇ 0.058131" in labels
    frag = bundle["text/html"]
    root = re.match(r'<div class="gad-nbgraph" id="(gad-nbgraph-[0-9a-f]{12})" data-lm-suppress-shortcuts="true">',
                    frag)
    assert root
    inner = _embedded_svg(frag)
    assert inner.startswith("<svg") and "<!--" not in inner and "<?xml" not in inner
    ids = re.findall(r'\sid="([^"]*)"', inner)
    assert ids and all(i.startswith(root.group(1) + "-") for i in ids)
    unprefixed = re.sub(r'(\sid=")gad-nbgraph-[0-9a-f]{12}-', r"\1", inner)
    assert unprefixed == re.sub(r"<!--.*?-->\n?", "", svg[svg.find("<svg"):], flags=re.S)
    assert frag.count("<script>") == 1 and "max-width:100%" in frag
    assert not re.search(r'(?:src|href)="(?!data:)', frag)  # nothing to fetch
    assert GraphView(t)._repr_mimebundle_() == bundle  # the same trace, the same bytes
    other = GraphView(gad.trace(f, *leaves(1.0, 2.0, 4.0)).backward())._repr_mimebundle_()["text/html"]
    assert re.match(r'<div class="gad-nbgraph" id="([^"]+)"', other).group(1) != root.group(1)


@needs_dot
def test_include_and_exclude() -> None:
    t = _nested()
    for shown in (t, GraphView(t)):
        assert list(shown._repr_mimebundle_(include={"image/svg+xml"})) == ["image/svg+xml"]
        assert list(shown._repr_mimebundle_(exclude={"text/html", "image/svg+xml"})) == ["text/plain"]


def test_missing_dot_gives_the_summary_and_a_hint(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", str(tmp_path / "no-such-dot"))
    t = _nested()
    bundle = GraphView(t)._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    summary, hint = bundle["text/plain"].split("\n")
    assert summary == repr(t)
    assert hint.startswith("(graph not drawn: Graphviz's") and "Install Graphviz" in hint
    assert GraphView(t)._repr_mimebundle_(include={"text/plain"}) == {"text/plain": repr(t)}  # dot not even tried
    step_bundle = t.stepper()._repr_mimebundle_()
    assert list(step_bundle) == ["text/plain"] and "x.grad = 0.058131" in step_bundle["text/plain"]
    ipython = pytest.importorskip("IPython.core.formatters")
    data, _ = ipython.DisplayFormatter().format(t)  # what the notebook calls: no exception
    assert list(data) == ["text/html", "text/plain"]  # the explorer lays out in the page: it needs no dot
    assert data["text/plain"].startswith(repr(t) + "\n(no static picture: Graphviz's")


@needs_dot
def test_graph_view_draws_with_its_options() -> None:
    t = _nested()
    view = GraphView(t, rankdir="LR", theme="dark")
    bundle = view._repr_mimebundle_()
    assert bundle["image/svg+xml"] == t.to_svg(rankdir="LR", theme="dark") != t.to_svg()
    assert repr(view) == repr(t) and view.trace is t
    with pytest.raises(ValueError, match="rankdir"):
        GraphView(t, rankdir="diagonal")


@needs_dot
def test_show_traces_runs_the_backward_and_returns_the_stepper() -> None:
    x, y, z = leaves(1.0, 2.0, 3.0)
    s = gad.show(f, x, y, z)
    assert type(s).__name__ == "Stepper"
    assert len(s) == len(s.steps) + 2 == 12
    assert "x.grad = 0.058131" in s.text()
    assert x.grad is None  # the leaves' .grad is left as it was
    assert 'class="gad-stepper' in s._repr_mimebundle_()["text/html"]


def test_html_degrades_to_the_image_under_a_sanitizer() -> None:
    """JupyterLab sanitizes untrusted output (no script, style or SVG tags): the <img> of the graph is what stays."""
    bleach = pytest.importorskip("bleach")
    frag = graph_html('<svg width="8pt" height="8pt" viewBox="0 0 8 8"><g id="a"><text>x</text></g></svg>', "t")
    clean = bleach.clean(frag, tags={"div", "img", "span", "button"}, strip=True,
                         attributes={"*": ["class", "id"], "img": ["src", "alt"]}, protocols={"data", "http", "https"})
    assert "<script" not in clean and "<svg" not in clean and "<style" not in clean
    assert _embedded_svg(clean).startswith("<svg")


# -- the magic ---------------------------------------------------------------------------------

@pytest.fixture
def shell(tmp_path):
    """A real IPython shell with the extension loaded; what it changes in this process is put back after."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    from traitlets.config import Config

    main, names, filters = sys.modules["__main__"], set(vars(builtins)), list(warnings.filters)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # no history database outside tmp_path
    sh = interactiveshell.InteractiveShell.instance(config=config, ipython_dir=str(tmp_path / "ipython"))
    try:
        sh.run_cell("%load_ext graphviz_ad", store_history=False)
        sh.run_cell("import torch", store_history=False)
        yield sh
    finally:  # the shell installs its own __main__, builtins and warning filters
        interactiveshell.InteractiveShell.clear_instance()
        sys.modules["__main__"] = main
        for name in set(vars(builtins)) - names:
            delattr(builtins, name)
        warnings.filters[:] = filters


NESTED_CELL = inspect.getsource(f) + '''\
x, y, z = (torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))
f(x, y, z)
'''


def _run(sh, line: str, cell: str):
    return sh.run_cell(f"%%autograd {line}\n{cell}", store_history=False)


def test_the_extension_registers_the_cell_magic(shell) -> None:
    assert "autograd" in shell.magics_manager.magics["cell"]
    assert "--steps" in shell.magics_manager.magics["cell"]["autograd"].__doc__


@needs_dot
def test_magic_draws_the_last_expression(shell) -> None:
    r = _run(shell, "--rankdir lr --theme dark --depth all", NESTED_CELL)
    assert r.success, r.error_in_exec
    view = r.result
    assert isinstance(view, GraphView)
    assert (view.options.rankdir, view.options.theme, view.options.depth) == ("LR", "dark", None)
    t = view.trace
    assert [n.label for n in t.nodes if n.kind != "const"] == ["x", "y", "z", "a", "b", "c", "mul", "d", "e", "f"]
    ref = _nested()
    assert [(s.grad_fn, fmt_num(s.upstream)) for s in t.steps] == [(s.grad_fn, fmt_num(s.upstream)) for s in ref.steps]
    assert t.node("x").grad.scalar() == pytest.approx(0.058130868, rel=1e-6)
    assert shell.user_ns["x"].grad is None  # the statements ran in the namespace; .grad untouched
    data, _ = shell.display_formatter.format(view)
    assert {"text/html", "image/svg+xml", "text/plain"} <= set(data)


def fmt_num(v) -> str:
    return f"{v.scalar():.5g}" if v is not None else "-"


@needs_dot
def test_magic_steps(shell) -> None:
    r = _run(shell, "--steps", NESTED_CELL)
    assert r.success, r.error_in_exec
    assert r.result.text() == _nested().stepper().text()


LESSON = "tanh(log(1 + z*(2*x/sin(y))))"


@pytest.mark.parametrize("spelling", [
    "torch.tanh(torch.log(1 + z*(2*x/torch.sin(y))))",
    "from torch import tanh, log, sin\n" + LESSON,
])
def test_magic_names_intermediates_like_the_cli(shell, spelling) -> None:
    from graphviz_ad.recipes.expr import trace_expression

    cell = "x, y, z = (torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))\n" + spelling
    r = _run(shell, "", cell)
    assert r.success, r.error_in_exec
    t = r.result.trace
    # the CLI's trace of the same text (as ast.unparse writes it), inputs in order of appearance
    cli = trace_expression("tanh(log(1 + z * (2 * x / sin(y))))", {n: shell.user_ns[n] for n in "zxy"}).backward()
    assert [n.label for n in t.nodes] == [n.label for n in cli.nodes]
    assert [n.label for n in t.nodes if n.kind == "op"][:3] == ["a", "b", "c"]
    assert t.to_dot() == cli.to_dot()
    assert t.node("x").grad.scalar() == pytest.approx(0.058130868, rel=1e-6)
    assert shell.user_ns["x"].grad is None


@pytest.mark.parametrize("cell", [
    "k = 2.0\nx = torch.tensor(1.0, requires_grad=True)\ntorch.tanh(k * x)",  # a Python number by name
    "x = torch.tensor([1.0, 2.0], requires_grad=True)\nsum(x * x)",  # Python's sum, not torch.sum
    "x = torch.tensor(1.0, requires_grad=True)\n(x * 2).exp()",  # a method
])
def test_magic_keeps_python_naming_where_the_parser_would_read_it_otherwise(shell, cell) -> None:
    r = _run(shell, "", cell)
    assert r.success, r.error_in_exec
    ops = [n.label for n in r.result.trace.nodes if n.kind == "op"]
    assert ops and "a" not in ops


def test_magic_without_backward_and_with_constants(shell) -> None:
    r = _run(shell, "--no-backward", "w = torch.tensor([1.0, -2.0], requires_grad=True)\nk = 3.0\n(w * k).sum()")
    assert r.success, r.error_in_exec
    assert r.result.trace.steps == [] and r.result.trace.node("w").kind == "input"
    r = _run(shell, "", "torch.tensor(2.0) * 3")  # nothing needs a gradient: drawn, no backward
    assert r.success and r.result.trace.steps == []


@pytest.mark.parametrize("line, cell, message", [
    ("--bogus", "1 + 1", "unrecognized arguments: --bogus"),
    ("--depth deep", "1 + 1", "depth must be a whole number"),
    ("", "w = torch.ones(1, requires_grad=True)\nv = w * 2", "last expression"),
    ("--steps", "torch.tensor(2.0) * 3", "--steps walks the backward pass"),
    ("", "[1, 2]", "not a tensor"),
])
def test_magic_usage_errors(shell, line, cell, message) -> None:
    from IPython.core.error import UsageError

    r = _run(shell, line, cell)
    assert isinstance(r.error_in_exec, UsageError)
    assert message in str(r.error_in_exec)


def test_magic_lets_the_users_own_errors_through(shell) -> None:
    r = _run(shell, "", "undefined_name * 2")
    assert isinstance(r.error_in_exec, NameError)


# -- in simulated Jupyter output areas, in Chromium ---------------------------------------------

# How each front end puts a text/html output into the page and runs its scripts:
# JupyterLab (rendermime's renderHTML): innerHTML into a host, each <script> replaced by a clone in
#   place (run at once, or when the host is attached); VS Code (notebook-renderers' domEval): a new script
#   appended to the output's container and removed at once; classic Notebook (jQuery .html()): the
#   script's text evaluated in a script appended to <head>.
HOST = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>outputs</title></head><body>
<div id="cells"></div>
<script>
(function () {
  var mode = location.hash.slice(1), outputs = JSON.parse(document.getElementById("outputs").textContent);
  function runnable(s) { var t = (s.getAttribute("type") || "").toLowerCase(); return !t || t === "text/javascript"; }
  outputs.forEach(function (src) {
    var area = document.createElement("div");
    area.className = "output-area";
    document.getElementById("cells").appendChild(area);
    var host = document.createElement("div");
    host.innerHTML = src;
    if (mode === "jupyterlab" || mode === "jupyterlab-attached") {
      if (mode === "jupyterlab-attached") { area.appendChild(host); }
      Array.from(host.getElementsByTagName("script")).forEach(function (s) {
        var c = document.createElement("script");
        Array.from(s.attributes).forEach(function (a) { c.setAttribute(a.name, a.value); });
        c.textContent = s.textContent;
        s.parentNode.replaceChild(c, s);
      });
      area.appendChild(host);  // a no-op when attached already
    } else if (mode === "vscode") {
      area.appendChild(host);
      Array.from(host.getElementsByTagName("script")).forEach(function (s) {
        var c = document.createElement("script");
        c.text = s.innerText;
        if (s.getAttribute("type")) { c.setAttribute("type", s.getAttribute("type")); }
        host.appendChild(c).parentNode.removeChild(c);
      });
    } else {
      area.appendChild(host);
      Array.from(host.getElementsByTagName("script")).filter(runnable).forEach(function (s) {
        var c = document.createElement("script");
        c.text = s.textContent;
        document.head.appendChild(c).parentNode.removeChild(c);
      });
    }
  });
})();
</script></body></html>
"""


def _host_page(tmp_path: Path, outputs: list[str]) -> Path:
    data = json.dumps(outputs).replace("<", "\\u003c")
    page = HOST.replace('<div id="cells"></div>',
                        f'<div id="cells"></div>\n<script type="application/json" id="outputs">{data}</script>')
    path = tmp_path / "host.html"
    path.write_text(page, encoding="utf-8")
    return path


@pytest.mark.browser
@needs_dot
@pytest.mark.parametrize("mode", ["jupyterlab", "jupyterlab-attached", "vscode", "classic"])
def test_graphs_and_steppers_in_output_areas(watched, tmp_path, mode) -> None:
    a, b = _nested(), gad.trace(f, *leaves(1.0, 2.0, 4.0)).backward()
    outputs = [GraphView(a)._repr_mimebundle_()["text/html"], a.stepper()._repr_mimebundle_()["text/html"],
               GraphView(b)._repr_mimebundle_()["text/html"], b.stepper()._repr_mimebundle_()["text/html"]]
    path = _host_page(tmp_path, outputs)
    url = path.as_uri() + "#" + mode
    watched.page.goto(url)
    page = watched.page
    graphs = page.eval_on_selector_all(".gad-nbgraph", "els => els.map(e => [e.id, e.getAttribute('data-gad-ready'), "
                                       "e.querySelector('.gad-nbgraph-img').localName])")
    assert [g[1:] for g in graphs] == [["1", "svg"], ["1", "svg"]]  # each graph inlined, once
    steppers = page.eval_on_selector_all(".gad-stepper", "els => els.map(e => e.id)")
    assert len(steppers) == 2 and len(set(steppers)) == 2
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))  # graphs and steppers share no id

    first, second = f"#{steppers[0]}", f"#{steppers[1]}"
    page.click(f"{second} .gad-next")
    page.click(f"{second} .gad-next")
    check_panel(page, second, 2, b)
    check_panel(page, first, 0, a)
    page.click(f"{first} .gad-next")
    check_panel(page, first, 1, a)
    page.keyboard.press("ArrowRight")  # focus is on the first stepper's button
    check_panel(page, first, 2, a)
    check_panel(page, second, 2, b)

    g1, g2 = f"#{graphs[0][0]}", f"#{graphs[1][0]}"
    page.click(f"{g2} .gad-zoom-in")
    assert page.get_attribute(g2, "data-gad-zoom") == "1.5"
    assert page.get_attribute(g1, "data-gad-zoom") == "1"
    assert watched.errors == []
    assert watched.requests == [path.as_uri()]  # the page itself, nothing else


@pytest.mark.browser
@needs_dot
def test_zoom_and_pan(watched, tmp_path) -> None:
    t = _nested()
    path = _host_page(tmp_path, [GraphView(t)._repr_mimebundle_()["text/html"]])
    watched.page.goto(path.as_uri() + "#jupyterlab")
    page, root = watched.page, ".gad-nbgraph"
    svg = f"{root} svg.gad-nbgraph-img"
    fit = page.eval_on_selector(svg, "e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height]")
    natural = float(page.get_attribute(svg, "width").removesuffix("pt")) * 4 / 3  # the SVG's width, in px
    assert fit[0] == pytest.approx(natural, abs=1)

    def state() -> tuple[float, str]:
        return float(page.get_attribute(root, "data-gad-zoom")), page.eval_on_selector(svg, "e => e.style.transform")

    assert state() == (1.0, "")
    assert page.is_disabled(f"{root} .gad-zoom-out") and page.is_disabled(f"{root} .gad-zoom-fit")
    titles = page.eval_on_selector_all(f"{svg} a", "els => els.map(e => e.getAttribute('xlink:title'))")
    x_grad = f"{t.node('x').grad.scalar():.9g}"  # every digit of this machine's float32 result
    assert f"x (input)\nvalue: 1\ngrad: {x_grad}" in titles  # tooltips with every digit, once inlined
    page.click(f"{root} .gad-zoom-in")
    assert state()[0] == 1.5 and "scale(1.5)" in state()[1]
    box = page.eval_on_selector(f"{root} .gad-nbgraph-view", "e => { const r = e.getBoundingClientRect(); "
                                "return [r.x, r.y, r.width, r.height]; }")
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    page.mouse.move(cx, cy)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)  # Ctrl + wheel (a pinch) zooms in
    page.keyboard.up("Control")
    page.wait_for_timeout(50)
    zoom = state()[0]
    assert zoom > 1.5
    page.mouse.wheel(0, 200)  # a plain wheel scrolls the page, it does not zoom
    page.wait_for_timeout(50)
    assert state()[0] == zoom
    before = page.eval_on_selector(svg, "e => e.getBoundingClientRect().x")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy + 10, steps=4)
    page.mouse.up()
    after = page.eval_on_selector(svg, "e => e.getBoundingClientRect().x")
    assert after == pytest.approx(min(before + 60, box[0]), abs=1)  # dragged right, never past the left edge
    page.dblclick(f"{root} .gad-nbgraph-view")
    assert state() == (1.0, "")
    page.focus(root)
    page.keyboard.press("+")
    assert state()[0] == 1.5
    page.keyboard.press("0")
    assert state()[0] == 1.0
    assert watched.errors == []


@pytest.mark.browser
@needs_dot
def test_fitting_a_narrow_cell_keeps_the_text_readable(browser, tmp_path) -> None:
    """Fit never shrinks the graph below 0.85 of its natural size (text ~10 px): the view scrolls sideways."""
    from tests.browser_support import Watched

    t = _nested()
    path = _host_page(tmp_path, [GraphView(t, rankdir="LR")._repr_mimebundle_()["text/html"]])
    w = Watched(browser, width=320)
    try:
        w.page.goto(path.as_uri() + "#jupyterlab")
        page, root = w.page, ".gad-nbgraph"
        svg, view = f"{root} svg.gad-nbgraph-img", f"{root} .gad-nbgraph-view"
        natural = float(page.get_attribute(svg, "width").removesuffix("pt")) * 4 / 3
        fitted = page.eval_on_selector(svg, "e => e.getBoundingClientRect().width")
        room = page.eval_on_selector(view, "e => e.clientWidth")
        assert room < 0.85 * natural  # the cell is narrower than the floor: a real test of it
        assert fitted == pytest.approx(0.85 * natural, abs=1)
        assert page.eval_on_selector(view, "e => e.scrollWidth > e.clientWidth")  # scrolls sideways
        page.eval_on_selector(view, "e => { e.scrollLeft = 40; }")
        x = page.eval_on_selector(svg, "e => e.getBoundingClientRect().x")
        page.click(f"{root} .gad-zoom-in")  # the scroll becomes the pan: no jump, then zoomed about the centre
        assert page.get_attribute(root, "data-gad-zoom") == "1.5"
        assert page.eval_on_selector(view, "e => e.scrollLeft") == 0
        assert page.eval_on_selector(svg, "e => e.getBoundingClientRect().width") == pytest.approx(fitted * 1.5, rel=0.01)
        assert page.eval_on_selector(svg, "e => e.getBoundingClientRect().x") < x
        page.click(f"{root} .gad-zoom-fit")
        assert page.eval_on_selector(svg, "e => e.getBoundingClientRect().width") == pytest.approx(fitted, abs=0.5)
        assert w.errors == []
    finally:
        w.page.close()
