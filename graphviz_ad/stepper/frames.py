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

from ..render.theme import Theme
from .panel import (
    PANEL_END,
    PanelBox,
    PanelPainter,
    StepPainter,
    box_for,
    final_lines,
    forward_lines,
    line_open,
    panel_head,
    update_lines,
)
from .progress import Progress
from .stepinfo import StepView
from .svgparts import SvgTemplate, strip_grad_tip, tag_grad
from .updateinfo import UpdateView

__all__ = ["FrameBuilder", "Panels", "frame_css"]


def frame_css(theme: Theme) -> str:
    """State styles, scoped by the theme class Graphviz puts on the graph (one rule set per theme)."""
    t = f".gad-theme-{theme.name}"
    hl = theme.highlight
    shapes = ",".join(f"{t} .gad-current {s}" for s in ("ellipse", "path", "polygon", "polyline"))
    return (
        "<style>\n"
        f"{t} .gad-pending{{opacity:0.3}}\n"
        ".gad-frame-forward .gad-legend-grad{visibility:hidden}\n"
        f"{shapes}{{stroke:{hl};stroke-width:3px}}\n"
        f"{t} .gad-edge-active path{{stroke:{hl};stroke-width:2.5px}}\n"
        f"{t} .gad-edge-active polygon{{stroke:{hl};fill:{hl}}}\n"
        f"{t} .gad-edge-active text{{font-weight:bold}}\n"
        "</style>\n"
    )


class Panels:
    """Every frame's panel, painted: what a frame says needs no layout, so the stepper paints the
    panels while ``dot`` lays the graph out.

    ``rows[k]`` holds frame ``k``'s lines as :class:`PanelPainter` (a step's,
    :class:`StepPainter`) paints them, without their ``<text>`` tags, which hold positions;
    ``height`` is the most lines a frame has and ``widest`` the longest line in characters:
    together they size the panel box.
    """

    def __init__(self, views: list[StepView], theme: Theme, leaves: list[tuple[str, str]],
                 updates: list[UpdateView] | None = None, titles: dict[str, str] | None = None) -> None:
        """``titles``: ``forward`` (the forward frame's title) and ``update`` (the update frames')."""
        titles = {"forward": "forward", "update": "optimizer step", **(titles or {})}
        updates = updates or []
        painter = PanelPainter(theme)
        steps = StepPainter(painter)
        total, count = len(views), len(updates)
        # in frame order: forward, one per step, every gradient, one per update
        painted = [painter.paint(forward_lines(total, titles["forward"], count))]
        painted += [steps.paint(view, k, total) for k, view in enumerate(views, 1)]
        painted.append(painter.paint(final_lines(total, leaves)))
        painted += [painter.paint(update_lines(u, j, count, titles["update"])) for j, u in enumerate(updates, 1)]
        self.rows: list[list[str]] = [rows for rows, _ in painted]
        self.height = max(len(rows) for rows in self.rows)
        self.widest = max(width for _, width in painted)


def _frame_parts(template: SvgTemplate, head: str, tail: str,
                 height: int) -> tuple[list[str], dict[int, int], list[int]]:
    """What a frame joins: the template's parts, each end slot (``</svg>``) as ``head``, two places
    per panel line (its tag, its text) and ``tail``; fixed text between two slots as one part (a
    frame is one join of about half as many parts).

    Also where each slot's part went, and where each panel's first line tag goes.
    """
    slots = {slot.index: slot.kind for slot in template.slots}
    parts: list[str] = []
    fixed = False  # whether parts[-1] is fixed text (fixed text that follows is added to it)

    def add(text: str, is_fixed: bool) -> int:
        nonlocal fixed
        if is_fixed and fixed:
            parts[-1] += text
        else:
            parts.append(text)
        fixed = is_fixed
        return len(parts) - 1

    where: dict[int, int] = {}
    panel_at: list[int] = []
    for i, part in enumerate(template.parts):
        kind = slots.get(i)
        if kind == "end":
            add(head, True)
            panel_at.append(len(parts))
            for _ in range(2 * height):
                add("", False)
            add(tail, True)
        else:
            index = add(part, kind is None)
            if kind is not None:
                where[i] = index
    return parts, where, panel_at


