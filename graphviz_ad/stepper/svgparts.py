"""Graphviz's SVG cut once into fixed text and the few places a stepper frame changes.

Graphviz 2.43 writes every node and edge as ``<g id="n3" class="node gad-node gad-op">``
(the DOT ``id``/``class`` attributes), the node's tooltip as ``<a xlink:title="…">`` and each
gradient as a ``<text>`` filled with the theme's gradient colour (lower-cased). Those places
become slots; everything else stays text, so a frame is one ``join`` of the parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RenderError

__all__ = ["Slot", "SvgTemplate", "parse_svg", "strip_grad_tip", "tag_grad"]

_TOKEN = re.compile(  # every alternative starts with "<", which lets the scanner skip ahead
    r'<(?:(?P<svg>svg width="(?P<w>[\d.]+)pt" height="(?P<h>[\d.]+)pt"\s+viewBox="(?P<vb>[^"]*)")'
    r'|(?P<group>g id="(?P<gid>[^"]*)" class="(?P<gcls>[^"]*)">)'
    r'|(?P<label>g id="a_[^"]*?&#45;label">.*?</g>\n?)'
    r'|(?P<tip>a xlink:title="(?P<tipv>[^"]*)">)'
    r'|(?P<text>text [^>]*>[^<]*</text>\n?)'  # Graphviz escapes "<" inside text
    r"|(?P<end>/svg>))",
    re.S,
)
_GRAD_TIP = re.compile(r"&#10;grad: [^\"]*$")


@dataclass(frozen=True)
class Slot:
    """One changing place: ``kind`` is svg | node | edge | node_grad | edge_grad | node_tip | end."""

    index: int  # position in SvgTemplate.parts
    kind: str
    owner: str  # the node or edge id ("" for svg and end)
    text: str  # the original text there (for node/edge: their base class, unescaped)


@dataclass(frozen=True)
class SvgTemplate:
    """The SVG as parts (str) with slots; ``width``/``height``/``viewbox`` are Graphviz's."""

    parts: tuple[str, ...]
    slots: tuple[Slot, ...]
    width: float
    height: float
    viewbox: tuple[float, float, float, float]

    def fill(self, values: dict[int, str]) -> str:
        """The SVG with the slots at the given indices replaced; one join."""
        out = list(self.parts)
        for index, text in values.items():
            out[index] = text
        return "".join(out)


def tag_grad(text: str) -> str:
    """A gradient ``<text>`` element (or the edge-label group holding one) given class gad-grad."""
    return text.replace("<text ", '<text class="gad-grad" ', 1)


def strip_grad_tip(tip: str) -> str:
    """A node tooltip (escaped attribute text) without its ``grad: …`` line."""
    return _GRAD_TIP.sub("", tip)


def _owner_of(cls: str, gid: str) -> tuple[str, str]:
    classes = cls.replace("&#45;", "-").split()
    if "gad-node" in classes:
        return "node", gid
    if "gad-edge" in classes:
        return "edge", gid
    return "", ""


def parse_svg(svg: str, grad_color: str) -> SvgTemplate:
    """Cut Graphviz's SVG into parts and slots; ``grad_color`` is the theme's gradient colour."""
    fill = f'fill="{grad_color.lower()}"'
    parts: list[str] = []
    slots: list[Slot] = []
    owner_kind, owner = "", ""
    size = (0.0, 0.0)
    viewbox = (0.0, 0.0, 0.0, 0.0)
    pos = 0

    def slot(kind: str, who: str, text: str, original: str) -> None:
        slots.append(Slot(len(parts), kind, who, text))
        parts.append(original)

    for m in _TOKEN.finditer(svg):
        group = m.lastgroup
        parts.append(svg[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if m.group("svg") is not None:
            size = (float(m.group("w")), float(m.group("h")))
            viewbox = _viewbox(m.group("vb"))
            slot("svg", "", token, token)
        elif m.group("group") is not None:
            owner_kind, owner = _owner_of(m.group("gcls"), m.group("gid"))
            if owner_kind:
                slot(owner_kind, owner, m.group("gcls").replace("&#45;", "-"), token)
            else:
                parts.append(token)
        elif group == "label" and owner_kind == "edge" and fill in token:
            slot("edge_grad", owner, token, token)
        elif group == "tip" and owner_kind == "node":
            slot("node_tip", owner, m.group("tipv"), token)
        elif group == "text" and owner_kind == "node" and fill in token:
            slot("node_grad", owner, token, token)
        elif group == "end":
            slot("end", "", token, token)
        else:
            parts.append(token)
    parts.append(svg[pos:])
    return SvgTemplate(tuple(parts), tuple(slots), size[0], size[1], viewbox)


def _viewbox(text: str) -> tuple[float, float, float, float]:
    nums = [float(x) for x in text.split()]
    if len(nums) != 4:
        raise RenderError(f"Graphviz wrote an SVG viewBox this stepper cannot read ({text!r}); "
                          "please report it with the output of dot -V")
    return nums[0], nums[1], nums[2], nums[3]
