"""Forward mode, stepped: every node's tangent against torch.func.jvp; the final tangent is reverse mode's gradient."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import graphviz_ad as gad
from graphviz_ad.frontends.cli import cli
from tests.helpers import f, leaves, needs_dot


def _lesson(x, y, z):
    a = 2 * x
    b = torch.sin(y)
    c = a / b
    d = 1 + z * c
    e = torch.log(d)
    return a, b, c, d, e, torch.tanh(e)


@needs_dot
@pytest.mark.parametrize("wrt, position", [("x", 0), ("y", 1), ("z", 2)])
def test_every_tangent_of_the_nested_function_equals_jvp(wrt, position):
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
    s = t.stepper(mode="forward", wrt=wrt)
    primals = tuple(torch.tensor(v) for v in (1.0, 2.0, 3.0))
    tangents = tuple(torch.tensor(1.0 if k == position else 0.0) for k in range(3))
    _, jvp = torch.func.jvp(_lesson, primals, tangents)
    by_label = {t.graph.node(nid).label: v for nid, v in s.tangents.items() if v is not None}
    for name, expected in zip("abcdef", jvp):
        if float(expected) == 0.0:
            assert name not in by_label or by_label[name].scalar() == 0.0
        else:
            assert by_label[name].scalar() == pytest.approx(float(expected), rel=1e-6), name
    assert by_label["f"].scalar() == pytest.approx(t.node(wrt).grad.scalar(), rel=1e-6)  # = reverse mode
    text = s.text()
    assert f"reverse mode's {wrt}.grad is" in text and "the same number" in text
    assert "forward mode 3 (one per input), reverse mode 1 (one per output)" in text


@needs_dot
def test_forward_steps_show_tangent_in_times_local_derivative():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
    lines = t.stepper(mode="forward", wrt="x").text().splitlines()
    assert lines[0] == "[1] x (input): dx/dx = 1  (the seed: x + ε·1)"
    assert lines[6] == ("[7] f = tanh(e): df/dx = de/dx × (∂f/∂e = 1 - tanh²(e) = 0.066941) = 0.8684 × 0.066941 "
                        "= 0.058131")


@needs_dot
def test_forward_mode_on_a_small_model_equals_jvp_and_needs_no_backward():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    x = torch.randn(2, 3)
    t = gad.trace(lambda x: net(x).sum(), x)  # no backward
    s = t.stepper(mode="forward", wrt="x")
    out_tangent = s.tangents[t.graph.outputs[0]].scalar()
    _, expected = torch.func.jvp(lambda x: net(x).sum(), (x,), (torch.ones_like(x),))
    assert out_tangent == pytest.approx(float(expected.detach()), rel=1e-5)
    first = next(n for n in t.nodes if n.op == "linear")
    _, hidden = torch.func.jvp(net[0], (x,), (torch.ones_like(x),))
    assert torch.allclose(torch.tensor(s.tangents[first.id].data), hidden.detach(), rtol=1e-5)
    assert all(p.grad is None for p in net.parameters()) and x.grad is None


def test_forward_mode_refuses_an_unknown_input():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0))
    with pytest.raises(gad.TraceError, match="not one; the inputs are x, y, z"):
        t.stepper(mode="forward", wrt="q")


@needs_dot
def test_step_forward_on_the_cli(tmp_path):
    res = CliRunner().invoke(cli, ["step", "tanh(log(1 + z*(2*x/sin(y))))", "--at", "x=1", "--at", "y=2",
                                   "--at", "z=3", "--forward", "x"])
    assert res.exit_code == 0, res.output
    assert "[3] c = a / b: dc/dx = da/dx × (∂c/∂a = 1/b = 1.0998) = 2 × 1.0998 = 2.1995" in res.output
    out = tmp_path / "fw.html"
    res = CliRunner().invoke(cli, ["step", "x*y", "--at", "x=1", "--at", "y=2", "--forward", "y", "-o", str(out)])
    assert res.exit_code == 0 and "forward step" in out.read_text()


@pytest.mark.browser
@pytest.mark.slow
@needs_dot
def test_the_forward_page_steps_in_a_browser(watched, tmp_path):
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward()
    path = tmp_path / "fw.html"
    t.stepper(mode="forward", wrt="x").save(path)
    page = watched.page
    url = watched.open(path)
    assert page.text_content(".gfw-counter") == "forward step 1 of 7"
    page.click(".gfw-next")
    page.keyboard.press("ArrowRight")
    assert page.text_content(".gfw-counter") == "forward step 3 of 7"
    assert page.text_content(".gfw-title") == "[3] c = a / b"
    assert page.eval_on_selector_all(".gfw-current", "els => els.length") == 1
    assert watched.errors == [] and watched.requests == [url]
