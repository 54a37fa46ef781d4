"""Folding for graphs too big to read: scalar constants into their op's label, long op chains into one box."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from operator import itemgetter

from ..model.graph import Cluster, Edge, Graph, Node

__all__ = ["fold_constants", "fold_chains", "fold_to_fit", "rebuild_view", "MIN_CHAIN"]

MIN_CHAIN = 4


def _copy(n: Node, **kw: object) -> Node:
    """A new node with ``n``'s fields (not its operands) and ``kw`` instead."""
    node = Node(n.id, n.kind, n.label, n.op, n.module, n.cluster, n.value, n.grad, n.args, n.source, n.flags,
                definition=n.definition)
    for name, value in kw.items():
        setattr(node, name, value)
    return node


def rebuild_view(graph: Graph, nodes: list[Node], mapping: dict[str, str],
                 clusters: list[Cluster] | None = None) -> Graph:
    """A view holding ``nodes`` (shared or new; renderers never change them) and ``graph``'s edges
    mapped through ``mapping``: edges inside one drawn node vanish, parallel ones merge (their
    gradient is then not shown: no single number flows along them)."""
    edges: list[Edge] = []
    index: dict[tuple[str, str], Edge] = {}
    drawn = mapping.get
    for e in graph.edges:
        s, t = drawn(e.source), drawn(e.target)
        if s is None or t is None or s == t:
            continue
        key = (s, t)
        known = index.get(key)
        if known is not None:
            known.grad = None
            continue
        edge = index[key] = Edge(s, t, e.grad)
        edges.append(edge)
    outputs = list(dict.fromkeys(mapping[o] for o in graph.outputs if o in mapping))
    return Graph.assemble(list(nodes), edges, list(graph.clusters if clusters is None else clusters), outputs,
                          dict(graph.meta))


def _constants(graph: Graph) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Python-number constant nodes (id -> label), and the constants each consumer takes (id -> labels)."""
    consts: dict[str, str] = {n.id: n.label for n in graph.nodes if n.kind == "const" and n.op == "const"}
    extra: dict[str, list[str]] = {}
    if consts:
        for e in graph.edges:
            if e.source in consts:
                extra.setdefault(e.target, []).append(consts[e.source])
    return consts, extra


def _with_constants(extra: dict[str, list[str]]) -> Callable[[Node], Node]:
    """A node as drawn once constants are folded: a copy showing them in its arguments, or itself."""
    def drawn(n: Node) -> Node:
        labels = extra.get(n.id)
        if labels is None:
            return n
        return _copy(n, args=", ".join(labels + ([n.args] if n.args else [])))
    return drawn


def fold_constants(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """Drop Python-number constant nodes; each consumer shows them in its label (``mul(2)``)."""
    consts, extra = _constants(graph)
    if not consts:
        return graph, {n.id: n.id for n in graph.nodes}
    drawn = _with_constants(extra)
    kept = [n for n in graph.nodes if n.id not in consts]
    mapping = {n.id: n.id for n in kept}
    return rebuild_view(graph, [drawn(n) for n in kept], mapping), mapping


def _chains(nodes: list[Node], pairs: list[tuple[str, str]], outputs: set[str], min_len: int,
            drawn: Callable[[Node], Node] | None = None) -> tuple[list[Node], dict[str, str]] | None:
    """The nodes and mapping of :func:`fold_chains` over ``nodes`` joined by ``pairs`` (source, target);
    None when no chain is long enough. ``drawn`` gives the node to draw for one left unfolded."""
    outs = Counter(map(itemgetter(0), pairs))
    ins = Counter(map(itemgetter(1), pairs))
    # source -> its only consumer, where that consumer has no other input
    only_next = {s: t for s, t in pairs if outs[s] == 1 and ins[t] == 1}
    by_id = {n.id: n for n in nodes}
    mapping: dict[str, str] = {}  # also: the nodes done
    folded_nodes: list[Node] = []
    for n in nodes:
        if n.id in mapping:
            continue
        chain = [n]
        if n.kind == "op":
            # b continues the chain: an op, the only consumer of the last one and taking nothing else,
            # in the same cluster, not an output
            cur = n
            while True:
                t = only_next.get(cur.id)
                if t is None:
                    break
                b = by_id[t]
                if b.kind != "op" or b.cluster != cur.cluster or t in outputs:
                    break
                cur = b
                chain.append(b)
        if len(chain) < min_len:
            mapping[n.id] = n.id
            folded_nodes.append(n if drawn is None else drawn(n))
            continue
        first, last = chain[0], chain[-1]
        ops = list(dict.fromkeys([c.op for c in chain]))
        pattern = " → ".join(ops[:4]) + (" …" if len(ops) > 4 else "")
        repeats, rest = divmod(len(chain), len(ops))
        folded = _copy(last, id=f"f{first.id}", label=f"{len(chain)} ops", op=pattern,
                       args=f"{pattern} ×{repeats}" if not rest and repeats > 1 else pattern,
                       flags=("collapsed", "chain"), source=f"{first.label} … {last.label}")
        mapping.update(dict.fromkeys([c.id for c in chain], folded.id))
        folded_nodes.append(folded)
    if len(folded_nodes) == len(nodes):
        return None
    return folded_nodes, mapping


def fold_chains(graph: Graph, min_len: int = MIN_CHAIN) -> tuple[Graph, dict[str, str]]:
    """Fold maximal runs of ops (one input from the previous op, one consumer, same cluster) into one box."""
    plan = _chains(graph.nodes, [(e.source, e.target) for e in graph.edges], set(graph.outputs), min_len)
    if plan is None:
        return graph, {n.id: n.id for n in graph.nodes}
    nodes, mapping = plan
    return rebuild_view(graph, nodes, mapping), mapping


def fold_to_fit(graph: Graph, max_nodes: int) -> tuple[Graph, dict[str, str]]:
    """``fold_constants``, then ``fold_chains`` if the picture still has over ``max_nodes`` boxes; the same
    view and mapping as the two steps, but built once: chains are found on the graph without its
    constants, and the nodes folded into a chain are never copied."""
    consts = {n.id: n.label for n in graph.nodes if n.kind == "const" and n.op == "const"}
    if not consts:
        return fold_chains(graph) if len(graph.nodes) > max_nodes else (graph, {n.id: n.id for n in graph.nodes})
    kept = [n for n in graph.nodes if n.id not in consts]
    mapping = {n.id: n.id for n in kept}
    find_chains = len(kept) > max_nodes
    extra: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []  # the edges fold_constants' view has: between kept nodes, no loops
    for e in graph.edges:
        s, t = e.source, e.target
        if s in consts:
            extra.setdefault(t, []).append(consts[s])
        elif find_chains and s in mapping and t in mapping and s != t:
            pairs.append((s, t))
    drawn = _with_constants(extra)
    plan = None
    if find_chains:
        pairs = list(dict.fromkeys(pairs))  # parallel edges merge there
        plan = _chains(kept, pairs, {o for o in graph.outputs if o in mapping}, MIN_CHAIN, drawn)
    if plan is None:
        return rebuild_view(graph, [drawn(n) for n in kept], mapping), mapping
    nodes, chained = plan
    mapping = {k: chained[k] for k in mapping}
    return rebuild_view(graph, nodes, mapping), mapping
