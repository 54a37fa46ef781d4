"""The recorder's batched paths: the CPU workspace (gradients, parameters and snapshots copied into one
tensor, norms per group of similar sizes, zero-padded) and the activation rows held back as a tensor.
What they record is what a plain loop computes with torch, to float tolerance, and what the per-tensor
path records."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.training import recorder
from tests.training.conftest import widenet_data


class Mixed(nn.Module):
    """Parameters of many sizes (so several workspace groups, and padded rows), a 0-d one, one unused."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(1, 300)
        self.b = nn.Linear(300, 7)
        self.c = nn.Linear(7, 1)
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.unused = nn.Parameter(torch.ones(3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(torch.tanh(self.b(torch.tanh(self.a(x))))) * self.scale


def _plain_norms(model: nn.Module, before: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"grad_norm": {}, "param_norm": {}, "update_norm": {}}
    for n, p in model.named_parameters():
        g = p.grad
        out["grad_norm"][n] = torch.linalg.vector_norm(g).item() if g is not None else 0.0
        out["param_norm"][n] = torch.linalg.vector_norm(p.detach()).item()
        out["update_norm"][n] = torch.linalg.vector_norm(p.detach() - before[n]).item()
    return out


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int, run: gad.Run | None,
           nan_at: int | None = None, read_at: int | None = None) -> list[dict[str, dict[str, float]]]:
    """Steps of the loop, the norms computed by hand after each; the history read mid-run at read_at."""
    x, y = widenet_data()
    expected = []
    for k in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        if k == nan_at:
            model.b.bias.grad[3] = math.inf  # the 7-element bias, a padded row in the workspace
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt.step()
        expected.append(_plain_norms(model, before))
        if run is not None:
            run.log(loss=float(k))
            if k == read_at:
                assert len(run.history["step"]) == k + 1
    return expected


def _same(got: float, want: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return got == pytest.approx(want, rel=1e-6, abs=1e-30)


@pytest.mark.parametrize("chunk", [256, 4])
def test_workspace_norms_are_a_plain_loops_across_groups_padding_and_batches(monkeypatch, chunk):
    monkeypatch.setattr(recorder, "CHUNK", chunk)  # 4: rows handed over mid-run and at a read
    torch.manual_seed(3)
    model = Mixed()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with gad.watch(model, opt, graph=False) as run:
        rec = run._recorder
        expected = _train(model, opt, 11, run, read_at=5)
        assert rec._flat is not None and len(rec._flat.groups) >= 2  # the workspace path, several groups
        assert rec._flat.work.shape[1] > sum(p.numel() for p in model.parameters())  # padded rows
    h = run.history
    assert h["step"] == list(range(1, 12))
    for metric in ("grad_norm", "param_norm", "update_norm"):
        for n in h[metric]:
            got, want = h[metric][n], [e[metric][n] for e in expected]
            assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (metric, n, got, want)
    assert h["grad_norm"]["unused"] == [0.0] * 11 and h["update_norm"]["unused"] == [0.0] * 11
    assert h["nonfinite"] == {}


def test_workspace_and_per_tensor_paths_record_the_same(monkeypatch):
    """The same run through the workspace and (FLAT_LIMIT 0) through the per-tensor foreach path."""
    histories = []
    for limit in (recorder.FLAT_LIMIT, 0):
        monkeypatch.setattr(recorder, "FLAT_LIMIT", limit)
        torch.manual_seed(3)
        model = Mixed()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        with gad.watch(model, opt, graph=False, every=2) as run:
            _train(model, opt, 9, run)
            assert (run._recorder._flat is not None) == (limit > 0)
        histories.append(run.history)
    a, b = histories
    assert a["step"] == b["step"] == [1, 3, 5, 7, 9]
    for metric in ("grad_norm", "param_norm", "update_norm", "update_ratio"):
        for n in a[metric]:
            assert all(_same(x, y) for x, y in zip(a[metric][n], b[metric][n], strict=True)), (metric, n)


@pytest.mark.parametrize("updates", [True, False])
def test_inf_in_a_padded_row_is_flagged_at_its_first_step_after_deferred_conversion(monkeypatch, updates):
    monkeypatch.setattr(recorder, "CHUNK", 3)  # the bad step sits in a batch converted later
    torch.manual_seed(3)
    model = Mixed()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with gad.watch(model, opt, graph=False, updates=updates) as run:
        _train(model, opt, 8, run, nan_at=4)
        assert run._recorder._fill == 2  # steps 7 and 8 still held as a tensor (batches of 3)
    h = run.history
    assert math.isinf(h["grad_norm"]["b.bias"][4]) and math.isfinite(h["grad_norm"]["b.bias"][3])
    assert h["nonfinite"]["b.bias"] == 5  # the first step with inf, not when the batch was converted
    assert all(step > 5 for name, step in h["nonfinite"].items() if name != "b.bias")
    if not updates:
        assert all(math.isnan(u) for u in h["update_norm"]["a.weight"])


def test_groups_cover_every_parameter_once_and_bound_the_padding():
    sizes = [36864, 16, 2304, 64, 1, 1, 300, 7, 0, 9216, 32, 512, 512, 512]
    groups = recorder._groups(sizes)
    seen = sorted(i for _, idxs in groups for i in idxs)
    assert seen == list(range(len(sizes)))
    for width, idxs in groups:
        assert all(sizes[i] <= width for i in idxs) and idxs == sorted(idxs)
        padding = sum(width - sizes[i] for i in idxs)
        assert padding <= recorder.PAD_FREE
    assert recorder._groups([1] * 50) == [(1, list(range(50)))]  # the 50-layer chain: one reduction


def test_activation_rows_held_back_read_the_same(monkeypatch):
    """Activation statistics kept as a tensor and converted in batches: the same values as computed by
    hand, across batch boundaries and a mid-run read, and None at a step where a module did not run."""
    monkeypatch.setattr(recorder, "CHUNK", 3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1), nn.ReLU())
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = widenet_data()
    expected = []
    with gad.watch(model, opt, graph=False, activations=True) as run:
        for k in range(8):
            opt.zero_grad()
            if k == 5:  # the last ReLU skipped this step
                out = model[2](model[1](model[0](x)))
            else:
                out = model(x)
            h1 = model[1](model[0](x)).detach()
            expected.append((h1.mean().item(), h1.std(correction=0).item(), (h1.abs() > 0.99).float().mean().item()))
            nn.functional.mse_loss(out, y).backward()
            opt.step()
            if k == 3:
                assert len(run.history["activations"]["1"]["mean"]) == 4
    acts = run.history["activations"]
    assert acts["1"]["mean"] == pytest.approx([e[0] for e in expected], rel=1e-5, abs=1e-7)
    assert acts["1"]["std"] == pytest.approx([e[1] for e in expected], rel=1e-5)
    assert acts["1"]["saturated"] == pytest.approx([e[2] for e in expected])
    assert acts["3"]["zero"][5] is None and all(v is not None for i, v in enumerate(acts["3"]["zero"]) if i != 5)
    assert len(acts["0"]["mean"]) == 8 and run._recorder._act_buf is None
