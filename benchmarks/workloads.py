"""The benchmark workloads: plain torch.nn models wrapped so that ``module(*inputs)`` returns a scalar loss."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["Workload", "WORKLOADS", "DEFAULT", "BIG", "get", "sizes_for", "describe"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    """Import ``examples/<name>.py`` by path (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class WithLoss(nn.Module):
    """``model`` followed by a scalar loss, so every tool sees one module and one backward root."""

    def __init__(self, model: nn.Module, loss: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss = loss
        self.training = model.training  # the wrapper follows the model (tools read the root's mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.loss(self.model(x))


class ElementwiseLoop(nn.Module):
    """``iterations`` times ``x = sin(x * 1.0001 + 0.0001)``: three tiny autograd nodes per iteration."""

    def __init__(self, iterations: int) -> None:
        super().__init__()
        self.iterations = iterations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.iterations):
            x = torch.sin(x * 1.0001 + 0.0001)
        return x.sum()


class Chain(nn.Module):
    """``ops`` elementwise ops in one chain: ``x = x * 1.00001 + 0.00001`` (two ops per iteration)."""

    def __init__(self, ops: int) -> None:
        super().__init__()
        self.iterations = max(1, ops // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.iterations):
            x = x * 1.00001 + 0.00001
        return x.sum()


@dataclass(frozen=True)
class Workload:
    name: str
    title: str  # a format string over the sizes
    build: Callable[[dict], tuple[nn.Module, tuple[torch.Tensor, ...]]]
    # what the workload is in each mode (sizes); "smoke" makes it tiny
    sizes: dict[str, dict]
    # a smaller instance to lay out when the real one is too big for ``dot`` (None: none)
    render_small: dict | None = None


def _cnn(size: dict) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    mod = _example("resnet_cnn")
    model = mod.build()
    hw = size["hw"]
    x = torch.randn(1, 3, hw, hw, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([3])
    return WithLoss(model, lambda out: nn.functional.cross_entropy(out, target)), (x,)


def _transformer(size: dict) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    mod = _example("transformer")
    model = mod.build(layers=size["layers"], d_model=size["d_model"])
    x = torch.randn(1, size["seq"], size["d_model"], generator=torch.Generator().manual_seed(1))
    return WithLoss(model, lambda out: out.pow(2).mean()), (x,)


def _loop(size: dict) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    x = torch.rand(4, generator=torch.Generator().manual_seed(1)).requires_grad_()
    return ElementwiseLoop(size["iterations"]), (x,)


def _mlp(size: dict) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    width = size["width"]
    layers: list[nn.Module] = []
    for _ in range(size["layers"]):
        layers += [nn.Linear(width, width), nn.ReLU()]
    x = torch.randn(1, width, generator=torch.Generator().manual_seed(1))
    return WithLoss(nn.Sequential(*layers), lambda out: out.pow(2).sum()), (x,)


def _chain(size: dict) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    x = torch.rand(4, generator=torch.Generator().manual_seed(1)).requires_grad_()
    return Chain(size["ops"]), (x,)


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("cnn", "ResNet-style CNN, 1x3x{hw}x{hw}", _cnn,
             {"default": {"hw": 64}, "smoke": {"hw": 8}}),
    Workload("transformer", "Transformer encoder, {layers} layers, d_model {d_model}, 1x{seq}x{d_model}", _transformer,
             {"default": {"layers": 6, "d_model": 128, "seq": 32}, "smoke": {"layers": 1, "d_model": 16, "seq": 4}}),
    Workload("loop", "Elementwise loop, {iterations:,} x (mul, add, sin) on 4 numbers", _loop,
             {"default": {"iterations": 5000}, "smoke": {"iterations": 20}}, {"iterations": 400}),
    Workload("mlp", "MLP, {layers} x (Linear {width}->{width} + ReLU)", _mlp,
             {"default": {"layers": 500, "width": 16}, "smoke": {"layers": 5, "width": 4}}),
    Workload("chain50k", "Chain of {ops:,} elementwise ops (mul, add) on 4 numbers", _chain,
             {"default": {"ops": 50000}, "smoke": {"ops": 40}}, {"ops": 1000}),
)}

DEFAULT = ("cnn", "transformer", "loop", "mlp")
BIG = DEFAULT + ("chain50k",)


def sizes_for(w: Workload, mode: str) -> dict:
    return w.sizes["smoke"] if mode == "smoke" else w.sizes["default"]


def describe(w: Workload, size: dict) -> str:
    return w.title.format(**size)


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise SystemExit(f"unknown workload {name!r}; choose from: {', '.join(WORKLOADS)}") from None
