"""What the explorer page needs of a trace: what its JSON (schema graphviz_ad/1) holds that the page
reads, as columns, and the DOT statements the page does not compose itself.

The page composes the DOT of the view that is open (a node's statement, a collapsed module's box, a
cluster's attributes, an edge's gradient label) from the data's fields when a box is first drawn, as
:class:`graphviz_ad.render.dot.DotPieces` writes them (tests/explore/test_explorer_compose.py holds
the two to the same text), so it draws what the static figures draw and lays out only what is open.
A 100,000-op model's page is written in a few seconds because nothing is made per node here but its
columns: strings and values once each, indices and float32 numbers as bytes.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import replace
from itertools import chain, count
from operator import attrgetter
from typing import Any

from ..model.graph import Graph, Node
from ..model.steps import Step
from ..model.values import MACHINE_EPS, Value
from ..render.collapse import AUTO_MAX_NODES, LIBRARY_MAX_NODES, collapse, module_level, resolve_view
from ..render.dot import DotPieces, has_nonfinite
from ..render.fold import rebuild_view
from ..render.gradcolor import DARK_BINS, DECADES_PER_BIN, LIGHT, NONFINITE, SCALE
from ..render.options import RenderOptions
from ..render.theme import KIND_NAMES, SHAPES, STYLES
from ..render.tidy import PLUMBING_OP, Tidied, tidy

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


def _folds(opening: Graph, mapping: dict[str, str], pieces: DotPieces,
           plumbing: dict[str, tuple[Node, list[str]]]) -> dict[str, Any]:
    """What the page draws as one box and opens like a module: the long chains of ops the opening view
    folds (a graph too big even collapsed), then each cluster's mask and position plumbing (the tidy
    view's box): fold id -> its box's statement, its label, and its members' ids (a chain's members
    are the plumbing's members where it holds a plumbing box)."""
    chains = {n.id: n for n in opening.nodes if "chain" in n.flags}
    members: dict[str, list[str]] = {fid: [] for fid in chains}
    for nid, drawn in mapping.items() if chains else ():
        if drawn in members:
            if nid in plumbing:
                members[drawn].extend(plumbing[nid][1])
            else:
                members[drawn].append(nid)
    out = {fid: {"box": pieces.node(n), "label": n.label, "members": members[fid]} for fid, n in chains.items()}
    for fid, (box, inner) in plumbing.items():
        out[fid] = {"box": pieces.node(box), "label": box.label, "members": inner, "plumbing": True}
    return out


def _plumbing_opened(graph: Graph, tidied: Tidied) -> tuple[Graph, dict[str, tuple[Node, list[str]]]]:
    """The tidy view with each plumbing box's members in its place (in its cluster), for the page to
    fold and open; and box id -> (the box, its members' ids). The view itself where it folds none."""
    view = tidied.graph
    boxes = {n.id: n for n in view.nodes if PLUMBING_OP in n.flags}
    if not boxes:
        return view, {}
    inner: dict[str, list[Node]] = {fid: [] for fid in boxes}
    mapping = dict(tidied.mapping)
    for n in graph.nodes:
        fid = mapping.get(n.id)
        if fid in inner:
            box = boxes[fid]
            inner[fid].append(n if n.cluster == box.cluster else replace(n, cluster=box.cluster))
            mapping[n.id] = n.id
    nodes: list[Node] = []
    for n in view.nodes:
        nodes.extend(inner[n.id] if n.id in inner else (n,))
    return (rebuild_view(graph, nodes, mapping, list(view.clusters)),
            {fid: (box, [m.id for m in inner[fid]]) for fid, box in boxes.items()})


def _style(pieces: DotPieces) -> dict[str, Any]:
    """What the page's label composer reads of the drawing style: the theme's colours and the
    renderer's shapes, so the page and the static figures take them from one place."""
    theme, opts = pieces.theme, pieces.options
    return {"fill": theme.fill, "border": theme.border, "shape": SHAPES, "style": STYLES, "kindName": KIND_NAMES,
            "muted": theme.muted, "grad": theme.grad, "clusterMod": theme.cluster_mod, "clusterFn": theme.cluster_fn,
            "clusterBorder": theme.cluster_border, "scale": list(SCALE), "light": sorted(LIGHT),
            "dark": sorted(DARK_BINS), "decades": DECADES_PER_BIN, "nonfinite": NONFINITE, "eps": MACHINE_EPS,
            "digits": opts.digits, "grads": opts.grads, "gradColor": opts.grad_color}


