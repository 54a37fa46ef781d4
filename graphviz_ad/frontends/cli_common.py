"""What every ``graphviz-ad`` sub-command shares: the click group, error handling, option decorators and output."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click
import torch

from .._version import __version__
from ..errors import ExpressionError, GraphvizADError
from ..output.files import format_from_path, write_atomic
from ..render.formats import GRAPH_FORMATS, graph_bytes
from ..render.options import RenderOptions

__all__ = ["cli", "UserError", "handle", "render_options", "common_render_options", "expression_options", "emit",
           "render_trace", "write_stepper", "DTYPES"]

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


class UserError(click.ClickException):
    """A mistake the user can fix: one short line, exit status 1."""

    exit_code = 1


def handle(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into short messages: usage mistakes exit 2, failures exit 1, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ExpressionError as e:
            raise click.UsageError(e.pretty()) from None
        except GraphvizADError as e:
            raise UserError(str(e)) from None
        except ValueError as e:  # bad option values (theme, rankdir, format)
            raise click.UsageError(str(e)) from None
        except RecursionError:
            raise UserError("the input is nested too deeply to process") from None
        except MemoryError:
            raise UserError("out of memory: the input asks for too much; use smaller tensors") from None

    return wrapper


def render_options(theme: str, rankdir: str, depth: int | None = None) -> RenderOptions:
    return RenderOptions(theme=theme, rankdir=rankdir, depth=depth)


def common_render_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--theme and --rankdir, the same for every command that draws."""
    fn = click.option("--rankdir", type=click.Choice(["TB", "LR", "BT", "RL"], case_sensitive=False), default="TB",
                      show_default=True, help="Layout direction: TB top to bottom, LR left to right.")(fn)
    fn = click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True,
                      help="Colour theme.")(fn)
    return fn


def expression_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--at and --dtype, the same for render and step."""
    fn = click.option("--dtype", type=click.Choice(sorted(DTYPES)), default="float32", show_default=True,
                      help="dtype of the --at tensors.")(fn)
    fn = click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
                      help="Value of a variable: a number or a nested list (x=1, w=[[1,2],[3,4]], nan, inf). "
                           "Repeat for each variable.")(fn)
    return fn


def emit(data: bytes | str, out: str | None) -> None:
    """Write to a file atomically, or to stdout."""
    if out is None or out == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            click.echo(data, nl=False)
        return
    write_atomic(out, data)
    click.echo(f"wrote {out}", err=True)


def render_trace(t: Any, out: str | None, fmt: str | None, opts: RenderOptions) -> None:
    """Write a trace as dot/svg/png/pdf/json to ``out`` (or stdout); an ``.html`` file gets the explorer."""
    if fmt is None and out and out.lower().endswith((".html", ".htm")):
        t.explore(opts).save(out)
        return
    if fmt is None:
        fmt = format_from_path(out, GRAPH_FORMATS) if out and out != "-" else "svg"
    if fmt in ("png", "pdf") and (out is None or out == "-"):
        raise click.UsageError(f"{fmt.upper()} is binary: give an output file with -o FILE.{fmt}")
    emit(graph_bytes(t.graph, fmt, opts, t.steps, t.update), out)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="graphviz-ad")
def cli() -> None:
    """Draw PyTorch's computation graph with every value, and step through autograd's chain rule.

    \b
    Example:
      graphviz-ad render "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o f.svg
    """


def write_stepper(t: Any, out: str | None, frames_dir: str | None, as_text: bool, opts: RenderOptions) -> None:
    s = t.stepper(opts)
    if as_text:
        click.echo(s.text(), nl=False)
    if out:
        s.save(out)
        click.echo(f"wrote {out}", err=True)
    if frames_dir:
        d = Path(frames_dir)
        if d.exists() and not d.is_dir():
            raise click.UsageError(f"--frames {frames_dir}: exists and is not a folder")
        d.mkdir(parents=True, exist_ok=True)
        s.save(d)
        click.echo(f"wrote {len(s)} frames to {frames_dir}", err=True)
