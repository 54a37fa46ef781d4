"""One graph in one output format: the single place that maps a format name to its bytes.

``Trace.render``, the CLI, the figures build and the Sphinx directive all call
:func:`graph_bytes`, so a format means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model.export import dumps, to_json
from ..model.graph import Graph
from ..model.steps import Step
from ..model.updates import OptimizerRecord
from ..output.backend import run_dot
from .dot import to_dot
from .options import RenderOptions

__all__ = ["GRAPH_FORMATS", "graph_bytes"]

GRAPH_FORMATS = ("svg", "png", "pdf", "dot", "json")


def graph_bytes(graph: Graph, fmt: str, options: RenderOptions | None = None, steps: Sequence[Step] = (),
                update: OptimizerRecord | None = None) -> bytes | str:
    """``fmt`` (one of :data:`GRAPH_FORMATS`) of ``graph``: text for dot, json and svg, bytes for png and pdf.

    JSON holds the graph, its ``steps`` and ``update`` (no render options apply); the others are
    drawn with ``options``, SVG/PNG/PDF laid out by Graphviz's ``dot``.
    """
    if fmt == "json":
        return dumps(to_json(graph, list(steps), update))
    if fmt not in GRAPH_FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; use one of {', '.join(GRAPH_FORMATS)}")
    dot = to_dot(graph, options)
    if fmt == "dot":
        return dot
    data = run_dot(dot, fmt)
    return data.decode("utf-8") if fmt == "svg" else data
