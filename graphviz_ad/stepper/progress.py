"""Which nodes and edges are current, done or pending at each frame of the backward stepper.

Frame 0 is the forward pass (no gradient shown), frame ``k`` (1..N) shows step ``k - 1``,
frame N + 1 every gradient, and, after a recorded optimizer step, frame N + 2 + j the update of
parameter j. A node's gradient is known once complete: from the step that sent it its last part
(or its own first step, if earlier); an edge's gradient from the step that sent it back along the edge. In an update frame every gradient is known: the parameter being
updated is current, those updated before it done, those still waiting pending (dimmed, their
gradients shown). The HTML stepper's script applies the same rules to the data
:meth:`Progress.to_json` gives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..model.graph import Graph
from ..model.steps import Step

__all__ = ["Progress", "FrameState", "FrameChange", "NODE_STATES", "EDGE_STATES"]

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


class FrameChange(NamedTuple):
    """What differs from the previous frame: the state of every element that may have changed.

    ``states`` maps node ids and edge ids (``e3``) to their state in this frame; where ``full``
    (the forward frame, the first step's and the final frame) it holds every node and edge.
    A named tuple: one is made per frame.
    """

    kind: str
    full: bool
    states: dict[str, str]


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
        self.edge_ids = [f"e{i}" for i in range(len(self.edge_ends))]
        # a node's gradient is shown once complete: after the last step that sent it a part, if that is
        # before its own first step (a / b's step completes a = 2*x, which shows its ∇ there, not a step later)
        self.completed_by: dict[str, int] = {}
        for (to, _), pos in sent.items():
            if pos > self.completed_by.get(to, -1):
                self.completed_by[to] = pos
        for nid, pos in self.completed_by.items():
            if pos < self.first.get(nid, len(steps)):
                self.first[nid] = pos

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
            return FrameState("forward", None, None, dict.fromkeys(self.node_ids, ""), dict.fromkeys(self.edge_ids, ""))
        if k == self.final_frame:
            return self._final()
        if k > self.final_frame:
            return self._update(k - self.final_frame - 1)
        return self._step(k - 1)

    def _final(self) -> FrameState:
        nodes = {nid: "gad-done" if nid in self.first else "gad-static" for nid in self.node_ids}
        edges = {eid: "gad-static" if key is None else "gad-done" for eid, key in zip(self.edge_ids, self.edge_key)}
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

    def _node_at(self, nid: str, s: int, cur: str) -> str:
        """Node ``nid``'s state at step ``s`` (``cur``: the node drawn for it)."""
        if nid == cur:
            return "gad-current"
        first = self.first.get(nid)
        if first is None:
            return "gad-static"
        return "gad-done" if first <= s else "gad-pending"

    def _edge_at(self, i: int, s: int, cur: str) -> str:
        """Edge ``i``'s state at step ``s``: done or pending by its key, active where it touches ``cur``."""
        key = self.edge_key[i]
        state = "gad-static" if key is None else "gad-done" if key <= s else "gad-pending"
        src, dst = self.edge_ends[i]
        if dst == cur:
            return state + " gad-edge-active gad-edge-in"
        if src == cur:
            return state + " gad-edge-active gad-edge-out"
        return state

    def _step(self, s: int) -> FrameState:
        cur = self.at[s]
        nodes = {nid: self._node_at(nid, s, cur) for nid in self.node_ids}
        edges = {eid: self._edge_at(i, s, cur) for i, eid in enumerate(self.edge_ids)}
        return FrameState("step", s, cur, nodes, edges)

    def _update_node(self, nid: str, j: int, final: str, first_up: dict[str, int], last_up: dict[str, int]) -> str:
        """Node ``nid``'s state in update frame ``j`` (as :meth:`_update` sets it); ``final``: its final state."""
        if nid == self.update_at[j]:
            return "gad-current"
        if last_up.get(nid, -1) > j:
            return "gad-pending"
        if first_up.get(nid, j) < j:
            return "gad-done"
        return final

    def changes(self) -> Iterator[FrameChange]:
        """Every frame in order, as the elements whose state may differ from the previous frame's.

        A step frame changes only the previous and the current step's nodes, the edges touching
        them and the edges whose gradient that step sent; an update frame only the previous and
        the current parameter. Where a step's node is the previous step's too (steps inside one
        collapsed box), only the edges that step sent change. So walking every frame costs about
        the size of the graph plus the number of steps, not their product. Each frame's states
        equal :meth:`frame`'s.
        """
        yield FrameChange("forward", True, {**dict.fromkeys(self.node_ids, ""), **dict.fromkeys(self.edge_ids, "")})
        by_key: dict[int, list[int]] = {}
        touching: dict[str, list[int]] = {}
        for i, ((src, dst), key) in enumerate(zip(self.edge_ends, self.edge_key)):
            if key is not None:
                by_key.setdefault(key, []).append(i)
            touching.setdefault(src, []).append(i)
            if dst != src:
                touching.setdefault(dst, []).append(i)
        known = set(self.node_ids)
        completed: dict[int, list[str]] = {}  # step -> the nodes whose gradient it completed
        for nid, pos in self.first.items():
            completed.setdefault(pos, []).append(nid)
        for s, cur in enumerate(self.at):
            if s == 0:
                state = self._step(0)
                yield FrameChange("step", True, {**state.nodes, **state.edges})
                continue
            prev = self.at[s - 1]
            if prev == cur:  # the same node again (a collapsed box): only the edges this step sent change
                sent = by_key.get(s, ())
                yield FrameChange("step", False, {self.edge_ids[i]: self._edge_at(i, s, cur) for i in sent})
                continue
            states = {nid: self._node_at(nid, s, cur) for nid in (prev, cur, *completed.get(s, ())) if nid in known}
            for group in (touching.get(prev, ()), touching.get(cur, ()), by_key.get(s, ())):
                for i in group:
                    states[self.edge_ids[i]] = self._edge_at(i, s, cur)
            yield FrameChange("step", False, states)
        final = self._final()
        yield FrameChange("final", True, {**final.nodes, **final.edges})
        first_up: dict[str, int] = {}
        last_up: dict[str, int] = {}
        for j, nid in enumerate(self.update_at):
            first_up.setdefault(nid, j)
            last_up[nid] = j
        for j, cur in enumerate(self.update_at):
            touched = self.update_at if j == 0 else (self.update_at[j - 1], cur)
            yield FrameChange("update", False, {nid: self._update_node(nid, j, final.nodes[nid], first_up, last_up)
                                                for nid in dict.fromkeys(touched) if nid in known})

    def to_json(self) -> dict[str, Any]:
        """What the HTML script needs to apply the same rules: first steps and edge keys."""
        return {"first": self.first, "at": self.at, "update_at": self.update_at,
                "edges": [[src, dst, key] for (src, dst), key in zip(self.edge_ends, self.edge_key)]}
