"""Module collapsing (depth) and gradient-magnitude colouring."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.model.values import Value
from graphviz_ad.render.collapse import auto_depth, collapse, resolve_view, view_for
from graphviz_ad.render.fold import fold_chains, fold_constants, fold_to_fit
from graphviz_ad.render.gradcolor import NONFINITE, SCALE, grad_fill


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def deep_trace(blocks: int = 30) -> gad.Trace:
    torch.manual_seed(0)
    net = nn.Sequential(*[Block(4) for _ in range(blocks)])
    return gad.trace(lambda: net(torch.randn(2, 4)).sum()).backward()


def test_depth_one_draws_the_roots_children_as_boxes():
    t = gad.trace(nn.Sequential(Block(3), Block(3)), torch.randn(1, 3)).backward(torch.ones(1, 3))
    view, mapping = collapse(t.graph, 1)
    boxes = [n for n in view.nodes if "collapsed" in n.flags]
    assert [b.label for b in boxes] == ["0: Block", "1: Block"]
    assert boxes[0].args == "24 params"
    assert boxes[0].value.shape == (1, 3) and boxes[0].grad is not None
    assert all(mapping[n.id] == "mc0" for n in t.nodes if n.module and n.module.startswith("0"))
    dot = t.to_dot(depth=1)
    assert "fc1" not in dot and "shape=component" in dot


def test_depth_none_expands_everything_and_auto_keeps_about_150_boxes():
    t = deep_trace()
    assert len(t.nodes) > 150
    assert resolve_view(t.graph, None)[0] is t.graph
    d = auto_depth(t.graph)
    assert d is not None
    view, _ = resolve_view(t.graph, "auto")
    assert len(view.nodes) <= 150
    n_dot_nodes = len(re.findall(r"^\s+(?:n|mc)\d+ \[", t.to_dot(), flags=re.M))
    assert n_dot_nodes == len(view.nodes)
    small = gad.trace(lambda x: x * 2, torch.ones(1))
    assert auto_depth(small.graph) is None


def test_bad_depth_is_refused():
    t = deep_trace(2)
    with pytest.raises(ValueError, match="depth"):
        t.to_dot(depth=-1)
    with pytest.raises(ValueError, match="depth"):
        t.to_dot(depth="deep")


def test_grad_colour_scale_is_logarithmic_and_flags_nonfinite():
    def v(x: float) -> Value:
        return Value((), "float32", "cpu", data=x)

    assert grad_fill(v(1.0))[0] == SCALE[5]
    assert grad_fill(v(1e15))[0] == SCALE[-1]
    assert grad_fill(v(1e-15))[0] == SCALE[0]
    assert grad_fill(v(float("nan")))[0] == NONFINITE
    assert grad_fill(None) is None


def test_fifty_layer_chain_shows_exploding_and_vanishing_at_a_glance():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import depth_chain

    for w, end in ((2.0, SCALE[-1]), (0.5, SCALE[0])):
        t = gad.trace(depth_chain.build(w), torch.ones(1, 1)).backward()
        g1 = t.node("0.weight").grad.scalar()
        assert g1 == pytest.approx(w ** 49, rel=1e-5)
        dot = t.to_dot(grad_color=True, depth=None)
        weight_fill = re.search(r'n1 \[.*?fillcolor="([^"]+)"', dot).group(1)
        assert weight_fill == end
        assert "|∇| (log scale)" in dot


def loop_trace(n: int = 2000) -> gad.Trace:
    def loop(x):
        for _ in range(n):
            x = x * 1.0001 + 0.0001
        return x.sum()

    return gad.trace(loop, torch.randn(8, requires_grad=True)).backward()


def test_auto_view_folds_constants_then_chains_so_a_huge_loop_stays_readable():
    t = loop_trace()
    assert len(t.nodes) > 8000
    view, mapping = resolve_view(t.graph, "auto")
    assert [n.label for n in view.nodes] == ["x", "4000 ops", "loop"]
    chain = view.nodes[1]
    assert chain.args == "mul → add ×2000" and "collapsed" in chain.flags
    assert set(mapping) == {n.id for n in t.nodes if n.kind != "const"}  # constants are in the labels now
    assert mapping[t.nodes[-2].id] == chain.id
    last_op = t.graph.node(t.graph.inputs_of(t.graph.outputs[0])[0])
    assert chain.value is last_op.value and chain.grad is last_op.grad
    expanded, same = resolve_view(t.graph, None)
    assert expanded is t.graph and same[t.nodes[5].id] == t.nodes[5].id


def test_constants_fold_into_the_label_only_when_the_graph_is_big():
    small = gad.trace(lambda x: 2 * x, torch.ones(1, requires_grad=True))
    assert [n.kind for n in resolve_view(small.graph, "auto")[0].nodes] == ["input", "const", "output"]
    view, _ = fold_constants(small.graph)
    assert [n.kind for n in view.nodes] == ["input", "output"] and view.nodes[1].args == "2"


def _drawn(view: gad.Graph) -> tuple:
    """What a view draws: its nodes' fields (values and gradients by identity), edges with gradients, outputs."""
    nodes = [(n.id, n.kind, n.label, n.op, n.module, n.cluster, id(n.value), id(n.grad), n.args, n.source, n.flags)
             for n in view.nodes]
    edges = [(e.source, e.target, id(e.grad)) for e in view.edges]
    return nodes, edges, view.outputs, [c.id for c in view.clusters]


def branchy_trace() -> gad.Trace:
    def branchy(x):
        a = x
        for _ in range(6):
            a = torch.sin(a * 3 + 2)
        c = a + x * 2
        for i in range(60):
            c = torch.cos(c) * 0.5 + (c if i % 7 else a)
        return c.sum() + a.sum()

    return gad.trace(branchy, torch.randn(3, requires_grad=True)).backward()


@pytest.mark.parametrize("make", [loop_trace, branchy_trace, lambda: deep_trace(30)])
@pytest.mark.parametrize("max_nodes", [2, 150, 400])
def test_fold_to_fit_is_fold_constants_then_fold_chains(make, max_nodes):
    graph = make().graph
    view, mapping = fold_constants(graph)
    if len(view.nodes) > max_nodes:
        view, inner = fold_chains(view)
        mapping = {k: inner[v] for k, v in mapping.items() if v in inner}
    fitted, fitted_mapping = fold_to_fit(graph, max_nodes)
    assert _drawn(fitted) == _drawn(view)
    assert list(fitted_mapping.items()) == list(mapping.items())


@pytest.mark.parametrize("depth", [None, 0, 1, 2, "auto"])
def test_view_for_is_the_view_resolve_view_draws(depth):
    for t in (deep_trace(30), loop_trace(300), branchy_trace()):
        assert _drawn(view_for(t.graph, depth)) == _drawn(resolve_view(t.graph, depth)[0])
