"""The backward pass as plain text: one line per step, upstream × local = contribution."""

from __future__ import annotations

from typing import Iterable

from .stepinfo import StepView

__all__ = ["step_line", "transcript"]


def step_line(view: StepView) -> str:
    """``[3] MulBackward0 (mul = z*c): upstream 0.0088 × ∂mul/∂z = c = 2.1995 → z: 0.019377; …``

    A leaf step reads ``[4] z.grad = 0.019377`` (``= 0.1 + 0.2 = 0.3`` where gradients summed).
    """
    if view.leaf:
        return f"[{view.index}] {view.title} = {view.upstream_text}"
    head = f"[{view.index}] {view.title}: upstream {view.upstream_text}"
    if not view.terms:
        return f"{head} (no input needs a gradient)"
    return f"{head} " + "; ".join(t.text() for t in view.terms)


def transcript(views: Iterable[StepView]) -> str:
    """Every step, one line each, in the engine's order; ends with a newline."""
    lines = [step_line(v) for v in views]
    return "\n".join(lines) + "\n" if lines else "(no backward steps)\n"