def _interned(columns: list[list[Any]]) -> tuple[list[Any], list[list[int]]]:
    """The distinct items of ``columns`` (strings, ``None``), in order of first use, and each column as
    indices into them: a name, an op or a module path is shipped once however often it recurs."""
    index = dict(zip(dict.fromkeys(chain.from_iterable(columns)), count()))
    at = index.__getitem__
    return list(index), [list(map(at, col)) for col in columns]


_PACKED = frozenset({"float32", "float16", "bfloat16"})  # their numbers are float32 numbers, exactly


def _flat(d: Any) -> list[Any]:
    """The numbers of a nested list (a tensor's ``tolist()``), row by row."""
    if type(d) is not list:
        return [d]
    if not d or type(d[0]) is not list:
        return d
    if len(d) == 1 and (not d[0] or type(d[0][0]) is not list):
        return d[0]  # a batch of one row, the common case
    out: list[Any] = []
    stack = [d]
    while stack:
        x = stack.pop()
        if x and type(x[0]) is list:
            stack.extend(reversed(x))
        else:
            out.extend(x)
    return out


def _values(objs: list[Value]) -> tuple[dict[str, Any], bytes, set[int]]:
    """The distinct values as columns: ``meta``, each one's (shape, dtype, device) in ``metas``; a float32
    tensor's numbers as float32 bytes (4 each, exactly the numbers kept: ``packed`` lists which values,
    in order), every other value's ``Value.to_json`` in ``data`` (``0`` for the packed ones); ``bad``:
    the values with a non-finite number. Also the indices of the values the page's labels cannot write
    (sparse, complex, an integer summary)."""
    metas, (meta,) = _interned([[(v.shape, v.dtype, v.device) for v in objs]])
    packed = [k for k, v in enumerate(objs) if v.kind == "exact" and v.dtype in _PACKED and v.layout == "strided"]
    data: list[Any] = [0] * len(objs)
    odd: set[int] = set()
    is_packed = dict.fromkeys(packed)
    for k, v in enumerate(objs):
        if k not in is_packed:
            data[k] = v.to_json()
            if not _composable(v):
                odd.add(k)
    bad = [k for k, v in enumerate(objs) if v.finite is not True and has_nonfinite(v)]
    # a value's numbers row by row: a row of one batch ([[a, b, c]]) at once, the common case
    one_row = [len(sh) == 2 and sh[0] == 1 for sh, _, _ in metas]
    rows = [objs[k].data[0] if one_row[meta[k]] else _flat(objs[k].data) for k in packed]
    blob = array("f", chain.from_iterable(rows))
    if sys.byteorder != "little":
        blob.byteswap()
    return {"meta": meta, "metas": [[list(sh), dt, dev] for sh, dt, dev in metas], "data": data, "packed": packed,
            "bad": bad}, blob.tobytes(), odd


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
    cluster_at: dict[str | None, int | None] = dict(zip([c.id for c in graph.clusters], count()))
    cluster_at[None] = -1
    kinds = dict(zip(SHAPES, count()))
    node_ids = list(map(attrgetter("id"), nodes))
    node_at = dict(zip(node_ids, count()))
    contributions = list(map(attrgetter("contributions"), steps))
    flat_contributions = list(chain.from_iterable(contributions))
    # values: by identity, in order of first use; index 0 is "none"
    columns = [list(map(attrgetter("value"), nodes)), list(map(attrgetter("grad"), nodes)),
               list(map(attrgetter("grad"), edges)), list(map(attrgetter("upstream"), steps)),
               list(map(attrgetter("value"), flat_contributions))]
    by_id = {id(None): None}
    for col in columns:
        by_id.update(zip(map(id, col), col))
    at = dict(zip(dict.fromkeys(chain([id(None)], *[map(id, col) for col in columns])), count()))
    value, grad, edge_grad, upstream, contributed = [list(map(at.__getitem__, map(id, col))) for col in columns]
    distinct = [by_id[k] for k in at][1:]
    vcols, blob, odd = _values(distinct)
    odd = {k + 1 for k in odd}
    local = list(chain.from_iterable(map(attrgetter("local"), steps)))
    strings, (ids, label, op, module, args, definition, source, step_node, grad_fn, step_to,
              local_to, local_formula, cluster_label) = _interned([
        node_ids, list(map(attrgetter("label"), nodes)), list(map(attrgetter("op"), nodes)),
        list(map(attrgetter("module"), nodes)), [n.args or None for n in nodes],
        list(map(attrgetter("definition"), nodes)), list(map(attrgetter("source"), nodes)),
        list(map(attrgetter("node"), steps)), list(map(attrgetter("grad_fn"), steps)),
        list(map(attrgetter("to"), flat_contributions)), list(map(attrgetter("to"), local)),
        list(map(attrgetter("formula"), local)), [c.label for c in graph.clusters]])
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
    edge_made = {k: pieces.edge_attrs(e.grad) for k, e in enumerate(edges) if edge_grad[k] in odd} if odd else {}
    return {"strings": strings, "values": vcols, "kinds": list(SHAPES),
            "nodes": {"id": ids, "kind": [kinds[n.kind] for n in nodes], "label": label, "op": op, "module": module,
                      "cluster": list(map(cluster_at.__getitem__, map(attrgetter("cluster"), nodes))), "args": args,
                      "definition": definition, "value": value, "grad": grad, "source": source},
            "edges": {"source": list(map(node_at.__getitem__, map(attrgetter("source"), edges))),
                      "target": list(map(node_at.__getitem__, map(attrgetter("target"), edges))), "grad": edge_grad},
            "steps": {"index": list(map(attrgetter("index"), steps)), "node": step_node, "grad_fn": grad_fn,
                      "upstream": upstream, "leaf": [1 if x.leaf else 0 for x in steps],
                      "size": list(map(len, contributions)), "to": step_to, "value": contributed,
                      "localSize": [len(x.local) for x in steps], "localTo": local_to, "localFormula": local_formula},
            "clusters": {"id": [c.id for c in graph.clusters], "kind": [c.kind for c in graph.clusters],
                         "label": cluster_label, "parent": [cluster_at[c.parent] for c in graph.clusters]},
            "outputs": list(graph.outputs), "madeEdges": edge_made}, blob, made, exotic


