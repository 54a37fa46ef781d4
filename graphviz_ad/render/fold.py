"""Folding for graphs too big to read: scalar constants into their op's label, long op chains into one box."""

from __future__ import annotations

from ..graph.model import Cluster, Graph, Node

__all__ = ["fold_constants", "fold_chains", "rebuild_view", "MIN_CHAIN"]

MIN_CHAIN = 4


def _copy(n: Node, **kw: object) -> Node:
    fields = dict(id=n.id, kind=n.kind, label=n.label, op=n.op, module=n.module, cluster=n.cluster, value=n.value,
                  grad=n.grad, args=n.args, source=n.source, flags=n.flags)
    fields.update(kw)
    return Node(**fields)  # type: ignore[arg-type]


def rebuild_view(graph: Graph, nodes: list[Node], mapping: dict[str, str],
                 clusters: list[Cluster] | None = None) -> Graph:
    """A view holding ``nodes`` (shared or new; renderers never change them) and ``graph``'s edges
    mapped through ``mapping``: edges inside one drawn node vanish, parallel ones merge (their
    gradient is then not shown: no single number flows along them)."""
    view = Graph(clusters=list(graph.clusters if clusters is None else clusters), meta=dict(graph.meta))
    for n in nodes:
        view.nodes.append(n)
        view._by_id[n.id] = n
    for e in graph.edges:
        s, t = mapping.get(e.source), mapping.get(e.target)
        if s is None or t is None or s == t:
            continue
        if (s, t) in view._edge_index:
            view._edge_index[(s, t)].grad = None
            continue
        view.add_edge(s, t).grad = e.grad
    view.outputs = list(dict.fromkeys(mapping[o] for o in graph.outputs if o in mapping))
    return view


def fold_constants(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """Drop Python-number constant nodes; each consumer shows them in its label (``mul(2)``)."""
    consts: dict[str, str] = {n.id: n.label for n in graph.nodes if n.kind == "const" and n.op == "const"}
    if not consts:
        return graph, {n.id: n.id for n in graph.nodes}
    extra: dict[str, list[str]] = {}
    for e in graph.edges:
        if e.source in consts:
            extra.setdefault(e.target, []).append(consts[e.source])
    mapping: dict[str, str] = {}
    nodes: list[Node] = []
    for n in graph.nodes:
        if n.id in consts:
            continue
        mapping[n.id] = n.id
        if n.id in extra:
            args = ", ".join(extra[n.id] + ([n.args] if n.args else []))
            nodes.append(_copy(n, args=args))
        else:
            nodes.append(n)
    return rebuild_view(graph, nodes, mapping), mapping


def fold_chains(graph: Graph, min_len: int = MIN_CHAIN) -> tuple[Graph, dict[str, str]]:
    """Fold maximal runs of ops (one input from the previous op, one consumer, same cluster) into one box."""
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for e in graph.edges:
        outs.setdefault(e.source, []).append(e.target)
        ins.setdefault(e.target, []).append(e.source)
    by_id = {n.id: n for n in graph.nodes}
    outputs = set(graph.outputs)

    def linkable(a: Node, b: Node) -> bool:
        """b directly continues a's chain."""
        return (a.kind == "op" and b.kind == "op" and outs.get(a.id) == [b.id]
                and len(ins.get(b.id, [])) == 1 and a.cluster == b.cluster and b.id not in outputs)

    mapping: dict[str, str] = {}
    nodes: list[Node] = []
    done: set[str] = set()
    for n in graph.nodes:
        if n.id in done:
            continue
        chain = [n]
        if n.kind == "op":
            cur = n
            while True:
                nxt = outs.get(cur.id)
                if not nxt or len(nxt) != 1 or not linkable(cur, by_id[nxt[0]]):
                    break
                cur = by_id[nxt[0]]
                chain.append(cur)
        if len(chain) < min_len:
            mapping[n.id] = n.id
            done.add(n.id)
            nodes.append(n)
            continue
        first, last = chain[0], chain[-1]
        ops = list(dict.fromkeys(c.op for c in chain))
        pattern = " → ".join(ops[:4]) + (" …" if len(ops) > 4 else "")
        repeats, rest = divmod(len(chain), len(ops))
        folded = _copy(last, id=f"f{first.id}", label=f"{len(chain)} ops", op=pattern,
                       args=f"{pattern} ×{repeats}" if not rest and repeats > 1 else pattern,
                       flags=("collapsed", "chain"), source=f"{first.label} … {last.label}")
        for c in chain:
            mapping[c.id] = folded.id
            done.add(c.id)
        nodes.append(folded)
    if len(nodes) == len(graph.nodes):
        return graph, {n.id: n.id for n in graph.nodes}
    return rebuild_view(graph, nodes, mapping), mapping
