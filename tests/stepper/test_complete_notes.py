"""The step that completes a node's gradient says so, in the transcript and on the page: ``∇x complete
(from step 3)`` at the step that sent the last part, also where several parts were summed."""

from __future__ import annotations

import pytest
import torch

import graphviz_ad as gad
from tests.browser_support import texts
from tests.helpers import needs_dot


def _twice():
    x = torch.tensor(1.0, requires_grad=True)
    return gad.trace(lambda x: x * x + torch.sin(x), x).backward()


def _last_sender(t, label):
    nid = t.node(label).id
    return max(s.index for s in t.steps for c in s.contributions if c.to == nid and c.value is not None)


def test_the_transcript_names_the_completing_step():
    t = _twice()
    lines = t.stepper().text().splitlines()
    k = _last_sender(t, "x")
    assert len([s for s in t.steps for c in s.contributions if c.to == t.node("x").id]) == 3  # x*x twice, sin once
    assert lines[k].endswith(f" · ∇x complete (from step {k + 1})")
    assert sum("∇x complete" in line for line in lines) == 1  # once, where the last part arrived
    assert not any("∇x complete" in line for line in lines[:k])


@pytest.mark.browser
@pytest.mark.slow
@needs_dot
def test_the_page_names_the_completing_step(watched, tmp_path):
    t = _twice()
    path = tmp_path / "s.html"
    t.stepper().save(path)
    watched.open(path)
    page, root = watched.page, ".gad-stepper"
    k = _last_sender(t, "x")
    for _ in range(k + 1):
        page.click(f"{root} .gad-next")
    assert f"∇x complete (from step {k + 1})" in texts(page, root, "gad-panel-complete")
    page.click(f"{root} .gad-next")
    assert not any("∇x" in c for c in texts(page, root, "gad-panel-complete"))
    assert watched.errors == []


def test_a_painted_panel_ends_with_the_completion_line():
    from graphviz_ad.render.theme import get_theme
    from graphviz_ad.stepper.panel import MAX_COMPLETE, PanelPainter, StepPainter
    from graphviz_ad.stepper.stepinfo import StepView, Term

    def rows(completes):
        view = StepView(5, "n6", "c", "DivBackward0", False, False, "c = a / b", "0.026",
                        ("0.026",), (Term("a", "∂c/∂a = 1/b", "1.1", "0.029"),), completes)
        painted, width = StepPainter(PanelPainter(get_theme("light"))).paint(view, 6, 10)
        return painted, width

    plain, width = rows(("a", "b"))
    assert 'class="gad-panel-complete"' in plain[-1]
    assert "∇a complete (from step 6) · ∇b complete (from step 6)" in plain[-1]
    assert width >= len("∇a complete (from step 6) · ∇b complete (from step 6)")
    assert not any("gad-panel-complete" in r for r in rows(())[0])
    many = rows(tuple(f"w{i}" for i in range(MAX_COMPLETE + 3)))[0][-1]
    assert "… and 3 more complete" in many and "∇w4" not in many


@needs_dot
def test_the_svg_frame_of_the_completing_step_names_it_and_shows_the_gradient():
    t = _twice()
    frames = t.stepper().frames()  # frame 0 is the forward pass, frame k + 1 is step k
    k = _last_sender(t, "x")
    note = f"∇x complete (from step {k + 1})"
    assert note in frames[k + 1] and 'class="gad-panel-complete"' in frames[k + 1]
    assert sum(note in f for f in frames) == 1
    # the lesson's nested function: the division's step completes a = 2*x; its frame draws a's gradient
    from tests.helpers import leaves, nested_f

    n = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()
    div = next(s.index for s in n.steps if s.grad_fn == "DivBackward0")
    frame = n.stepper().frames()[div + 1]
    assert f"∇a complete (from step {div + 1}) · ∇b complete (from step {div + 1})" in frame
    a = n.node("a").id
    group = frame[frame.index(f'<g id="{a}"'):]
    group = group[:group.index("</g>")]
    assert "gad-pending" not in group.split(">", 1)[0] and "∇ 0.029065" in group
