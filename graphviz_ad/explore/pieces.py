"""What the explorer page needs of a trace: its JSON (schema graphviz_ad/1) and each part's DOT text.

The page composes the DOT of the view that is open from these pieces (a node's statement, a collapsed
module's box, a cluster's attributes, an edge's gradient label), so it draws exactly what the static
figures draw (:class:`graphviz_ad.render.dot.DotPieces`), and lays out only what is open.
"""

from __future__ import annotations

import math
import sys
from array import array
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


def _interned(columns: list[list[Any]]) -> tuple[list[Any], list[list[int]]]:
    """The distinct items of ``columns`` (strings, ``None``), in order of first use, and each column as
    indices into them: a name, an op or a module path is shipped once however often it recurs."""
    index: dict[Any, int] = {}
    put = index.setdefault
    out = [[put(x, len(index)) for x in col] for col in columns]
    return list(index), out


_PACKED = frozenset({"float32", "float16", "bfloat16"})  # their numbers are float32 numbers, exactly


def _flat_into(d: Any, out: list[Any]) -> None:
    """The numbers of a nested list (a tensor's ``tolist()``), row by row, appended to ``out``."""
    stack = [d]
    while stack:
        x = stack.pop()
        if type(x) is list:
            if x and type(x[0]) is list:
                stack.extend(reversed(x))
            else:
                out.extend(x)
        else:
            out.append(x)


def _values(objs: list[Value]) -> tuple[dict[str, Any], bytes, set[int]]:
    """The distinct values as columns: shape, dtype and device; a float32 tensor's numbers as float32
    bytes (4 each, exactly the numbers kept: ``packed`` lists which values, in order), every other
    value's ``Value.to_json`` in ``data``; ``bad``: the values with a non-finite number. Also the
    indices of the values the page's labels cannot write (sparse, complex, an integer summary)."""
    shapes: dict[tuple[int, ...], int] = {}
    put = shapes.setdefault
    shape = [put(v.shape, len(shapes)) for v in objs]
    data: list[Any] = []
    packed: list[int] = []
    flat: list[float] = []
    odd: set[int] = set()
    bad: list[int] = []
    for k, v in enumerate(objs):
        if v.kind == "exact" and v.dtype in _PACKED and v.layout == "strided":
            packed.append(k)
            data.append(0)
            d = v.data
            if type(d) is list and d and type(d[0]) is list and len(d) == 1 and d[0] and type(d[0][0]) is not list:
                flat.extend(d[0])  # a batch of one row, the common case
            else:
                _flat_into(d, flat)
        else:
            data.append(v.to_json())
            if not _composable(v):
                odd.add(k)
        if v.finite is not True and has_nonfinite(v):
            bad.append(k)
    blob = array("f", flat)
    if sys.byteorder != "little":
        blob.byteswap()
    return {"shape": shape, "shapes": [list(x) for x in shapes], "data": data, "packed": packed, "bad": bad}, \
        blob.tobytes(), odd


def _composable(v: Value) -> bool:
    """A value the page's label composer writes as the static figures do: dense, real, numbers or a
    float summary (a sparse or complex one, or an integer summary, keeps the statement made here)."""
    if v.layout != "strided" or v.dtype.startswith("complex") or v.dtype in ("chalf", "cfloat", "cdouble"):
        return False
    if v.kind == "stats":
        return v.dtype.startswith(("float", "bfloat")) or v.dtype == "float"
    return not isinstance(v.data, complex)


