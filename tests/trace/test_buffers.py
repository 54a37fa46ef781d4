"""Buffers a forward changes (running statistics, counters, moving averages) are left as the trace found
them, while the graph shows the real forward's numbers and the backward gets autograd's."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from tests.trace.test_recorder import no_global_state_left


class Counter(nn.Module):
    """Counts its calls in place (``+=`` on a registered buffer)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(()))
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        self.count += 1
        return self.fc(x) * self.count


class Ema(nn.Module):
    """A moving average updated in place, then used in a product autograd saves for backward."""

    def __init__(self):
        super().__init__()
        self.register_buffer("ema", torch.full((3,), 2.0))
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        self.ema.mul_(0.9).add_(x.detach().mean())
        return self.fc(x) * self.ema


class Rebind(nn.Module):
    """Replaces its buffer with a new tensor (``self.steps = self.steps + 1``)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("steps", torch.zeros(2))
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        self.steps = self.steps + 1
        return self.fc(x) + self.steps


MODELS = {
    "batchnorm": lambda: nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)),
    "batchnorm_cumulative": lambda: nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, momentum=None)),
    "batchnorm2d": lambda: nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)),
    "instancenorm": lambda: nn.Sequential(nn.Conv1d(3, 3, 1), nn.InstanceNorm1d(3, track_running_stats=True)),
    "counter": Counter,
    "ema": Ema,
    "rebind": Rebind,
}
INPUTS = {"batchnorm2d": (4, 3, 2, 2), "instancenorm": (4, 3, 5)}


def make(name):
    torch.manual_seed(0)
    m = MODELS[name]().train()
    # buffers that are not at their initial values: a model that has trained a little
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(*INPUTS.get(name, (4, 3))))
    x = torch.randn(*INPUTS.get(name, (4, 3)))
    return m, x


def buffers(m):
    return {k: (b, b.clone()) for k, b in m.named_buffers()}


def assert_as_found(m, found):
    now = dict(m.named_buffers())
    assert now.keys() == found.keys()
    for k, (b, numbers) in found.items():
        assert now[k] is b, f"{k} is the same tensor object"
        assert torch.equal(b, numbers), f"{k} holds its numbers from before the trace"


def loss_of(m):
    return lambda x: m(x).pow(2).sum()


@pytest.mark.parametrize("name", list(MODELS))
def test_buffers_a_forward_changes_are_left_as_found(name):
    m, x = make(name)
    real = copy.deepcopy(m)  # the same model, run without the tracer
    found = buffers(m)
    t = gad.trace(loss_of(m), x)
    assert_as_found(m, found)
    versions = {k: b._version for k, b in m.named_buffers()}
    assert no_global_state_left() and m.training

    # the recorded values are the real train-mode forward's ...
    given = {k: b.clone() for k, b in real.named_buffers()}  # what the forward is given
    real_out = loss_of(real)(x)
    assert t.node("output").value.data == pytest.approx(real_out.item(), rel=1e-6)
    left = dict(real.named_buffers())
    assert any(not torch.equal(b, given[k]) for k, b in left.items()), "this forward changes a buffer"
    if name.startswith("batchnorm") or name == "instancenorm":  # drawn as the op that met it left them
        for k in ("1.running_mean", "1.running_var"):
            assert t.node(k).value.to_json() == pytest.approx(left[k].tolist(), rel=1e-6), k
    elif name == "ema":  # drawn after mul_, its first op, changed it
        assert t.node("ema").value.to_json() == pytest.approx((given["ema"] * 0.9).tolist(), rel=1e-6)

    # backward gets autograd's numbers of the real forward (the Ema saved its updated buffer) ...
    t.backward()
    real_out.backward()
    for pname, p in real.named_parameters():
        assert torch.allclose(torch.tensor(t.node(pname).grad.to_json()), p.grad, atol=1e-6), pname
    # ... and leaves the buffers as found, without a counted in-place change
    assert_as_found(m, found)
    assert {k: b._version for k, b in m.named_buffers()} == versions  # the backward wrote nothing it counts
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    t2 = gad.trace(loss_of(m), x).backward(accumulate=True)
    t2.optimizer_step(opt, dry_run=True)
    assert_as_found(m, found)


@pytest.mark.parametrize("name", ["batchnorm", "counter", "ema"])
def test_a_model_traced_twice_gives_the_same_picture(name):
    m, x = make(name)
    a = gad.trace(loss_of(m), x).backward()
    b = gad.trace(loss_of(m), x).backward()
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    assert a.to_dot() == b.to_dot()


def test_batchnorm_trace_shows_the_statistics_its_forward_computed_and_its_own_backward_works():
    m, x = make("batchnorm")
    bn = m[1]
    mean, var, n = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    real = copy.deepcopy(m)
    want = real(x)
    t = gad.trace(m, x)
    assert torch.allclose(torch.tensor(t.node("output").value.to_json()), want, atol=1e-6)
    assert t.node("1.running_mean").value.to_json() == pytest.approx(real[1].running_mean.tolist())
    assert t.node("1.running_var").value.to_json() == pytest.approx(real[1].running_var.tolist())
    assert t.node("1.num_batches_tracked").value.to_json() == n + 1
    assert t.node("add_").value.to_json() == n + 1  # the counter the forward incremented
    assert not torch.equal(real[1].running_mean, mean)
    # the user's own backward through the traced output works too (no counted in-place change)
    t.output.sum().backward()
    assert m[0].weight.grad is not None
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert int(bn.num_batches_tracked) == n


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_buffers_restored_when_the_forward_raises_after_changing_them(error):
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Counter()
            self.bn = nn.BatchNorm1d(3)

        def forward(self, x):
            self.bn(self.inner(x))
            self.inner.count.mul_(10)
            raise error("boom")

    torch.manual_seed(0)
    m = Boom()
    found = buffers(m)
    with pytest.raises(error, match="boom"):
        gad.trace(lambda x: m(x).sum(), torch.randn(4, 3))
    assert_as_found(m, found)
    assert no_global_state_left()


def test_eval_mode_and_untouched_buffers_are_not_written():
    m, x = make("batchnorm")
    m.eval()
    versions = {k: b._version for k, b in m.named_buffers()}
    found = buffers(m)
    gad.trace(loss_of(m), x).backward()
    assert_as_found(m, found)
    assert {k: b._version for k, b in m.named_buffers()} == versions
