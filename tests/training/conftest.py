"""The lesson's WideNet and its data, and a training loop that runs with or without a watch."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn


def widenet_data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(2021)
    inputs = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    targets = torch.sin(math.pi * inputs) + torch.randn(32, 1) / 4
    return inputs, targets


def widenet(hidden: int = 512) -> nn.Module:
    torch.manual_seed(2021)
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, data: tuple[torch.Tensor, torch.Tensor],
          run: Any = None, after_step: Callable[[int], None] | None = None) -> list[torch.Tensor]:
    """The lesson's loop: zero_grad, forward, loss, backward, step; returns the losses (detached tensors)."""
    inputs, targets = data
    loss_fn = nn.MSELoss()
    losses = []
    for k in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach().clone())
        if run is not None:
            run.log(loss)
        if after_step is not None:
            after_step(k)
    return losses


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    return widenet_data()


@pytest.fixture
def small_run(data):
    """A short watched WideNet run (64 hidden units, 12 steps), with activations."""
    import graphviz_ad as gad

    model = widenet(64)
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    with gad.watch(model, opt, activations=True) as run:
        train(model, opt, 12, data, run)
    return run
