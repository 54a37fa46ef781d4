"""DOT text from the graph model: pure functions, no subprocess, deterministic output."""

from __future__ import annotations

import math
import re
from typing import Any

from ..gcpause import gc_paused
from ..model.graph import Cluster, Graph, Node
from ..model.values import Value
from .collapse import view_for
from .format import clean_text, fmt_number, fmt_shape, fmt_value_texts
from .gradcolor import LIGHT, colour_bar, fill_of, magnitude
from .options import RenderOptions
from .quoting import QUOTE_NOT_NEWLINE, html_text, quote
from .theme import KIND_NAMES, SHAPES, STYLES, Theme, get_theme
from .wrap import row_breaks

__all__ = ["to_dot", "node_label", "has_nonfinite", "DotPieces"]

_QUOTE_OR_NEWLINE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f]')  # a text that is "plain": nothing to escape
TOOLTIP_LIMIT = 2000

# A value's texts: (the Value, label text, full text, full text has nothing to escape in a quoted string)
_Texts = tuple[Any, str, str, bool]
_NO_TEXTS: _Texts = (None, "", "", True)


def _tooltip_text(parts: list[str]) -> str:
    """The quoted tooltip of ``parts`` (one per line): escapes shown, cut at ``TOOLTIP_LIMIT`` characters."""
    text = "\n".join(parts)
    if not QUOTE_NOT_NEWLINE.search(text):  # no backslash, quote or control character but the line breaks
        escaped = text.replace("\n", "\\n")
        if len(escaped) <= TOOLTIP_LIMIT:
            return f'"{escaped}"'
    return quote(clean_text(text, TOOLTIP_LIMIT).replace("\\n", "\n"))


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


_TABLE = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'


# ``dot`` ranks an edge's label as a node of its own, so the layout time of big graphs explodes with
# them (10,000 boxes in a chain: 108 s with labels, 7.5 s with none placed in the ranks). From this
# many gradient-labelled edges the labels are placed after the layout instead (``xlabel``): a little
# less tidy (they may sit closer to other labels), much faster (a 2,000-box loop: 0.96 s -> 0.33 s).
# Placing them still costs dot about as much as the rest of the layout (an R-tree of every label), so
# at that size only the edges whose gradient is news are labelled: those leaving a box with several
# consumers (each carries one part of the sum). An edge that is its source's only consumer carries
# the gradient the source box shows already (the expanded 500-layer MLP: 1.0 s -> 0.5 s).
EXTERNAL_LABELS_FROM = 1000


