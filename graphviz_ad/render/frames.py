"""Stepper frames: copies of one laid-out SVG, restyled per step by classes, a style block and a panel.

Every frame has the same geometry (one Graphviz layout); what changes is text: the state classes
of nodes and edges (``gad-current``, ``gad-done``, ``gad-pending``, ``gad-static``,
``gad-edge-active``/``-in``/``-out``), which gradient texts are present (pending ones are left
out, with the ``grad:`` line of their tooltip), and the panel at the bottom. Gradient texts that
show carry class ``gad-grad``; the root ``<svg>`` carries ``class="gad-frame gad-frame-<kind>"``
(kind: forward, step, final, update) and ``data-step="<k>"``.
"""

from __future__ import annotations

from .panel import Line, PanelBox, final_lines, forward_lines, panel_box, panel_svg, step_lines, update_lines
from .progress import FrameState, Progress
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

    Each slot's alternatives (gradient shown or left out, tooltip with or without it, the start of a
    group's tag) are prepared once; a frame picks one per slot and joins.
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
        self.box: PanelBox = panel_box([self._lines(k) for k in range(progress.frame_count)],
                                       template.viewbox[2], template.viewbox[3])
        self._plan = [self._prepare(slot.index, slot.kind, slot.owner, slot.text) for slot in template.slots]

    @staticmethod
    def _prepare(index: int, kind: str, owner: str, text: str) -> tuple[int, str, str, str, str]:
        """(index, kind, owner, shown, hidden): for node/edge, ``shown`` is the tag up to its classes."""
        if kind in ("node", "edge"):
            return index, "state", owner, f'<g id="{owner}" class="{text}', ""
        if kind in ("node_grad", "edge_grad"):
            return index, "grad", owner, tag_grad(text), ""
        if kind == "node_tip":
            return index, "grad", owner, f'<a xlink:title="{text}">', f'<a xlink:title="{strip_grad_tip(text)}">'
        return index, kind, owner, text, text

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

    def _svg_open(self, state: FrameState, k: int) -> str:
        w, h = self.box.width, self.box.top + self.box.height
        return (f'<svg width="{w:.2f}pt" height="{h:.2f}pt" viewBox="0.00 0.00 {w:.2f} {h:.2f}" '
                f'class="gad-frame gad-frame-{state.kind}" data-step="{k}"')

    def frame(self, k: int) -> str:
        """The SVG text of frame ``k`` (0: forward, 1..N: step k-1, N+1: every gradient, N+2+j: update j)."""
        state = self.progress.frame(k)
        classes = {**state.nodes, **state.edges}
        out = list(self.template.parts)
        for index, kind, owner, shown, hidden in self._plan:
            if kind == "state":
                extra = classes.get(owner)
                out[index] = f'{shown} {extra}">' if extra else f'{shown}">'
            elif kind == "grad":
                out[index] = shown if state.grad_visible(owner) else hidden
            elif kind == "svg":
                out[index] = self._svg_open(state, k)
            elif kind == "end":
                panel = panel_svg(self._lines(k), self.box, self.template.viewbox[2], self.theme)
                out[index] = f"{self.css}{panel}</svg>"
        return "".join(out)
