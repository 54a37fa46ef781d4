"""Module collapsing for big models: modules below a depth become single boxes (a view; the model is untouched)."""

from __future__ import annotations

import math

from ..model.graph import Graph, Node
from .fold import fold_to_fit, rebuild_view
from .tidy import PLUMBING_OP, tidy

__all__ = ["collapse", "auto_depth", "module_level", "resolve_view", "view_for", "AUTO_MAX_NODES",
           "LIBRARY_MAX_NODES"]

AUTO_MAX_NODES = 150
LIBRARY_MAX_NODES = 60  # a library's model (its frames or plumbing hidden): a first picture that fits a page


def module_level(qualname: str | None) -> int:
    """``""`` (a root) -> 0, ``layers`` -> 1, ``layers.0`` -> 2."""
    return len(qualname.split(".")) if qualname else 0


def _levels(graph: Graph) -> dict[str, int]:
    """module cluster id -> its module level."""
    return {c.id: module_level(c.qualname) for c in graph.clusters if c.kind == "module"}


def _groups(graph: Graph, depth: int, levels: dict[str, int] | None = None) -> dict[str, str]:
    """cluster id -> id of the outermost module cluster (itself or an ancestor) collapsed at ``depth``."""
    if levels is None:
        levels = _levels(graph)
    out: dict[str, str] = {}
    for c in graph.clusters:  # parents are created before their children
        if c.parent is not None and c.parent in out:
            out[c.id] = out[c.parent]
        elif c.kind == "module" and levels[c.id] >= depth:
            out[c.id] = c.id
    return out


def visible_count(graph: Graph, depth: int | None, levels: dict[str, int] | None = None) -> int:
    """How many boxes ``collapse(graph, depth)`` draws (``levels``: ``_levels(graph)``, if known)."""
    if depth is None:
        return len(graph.nodes)
    groups = _groups(graph, depth, levels)
    drawn = [groups.get(n.cluster) if n.cluster else None for n in graph.nodes]  # a node's group, None: itself
    return drawn.count(None) + len(set(drawn) - {None})


def auto_depth(graph: Graph, max_nodes: int = AUTO_MAX_NODES) -> int | None:
    """The deepest expansion that keeps at most ``max_nodes`` boxes visible (None: everything fits)."""
    if len(graph.nodes) <= max_nodes:
        return None
    levels = _levels(graph)
    if not levels:
        return None
    for depth in range(max(levels.values()), -1, -1):
        if visible_count(graph, depth, levels) <= max_nodes:
            return depth
    return min(levels.values())


def _param_count(nodes: list[Node]) -> int:
    return sum(math.prod(n.value.shape) for n in nodes if n.kind == "param" and n.value is not None)


def collapse(graph: Graph, depth: int) -> tuple[Graph, dict[str, str]]:
    """A view of ``graph`` with module clusters at ``depth`` and below drawn as single nodes.

    Returns the view and a map from every original node id to the id drawn for it.
    """
    groups = _groups(graph, depth)
    if not groups:
        return graph, {n.id: n.id for n in graph.nodes}
    cluster_of = {c.id: c for c in graph.clusters}
    outputs = set(graph.outputs)
    members: dict[str, list[Node]] = {}
    group_of: dict[str, str | None] = {}  # node id -> the group drawn for it (None: drawn as itself)
    for n in graph.nodes:
        g = group_of[n.id] = groups.get(n.cluster) if n.cluster else None
        if g is not None:
            members.setdefault(g, []).append(n)
    mapping: dict[str, str] = {}
    made: dict[str, str] = {}
    leaving: dict[str, Node] = {}  # group -> the source of the last edge leaving it
    for e in graph.edges:
        gs = group_of[e.source]
        if gs is not None and gs != group_of[e.target]:
            src = graph.node(e.source)
            if src.op != PLUMBING_OP or gs not in leaving:  # a mask leaving is not the module's value
                leaving[gs] = src
    nodes: list[Node] = []
    for n in graph.nodes:
        g = group_of[n.id]
        if g is None:
            nodes.append(n)
            mapping[n.id] = n.id
            continue
        if g not in made:
            c = cluster_of[g]
            inner = members[g]
            out = leaving.get(g) or next((m for m in reversed(inner) if m.id in outputs), inner[-1])
            is_output = any(m.id in outputs for m in inner)
            nparams = _param_count(inner)
            node = Node(id=f"m{g}", kind="output" if is_output else "module", label=c.label,
                        op=c.type_name or "module", module=c.qualname, cluster=c.parent,
                        value=out.value, grad=out.grad,
                        args=f"{nparams:,} params" if nparams else "", flags=("collapsed",))
            nodes.append(node)
            made[g] = node.id
        mapping[n.id] = made[g]
    clusters = [c for c in graph.clusters if c.id not in groups]
    return rebuild_view(graph, nodes, mapping, clusters), mapping


