"""Loading a user's model (MODULE:ATTR), making its inputs, and reporting errors in the user's own code."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from ..backward.recorder import loss_of
from ..errors import GraphvizADError, OptionError

__all__ = ["UserCodeError", "load_attr", "build_model", "parse_shape", "make_inputs", "make_target", "LOSSES",
           "run_user", "trace_model"]

LOSSES = ("mse", "cross_entropy", "labels")  # labels: the model's own loss from labels= (Hugging Face)


class UserCodeError(GraphvizADError):
    """The user's own code raised; the message holds their traceback, trimmed to their frames."""


def user_traceback(exc: BaseException, roots: list[str]) -> str:
    """The traceback of ``exc`` keeping only frames from files under ``roots`` (the user's code)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if any(f.filename.startswith(r) for r in roots)]
    lines = traceback.format_list(frames) if frames else []
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return ("Traceback (most recent call last, your code only):\n" + "".join(lines) + head) if lines else head


def _import(module: str) -> tuple[ModuleType, list[str]]:
    if module.endswith(".py") or "/" in module or module.startswith("."):
        path = Path(module)
        if not path.is_file():
            raise GraphvizADError(f"no such file: {module!r}; give MODULE:ATTR with a .py path or a dotted module")
        name = "_graphviz_ad_user_" + re.sub(r"\W", "_", path.stem)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise GraphvizADError(f"cannot import {module!r} as Python code")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        roots = [str(path.resolve().parent), str(path.parent)]
        try:
            spec.loader.exec_module(mod)
        except Exception as e:
            sys.modules.pop(name, None)
            raise UserCodeError(f"importing {module} failed:\n{user_traceback(e, roots)}") from None
        return mod, roots
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            raise GraphvizADError(f"no module named {module!r}: give a dotted module importable from here, "
                                  "or a path to a .py file") from None
        raise UserCodeError(f"importing {module} failed: {e}") from None
    except Exception as e:
        root = str(Path(getattr(sys.modules.get(module), "__file__", "") or ".").resolve().parent)
        raise UserCodeError(f"importing {module} failed:\n{user_traceback(e, [root])}") from None
    root = str(Path(mod.__file__ or ".").resolve().parent)
    return mod, [root]


def load_attr(spec: str) -> tuple[Any, list[str]]:
    """``pkg.mod:factory`` or ``path/to/file.py:model`` -> (the object, roots of the user's code)."""
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr:
        raise OptionError(f"{spec!r}: write MODULE:ATTR, e.g. examples/widenet.py:build or mypkg.models:Net")
    mod, roots = _import(module)
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(mod) if not n.startswith("_"))[:12]
            raise GraphvizADError(f"{module} has no attribute {attr!r}; it has: {', '.join(names)}")
        obj = getattr(obj, part)
    return obj, roots


def build_model(obj: Any, roots: list[str]) -> torch.nn.Module:
    """An nn.Module as it is, or the module a factory (a function or class) returns when called."""
    if isinstance(obj, torch.nn.Module):
        return obj
    if not callable(obj):
        raise GraphvizADError(f"{obj!r} is neither an nn.Module nor a factory that returns one")
    try:
        model = obj()
    except Exception as e:
        raise UserCodeError(f"building the model failed:\n{user_traceback(e, roots)}") from None
    if not isinstance(model, torch.nn.Module):
        raise GraphvizADError(f"the factory returned {type(model).__name__}, not an nn.Module")
    return model


def parse_shape(text: str, what: str = "--input") -> tuple[int, ...]:
    """``32x1`` -> (32, 1); at most 8 dims and 50 million elements."""
    parts = text.lower().replace("×", "x").replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise OptionError(f"{what} {text!r}: write a shape such as 32x1 or 1x3x64x64") from None
    if not shape or len(shape) > 8 or any(s <= 0 for s in shape):
        raise OptionError(f"{what} {text!r}: a shape has 1 to 8 positive sizes, e.g. 32x1")
    n = 1
    for s in shape:
        n *= s
    if n > 50_000_000:
        raise OptionError(f"{what} {text!r} has {n} elements; at most 50 million")
    return shape


def make_inputs(model: torch.nn.Module, shape: tuple[int, ...], *, seed: int = 0, dtype: str = "float") -> torch.Tensor:
    """A reproducible input: integers for an Embedding first layer, else standard normal floats."""
    g = torch.Generator().manual_seed(seed)
    first = next((m for m in model.modules() if not list(m.children())), None)
    if dtype == "long" or isinstance(first, torch.nn.Embedding):
        high = first.num_embeddings if isinstance(first, torch.nn.Embedding) else 10
        return torch.randint(0, high, shape, generator=g)
    p = next(model.parameters(), None)
    dev = p.device if p is not None else torch.device("cpu")
    return torch.randn(shape, generator=g).to(dev)


