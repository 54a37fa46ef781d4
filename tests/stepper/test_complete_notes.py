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