def resolve_view(graph: Graph, depth: int | str | None, max_nodes: int = AUTO_MAX_NODES, *,
                 show_all: bool = False) -> tuple[Graph, dict[str, str]]:
    """The graph to draw for a ``depth`` option, and where each original node is drawn.

    Unless ``show_all``, library frames are unframed and gradient-free plumbing folded first
    (:mod:`.tidy`). ``"auto"`` collapses modules then (to at most ``max_nodes`` boxes, or
    ``LIBRARY_MAX_NODES`` for a library's model); if the picture is still too big (or has no
    modules) it folds scalar constants into their ops' labels, then long chains of ops into one box.
    """
    view, mapping = _resolve(graph, depth, max_nodes, True, show_all)
    assert mapping is not None
    return view, mapping


def view_for(graph: Graph, depth: int | str | None, max_nodes: int = AUTO_MAX_NODES, *,
             show_all: bool = False) -> Graph:
    """The graph :func:`resolve_view` draws, without the map of where each node went (DOT text needs none)."""
    return _resolve(graph, depth, max_nodes, False, show_all)[0]


def _resolve(graph: Graph, depth: int | str | None, max_nodes: int, want_mapping: bool,
             show_all: bool) -> tuple[Graph, dict[str, str] | None]:
    """The view for ``depth``, and (if ``want_mapping``; else None) where each original node is drawn."""
    if show_all:
        return _resolve_depth(graph, depth, max_nodes, want_mapping)
    tidied = tidy(graph)
    if tidied.graph is graph:
        return _resolve_depth(graph, depth, max_nodes, want_mapping)
    if tidied.library:
        max_nodes = min(max_nodes, LIBRARY_MAX_NODES)
    view, inner = _resolve_depth(tidied.graph, depth, max_nodes, True)
    assert inner is not None
    if not want_mapping:
        return view, None
    return view, {k: inner[v] for k, v in tidied.mapping.items() if v in inner}


def _resolve_depth(graph: Graph, depth: int | str | None, max_nodes: int,
                   want_mapping: bool) -> tuple[Graph, dict[str, str] | None]:
    """The view for ``depth``, and (if ``want_mapping``; else None) where each original node is drawn."""
    if depth is None:
        return graph, ({n.id: n.id for n in graph.nodes} if want_mapping else None)
    if depth != "auto":
        return collapse(graph, int(depth))
    d = auto_depth(graph, max_nodes)
    if d is None:
        view, mapping = graph, None  # None here: every node drawn as itself
    else:
        view, mapping = collapse(graph, d)
    if len(view.nodes) > max_nodes:
        view, inner = fold_to_fit(view, max_nodes)
        if not want_mapping:
            return view, None
        if mapping is None:
            return view, {n.id: inner[n.id] for n in graph.nodes if n.id in inner}
        return view, {k: inner[v] for k, v in mapping.items() if v in inner}
    if mapping is None and want_mapping:
        mapping = {n.id: n.id for n in graph.nodes}
    return view, mapping
