"""The ``graphviz-ad model`` command: trace a user's nn.Module (their own code runs)."""

from __future__ import annotations

import click

from ..recipes.models import LOSSES, trace_model
from ..render.options import RenderOptions
from .cli_common import common_render_options, handle, render_trace

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


@click.command()
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--input", "input_shapes", multiple=True, required=True, metavar="SHAPE",
              help="Shape of a random input (seeded), e.g. 32x1; repeat for several inputs.")
@click.option("--input-dtype", type=click.Choice(["float", "long"]), default="float", show_default=True,
              help="long makes integer inputs (token ids); an Embedding first layer implies it.")
@click.option("--target", "target_shape", metavar="SHAPE", help="Shape of the target for --loss (default: fits the output).")
@click.option("--loss", type=click.Choice(LOSSES),
              help="Add a loss on top of the model's output; labels: the model's own loss from labels= "
                   "(Hugging Face; the labels are the input ids, or class indices of --target's shape).")
@click.option("--depth", metavar="N|auto|all", default="auto", show_default=True,
              help="Module nesting drawn expanded: N levels, auto (about 150 boxes at most, 60 for a library's "
                   "model) or all.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), help="Record one optimizer step after backward.")
@click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate for --optimizer.")
@click.option("--momentum", type=float, default=0.0, show_default=True, help="Momentum for --optimizer sgd.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs and targets.")
@click.option("--no-backward", is_flag=True, help="Draw the forward pass only.")
@click.option("--grad-color", is_flag=True, help="Colour nodes by gradient magnitude (log scale).")
@click.option("--show-all", is_flag=True,
              help="Draw everything as recorded: installed libraries' frames, mask and position plumbing, no-op casts.")
@click.option("-o", "--output", "out", metavar="FILE",
              help="Output: .svg .png .pdf .dot .json, or .html for the interactive explorer; SVG on stdout if omitted.")
@common_render_options
@handle
def model(target: str, input_shapes: tuple[str, ...], input_dtype: str, target_shape: str | None, loss: str | None,
          depth: str, optimizer: str | None, lr: float, momentum: float, seed: int, no_backward: bool,
          grad_color: bool, show_all: bool, out: str | None, theme: str, rankdir: str) -> None:
    """Trace an nn.Module with random inputs and draw it (values, gradients, structure).

    MODULE is a dotted module or a path to a .py file; ATTR an nn.Module instance or a
    factory (function or class) that returns one. This imports and runs your own code.

    \b
    Example:
      graphviz-ad model examples/widenet.py:build --input 32x1 --target 32x1 --loss mse -o widenet.svg
    """
    opts = RenderOptions(theme=theme, rankdir=rankdir, depth=parse_depth(depth), grad_color=grad_color,
                         show_all=show_all)
    if optimizer and (no_backward or not loss):
        raise click.UsageError("--optimizer needs a loss to minimise: add --loss (and keep the backward)")
    t = trace_model(target, input_shapes, input_dtype=input_dtype, target_shape=target_shape, loss=loss, seed=seed,
                    optimizer=(optimizer, lr, momentum) if optimizer else None, backward=not no_backward)
    render_trace(t, out, None, opts)
