"""Train a user's model full-batch under :func:`graphviz_ad.watch`: the lesson's loop, shared by the CLI's
``train``, ``figures.toml`` entries with ``train = {...}`` and the Sphinx directive's ``:train:``."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from ..errors import GraphvizADError, OptionError
from .models import LOSSES, load_attr, make_inputs, make_target, parse_shape, run_user

__all__ = ["TrainSettings", "COMPARABLE", "OPTIMIZERS", "parse_compare", "train_runs"]

COMPARABLE = {"lr": float, "momentum": float, "seed": int, "epochs": int, "optimizer": str}
OPTIMIZERS = ("sgd", "adam")

# progress(iterable of steps, label) -> the same steps (a CLI wraps them in a progress bar)
Progress = Callable[[Iterable[int], str, Callable[[], float]], Iterable[int]]


@dataclass(frozen=True)
class TrainSettings:
    """What to train: optimizer steps (each one full batch), the optimizer and its hyperparameters, the loss,
    the seed, what ``watch`` records; ``compare`` trains once per value of one setting (``("lr", (…))``)."""

    epochs: int
    lr: float = 0.01
    momentum: float = 0.0
    optimizer: str = "sgd"
    loss: str = "mse"
    seed: int = 0
    every: int = 1
    activations: bool = False
    compare: tuple[str, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES or self.loss == "labels":
            raise OptionError(f"loss {self.loss!r}: training takes mse or cross_entropy")
        if self.epochs < 1 or self.every < 1:
            raise OptionError("epochs and every must be at least 1")


def parse_compare(text: str) -> tuple[str, tuple[Any, ...]]:
    """``lr=0.0003,0.003,0.03`` -> ("lr", (0.0003, 0.003, 0.03))."""
    key, sep, values = text.partition("=")
    return check_compare(key.strip().lstrip("-").replace("-", "_") if sep else "", values.split(","))


def check_compare(key: str, values: Iterable[Any]) -> tuple[str, tuple[Any, ...]]:
    """The values of ``key`` to train with, each of the setting's type; a clear error otherwise."""
    if key not in COMPARABLE:
        raise OptionError(f"compare: write KEY=V1,V2,... with KEY one of {', '.join(COMPARABLE)}, "
                          "e.g. lr=0.003,0.03")
    kind = COMPARABLE[key]
    out: list[Any] = []
    for v in values:
        text = str(v).strip()
        try:
            out.append(kind(text))
        except ValueError:
            raise OptionError(f"{key}: {text!r} is not a valid {kind.__name__}") from None
        if key == "optimizer" and text not in OPTIMIZERS:
            raise OptionError(f"optimizer: {text!r}; choose sgd or adam")
    if len(out) < 2:
        raise OptionError("give at least two values to compare, e.g. lr=0.003,0.03")
    return key, tuple(out)


def _builder(target: str, input_shapes: tuple[str, ...], target_shape: str | None,
             loss: str) -> tuple[Callable[[int], tuple[torch.nn.Module, list[torch.Tensor], torch.Tensor]], list[str]]:
    """A builder returning (model, inputs, targets), seeded the same way each call."""
    obj, roots = load_attr(target)
    shapes = [parse_shape(s) for s in input_shapes]
    tshape = parse_shape(target_shape, "--target") if target_shape else None

    def build(run_seed: int) -> tuple[torch.nn.Module, list[torch.Tensor], torch.Tensor]:
        torch.manual_seed(run_seed)
        if isinstance(obj, torch.nn.Module):
            made: Any = copy.deepcopy(obj)
        elif callable(obj):
            made = run_user(obj, roots, "building the model")
        else:
            raise GraphvizADError(f"{target}: {type(obj).__name__} is neither an nn.Module nor a factory; "
                                  "give a function returning a model or (model, inputs, targets)")
        if isinstance(made, tuple) and len(made) == 3 and isinstance(made[0], torch.nn.Module):
            model, xs, ys = made
            xs = list(xs) if isinstance(xs, (tuple, list)) else [xs]
            if not all(isinstance(x, torch.Tensor) for x in [*xs, ys]):
                raise GraphvizADError(f"{target}: the factory's inputs and targets must be tensors")
            return model, xs, ys
        if not isinstance(made, torch.nn.Module):
            raise GraphvizADError(f"{target}: the factory returned {type(made).__name__}; return an nn.Module "
                                  "or (model, inputs, targets)")
        if not shapes:
            raise OptionError("the factory returned only a model: give --input SHAPE (and --target SHAPE) "
                              "for seeded random data, or return (model, inputs, targets)")
        xs = [make_inputs(made, s, seed=run_seed + i) for i, s in enumerate(shapes)]
        out = run_user(lambda: made(*xs), roots, "the forward pass")
        if not isinstance(out, torch.Tensor):
            raise GraphvizADError(f"the model returned {type(out).__name__}; train needs a tensor output")
        return made, xs, make_target(loss, out, tshape, seed=run_seed + 100)

    return build, roots


def _steps(steps: Iterable[int], _label: str, _loss: Callable[[], float]) -> Iterator[int]:
    return iter(steps)


def train_runs(target: str, settings: TrainSettings, *, input_shapes: tuple[str, ...] = (),
               target_shape: str | None = None, progress: Progress = _steps,
               finished: Callable[[Any, float], None] | None = None) -> Any:
    """Train MODULE:ATTR ``target`` (a model, or a factory returning one or (model, inputs, targets)) as
    ``settings`` say, under ``watch``: a Run, or a Comparison of one run per ``settings.compare`` value.
    ``progress(steps, label, last_loss)`` may wrap each run's steps; ``finished(run, last_loss)`` follows each."""
    from ..training import compare, watch

    build, roots = _builder(target, input_shapes, target_shape, settings.loss)
    loss_fn = torch.nn.MSELoss() if settings.loss == "mse" else torch.nn.CrossEntropyLoss()
    key, values = settings.compare if settings.compare else (None, (None,))
    runs = []
    for value in values:
        cfg = replace(settings, **{key: value}) if key is not None else settings
        model, xs, ys = build(cfg.seed)
        params = model.parameters()
        opt = (torch.optim.Adam(params, lr=cfg.lr) if cfg.optimizer == "adam"
               else torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum))
        config = {k: getattr(cfg, k) for k in ("optimizer", "lr", "momentum", "seed", "epochs")
                  if not (k == "momentum" and cfg.optimizer == "adam")}
        label = f"{key}={value:g}" if isinstance(value, float) else (f"{key}={value}" if key else None)
        last = math.nan

        def step() -> float:
            opt.zero_grad()
            loss = loss_fn(model(*xs), ys)
            loss.backward()
            opt.step()
            run.log(loss)
            return loss.item()

        with watch(model, opt, every=cfg.every, activations=cfg.activations, config=config, label=label) as run:
            for _ in progress(range(cfg.epochs), f"training {label or target}", lambda: last):
                last = run_user(step, roots, "training")
        runs.append(run)
        if finished is not None:
            finished(run, last)
    return runs[0] if len(runs) == 1 else compare(*runs)
