"""Recording: names, constants, helper-function clusters, modules, and nothing left installed."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.errors import TraceError
from tests.helpers import leaves, nested_f


def no_global_state_left() -> bool:
    mod = torch.nn.modules.module
    return (not mod._global_forward_hooks and not mod._global_forward_pre_hooks
            and torch._C._len_torch_function_stack() == 0)


def test_names_kinds_and_constants():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    got = [(n.kind, n.label, n.op) for n in t.nodes]
    assert got == [
        ("input", "x", "input"), ("input", "y", "input"), ("input", "z", "input"),
        ("const", "2", "const"), ("op", "a", "mul"), ("op", "b", "sin"), ("op", "c", "div"),
        ("op", "mul", "mul"), ("const", "1", "const"), ("op", "d", "add"), ("op", "e", "log"),
        ("output", "f", "tanh"),
    ]
    assert [(e.source, e.target) for e in t.edges][:3] == [("n0", "n4"), ("n3", "n4"), ("n1", "n5")]
    assert no_global_state_left()


def inner(x, y):
    a = 2 * x
    b = torch.sin(y)
    return a / b


def outer(x, y, z):
    c = inner(x, y)
    d = 1 + z * c
    return torch.tanh(torch.log(d))


def test_helper_functions_become_clusters_and_returned_values_take_the_callers_name():
    t = gad.trace(outer, *leaves(1.0, 2.0, 3.0))
    (cluster,) = t.graph.clusters
    assert cluster.kind == "function" and cluster.label == "inner(x, y)"
    inside = [n.label for n in t.nodes if n.cluster == cluster.id]
    assert inside == ["2", "a", "b", "c"]
    assert 'label=<inner(x, y)>' in t.to_dot()


def test_each_helper_call_is_its_own_cluster():
    def helper(v):
        return v * 2

    def f(x):
        for _ in range(3):
            x = helper(x)
        return x

    t = gad.trace(f, torch.tensor(1.0, requires_grad=True))
    assert [c.label for c in t.graph.clusters] == ["helper(v)"] * 3
    assert [n.label for n in t.nodes if n.kind in ("op", "output")] == ["x", "x", "x"]


def test_multiple_outputs_and_non_tensor_arguments():
    def f(x, scale: float, mode: str = "sum"):
        y = x * scale
        return {"total": y.sum() if mode == "sum" else y.mean(), "doubled": y}

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    t = gad.trace(f, x, 2.0, mode="sum")
    outs = [t.graph.node(o).label for o in t.graph.outputs]
    assert outs == ["f['total']", "y"]
    assert t.output["total"].item() == 6.0
    with pytest.raises(gad.BackwardError):
        t.backward()  # 'doubled' is not a scalar


def test_module_parameters_take_qualified_names_and_the_model_is_left_as_found():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    net.eval()
    x, y = torch.randn(4, 2), torch.randn(4, 1)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    user_hook_calls = []
    h = net[0].register_forward_hook(lambda m, i, o: user_hook_calls.append(1))
    t = gad.trace(lambda: nn.functional.mse_loss(net(x), y)).backward()
    params = [n.label for n in t.nodes if n.kind == "param"]
    assert params == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [c.label for c in t.graph.clusters] == ["Sequential", "0: Linear", "1: Tanh", "2: Linear"]
    assert all(p.grad is None for p in net.parameters())
    assert not net.training
    assert user_hook_calls == [1]
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k])
    h.remove()
    assert no_global_state_left()
    g = torch.autograd.grad(nn.functional.mse_loss(net(x), y), net[0].weight)[0]
    assert torch.allclose(torch.tensor(t.node("0.weight").grad.to_json()), g)


def test_tracing_a_module_directly_names_its_input_after_forward():
    net = nn.Linear(2, 1)
    t = gad.trace(net, torch.ones(1, 2))
    assert [n.label for n in t.nodes] == ["input", "weight", "bias", "output"]


def test_user_exception_propagates_and_nothing_stays_installed():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())

    def boom(x):
        h = net(x)
        raise KeyError("from the user's code")

    with pytest.raises(KeyError, match="user's code"):
        gad.trace(boom, torch.ones(1, 2))
    assert no_global_state_left()
    t = gad.trace(lambda x: net(x).sum(), torch.ones(1, 2))
    assert len(t.nodes) > 3


def test_nested_and_concurrent_traces_are_refused_clearly():
    def f(x):
        gad.trace(lambda y: y * 2, x)
        return x

    with pytest.raises(TraceError, match="inside a function that is being traced"):
        gad.trace(f, torch.ones(1))
    assert no_global_state_left()
    results: list[str] = []

    def worker() -> None:
        t = gad.trace(lambda v: torch.sin(v) * 2, torch.tensor(0.5, requires_grad=True))
        results.append(",".join(n.op for n in t.nodes))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # traces in threads run one after the other: none mixed records
    assert results == ["input,sin,const,mul"] * 4


def test_returned_non_tensor_is_a_clear_error():
    with pytest.raises(TraceError, match="not a tensor"):
        gad.trace(lambda x: 3, torch.ones(1))


def test_large_tensors_are_kept_as_summaries():
    x = torch.arange(100.0, requires_grad=True)
    t = gad.trace(lambda x: (x * 2).sum(), x).backward()
    v = t.node("x").value
    assert v.data is None and v.stats["max"] == 99.0 and v.stats["mean"] == pytest.approx(49.5)
    small = gad.trace_call(lambda x: (x * 2).sum(), (x,), max_elements=1000)
    assert small.node("x").value.data == x.tolist()


def test_inplace_ops_and_detach_are_recorded():
    def f(x):
        y = x.clone()
        y.add_(1)
        z = y.detach() * x
        return z.sum()

    t = gad.trace(f, torch.ones(2, requires_grad=True)).backward()
    ops = [n.op for n in t.nodes if n.kind in ("op", "output")]
    assert ops == ["clone", "add_", "detach", "mul", "sum"]
    assert t.node("x").grad.to_json() == [2.0, 2.0]


@pytest.mark.parametrize("n", [3, 1000], ids=["exact", "summary"])
def test_values_are_taken_before_later_in_place_changes(n):
    """Values are held and converted in batches: every in-place form must not rewrite an earlier value."""
    expected: dict[str, torch.Tensor] = {}

    def keep(name: str, t: torch.Tensor) -> None:
        expected[name] = t.detach().clone()

    def f(x):
        a = x * 2
        keep("a", a)
        a.add_(1)  # a method ending in _
        b = a * 3
        keep("b", b)
        b += 1  # __iadd__
        c = b - 5
        keep("c", c)
        c[0] = 7.0  # __setitem__
        d = c * 1
        keep("d", d)
        torch.nn.functional.relu(d, inplace=True)  # inplace=True
        e = d + 1
        keep("e", e)
        h = e.detach() * 1
        keep("h", h)
        torch.mul(e.detach(), 2, out=h)  # out=
        g = e.view(-1)
        keep("g", g)
        e.mul_(0.5)  # through a view: g shares e's storage
        return g.sum() + e.sum() + h.sum()

    x = torch.linspace(-3, 3, n, dtype=torch.float64, requires_grad=True)
    t = gad.trace(f, x)
    for label, want in expected.items():
        v = t.node(label).value
        if n == 3:
            assert v.data == want.tolist(), label
        else:
            assert v.stats["min"] == want.min().item() and v.stats["max"] == want.max().item(), label
            assert v.stats["mean"] == pytest.approx(want.mean().item(), rel=1e-12), label
            assert v.stats["norm"] == pytest.approx(want.norm().item(), rel=1e-12), label


def test_deep_chains_do_not_hit_the_recursion_limit():
    def chain(x):
        for _ in range(3000):
            x = x * 1.0001
        return x

    t = gad.trace(chain, torch.tensor(1.0, requires_grad=True)).backward()
    assert len(t.steps) == 3001
    assert len(t.to_dot()) > 0


def test_a_parameter_changed_in_place_later_in_the_forward_shows_its_value_when_used():
    lin = nn.Linear(3, 2)
    before = lin.weight.detach().clone()

    def f(x):
        y = lin(x)
        with torch.no_grad():
            lin.weight.mul_(2)  # e.g. a weight update inside the traced code
        return (y + lin(x)).sum()

    t = gad.trace(f, torch.ones(1, 3))
    assert t.node("weight").value.data == before.tolist()
    assert torch.equal(lin.weight.detach(), before * 2)


@pytest.mark.parametrize("n", [3, 1000], ids=["exact", "summary"])
def test_inference_mode_tensors_inside_the_traced_code_are_recorded(n):
    """Inference tensors keep no version counter: they are taken at once instead of held."""
    def f(x):
        with torch.inference_mode():
            y = x * 2
        return (x * y.clone()).sum()

    x = torch.linspace(-1, 1, n, requires_grad=True)
    t = gad.trace(f, x).backward()
    v = t.node("y").value
    want = (x.detach() * 2)
    if n == 3:
        assert v.data == want.tolist()
    else:
        assert v.stats["max"] == want.max().item()
    assert t.node("x").grad is not None


def test_values_above_the_batch_size_are_still_held_safely():
    """max_elements above the batch size: exact values are held (and protected) like small ones."""
    def f(x):
        a = x * 2
        a.add_(1)
        return a.sum()

    x = torch.ones(20000, requires_grad=True)
    t = gad.trace_call(f, (x,), max_elements=30000)
    assert t.node("a").value.data == [2.0] * 20000
