"""Notebook display: a Trace's rich output, ``show()``, ``GraphView`` and the ``%%autograd`` cell magic.

In Jupyter (JupyterLab, Notebook, VS Code) a :class:`~graphviz_ad.Trace`, an explorer and a
:class:`~graphviz_ad.stepper.stepper.Stepper` display themselves when they end a cell. A trace shows
its explorer (``t.explore()``, :mod:`graphviz_ad.explore.notebook`), in three forms; the front end
shows the richest it can:

- ``text/html``: the explorer (expand and collapse modules in place, search, details, the backward
  pass at any level). Graphviz (WebAssembly) travels in the kernel session's first explorer output
  only; later ones share it on the page, so ten explorers do not make ten copies. Where scripts do
  not run (an untrusted notebook in JupyterLab, whose sanitizer also strips inline SVG and
  ``<style>``; a static viewer) the static picture of the view it opens on remains, as an ``<img>``,
  with one line saying how to make it live.
- ``image/svg+xml``: that picture, Graphviz's SVG, for front ends that do not render HTML.
- ``text/plain``: the trace's summary; where Graphviz's ``dot`` is missing, with a one-line
  hint how to install it (no exception in the notebook; the explorer itself needs no ``dot``).

``GraphView(t, **options)`` shows the static graph instead (:mod:`graphviz_ad.render.display`): the
SVG scaled to the cell's width, with zoom (the − + Fit buttons, Ctrl/⌘ + wheel or a pinch), pan
(drag) and node tooltips carrying every digit; ``%%autograd`` shows one. (The stepper's display is
:mod:`graphviz_ad.stepper`; this module holds what a notebook user calls: ``show``, ``GraphView``
and the cell magic.)

Nothing is fetched from the network, and several graphs, explorers and steppers on one page do not
interfere: each script finds its own root (``document.currentScript``, else every root not yet
set up). IPython is imported only by the magic, never by ``import graphviz_ad``.

Convenience::

    gad.show(fn, *args, **kwargs)   # trace, backward, and the stepper (it displays itself)
    t.explore(rankdir="LR")         # the explorer with other render options
    GraphView(t, rankdir="LR")      # the static graph, drawn with other render options

The cell magic (``%load_ext graphviz_ad``)::

    %%autograd [--steps] [--theme dark] [--rankdir LR] [--depth N|auto|all] [--grad-color] [--no-backward]
    x = torch.tensor(1.0, requires_grad=True)
    torch.tanh(2 * x)

runs every statement of the cell but the last in the notebook's namespace, as they are, then
traces the last one, an expression, runs its backward where the result needs a gradient (unless
``--no-backward``; ``.grad`` is left as it was) and shows the graph (or, with ``--steps``, the
stepper). Tensors the expression names become the graph's inputs, under those names. The
cell's value is a :class:`GraphView` (or the ``Stepper``); ``.trace`` holds the trace.

Where the last expression is one the CLI's expression parser takes (:mod:`graphviz_ad.recipes.expr`:
numbers, operators, floating tensors and its functions, written ``tanh`` or ``torch.tanh``), it is
traced as the CLI traces it, and the intermediates get the lesson's names, a, b, c, ..., the
result ``f``: ``torch.tanh(torch.log(1 + z*(2*x/torch.sin(y))))`` draws as ``graphviz-ad render``
draws it. Any other Python (a call of your own function or module, a method, a non-tensor
variable, Python's own ``sum``) is run as it is, and its ops are named from its source, as today.
"""

from __future__ import annotations

import argparse
import ast
import shlex
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..api import Trace, trace, trace_call
from ..errors import GraphvizADError
from ..recipes.expr import FUNCTIONS, trace_expression
from ..render.display import graph_bundle
from ..render.options import RenderOptions

if TYPE_CHECKING:
    from ..stepper.stepper import Stepper

__all__ = ["GraphView", "show", "autograd_cell", "register_magic"]

