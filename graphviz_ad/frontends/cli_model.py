"""The ``graphviz-ad model`` command: trace a user's nn.Module (their own code runs)."""

from __future__ import annotations

from typing import Any

import click

from ..recipes.models import LOSSES, trace_model
from .cli_common import common_render_options, handle, render_options, render_trace

__all__ = ["model"]


@click.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_shapes", multiple=True, required=True, metavar="SHAPE",
              help="Shape of a random input (seeded), e.g. 32x1; repeat for several inputs.")
@click.option("--input-dtype", type=click.Choice(["float", "long"]), default="float", show_default=True,
              help="long makes integer inputs (token ids); an Embedding first layer implies it.")
@click.option("--target", "target_shape", metavar="SHAPE",
              help="Shape of the (seeded random) target for --loss, default: the one that fits the output. "
                   "mse: the output's shape (32x1), floats; cross_entropy: class indices, the output's shape "
                   "without its last dimension (an output of 3x2, 3 rows of 2 classes, takes --target 3); "
                   "labels: class indices of this shape, or the input ids when omitted.")
@click.option("--loss", type=click.Choice(LOSSES),
              help="Add a loss on top of the model's output; labels: the model's own loss from labels= "
                   "(Hugging Face; the labels are the input ids, or class indices of --target's shape).")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), help="Record one optimizer step after backward.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate for --optimizer.")
@click.option("--momentum", type=float, default=0.0, show_default=True, help="Momentum for --optimizer sgd.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs and targets.")
@click.option("--no-backward", is_flag=True, help="Draw the forward pass only.")
@click.option("-o", "--output", "out", metavar="FILE",
              help="Output: .svg .png .pdf .dot .json, or .html for the interactive explorer; SVG on stdout if omitted.")
@common_render_options
@handle
def model(target: str, input_shapes: tuple[str, ...], input_dtype: str, target_shape: str | None, loss: str | None,
          optimizer: str | None, lr: float, momentum: float, seed: int, no_backward: bool, out: str | None,
          **drawing: Any) -> None:
    """Trace an nn.Module with random inputs and draw it (values, gradients, structure).

    MODULE is a dotted module or a path to a .py file; ATTR an nn.Module instance or a
    factory (function or class) that returns one. This imports and runs your own code.

    \b
    Example:
      graphviz-ad model examples/widenet.py:build --input 32x1 --target 32x1 --loss mse -o widenet.svg
    """
    opts = render_options(**drawing)
    if optimizer and (no_backward or not loss):
        raise click.UsageError("--optimizer needs a loss to minimise: add --loss (and keep the backward)")
    t = trace_model(target, input_shapes, input_dtype=input_dtype, target_shape=target_shape, loss=loss, seed=seed,
                    optimizer=(optimizer, lr, momentum) if optimizer else None, backward=not no_backward)
    render_trace(t, out, None, opts)