class _Writer:
    """The text of one ``to_dot`` call.

    Fragments that repeat are made once per call: a node's title row (names and ops repeat), the
    shape row, and each Value's texts and magnitude (a node's gradient is usually also its outgoing
    edges' gradient). Values are keyed by ``id`` only while the graph holds them, and each entry keeps
    its Value, so no id is reused within the call; nothing outlives it.
    """

    def __init__(self, theme: Theme, opts: RenderOptions) -> None:
        self.theme = theme
        self.opts = opts
        self._titles: dict[tuple[Any, ...], str] = {}
        self._metas: dict[tuple[Any, ...], str] = {}
        self._texts: dict[int, _Texts] = {}
        self._mags: dict[int, tuple[Value, float | None]] = {}
        self._edge_labels: dict[str, str] = {}
        self.edge_label_attr = "label"  # or "xlabel" for big graphs
        self.tooltips = True  # node and edge tooltips with every digit (a page with a details panel needs none)

    def texts(self, v: Value | None) -> _Texts:
        """``(v, fmt_value(v, digits), fmt_value_full(v), plain)``, once per Value; ``plain``: the full
        text needs no escaping in a quoted string."""
        if v is None:
            return _NO_TEXTS
        hit = self._texts.get(id(v))
        if hit is None:
            short, full = fmt_value_texts(v, self.opts.digits)
            hit = self._texts[id(v)] = (v, short, full, not _QUOTE_OR_NEWLINE.search(full))
        return hit

    def magnitude(self, v: Value | None) -> float | None:
        """``magnitude(v)``, once per Value."""
        if v is None:
            return None
        hit = self._mags.get(id(v))
        if hit is None:
            hit = self._mags[id(v)] = (v, magnitude(v))
        return hit[1]

    def _title(self, node: Node, muted: str) -> str:
        """The first row(s) of a label: the name, and the op (with its arguments) or the kind."""
        collapsed = "collapsed" in node.flags
        key = (node.kind, node.label, node.op, node.args, collapsed, muted, node.definition)
        row = self._titles.get(key)
        if row is not None:
            return row
        kind = node.kind
        name = html_text(clean_text(node.label, 48))
        if kind in ("op", "output"):
            op = f"{node.op}({clean_text(node.args, 48)})" if node.args else node.op
        else:
            op = KIND_NAMES.get(kind, kind) if kind != "param" else node.op
        if collapsed:
            row = f"<TR><TD><B>{name}</B></TD></TR>"
            if node.args:
                row += f"<TR><TD>{_font(html_text(node.args), muted, 9)}</TD></TR>"
        elif kind == "const" and node.op == "const":
            row = f"<TR><TD><B>{name}</B></TD></TR>"
        elif node.definition is not None and kind in ("op", "output"):  # an expression's c = a / b
            definition = clean_text(node.definition, 48)
            rhs = "" if definition == clean_text(node.label, 48) else f" = {html_text(definition)}"
            row = f"<TR><TD><B>{name}</B>{rhs}</TD></TR>"
        elif node.label == node.op:
            tail = f" {_font(html_text(op[len(node.op):]), muted)}" if op != node.op else ""
            row = f"<TR><TD><B>{name}</B>{tail}</TD></TR>"
        else:
            row = f"<TR><TD><B>{name}</B> {_font(html_text(op), muted, 10)}</TD></TR>"
        self._titles[key] = row
        return row

    def _meta(self, v: Value, muted: str) -> str:
        """The shape/dtype (and device) row of a value, or ``""``."""
        key = (v.shape, v.dtype, v.device, muted)
        row = self._metas.get(key)
        if row is None:
            row = ""
            if math.prod(v.shape) != 1 or v.shape:
                meta = f"{fmt_shape(v.shape)} {v.dtype}"
                if v.device not in ("cpu", "python"):
                    meta += f" {v.device}"
                row = f"<TR><TD>{_font(html_text(meta), muted, 9)}</TD></TR>"
            elif v.device not in ("cpu", "python"):
                row = f"<TR><TD>{_font(html_text(v.device), muted, 9)}</TD></TR>"
            self._metas[key] = row
        return row

    def label(self, node: Node, muted: str, grad_colour: str, bad_value: bool, bad_grad: bool,
              value_text: str, grad_text: str) -> str:
        """An HTML-like label: name and op, shape/dtype for tensors, value, gradient (their label texts)."""
        rows = [_TABLE, self._title(node, muted)]
        v = node.value
        if v is not None and not (node.kind == "const" and node.op == "const"):
            rows.append(self._meta(v, muted))
            if value_text:
                warn = "⚠ " if bad_value else ""
                for line in value_text.split("\n"):
                    rows.append(f"<TR><TD>{html_text(warn + line)}</TD></TR>")
                    warn = ""
        if self.opts.grads and node.grad is not None:
            lines = grad_text.split("\n")
            warn = "⚠ " if bad_grad else ""
            rows.append(f"<TR><TD>{_font(html_text(f'{warn}∇ {lines[0]}'), grad_colour)}</TD></TR>")
            rows.extend(f"<TR><TD>{_font(html_text(line), grad_colour)}</TD></TR>" for line in lines[1:])
        rows.append("</TABLE>>")
        return "".join(rows)

    def tooltip(self, node: Node, value: _Texts, grad: _Texts) -> str:
        """The quoted tooltip: label (op), module, source, value and gradient at full precision."""
        title = f"{node.label} ({node.op})"
        parts = [title]
        plain = not _QUOTE_OR_NEWLINE.search(title)
        if node.module:
            parts.append(f"module: {node.module}")
            plain = plain and not _QUOTE_OR_NEWLINE.search(node.module)
        if node.source:
            parts.append(f"source: {node.source}")
            plain = plain and not _QUOTE_OR_NEWLINE.search(node.source)
        if value[0] is not None:
            parts.append(f"value: {value[2]}")
            plain = plain and value[3]
        if grad[0] is not None:
            parts.append(f"grad: {grad[2]}")
            plain = plain and grad[3]
        if plain:  # nothing to escape but the line breaks between the parts
            text = "\\n".join(parts)
            if len(text) <= TOOLTIP_LIMIT:
                return f'"{text}"'
        return _tooltip_text(parts)

    def node_line(self, n: Node, indent: str) -> str:
        """The node's DOT statement: ids and classes, shape and colours, label, tooltip."""
        theme, opts = self.theme, self.opts
        kind, value, grad = n.kind, n.value, n.grad
        bad_value = has_nonfinite(value)
        bad_grad = opts.grads and has_nonfinite(grad)
        bad = bad_value or bad_grad
        fill, muted, grad_colour = theme.fill[kind], theme.muted, theme.grad
        coloured = fill_of(self.magnitude(grad)) if opts.grad_color and opts.grads else None
        if coloured is not None:
            fill = coloured[0]
            muted = grad_colour = coloured[1]
        extra = f', fontcolor="{coloured[1]}"' if coloured is not None else ""
        if bad:
            extra += ", penwidth=2.5"
        value_texts, grad_texts = self.texts(value), self.texts(grad)
        label = self.label(n, muted, grad_colour, bad_value, bad_grad, value_texts[1], grad_texts[1])
        return (f'{indent}{n.id} [id="{n.id}", class="gad-node gad-{kind}{" gad-nonfinite" if bad else ""}", '
                f'shape={SHAPES[kind]}, style="{STYLES[kind]}", fillcolor="{fill}", color="{theme.border[kind]}", '
                f"label={label}{self._tip(n, value_texts, grad_texts)}{extra}];")

    def _tip(self, node: Node, value: _Texts, grad: _Texts) -> str:
        return f", tooltip={self.tooltip(node, value, grad)}" if self.tooltips else ""

    def edge_attrs(self, g: Value, labelled: bool = True) -> str:
        """The gradient attributes of an edge (after its id and class): its label and the label's
        tooltip unless not ``labelled``, its colour by magnitude with ``grad_color``."""
        out = self._edge_label(g) if labelled else ""
        coloured = fill_of(self.magnitude(g)) if self.opts.grad_color else None
        if coloured is not None and coloured[0] not in LIGHT:  # pale colours would vanish on the page
            out += f', color="{coloured[0]}", penwidth=2.5'
        return out

    def _edge_label(self, g: Value) -> str:
        theme, digits = self.theme, self.opts.digits
        one = g.numel == 1
        if one or self.tooltips:
            _, short, full, plain = self.texts(g)
        text = short if one else f"‖g‖ {fmt_number(self.magnitude(g), digits)}"
        label = self._edge_labels.get(text)
        if label is None:  # few distinct texts: "‖g‖ 0", "1", ...
            label = self._edge_labels[text] = f", {self.edge_label_attr}=<{_font(html_text(text), theme.grad, 9)}>"
        if not self.tooltips:
            return label
        tip = f'"gradient: {full}"' if plain else quote("gradient: " + full)
        return f"{label}, labeltooltip={tip}"


