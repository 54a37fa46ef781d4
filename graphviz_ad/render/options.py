"""Render options: one small frozen object instead of a dozen keyword arguments."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .theme import THEMES

__all__ = ["RenderOptions"]

_RANKDIRS = ("TB", "LR", "BT", "RL")


@dataclass(frozen=True)
class RenderOptions:
    """How a graph is drawn.

    theme: "light" or "dark"; rankdir: "TB" (top to bottom) or "LR" (and BT, RL);
    legend: draw the legend; grads: show gradients once the backward ran;
    depth: module nesting drawn expanded below the traced root: 1 draws the root's children
    as single boxes, None expands everything, "auto" (the default) collapses modules until
    at most about 150 boxes are visible (about 60 for a model from an installed library);
    grad_color: colour nodes and edges by gradient magnitude on a log scale;
    digits: significant digits of numbers in labels (4-6);
    show_all: draw everything as recorded: the frames of installed libraries (a Hugging Face model's
    decorators and helpers), the mask and position plumbing that carries no gradient, no-op casts
    (by default those are unframed, folded into one box per module, dropped).
    """

    theme: str = "light"
    rankdir: str = "TB"
    legend: bool = True
    grads: bool = True
    depth: int | str | None = "auto"
    grad_color: bool = False
    digits: int = 5
    show_all: bool = False

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise ValueError(f"unknown theme {self.theme!r}; choose one of: {', '.join(THEMES)}")
        rd = str(self.rankdir).upper()
        if rd not in _RANKDIRS:
            raise ValueError(f"unknown rankdir {self.rankdir!r}; choose one of: {', '.join(_RANKDIRS)}")
        object.__setattr__(self, "rankdir", rd)
        if self.depth is not None and self.depth != "auto" and (
                not isinstance(self.depth, int) or isinstance(self.depth, bool) or self.depth < 0):
            raise ValueError(f"depth must be a whole number >= 0, None (expand all) or 'auto', got {self.depth!r}")
        if not 3 <= int(self.digits) <= 9:
            raise ValueError(f"digits must be between 3 and 9, got {self.digits!r}")

    @classmethod
    def make(cls, options: "RenderOptions | None" = None, **kw: Any) -> "RenderOptions":
        """Options from an existing object and/or keyword arguments; unknown names are refused."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kw) - names)
        if unknown:
            raise TypeError(f"unknown render option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        base = options or cls()
        return replace(base, **kw) if kw else base
