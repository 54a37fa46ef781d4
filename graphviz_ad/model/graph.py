"""The plain graph model: nodes, edges, clusters and values; no Graphviz objects, no rendering state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .values import Value

__all__ = ["Node", "Edge", "Cluster", "Graph", "NODE_KINDS"]

NODE_KINDS = ("input", "param", "const", "op", "output")


@dataclass(slots=True)
class Node:
    """One value in the computation: a leaf (input, param, const) or the result of an op.

    ``grad`` (and ``grad_value`` on edges) are filled in by the backward recorder.
    """

    id: str
    kind: str
    label: str
    op: str
    module: str | None = None
    cluster: str | None = None
    value: Value | None = None
    grad: Value | None = None
    args: str = ""  # non-tensor arguments, shown in the label ("dim=1")
    source: str | None = None  # the expression text or source line that produced it
    flags: tuple[str, ...] = ()
    operands: list[str] = field(default_factory=list)  # source node ids in argument order
    # its defining expression over earlier names, where the producer knows it (``a / b`` for ``c``)
    definition: str | None = None

    @property
    def shape(self) -> tuple[int, ...] | None:
        return self.value.shape if self.value is not None else None

    @property
    def dtype(self) -> str | None:
        return self.value.dtype if self.value is not None else None


@dataclass(slots=True)
class Edge:
    """Data flowing forward from ``source`` into ``target``; ``grad`` flows back along it."""

    source: str
    target: str
    grad: Value | None = None


@dataclass(slots=True)
class Cluster:
    """A call of a user's helper function or of a module: drawn as a labelled box."""

    id: str
    kind: str  # "function" | "module"
    label: str
    parent: str | None = None
    qualname: str | None = None  # modules: the qualified name (``layers.0``)
    type_name: str | None = None  # modules: the class name
    # functions: "user" (the user's own code), "library" (an installed library's: site-packages) or
    # "forward" (a module's own forward, called through a library's wrapper); views draw only "user" ones
    origin: str = "user"


@dataclass
class Graph:
    """Nodes in creation order, edges in creation order, clusters in entry order."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    _by_id: dict[str, Node] = field(default_factory=dict, repr=False)
    _edge_index: dict[tuple[str, str], Edge] = field(default_factory=dict, repr=False)

    def add_node(self, kind: str, label: str, op: str, module: str | None = None, cluster: str | None = None,
                 value: Value | None = None, args: str = "", source: str | None = None) -> Node:
        nodes = self.nodes
        node = Node(f"n{len(nodes)}", kind, label, op, module, cluster, value, None, args, source)
        nodes.append(node)
        self._by_id[node.id] = node
        return node

    def add_edge(self, source: str, target: str) -> Edge:
        key = (source, target)
        edge = self._edge_index.get(key)
        if edge is None:
            edge = Edge(source, target)
            self.edges.append(edge)
            self._edge_index[key] = edge
        return edge

    def add_cluster(self, kind: str, label: str, parent: str | None, **kw: Any) -> Cluster:
        c = Cluster(id=f"c{len(self.clusters)}", kind=kind, label=label, parent=parent, **kw)
        self.clusters.append(c)
        return c

    @classmethod
    def assemble(cls, nodes: list[Node], edges: list[Edge], clusters: list[Cluster], outputs: list[str],
                 meta: dict[str, Any]) -> "Graph":
        """A graph of parts made elsewhere (a view that folds or collapses another graph): the lookups
        by id are built here. ``edges`` must hold each (source, target) pair once."""
        g = cls(nodes=nodes, edges=edges, clusters=clusters, outputs=outputs, meta=meta)
        g._by_id = {n.id: n for n in nodes}
        g._edge_index = {(e.source, e.target): e for e in edges}
        return g

    def set_gradients(self, node_grads: dict[str, Value], edge_grads: dict[tuple[str, str], Value | None]) -> None:
        """What a backward pass found: each node's gradient (by id) and the gradient along each edge
        (by source and target; pairs not in the graph are ignored). Earlier gradients are dropped. An
        output that is an input passed through (``identity``) shows its source's gradient."""
        for n in self.nodes:
            n.grad = None
        for e in self.edges:
            e.grad = None
        by_id = self._by_id
        for nid, v in node_grads.items():
            by_id[nid].grad = v
        for oid in self.outputs:
            node = by_id[oid]
            if node.grad is None and node.op == "identity":
                sources = self.inputs_of(oid)
                node.grad = by_id[sources[0]].grad if sources else None
        index = self._edge_index
        for key, value in edge_grads.items():
            edge = index.get(key)
            if edge is not None:
                edge.grad = value

    @property
    def node_index(self) -> dict[str, Node]:
        """Every node by id (read it; :meth:`add_node` and :meth:`assemble` keep it)."""
        return self._by_id

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def edge(self, source: str, target: str) -> Edge | None:
        return self._edge_index.get((source, target))

    def values(self) -> Iterator[Value]:
        """Every Value held by nodes and edges (for batch conversion)."""
        for n in self.nodes:
            if n.value is not None:
                yield n.value
            if n.grad is not None:
                yield n.grad
        for e in self.edges:
            if e.grad is not None:
                yield e.grad

    def inputs_of(self, node_id: str) -> list[str]:
        return [e.source for e in self.edges if e.target == node_id]
