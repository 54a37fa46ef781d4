"""examples/training_lesson.py (quick settings) reproduces the lesson's observations, with PyTorch as the oracle."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import _example, needs_dot

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    out = tmp_path_factory.mktemp("lesson")
    return out, _example("training_lesson").main(str(out), "--quick")


@needs_dot
def test_the_lesson_writes_its_figures_and_pages(lesson):
    out, _ = lesson
    for name in ("widenet_training.html", "widenet_training.png", "depth.png", "depth.html", "lr_sweep.png",
                 "lr_sweep.html", "depth_lr_grid.png", "chain_gradients.png", "chain_gradients.html"):
        assert (out / name).stat().st_size > 1000, name


@needs_dot
def test_widenet_losses_are_a_plain_loops(lesson):
    _, results = lesson
    model, inputs, targets = _example("training_lesson").widenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.MSELoss()(model(inputs), targets)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    run = results["widenet"]
    assert run.history["loss"] == losses
    assert losses[-1] < 0.5 * losses[0]
    assert set(run.history["activations"]["1"]) == {"mean", "std", "saturated"}


@needs_dot
def test_shallow_learns_gradually_and_deep_suddenly(lesson):
    _, results = lesson
    by_depth = {r.config["depth"]: r.history["loss"] for r in results["depth"]}

    def halves(losses: list[float]) -> tuple[float, float]:
        mid = len(losses) // 2
        return losses[0] - losses[mid], losses[mid] - losses[-1]

    first, second = halves(by_depth[1])
    assert first >= second > 0  # decelerating: gradual
    first, second = halves(by_depth[50])
    assert second > 3 * first > 0  # a plateau, then it picks up


@needs_dot
def test_learning_rate_too_small_right_and_too_large(lesson):
    _, results = lesson
    small, right, large = results["lr"]
    assert [r.config["lr"] for r in results["lr"]] == [0.0003, 0.003, 0.03]
    assert right.history["loss"][-1] < small.history["loss"][-1]
    assert "loss" in large.history["nonfinite"] and math.isnan(large.history["loss"][-1])


@needs_dot
def test_depth_by_learning_rate_grid_deep_nets_need_small_rates(lesson):
    _, results = lesson
    grid = results["grid"]
    assert grid[(1, 0.1)] < 1e-3 and not math.isfinite(grid[(50, 0.1)])
    assert grid[(50, 0.01)] < grid[(50, 0.001)]


@needs_dot
def test_the_50_layer_chain_explodes_and_vanishes_in_the_heatmap(lesson):
    _, results = lesson
    first = {r.label: r.history["grad_norm"]["0.weight"][0] for r in results["chain"]}
    # x * w^50 against y = 2x: d loss / d w1 = mean(2 (w^50 - 2) x^2) * w^49, the same for every layer
    x = torch.linspace(-1.0, 1.0, 32)
    for w in (2.0, 1.0, 0.5):
        expected = abs(float((2 * (torch.tensor(w, dtype=torch.float64) ** 50 - 2) * x.double() ** 2).mean()
                             * w ** 49))
        assert first[f"w={w:g}"] == pytest.approx(expected, rel=1e-4)
    assert first["w=2"] > 1e20 and first["w=0.5"] < 1e-10
