"""DOT text from the graph model: pure functions, no subprocess, deterministic output."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..gcpause import gc_paused
from ..graph.model import Graph, Node
from ..trace.values import Value
from .collapse import resolve_view
from .format import clean_text, fmt_number, fmt_shape, fmt_value, fmt_value_full
from .gradcolor import LIGHT, colour_bar, grad_fill, magnitude
from .options import RenderOptions
from .quoting import html_text, quote
from .theme import KIND_NAMES, SHAPES, STYLES, Theme, get_theme

__all__ = ["to_dot", "node_label", "has_nonfinite"]


def has_nonfinite(v: Value | None) -> bool:
    if v is None:
        return False
    if v.finite is not None:
        return not v.finite
    if v.stats is not None:
        return any(isinstance(x, float) and not math.isfinite(x) for x in v.stats.values())
    stack = [v.data]
    while stack:
        d = stack.pop()
        if isinstance(d, list):
            stack.extend(d)
        elif isinstance(d, float) and not math.isfinite(d):
            return True
        elif isinstance(d, complex) and not (math.isfinite(d.real) and math.isfinite(d.imag)):
            return True
    return False


def _font(text: str, color: str, size: int | None = None, bold: bool = False) -> str:
    s = f'<FONT COLOR="{color}"' + (f' POINT-SIZE="{size}"' if size else "") + f">{text}</FONT>"
    return f"<B>{s}</B>" if bold else s


def node_label(node: Node, theme: Theme, opts: RenderOptions) -> str:
    """An HTML-like label: name and op, shape/dtype for tensors, value, gradient."""
    rows: list[str] = []
    name = html_text(clean_text(node.label, 48))
    op = node.op if node.kind in ("op", "output") else KIND_NAMES.get(node.kind, node.kind) if node.kind != "param" else node.op
    if node.kind in ("op", "output") and node.args:
        op = f"{op}({clean_text(node.args, 48)})"
    if "collapsed" in node.flags:
        rows.append(f"<B>{name}</B>")
        if node.args:
            rows.append(_font(html_text(node.args), theme.muted, 9))
    elif node.kind == "const" and node.op == "const":
        rows.append(f"<B>{name}</B>")
    elif node.label == node.op:
        rows.append(f"<B>{name}</B>" + (f" {_font(html_text(op[len(node.op):]), theme.muted)}" if op != node.op else ""))
    else:
        rows.append(f"<B>{name}</B> {_font(html_text(op), theme.muted, 10)}")
    v = node.value
    if v is not None and not (node.kind == "const" and node.op == "const"):
        if v.numel != 1 or v.shape:
            meta = f"{fmt_shape(v.shape)} {v.dtype}"
            if v.device not in ("cpu", "python"):
                meta += f" {v.device}"
            rows.append(_font(html_text(meta), theme.muted, 9))
        elif v.device not in ("cpu", "python"):
            rows.append(_font(html_text(v.device), theme.muted, 9))
        text = fmt_value(v, opts.digits)
        if text:
            warn = "⚠ " if has_nonfinite(v) else ""
            for line in text.split("\n"):
                rows.append(html_text(warn + line))
                warn = ""
    if opts.grads and node.grad is not None:
        g = fmt_value(node.grad, opts.digits)
        warn = "⚠ " if has_nonfinite(node.grad) else ""
        lines = g.split("\n")
        rows.append(_font(html_text(f"{warn}∇ {lines[0]}"), theme.grad))
        rows.extend(_font(html_text(line), theme.grad) for line in lines[1:])
    body = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


def _tooltip(node: Node) -> str:
    parts = [f"{node.label} ({node.op})"]
    if node.module:
        parts.append(f"module: {node.module}")
    if node.source:
        parts.append(f"source: {node.source}")
    if node.value is not None:
        parts.append(f"value: {fmt_value_full(node.value)}")
    if node.grad is not None:
        parts.append(f"grad: {fmt_value_full(node.grad)}")
    return clean_text("\n".join(parts), 2000).replace("\\n", "\n")


def _edge_text(v: Value, digits: int) -> str:
    """A number for a scalar gradient, its 2-norm for a tensor."""
    if v.numel == 1:
        return fmt_value(v, digits)
    return f"‖g‖ {fmt_number(magnitude(v), digits)}"


def _legend(theme: Theme, kinds: set[str], grad_color: bool) -> str:
    cells = []
    for kind in ("input", "param", "const", "op", "output", "module"):
        if kind not in kinds:
            continue
        cells.append(f'<TD BGCOLOR="{theme.fill[kind]}" COLOR="{theme.border[kind]}" BORDER="1">'
                     f'{_font(KIND_NAMES[kind], theme.text, 9)}</TD>')
    cells.append(f'<TD BORDER="0">{_font("∇ gradient", theme.grad, 9)}</TD>')
    rows = f'<TR>{"".join(cells)}</TR>'
    if grad_color:
        bar = colour_bar()
        rows += (f'<TR><TD COLSPAN="{len(cells)}" BORDER="0">'
                 f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2"><TR>'
                 f'<TD>{_font("|∇| (log scale):", theme.text, 9)}</TD>{bar}</TR></TABLE></TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="3">{rows}</TABLE>>'


@gc_paused()
def to_dot(graph: Graph, options: RenderOptions | None = None, **kw: Any) -> str:
    """The graph as DOT text. Ids: nodes ``n<k>``, edges ``e<k>``, clusters ``cluster_c<k>``."""
    opts = RenderOptions.make(options, **kw)
    theme = get_theme(opts.theme)
    graph, _ = resolve_view(graph, opts.depth)
    lines: list[str] = [
        "digraph graphviz_ad {",
        f'  graph [rankdir={opts.rankdir}, bgcolor="{theme.background}", fontname="Helvetica", '
        f'fontsize=11, fontcolor="{theme.text}", nodesep=0.25, ranksep=0.35, newrank=true, '
        f'id="gad-graph", class="gad-graph gad-theme-{theme.name}"];',
        f'  node [fontname="Helvetica", fontsize=11, fontcolor="{theme.text}", margin="0.08,0.04", penwidth=1.2];',
        f'  edge [fontname="Helvetica", fontsize=9, color="{theme.edge}", fontcolor="{theme.grad}", arrowsize=0.7];',
    ]
    by_cluster: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        by_cluster.setdefault(n.cluster, []).append(n)
    children: dict[str | None, list[str]] = {}
    cluster_of = {c.id: c for c in graph.clusters}
    for c in graph.clusters:
        children.setdefault(c.parent, []).append(c.id)

    def node_line(n: Node, indent: str) -> str:
        classes = f"gad-node gad-{n.kind}"
        if has_nonfinite(n.value) or (opts.grads and has_nonfinite(n.grad)):
            classes += " gad-nonfinite"
        fill, label_theme = theme.fill[n.kind], theme
        coloured = grad_fill(n.grad) if opts.grad_color and opts.grads else None
        if coloured is not None:
            fill = coloured[0]
            label_theme = replace(theme, text=coloured[1], muted=coloured[1], grad=coloured[1])
        attrs = [
            f'id="{n.id}"', f'class="{classes}"', f"shape={SHAPES[n.kind]}", f'style="{STYLES[n.kind]}"',
            f'fillcolor="{fill}"', f'color="{theme.border[n.kind]}"',
            f"label={node_label(n, label_theme, opts)}", f"tooltip={quote(_tooltip(n))}",
        ]
        if coloured is not None:
            attrs.append(f'fontcolor="{coloured[1]}"')
        if "gad-nonfinite" in classes:
            attrs.append("penwidth=2.5")
        return f"{indent}{n.id} [{', '.join(attrs)}];"

    # Clusters nest; walk them with an explicit stack (no recursion over depth).
    stack: list[tuple[str, str | None, int]] = [("open", None, 0)]
    while stack:
        action, cid, depth = stack.pop()
        indent = "  " * (depth + 1)
        if action == "close":
            lines.append(f"{'  ' * depth}}}")
            continue
        if cid is not None:
            c = cluster_of[cid]
            fill = theme.cluster_mod if c.kind == "module" else theme.cluster_fn
            lines.append(f"{'  ' * depth}subgraph cluster_{cid} {{")
            lines.append(f'{indent}id="cluster_{cid}"; class="gad-cluster gad-cluster-{c.kind}"; '
                         f'style="rounded,filled"; fillcolor="{fill}"; color="{theme.cluster_border}"; '
                         f'fontcolor="{theme.muted}"; fontsize=10; labeljust=l; '
                         f"label=<{html_text(clean_text(c.label, 60))}>;")
            stack.append(("close", cid, depth))
        for n in by_cluster.get(cid, []):
            lines.append(node_line(n, indent))
        for child in reversed(children.get(cid, [])):
            stack.append(("open", child, depth + 1))
    for k, e in enumerate(graph.edges):
        attrs = [f'id="e{k}"', f'class="gad-edge gad-from-{e.source} gad-to-{e.target}"']
        if opts.grads and e.grad is not None:
            attrs.append(f"label=<{_font(html_text(_edge_text(e.grad, opts.digits)), theme.grad, 9)}>")
            attrs.append(f"labeltooltip={quote('gradient: ' + fmt_value_full(e.grad))}")
            coloured = grad_fill(e.grad) if opts.grad_color else None
            if coloured is not None and coloured[0] not in LIGHT:  # pale colours would vanish on the page
                attrs.append(f'color="{coloured[0]}", penwidth=2.5')
        lines.append(f"  {e.source} -> {e.target} [{', '.join(attrs)}];")
    if opts.legend:
        kinds = {n.kind for n in graph.nodes}
        lines.append(f'  legend [id="legend", class="gad-legend", shape=plain, '
                     f'label={_legend(theme, kinds, opts.grad_color and opts.grads)}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
