"""What the explorer page needs of a trace: its JSON (schema graphviz_ad/1) and each part's DOT text.

The page composes the DOT of the view that is open from these pieces (a node's statement, a collapsed
module's box, a cluster's attributes, an edge's gradient label), so it draws exactly what the static
figures draw (:class:`graphviz_ad.render.dot.DotPieces`), and lays out only what is open.
"""

from __future__ import annotations

import math
from typing import Any

from ..model.export import to_json
from ..model.graph import Graph
from ..model.steps import Step
from ..render.collapse import AUTO_MAX_NODES, LIBRARY_MAX_NODES, collapse, module_level, resolve_view
from ..render.dot import DotPieces
from ..render.options import RenderOptions
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
    """cluster id -> the DOT statement of its collapsed box (the opening view's own box where it has one)."""
    boxes = {n.id[1:]: pieces.node(n) for n in opening.nodes if n.id[1:] in _collapsed_clusters(opening)}
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


def _for_page(data: dict[str, Any]) -> dict[str, Any]:
    """``to_json``'s dict without what the page never reads and holds elsewhere: a step's ``incoming``
    (the earlier steps' contributions again) and its local derivatives' values (their formulas stay)."""
    for s in data["steps"]:
        del s["incoming"]
        for loc in s["local"]:
            del loc["value"]
    return data


def _lines(statements: list[str]) -> str:
    """Statements one per line. Labels hold no control characters (``html_text``, ``clean_text``); a line
    break elsewhere would sit in a quoted string, where DOT reads ``\\n`` the same."""
    return "\n".join([x.replace("\n", "\\n") if "\n" in x else x for x in statements])


def page_data(graph: Graph, steps: list[Step], options: RenderOptions) -> tuple[dict[str, Any], str]:
    """The page's data: ``graph`` (``to_json``), the modules and the opening view; and the DOT pieces as
    text, one statement a line: every node's, every edge's gradient label, every cluster's attributes,
    every module's collapsed box (in the order of the data's ``modules``). Plain lines cost no JSON
    escapes (DOT is full of quotes)."""
    pieces = DotPieces(options, tooltips=False)  # the details panel shows every digit
    max_nodes = AUTO_MAX_NODES
    if not options.show_all:  # the page explores the tidy graph: no library frames, plumbing folded
        tidied = tidy(graph)
        graph = tidied.graph
        if tidied.library:
            max_nodes = LIBRARY_MAX_NODES
    opening, mapping = resolve_view(graph, options.depth, max_nodes, show_all=True)
    closed = _collapsed_clusters(opening)
    boxes = _module_boxes(graph, pieces, opening)
    params = _params(graph)
    modules = {c.id: {"qualname": c.qualname or "", "type": c.type_name or "", "level": module_level(c.qualname),
                      "params": params.get(c.id, 0)}
               for c in graph.clusters if c.kind == "module"}
    kinds = {n.kind for n in graph.nodes} | ({"module"} if modules else set())
    dot = _lines([pieces.node(n) for n in graph.nodes] + [pieces.edge_attrs(e.grad) for e in graph.edges]
                 + [pieces.cluster(c) for c in graph.clusters] + [boxes.get(cid, "") for cid in modules])
    return {
        "graph": _for_page(to_json(graph, steps)),
        "header": pieces.header(),
        "legend": pieces.legend(kinds, graph),
        "sources": [n.source for n in graph.nodes],
        "modules": modules,
        "folds": _folds(opening, mapping, pieces),
        "closed": sorted(closed, key=lambda cid: int(cid[1:]) if cid[1:].isdigit() else 0),
        "digits": options.digits,
    }, dot
