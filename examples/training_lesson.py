"""The lesson's training half, watched: WideNet's loss curve, depth (gradual vs sudden learning), the learning
rate (too small, right, too large), depth x learning rate, and the 50-layer chain's exploding/vanishing gradients.

Each experiment is the user's own training loop inside ``with gad.watch(model, optimizer) as run:``.

Run: python examples/training_lesson.py [OUT_DIR] [--quick]   (--quick, or GRAPHVIZ_AD_QUICK=1: short runs)
CLI: graphviz-ad train examples/training_lesson.py:widenet --epochs 1847 --lr 0.003 --momentum 0.9 -o widenet.html
     graphviz-ad train examples/training_lesson.py:widenet --epochs 300 --momentum 0.9 \
         --compare lr=0.0003,0.003,0.03 -o lr.png
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

import graphviz_ad as gad

QUICK = os.environ.get("GRAPHVIZ_AD_QUICK") == "1"
DEPTHS = (1, 2, 5, 10, 20, 50)
GRID_LRS = (0.001, 0.003, 0.01, 0.03, 0.1)


def widenet() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The lesson's WideNet and data (seed 2021): 32 points of a noisy sine, 512 tanh units."""
    torch.manual_seed(2021)
    inputs = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    targets = torch.sin(math.pi * inputs) + torch.randn(32, 1) / 4
    torch.manual_seed(2021)
    model = nn.Sequential(nn.Linear(1, 512), nn.Tanh(), nn.Linear(512, 1))
    return model, inputs, targets


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor,
        epochs: int, **watch_options: Any) -> gad.training.Run:
    """The lesson's loop, as the lesson writes it, watched: zero_grad, forward, loss, backward, step, keep the loss."""
    loss_fun = nn.MSELoss()
    with gad.watch(model, optimizer, **watch_options) as run:
        for _ in range(epochs):
            optimizer.zero_grad()
            predictions = model(inputs)
            loss = loss_fun(predictions, targets)
            loss.backward()
            optimizer.step()
            run.log(loss)
    return run


def chain(depth: int, w: float) -> nn.Module:
    """``depth`` one-neuron linear layers without bias, every weight ``w``: prediction = x * w^depth."""
    layers = [nn.Linear(1, 1, bias=False) for _ in range(depth)]
    with torch.no_grad():
        for layer in layers:
            layer.weight.fill_(w)
    return nn.Sequential(*layers)


def line_data() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    return x, 2.0 * x  # the deep linear net learns y = 2x


def depth_run(depth: int, lr: float, epochs: int) -> gad.training.Run:
    """A deep linear net started at the same function for every depth (prediction 0.1 x: w = 0.1^(1/depth))."""
    model = chain(depth, 0.1 ** (1.0 / depth))
    x, y = line_data()
    return fit(model, torch.optim.SGD(model.parameters(), lr=lr), x, y, epochs, label=f"depth {depth}",
               config={"depth": depth, "lr": lr}, graph=depth <= 5)


def final_loss(run: gad.training.Run) -> float:
    return run.history["loss"][-1]


