"""Helpers shared by the tests: the lesson's functions, leaf tensors, a torch oracle, markers."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def _example(name: str) -> ModuleType:
    """``examples/<name>.py`` imported by path (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The lesson's nested function, written as in the lesson (its name is the output's label): the
# example's own, so the tests check what the example shows.
f = _example("nested_function").f
nested_f = f


def neuron_loss(x, w, b, y_true):
    prediction = torch.tanh(x * w + b)
    return (y_true - prediction) ** 2


def leaves(*vals: float, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    return [torch.tensor(v, dtype=dtype, requires_grad=True) for v in vals]


def oracle_grads(fn, *vals: float, dtype: torch.dtype = torch.float32) -> tuple[float, list[float]]:
    """PyTorch's own value and gradients of fn at vals (the oracle every test compares with)."""
    xs = leaves(*vals, dtype=dtype)
    out = fn(*xs)
    grads = torch.autograd.grad(out, xs)
    return out.item(), [g.item() for g in grads]


def intermediates(x: float, y: float, z: float, dtype: torch.dtype = torch.float32) -> dict[str, tuple[float, float]]:
    """Value and df/dvar of every named intermediate of the nested function, from torch alone."""
    xs = leaves(x, y, z, dtype=dtype)
    a = 2 * xs[0]
    b = torch.sin(xs[1])
    c = a / b
    d = 1 + xs[2] * c
    e = torch.log(d)
    f = torch.tanh(e)
    named = {"a": a, "b": b, "c": c, "d": d, "e": e}
    grads = torch.autograd.grad(f, list(named.values()) + xs)
    out = {k: (v.item(), g.item()) for (k, v), g in zip(named.items(), grads)}
    for k, t, g in zip("xyz", xs, grads[len(named):]):
        out[k] = (t.item(), g.item())
    out["f"] = (f.item(), 1.0)
    return out
