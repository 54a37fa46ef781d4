"""Step texts: one numbering everywhere (steps count from 1 in the transcript, the frames and the page), and unnamed intermediates written as expressions."""

from __future__ import annotations

import json
import re

from tests.helpers import needs_dot


def test_transcript_counts_steps_from_one(nested_trace):
    lines = nested_trace.stepper().text().splitlines()
    assert [int(re.match(r"\[(\d+)\]", line).group(1)) for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0].startswith("[1] TanhBackward0") and lines[-1] == "[10] x.grad = 0.058131"


@needs_dot
def test_each_frame_shows_the_same_number_as_its_position(nested_trace):
    s = nested_trace.stepper()
    frames = s.frames()
    n = len(nested_trace.steps)
    for k in range(1, n + 1):
        text = re.sub(r"<[^>]+>", "", frames[k])
        assert f"[{k}] " in text and f"step {k} of {n}" in text, k
        assert f"[{k - 1}] " not in text


@needs_dot
def test_the_page_numbers_steps_from_one(nested_trace):
    html = nested_trace.stepper().to_html()
    data = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert [s["number"] for s in data["steps"]] == list(range(1, len(nested_trace.steps) + 1))
    assert '"[" + v.number + "] "' in html


def test_python_transcript_writes_an_unnamed_intermediate_as_its_expression(nested_trace):
    line = nested_trace.stepper().text().splitlines()[2]
    # in the source's order (``d = 1 + z * c``), though torch was handed add(z*c, 1)
    assert line.startswith("[3] AddBackward0 (d = 1 + z*c): ") and "mul + 1" not in line


def test_a_node_shows_its_gradient_once_complete(nested_trace):
    from graphviz_ad.stepper.progress import Progress

    p = Progress(nested_trace.graph, nested_trace.steps)
    a = nested_trace.node("a").id
    div = next(s.index for s in nested_trace.steps if s.grad_fn == "DivBackward0")
    assert p.frame(div + 1).nodes[a] == "gad-done"  # the division's step completed a = 2*x
    assert p.frame(div).nodes[a] == "gad-pending"


def test_a_node_fed_twice_waits_for_its_last_part():
    import torch

    import graphviz_ad as gad
    from graphviz_ad.stepper.progress import Progress

    x, y = torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)
    t = gad.trace(lambda x, y: torch.sin(x * y) + x * y * y, x, y).backward()
    p = Progress(t.graph, t.steps)
    xid = t.node("x").id
    senders = [s.index for s in t.steps if any(c.to == xid and c.value is not None for c in s.contributions)]
    assert len(senders) == 2
    states = [p.frame(k + 1).nodes[xid] for k in range(len(t.steps))]
    assert all(st == "gad-pending" for st in states[:senders[-1]])
    assert states[senders[-1]] == "gad-done"
