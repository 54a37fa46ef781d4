"""What the explorer page needs of a trace: its JSON (schema graphviz_ad/1) and each part's DOT text.

The page composes the DOT of the view that is open from these pieces (a node's statement, a collapsed
module's box, a cluster's attributes, an edge's gradient label), so it draws exactly what the static
figures draw (:class:`graphviz_ad.render.dot.DotPieces`), and lays out only what is open.
"""

from __future__ import annotations

import math
from typing import Any

from ..model.graph import Graph
from ..model.steps import Step
from ..model.values import _EPS, Value
from ..render.collapse import AUTO_MAX_NODES, LIBRARY_MAX_NODES, collapse, module_level, resolve_view
from ..render.dot import DotPieces, has_nonfinite
from ..render.gradcolor import _DARK, DECADES_PER_BIN, LIGHT, NONFINITE, SCALE
from ..render.options import RenderOptions
from ..render.theme import KIND_NAMES, SHAPES, STYLES
from ..render.tidy import tidy

__all__ = ["page_data"]


def _collapsed_clusters(view: Graph) -> set[str]:
    """The clusters the opening view draws as one box (their boxes are ``m<cluster id>``)."""
    return {n.id[1:] for n in view.nodes if "collapsed" in n.flags and "chain" not in n.flags and n.id.startswith("m")}


def _params(graph: Graph) -> dict[str, int]:
    """cluster id -> number of parameter elements inside it (nested clusters included)."""
    parent = {c.id: c.parent for c in graph.clusters}
    out: dict[str, int] = {}
    for n in graph.nodes:
        if n.kind != "param" or n.value is None or n.cluster is None:
            continue
        size = math.prod(n.value.shape)
        c: str | None = n.cluster
        while c is not None:
            out[c] = out.get(c, 0) + size
            c = parent[c]
    return out


def _module_boxes(graph: Graph, pieces: DotPieces, opening: Graph) -> dict[str, str]:
    """cluster id -> the DOT statement of its collapsed box, made here for every module (the opening
    view's own box where it has one): for a graph whose values the page cannot write (sparse, complex)."""
    boxes = _opening_boxes(graph, pieces, opening)
    levels = sorted({module_level(c.qualname) for c in graph.clusters if c.kind == "module"})
    wanted = {c.id for c in graph.clusters if c.kind == "module"} - set(boxes)
    for level in levels:
        if not wanted:
            break
        view, _ = collapse(graph, level)
        for n in view.nodes:
            cid = n.id[1:]
            if "collapsed" in n.flags and cid in wanted:
                boxes[cid] = pieces.node(n)
                wanted.discard(cid)
    return boxes


def _opening_boxes(graph: Graph, pieces: DotPieces, opening: Graph) -> dict[str, str]:
    """cluster id -> the DOT statement of the opening view's own collapsed box (the page composes the
    others when they are first drawn, from the same fields: see ``explorer.js``'s ``moduleBox``)."""
    closed = _collapsed_clusters(opening)
    return {n.id[1:]: pieces.node(n) for n in opening.nodes if n.id[1:] in closed}


def _folds(opening: Graph, mapping: dict[str, str], pieces: DotPieces) -> dict[str, Any]:
    """The long chains of ops the opening view folds into one box (a graph too big even collapsed):
    fold id -> its box's statement and its members' ids. The page opens them like modules."""
    chains = {n.id: n for n in opening.nodes if "chain" in n.flags}
    if not chains:
        return {}
    members: dict[str, list[str]] = {fid: [] for fid in chains}
    for nid, drawn in mapping.items():
        if drawn in members:
            members[drawn].append(nid)
    return {fid: {"box": pieces.node(n), "members": members[fid]} for fid, n in chains.items()}


def _style(pieces: DotPieces) -> dict[str, Any]:
    """What the page's label composer reads of the drawing style: the theme's colours and the
    renderer's shapes, so the page and the static figures take them from one place."""
    theme, opts = pieces.theme, pieces.options
    return {"fill": theme.fill, "border": theme.border, "shape": SHAPES, "style": STYLES, "kindName": KIND_NAMES,
            "muted": theme.muted, "grad": theme.grad, "clusterMod": theme.cluster_mod, "clusterFn": theme.cluster_fn,
            "clusterBorder": theme.cluster_border, "scale": list(SCALE), "light": sorted(LIGHT),
            "dark": sorted(_DARK), "decades": DECADES_PER_BIN, "nonfinite": NONFINITE, "eps": _EPS,
            "digits": opts.digits, "grads": opts.grads, "gradColor": opts.grad_color}


