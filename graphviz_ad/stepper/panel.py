"""The step panel drawn into an SVG frame: upstream × local = contribution (or a parameter's update), as text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..render.format import Memo
from ..render.theme import Theme
from .stepinfo import StepView, Term
from .updateinfo import BACKWARD, GRADIENTS, UpdateView

__all__ = ["Span", "Line", "PanelBox", "PanelPainter", "StepPainter", "forward_lines", "final_lines", "update_lines",
           "panel_box", "box_for", "panel_head", "panel_svg", "PANEL_END", "line_open", "line_width", "xml_text",
           "MAX_TERMS", "MAX_LEAVES", "MAX_STATE", "MAX_COMPLETE", "complete_text"]

Span = tuple[str, str]  # (text, role): role is title | muted | grad | num | label | formula
Line = list[Span]

MAX_TERMS = 8  # chain-rule terms listed per step; the rest are counted
MAX_LEAVES = 8  # leaf gradients listed in the final frame
MAX_STATE = 6  # optimizer state entries listed per update
MAX_COMPLETE = 4  # completed gradients named on a step's completion line; the rest are counted
_FONT_SIZE = 12
_LINE = 17.0
_PAD = 10.0
_CHAR = 7.0  # a generous average advance of Helvetica at 12 pt, to size the panel


# what xml_text changes: markup characters, control characters but tab, surrogates, U+FFFE/U+FFFF
_NEEDS_WORK = re.compile("[&<>\x00-\x08\x0a-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(s: str) -> str:
    """Text for an SVG ``<text>``: markup escaped, characters XML 1.0 forbids replaced."""
    if _NEEDS_WORK.search(s) is None:  # the common case: nothing to change
        return s
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif (o < 32 and ch not in "\t") or 0xD800 <= o < 0xE000 or o in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def forward_lines(total: int, title: str = "forward", updates: int = 0) -> list[Line]:
    """The forward frame: its title (``forward (f = 0.96595)``) and what follows."""
    then = f"; then the optimizer updates {updates} parameters" if updates else ""
    return [[(title, "title")],
            [(f"every value computed; the {total} backward steps follow, one per frame{then}", "muted")]]


def final_lines(total: int, leaves: list[tuple[str, str]]) -> list[Line]:
    """Every gradient known; the leaves' gradients listed (``x.grad = 0.058131``)."""
    lines: list[Line] = [[(GRADIENTS, "title"), (f"   backward done in {total} steps", "muted")]]
    lines += [[(f"{label}.grad = ", "label"), (grad, "grad")] for label, grad in leaves[:MAX_LEAVES]]
    if len(leaves) > MAX_LEAVES:
        lines.append([(f"… and {len(leaves) - MAX_LEAVES} more", "muted")])
    return lines


def update_lines(view: UpdateView, position: int, total: int, title: str) -> list[Line]:
    """One parameter's update: old value, gradient, optimizer state before → after, the rule, the new value."""
    lines: list[Line] = [
        [(title, "title"), (": ", "muted"), (view.name, "label"), (f"   parameter {position} of {total}", "muted")],
        [("old   ", "muted"), (f"{view.name} = ", "label"), (view.old, "num")],
        [("grad  ", "muted"), (f"{view.name}.grad = ", "label"), (view.grad, "grad")],
    ]
    for name, before, after in view.state[:MAX_STATE]:
        lines.append([("state ", "muted"), (f"{name}: ", "label"), (before, "num"), (" → ", "muted"), (after, "num")])
    if len(view.state) > MAX_STATE:
        lines.append([(f"… and {len(view.state) - MAX_STATE} more", "muted")])
    lines += [[("rule  ", "muted"), (view.rule, "formula")],
              [("new   ", "muted"), (f"{view.name} = ", "label"), (view.new, "num")]]
    return lines


@dataclass(frozen=True)
class PanelBox:
    """Where the panel goes: below the graph, as tall as the longest frame's panel."""

    top: float
    height: float
    width: float  # the frame's width (the graph's, or wider where a panel line needs it)


def line_width(line: Line) -> int:
    """A line's length in characters (what sizes the panel)."""
    return sum(len(t) for t, _ in line)


def panel_box(all_lines: list[list[Line]], graph_width: float, graph_height: float) -> PanelBox:
    rows = max((len(lines) for lines in all_lines), default=1)
    widest = max((line_width(line) for lines in all_lines for line in lines), default=0)
    return box_for(rows, widest, graph_width, graph_height)


