"""The ``graphviz-ad model`` command: trace a user's nn.Module (their own code runs)."""

from __future__ import annotations

from typing import Any

import click
import torch

from ..errors import GraphvizADError
from ..render.options import RenderOptions
from .cli import _handle, cli, common_render_options, render_trace, write_stepper
from .models import LOSSES, UserCodeError, build_model, load_attr, make_inputs, make_target, parse_shape, user_traceback

__all__ = ["model", "parse_depth"]


def parse_depth(text: str | None) -> int | str | None:
    """``--depth``: a whole number, ``auto`` (the default) or ``all`` (expand everything)."""
    if text is None or text == "auto":
        return "auto"
    if text in ("all", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter("a whole number, 'auto' or 'all'", param_hint="--depth") from None
    if value < 0:
        raise click.BadParameter("must be >= 0", param_hint="--depth")
    return value


def _run_user(fn: Any, roots: list[str], what: str) -> Any:
    try:
        return fn()
    except GraphvizADError:
        raise
    except Exception as e:  # the user's own code raised: show their frames, not ours
        raise UserCodeError(f"{what} failed in your code:\n{user_traceback(e, roots)}") from None


@cli.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_shapes", multiple=True, required=True, metavar="SHAPE",
              help="Shape of a random input (seeded), e.g. 32x1; repeat for several inputs.")
@click.option("--input-dtype", type=click.Choice(["float", "long"]), default="float", show_default=True,
              help="long makes integer inputs (token ids); an Embedding first layer implies it.")
@click.option("--target", "target_shape", metavar="SHAPE", help="Shape of the target for --loss (default: fits the output).")
@click.option("--loss", type=click.Choice(LOSSES), help="Add a loss on top of the model's output.")
@click.option("--depth", metavar="N|auto|all", default="auto", show_default=True,
              help="Module nesting drawn expanded: N levels, auto (about 150 boxes at most) or all.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), help="Record one optimizer step after backward.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate for --optimizer.")
@click.option("--momentum", type=float, default=0.0, show_default=True, help="Momentum for --optimizer sgd.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs and targets.")
@click.option("--no-backward", is_flag=True, help="Draw the forward pass only.")
@click.option("--grad-color", is_flag=True, help="Colour nodes by gradient magnitude (log scale).")
@click.option("-o", "--output", "out", metavar="FILE",
              help="Output: .svg .png .pdf .dot .json, or .html for the backward stepper; SVG on stdout if omitted.")
@common_render_options
@_handle
def model(target: str, input_shapes: tuple[str, ...], input_dtype: str, target_shape: str | None, loss: str | None,
          depth: str, optimizer: str | None, lr: float, momentum: float, seed: int, no_backward: bool,
          grad_color: bool, out: str | None, theme: str, rankdir: str) -> None:
    """Trace an nn.Module with random inputs and draw it (values, gradients, structure).

    MODULE is a dotted module or a path to a .py file; ATTR an nn.Module instance or a
    factory (function or class) that returns one. This imports and runs your own code.

    \b
    Example:
      graphviz-ad model examples/widenet.py:build --input 32x1 --target 32x1 --loss mse -o widenet.svg
    """
    import graphviz_ad as gad

    opts = RenderOptions(theme=theme, rankdir=rankdir, depth=parse_depth(depth), grad_color=grad_color)
    if out and out.lower().endswith((".html", ".htm")) and no_backward:
        raise click.UsageError("the .html stepper walks the backward pass: drop --no-backward")
    if optimizer and (no_backward or not loss):
        raise click.UsageError("--optimizer needs a loss to minimise: add --loss (and keep the backward)")
    obj, roots = load_attr(target)
    net = build_model(obj, roots)
    shapes = [parse_shape(s) for s in input_shapes]
    tshape = parse_shape(target_shape, "--target") if target_shape else None
    torch.manual_seed(seed)
    inputs = [make_inputs(net, s, seed=seed + i, dtype=input_dtype) for i, s in enumerate(shapes)]
    if loss:
        sample = _run_user(lambda: net(*inputs), roots, "the forward pass")
        if not isinstance(sample, torch.Tensor):
            raise GraphvizADError(f"--loss needs the model to return a tensor, it returned {type(sample).__name__}")
        y = make_target(loss, sample, tshape, seed=seed + 100)
        loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()
        try:
            t = _run_user(lambda: gad.trace(lambda: loss_fn(net(*inputs), y)), roots, "the forward pass")
        except UserCodeError:
            raise
    else:
        t = _run_user(lambda: gad.trace(net, *inputs), roots, "the forward pass")
    if not no_backward:
        outs = t._rec.output_tensors
        seed_grad = None if all(o.numel() == 1 for o in outs) else [torch.ones_like(o) for o in outs]
        if optimizer:
            params = [p for p in net.parameters() if p.requires_grad]
            opt = (torch.optim.SGD(params, lr=lr, momentum=momentum) if optimizer == "sgd"
                   else torch.optim.Adam(params, lr=lr))
            opt.zero_grad()
            _run_user(lambda: t.backward(seed_grad, accumulate=True), roots, "the backward pass")
            t.optimizer_step(opt)
        else:
            _run_user(lambda: t.backward(seed_grad), roots, "the backward pass")
    if out and out.lower().endswith((".html", ".htm")):
        write_stepper(t, out, None, False, opts)
    else:
        render_trace(t, out, None, opts)