class _Table:
    """Strings once each: a field holds the string's index (``None`` stays ``None``)."""

    __slots__ = ("index", "items")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: list[str] = []

    def __call__(self, s: str | None) -> int | None:
        if s is None:
            return None
        k = self.index.get(s)
        if k is None:
            k = self.index[s] = len(self.items)
            self.items.append(s)
        return k


class _Values:
    """Values once each (by identity: a node's gradient is also its step's upstream, an edge's gradient
    the step's contribution): columns of shape, dtype, device and ``Value.to_json``; ``bad``, the
    indices of values with a non-finite number."""

    __slots__ = ("index", "shape", "dtype", "device", "data", "bad", "strings", "shapes", "_keep")

    def __init__(self, strings: _Table) -> None:
        self.index: dict[int, int] = {}
        self.shape: list[int | None] = []
        self.dtype: list[int | None] = []
        self.device: list[int | None] = []
        self.data: list[Any] = []
        self.bad: list[int] = []
        self.strings = strings
        self.shapes: dict[tuple[int, ...], int] = {}
        self._keep: list[Value] = []  # ids stay unique while the table lives

    def __call__(self, v: Value | None) -> int | None:
        if v is None:
            return None
        k = self.index.get(id(v))
        if k is None:
            k = self.index[id(v)] = len(self.data)
            self._keep.append(v)
            shape = self.shapes.get(v.shape)
            if shape is None:
                shape = self.shapes[v.shape] = len(self.shapes)
            self.shape.append(shape)
            self.dtype.append(self.strings(v.dtype))
            self.device.append(self.strings(v.device))
            self.data.append(v.to_json())
            if has_nonfinite(v):
                self.bad.append(k)
        return k


def _composable(v: Value | None) -> bool:
    """A value the page's label composer writes as the static figures do: dense, real, numbers or a
    float summary (a sparse or complex one, or an integer summary, keeps the statement made here)."""
    if v is None:
        return True
    if v.layout != "strided" or v.dtype.startswith("complex") or v.dtype in ("chalf", "cfloat", "cdouble"):
        return False
    if v.kind == "stats":
        return v.dtype.startswith(("float", "bfloat")) or v.dtype == "float"
    return not isinstance(v.data, complex)


