"""Finite differences beside autograd: t.check(), step/render --check, and a deliberately wrong backward flagged."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import graphviz_ad as gad
from graphviz_ad.frontends.cli import cli
from tests.helpers import f, leaves, needs_dot


class BadSin(torch.autograd.Function):
    """sin with a bug in its backward: sin(x) where cos(x) belongs."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.sin(x)


def test_check_of_the_nested_function_agrees_with_torch():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
    checks = t.check()
    assert list(checks) == ["x", "y", "z"]
    x, y, z = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.0, 2.0, 3.0))
    expected = torch.autograd.grad(f(x, y, z), (x, y, z))
    for (name, c), g in zip(checks.items(), expected):
        autograd, numerical, rel_error = c  # the record unpacks as a triple
        assert c.autograd == pytest.approx(float(g), rel=1e-6) and c.numerical == pytest.approx(float(g), rel=1e-7)
        assert c.rel_error < 1e-5 and c.ok
        assert c.autograd == t.node(name).grad.scalar()


def test_a_wrong_custom_backward_is_flagged():
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    t = gad.trace(lambda x: BadSin.apply(x).sum(), x).backward()
    c = t.check()["x"]
    assert not c.ok and c.rel_error > 0.1
    assert c.numerical == pytest.approx(torch.cos(x.detach()).tolist(), rel=1e-6)
    assert c.autograd == pytest.approx(torch.sin(x.detach()).tolist(), rel=1e-6)
    assert "MISMATCH" in t.stepper(check=True).text()


def test_check_leaves_the_model_and_its_buffers_as_they_were():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    xb = torch.randn(5, 3)
    t = gad.trace(lambda x: net(x).pow(2).mean(), xb).backward()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.random.get_rng_state()
    checks = t.check()
    assert all(c.ok for c in checks.values()), checks
    assert all(torch.equal(before[k], v) and v.dtype == before[k].dtype for k, v in net.state_dict().items())
    assert all(p.grad is None and p.dtype == torch.float32 for p in net.parameters())
    assert torch.equal(torch.random.get_rng_state(), rng) and xb.dtype == torch.float32


def test_check_needs_the_backward():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0))
    with pytest.raises(gad.BackwardError, match="backward"):
        t.check()


def test_step_check_prints_the_check_and_render_json_carries_it():
    res = CliRunner().invoke(cli, ["step", "x*sin(y)", "--at", "x=1", "--at", "y=2", "--check"])
    assert res.exit_code == 0, res.output
    assert "finite-difference check (central differences in float64): autograd agrees" in res.output
    assert "x: autograd 0.9093, numerical 0.9093, relative error" in res.output
    res = CliRunner().invoke(cli, ["render", "x*sin(y)", "--at", "x=1", "--at", "y=2", "--check", "--format", "json"])
    check = json.loads(res.output)["check"]
    assert set(check) == {"x", "y"} and check["y"]["ok"] is True
    assert check["y"]["numerical"] == pytest.approx(torch.cos(torch.tensor(2.0, dtype=torch.float64)).item(), rel=1e-8)


@needs_dot
def test_the_page_shows_the_check_under_the_gradients():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
    html = t.stepper(check=True).to_html()
    assert "finite-difference check" in html and "gad-panel-check" in html
