"""Stepper frames: copies of one laid-out SVG, restyled per step by classes, a style block and a panel.

Every frame has the same geometry (one Graphviz layout); what changes is text: the state classes
of nodes and edges (``gad-current``, ``gad-done``, ``gad-pending``, ``gad-static``,
``gad-edge-active``/``-in``/``-out``), which gradient texts are present (pending ones are left
out, with the ``grad:`` line of their tooltip), and the panel at the bottom. Gradient texts that
show carry class ``gad-grad``; the root ``<svg>`` carries ``class="gad-frame gad-frame-<kind>"``
(kind: forward, step, final, update) and ``data-step="<k>"``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .panel import (PANEL_END, Line, PanelBox, PanelPainter, box_for, final_lines, forward_lines, panel_head,
                    step_lines, update_lines)
from .progress import Progress
from .stepinfo import StepView
from .svgparts import SvgTemplate, strip_grad_tip, tag_grad
from .theme import Theme
from .updateinfo import UpdateView

__all__ = ["FrameBuilder", "frame_css"]


def frame_css(theme: Theme) -> str:
    """State styles, scoped by the theme class Graphviz puts on the graph (one rule set per theme)."""
    t = f".gad-theme-{theme.name}"
    hl = theme.highlight
    shapes = ",".join(f"{t} .gad-current {s}" for s in ("ellipse", "path", "polygon", "polyline"))
    return (
        "<style>\n"
        f"{t} .gad-pending{{opacity:0.3}}\n"
        f"{shapes}{{stroke:{hl};stroke-width:3px}}\n"
        f"{t} .gad-edge-active path{{stroke:{hl};stroke-width:2.5px}}\n"
        f"{t} .gad-edge-active polygon{{stroke:{hl};fill:{hl}}}\n"
        f"{t} .gad-edge-active text{{font-weight:bold}}\n"
        "</style>\n"
    )


class FrameBuilder:
    """Builds frame ``k`` from the template: no layout, string joins only.

    Prepared once: each slot's alternatives (a node or edge group's tag up to its state classes,
    a gradient shown or left out, a tooltip with or without it), the root tag up to its frame
    classes, the style block and panel head, and every frame's panel lines (painted while the
    panel is sized, which needs all of them anyway). A frame then writes its slots into a copy
    of the template's parts and joins; :meth:`iter_frames` rewrites only the slots whose state
    changed since the previous frame.
    """

    def __init__(self, template: SvgTemplate, progress: Progress, views: list[StepView], theme: Theme,
                 leaves: list[tuple[str, str]], updates: list[UpdateView] | None = None,
                 titles: dict[str, str] | None = None) -> None:
        """``titles``: ``forward`` (the forward frame's title) and ``update`` (the update frames')."""
        self.template = template
        self.progress = progress
        self.views = views
        self.theme = theme
        self.leaves = leaves
        self.updates = updates or []
        self.titles = {"forward": "forward", "update": "optimizer step", **(titles or {})}
        self.css = frame_css(theme)
        graph_width, graph_height = template.viewbox[2], template.viewbox[3]
        painter = PanelPainter(graph_height, theme)
        self._panels: list[str] = []  # frame k's panel lines, painted
        rows, widest = (0 if progress.frame_count else 1), 0  # as panel_box: one row where there is no frame
        for k in range(progress.frame_count):
            lines = self._lines(k)
            text, width = painter.paint(lines)
            self._panels.append(text)
            rows = max(rows, len(lines))
            widest = max(widest, width)
        self.box: PanelBox = box_for(rows, widest, graph_width, graph_height)
        self._end = (self.css + panel_head(self.box, graph_width, theme), PANEL_END + "</svg>")
        w, h = self.box.width, self.box.top + self.box.height
        self._open = (f'<svg width="{w:.2f}pt" height="{h:.2f}pt" viewBox="0.00 0.00 {w:.2f} {h:.2f}" '
                      'class="gad-frame gad-frame-')
        # owner id -> ([(slot index, tag up to its classes)], [(slot index, shown, hidden)])
        self._owners: dict[str, tuple[list[tuple[int, str]], list[tuple[int, str, str]]]] = {}
        self._svg: list[int] = []
        self._ends: list[int] = []
        for slot in template.slots:
            if slot.kind in ("svg", "end"):
                (self._svg if slot.kind == "svg" else self._ends).append(slot.index)
                continue
            if slot.kind not in ("node", "edge", "node_grad", "edge_grad", "node_tip"):
                continue
            tags, grads = self._owners.setdefault(slot.owner, ([], []))
            if slot.kind in ("node", "edge"):
                tags.append((slot.index, f'<g id="{slot.owner}" class="{slot.text}'))
            elif slot.kind == "node_tip":
                grads.append((slot.index, f'<a xlink:title="{slot.text}">',
                              f'<a xlink:title="{strip_grad_tip(slot.text)}">'))
            else:
                grads.append((slot.index, tag_grad(slot.text), ""))

    def _lines(self, k: int) -> list[Line]:
        total = len(self.views)
        if k == 0:
            return forward_lines(total, self.titles["forward"], len(self.updates))
        if k == total + 1:
            return final_lines(total, self.leaves)
        if k > total + 1:
            j = k - total - 2
            return update_lines(self.updates[j], j + 1, len(self.updates), self.titles["update"])
        return step_lines(self.views[k - 1], k, total)

    def _write(self, out: list[str], kind: str, owner: str, state: str) -> None:
        """Owner's slots for ``state``: its classes, its gradients shown unless pending (always in
        an update frame, never in the forward frame)."""
        tags, grads = self._owners[owner]
        for index, tag in tags:
            out[index] = f'{tag} {state}">' if state else f'{tag}">'
        if grads:
            shown = kind == "update" or (kind != "forward" and "gad-pending" not in state)
            for index, yes, no in grads:
                out[index] = yes if shown else no

    def _finish(self, out: list[str], kind: str, k: int) -> str:
        for index in self._svg:
            out[index] = f'{self._open}{kind}" data-step="{k}"'
        head, tail = self._end
        for index in self._ends:
            out[index] = f"{head}{self._panels[k]}{tail}"
        return "".join(out)

    def frame(self, k: int) -> str:
        """The SVG text of frame ``k`` (0: forward, 1..N: step k-1, N+1: every gradient, N+2+j: update j)."""
        state = self.progress.frame(k)
        classes = {**state.nodes, **state.edges}
        out = list(self.template.parts)
        for owner in self._owners:
            self._write(out, state.kind, owner, classes.get(owner, ""))
        return self._finish(out, state.kind, k)

    def iter_frames(self) -> Iterator[str]:
        """Every frame in order, each equal to :meth:`frame`; per frame only the changed slots are rewritten."""
        out = list(self.template.parts)
        owners = self._owners
        for k, change in enumerate(self.progress.changes()):
            states = change.states
            if change.full:
                for owner in owners:
                    self._write(out, change.kind, owner, states.get(owner, ""))
            else:
                for owner, state in states.items():
                    if owner in owners:
                        self._write(out, change.kind, owner, state)
            yield self._finish(out, change.kind, k)
