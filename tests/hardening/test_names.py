"""Hostile names of modules, parameters and functions: valid DOT, text in SVG/HTML, JSON round trip."""

from __future__ import annotations

import json
import re
import subprocess
import xml.dom.minidom

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.model.export import dumps
from tests.helpers import needs_dot

NAMES = ['q"uote', "back\\slash", "[brack]", "<b>bold</b>", "new\nline", "\u202eRTL\u200f", "{br}&amp;", "</script>",
         "x" * 80, "😀 emoji", "tab\there", "]]>", "lone\ud800surrogate"]


class Inner(nn.Module):
    def forward(self, x):
        for leaf in self.children():
            x = leaf(x)
        return x


class Hostile(nn.Module):
    """Submodules named with quotes, markup, newlines, RTL marks, emoji (add_module accepts them)."""

    def __init__(self) -> None:
        super().__init__()
        for i, name in enumerate(NAMES):
            inner = Inner()
            inner.add_module(name, nn.Linear(2, 2))
            self.add_module(f"{name}{i}", inner)

    def forward(self, x):
        for child in self.children():
            x = child(x)
        return x.sum()


@pytest.fixture(scope="module")
def hostile_trace() -> gad.Trace:
    torch.manual_seed(0)
    return gad.trace(Hostile(), torch.ones(1, 2)).backward()


@needs_dot
def test_dot_parses_with_exactly_the_intended_nodes(hostile_trace):
    dot = hostile_trace.to_dot(depth=None)
    canon = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, check=True).stdout.decode()
    ids = set(re.findall(r"^\s*(n\d+|legend)\s+\[", canon, flags=re.M))
    assert ids == {n.id for n in hostile_trace.nodes} | {"legend"}
    clusters = re.findall(r"subgraph cluster_(c\d+)", canon)
    assert len(clusters) == len(hostile_trace.graph.clusters)


@needs_dot
def test_svg_keeps_names_as_text(hostile_trace):
    svg = hostile_trace.to_svg(depth=None)
    doc = xml.dom.minidom.parseString(svg.encode())  # well-formed
    tags = {el.tagName for el in doc.getElementsByTagName("*")}
    assert tags <= {"svg", "g", "title", "text", "polygon", "path", "ellipse", "a", "polyline"}, tags
    texts = " ".join(t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild)
    assert "<b>bold</b>" in texts and "</script>" in texts


@needs_dot
def test_html_stepper_keeps_names_as_text(hostile_trace):
    html = hostile_trace.stepper(depth=None).to_html()
    benign = gad.trace(lambda x: (x * 2).sum(), torch.ones(2, requires_grad=True)).backward().stepper().to_html()
    assert "<b>bold</b>" not in html
    for tag in ("<script", "</script", "<b>", "<style"):
        assert html.lower().count(tag) == benign.lower().count(tag), tag
    assert "\\u003c/script\\u003e" in html or "&lt;/script&gt;" in html


def test_json_round_trips_every_name(hostile_trace):
    data = json.loads(dumps(hostile_trace.to_json()))
    params = [n["label"] for n in data["nodes"] if n["kind"] == "param"]
    shown = [name.replace("\ud800", "\ufffd") for name in NAMES]  # no encoding writes a lone surrogate
    want = [f"{name}{i}.{name}.{p}" for i, name in enumerate(shown) for p in ("weight", "bias")]
    assert params == want
    labels = [c["label"] for c in data["clusters"]]
    assert f"{NAMES[3]}3: Inner" in labels


def test_function_names_with_unicode_make_clusters():
    ns: dict = {}
    exec("import torch\ndef δ_helper(x):\n    return x * 2\ndef f(x):\n    return δ_helper(x) + 1\n", ns)
    t = gad.trace(ns["f"], torch.ones(1, requires_grad=True))
    assert [c.label for c in t.graph.clusters] == ["δ_helper(x)"]