class GraphView:
    """A trace's static graph drawn with chosen render options; it displays itself in a notebook
    (zoom, pan, tooltips), where the trace itself shows its explorer.

    ``GraphView(t, rankdir="LR", grad_color=True)``; options as :class:`RenderOptions`.
    """

    def __init__(self, trace: Trace, options: RenderOptions | None = None, **kw: Any) -> None:
        self.trace = trace
        self.options = RenderOptions.make(options, **kw)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        t, options = self.trace, self.options
        return graph_bundle(lambda: t.to_svg(options), repr(t), include=include, exclude=exclude)

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
    p.add_argument("--show-all", action="store_true",
                   help="draw installed libraries' frames, mask and position plumbing and no-op casts as recorded")
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


def _as_expression(expr: ast.expr, names: list[str], ns: dict[str, Any]) -> str | None:
    """The cell's last expression as the expression parser writes it (``tanh(x * y)``), or ``None``
    where it is Python the parser does not take, or means something else there.

    Accepted: numbers, the operators, tensors of a floating dtype from the namespace, and calls of
    functions that are the parser's very ones (``torch.tanh``, ``F.gelu``, ``tanh`` imported from
    torch: written bare); not Python's own ``sum``, ``abs`` or ``pow``, other names, or ``pi``/``e``
    where they are not tensors."""
    tensors = set(names)
    if any(not ns[n].is_floating_point() for n in names):
        return None

    def function(node: ast.expr) -> str | None:  # the parser's name of the function called, if it is one
        path: list[str] = []
        while isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in tensors or node.id not in ns:
            return None
        obj = ns[node.id]
        for attr in reversed(path):
            obj = getattr(obj, attr, None)
        name = path[0] if path else node.id
        return name if name in FUNCTIONS and obj is FUNCTIONS[name] and name not in tensors else None

    class Bare(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            name = function(node.func)
            if name is None:
                raise ValueError("not a function of the expression parser")
            return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=node.args, keywords=node.keywords)

    try:
        tree = Bare().visit(ast.parse(ast.unparse(expr), mode="eval"))
    except (ValueError, RecursionError):
        return None
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    if any(isinstance(n, ast.Name) and id(n) not in calls and n.id not in tensors for n in ast.walk(tree)):
        return None  # a name that is no tensor (a Python number, pi): the parser would read it otherwise
    return ast.unparse(tree)


def _trace_as_expression(expr: ast.expr, names: list[str], ns: dict[str, Any]) -> Trace | None:
    """The CLI's tracing, with its a, b, c names, where the expression parser takes the expression."""
    text = _as_expression(expr, names, ns) if names else None
    if text is None:
        return None
    try:
        return trace_expression(text, {n: ns[n] for n in names}, output_name="f" if "f" not in names else "out")
    except GraphvizADError:  # refused, or PyTorch failed: the user's own code runs, and says so itself
        return None


def _output_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id
    return None


def autograd_cell(shell: Any, line: str, cell: str) -> "GraphView | Stepper":
    """The ``%%autograd`` magic: run the cell, trace its last expression, return what to display."""
    from IPython.core.error import UsageError

    try:
        opts = _parser().parse_args(shlex.split(line))
        options = RenderOptions(theme=opts.theme, rankdir=opts.rankdir, depth=opts.depth, grad_color=opts.grad_color,
                                show_all=opts.show_all)
        source = shell.transform_cell(cell)
        filename = shell.compile.cache(source, shell.execution_count)  # tracebacks show the cell's lines
        body, expr = _split_cell(source, filename)
    except ValueError as e:  # bad options, or no expression at the end (a SyntaxError shows as usual)
        raise UsageError(str(e)) from None
    ns = shell.user_ns
    if body:
        exec(compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), ns)  # the user's own statements
    names = _tensor_names(expr, ns)
    try:
        t = _trace_as_expression(expr, names, ns)
        if t is None:
            fn = _as_function(expr, names, filename, ns)
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
