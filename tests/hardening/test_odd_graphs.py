"""Odd graphs: no grad, non-finite values, integer/bool/complex/empty/0-d/6-d/meta tensors, no_grad, big graphs."""

from __future__ import annotations

import json
import math

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.errors import BackwardError
from graphviz_ad.model.export import dumps
from tests.helpers import needs_dot


def check_outputs(t: gad.Trace, svg: bool = True) -> None:
    assert t.to_dot().startswith("digraph")
    json.loads(dumps(t.to_json()))
    if svg:
        assert "<svg" in t.to_svg()


CASES = {
    "int": (lambda x: (x * 2).sum(), lambda: torch.arange(4), False),
    "bool": (lambda x: x & x, lambda: torch.tensor([True, False]), False),
    "int_big": (lambda x: (x * 2).sum(), lambda: torch.arange(200), False),
    "complex": (lambda z: (z * z).abs().sum(), lambda: torch.tensor([1 + 2j, 3 - 1j], requires_grad=True), True),
    "empty": (lambda x: (x * 2).sum(), lambda: torch.zeros(0, 3, requires_grad=True), True),
    "0d": (lambda x: x * 2, lambda: torch.tensor(3.0, requires_grad=True), True),
    "6d": (lambda x: (x * 2).sum(), lambda: torch.ones(1, 2, 1, 2, 1, 2, requires_grad=True), True),
    "fp16": (lambda x: (x * 2).sum(), lambda: torch.ones(2, dtype=torch.float16, requires_grad=True), True),
    "bf16_big": (lambda x: (x * 2).sum(), lambda: torch.ones(200, dtype=torch.bfloat16, requires_grad=True), True),
    "same_tensor_many_times": (lambda x: sum(x * i for i in range(40)).sum(), lambda: torch.ones(2, requires_grad=True),
                               True),
}


@needs_dot
@pytest.mark.parametrize("name", list(CASES))
def test_odd_tensors_trace_render_and_step(name):
    fn, make, backward = CASES[name]
    x = make()
    t = gad.trace(fn, x)
    if backward:
        t.backward()
        want = torch.autograd.grad(fn(x), x)[0]
        got = t.nodes[0].grad
        if got.data is not None:
            data = got.to_json()
            if want.is_complex():
                have = torch.tensor([complex(*c) for c in data], dtype=want.dtype)
            else:
                have = torch.tensor(data, dtype=torch.float64).reshape(want.shape)
            assert torch.allclose(have, want.to(have.dtype))
        t.stepper().to_html()
    check_outputs(t)


def test_meta_tensors_show_their_device():
    x = torch.ones(3, device="meta", requires_grad=True)
    t = gad.trace(lambda x: (x * 2).sum(), x)
    assert t.nodes[0].value.device == "meta"
    assert "meta" in t.to_dot()
    check_outputs(t, svg=False)


def test_no_grad_regions_and_detach_inside():
    def f(x):
        with torch.no_grad():
            y = x * 3
        z = x.detach() + 1
        return (x * y * z).sum()

    x = torch.ones(2, requires_grad=True)
    t = gad.trace(f, x).backward()
    assert t.node("y").grad is None and t.node("z").grad is None
    assert t.node("x").grad.to_json() == [6.0, 6.0]


def test_nothing_requires_grad_draws_forward_only_and_backward_explains():
    t = gad.trace(lambda x: torch.sin(x) * 2, torch.tensor(1.0))
    assert all(n.grad is None for n in t.nodes)
    with pytest.raises(BackwardError, match="requires_grad=True"):
        t.backward()


def test_nan_and_inf_are_flagged_not_fatal():
    x = torch.tensor([1.0, 0.0, -1.0], requires_grad=True)
    t = gad.trace(lambda x: (torch.log(x) / x).sum(), x).backward()
    node = t.node("x")
    assert any(isinstance(v, float) and math.isnan(v) for v in node.grad.data)
    dot = t.to_dot()
    assert "gad-nonfinite" in dot and "⚠" in dot
    data = json.loads(dumps(t.to_json()))
    assert "nan" in data["nodes"][0]["grad"] or "-inf" in json.dumps(data)


def test_ten_thousand_node_graph_traces_steps_and_renders_collapsed():
    def loop(x):
        for _ in range(3400):
            x = x * 1.0001 + 0.0001
        return x.sum()

    t = gad.trace(loop, torch.ones(4, requires_grad=True)).backward()
    assert len(t.nodes) > 10_000 and len(t.steps) > 6_000
    assert t.to_svg().count('class="node') < 10
    assert len(t.stepper().frames()) == len(t.steps) + 2
