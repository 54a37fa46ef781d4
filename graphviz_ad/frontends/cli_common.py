"""What every ``graphviz-ad`` sub-command shares: the click group, error handling, option decorators and output."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import click
import torch

from .._version import __version__
from ..errors import ExpressionError, GraphvizADError, OptionError
from ..output.files import format_from_path, write_atomic
from ..render.formats import GRAPH_FORMATS, graph_bytes
from ..render.options import RenderOptions

__all__ = ["cli", "UserError", "ExpressionCommand", "handle", "render_options", "parse_depth", "common_render_options", "expression_options", "emit",
           "render_trace", "write_stepper", "DTYPES"]

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}


class UserError(click.ClickException):
    """A mistake the user can fix: one short line, exit status 1."""

    exit_code = 1


class ExpressionCommand(click.Command):
    """A command whose one argument is an expression that may start with a minus (``"-log(x)"``).

    click would read ``-log(x)`` as the short options ``-l -o g(x)``: before click parses, the first
    word that is not one of the command's options (nor an option's value) is taken as the expression,
    whatever its first character; ``--`` marks the next word as the expression, and options may
    follow it. Write an attached short-option value with a space (``-o f.svg``).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for p in self.get_params(ctx):
            if isinstance(p, click.Option):
                for name in (*p.opts, *p.secondary_opts):
                    takes_value[name] = not p.is_flag and not p.count
        rest: list[str] = []
        expr: str | None = None
        i = 0
        while i < len(args):
            word = args[i]
            if expr is None and word == "--" and i + 1 < len(args):
                expr = args[i + 1]
                i += 2
                continue
            name = word.split("=", 1)[0] if word.startswith("--") else word
            if name in takes_value:
                rest.append(word)
                if takes_value[name] and "=" not in word and i + 1 < len(args):
                    rest.append(args[i + 1])
                    i += 1
            elif expr is None:
                expr = word
            else:
                rest.append(word)
            i += 1
        return super().parse_args(ctx, rest + (["--", expr] if expr is not None else []))


@contextlib.contextmanager
def _short_warnings() -> Any:
    """Warnings (torch's, the user's code's) as one line each on stderr, ``warning: …``, without the
    internal file path and source line Python's default format prints."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            yield
        finally:
            seen: set[str] = set()
            for w in caught:
                text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else w.category.__name__
                if text not in seen:
                    seen.add(text)
                    click.echo(f"warning: {text}", err=True)


def handle(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into short messages: usage mistakes exit 2, failures exit 1, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with _short_warnings():
                return fn(*args, **kwargs)
        except ExpressionError as e:
            raise click.UsageError(e.pretty()) from None
        except OptionError as e:
            raise click.UsageError(str(e)) from None
        except GraphvizADError as e:
            raise UserError(str(e)) from None
        except ValueError as e:  # bad option values (theme, rankdir, format)
            raise click.UsageError(str(e)) from None
        except RecursionError:
            raise UserError("the input is nested too deeply to process") from None
        except MemoryError:
            raise UserError("out of memory: the input asks for too much; use smaller tensors") from None

    return wrapper


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


def render_options(theme: str = "light", rankdir: str = "TB", depth: str | None = "auto", grad_color: bool = False,
                   digits: int = 5, legend: bool = True, show_all: bool = False) -> RenderOptions:
    """The :class:`RenderOptions` of the drawing options every command takes (:func:`common_render_options`)."""
    return RenderOptions(theme=theme, rankdir=rankdir, depth=parse_depth(depth), grad_color=grad_color,
                         digits=digits, legend=legend, show_all=show_all)


def common_render_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Every option of :class:`RenderOptions`, the same for every command that draws (render, step, model,
    demo): --theme, --rankdir, --depth, --grad-color, --digits, --legend/--no-legend, --show-all."""
    fn = click.option("--show-all", is_flag=True,
                      help="Draw everything as recorded: installed libraries' frames, mask and position plumbing, "
                           "no-op casts.")(fn)
    fn = click.option("--legend/--no-legend", default=True, show_default=True, help="Draw the legend.")(fn)
    fn = click.option("--digits", type=click.IntRange(3, 9), default=5, show_default=True,
                      help="Significant digits of the numbers in the boxes and on the edges.")(fn)
    fn = click.option("--grad-color", is_flag=True, help="Colour nodes by gradient magnitude (log scale).")(fn)
    fn = click.option("--depth", metavar="N|auto|all", default="auto", show_default=True,
                      help="Module nesting drawn expanded: N levels, auto (about 150 boxes at most, 60 for a "
                           "library's model) or all.")(fn)
    fn = click.option("--rankdir", type=click.Choice(["TB", "LR", "BT", "RL"], case_sensitive=False), default="TB",
                      show_default=True, help="Layout direction: TB top to bottom, LR left to right.")(fn)
    fn = click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True,
                      help="Colour theme.")(fn)
    return fn


