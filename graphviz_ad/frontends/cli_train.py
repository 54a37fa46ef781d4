"""The ``graphviz-ad train`` command: train a user's model full-batch under :func:`graphviz_ad.watch`, write the run."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import click

from ..errors import OptionError
from ..output.files import format_from_path
from ..recipes.models import LOSSES
from ..recipes.train import TrainSettings, parse_compare, train_runs
from .cli_common import handle

__all__ = ["train"]

def _compare(text: str) -> tuple[str, tuple[Any, ...]]:
    try:
        return parse_compare(text)
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint="--compare") from None


def _progress(steps: Iterable[int], label: str, last: Callable[[], float]) -> Iterator[int]:
    """The steps under a progress bar on stderr with the current loss."""
    with click.progressbar(steps, label=label, file=sys.stderr, item_show_func=lambda _: f"loss {last():.5g}") as bar:
        yield from bar


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
    if out:
        format_from_path(out, ("html", "json", "png", "svg"))  # a bad suffix is refused before any training
    settings = TrainSettings(epochs=epochs, lr=lr, momentum=momentum, optimizer=opt_name, loss=loss, seed=seed,
                             every=every, activations=activations,
                             compare=_compare(compare_spec) if compare_spec else None)

    def finished(run: Any, last: float) -> None:
        steps = len(run.history["loss"])
        click.echo(f"{run.display_label}: final loss {last:.6g} after {steps} steps", err=True)

    result = train_runs(target, settings, input_shapes=input_shapes, target_shape=target_shape,
                        progress=_progress, finished=finished)
    if out:
        result.save(out)
        click.echo(f"wrote {out}", err=True)
