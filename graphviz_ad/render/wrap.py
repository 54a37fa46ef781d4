"""Long chains wrapped into rows: a picture that is one path of many boxes reads at page width.

``dot`` puts every box of a chain on its own rank, so 50 layers drawn left to right make a strip
tens of thousands of points long. Here the edge that ends each row of ``per_row`` boxes stops
constraining the ranks (``constraint=false``): the next row starts again at the first rank, under
the one before, and the edge runs back from the row's end to the next row's start.
"""

from __future__ import annotations

from ..model.graph import Graph

__all__ = ["row_breaks", "WRAP_FROM", "WRAP_UPTO", "PER_ROW"]

WRAP_FROM = 16  # chains of at least this many boxes are wrapped
WRAP_UPTO = 400  # ... and at most this many: dot orders each rank's boxes, and 8 ranks of thousands cost minutes
PER_ROW = 8


def _chain(graph: Graph) -> list[str] | None:
    """The node ids in path order if the whole graph is one simple path, else None."""
    nodes = graph.nodes
    if len(graph.edges) != len(nodes) - 1:
        return None
    nxt: dict[str, str] = {}
    has_in: set[str] = set()
    for e in graph.edges:
        if e.source in nxt or e.target in has_in or e.source == e.target:
            return None
        nxt[e.source] = e.target
        has_in.add(e.target)
    starts = [n.id for n in nodes if n.id not in has_in]
    if len(starts) != 1:
        return None
    order = [starts[0]]
    while order[-1] in nxt and len(order) <= len(nodes):
        order.append(nxt[order[-1]])
    return order if len(order) == len(nodes) else None


def row_breaks(graph: Graph, per_row: int = PER_ROW, wrap_from: int = WRAP_FROM) -> set[tuple[str, str]]:
    """The edges (source, target) that end a row: none unless ``graph`` is one chain of ``wrap_from`` to
    ``WRAP_UPTO`` boxes (not inside clusters)."""
    if not wrap_from <= len(graph.nodes) <= WRAP_UPTO or graph.clusters:
        return set()
    order = _chain(graph)
    if order is None:
        return set()
    return {(order[k - 1], order[k]) for k in range(per_row, len(order), per_row)}
