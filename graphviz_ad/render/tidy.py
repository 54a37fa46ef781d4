"""The default view of a real model: library frames unframed, gradient-free plumbing folded, no-op casts dropped.

A model from an installed library (Hugging Face transformers) runs through decorators and helper
functions of that library, and computes attention masks and positions that carry no gradient; drawn as
recorded, they take more room than the layers. This view (a graph -> graph pass, the model untouched):

- draws a function cluster only for the user's own code: frames of installed libraries and a module's
  own ``forward`` reached through a library's wrapper are no clusters (the module cluster says it);
- folds the ops that carry no gradient and feed the graph only as masks, indices or positions (nothing
  on a path from a leaf that requires grad, and something integer or boolean behind them) into one box
  per cluster, with the constants and buffers that feed only them;
- drops casts that change nothing (``to`` with the same dtype, device and shape);
- drops clusters left empty; in a library's model, makes the names of ops unique within their cluster
  (``x``, ``x₂``).

``RenderOptions(show_all=True)`` skips it: everything as recorded.
"""

from __future__ import annotations

from ..model.graph import Cluster, Graph, Node
from .fold import rebuild_view

__all__ = ["tidy", "Tidied", "PLUMBING_MIN", "CASTS", "PLUMBING_OP"]

PLUMBING_MIN = 2  # in the user's own code, a cluster's plumbing is folded from this many nodes
PLUMBING_OP = "plumbing"
CASTS = frozenset({"to", "type", "float", "double", "half", "bfloat16", "long", "int", "bool", "cpu", "cuda"})
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


class Tidied:
    """The view, where each original node is drawn, and whether it hid an installed library's frames
    (then the picture is of a library's model, and the automatic depth aims at a page)."""

    __slots__ = ("graph", "mapping", "library")

    def __init__(self, graph: Graph, mapping: dict[str, str], library: bool) -> None:
        self.graph = graph
        self.mapping = mapping
        self.library = library


def _no_grad(n: Node) -> bool:
    return "no_grad" in n.flags


def _indexish(n: Node) -> bool:
    """An integer or boolean tensor (indices, positions, masks); Python numbers are not."""
    v = n.value
    if v is None or v.device == "python":
        return False
    return v.dtype == "bool" or v.dtype.startswith(("int", "uint"))


def _drawn_clusters(graph: Graph) -> tuple[dict[str | None, str | None], list[Cluster], bool]:
    """(cluster id -> the cluster drawn for it, the clusters drawn with their parents, whether any was hidden)."""
    drawn: dict[str | None, str | None] = {None: None}
    kept: list[Cluster] = []
    hidden = False
    for c in graph.clusters:  # parents are created before their children
        parent = drawn.get(c.parent)
        if c.kind == "function" and c.origin != "user":
            drawn[c.id] = parent
            hidden = True
            continue
        drawn[c.id] = c.id
        kept.append(c if c.parent == parent else Cluster(c.id, c.kind, c.label, parent, c.qualname, c.type_name,
                                                         c.origin))
    return drawn, kept, hidden


def _plumbing(graph: Graph, ins: dict[str, list[str]], outs: dict[str, list[str]]) -> set[str]:
    """The nodes that carry no gradient and feed the graph only as masks, indices or positions."""
    tainted: set[str] = set()  # on a path from something that carries a gradient, or from a parameter
    index: set[str] = set()  # untainted, with an integer or boolean tensor at or behind it
    for n in graph.nodes:  # sources come before their consumers
        srcs = ins.get(n.id, ())
        if not _no_grad(n) or (n.kind == "param" and n.op == "parameter") or any(s in tainted for s in srcs):
            tainted.add(n.id)
        elif _indexish(n) or any(s in index for s in srcs):
            index.add(n.id)
    outputs = set(graph.outputs)
    folded = {n.id for n in graph.nodes
              if n.id in index and n.kind in ("op", "const") and n.op != "const" and n.id not in outputs}
    # what feeds only the plumbing joins it: a float buffer (inv_freq), a constant, a cast of positions
    for n in reversed(graph.nodes):
        if n.id in folded or n.id in tainted or n.id in outputs or n.kind == "input":
            continue
        if n.kind == "param" and n.op != "buffer":
            continue
        consumers = outs.get(n.id)
        if consumers and all(t in folded for t in consumers):
            folded.add(n.id)
    return folded


def _is_noop_cast(n: Node, by_id: dict[str, Node]) -> bool:
    if n.kind not in ("op", "output") or n.op not in CASTS or len(n.operands) != 1:
        return False
    src = by_id.get(n.operands[0])
    a, b = n.value, src.value if src is not None else None
    return (a is not None and b is not None and a.dtype == b.dtype and a.device == b.device
            and a.shape == b.shape and b.device != "python")


def _plumbing_node(members: list[Node], cluster: str | None) -> Node:
    ops = [m for m in members if m.kind == "op" or (m.kind == "const" and m.op not in ("const", "tensor"))]
    names = list(dict.fromkeys(m.op for m in ops))
    pattern = " → ".join(names[:4]) + (" …" if len(names) > 4 else "")
    count = len(ops)
    label = f"mask and position plumbing: {count} op{'s' if count != 1 else ''}"
    source = ", ".join(dict.fromkeys(m.label for m in members))
    first = members[0]
    return Node(id=f"p{first.id}", kind="const", label=label, op=PLUMBING_OP, module=first.module, cluster=cluster,
                args=pattern, source=source, flags=("collapsed", PLUMBING_OP))


