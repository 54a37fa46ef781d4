"""Familiar layers trace and step with autograd's numbers; models are left exactly as found."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import graphviz_ad as gad
from tests.trace.test_recorder import no_global_state_left


def scalar_loss(out):
    if isinstance(out, tuple):
        out = out[0]
    return out.float().pow(2).mean()


CASES = {
    "lstm": (lambda: nn.LSTM(4, 5, batch_first=True), lambda: (torch.randn(2, 3, 4),), "lstm"),
    "gru": (lambda: nn.GRU(4, 5), lambda: (torch.randn(3, 2, 4),), "gru"),
    "mha": (lambda: nn.MultiheadAttention(8, 2, batch_first=True), lambda: (torch.randn(1, 5, 8),) * 3,
            "multi_head_attention_forward"),
    "embedding_layernorm": (lambda: nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)),
                            lambda: (torch.tensor([[1, 2, 3]]),), "layer_norm"),
    "conv_bn_pool": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.MaxPool2d(2), nn.AvgPool2d(1)),
                     lambda: (torch.randn(1, 1, 8, 8),), "batch_norm"),
    "dropout_train": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train(),
                      lambda: (torch.randn(2, 4),), "dropout"),
    "dropout_eval": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).eval(),
                     lambda: (torch.randn(2, 4),), "dropout"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_layer_gradients_equal_autograd(name):
    make, inputs, op = CASES[name]
    torch.manual_seed(0)
    m = make()
    args = inputs()
    buffers_before = {k: v.clone() for k, v in m.named_buffers()}
    torch.manual_seed(1)
    t = gad.trace(lambda *a: scalar_loss(m(*a)), *args).backward()
    assert all(torch.equal(v, buffers_before[k]) for k, v in m.named_buffers()), "buffers as found"
    assert op in [n.op for n in t.nodes], "fused kernels are drawn as one op"
    torch.manual_seed(1)
    scalar_loss(m(*args)).backward()
    for pname, p in m.named_parameters():
        got = t.node(pname).grad
        want = p.grad
        if got.data is not None:
            assert torch.allclose(torch.tensor(got.to_json()), want, atol=1e-6), pname
        else:
            assert got.stats["norm"] == pytest.approx(float(want.norm()), rel=1e-5), pname
    assert no_global_state_left()


def test_sdpa_and_dict_outputs_and_keyword_inputs():
    q = torch.randn(1, 2, 4, 8, requires_grad=True)
    t = gad.trace(lambda q: F.scaled_dot_product_attention(q, q, q).sum(), q).backward()
    assert "scaled_dot_product_attention" in [n.op for n in t.nodes]
    (g,) = torch.autograd.grad(F.scaled_dot_product_attention(q, q, q).sum(), q)
    assert torch.allclose(torch.tensor(t.node("q").grad.to_json()), g, atol=1e-6)

    class D(nn.Module):
        def forward(self, x, *, scale=1.0):
            return {"a": x * scale, "b": [x.sum()]}

    t = gad.trace(D(), torch.ones(2), scale=3.0)
    assert [t.graph.node(o).label for o in t.graph.outputs] == ["output['a']", "output['b'][0]"]


def test_model_left_as_found_when_forward_raises_midway():
    torch.manual_seed(0)

    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.bn = nn.BatchNorm1d(2)

        def forward(self, x):
            h = self.bn(self.fc(x))
            raise RuntimeError("midway")

    m = Flaky().train()
    m.fc.weight.grad = torch.full((2, 2), 7.0)
    user_calls = []
    handle = m.fc.register_forward_hook(lambda *a: user_calls.append(1))
    state = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(RuntimeError, match="midway"):
        gad.trace(m, torch.randn(4, 2))
    assert no_global_state_left()
    assert m.training and torch.equal(m.fc.weight.grad, torch.full((2, 2), 7.0))
    assert user_calls == [1] and len(m.fc._forward_hooks) == 1
    # the running stats the train-mode forward updated before it raised are put back too
    assert all(torch.equal(v, state[k]) for k, v in m.state_dict().items())
    handle.remove()
    t = gad.trace(nn.Linear(2, 1), torch.ones(1, 2))
    assert len(t.nodes) == 4


def test_backward_error_leaves_grads_and_hooks_alone():
    x = torch.ones(3, requires_grad=True)
    x.grad = torch.full((3,), 5.0)

    def f(x):
        y = torch.sigmoid(x)
        y.add_(1)  # in-place on a tensor sigmoid saved for backward
        return y.sum()

    t = gad.trace(f, x)
    with pytest.raises(gad.BackwardError, match="PyTorch's backward failed"):
        t.backward()
    assert torch.equal(x.grad, torch.full((3,), 5.0))
    t2 = gad.trace(lambda x: (x * 2).sum(), x).backward()
    assert t2.node("x").grad.to_json() == [2.0, 2.0, 2.0]
