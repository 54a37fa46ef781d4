"""The ``graphviz-ad`` command line: render, step, model, figures and demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click
import torch

from .. import __version__
from ..errors import ExpressionError, GraphvizADError
from ..graph.export import dumps
from ..render.backend import run_dot
from ..render.options import RenderOptions
from ..render.output import format_from_path, write_atomic

__all__ = ["main", "cli", "DEMO_EXPRESSION", "DEMO_VALUES"]

DEMO_EXPRESSION = "tanh(log(1 + z*(2*x/sin(y))))"
DEMO_VALUES = (("x", "1"), ("y", "2"), ("z", "3"))
_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


class UserError(click.ClickException):
    """A mistake the user can fix: one short line, exit status 1."""

    exit_code = 1


def _handle(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into short messages: usage mistakes exit 2, failures exit 1, never a traceback."""
    import functools

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


def _parse_at(at: tuple[str, ...], dtype: str) -> dict[str, torch.Tensor]:
    from .expr import parse_value

    values: dict[str, torch.Tensor] = {}
    for item in at:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ExpressionError(f"--at {item!r}: write NAME=VALUE, e.g. --at x=1 or --at w=[[1,2],[3,4]]")
        if not name.isidentifier() or name.startswith("_"):
            raise ExpressionError(f"--at {item[:40]!r}: {name[:40]!r} is not a valid variable name")
        if name in values:
            raise ExpressionError(f"--at {name}= is given twice; give each name once")
        values[name] = parse_value(name, text, _DTYPES[dtype])
    return values


def _trace_expression(expr: str, at: tuple[str, ...], dtype: str, backward: bool) -> Any:
    from .expr import backward_from_ones, trace_expression

    t = trace_expression(expr, _parse_at(at, dtype))
    return backward_from_ones(t) if backward else t


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
    fn = click.option("--dtype", type=click.Choice(sorted(_DTYPES)), default="float32", show_default=True,
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
    """Write a trace as dot/svg/png/pdf/json to ``out`` (or stdout)."""
    if fmt is None:
        fmt = format_from_path(out, ("svg", "png", "pdf", "dot", "json")) if out and out != "-" else "svg"
    if fmt in ("png", "pdf") and (out is None or out == "-"):
        raise click.UsageError(f"{fmt.upper()} is binary: give an output file with -o FILE.{fmt}")
    if fmt == "json":
        data: bytes | str = dumps(t.to_json())
    elif fmt == "dot":
        data = t.to_dot(opts)
    else:
        data = run_dot(t.to_dot(opts), fmt)
        if fmt == "svg":
            data = data.decode("utf-8")
    emit(data, out)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="graphviz-ad")
def cli() -> None:
    """Draw PyTorch's computation graph with every value, and step through autograd's chain rule.

    \b
    Example:
      graphviz-ad render "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o f.svg
    """


# An expression may start with a minus sign ("-x*y"): it is the argument, not an unknown option.
_EXPR_CONTEXT = {"ignore_unknown_options": True}


@cli.command(context_settings=_EXPR_CONTEXT)
@click.argument("expr")
@expression_options
@click.option("-o", "--output", "out", metavar="FILE", help="Output file (.svg .png .pdf .dot .json); stdout if omitted.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot", "json"]),
              help="Output format (default: from the file suffix, svg on stdout).")
@click.option("--no-backward", is_flag=True, help="Draw the forward pass only (no gradients).")
@common_render_options
@_handle
def render(expr: str, at: tuple[str, ...], dtype: str, out: str | None, fmt: str | None, no_backward: bool,
           theme: str, rankdir: str) -> None:
    """Draw the graph of EXPR with every value (and gradient, after the backward pass).

    EXPR is Python syntax restricted to numbers, the --at names, + - * / ** @, unary minus
    and functions such as sin cos tan tanh sigmoid exp log sqrt abs relu sum mean matmul.
    It is parsed, never executed. For a result with several elements the backward
    starts from ones (the gradient of their sum).

    \b
    Example:
      graphviz-ad render "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o f.svg
    """
    t = _trace_expression(expr, at, dtype, not no_backward)
    render_trace(t, out, fmt, render_options(theme, rankdir))


@cli.command(context_settings=_EXPR_CONTEXT)
@click.argument("expr")
@expression_options
@click.option("-o", "--output", "out", metavar="FILE.html", help="Write the interactive HTML stepper.")
@click.option("--frames", "frames_dir", metavar="DIR", help="Write one SVG per step into DIR.")
@click.option("--text", "as_text", is_flag=True, help="Print the chain rule as a transcript.")
@common_render_options
@_handle
def step(expr: str, at: tuple[str, ...], dtype: str, out: str | None, frames_dir: str | None, as_text: bool,
         theme: str, rankdir: str) -> None:
    """Step through the backward pass of EXPR, one chain-rule computation at a time.

    Without -o or --frames, prints the transcript (as --text does).

    \b
    Examples:
      graphviz-ad step "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o steps.html
      graphviz-ad step "x*y + sin(x)" --at x=1 --at y=2 --frames figs/
      graphviz-ad step "x*y + sin(x)" --at x=1 --at y=2 --text
    """
    if out and format_from_path(out, ("html",)) != "html":
        raise click.UsageError("-o takes an .html file")
    t = _trace_expression(expr, at, dtype, True)
    write_stepper(t, out, frames_dir, as_text or not (out or frames_dir), render_options(theme, rankdir))


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


@cli.command()
@click.option("-o", "--output", "out_dir", default="graphviz_ad_demo", show_default=True, metavar="DIR",
              help="Folder for the demo's files.")
@common_render_options
@_handle
def demo(out_dir: str, theme: str, rankdir: str) -> None:
    """Render the built-in example, tanh(ln(1 + z*2x/sin(y))) at x=1, y=2, z=3.

    Writes nested.svg (the graph with values and gradients), nested.json, nested.dot and
    nested_steps.html (the interactive backward stepper) into DIR.

    \b
    Example:
      graphviz-ad demo -o out/
    """
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise click.UsageError(f"-o {out_dir}: exists and is not a folder")
    d.mkdir(parents=True, exist_ok=True)
    t = _trace_expression(DEMO_EXPRESSION, tuple(f"{k}={v}" for k, v in DEMO_VALUES), "float32", True)
    opts = render_options(theme, rankdir)
    written = [t.render(d / "nested.svg", opts), t.render(d / "nested.dot", opts), t.render(d / "nested.json")]
    s = t.stepper(opts)
    written.append(s.save(d / "nested_steps.html") or d / "nested_steps.html")
    f = t.graph.node(t.graph.outputs[0])
    click.echo(f"f = {DEMO_EXPRESSION} at x=1, y=2, z=3 = {f.value.scalar():.8g}")
    for p in written:
        click.echo(f"wrote {p}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="graphviz-ad")


from . import cli_model as _cli_model  # noqa: E402,F401  (registers the model command)
from . import cli_figures as _cli_figures  # noqa: E402,F401  (registers the figures command)
from . import cli_train as _cli_train  # noqa: E402,F401  (registers the train command)
