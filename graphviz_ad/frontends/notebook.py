"""Notebook display: a Trace's rich output, ``show()`` and the ``%%autograd`` cell magic.

In Jupyter (JupyterLab, Notebook, VS Code) a :class:`~graphviz_ad.Trace` and a
:class:`~graphviz_ad.stepper.stepper.Stepper` display themselves when they end a cell. A trace
offers three forms of the graph; the front end shows the richest it can:

- ``text/html``: the SVG scaled to the cell's width, with zoom (the − + Fit buttons,
  Ctrl/⌘ + wheel or a pinch), pan (drag) and node tooltips carrying every digit. The graph
  travels as an ``<img>`` of the SVG (a ``data:`` URL); the small script, scoped to its own
  output, swaps it for the inline SVG and adds the controls. Where scripts do not run (an
  untrusted notebook in JupyterLab, whose sanitizer also strips inline SVG and ``<style>``;
  a static viewer) the ``<img>`` remains: the graph, scaled to the width, without zoom.
- ``image/svg+xml``: Graphviz's SVG, for front ends that do not render HTML.
- ``text/plain``: the trace's summary; where Graphviz's ``dot`` is missing, with a one-line
  hint how to install it (no exception in the notebook).

Nothing is fetched from the network, and several graphs and steppers on one page do not
interfere: each script finds its own root (``document.currentScript``, else every root not yet
set up). IPython is imported only by the magic, never by ``import graphviz_ad``.

Convenience::

    gad.show(fn, *args, **kwargs)   # trace, backward, and the stepper (it displays itself)
    GraphView(t, rankdir="LR")      # a trace drawn with other render options

The cell magic (``%load_ext graphviz_ad``)::

    %%autograd [--steps] [--theme dark] [--rankdir LR] [--depth N|auto|all] [--grad-color] [--no-backward]
    x = torch.tensor(1.0, requires_grad=True)
    torch.tanh(2 * x)

runs every statement of the cell but the last in the notebook's namespace, as they are, then
traces the last one, an expression, runs its backward where the result needs a gradient (unless
``--no-backward``; ``.grad`` is left as it was) and shows the graph (or, with ``--steps``, the
stepper). Tensors the expression names become the graph's inputs, under those names. The
cell's value is a :class:`GraphView` (or the ``Stepper``); ``.trace`` holds the trace.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import html
import re
import shlex
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..api import Trace, trace, trace_call
from ..errors import GraphvizADError, RenderError
from ..render.options import RenderOptions

if TYPE_CHECKING:
    from ..stepper.stepper import Stepper

__all__ = ["trace_bundle", "graph_html", "GraphView", "show", "autograd_cell", "register_magic"]

_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_TAG_ID = re.compile(r'(<[a-zA-Z][^<>]*?\s)id="')

_CSS = """\
.gad-nbgraph{max-width:100%;margin:2px 0;outline:none}
.gad-nbgraph:focus-visible{box-shadow:0 0 0 2px #009E73}
.gad-nbgraph .gad-nbgraph-tools{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:0 0 4px;
  font:12px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
.gad-nbgraph .gad-nbgraph-tools button{font:inherit;min-width:2.4em;padding:1px 8px;color:inherit;
  background:transparent;border:1px solid rgba(128,128,128,.6);border-radius:4px;cursor:pointer}
.gad-nbgraph .gad-nbgraph-tools button:disabled{opacity:.4;cursor:default}
.gad-nbgraph .gad-nbgraph-hint{opacity:.7}
.gad-nbgraph .gad-nbgraph-view{max-width:100%;overflow:hidden}
.gad-nbgraph .gad-nbgraph-img{display:block;max-width:100%;height:auto;transform-origin:0 0}
.gad-nbgraph.gad-zoomed .gad-nbgraph-view{cursor:grab;touch-action:none}
.gad-nbgraph.gad-dragging .gad-nbgraph-view{cursor:grabbing}
.gad-nbgraph svg a{text-decoration:none!important}
"""

_JS = r"""
(function () {
  "use strict";
  var me = document.currentScript, MAX = 40;
  function decode(src) {
    var bin = atob(src.slice(src.indexOf(",") + 1)), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new TextDecoder("utf-8").decode(bytes);
  }
  function inline(img) {  // the same SVG, inline: tooltips, selectable text; the <img> stays on any failure
    try {
      var doc = new DOMParser().parseFromString(decode(img.getAttribute("src")), "image/svg+xml");
      var svg = doc.documentElement;
      if (!svg || svg.localName !== "svg" || doc.getElementsByTagName("parsererror").length) { return img; }
      svg = document.importNode(svg, true);
      svg.setAttribute("class", img.getAttribute("class"));
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", img.getAttribute("alt") || "");
      img.parentNode.replaceChild(svg, img);
      return svg;
    } catch (e) { return img; }
  }
  function button(bar, cls, text, label) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.title = label;
    bar.appendChild(b);
    return b;
  }
  function setup(root) {
    var img = root.querySelector(".gad-nbgraph-img");
    if (!img || root.getAttribute("data-gad-ready") === "1") { return; }
    root.setAttribute("data-gad-ready", "1");
    var view = img.parentNode, el = img.localName === "img" ? inline(img) : img;
    var s = 1, tx = 0, ty = 0, drag = null;
    var bar = document.createElement("div");
    bar.className = "gad-nbgraph-tools";
    var zout = button(bar, "gad-zoom-out", "\u2212", "zoom out");
    var zin = button(bar, "gad-zoom-in", "+", "zoom in");
    var fit = button(bar, "gad-zoom-fit", "Fit", "fit to the width");
    var hint = document.createElement("span");
    hint.className = "gad-nbgraph-hint";
    hint.textContent = "Ctrl/\u2318 + wheel or pinch: zoom \u00b7 drag: pan \u00b7 double-click: fit";
    bar.appendChild(hint);
    root.insertBefore(bar, view);
    root.setAttribute("tabindex", "0");

    function size() {  // the element's box before the transform
      var r = el.getBoundingClientRect();
      return {w: r.width / s, h: r.height / s};
    }
    function apply() {
      var b = size(), vw = view.clientWidth, vh = view.clientHeight;
      tx = Math.min(0, Math.max(Math.min(0, vw - b.w * s), tx));
      ty = Math.min(0, Math.max(Math.min(0, vh - b.h * s), ty));
      el.style.transform = s === 1 ? "" : "translate(" + tx + "px," + ty + "px) scale(" + s + ")";
      if (s > 1) { root.classList.add("gad-zoomed"); } else { root.classList.remove("gad-zoomed"); }
      root.setAttribute("data-gad-zoom", String(Math.round(s * 1000) / 1000));
      zout.disabled = fit.disabled = s <= 1;
      zin.disabled = s >= MAX;
    }
    function zoomAt(f, cx, cy) {
      var ns = Math.max(1, Math.min(MAX, s * f));
      tx = cx - (cx - tx) * ns / s;
      ty = cy - (cy - ty) * ns / s;
      s = ns;
      apply();
    }
    function zoomCentre(f) {
      var b = size();
      zoomAt(f, Math.min(view.clientWidth, b.w * s) / 2, view.clientHeight / 2);
    }
    function reset() { s = 1; tx = 0; ty = 0; apply(); }
    zin.addEventListener("click", function () { zoomCentre(1.5); });
    zout.addEventListener("click", function () { zoomCentre(1 / 1.5); });
    fit.addEventListener("click", reset);
    view.addEventListener("dblclick", reset);
    view.addEventListener("wheel", function (ev) {
      if (!(ev.ctrlKey || ev.metaKey)) { return; }  // a plain wheel scrolls the notebook
      ev.preventDefault();
      var r = view.getBoundingClientRect(), d = ev.deltaY * (ev.deltaMode === 1 ? 33 : 1);
      zoomAt(Math.exp(-Math.max(-300, Math.min(300, d)) * 0.002), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    view.addEventListener("pointerdown", function (ev) {
      if (s <= 1 || ev.button !== 0) { return; }
      ev.preventDefault();
      drag = {x: ev.clientX, y: ev.clientY, tx: tx, ty: ty};
      if (view.setPointerCapture) { view.setPointerCapture(ev.pointerId); }
      root.classList.add("gad-dragging");
    });
    view.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      tx = drag.tx + ev.clientX - drag.x;
      ty = drag.ty + ev.clientY - drag.y;
      apply();
    });
    function end() { drag = null; root.classList.remove("gad-dragging"); }
    view.addEventListener("pointerup", end);
    view.addEventListener("pointercancel", end);
    view.addEventListener("dragstart", function (ev) { ev.preventDefault(); });
    root.addEventListener("keydown", function (ev) {
      if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
      var pan = {ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40]}[ev.key];
      if (ev.key === "+" || ev.key === "=") { zoomCentre(1.5); }
      else if (ev.key === "-" || ev.key === "_") { zoomCentre(1 / 1.5); }
      else if (ev.key === "0") { reset(); }
      else if (pan && s > 1) { tx += pan[0]; ty += pan[1]; apply(); }
      else { return; }
      ev.preventDefault();
    });
    window.addEventListener("resize", apply);
    apply();
  }
  var root = me && me.closest ? me.closest(".gad-nbgraph") : null;
  if (root) { setup(root); } else { Array.prototype.forEach.call(document.querySelectorAll(".gad-nbgraph"), setup); }
})();
"""


def graph_html(svg: str, label: str) -> str:
    """The graph for a notebook's ``text/html``: an ``<img>`` of the SVG (what a sanitizer keeps)
    in a container whose script inlines it and adds zoom and pan. Ids are prefixed with a hash of
    the SVG, so graphs on one page do not clash and the same graph gives the same bytes."""
    prefix = "gad-nbgraph-" + hashlib.sha256(svg.encode("utf-8")).hexdigest()[:12]
    body = _COMMENT.sub("", svg[svg.find("<svg"):])
    body = _TAG_ID.sub(lambda m: f'{m.group(1)}id="{prefix}-', body)
    data = base64.b64encode(body.encode("utf-8")).decode("ascii")
    # data-lm-suppress-shortcuts: JupyterLab (4.1+) leaves the keys to the graph while it has focus
    return (f'<div class="gad-nbgraph" id="{prefix}" data-lm-suppress-shortcuts="true">\n<style>\n{_CSS}</style>\n'
            f'<div class="gad-nbgraph-view"><img class="gad-nbgraph-img" alt="{html.escape(label)}" '
            f'style="max-width:100%;height:auto;display:block" src="data:image/svg+xml;base64,{data}"></div>\n'
            f"<script>{_JS}</script>\n</div>\n")


def trace_bundle(trace: Trace, options: RenderOptions | None = None, *, include: Collection[str] | None = None,
                 exclude: Collection[str] | None = None) -> dict[str, Any]:
    """The trace's notebook display: ``text/html``, ``image/svg+xml`` and ``text/plain``; only
    ``text/plain``, with a one-line hint, where the graph cannot be drawn (no ``dot``)."""
    text = repr(trace)

    def wanted(mime: str) -> bool:
        return (not include or mime in include) and not (exclude and mime in exclude)

    bundle: dict[str, Any] = {}
    if wanted("text/html") or wanted("image/svg+xml"):
        try:
            svg = trace.to_svg(options)
        except RenderError as e:  # dot missing, failed or too slow: the summary and how to fix it
            text += f"\n(graph not drawn: {e})"
        else:
            if wanted("text/html"):
                bundle["text/html"] = graph_html(svg, text)
            if wanted("image/svg+xml"):
                bundle["image/svg+xml"] = svg
    if wanted("text/plain"):
        bundle["text/plain"] = text
    return bundle


class GraphView:
    """A trace drawn with chosen render options; it displays itself in a notebook.

    ``GraphView(t, rankdir="LR", grad_color=True)``; options as :class:`RenderOptions`.
    """

    def __init__(self, trace: Trace, options: RenderOptions | None = None, **kw: Any) -> None:
        self.trace = trace
        self.options = RenderOptions.make(options, **kw)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return trace_bundle(self.trace, self.options, include=include, exclude=exclude)

    def __repr__(self) -> str:
        return repr(self.trace)


def show(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "Stepper":
    """Trace ``fn(*args, **kwargs)``, run the backward, and return the stepper (it displays itself)."""
    return trace(fn, *args, **kwargs).backward().stepper()


# -- the %%autograd cell magic -------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never sys.exit in a kernel
        raise ValueError(f"%%autograd: {message}\n{self.format_usage().strip()}")


def _depth(text: str) -> int | str | None:
    low = text.strip().lower()
    if low in ("all", "none"):
        return None
    if low == "auto":
        return "auto"
    if low.isdigit():
        return int(low)
    raise argparse.ArgumentTypeError(f"depth must be a whole number, 'auto' or 'all', got {text!r}")


def _parser() -> _Parser:
    p = _Parser(prog="%%autograd", add_help=False,
                description="Trace the cell's last expression and draw its graph (or step through its backward).")
    p.add_argument("--steps", action="store_true", help="show the backward stepper instead of the graph")
    p.add_argument("--theme", choices=("light", "dark"), default="light", help="colour theme")
    p.add_argument("--rankdir", type=str.upper, choices=("TB", "LR", "BT", "RL"), default="TB",
                   help="layout direction")
    p.add_argument("--depth", type=_depth, default="auto", help="module nesting drawn: a number, 'auto' or 'all'")
    p.add_argument("--grad-color", action="store_true", help="colour nodes by gradient magnitude (log scale)")
    p.add_argument("--no-backward", action="store_true", help="draw the forward pass only")
    return p


def _split_cell(source: str, filename: str) -> tuple[list[ast.stmt], ast.expr]:
    tree = ast.parse(source, filename=filename)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("%%autograd traces the cell's last expression: end the cell with it "
                         "(e.g. `loss_fn(model(x), y)`, not `loss = ...`)")
    return tree.body[:-1], tree.body[-1].value


def _tensor_names(expr: ast.expr, ns: dict[str, Any]) -> list[str]:
    """Names of tensors the expression reads from the namespace, in the order they appear."""
    names = sorted((n for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)),
                   key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in names if isinstance(ns.get(n.id), torch.Tensor)))


def _as_function(expr: ast.expr, params: list[str], filename: str, ns: dict[str, Any]) -> Callable[..., Any]:
    """``lambda <params>: <expr>`` compiled in the namespace (its globals), with the cell's line numbers."""
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
                         kw_defaults=[], kwarg=None, defaults=[])
    lam = ast.copy_location(ast.Lambda(args=args, body=expr), expr)
    code = compile(ast.fix_missing_locations(ast.Expression(body=lam)), filename, "eval")
    return eval(code, ns)  # the user's own cell, in their own namespace


