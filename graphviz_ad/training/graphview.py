"""The model's graph for a run's slider: traced once on a copy of the model, laid out once.

The page recolours the boxes per step; each box knows which recorded parameters it stands for: a
parameter node its own, a collapsed module box every parameter under that module. Tracing runs on a
deep copy with the RNG state restored afterwards, so drawing the graph never changes the training
(BatchNorm statistics, dropout's random numbers).
"""

from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["GraphView", "trace_graph", "node_groups"]

_NODE = re.compile(r'<g id="([^"]+)" class="node ([^"]*)">\s*<title>[^<]*</title>\s*(?:<g id="a_[^"]*"><a '
                   r'xlink:title="([^"]*)")?')


@dataclass(frozen=True)
class GraphView:
    """``svg``: the laid-out graph; ``param_labels``: parameter node id -> parameter name."""

    svg: str
    param_labels: dict[str, str]
    node_ids: frozenset[str]  # the trace's own nodes; any other box of the SVG is a collapsed module

    def boxes_for(self, names: list[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(svg node id, indices into ``names`` of the parameters the box stands for), for each box."""
        return node_groups(self.svg, self.param_labels, names, self.node_ids)


def node_groups(svg: str, param_labels: dict[str, str], names: list[str],
                node_ids: frozenset[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Which recorded parameters each box of ``svg`` stands for (boxes standing for none are left out): a
    parameter node its own; a box that is none of the trace's nodes (a collapsed module, also one drawn
    as the output) every parameter under the module its tooltip names."""
    index = {n: i for i, n in enumerate(names)}
    out: list[tuple[str, tuple[int, ...]]] = []
    for m in _NODE.finditer(svg):
        node_id, cls, tip = m.group(1), html.unescape(m.group(2)), html.unescape(m.group(3) or "")
        if "gad-param" in cls.split() and node_id in param_labels:
            i = index.get(param_labels[node_id])
            if i is not None:
                out.append((node_id, (i,)))
        elif node_id not in node_ids:
            found = re.search(r"^module: (\S+)$", tip, re.M)
            if found:
                prefix = found.group(1) + "."
                members = tuple(i for n, i in index.items() if n.startswith(prefix))
                if members:
                    out.append((node_id, members))
    return tuple(out)


def trace_graph(model: torch.nn.Module, sample: tuple[tuple[Any, ...], dict[str, Any]],
                depth: int | str | None = "auto") -> GraphView:
    """Trace ``model`` (a copy of it) on ``sample`` = (args, kwargs) and lay the graph out once."""
    from ..api import trace
    from ..render.options import RenderOptions

    args, kwargs = sample
    twin = copy.deepcopy(model)
    cuda = sorted({p.device.index or 0 for p in twin.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=cuda):
        t = trace(twin, *args, **kwargs)
    svg = t.to_svg(RenderOptions(grads=False, legend=False, depth=depth))
    nodes = t.to_json()["nodes"]
    labels = {n["id"]: n["label"] for n in nodes if n["kind"] == "param"}
    return GraphView(svg=svg, param_labels=labels, node_ids=frozenset(n["id"] for n in nodes))