class FrameBuilder:
    """Builds frame ``k`` from the template and the painted panels: no layout, string joins only.

    Prepared once: each slot's alternatives (a node or edge group's tag up to its state classes,
    a gradient shown or left out, a tooltip with or without it), the root tag up to its frame
    classes, and in place of the closing ``</svg>`` the style block, the panel's head, a place
    for each panel line's ``<text>`` tag and its painted text, and the panel's end. A frame then
    writes its slots and its panel lines into a copy of those parts and joins them once;
    :meth:`iter_frames` rewrites only the slots whose state changed since the previous frame.
    """

    def __init__(self, template: SvgTemplate, progress: Progress, panels: Panels, theme: Theme) -> None:
        self.template = template
        self.progress = progress
        self.panels = panels
        self.theme = theme
        self.css = frame_css(theme)
        graph_width, graph_height = template.viewbox[2], template.viewbox[3]
        self.box: PanelBox = box_for(panels.height, panels.widest, graph_width, graph_height)
        height = panels.height
        opens = [line_open(self.box.top, i) for i in range(height)]
        # the line tags of a panel of n lines, for every second place from a panel's first
        self._opens = [opens[:n] + [""] * (height - n) for n in range(height + 1)]
        self._blank = [""] * height
        w, h = self.box.width, self.box.top + self.box.height
        self._open = (f'<svg width="{w:.2f}pt" height="{h:.2f}pt" viewBox="0.00 0.00 {w:.2f} {h:.2f}" '
                      'class="gad-frame gad-frame-')
        head, tail = self.css + panel_head(self.box, graph_width, theme), PANEL_END + "</svg>"
        self._parts, where, self._panel_at = _frame_parts(template, head, tail, height)
        # owner id -> ([(part index, tag up to its classes)], [(part index, shown, hidden)])
        self._owners: dict[str, tuple[list[tuple[int, str]], list[tuple[int, str, str]]]] = {}
        self._svg: list[int] = []
        for slot in template.slots:
            if slot.kind == "svg":
                self._svg.append(where[slot.index])
            if slot.kind not in ("node", "edge", "node_grad", "edge_grad", "node_tip"):
                continue
            index = where[slot.index]
            tags, grads = self._owners.setdefault(slot.owner, ([], []))
            if slot.kind in ("node", "edge"):
                tags.append((index, f'<g id="{slot.owner}" class="{slot.text}'))
            elif slot.kind == "node_tip":
                grads.append((index, f'<a xlink:title="{slot.text}">',
                              f'<a xlink:title="{strip_grad_tip(slot.text)}">'))
            else:
                grads.append((index, tag_grad(slot.text), ""))

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

    def _write_panel(self, out: list[str], k: int, shown: int) -> int:
        """Frame ``k``'s panel lines into ``out``, which holds ``shown`` lines now (the line tags
        stay where the count is the same); the count written."""
        rows = self.panels.rows[k]
        n = len(rows)
        size = 2 * self.panels.height
        for at in self._panel_at:
            if n != shown:
                out[at:at + size:2] = self._opens[n]
                out[at + 1:at + size:2] = self._blank  # every line's text left out, the new ones follow
            out[at + 1:at + 2 * n:2] = rows
        return n

    def _finish(self, out: list[str], kind: str, k: int) -> str:
        for index in self._svg:
            out[index] = f'{self._open}{kind}" data-step="{k}"'
        return "".join(out)

    def frame(self, k: int) -> str:
        """The SVG text of frame ``k`` (0: forward, 1..N: step k-1, N+1: every gradient, N+2+j: update j)."""
        state = self.progress.frame(k)
        classes = {**state.nodes, **state.edges}
        out = list(self._parts)
        for owner in self._owners:
            self._write(out, state.kind, owner, classes.get(owner, ""))
        self._write_panel(out, k, 0)
        return self._finish(out, state.kind, k)

    def iter_frames(self) -> Iterator[str]:
        """Every frame in order, each equal to :meth:`frame`; per frame only the changed slots are rewritten."""
        out = list(self._parts)
        owners = self._owners
        shown = 0
        for k, change in enumerate(self.progress.changes()):
            states = change.states
            if change.full:
                for owner in owners:
                    self._write(out, change.kind, owner, states.get(owner, ""))
            else:
                for owner, state in states.items():
                    if owner in owners:
                        self._write(out, change.kind, owner, state)
            shown = self._write_panel(out, k, shown)
            yield self._finish(out, change.kind, k)
