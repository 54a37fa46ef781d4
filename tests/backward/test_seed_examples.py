"""The lesson's worked examples (seed-examples.md sections 1 and 2), with PyTorch as the oracle."""

from __future__ import annotations

import math

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.errors import BackwardError
from tests.helpers import intermediates, leaves, nested_f, neuron_loss

SEED_ORDER = ["TanhBackward0", "LogBackward0", "AddBackward0", "MulBackward0", "AccumulateGrad",
              "DivBackward0", "SinBackward0", "AccumulateGrad", "MulBackward0", "AccumulateGrad"]


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nested_values_and_gradients_equal_torch(dtype):
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0, dtype=dtype)).backward()
    expected = intermediates(1.0, 2.0, 3.0, dtype=dtype)
    by_label = {n.label: n for n in t.nodes}
    for name, (value, grad) in expected.items():
        node = by_label[name]
        assert close(node.value.scalar(), value), name
        assert close(node.grad.scalar(), grad), name


def test_seed_table_float64_numbers():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0, dtype=torch.float64)).backward()
    g = {n.label: n.grad.scalar() for n in t.nodes if n.grad is not None}
    assert g["x"] == pytest.approx(0.058130822, rel=1e-7)
    assert g["y"] == pytest.approx(0.02660401, rel=1e-6)
    assert g["z"] == pytest.approx(0.019376941, rel=1e-7)
    assert g["b"] == pytest.approx(-0.063929381, rel=1e-7)


def test_steps_follow_the_engine_order_of_the_seed_table(nested_trace):
    t = nested_trace
    assert [s.grad_fn for s in t.steps] == SEED_ORDER
    labels = [t.graph.node(s.node).label for s in t.steps]
    assert labels == ["f", "e", "d", "mul", "z", "c", "b", "y", "a", "x"]
    ups = [s.upstream.scalar() for s in t.steps]
    expected = [1.0, 0.066941, 0.0088097, 0.0088097, 0.019377, 0.026429, -0.063929, 0.026604, 0.029065, 0.058131]
    for got, want in zip(ups, expected):
        assert got == pytest.approx(want, rel=5e-5)


def test_contributions_are_what_autograd_passed(nested_trace):
    t = nested_trace
    xs = leaves(1.0, 2.0, 3.0)
    a = 2 * xs[0]; b = torch.sin(xs[1]); c = a / b; zc = xs[2] * c; d = 1 + zc
    e = torch.log(d); f = torch.tanh(e)
    by_label = {"a": a, "b": b, "c": c, "mul": zc, "d": d, "e": e, "x": xs[0], "y": xs[1], "z": xs[2]}
    for s in t.steps:
        if s.leaf:
            continue
        for c_ in s.contributions:
            if c_.to is None:
                assert c_.value is None
                continue
            target = by_label[t.graph.node(c_.to).label]
            out = {"f": f, "e": e, "d": d, "mul": zc, "c": c, "b": b, "a": a}[t.graph.node(s.node).label]
            (want,) = torch.autograd.grad(out, target, retain_graph=True)
            up = s.upstream.scalar()
            assert close(c_.value.scalar(), float(want) * up, 1e-5)


def test_contributions_into_a_node_sum_to_its_upstream():
    def shared(x):
        u = x * x  # x feeds two consumers; u too
        return torch.sin(u) + u * 3

    t = gad.trace(shared, torch.tensor(0.7, requires_grad=True)).backward()
    multi = [s for s in t.steps if len(s.incoming) > 1]
    assert multi, "the shared value's step should show its contributions being summed"
    for s in t.steps:
        if s.incoming:
            assert sum(i.value.scalar() for i in s.incoming) == pytest.approx(s.upstream.scalar(), rel=1e-6)
    x = torch.tensor(0.7, requires_grad=True)
    (gx,) = torch.autograd.grad(shared(x), x)
    assert t.node("x").grad.scalar() == pytest.approx(float(gx), rel=1e-6)


def test_leaf_steps_equal_autograd_grad(nested_trace):
    xs = leaves(1.0, 2.0, 3.0)
    grads = torch.autograd.grad(nested_f(*xs), xs)
    leaf_steps = {nested_trace.graph.node(s.node).label: s.upstream.scalar() for s in nested_trace.steps if s.leaf}
    for name, g in zip("xyz", grads):
        assert close(leaf_steps[name], float(g))


def test_local_derivatives_are_autograds_numbers(nested_trace):
    tanh_step = nested_trace.steps[0]
    (loc,) = tanh_step.local
    assert loc.formula == "∂f/∂e = 1 - tanh²(e)"
    e = torch.tensor(2.0279510021209717)
    assert loc.value.scalar() == pytest.approx(float(1 - torch.tanh(e) ** 2), rel=1e-6)
    log_step = nested_trace.steps[1]
    assert log_step.local[0].formula == "∂e/∂d = 1/d"
    assert log_step.local[0].value.scalar() == pytest.approx(1 / 7.598501205444336, rel=1e-6)
    div = nested_trace.steps[5]
    assert [loc.formula for loc in div.local] == ["∂c/∂a = 1/b", "∂c/∂b = -a/b²"]