def node_label(node: Node, theme: Theme, opts: RenderOptions) -> str:
    """An HTML-like label: name and op, shape/dtype for tensors, value, gradient."""
    w = _Writer(theme, opts)
    return w.label(node, theme.muted, theme.grad, has_nonfinite(node.value), opts.grads and has_nonfinite(node.grad),
                   w.texts(node.value)[1], w.texts(node.grad)[1])


def _legend(theme: Theme, kinds: set[str], grad_color: bool) -> str:
    """The legend of the boxes drawn (one cell per kind present)."""
    cells = []
    for kind in ("input", "param", "const", "op", "output", "module"):
        if kind not in kinds:
            continue
        cells.append(f'<TD BGCOLOR="{theme.fill[kind]}" COLOR="{theme.border[kind]}" BORDER="1">'
                     f'{_font(KIND_NAMES[kind], theme.text, 9)}</TD>')
    rows = f'<TR>{"".join(cells)}</TR>'
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="3">{rows}</TABLE>>'


def _grad_legend(theme: Theme, grad_color: bool, norms: bool) -> str:
    """The gradient's legend, a node of its own (the stepper hides it where no gradient is drawn yet):
    ∇, ‖g‖ where a tensor edge carries one (the norm of that gradient), the colour bar with ``grad_color``."""
    cells = [f'<TD BORDER="0">{_font("∇ gradient", theme.grad, 9)}</TD>']
    if norms:
        cells.append(f'<TD BORDER="0">{_font("‖g‖ norm of a tensor edge’s gradient", theme.grad, 9)}</TD>')
    rows = f'<TR>{"".join(cells)}</TR>'
    if grad_color:
        bar = colour_bar()
        rows += (f'<TR><TD COLSPAN="{len(cells)}" BORDER="0">'
                 f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2"><TR>'
                 f'<TD>{_font("|∇| (log scale):", theme.text, 9)}</TD>{bar}</TR></TABLE></TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="3">{rows}</TABLE>>'


def _gradient_consumers(graph: Graph) -> dict[str, int]:
    """Per source node, how many of its outgoing edges carry a gradient."""
    consumers: dict[str, int] = {}
    for e in graph.edges:
        if e.grad is not None:
            consumers[e.source] = consumers.get(e.source, 0) + 1
    return consumers


def _single_consumers(graph: Graph, consumers: dict[str, int]) -> set[str]:
    """Nodes that show a gradient and pass it along exactly one gradient-carrying edge: that edge's
    gradient is the node's own. Not an output (its gradient adds the seed) nor a collapsed module box
    (several tensors inside)."""
    outputs = set(graph.outputs)
    return {n.id for n in graph.nodes
            if n.grad is not None and consumers.get(n.id) == 1 and n.kind != "module" and n.id not in outputs}


def _header(theme: Theme, opts: RenderOptions) -> list[str]:
    """The first lines of a drawing: the graph's, nodes' and edges' default attributes."""
    return [
        "digraph graphviz_ad {",
        f'  graph [rankdir={opts.rankdir}, bgcolor="{theme.background}", fontname="Helvetica", '
        f'fontsize=11, fontcolor="{theme.text}", nodesep=0.25, ranksep=0.35, newrank=true, '
        f'id="gad-graph", class="gad-graph gad-theme-{theme.name}"];',
        f'  node [fontname="Helvetica", fontsize=11, fontcolor="{theme.text}", margin="0.08,0.04", penwidth=1.2];',
        f'  edge [fontname="Helvetica", fontsize=9, color="{theme.edge}", fontcolor="{theme.grad}", arrowsize=0.7];',
    ]


def _cluster_attrs(c: Cluster, theme: Theme) -> str:
    """The attribute line of a cluster's subgraph: id, class, colours, label."""
    fill = theme.cluster_mod if c.kind == "module" else theme.cluster_fn
    return (f'id="cluster_{c.id}"; class="gad-cluster gad-cluster-{c.kind}"; '
            f'style="rounded,filled"; fillcolor="{fill}"; color="{theme.cluster_border}"; '
            f'fontcolor="{theme.muted}"; fontsize=10; labeljust=l; '
            f"label=<{html_text(clean_text(c.label, 60))}>;")


def _legend_lines(theme: Theme, kinds: set[str], opts: RenderOptions, graph: Graph) -> list[str]:
    """The legend's statements: the node kinds, and the gradient's legend only where ``graph`` draws a gradient
    (its ‖g‖ line where a tensor edge carries one)."""
    lines = [f'legend [id="legend", class="gad-legend", shape=plain, label={_legend(theme, kinds, False)}];']
    if opts.grads and any(n.grad is not None for n in graph.nodes):  # only what is drawn
        norms = any(e.grad is not None and e.grad.numel != 1 for e in graph.edges)
        lines.append(f'legend_grad [id="legend_grad", class="gad-legend gad-legend-grad", shape=plain, '
                     f'label={_grad_legend(theme, opts.grad_color, norms)}];')
    return lines


class DotPieces:
    """The statements of one drawing style, one at a time, for callers that compose their own views
    (the interactive page lays out whatever is open): the same text :func:`to_dot` writes."""

    def __init__(self, options: RenderOptions | None = None, *, tooltips: bool = True, **kw: Any) -> None:
        self.options = RenderOptions.make(options, **kw)
        self.theme = get_theme(self.options.theme)
        self._w = _Writer(self.theme, self.options)
        self._w.tooltips = tooltips

    def header(self) -> list[str]:
        """``digraph graphviz_ad {`` and the default attributes (the caller closes the brace)."""
        return _header(self.theme, self.options)

    def node(self, node: Node) -> str:
        """A node's statement (no indent)."""
        return self._w.node_line(node, "")

    def cluster(self, cluster: Cluster) -> str:
        """The attribute line inside ``subgraph cluster_<id> {``."""
        return _cluster_attrs(cluster, self.theme)

    def edge_attrs(self, grad: Value | None) -> str:
        """What follows an edge's id and class: its gradient label and colour (``""`` without a gradient)."""
        return self._w.edge_attrs(grad) if grad is not None and self.options.grads else ""

    def legend(self, kinds: set[str], graph: Graph) -> str:
        """The legend's statements for these node kinds and ``graph``'s gradients, or ``""`` without ``legend``."""
        return "\n".join(_legend_lines(self.theme, kinds, self.options, graph)) if self.options.legend else ""


@gc_paused()
def to_dot(graph: Graph, options: RenderOptions | None = None, **kw: Any) -> str:
    """The graph as DOT text. Ids: nodes ``n<k>``, edges ``e<k>``, clusters ``cluster_c<k>``."""
    opts = RenderOptions.make(options, **kw)
    theme = get_theme(opts.theme)
    graph = view_for(graph, opts.depth, show_all=opts.show_all)
    w = _Writer(theme, opts)
    lines: list[str] = _header(theme, opts)
    by_cluster: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        by_cluster.setdefault(n.cluster, []).append(n)
    children: dict[str | None, list[str]] = {}
    cluster_of = {c.id: c for c in graph.clusters}
    for c in graph.clusters:
        children.setdefault(c.parent, []).append(c.id)

    # Clusters nest; walk them with an explicit stack (no recursion over depth).
    stack: list[tuple[str, str | None, int]] = [("open", None, 0)]
    while stack:
        action, cid, depth = stack.pop()
        indent = "  " * (depth + 1)
        if action == "close":
            lines.append(f"{'  ' * depth}}}")
            continue
        if cid is not None:
            lines.append(f"{'  ' * depth}subgraph cluster_{cid} {{")
            lines.append(indent + _cluster_attrs(cluster_of[cid], theme))
            stack.append(("close", cid, depth))
        lines.extend([w.node_line(n, indent) for n in by_cluster.get(cid, ())])
        for child in reversed(children.get(cid, [])):
            stack.append(("open", child, depth + 1))
    show_grads = opts.grads
    shown_at_source: set[str] = set()  # sources whose one gradient-carrying edge needs no label
    consumers = _gradient_consumers(graph) if show_grads else {}
    if sum(consumers.values()) >= EXTERNAL_LABELS_FROM:
        w.edge_label_attr = "xlabel"
        shown_at_source = _single_consumers(graph, consumers)
    breaks = row_breaks(graph)  # a long chain wraps into rows
    for k, e in enumerate(graph.edges):
        s, t = e.source, e.target
        grad = w.edge_attrs(e.grad, s not in shown_at_source) if show_grads and e.grad is not None else ""
        wrap = ", constraint=false" if breaks and (s, t) in breaks else ""
        lines.append(f'  {s} -> {t} [id="e{k}", class="gad-edge gad-from-{s} gad-to-{t}"{grad}{wrap}];')
    if opts.legend:
        lines.extend("  " + line for line in _legend_lines(theme, {n.kind for n in graph.nodes}, opts, graph))
    lines.append("}\n")
    return "\n".join(lines)
