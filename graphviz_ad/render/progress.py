"""Which nodes and edges are current, done or pending at each frame of the backward stepper.

Frame 0 is the forward pass (no gradient shown), frame ``k`` (1..N) shows step ``k - 1``,
frame N + 1 every gradient, and, after a recorded optimizer step, frame N + 2 + j the update of
parameter j. A node's gradient is known from its first step on; an edge's gradient from the step
that sent it back along the edge. In an update frame every gradient is known: the parameter being
updated is current, those updated before it done, those still waiting pending (dimmed, their
gradients shown). The HTML stepper's script applies the same rules to the data
:meth:`Progress.to_json` gives it.
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

    kind: str  # "forward" | "step" | "final" | "update"
    step: int | None  # the step shown (index into the steps), None for the other frames
    current: str | None  # the graph node id of the current step (or of the parameter being updated)
    nodes: dict[str, str]
    edges: dict[str, str]
    update: int | None = None  # the update shown (index into the optimizer record), update frames only

    def grad_visible(self, element_id: str) -> bool:
        """Whether the gradient text of node or edge ``element_id`` shows in this frame."""
        if self.kind == "update":
            return True  # after the backward every gradient is known, also a waiting parameter's
        state = self.nodes.get(element_id) or self.edges.get(element_id, "")
        return self.kind != "forward" and "gad-pending" not in state


class Progress:
    """First step of every node and the step that sent each edge's gradient."""

    def __init__(self, graph: Graph, steps: list[Step], drawn: dict[str, str] | None = None,
                 updates: list[str] | None = None) -> None:
        """``graph`` is the graph as drawn; ``drawn`` maps a step's node id to the node drawn for it
        (a collapsed module's box), identity where absent; ``updates`` are the node ids of the
        parameters an optimizer step updated, in its order."""
        self.steps = steps
        self.node_ids = [n.id for n in graph.nodes]
        where = drawn or {}
        self.at: list[str] = [where.get(s.node, s.node) for s in steps]
        self.update_at: list[str] = [where.get(nid, nid) for nid in updates or ()]
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
    def final_frame(self) -> int:
        """The frame with every gradient (N + 1); the update frames follow it."""
        return len(self.steps) + 1

    @property
    def frame_count(self) -> int:
        return len(self.steps) + 2 + len(self.update_at)

    def frame(self, k: int) -> FrameState:
        """The state of frame ``k`` (0: forward, 1..N: step k-1, N+1: every gradient, N+2+j: update j)."""
        if not 0 <= k < self.frame_count:
            raise IndexError(f"frame {k} out of range: this stepper has {self.frame_count} frames "
                             f"(0..{self.frame_count - 1})")
        if k == 0:
            return FrameState("forward", None, None, dict.fromkeys(self.node_ids, ""),
                              {f"e{i}": "" for i in range(len(self.edge_ends))})
        if k == self.final_frame:
            return self._final()
        if k > self.final_frame:
            return self._update(k - self.final_frame - 1)
        return self._step(k - 1)

    def _final(self) -> FrameState:
        nodes = {nid: "gad-done" if nid in self.first else "gad-static" for nid in self.node_ids}
        edges = {f"e{i}": "gad-static" if key is None else "gad-done" for i, key in enumerate(self.edge_key)}
        return FrameState("final", None, None, nodes, edges)

    def _update(self, j: int) -> FrameState:
        final = self._final()
        nodes = dict(final.nodes)
        known = set(nodes)
        cur = self.update_at[j]
        for state, span in (("gad-done", self.update_at[:j]), ("gad-pending", self.update_at[j + 1:])):
            for nid in span:  # a box holding updated and waiting parameters stays pending
                if nid in known:
                    nodes[nid] = state
        if cur in known:
            nodes[cur] = "gad-current"
        return FrameState("update", None, cur, nodes, final.edges, j)

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
        return {"first": self.first, "at": self.at, "update_at": self.update_at,
                "edges": [[src, dst, key] for (src, dst), key in zip(self.edge_ends, self.edge_key)]}
