"""The backward pass as plain text: one line per step, upstream × local = contribution; then the optimizer step."""

from __future__ import annotations

from collections.abc import Iterable

from .stepinfo import StepView
from .updateinfo import UpdateView

__all__ = ["step_line", "transcript"]


def step_line(view: StepView) -> str:
    """``[4] MulBackward0 (mul = z*c): upstream 0.0088 × ∂mul/∂z = c = 2.1995 → z: 0.019377; …``

    A leaf step reads ``[5] z.grad = 0.019377`` (``= 0.1 + 0.2 = 0.3`` where gradients summed). The
    line ends with `` · ∇z complete (from step 4)`` for every node whose gradient the step completed.
    """
    notes = "".join(f" · {n}" for n in view.complete_notes)
    if view.leaf:
        return f"[{view.number}] {view.title} = {view.upstream_text}{notes}"
    head = f"[{view.number}] {view.title}: upstream {view.upstream_text}"
    if not view.terms:
        return f"{head} (no input needs a gradient){notes}"
    return f"{head} " + "; ".join(t.text() for t in view.terms) + notes


def _update_lines(updates: Iterable[UpdateView], title: str) -> list[str]:
    """A ``title: rule`` line wherever the rule changes (param groups), then one ``[step]`` line per parameter."""
    lines: list[str] = []
    rule = None
    for u in updates:
        if u.rule != rule:
            rule = u.rule
            lines.append(f"{title}: {rule}" if rule else title)
        lines.append(u.text())
    return lines


def transcript(views: Iterable[StepView], updates: Iterable[UpdateView] = (), title: str = "optimizer step") -> str:
    """Every step, one line each, in the engine's order; then the optimizer's updates (``title`` heads
    them: ``optimizer step (SGD)``); ends with a newline."""
    lines = [step_line(v) for v in views]
    if not lines:
        lines = ["(no backward steps)"]
    lines += _update_lines(updates, title)
    return "\n".join(lines) + "\n"
