"""Colours and shapes of the visual encoding (Okabe-Ito based, colour-blind safe), light and dark."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Theme", "THEMES", "SHAPES", "KIND_NAMES", "get_theme"]


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    text: str
    muted: str
    edge: str
    grad: str
    cluster_fn: str
    cluster_mod: str
    cluster_border: str
    fill: dict[str, str]
    border: dict[str, str]
    highlight: str
    done: str


_BORDER = {"input": "#0072B2", "param": "#E69F00", "const": "#999999", "op": "#555555", "output": "#D55E00",
           "module": "#8C7A45"}

THEMES: dict[str, Theme] = {
    "light": Theme(
        name="light", background="#FFFFFF", text="#1A1A1A", muted="#666666", edge="#555555",
        grad="#AA3377", cluster_fn="#F4F8FB", cluster_mod="#F7F5EE", cluster_border="#B8B8B8",
        fill={"input": "#D6EAF8", "param": "#FCE9C4", "const": "#EEEEEE", "op": "#FFFFFF", "output": "#F8D9C8",
              "module": "#EFEBDD"},
        border=_BORDER, highlight="#009E73", done="#56B4E9",
    ),
    "dark": Theme(
        name="dark", background="#1E1E1E", text="#E8E8E8", muted="#A0A0A0", edge="#B0B0B0",
        grad="#F0A3CF", cluster_fn="#252B31", cluster_mod="#2B2A25", cluster_border="#5A5A5A",
        fill={"input": "#143A55", "param": "#4A3710", "const": "#333333", "op": "#2A2A2A", "output": "#5A2A12",
              "module": "#3A372C"},
        border={"input": "#56B4E9", "param": "#E69F00", "const": "#8C8C8C", "op": "#9A9A9A", "output": "#E07B3C",
                "module": "#C8B88A"},
        highlight="#2FD3A0", done="#56B4E9",
    ),
}

SHAPES = {"input": "ellipse", "param": "box3d", "const": "ellipse", "op": "box", "output": "box", "module": "component"}
STYLES = {"input": "filled", "param": "filled", "const": "filled,dashed", "op": "filled,rounded",
          "output": "filled,rounded,bold", "module": "filled"}
KIND_NAMES = {"input": "input", "param": "parameter / buffer", "const": "constant", "op": "operation",
              "output": "output", "module": "module (collapsed)"}


def get_theme(name: str) -> Theme:
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; choose one of: {', '.join(THEMES)}") from None