def _columns(graph: Graph, steps: list[Step], pieces: DotPieces) -> tuple[dict[str, Any], dict[int, str], bool]:
    """The graph and its steps as columns of numbers (strings and values once each, in tables): what
    ``to_json`` holds that the page reads, without a step's ``incoming`` and its local derivatives'
    values. Also the statements of the nodes the page does not compose (made here by ``pieces``), and
    whether a value is one the page cannot write (then every module's box is made here too)."""
    s = strings = _Table()
    v = values = _Values(strings)
    cluster_at = {c.id: k for k, c in enumerate(graph.clusters)}
    kinds = {k: i for i, k in enumerate(SHAPES)}
    made: dict[int, str] = {}
    exotic = False
    cols: dict[str, list[Any]] = {k: [] for k in ("id", "kind", "label", "op", "module", "cluster", "args",
                                                  "definition", "value", "grad", "source")}
    (ids, kind, label, op, module, cluster, args, definition, value, grad, source) = cols.values()
    for i, n in enumerate(graph.nodes):
        ids.append(s(n.id))
        kind.append(kinds[n.kind])
        label.append(s(n.label))
        op.append(s(n.op))
        module.append(s(n.module))
        cluster.append(cluster_at[n.cluster] if n.cluster is not None else None)
        args.append(s(n.args) if n.args else None)
        definition.append(s(n.definition))
        value.append(v(n.value))
        grad.append(v(n.grad))
        source.append(s(n.source))
        if not (_composable(n.value) and _composable(n.grad)):
            made[i] = pieces.node(n)
            exotic = True
        elif "collapsed" in n.flags:  # a folded box (plumbing): its title is the fold's
            made[i] = pieces.node(n)
    node_at = {n.id: i for i, n in enumerate(graph.nodes)}
    edges = {"source": [node_at[e.source] for e in graph.edges], "target": [node_at[e.target] for e in graph.edges],
             "grad": [v(e.grad) for e in graph.edges]}
    edge_made = {k: pieces.edge_attrs(e.grad) for k, e in enumerate(graph.edges)
                 if e.grad is not None and not _composable(e.grad)}
    st: dict[str, list[Any]] = {k: [] for k in ("index", "node", "grad_fn", "upstream", "leaf", "local", "to",
                                                "value")}
    for x in steps:
        st["index"].append(x.index)
        st["node"].append(s(x.node))
        st["grad_fn"].append(s(x.grad_fn))
        st["upstream"].append(v(x.upstream))
        st["leaf"].append(1 if x.leaf else 0)
        st["local"].append([[s(loc.to), s(loc.formula)] for loc in x.local] if x.local else 0)
        st["to"].append([s(c.to) for c in x.contributions])
        st["value"].append([v(c.value) for c in x.contributions])
    clusters = {"id": [c.id for c in graph.clusters], "kind": [c.kind for c in graph.clusters],
                "label": [s(c.label) for c in graph.clusters],
                "parent": [cluster_at[c.parent] if c.parent is not None else None for c in graph.clusters]}
    shapes = [list(x) for x in values.shapes]
    return {"strings": strings.items, "values": {"shape": values.shape, "shapes": shapes, "dtype": values.dtype,
                                                 "device": values.device, "data": values.data, "bad": values.bad},
            "kinds": list(SHAPES), "nodes": cols, "edges": edges, "steps": st, "clusters": clusters, "outputs": list(graph.outputs),
            "madeEdges": edge_made}, made, exotic


def _lines(statements: list[str]) -> str:
    """Statements one per line. Labels hold no control characters (``html_text``, ``clean_text``); a line
    break elsewhere would sit in a quoted string, where DOT reads ``\\n`` the same."""
    return "\n".join([x.replace("\n", "\\n") if "\n" in x else x for x in statements])


def page_data(graph: Graph, steps: list[Step], options: RenderOptions) -> tuple[dict[str, Any], str]:
    """The page's data: the graph and its steps as columns (:func:`_columns`), the modules, the opening
    view and the drawing style; and as text, one statement a line, the DOT statements made here: the
    nodes the page does not compose (in the order of the data's ``made``) and the opening view's
    collapsed boxes (in the order of ``opened``). Plain lines cost no JSON escapes (DOT is full of quotes)."""
    pieces = DotPieces(options, tooltips=False)  # the details panel shows every digit
    max_nodes = AUTO_MAX_NODES
    if not options.show_all:  # the page explores the tidy graph: no library frames, plumbing folded
        tidied = tidy(graph)
        graph = tidied.graph
        if tidied.library:
            max_nodes = LIBRARY_MAX_NODES
    opening, mapping = resolve_view(graph, options.depth, max_nodes, show_all=True)
    closed = _collapsed_clusters(opening)
    params = _params(graph)
    modules = {c.id: {"qualname": c.qualname or "", "type": c.type_name or "", "level": module_level(c.qualname),
                      "params": params.get(c.id, 0)}
               for c in graph.clusters if c.kind == "module"}
    kinds = {n.kind for n in graph.nodes} | ({"module"} if modules else set())
    columns, made, exotic = _columns(graph, steps, pieces)
    boxes = (_module_boxes if exotic else _opening_boxes)(graph, pieces, opening)
    opened = sorted(boxes)
    return {
        "graph": columns,
        "made": sorted(made),
        "opened": opened,
        "header": pieces.header(),
        "legend": pieces.legend(kinds, graph),
        "style": _style(pieces),
        "modules": modules,
        "folds": _folds(opening, mapping, pieces),
        "closed": sorted(closed, key=lambda cid: int(cid[1:]) if cid[1:].isdigit() else 0),
        "digits": options.digits,
    }, _lines([made[i] for i in sorted(made)] + [boxes[c] for c in opened])