def grid_figure(finals: dict[tuple[int, float], float]) -> object:
    """Depth x learning rate: the final loss of each run (log colour scale; black: diverged)."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    depths = sorted({d for d, _ in finals})
    lrs = sorted({lr for _, lr in finals})
    grid = np.array([[finals[(d, lr)] for lr in lrs] for d in depths], dtype=float)
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    shown = np.where(np.isfinite(grid), np.clip(grid, 1e-14, None), np.nan)
    cmap = __import__("matplotlib").colormaps["viridis"].with_extremes(bad="#000000")
    im = ax.imshow(shown, norm=LogNorm(vmin=1e-14, vmax=10), cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(len(depths)), [str(d) for d in depths])
    for i in range(len(depths)):
        for j in range(len(lrs)):
            v = grid[i, j]
            ax.text(j, i, "nan" if not math.isfinite(v) else f"{v:.1e}", ha="center", va="center", fontsize=7,
                    color="#ffffff" if not math.isfinite(v) or v < 1e-3 else "#000000")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("depth (layers)")
    ax.set_title("final loss after training: deeper nets need smaller learning rates")
    fig.colorbar(im, ax=ax, label="final loss")
    return fig


def main(out_dir: str = "examples_out", *flags: str) -> dict[str, object]:
    quick = QUICK or "--quick" in flags
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}

    # 1. WideNet, as the lesson trains it: SGD lr 0.003 momentum 0.9, 1847 epochs.
    epochs = 60 if quick else 1847
    model, inputs, targets = widenet()
    run = fit(model, torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9), inputs, targets, epochs,
              activations=True, label="WideNet, SGD lr=0.003 momentum=0.9")
    run.save(out / "widenet_training.html")
    run.save(out / "widenet_training.png")
    print(f"WideNet: loss {run.history['loss'][0]:.6f} -> {final_loss(run):.6f} after {epochs} epochs")
    results["widenet"] = run

    # 2. Depth: gradual (shallow) vs sudden (deep) learning, at one small learning rate.
    steps = 120 if quick else 400
    depths = (1, 5, 50) if quick else (1, 5, 20, 50)
    runs = [depth_run(d, 0.001, steps) for d in depths]
    gad.compare(*runs).save(out / "depth.png", log_loss=False)  # linear: the sudden drop shows as a cliff
    gad.compare(*runs).save(out / "depth.html")
    for r, d in zip(runs, depths, strict=True):
        losses = r.history["loss"]
        print(f"depth {d}: loss {losses[0]:.4g} -> {losses[len(losses) // 2]:.4g} (half way) -> {losses[-1]:.4g}")
    results["depth"] = runs

    # 3. Learning rate on WideNet: too small, the lesson's, too large.
    sweep = []
    for lr in (0.0003, 0.003, 0.03):
        model, inputs, targets = widenet()
        sweep.append(fit(model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), inputs, targets,
                         40 if quick else 300, graph=False))
    gad.compare(*sweep).save(out / "lr_sweep.png")
    gad.compare(*sweep).save(out / "lr_sweep.html")
    for r in sweep:
        bad = r.history["nonfinite"].get("loss")
        print(f"{r.display_label}: final loss {final_loss(r):.4g}" + (f", nan/inf from step {bad}" if bad else ""))
    results["lr"] = sweep

    # 4. Depth x learning rate: the final loss of each pair.
    finals = {}
    for d in ((1, 10, 50) if quick else DEPTHS):
        for lr in ((0.001, 0.01, 0.1) if quick else GRID_LRS):
            finals[(d, lr)] = final_loss(depth_run(d, lr, 60 if quick else 300))
    from graphviz_ad.output.files import write_atomic
    from graphviz_ad.training.plot import figure_bytes

    write_atomic(out / "depth_lr_grid.png", figure_bytes(grid_figure(finals), "png"))
    print("depth x lr final losses: " + ", ".join(f"{d}/{lr:g}: {v:.2g}" for (d, lr), v in finals.items()))
    results["grid"] = finals

    # 5. The 50-layer chain: weights 2 explode, 0.5 vanish, 1 is fine; one row per layer in the heatmap.
    chains = []
    for w in (2.0, 1.0, 0.5):
        model = chain(50, w)
        x, y = line_data()
        chains.append(fit(model, torch.optim.SGD(model.parameters(), lr=1e-4), x, y, 10 if quick else 30,
                          label=f"w={w:g}", graph=False))
    gad.compare(*chains).save(out / "chain_gradients.png")
    gad.compare(*chains).save(out / "chain_gradients.html")
    for r in chains:
        g = r.history["grad_norm"]
        print(f"chain {r.label}: first step |grad w1| = {g['0.weight'][0]:.4g}, |grad w50| = {g['49.weight'][0]:.4g}")
    results["chain"] = chains
    return results


if __name__ == "__main__":
    main(*sys.argv[1:])