def _output_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id
    return None


def autograd_cell(shell: Any, line: str, cell: str) -> "GraphView | Stepper":
    """The ``%%autograd`` magic: run the cell, trace its last expression, return what to display."""
    from IPython.core.error import UsageError

    try:
        opts = _parser().parse_args(shlex.split(line))
        options = RenderOptions(theme=opts.theme, rankdir=opts.rankdir, depth=opts.depth, grad_color=opts.grad_color)
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count)  # tracebacks show the cell's lines
        body, expr = _split_cell(source, filename)
    except ValueError as e:  # bad options, or no expression at the end (a SyntaxError shows as usual)
        raise UsageError(str(e)) from None
    ns = shell.user_ns
    if body:
        exec(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), ns)  # the user's own statements
    names = _tensor_names(expr, ns)
    fn = _as_function(expr, names, filename, ns)
    try:
        t = trace_call(fn, tuple(ns[n] for n in names), output_name=_output_name(expr))
        out = t.output
        needs_grad = isinstance(out, torch.Tensor) and out.requires_grad
        if opts.steps and (opts.no_backward or not needs_grad):
            raise UsageError("%%autograd --steps walks the backward pass: the result must require grad "
                             "(an input with requires_grad=True) and --no-backward must be left out")
        if needs_grad and not opts.no_backward:
            t.backward()
        return t.stepper(options) if opts.steps else GraphView(t, options)
    except GraphvizADError as e:
        raise UsageError(str(e)) from None


def register_magic(ipython: Any) -> None:
    """Register ``%%autograd`` with an IPython shell (what ``%load_ext graphviz_ad`` does)."""

    def autograd(line: str, cell: str) -> "GraphView | Stepper":
        return autograd_cell(ipython, line, cell)

    autograd.__doc__ = _parser().format_help()
    ipython.register_magic_function(autograd, magic_kind="cell", magic_name="autograd")
