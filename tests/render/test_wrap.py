"""Long chains wrap into rows of boxes: the picture reads at page width (the 50-layer chain was a strip)."""

from __future__ import annotations

import re
import subprocess

import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.render.collapse import view_for
from graphviz_ad.render.wrap import PER_ROW, row_breaks
from tests.helpers import needs_dot


def chain(depth: int) -> gad.Trace:
    layers = [nn.Linear(1, 1, bias=False) for _ in range(depth)]
    with torch.no_grad():
        for layer in layers:
            layer.weight.fill_(2.0)
    return gad.trace(nn.Sequential(*layers), torch.ones(1, 1)).backward()


def test_a_chain_of_fifty_boxes_breaks_after_every_row():
    t = chain(50)
    view = view_for(t.graph, 0)
    breaks = row_breaks(view)
    assert len(view.nodes) == 51 and len(breaks) == 50 // PER_ROW
    dot = t.to_dot(depth=0, rankdir="LR")
    assert dot.count("constraint=false") == len(breaks)


def test_short_chains_and_graphs_that_branch_are_left_alone():
    assert row_breaks(view_for(chain(10).graph, 0)) == set()
    t = gad.trace(lambda x: torch.tanh(x) * torch.sin(x), torch.ones(1, requires_grad=True))
    assert row_breaks(t.graph) == set()


@needs_dot
def test_the_wrapped_chain_is_about_as_wide_as_a_page():
    svg = subprocess.run(["dot", "-Tsvg"], input=chain(50).to_dot(depth=0, rankdir="LR", grad_color=True).encode(),
                         capture_output=True, check=True).stdout.decode()
    width, height = (float(v) for v in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    assert width < 2000 and height < 1200  # was 8,272 x 142 pt on one rank each