def expression_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--at, --const, --dtype, --names and --check, the same for render and step."""
    fn = click.option("--check", is_flag=True,
                      help="Check autograd by finite differences: every variable's gradient by central "
                           "differences in float64 beside autograd's, with their relative error.")(fn)
    fn = click.option("--names", type=click.Choice(["short", "full"]), default="short", show_default=True,
                      help="Names of the intermediates: short (a, b, c, ... each defined over earlier names, "
                           "c = a / b, as the lesson writes them) or full (each by its whole subexpression).")(fn)
    fn = click.option("--dtype", type=click.Choice(sorted(DTYPES)), default="float32", show_default=True,
                      help="dtype of the --at tensors.")(fn)
    fn = click.option("--const", "const", multiple=True, metavar="NAME=VALUE",
                      help="Value of a constant: as --at, but it does not require grad (a target, a one-hot "
                           "label): no gradient is computed or drawn for it. Repeat for each constant.")(fn)
    fn = click.option("--at", "at", multiple=True, metavar="NAME=VALUE",
                      help="Value of a variable: a number or a nested list (x=1, w=[[1,2],[3,4]], nan, inf). "
                           "Repeat for each variable. It requires grad (see --const for values that do not).")(fn)
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


def render_trace(t: Any, out: str | None, fmt: str | None, opts: RenderOptions, check: bool = False) -> None:
    """Write a trace as dot/svg/png/pdf/json to ``out`` (or stdout), an ``.html`` file as the explorer;
    ``check``: the finite-difference check in the JSON (``"check"``: leaf -> autograd, numerical,
    rel_error, ok), else on stderr."""
    page = fmt is None and bool(out) and out.lower().endswith((".html", ".htm"))  # type: ignore[union-attr]
    if fmt is None and not page:
        fmt = format_from_path(out, GRAPH_FORMATS) if out and out != "-" else "svg"
    if fmt in ("png", "pdf") and (out is None or out == "-"):
        raise click.UsageError(f"{fmt.upper()} is binary: give an output file with -o FILE.{fmt}")
    if check and not t.steps:
        raise click.UsageError("--check compares autograd's gradients with finite differences: drop --no-backward")
    checks = t.check() if check else None
    if page:
        t.explore(opts).save(out)
    elif checks is not None and fmt == "json":
        from ..model.export import dumps

        data = t.to_json()
        data["check"] = {name: c.to_json() for name, c in checks.items()}
        emit(dumps(data), out)
        return
    else:
        emit(graph_bytes(t.graph, fmt, opts, t.steps, t.update), out)  # type: ignore[arg-type]
    if checks is not None:
        from ..checks.gradcheck import check_lines

        for line in check_lines(checks, opts.digits):
            click.echo(line, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="graphviz-ad")
def cli() -> None:
    """Draw PyTorch's computation graph with every value, and step through autograd's chain rule.

    \b
    Example:
      graphviz-ad render "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o f.svg
    """


def write_stepper(t: Any, out: str | None, frames_dir: str | None, as_text: bool, opts: RenderOptions,
                  check: bool = False) -> None:
    s = t.stepper(opts, check=check)
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
