"""The default view's tidying (render/tidy.py) on the user's own code: plumbing folded, no-op casts dropped,
helpers kept, names as written; ``show_all`` draws everything as recorded."""

from __future__ import annotations

import torch

import graphviz_ad as gad
from graphviz_ad.render.collapse import resolve_view
from graphviz_ad.render.tidy import PLUMBING_OP, tidy


def masked(x):
    pos = torch.arange(x.shape[0])
    keep = pos % 2 == 0
    y = x.to(torch.float32) * keep
    return y.sum()


def helper(x):
    return torch.tanh(x) * 2


def with_helper(x):
    h = helper(x)
    h = h + 1
    return h.sum()


def test_mask_plumbing_folds_into_one_box_and_a_noop_cast_is_drawn_as_nothing():
    t = gad.trace(masked, torch.randn(4, requires_grad=True)).backward()
    view, mapping = resolve_view(t.graph, "auto")
    boxes = [n for n in view.nodes if n.op == PLUMBING_OP]
    assert len(boxes) == 1 and boxes[0].label == "mask and position plumbing: 3 ops"
    assert boxes[0].args == "arange → remainder → eq"
    assert not any(n.op in ("arange", "remainder", "eq", "to") for n in view.nodes)
    cast = next(n for n in t.nodes if n.op == "to")
    assert mapping[cast.id] == t.node("x").id  # drawn as its source
    mul = next(n for n in view.nodes if n.op == "mul")
    assert mul.grad is t.graph.node(mul.id).grad  # autograd's numbers, untouched
    assert {e.source for e in view.edges if e.target == mul.id} == {t.node("x").id, boxes[0].id}


def test_show_all_draws_the_graph_as_recorded():
    t = gad.trace(masked, torch.randn(4, requires_grad=True)).backward()
    view, mapping = resolve_view(t.graph, "auto", show_all=True)
    assert view is t.graph and all(k == v for k, v in mapping.items())
    assert t.to_dot(show_all=True) != t.to_dot()


def test_the_users_own_helpers_and_names_stay_as_written():
    t = gad.trace(with_helper, torch.randn(3, requires_grad=True)).backward()
    assert [c.origin for c in t.graph.clusters] == ["user"]
    tidied = tidy(t.graph)
    assert tidied.graph is t.graph and not tidied.library  # nothing to tidy: the same graph, the same bytes
    assert "helper(x)" in t.to_dot()


def test_a_batch_norm_counter_update_is_no_plumbing():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3)).train()
    t = gad.trace(net, torch.randn(4, 3)).backward(torch.ones(4, 3))
    view, _ = resolve_view(t.graph, None)
    assert not any(n.op == PLUMBING_OP for n in view.nodes)
    assert any(n.op == "add_" for n in view.nodes)
