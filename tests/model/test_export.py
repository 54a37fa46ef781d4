"""JSON (schema graphviz_ad/1) and networkx export."""

from __future__ import annotations

import json

import networkx as nx
import torch

import graphviz_ad as gad
from graphviz_ad.model.export import dumps
from tests.helpers import intermediates, leaves, nested_f


def test_json_schema_and_numbers(nested_trace, golden):
    data = nested_trace.to_json()
    assert data["schema"] == "graphviz_ad/1"
    node = data["nodes"][0]
    assert set(node) >= {"id", "kind", "label", "op", "module", "shape", "dtype", "value", "grad"}
    assert {n["kind"] for n in data["nodes"]} == {"input", "const", "op", "output"}
    step = data["steps"][0]
    assert set(step) >= {"index", "node", "grad_fn", "upstream", "local", "contributions"}
    assert set(step["local"][0]) == {"to", "formula", "value"}
    assert set(step["contributions"][0]) == {"to", "value"}
    expected = intermediates(1.0, 2.0, 3.0)
    for n in data["nodes"]:
        if n["label"] in expected:
            assert n["value"] == expected[n["label"]][0]
            assert n["grad"] == expected[n["label"]][1]
    golden("nested.json", dumps(data))


def test_json_has_no_nan_literals():
    t = gad.trace(nested_f, *leaves(3.0, 4.0, 5.0)).backward()
    text = dumps(t.to_json())
    json.loads(text)  # strict JSON: allow_nan=False in dumps would have raised
    assert '"nan"' in text and "NaN" not in text


def test_large_values_are_summaries():
    t = gad.trace(lambda w: (w * 3).sum(), torch.arange(100.0, requires_grad=True)).backward()
    w = t.to_json()["nodes"][0]
    assert w["value"] == {"shape": [100], "min": 0.0, "max": 99.0, "mean": 49.5, "norm": w["value"]["norm"]}
    assert w["grad"]["max"] == 3.0


def test_networkx_round_trip(nested_trace):
    g = nested_trace.to_networkx()
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == [n.id for n in nested_trace.nodes]
    assert sorted(g.edges) == sorted((e.source, e.target) for e in nested_trace.edges)
    assert g.nodes["n0"]["label"] == "x" and g.nodes["n0"]["grad"] == nested_trace.nodes[0].grad.scalar()
    assert nx.is_directed_acyclic_graph(g)
    assert list(nx.topological_sort(g))[-1] == nested_trace.graph.outputs[0]


def test_the_step_record_names_every_input_it_lists(nested_trace):
    """No `{"to": null, "value": null}` entries: the constant 1 of `1 + z*c` gets no gradient and is left
    out of JSON, the transcript and the panel alike (the record lists as many terms as the views)."""
    t = nested_trace
    data = t.to_json()
    s = t.stepper()
    for step, view in zip(data["steps"], s.views):
        for entry in step["local"] + step["contributions"]:
            assert entry["to"] is not None or entry["value"] is not None, (step["grad_fn"], entry)
        if not step["leaf"]:
            assert len(step["contributions"]) == len(view.terms) == len(step["local"])
    add = next(st for st in data["steps"] if st["grad_fn"] == "AddBackward0")
    assert len(add["contributions"]) == len(add["local"]) == 1  # 1 + z*c: only z*c gets a gradient
    assert t.graph.node(add["contributions"][0]["to"]).op == "mul"