def _binary(columns: dict[str, Any], floats: bytes) -> bytes:
    """The page's numbers as one little-endian blob: the float32 numbers, then every column of integers
    of the nodes, edges, steps and values (int32; -1 for none), each column's list in ``columns``
    replaced by its ``[offset, length]`` in 4-byte words (4 bytes an index instead of its digits in
    JSON: less to write and, compressed, less to ship)."""
    parts = [floats]
    at = len(floats) // 4
    columns["floats"] = [0, at]
    for group in ("nodes", "edges", "steps", "values"):
        cols = columns[group]
        for name in [k for k in cols if k not in ("data", "packed", "bad", "metas")]:
            ints = array("i", cols[name])
            if sys.byteorder != "little":
                ints.byteswap()
            cols[name] = [at, len(ints)]
            at += len(ints)
            parts.append(ints.tobytes())
    return b"".join(parts)


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
    view, plumbing = graph, {}
    if not options.show_all:  # the page explores the tidy graph: no library frames, plumbing folded
        tidied = tidy(graph)
        view = tidied.graph
        if tidied.library:
            max_nodes = LIBRARY_MAX_NODES
        graph, plumbing = _plumbing_opened(graph, tidied)  # ... into boxes the page opens
    opening, mapping = resolve_view(view, options.depth, max_nodes, show_all=True)
    closed = _collapsed_clusters(opening)
    params = _params(view)  # a module's box counts what the static figure's does (no folded buffer)
    modules = {c.id: {"qualname": c.qualname or "", "type": c.type_name or "", "level": module_level(c.qualname),
                      "params": params.get(c.id, 0)}
               for c in graph.clusters if c.kind == "module"}
    kinds = {n.kind for n in view.nodes} | ({"module"} if modules else set())
    columns, floats, made, exotic = _columns(graph, steps, pieces)
    blob = _binary(columns, floats)
    boxes = (_module_boxes if exotic else _opening_boxes)(view, pieces, opening)
    opened = sorted(boxes)
    return {
        "graph": columns,
        "made": sorted(made),
        "opened": opened,
        "header": pieces.header(),
        "legend": pieces.legend(kinds, view),
        "style": _style(pieces),
        "modules": modules,
        "folds": _folds(opening, mapping, pieces, plumbing),
        "closed": sorted(closed, key=lambda cid: int(cid[1:]) if cid[1:].isdigit() else 0),
        "digits": options.digits,
    }, _lines([made[i] for i in sorted(made)] + [boxes[c] for c in opened]), blob
