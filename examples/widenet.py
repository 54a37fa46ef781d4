"""WideNet from the lesson: one hidden layer of 512 tanh units, and one SGD-momentum training iteration.

Run: python examples/widenet.py [OUT_DIR]   (writes widenet.svg and widenet_steps.html)
CLI: graphviz-ad model examples/widenet.py:build --input 32x1 --target 32x1 --loss mse -o widenet.svg
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

import graphviz_ad as gad


def build() -> nn.Module:
    """The lesson's WideNet (seeded, so the figure is reproducible)."""
    torch.manual_seed(2021)
    return nn.Sequential(nn.Linear(1, 512), nn.Tanh(), nn.Linear(512, 1))


def data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(2021)
    inputs = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    targets = torch.sin(math.pi * inputs) + torch.randn(32, 1) / 4
    return inputs, targets


def iteration(model: nn.Module, optimizer: torch.optim.Optimizer) -> gad.Trace:
    """One training iteration, recorded: zero_grad, forward, loss, backward, step."""
    inputs, targets = data()
    loss_fn = nn.MSELoss()
    optimizer.zero_grad()
    t = gad.trace(lambda: loss_fn(model(inputs), targets))
    t.backward(accumulate=True)  # fills .grad as loss.backward() would, so the optimizer can step
    t.optimizer_step(optimizer)
    return t


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    t = iteration(model, optimizer)
    t.render(out / "widenet.svg")
    t.stepper().save(out / "widenet_steps.html")
    loss = t.graph.node(t.graph.outputs[0]).value.scalar()
    print(f"loss = {loss:.6f}; wrote {out / 'widenet.svg'} and {out / 'widenet_steps.html'}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
