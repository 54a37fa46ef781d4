"""Recording one real optimizer step (the lesson's training iteration)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.errors import BackwardError


def setup():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    x, y = torch.randn(16, 1), torch.randn(16, 1)
    return net, x, y


def test_sgd_momentum_step_matches_a_plain_step():
    net, x, y = setup()
    ref = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    ref.load_state_dict(net.state_dict())
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        t = gad.trace(lambda: nn.functional.mse_loss(net(x), y))
        t.backward(accumulate=True)
        rec = t.optimizer_step(opt)
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        ref_opt.step()
    for (name, p), q in zip(net.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), name
    bias = next(u for u in rec.updates if u.name == "2.bias")
    assert bias.new.to_json() == ref[2].bias.tolist()
    assert "momentum_buffer" in bias.state_before and "momentum_buffer" in bias.state_after
    buf_before = bias.state_before["momentum_buffer"].scalar()
    g = bias.grad.scalar()
    assert bias.state_after["momentum_buffer"].scalar() == pytest.approx(0.9 * buf_before + g, rel=1e-6)
    assert bias.old.scalar() - 0.1 * bias.state_after["momentum_buffer"].scalar() == pytest.approx(
        bias.new.scalar(), rel=1e-6)
    assert "buf ← 0.9·buf + g" in bias.rule
    assert t.to_json()["optimizer"]["name"] == "SGD"


def test_dry_run_puts_parameters_and_state_back():
    net, x, y = setup()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    t = gad.trace(lambda: nn.functional.mse_loss(net(x), y))
    t.backward(accumulate=True)
    rec = t.optimizer_step(opt, dry_run=True)
    assert rec.dry_run and all(not torch.equal(torch.tensor(u.old.to_json()), torch.tensor(u.new.to_json()))
                               for u in rec.updates if u.old.data is not None)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    assert opt.state_dict()["state"] == {}


def test_step_without_gradients_is_a_clear_error():
    net, x, y = setup()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    t = gad.trace(lambda: nn.functional.mse_loss(net(x), y)).backward()
    with pytest.raises(BackwardError, match="accumulate=True"):
        t.optimizer_step(opt)
    other = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(BackwardError, match="none of the optimizer's parameters"):
        t.optimizer_step(other)