def tidy(graph: Graph) -> Tidied:
    """The default view of ``graph`` (see the module docstring); ``graph`` itself where nothing changes."""
    drawn_of, clusters, hidden = _drawn_clusters(graph)
    by_id = graph.node_index
    if not hidden and not any((_indexish(n) and _no_grad(n)) or n.op in CASTS for n in graph.nodes):
        # no plumbing can start and no cast be dropped (a 5,000-op loop pays one pass): only empty clusters
        return _without_empty(graph)
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for e in graph.edges:
        ins.setdefault(e.target, []).append(e.source)
        outs.setdefault(e.source, []).append(e.target)
    folded = _plumbing(graph, ins, outs)
    groups: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        if n.id in folded:
            groups.setdefault(drawn_of.get(n.cluster), []).append(n)
    # in the user's own code a group is folded when it is big enough and feeds the graph (a batch norm's
    # counter update, ``num_batches_tracked += 1``, feeds nothing: it is no mask and stays as it is)
    def feeds(members: list[Node]) -> bool:
        own = {m.id for m in members}
        return any(t not in own for m in members for t in outs.get(m.id, ()))

    if not hidden:  # the user's own code (a library's model folds all of its plumbing, checks of masks too)
        for key in [k for k, members in groups.items() if len(members) < PLUMBING_MIN or not feeds(members)]:
            folded.difference_update(m.id for m in groups.pop(key))
    outputs = set(graph.outputs)
    # casts drawn as nothing: their source goes on; an output cast (``logits.float()`` of float32 logits,
    # the same tensor) makes its source the output, under the output's name
    cast_to: dict[str, str] = {}
    promoted: dict[str, Node] = {}
    for n in graph.nodes:
        if n.id in folded or not _is_noop_cast(n, by_id):
            continue
        src = cast_to.get(n.operands[0], n.operands[0])
        if src in folded:
            continue
        if n.id in outputs:
            if by_id[src].kind != "op" or src in outputs or src in promoted:
                continue
            promoted[src] = n
        cast_to[n.id] = src
    mapping: dict[str, str] = {}
    group_node: dict[str | None, Node] = {}
    kept: list[Node] = []
    for n in graph.nodes:
        if n.id in folded:
            where = drawn_of.get(n.cluster)
            box = group_node.get(where)
            if box is None:
                box = group_node[where] = _plumbing_node(groups[where], where)
                kept.append(box)
            mapping[n.id] = box.id
        elif n.id in cast_to:
            mapping[n.id] = cast_to[n.id]
        else:
            mapping[n.id] = n.id
            out = promoted.get(n.id)
            kept.append(n if out is None else _copy(n, kind="output", label=out.label))
    # a library's names unique within their cluster: the second ``x`` there is ``x₂`` (the user's own
    # code keeps the names as written: a loop's ``x`` is the variable they know)
    library = hidden
    seen: dict[tuple[str | None, str], int] = {}
    nodes: list[Node] = []
    renamed = False
    for n in kept:
        where = drawn_of.get(n.cluster) if n.cluster is not None else None
        label = n.label
        if library and n.kind in ("op", "output") and label != n.op:
            k = seen[(where, label)] = seen.get((where, label), 0) + 1
            if k > 1:
                label = f"{label}{str(k).translate(_SUBSCRIPTS)}"
                renamed = True
        if where != n.cluster or label != n.label:
            n = _copy(n, cluster=where, label=label)
        nodes.append(n)
    used: set[str] = set()
    parent_of = {c.id: c.parent for c in clusters}
    for n in nodes:
        c = n.cluster
        while c is not None and c not in used:
            used.add(c)
            c = parent_of.get(c)
    empty = len(used) != len(clusters)
    if empty:
        clusters = [c for c in clusters if c.id in used]
    if not (hidden or folded or empty or renamed or len(nodes) != len(graph.nodes)):
        return Tidied(graph, mapping, False)
    return Tidied(rebuild_view(graph, nodes, mapping, clusters), mapping, library)


def _without_empty(graph: Graph) -> Tidied:
    """``graph`` without its empty clusters (``graph`` itself where it has none)."""
    parent_of = {c.id: c.parent for c in graph.clusters}
    used: set[str] = set()
    for cid in {n.cluster for n in graph.nodes}:
        while cid is not None and cid not in used:
            used.add(cid)
            cid = parent_of.get(cid)
    mapping = {n.id: n.id for n in graph.nodes}
    if len(used) == len(graph.clusters):
        return Tidied(graph, mapping, False)
    clusters = [c for c in graph.clusters if c.id in used]
    return Tidied(Graph.assemble(list(graph.nodes), list(graph.edges), clusters, list(graph.outputs),
                                 dict(graph.meta)), mapping, False)


def _copy(n: Node, **kw: object) -> Node:
    """A new node with ``n``'s fields (and its operands) and ``kw`` instead."""
    node = Node(n.id, n.kind, n.label, n.op, n.module, n.cluster, n.value, n.grad, n.args, n.source, n.flags,
                n.operands)
    for name, value in kw.items():
        setattr(node, name, value)
    return node
