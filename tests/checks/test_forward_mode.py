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
    s = t.stepper(mode="forward", wrt="x", direction=torch.ones_like(x))
    out_tangent = s.tangents[t.graph.outputs[0]].scalar()
    _, expected = torch.func.jvp(lambda x: net(x).sum(), (x,), (torch.ones_like(x),))
    assert out_tangent == pytest.approx(float(expected.detach()), rel=1e-5)
    first = next(n for n in t.nodes if n.op == "linear")
    _, hidden = torch.func.jvp(net[0], (x,), (torch.ones_like(x),))
    assert torch.allclose(torch.tensor(s.tangents[first.id].data), hidden.detach(), rtol=1e-5)
    assert all(p.grad is None for p in net.parameters()) and x.grad is None


def _mlp_loss():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    target = torch.randn(2, 1)

    def loss(x):
        return nn.functional.mse_loss(net(x), target)

    return net, loss


@needs_dot
def test_a_tensor_input_is_seeded_with_the_one_hot_vector_at_its_first_element():
    net, loss = _mlp_loss()
    x = torch.randn(2, 3, requires_grad=True)
    t = gad.trace(loss, x).backward()
    s = t.stepper(mode="forward", wrt="x")
    v = torch.zeros(2, 3)
    v[0, 0] = 1
    # every tangent is torch.func.jvp's along v
    layers = [lambda x: net[0](x), lambda x: net[1](net[0](x)), lambda x: net(x), loss]
    ops = [n for n in t.nodes if n.kind in ("op", "output")]
    assert [n.op for n in ops] == ["linear", "tanh", "linear", "mse_loss"]
    for node, fn in zip(ops, layers):
        _, expected = torch.func.jvp(fn, (x.detach(),), (v,))
        got = torch.tensor(s.tangents[node.id].data, dtype=torch.float32).reshape(expected.shape)
        assert torch.allclose(got, expected.detach(), rtol=1e-5, atol=1e-7), node.op
    # the final tangent is reverse mode's gradient along v: its first component
    x2 = x.detach().clone().requires_grad_(True)
    loss(x2).backward()
    final = s.tangents[t.graph.outputs[0]].scalar()
    assert final == pytest.approx(float(x2.grad[0, 0]), rel=1e-5)
    text = s.text()
    lines = text.splitlines()
    assert lines[0] == "[1] x (input): dx/dx = [[1, 0, 0], [0, …]]  (the seed: x + ε·v, v = the one-hot vector at x[0, 0])"
    # each step: tangent in × local derivative = tangent out, tensors summarised like values
    assert lines[2].startswith("[3] tanh = tanh(") and " × (1 - tanh²(linear)) = [[" in lines[2]
    assert "direction: v = the one-hot vector at x[0, 0] = [[1, 0, 0], [0, …]]" in text
    assert "reverse mode's x.grad · v is" in text and "(x.grad[0, 0], its component along v): the same number" in text
    assert "forward mode 27 (one per input number), reverse mode 1 (one per output)" in text
    page = s.to_html()
    assert "the one-hot vector at x[0, 0]" in page and "its component along v" in page


@needs_dot
def test_an_explicit_direction_gives_the_directional_derivative():
    net, loss = _mlp_loss()
    x = torch.randn(2, 3, requires_grad=True)
    v = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]])
    t = gad.trace(loss, x).backward()
    s = t.stepper(mode="forward", wrt="x", direction=v)
    _, expected = torch.func.jvp(loss, (x.detach(),), (v,))
    x2 = x.detach().clone().requires_grad_(True)
    loss(x2).backward()
    final = s.tangents[t.graph.outputs[0]].scalar()
    assert final == pytest.approx(float(expected.detach()), rel=1e-5)
    assert final == pytest.approx(float((x2.grad * v).sum()), rel=1e-5)
    text = s.text()
    assert "v = the given direction v = [[0.5, -1, 2], [0, …]]" in text
    assert "(the gradient dotted with v): the same number" in text
    assert v.tolist() == [[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]] and x.grad is None  # nothing of the user's changed


def test_a_direction_of_another_shape_is_refused():
    _, loss = _mlp_loss()
    t = gad.trace(loss, torch.randn(2, 3))
    with pytest.raises(gad.TraceError, match=r"direction= must have the shape of x, \(2, 3\); got \(3,\)"):
        t.stepper(mode="forward", wrt="x", direction=torch.ones(3))
    with pytest.raises(gad.TraceError, match="direction= must be a tensor"):
        t.stepper(mode="forward", wrt="x", direction="up")
    with pytest.raises(gad.TraceError, match="forward mode's"):
        t.stepper(direction=torch.ones(2, 3))


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


@needs_dot
def test_step_forward_on_the_cli_with_a_tensor_variable_and_a_direction():
    run = CliRunner().invoke
    expr, at = "sum(tanh(w*x))", ["--at", "w=[1,2]", "--at", "x=3"]
    res = run(cli, ["step", expr, *at, "--forward", "w"])
    assert res.exit_code == 0, res.output
    assert "(the seed: w + ε·v, v = the one-hot vector at w[0])" in res.output
    res = run(cli, ["step", expr, *at, "--forward", "w", "--direction", "[0,1]"])
    assert res.exit_code == 0, res.output
    w, x, v = torch.tensor([1.0, 2.0]), torch.tensor(3.0), torch.tensor([0.0, 1.0])
    _, expected = torch.func.jvp(lambda w: torch.tanh(w * x).sum(), (w,), (v,))
    final = next(line for line in res.output.splitlines() if line.startswith("forward mode: df/dw = "))
    number = float(final.split(" = ")[1].split(";")[0])
    assert number == pytest.approx(float(expected), rel=1e-4)
    assert "(the gradient dotted with v): the same number" in final
    bad = run(cli, ["step", expr, *at, "--forward", "w", "--direction", "[0,1,2]"])
    assert bad.exit_code == 2 and "--direction [0,1,2]: give a value of w's shape (2), not 3" in bad.output
    alone = run(cli, ["step", expr, *at, "--direction", "[0,1]"])
    assert alone.exit_code == 2 and "give --forward NAME too" in alone.output


@needs_dot
def test_a_large_tensor_input_compares_with_autograds_gradient_though_the_trace_summarised_it():
    torch.manual_seed(0)
    layer = nn.Linear(10, 10)
    x = torch.randn(10, 10, requires_grad=True)

    def fn(x):
        return torch.tanh(layer(x)).sum()

    t = gad.trace(fn, x).backward()
    assert t.node("x").grad.kind == "stats"  # 100 numbers: more than the trace keeps
    text = t.stepper(mode="forward", wrt="x").text()
    x2 = x.detach().clone().requires_grad_(True)
    fn(x2).backward()
    line = next(line for line in text.splitlines() if line.startswith("forward mode: "))
    shown = float(line.split("reverse mode's x.grad · v is ")[1].split(" ")[0])
    assert shown == pytest.approx(float(x2.grad[0, 0]), rel=1e-4) and line.endswith("the same number")
    assert "(3 inputs that need a gradient, 210 numbers in all, 1 output): forward mode 210" in text
    # where the code cannot run again in float64 (a float32 tensor of its own), no comparison is claimed
    w = torch.randn(10, 10)
    t = gad.trace(lambda x: torch.tanh(x @ w).sum(), x).backward()
    text = t.stepper(mode="forward", wrt="x").text()
    assert "x.grad · v is" not in text and "x.grad was kept as a summary" in text
    assert "(1 input that needs a gradient, 100 numbers in all, 1 output): forward mode 100" in text