def _columns(graph: Graph, steps: list[Step],
             pieces: DotPieces) -> tuple[dict[str, Any], bytes, dict[int, str], bool]:
    """The graph and its steps as columns of numbers (strings and values once each, in tables; value 0
    is none): what ``to_json`` holds that the page reads, without a step's ``incoming`` and its local
    derivatives' values. Also the float32 numbers (:func:`_values`), the statements of the nodes the
    page does not compose (made here by ``pieces``), and whether a value is one the page cannot write
    (then every module's box is made here too)."""
    nodes, edges = graph.nodes, graph.edges
    cluster_at: dict[str | None, int | None] = {c.id: k for k, c in enumerate(graph.clusters)}
    cluster_at[None] = None
    kinds = {k: i for i, k in enumerate(SHAPES)}
    node_at = {n.id: i for i, n in enumerate(nodes)}
    contributions = [x.contributions for x in steps]
    # values: by identity, in order of first use; index 0 is "none"
    columns = [[n.value for n in nodes], [n.grad for n in nodes], [e.grad for e in edges],
               [x.upstream for x in steps], [c.value for cs in contributions for c in cs]]
    objs: dict[int, Any] = {id(None): None}
    for col in columns:
        for v in col:
            if id(v) not in objs:
                objs[id(v)] = v
    at = {k: i for i, k in enumerate(objs)}
    value, grad, edge_grad, upstream, contributed = [[at[id(v)] for v in col] for col in columns]
    distinct = list(objs.values())[1:]
    vcols, blob, odd = _values(distinct)
    odd = {k + 1 for k in odd}
    to = [c.to for cs in contributions for c in cs]
    local = [(loc.to, loc.formula) for x in steps for loc in x.local]
    strings, (ids, label, op, module, args, definition, source, dtype, device, step_node, grad_fn, step_to,
              local_to, local_formula, cluster_label) = _interned([
        [n.id for n in nodes], [n.label for n in nodes], [n.op for n in nodes], [n.module for n in nodes],
        [n.args or None for n in nodes], [n.definition for n in nodes], [n.source for n in nodes],
        [v.dtype for v in distinct], [v.device for v in distinct], [x.node for x in steps],
        [x.grad_fn for x in steps], to, [t for t, _ in local], [f for _, f in local],
        [c.label for c in graph.clusters]])
    made: dict[int, str] = {}
    exotic = False
    if odd:
        for i, n in enumerate(nodes):
            if value[i] in odd or grad[i] in odd:
                made[i] = pieces.node(n)
                exotic = True
    for i, n in enumerate(nodes):
        if n.flags and "collapsed" in n.flags and i not in made:  # a folded box (plumbing): its title is the fold's
            made[i] = pieces.node(n)
    edge_made = {k: pieces.edge_attrs(e.grad) for k, e in enumerate(edges) if edge_grad[k] in odd}
    # a step's contributions and local derivatives, as runs of the flat columns
    sizes = [len(cs) for cs in contributions]
    local_sizes = [len(x.local) for x in steps]
    return {"strings": strings, "values": {**vcols, "dtype": dtype, "device": device},
            "kinds": list(SHAPES),
            "nodes": {"id": ids, "kind": [kinds[n.kind] for n in nodes], "label": label, "op": op, "module": module,
                      "cluster": [cluster_at[n.cluster] for n in nodes], "args": args, "definition": definition,
                      "value": value, "grad": grad, "source": source},
            "edges": {"source": [node_at[e.source] for e in edges], "target": [node_at[e.target] for e in edges],
                      "grad": edge_grad},
            "steps": {"index": [x.index for x in steps], "node": step_node, "grad_fn": grad_fn, "upstream": upstream,
                      "leaf": [1 if x.leaf else 0 for x in steps], "size": sizes, "to": step_to,
                      "value": contributed, "localSize": local_sizes, "localTo": local_to,
                      "localFormula": local_formula},
            "clusters": {"id": [c.id for c in graph.clusters], "kind": [c.kind for c in graph.clusters],
                         "label": cluster_label, "parent": [cluster_at[c.parent] for c in graph.clusters]},
            "outputs": list(graph.outputs), "madeEdges": edge_made}, blob, made, exotic


def _lines(statements: list[str]) -> str:
    """Statements one per line. Labels hold no control characters (``html_text``, ``clean_text``); a line
    break elsewhere would sit in a quoted string, where DOT reads ``\\n`` the same."""
    return "\n".join([x.replace("\n", "\\n") if "\n" in x else x for x in statements])


def page_data(graph: Graph, steps: list[Step], options: RenderOptions) -> tuple[dict[str, Any], str, bytes]:
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
    columns, blob, made, exotic = _columns(graph, steps, pieces)
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
    }, _lines([made[i] for i in sorted(made)] + [boxes[c] for c in opened]), blob