def make_target(loss: str, output: torch.Tensor, shape: tuple[int, ...] | None, *, seed: int = 1) -> torch.Tensor:
    """A seeded random target for ``loss``: for mse a float tensor of the output's shape; for cross_entropy
    class indices (integers below the output's last size) of the output's shape without its last dimension.
    A ``shape`` that does not fit is refused (:class:`OptionError`)."""
    g = torch.Generator().manual_seed(seed)
    out_shape = tuple(output.shape)
    if loss == "cross_entropy":
        classes = out_shape[-1] if out_shape else 1
        fits = out_shape[:-1]
        if shape is not None and shape != fits:
            raise OptionError(f"--target {_shape_text(shape)}: for --loss cross_entropy the target holds class "
                              f"indices, one per row of the output ({_shape_text(out_shape)}): give --target "
                              f"{_shape_text(fits) or 'nothing'} (or leave it out)")
        return torch.randint(0, classes, fits, generator=g).to(output.device)
    if shape is not None and shape != out_shape:
        raise OptionError(f"--target {_shape_text(shape)}: for --loss mse the target has the output's shape "
                          f"({_shape_text(out_shape)}): give --target {_shape_text(out_shape)} (or leave it out)")
    return torch.randn(out_shape, generator=g).to(output.device)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def run_user(fn: Any, roots: list[str], what: str) -> Any:
    """Call ``fn``; an exception from the user's own code becomes a UserCodeError with their frames only."""
    try:
        return fn()
    except GraphvizADError:
        raise
    except Exception as e:  # the user's own code raised: show their frames, not ours
        raise UserCodeError(f"{what} failed in your code:\n{user_traceback(e, roots)}") from None


def trace_model(module_attr: str, inputs: tuple[str, ...] | list[str], *, input_dtype: str = "float",
                target_shape: str | None = None, loss: str | None = None, seed: int = 0,
                optimizer: tuple[str, float, float] | None = None, backward: bool = True) -> Any:
    """What ``graphviz-ad model`` traces: the module ``module_attr`` (MODULE:ATTR) on seeded random inputs of
    the given shapes, with an optional loss (and target shape), backward and one recorded optimizer step."""
    from ..api import trace_call

    obj, roots = load_attr(module_attr)
    net = build_model(obj, roots)
    shapes = [parse_shape(s) for s in inputs]
    tshape = parse_shape(target_shape, "--target") if target_shape else None
    torch.manual_seed(seed)
    xs = [make_inputs(net, s, seed=seed + i, dtype=input_dtype) for i, s in enumerate(shapes)]
    names = ["input"] if len(xs) == 1 else [f"input{i}" for i in range(len(xs))]
    if loss == "labels":
        t = _trace_with_labels(net, xs, tshape, seed, roots)
    elif loss:
        sample = run_user(lambda: net(*xs), roots, "the forward pass")
        if not isinstance(sample, torch.Tensor):
            raise GraphvizADError(f"--loss needs the model to return a tensor, it returned {type(sample).__name__}")
        y = make_target(loss, sample, tshape, seed=seed + 100)
        loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()

        def with_loss(*tensors: torch.Tensor) -> torch.Tensor:
            return loss_fn(net(*tensors[:-1]), tensors[-1])

        t = run_user(lambda: trace_call(with_loss, (*xs, y), input_names=names + ["target"], output_name="loss"),
                     roots, "the forward pass")
    else:
        t = run_user(lambda: trace_call(net, tuple(xs), input_names=names), roots, "the forward pass")
    if backward:
        outs = t.output_tensors
        seed_grad = (None if loss == "labels" or all(o.numel() == 1 for o in outs)
                     else [torch.ones_like(o) for o in outs])
        if optimizer:
            name, lr, momentum = optimizer
            params = [p for p in net.parameters() if p.requires_grad]
            opt = (torch.optim.SGD(params, lr=lr, momentum=momentum) if name == "sgd"
                   else torch.optim.Adam(params, lr=lr))
            opt.zero_grad()
            run_user(lambda: t.backward(seed_grad, accumulate=True), roots, "the backward pass")
            t.optimizer_step(opt)
        else:
            run_user(lambda: t.backward(seed_grad), roots, "the backward pass")
    return t


def _trace_with_labels(net: torch.nn.Module, xs: list[torch.Tensor], tshape: tuple[int, ...] | None,
                       seed: int, roots: list[str]) -> Any:
    """``net(*xs, labels=y)`` traced, for a model that computes its own loss (a Hugging Face model): the
    labels are the first input (a causal language model's convention), or random class indices of
    ``tshape`` below ``net.config.num_labels``."""
    try:
        params = inspect.signature(net.forward).parameters
    except (TypeError, ValueError):
        params = {}
    if "labels" not in params and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        raise GraphvizADError(f"--loss labels needs a model that computes its own loss from labels= (a Hugging Face "
                              f"model); {type(net).__name__}.forward takes no labels: use --loss mse or --loss "
                              "cross_entropy")
    if tshape is None:
        y = xs[0]
    else:
        classes = int(getattr(getattr(net, "config", None), "num_labels", 2) or 2)
        y = torch.randint(0, classes, tshape, generator=torch.Generator().manual_seed(seed + 100)).to(xs[0].device)
    from ..api import trace_call

    t = run_user(lambda: trace_call(net, tuple(xs), {"labels": y}), roots, "the forward pass")
    if loss_of(t.output) is None:
        raise GraphvizADError(f"--loss labels needs a model that computes its own loss from labels= and returns it "
                              f"as 'loss' (a Hugging Face model); this one returned {type(t.output).__name__} "
                              "without one: use --loss mse or --loss cross_entropy")
    return t
