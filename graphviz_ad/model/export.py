"""The graph and its steps as JSON (schema graphviz_ad/1) and as a networkx DiGraph."""

from __future__ import annotations

import json
from typing import Any

from ..gcpause import gc_paused
from .graph import Graph
from .steps import Step
from .updates import OptimizerRecord
from .values import Value

__all__ = ["to_json", "dumps", "to_networkx", "SCHEMA"]

SCHEMA = "graphviz_ad/1"


def _v(v: Value | None) -> Any:
    return None if v is None else v.to_json()


@gc_paused()
def to_json(graph: Graph, steps: list[Step] | None = None, update: OptimizerRecord | None = None) -> dict[str, Any]:
    """A JSON-ready dict; non-finite numbers are strings ("nan", "inf", "-inf")."""
    nodes: list[dict[str, Any]] = []
    add = nodes.append
    for n in graph.nodes:
        v = n.value
        add({
            "id": n.id, "kind": n.kind, "label": n.label, "op": n.op, "module": n.module,
            "shape": list(v.shape) if v is not None else None,
            "dtype": v.dtype if v is not None else None,
            "value": _v(v), "grad": _v(n.grad),
            "cluster": n.cluster, "args": n.args or None,
        })
    edges = [{"source": e.source, "target": e.target, "grad": _v(e.grad)} for e in graph.edges]
    clusters = [{"id": c.id, "kind": c.kind, "label": c.label, "parent": c.parent} for c in graph.clusters]
    out_steps: list[dict[str, Any]] = []
    add = out_steps.append
    for s in steps or []:
        add({
            "index": s.index, "node": s.node, "grad_fn": s.grad_fn, "upstream": _v(s.upstream),
            "local": [{"to": loc.to, "formula": loc.formula, "value": _v(loc.value)} for loc in s.local],
            "contributions": [{"to": c.to, "value": _v(c.value)} for c in s.contributions],
            "incoming": [{"step": i.step, "from": i.source, "value": _v(i.value)} for i in s.incoming],
            "leaf": s.leaf,
        })
    out: dict[str, Any] = {"schema": SCHEMA, "nodes": nodes, "edges": edges, "steps": out_steps,
                           "clusters": clusters, "outputs": list(graph.outputs)}
    if update is not None:
        out["optimizer"] = {
            "name": update.optimizer, "dry_run": update.dry_run,
            "updates": [{"node": u.node, "name": u.name, "old": _v(u.old), "grad": _v(u.grad), "new": _v(u.new),
                         "state_before": {k: _v(v) for k, v in u.state_before.items()},
                         "state_after": {k: _v(v) for k, v in u.state_after.items()},
                         "rule": u.rule, "hyper": {k: list(v) if isinstance(v, tuple) else v
                                                   for k, v in u.hyper.items()}}
                        for u in update.updates]}
    return out


def dumps(data: dict[str, Any]) -> str:
    """Deterministic JSON text (key order as built, UTF-8 kept, newline at the end)."""
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def to_networkx(graph: Graph) -> Any:
    """A ``networkx.DiGraph`` with node and edge attributes (JSON-style values)."""
    import networkx as nx

    g = nx.DiGraph()
    for n in graph.nodes:
        g.add_node(n.id, kind=n.kind, label=n.label, op=n.op, module=n.module, cluster=n.cluster,
                   shape=n.shape, dtype=n.dtype, value=_v(n.value), grad=_v(n.grad))
    for e in graph.edges:
        g.add_edge(e.source, e.target, grad=_v(e.grad))
    return g