def box_for(rows: int, widest: int, graph_width: float, graph_height: float) -> PanelBox:
    """The box for panels of at most ``rows`` lines of at most ``widest`` characters."""
    return PanelBox(top=graph_height, height=2 * _PAD + rows * _LINE,
                    width=max(graph_width, 2 * _PAD + widest * _CHAR))


def _fill(role: str, theme: Theme) -> str:
    return {"grad": theme.grad, "muted": theme.muted}.get(role, theme.text)


def _span_open(role: str, theme: Theme) -> str:
    weight = ' font-weight="bold"' if role in ("title", "label") else ""
    style = ' font-style="italic"' if role == "formula" else ""
    return f'<tspan fill="{_fill(role, theme)}"{weight}{style}>'


def line_open(top: float, i: int) -> str:
    """The ``<text>`` tag of panel line ``i`` (0 the first) for a panel whose box starts at ``top``."""
    y = top + _PAD + (i + 1) * _LINE - 4
    return (f'<text class="gad-panel-line" x="{_PAD:.0f}" y="{y:.2f}" font-family="Helvetica,sans-Serif" '
            f'font-size="{_FONT_SIZE}" xml:space="preserve">')


def panel_head(box: PanelBox, graph_width: float, theme: Theme) -> str:
    """The panel's opening: its group, background (and the strip right of a narrower graph), the rule."""
    total = box.top + box.height
    out = ['<g class="gad-panel">',
           f'<rect x="0" y="{box.top:.2f}" width="{box.width:.2f}" height="{box.height:.2f}" '
           f'fill="{theme.background}"/>']
    if box.width > graph_width:
        out.append(f'<rect x="{graph_width:.2f}" y="0" width="{box.width - graph_width:.2f}" height="{total:.2f}" '
                   f'fill="{theme.background}"/>')
    out.append(f'<line x1="{_PAD:.0f}" y1="{box.top + 2:.2f}" x2="{box.width - _PAD:.2f}" y2="{box.top + 2:.2f}" '
               f'stroke="{theme.cluster_border}" stroke-width="1"/>')
    return "\n".join(out) + "\n"


PANEL_END = "</g>\n"


class _Spans(Memo):
    """One role's painted spans by text (``<tspan fill=…>text</tspan>``), each made on first use:
    labels, numbers and fixed words recur from step to step; ``tag`` the role's opening tag."""

    def __init__(self, tag: str) -> None:
        super().__init__(lambda text: f"{tag}{xml_text(text)}</tspan>")
        self.tag = tag


class PanelPainter:
    """Panel lines as SVG text, for many frames of one stepper, before the layout is known.

    A line is painted as its ``<tspan>`` elements and the closing ``</text>``; its opening
    ``<text>`` tag (:func:`line_open`) holds the line's position, which depends on the graph's
    height, so the stepper paints every panel while ``dot`` lays the graph out and adds the tags
    afterwards. Each (role, text) span is made once (:meth:`spans`).
    """

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self._roles: dict[str, _Spans] = {}

    def spans(self, role: str) -> _Spans:
        """The painted spans of ``role`` by text."""
        table = self._roles.get(role)
        if table is None:
            table = self._roles[role] = _Spans(_span_open(role, self.theme))
        return table

    def paint(self, lines: list[Line]) -> tuple[list[str], int]:
        """Each line's spans and its closing ``</text>`` and newline (what follows the line's
        :func:`line_open` tag), and the widest line's length in characters (:func:`line_width`)."""
        rows: list[str] = []
        widest = 0
        for line in lines:
            out: list[str] = []
            width = 0
            for text, role in line:
                width += len(text)
                out.append(self.spans(role)[text])
            out.append("</text>\n")
            rows.append("".join(out))
            if width > widest:
                widest = width
        return rows, widest


def complete_text(view: StepView) -> str:
    """The step's completion line: ``∇z complete (from step 4) · ∇c complete (from step 4)`` for the nodes
    whose gradient it completed (at most :data:`MAX_COMPLETE`, the rest counted), "" for none."""
    notes = view.complete_notes
    text = " · ".join(notes[:MAX_COMPLETE])
    more = len(notes) - MAX_COMPLETE
    return f"{text} · … and {more} more complete" if more > 0 else text


_ARROW, _COLON, _TIMES, _CLOSE, _EQUALS = "→ ", ":  ", " × (", ")", " = "  # a term line's fixed words
_TERM_WIDTH = len(_ARROW + _COLON + _TIMES + _CLOSE)  # the fixed words' length in every term line
_UPSTREAM = "upstream  "
_STEP = f"   {BACKWARD} step "  # before "4 of 10" in a step's title line


