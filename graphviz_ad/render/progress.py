"""Which nodes and edges are current, done or pending at each frame of the backward stepper.

Frame 0 is the forward pass (no gradient shown), frame ``k`` (1..N) shows step ``k - 1`` and
frame N + 1 every gradient. A node's gradient is known from its first step on; an edge's
gradient from the step that sent it back along the edge. The HTML stepper's script applies the
same rules to the data :meth:`Progress.to_json` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backward.steps import Step
from ..graph.model import Graph

__all__ = ["Progress", "FrameState", "NODE_STATES", "EDGE_STATES"]

NODE_STATES = ("gad-current", "gad-done", "gad-pending", "gad-static")
EDGE_STATES = ("gad-done", "gad-pending", "gad-static", "gad-edge-active", "gad-edge-in", "gad-edge-out")


@dataclass(frozen=True)
class FrameState:
    """The state classes of every node and edge in one frame (``""``: no state, the forward frame)."""

    kind: str  # "forward" | "step" | "final"
    step: int | None  # the step shown (index into the steps), None for the forward and final frames
    current: str | None  # the graph node id of the current step
    nodes: dict[str, str]
    edges: dict[str, str]

    def grad_visible(self, element_id: str) -> bool:
        """Whether the gradient text of node or edge ``element_id`` shows in this frame."""
        state = self.nodes.get(element_id) or self.edges.get(element_id, "")
        return self.kind != "forward" and "gad-pending" not in state


class Progress:
    """First step of every node and the step that sent each edge's gradient."""

    def __init__(self, graph: Graph, steps: list[Step], drawn: dict[str, str] | None = None) -> None:
        """``graph`` is the graph as drawn; ``drawn`` maps a step's node id to the node drawn for it
        (a collapsed module's box), identity where absent."""
        self.steps = steps
        self.node_ids = [n.id for n in graph.nodes]
        where = drawn or {}
        self.at: list[str] = [where.get(s.node, s.node) for s in steps]
        self.first: dict[str, int] = {}
        for pos, nid in enumerate(self.at):
            self.first.setdefault(nid, pos)
        sent: dict[tuple[str, str], int] = {}
        for pos, (s, nid) in enumerate(zip(steps, self.at)):
            for c in s.contributions:
                if c.to is not None and c.value is not None:
                    sent.setdefault((where.get(c.to, c.to), nid), pos)
        self.edge_ends: list[tuple[str, str]] = [(e.source, e.target) for e in graph.edges]
        self.edge_key: list[int | None] = [sent.get(ends, self.first.get(ends[1])) for ends in self.edge_ends]

    @property
    def frame_count(self) -> int:
        return len(self.steps) + 2

    def frame(self, k: int) -> FrameState:
        """The state of frame ``k`` (0: forward, 1..N: step k-1, N+1: every gradient)."""
        if not 0 <= k < self.frame_count:
            raise IndexError(f"frame {k} out of range: this stepper has {self.frame_count} frames "
                             f"(0..{self.frame_count - 1})")
        if k == 0:
            return FrameState("forward", None, None, dict.fromkeys(self.node_ids, ""),
                              {f"e{i}": "" for i in range(len(self.edge_ends))})
        if k == self.frame_count - 1:
            return self._final()
        return self._step(k - 1)

    def _final(self) -> FrameState:
        nodes = {nid: "gad-done" if nid in self.first else "gad-static" for nid in self.node_ids}
        edges = {f"e{i}": "gad-static" if key is None else "gad-done" for i, key in enumerate(self.edge_key)}
        return FrameState("final", None, None, nodes, edges)

    def _step(self, s: int) -> FrameState:
        cur = self.at[s]
        nodes: dict[str, str] = {}
        for nid in self.node_ids:
            first = self.first.get(nid)
            if nid == cur:
                nodes[nid] = "gad-current"
            elif first is None:
                nodes[nid] = "gad-static"
            else:
                nodes[nid] = "gad-done" if first <= s else "gad-pending"
        edges: dict[str, str] = {}
        for i, ((src, dst), key) in enumerate(zip(self.edge_ends, self.edge_key)):
            state = "gad-static" if key is None else "gad-done" if key <= s else "gad-pending"
            if dst == cur:
                state += " gad-edge-active gad-edge-in"
            elif src == cur:
                state += " gad-edge-active gad-edge-out"
            edges[f"e{i}"] = state
        return FrameState("step", s, cur, nodes, edges)

    def to_json(self) -> dict[str, Any]:
        """What the HTML script needs to apply the same rules: first steps and edge keys."""
        return {"first": self.first, "at": self.at,
                "edges": [[src, dst, key] for (src, dst), key in zip(self.edge_ends, self.edge_key)]}
