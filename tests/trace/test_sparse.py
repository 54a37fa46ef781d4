"""Sparse tensors trace, step and draw: their layout, number of stored entries and a summary of the
stored values, checked against PyTorch; other layouts say theirs."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.render.format import fmt_value


def stored(t):
    """What the summary is taken of: the stored values, duplicates summed."""
    t = t.detach()
    return t.coalesce().values() if t.layout is torch.sparse_coo else t.values()


def assert_summary(v, t):
    vals = stored(t).double()
    assert v.layout == str(t.layout).replace("torch.", "")
    assert v.nnz == (t.detach().coalesce()._nnz() if t.layout is torch.sparse_coo else t._nnz())
    assert v.kind == "stats"
    assert v.stats["min"] == pytest.approx(vals.min().item(), rel=1e-6)
    assert v.stats["max"] == pytest.approx(vals.max().item(), rel=1e-6)
    assert v.stats["mean"] == pytest.approx(vals.mean().item(), rel=1e-6)
    assert v.stats["norm"] == pytest.approx(vals.norm().item(), rel=1e-6)


def every_view(t):
    """Every output: SVG, JSON, the stepper's frames, page and text (none may raise)."""
    svg = t.to_svg()
    data = json.loads(json.dumps(t.to_json(), allow_nan=False))
    s = t.stepper()
    frames = s.frames()
    html = s.to_html()
    text = s.text()
    assert frames and html.startswith("<!DOCTYPE html>")
    return svg, data, text


def test_sparse_mm_traces_and_draws_the_sparse_operand():
    torch.manual_seed(0)
    w = (torch.randn(4, 3) * (torch.rand(4, 3) > 0.5)).requires_grad_()
    x = torch.randn(3, 2)
    t = gad.trace(lambda w, x: torch.sparse.mm(w.to_sparse(), x).sum(), w, x).backward()
    sp = t.node("to_sparse")
    ref = w.detach().to_sparse()
    assert_summary(sp.value, ref)
    assert sp.value.nnz == int((w != 0).sum())
    (g,) = torch.autograd.grad(torch.sparse.mm(w.to_sparse(), x).sum(), w)
    assert torch.allclose(torch.tensor(t.node("w").grad.to_json()), g)
    svg, data, text = every_view(t)
    label = f"sparse 4×3, nnz {sp.value.nnz}"
    assert label in fmt_value(sp.value) and label in svg
    node = next(n for n in data["nodes"] if n["label"] == "to_sparse")
    assert node["value"]["layout"] == "sparse_coo" and node["value"]["nnz"] == sp.value.nnz
    assert list(node["value"]) == ["shape", "layout", "nnz", "min", "max", "mean", "norm"]
    assert node["value"]["norm"] == pytest.approx(ref.values().norm().item(), rel=1e-6)


def test_embedding_sparse_gradients_in_backward_stepper_and_optimizer():
    torch.manual_seed(0)
    emb = nn.Embedding(10, 3, sparse=True)
    idx = torch.tensor([[1, 2, 4], [4, 3, 9]])  # 4 twice: the gradient has duplicates before coalescing
    t = gad.trace(lambda i: emb(i).pow(2).sum(), idx).backward()
    assert emb.weight.grad is None, ".grad left as it was"
    emb(idx).pow(2).sum().backward()
    want = emb.weight.grad
    assert want.layout is torch.sparse_coo
    g = t.node("weight").grad
    assert_summary(g, want)
    assert g.nnz == 5  # rows 1, 2, 3, 4, 9
    step = next(s for s in t.steps if s.grad_fn == "EmbeddingBackward0")
    assert_summary(step.contributions[0].value, want)
    svg, data, text = every_view(t)
    assert "weight.grad = sparse 10×3, nnz 5; min " in text
    assert "sparse 10×3, nnz 5" in svg
    assert next(n for n in data["nodes"] if n["label"] == "weight")["grad"]["layout"] == "sparse_coo"

    # the optimizer step reads the sparse .grad too (SGD applies sparse gradients)
    emb.weight.grad = None
    opt = torch.optim.SGD(emb.parameters(), lr=0.1)
    t = gad.trace(lambda i: emb(i).pow(2).sum(), idx).backward(accumulate=True)
    before = emb.weight.detach().clone()
    rec = t.optimizer_step(opt, dry_run=True)
    assert torch.equal(emb.weight, before)
    assert_summary(rec.updates[0].grad, emb.weight.grad)
    svg, data, text = every_view(t)
    assert "| grad sparse 10×3, nnz 5; min " in text
    assert data["optimizer"]["updates"][0]["grad"]["nnz"] == 5


def test_a_sparse_leaf_used_twice_carries_the_sum_of_both_sparse_gradients():
    torch.manual_seed(0)
    i = torch.tensor([[0, 0, 1, 2], [1, 1, 2, 0]])  # uncoalesced: (0, 1) stored twice
    ws = torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0, -3.0, 0.5]), (3, 3), check_invariants=True).requires_grad_()
    t = gad.trace(lambda ws: torch.sparse.sum(ws * ws), ws).backward()
    assert_summary(t.node("ws").value, ws)
    assert t.node("ws").value.nnz == 3
    (want,) = torch.autograd.grad(torch.sparse.sum(ws * ws), ws)
    assert_summary(t.node("ws").grad, want)
    edge = next(e for e in t.edges if t.graph.node(e.source).label == "ws")
    assert_summary(edge.grad, want)  # both slots of MulBackward0 into ws: the edge carries their sum
    every_view(t)


@pytest.mark.parametrize("convert, layout, label", [
    (lambda w: w.to_sparse_csr(), "sparse_csr", "sparse CSR 4×4"),
    (lambda w: w.to_sparse_csc(), "sparse_csc", "sparse CSC 4×4"),
    (lambda w: w.to_sparse_bsr((2, 2)), "sparse_bsr", "sparse BSR 4×4"),
])
def test_other_layouts_say_their_layout(convert, layout, label):
    torch.manual_seed(0)
    w = torch.randn(4, 4, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        t = gad.trace(lambda w: convert(w).to_dense().sum(), w).backward()
        v = next(n.value for n in t.nodes if n.value is not None and n.value.layout != "strided")
        assert v.layout == layout and label in fmt_value(v)
        assert_summary(v, convert(w.detach()))
        svg, data, _ = every_view(t)
    assert label in svg
    assert any(n["value"] and isinstance(n["value"], dict) and n["value"].get("layout") == layout
               for n in data["nodes"])


def test_a_sparse_tensor_storing_nothing():
    empty = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (3, 3), check_invariants=True)
    x = torch.ones(3, 2, requires_grad=True)
    t = gad.trace(lambda x, e: torch.sparse.mm(e, x).sum(), x, empty).backward()
    v = t.node("e").value
    assert (v.layout, v.nnz, v.stats) == ("sparse_coo", 0, None)
    assert v.to_json() == {"shape": [3, 3], "layout": "sparse_coo", "nnz": 0,
                           "min": None, "max": None, "mean": None, "norm": None}
    assert fmt_value(v) == "sparse 3×3, nnz 0"
    every_view(t)