def test_leaf_grad_left_alone_unless_accumulate():
    xs = leaves(1.0, 2.0, 3.0)
    xs[0].grad = torch.tensor(100.0)
    before = xs[0].grad
    t = gad.trace(nested_f, *xs).backward()
    assert xs[0].grad is before and float(before) == 100.0
    assert xs[1].grad is None and xs[2].grad is None
    t2 = gad.trace(nested_f, *xs).backward(accumulate=True)
    assert float(xs[0].grad) == pytest.approx(100.0 + t2.node("x").grad.scalar())
    assert float(xs[1].grad) == pytest.approx(t2.node("y").grad.scalar())


def test_single_neuron_matches_the_hand_derivation():
    x, w, b, y = (torch.tensor(v, dtype=torch.float64, requires_grad=(i in (1, 2)))
                  for i, v in enumerate((1.0, -0.5, 0.5, 7.0)))
    t = gad.trace(neuron_loss, x, w, b, y).backward()
    out = t.graph.node(t.graph.outputs[0])
    assert out.value.scalar() == 49.0
    assert t.node("w").grad.scalar() == -14.0
    assert t.node("b").grad.scalar() == -14.0
    assert t.node("prediction").value.scalar() == 0.0
    y_p = 0.0
    assert t.node("w").grad.scalar() == -2 * 1.0 * (7.0 - y_p) * (1 - y_p**2)


def test_nan_case_is_shown_not_refused():
    t = gad.trace(nested_f, *leaves(3.0, 4.0, 5.0)).backward()
    assert math.isnan(t.node("e").value.scalar())
    for name in "xyz":
        assert math.isnan(t.node(name).grad.scalar())
    data = t.to_json()
    assert {n["label"]: n["grad"] for n in data["nodes"]}["x"] == "nan"
    assert "⚠" in t.to_dot()


def test_non_scalar_output_needs_gradient():
    x = torch.ones(3, requires_grad=True)
    t = gad.trace(lambda x: x * 2, x)
    with pytest.raises(BackwardError, match="gradient="):
        t.backward()
    t.backward(torch.tensor([1.0, 2.0, 3.0]))
    assert t.node("x").grad.to_json() == [2.0, 4.0, 6.0]


def test_second_backward_needs_retain_graph_and_does_not_duplicate_steps():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    t.backward(retain_graph=True)
    n = len(t.steps)
    t.backward()
    assert len(t.steps) == n
    with pytest.raises(BackwardError, match="retain_graph"):
        t.backward()


def test_nothing_requires_grad_is_a_clear_error():
    t = gad.trace(lambda x: x * 2, torch.tensor(1.0))
    with pytest.raises(BackwardError, match="requires_grad"):
        t.backward()


def test_inplace_and_views_step_correctly():
    def f(x):
        y = x * 1.0
        y[0] = y[0] * 3  # CopySlices
        v = y.view(2, 2)
        return (v.t() @ v).sum()

    x = torch.arange(4.0, requires_grad=True)
    t = gad.trace(f, x).backward()
    names = [s.grad_fn for s in t.steps]
    assert "CopySlices" in names
    x2 = torch.arange(4.0, requires_grad=True)
    (g,) = torch.autograd.grad(f(x2), x2)
    assert t.node("x").grad.to_json() == g.tolist()


def test_custom_function_steps_without_formula():
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    t = gad.trace(lambda x: Cube.apply(x), torch.tensor(2.0, requires_grad=True)).backward()
    step = next(s for s in t.steps if "Cube" in s.grad_fn)
    assert step.local[0].formula is None
    assert step.contributions[0].value.scalar() == 12.0
    assert t.node("x").grad.scalar() == 12.0


def test_summaries_of_view_gradients_are_the_gradients_own():
    """A view's gradient (ViewBackward, TBackward, ...) shares its upstream's summary: check every
    summarised contribution against the real gradient autograd computed for that input."""
    torch.manual_seed(0)
    w = torch.randn(2048, dtype=torch.float64)

    def f(x):
        y = x.t()
        z = y.reshape(-1)
        u = z.unsqueeze(0)
        return (u.squeeze(0) * w).sum()

    x = torch.randn(32, 64, dtype=torch.float64, requires_grad=True)
    t = gad.trace(f, x).backward()
    xs = x.detach().clone().requires_grad_(True)
    y = xs.t(); z = y.reshape(-1); u = z.unsqueeze(0); q = u.squeeze(0); m = q * w
    tensors = {"x": xs, "y": y, "z": z, "u": u, "squeeze": q, "mul": m}
    grads = dict(zip(tensors, torch.autograd.grad(m.sum(), list(tensors.values()))))
    gx = grads["x"]
    checked = set()
    for s in t.steps:
        for c in s.contributions:
            if c.to is None or c.value is None or c.to == s.node:  # (into an autograd node inside the op)
                continue
            want = grads[t.graph.node(c.to).label]
            st = c.value.stats
            assert c.value.shape == tuple(want.shape)
            assert st["min"] == want.min().item() and st["max"] == want.max().item()
            assert st["mean"] == pytest.approx(want.mean().item(), rel=1e-9, abs=1e-12)
            assert st["norm"] == pytest.approx(want.norm().item(), rel=1e-9)
            checked.add(s.grad_fn)
    assert {"TBackward0", "UnsqueezeBackward0", "SqueezeBackward1", "CloneBackward0"} <= checked
    assert t.node("x").grad.stats["norm"] == pytest.approx(gx.norm().item(), rel=1e-9)
