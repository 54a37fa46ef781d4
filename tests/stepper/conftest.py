"""Fixtures of the stepper tests: the lesson's nested function traced at chosen values, and a small training
iteration (zero_grad, forward, loss, backward, SGD-momentum step) of a widenet-like model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from tests.helpers import f, leaves

__all__ = ["make_nested", "make_training", "hostile_training", "Training", "XSS"]

XSS = "<script>alert(1)</script>"


def _trace_nested(values: tuple[float, float, float] = (1.0, 2.0, 3.0)) -> gad.Trace:
    return gad.trace(f, *leaves(*values)).backward()


@pytest.fixture
def make_nested() -> Callable[..., gad.Trace]:
    """A factory: ``make_nested((1.0, 2.0, 4.0))`` traces f and runs the backward at those values."""
    return _trace_nested


@dataclass
class Training:
    """The trace of the last iteration, the model (its parameters after the step) and the optimizer."""

    trace: gad.Trace
    model: nn.Module
    optimizer: torch.optim.Optimizer


def _trace_training(iterations: int = 1, *, dry_run: bool = False) -> Training:
    """``iterations`` training iterations of a 1-3-1 tanh net with SGD momentum; the last one traced."""
    torch.manual_seed(2021)
    model = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    inputs = torch.linspace(-1.0, 1.0, 4).reshape(4, 1)
    targets = torch.sin(3 * inputs)
    loss_fn = nn.MSELoss()
    t = None
    for _ in range(iterations):
        optimizer.zero_grad()
        t = gad.trace(lambda: loss_fn(model(inputs), targets))
        t.backward(accumulate=True)
        t.optimizer_step(optimizer, dry_run=dry_run)
    assert t is not None
    return Training(t, model, optimizer)


@pytest.fixture
def make_training() -> Callable[..., Training]:
    """A factory: ``make_training(2)`` runs two training iterations (the second has a momentum buffer before)."""
    return _trace_training


class _Hostile(nn.Module):
    """One parameter whose name is markup (``register_parameter`` refuses only dots and empty names)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_parameter(XSS, nn.Parameter(torch.tensor([0.5])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (getattr(self, XSS) * x).sum()


@pytest.fixture
def hostile_training() -> gad.Trace:
    """A training iteration (SGD momentum) of a model whose parameter is named ``<script>…``."""
    model = _Hostile()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t = gad.trace(lambda: model(torch.tensor([2.0])))
    t.backward(accumulate=True)
    t.optimizer_step(optimizer)
    return t
