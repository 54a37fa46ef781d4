"""The ``graphviz-ad train`` command: train a user's model full-batch under :func:`graphviz_ad.watch`, write the run."""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import click
import torch

from ..errors import GraphvizADError
from ..output.files import format_from_path
from ..recipes.models import LOSSES, load_attr, make_inputs, make_target, parse_shape, run_user
from .cli_common import handle

__all__ = ["train", "parse_compare", "COMPARABLE"]

COMPARABLE = {"lr": float, "momentum": float, "seed": int, "epochs": int, "optimizer": str}


def parse_compare(text: str) -> tuple[str, list[Any]]:
    """``lr=0.0003,0.003,0.03`` -> ("lr", [0.0003, 0.003, 0.03])."""
    key, sep, values = text.partition("=")
    key = key.strip().lstrip("-").replace("-", "_")
    if not sep or key not in COMPARABLE:
        raise click.BadParameter(f"write KEY=V1,V2,... with KEY one of {', '.join(COMPARABLE)}, e.g. lr=0.003,0.03",
                                 param_hint="--compare")
    kind = COMPARABLE[key]
    out: list[Any] = []
    for v in values.split(","):
        v = v.strip()
        try:
            out.append(kind(v))
        except ValueError:
            raise click.BadParameter(f"{key}: {v!r} is not a valid {kind.__name__}", param_hint="--compare") from None
        if key == "optimizer" and v not in ("sgd", "adam"):
            raise click.BadParameter(f"optimizer: {v!r}; choose sgd or adam", param_hint="--compare")
    if len(out) < 2:
        raise click.BadParameter("give at least two values to compare, e.g. lr=0.003,0.03", param_hint="--compare")
    return key, out


def _setup(target: str, input_shapes: tuple[str, ...], target_shape: str | None, loss: str,
           seed: int) -> tuple[Any, list[str]]:
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
            raise click.UsageError("the factory returned only a model: give --input SHAPE (and --target SHAPE) "
                                   "for seeded random data, or return (model, inputs, targets)")
        xs = [make_inputs(made, s, seed=run_seed + i) for i, s in enumerate(shapes)]
        out = run_user(lambda: made(*xs), roots, "the forward pass")
        if not isinstance(out, torch.Tensor):
            raise GraphvizADError(f"the model returned {type(out).__name__}; train needs a tensor output")
        return made, xs, make_target(loss, out, tshape, seed=run_seed + 100)

    return build, roots


def _fit(model: torch.nn.Module, opt: torch.optim.Optimizer, xs: list[torch.Tensor], ys: torch.Tensor,
         loss_fn: Any, epochs: int, run: Any, roots: list[str], label: str) -> float:
    """The lesson's loop, full batch, under a progress bar on stderr; returns the last loss."""
    last = math.nan

    def show(_: Any) -> str:
        return f"loss {last:.5g}"

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(*xs), ys)
        loss.backward()
        opt.step()
        run.log(loss)
        return loss.item()

    with click.progressbar(range(epochs), label=label, file=sys.stderr, item_show_func=show) as bar:
        for _ in bar:
            last = run_user(step, roots, "training")
    return last


def _optimizer(name: str, params: Any, lr: float, momentum: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


@click.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--epochs", type=click.IntRange(min=1), required=True, help="Optimizer steps (full batch each).")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate.")
@click.option("--momentum", type=float, default=0.0, show_default=True, help="Momentum (sgd).")
@click.option("--optimizer", "opt_name", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True,
              help="The optimizer.")
@click.option("--loss", type=click.Choice(LOSSES), default="mse", show_default=True, help="The loss.")
@click.option("--seed", type=int, default=0, show_default=True, help="torch.manual_seed before building the model.")
@click.option("--input", "input_shapes", multiple=True, metavar="SHAPE",
              help="Shape of a seeded random input, when the factory returns only a model (e.g. 32x1).")
@click.option("--target", "target_shape", metavar="SHAPE", help="Shape of the random target (default: fits).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Record every N-th optimizer step.")
@click.option("--activations", is_flag=True, help="Also record each module's output mean, std, saturation.")
@click.option("--compare", "compare_spec", metavar="KEY=V1,V2,...",
              help="Train once per value and draw the runs together, e.g. lr=0.0003,0.003,0.03.")
@click.option("-o", "--output", "out", metavar="FILE",
              help="run.html (the page), run.png/.svg (the figure) or run.json; a summary only if omitted.")
@handle
def train(target: str, epochs: int, lr: float, momentum: float, opt_name: str, loss: str, seed: int,
          input_shapes: tuple[str, ...], target_shape: str | None, every: int, activations: bool,
          compare_spec: str | None, out: str | None) -> None:
    """Train MODULE:ATTR full-batch, watched, and write the run (loss, gradient norms, the graph per step).

    ATTR is an nn.Module, or a factory returning a model or (model, inputs, targets). This imports
    and runs your own code. Each epoch is one optimizer step: zero_grad, forward, loss, backward, step.

    \b
    Examples:
      graphviz-ad train examples/training_lesson.py:widenet --epochs 1847 --lr 0.003 --momentum 0.9 -o run.html
      graphviz-ad train examples/training_lesson.py:widenet --epochs 300 --compare lr=0.0003,0.003,0.03 -o lr.png
    """
    from ..training import compare, watch

    if out:
        format_from_path(out, ("html", "json", "png", "svg"))  # a bad suffix is refused before any training
    settings: dict[str, Any] = {"lr": lr, "momentum": momentum, "seed": seed, "epochs": epochs, "optimizer": opt_name}
    key, values = parse_compare(compare_spec) if compare_spec else (None, [None])
    build, roots = _setup(target, input_shapes, target_shape, loss, seed)
    loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()
    runs = []
    for value in values:
        cfg = dict(settings)
        if key is not None:
            cfg[key] = value
        model, xs, ys = build(cfg["seed"])
        opt = _optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["momentum"])
        config = {k: cfg[k] for k in ("optimizer", "lr", "momentum", "seed", "epochs")
                  if not (k == "momentum" and cfg["optimizer"] == "adam")}
        label = f"{key}={value:g}" if isinstance(value, float) else (f"{key}={value}" if key else None)
        with watch(model, opt, every=every, activations=activations, config=config, label=label) as run:
            last = _fit(model, opt, xs, ys, loss_fn, cfg["epochs"], run, roots, f"training {label or target}")
        runs.append(run)
        click.echo(f"{run.display_label}: final loss {last:.6g} after {cfg['epochs']} steps", err=True)
    result: Any = runs[0] if len(runs) == 1 else compare(*runs)
    if out:
        result.save(out)
        click.echo(f"wrote {out}", err=True)