class StepPainter:
    """The panel of each backward step, painted straight from its :class:`StepView`.

    The lines: the title (``[4] MulBackward0 (mul = z*c)   backward step 4 of 10``); the upstream
    gradient (``upstream  0.1 + 0.2 = 0.3``, its sum where several consumers sent one; a leaf's
    reads ``x.grad = 0.3``); then, but for a leaf, one line per chain-rule term (``→ z:  0.3 ×
    (∂mul/∂z = c = 2.1995) = 0.66``: upstream × local = contribution), at most :data:`MAX_TERMS`
    and a count of the rest, or a note that no input needs a gradient; last, where the step completed
    some node's gradient (its last part arrived), the line ``∇a complete (from step 6)`` (class
    ``gad-panel-complete``: :func:`complete_text`).

    Rows and width as :meth:`PanelPainter.paint` gives them, but each row is one f-string of
    painted spans, not a list of (text, role) spans first: the steps make all but a few frames.
    """

    def __init__(self, painter: PanelPainter) -> None:
        self.muted, self.title, self.num = painter.spans("muted"), painter.spans("title"), painter.spans("num")
        self.label, self.grad, self.formula = painter.spans("label"), painter.spans("grad"), painter.spans("formula")
        self._step = xml_text(_STEP)
        self._complete = self.grad.tag.replace("<tspan ", '<tspan class="gad-panel-complete" ', 1)

    def paint(self, view: StepView, position: int, total: int) -> tuple[list[str], int]:
        """Step ``position`` of ``total``: its rows (each closed by ``</text>`` and a newline) and the
        widest row's length in characters."""
        muted = self.muted
        number, heading, where = f"[{view.number}] ", view.heading, f"{position} of {total}"
        # the number and the place are new in every frame: painted here, not kept (digits: nothing to escape)
        rows = [f"{muted.tag}{number}</tspan>{self.title[heading]}{muted.tag}{self._step}{where}</tspan></text>\n"]
        widths = [len(number) + len(heading) + len(_STEP) + len(where)]
        upstream, incoming = view.upstream, view.sum_text
        up = self.grad[upstream]
        sum_part = f"{incoming} = " if incoming else ""  # "0.1 + 0.2 = " before the upstream
        sum_span = self.num[sum_part] if incoming else ""
        if view.leaf:
            grad_of = f"{view.label}.grad = "
            rows.append(f"{self.label[grad_of]}{sum_span}{up}</text>\n")
            widths.append(len(grad_of) + len(sum_part) + len(upstream))
            self._completion(view, rows, widths)
            return rows, max(widths)
        rows.append(f"{muted[_UPSTREAM]}{sum_span}{up}</text>\n")
        widths.append(len(_UPSTREAM) + len(sum_part) + len(upstream))
        for term in view.terms[:MAX_TERMS]:
            row, width = self._term(up, len(upstream), term)
            rows.append(row)
            widths.append(width)
        more = len(view.terms) - MAX_TERMS
        note = f"… and {more} more" if more > 0 else "" if view.terms else "no input of this op needs a gradient"
        if note:
            rows.append(f"{muted[note]}</text>\n")
            widths.append(len(note))
        self._completion(view, rows, widths)
        return rows, max(widths)

    def _completion(self, view: StepView, rows: list[str], widths: list[int]) -> None:
        """The completion line, where the step completed a gradient (new text per step: not kept)."""
        if view.completes:
            text = complete_text(view)
            rows.append(f"{self._complete}{xml_text(text)}</tspan></text>\n")
            widths.append(len(text))

    def _term(self, up: str, up_width: int, term: Term) -> tuple[str, int]:
        """A chain-rule term's row: ``→ to:  upstream × (formula = local) = contribution``."""
        muted = self.muted
        formula = f"{term.formula} = {term.local}" if term.local else term.formula
        row = (f"{muted[_ARROW]}{self.label[term.to]}{muted[_COLON]}{up}{muted[_TIMES]}{self.formula[formula]}"
               f"{muted[_CLOSE]}")
        width = _TERM_WIDTH + len(term.to) + up_width + len(formula)
        if term.contrib:
            row += f"{muted[_EQUALS]}{self.grad[term.contrib]}"
            width += len(_EQUALS) + len(term.contrib)
        return row + "</text>\n", width


def panel_svg(lines: list[Line], box: PanelBox, graph_width: float, theme: Theme) -> str:
    """The panel as SVG: a background, a rule above it, one ``<text>`` per line."""
    rows = PanelPainter(theme).paint(lines)[0]
    return (panel_head(box, graph_width, theme) + "".join(line_open(box.top, i) + row for i, row in enumerate(rows))
            + PANEL_END)
