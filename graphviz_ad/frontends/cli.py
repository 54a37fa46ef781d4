"""The ``graphviz-ad`` command line: render, step, model, figures and demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import torch

from ..errors import ExpressionError
from ..output.files import format_from_path
from .cli_common import (
    DTYPES,
    ExpressionCommand,
    cli,
    common_render_options,
    expression_options,
    handle,
    render_options,
    render_trace,
    write_stepper,
)
from .cli_figures import figures
from .cli_model import model
from .cli_train import train

__all__ = ["main", "cli", "DEMO_EXPRESSION", "DEMO_VALUES"]

DEMO_EXPRESSION = "tanh(log(1 + z*(2*x/sin(y))))"
DEMO_VALUES = (("x", "1"), ("y", "2"), ("z", "3"))


def _parse_at(at: tuple[str, ...], dtype: str, const: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The ``--at`` values (they require grad) and the ``--const`` values (they do not), by name."""
    from ..recipes.expr import parse_value

    values: dict[str, torch.Tensor] = {}
    for option, items in (("--at", at), ("--const", const)):
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ExpressionError(f"{option} {item!r}: write NAME=VALUE, e.g. {option} x=1 or "
                                      f"{option} w=[[1,2],[3,4]]")
            if not name.isidentifier() or name.startswith("_"):
                raise ExpressionError(f"{option} {item[:40]!r}: {name[:40]!r} is not a valid variable name")
            if name in values:
                raise ExpressionError(f"{name}= is given twice (--at or --const); give each name once")
            value = parse_value(name, text, DTYPES[dtype])
            values[name] = value if option == "--at" else value.detach().requires_grad_(False)
    return values


def _trace_expression(expr: str, at: tuple[str, ...], dtype: str, backward: bool, const: tuple[str, ...] = (),
                      names: str = "short") -> Any:
    from ..recipes.expr import backward_from_ones, trace_expression

    t = trace_expression(expr, _parse_at(at, dtype, const), names=names)
    return backward_from_ones(t) if backward else t


@cli.command(cls=ExpressionCommand)
@click.argument("expr")
@expression_options
@click.option("-o", "--output", "out", metavar="FILE", help="Output file (.svg .png .pdf .dot .json, or .html for the interactive explorer); stdout if omitted.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot", "json"]),
              help="Output format (default: from the file suffix, svg on stdout).")
@click.option("--no-backward", is_flag=True, help="Draw the forward pass only (no gradients).")
@common_render_options
@handle
def render(expr: str, at: tuple[str, ...], const: tuple[str, ...], dtype: str, names: str, check: bool,
           out: str | None,
           fmt: str | None, no_backward: bool, **drawing: Any) -> None:
    """Draw the graph of EXPR with every value (and gradient, after the backward pass).

    EXPR is Python syntax restricted to numbers, the --at names, + - * / ** @, unary minus
    and functions such as sin cos tan tanh sigmoid exp log sqrt abs relu sum mean matmul.
    It is parsed, never executed. For a result with several elements the backward
    starts from ones (the gradient of their sum).

    \b
    Example:
      graphviz-ad render "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o f.svg
    """
    t = _trace_expression(expr, at, dtype, not no_backward, const, names)
    render_trace(t, out, fmt, render_options(**drawing), check)


@cli.command(cls=ExpressionCommand)
@click.argument("expr")
@expression_options
@click.option("-o", "--output", "out", metavar="FILE.html", help="Write the interactive HTML stepper.")
@click.option("--frames", "frames_dir", metavar="DIR", help="Write one SVG per step into DIR.")
@click.option("--text", "as_text", is_flag=True, help="Print the chain rule as a transcript.")
@click.option("--forward", "forward", metavar="NAME",
              help="Forward mode instead: the tangent of every node with respect to variable NAME, in forward "
                   "order (dual numbers, from torch.autograd.forward_ad); -o writes its page.")
@click.option("--direction", "direction", metavar="VALUE",
              help="With --forward and a tensor variable: the direction v of its tangent, a number or nested "
                   "list of its shape (default: 1 at its first element, 0 elsewhere); the final tangent is "
                   "then the gradient dotted with v.")
@common_render_options
@handle
def step(expr: str, at: tuple[str, ...], const: tuple[str, ...], dtype: str, names: str, check: bool,
         out: str | None, frames_dir: str | None, as_text: bool, forward: str | None, direction: str | None,
         **drawing: Any) -> None:
    """Step through the backward pass of EXPR, one chain-rule computation at a time.

    Without -o or --frames, prints the transcript (as --text does).

    \b
    Examples:
      graphviz-ad step "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 -o steps.html
      graphviz-ad step "x*y + sin(x)" --at x=1 --at y=2 --frames figs/
      graphviz-ad step "x*y + sin(x)" --at x=1 --at y=2 --text
      graphviz-ad step "tanh(log(1 + z*(2*x/sin(y))))" --at x=1 --at y=2 --at z=3 --forward x
      graphviz-ad step "sum(tanh(w*x))" --at "w=[1,2]" --at x=3 --forward w --direction "[0,1]"
    """
    if out and format_from_path(out, ("html",)) != "html":
        raise click.UsageError("-o takes an .html file")
    if direction is not None and forward is None:
        raise click.UsageError("--direction is the tangent of --forward's variable: give --forward NAME too")
    t = _trace_expression(expr, at, dtype, True, const, names)
    if forward is not None:
        if frames_dir or check:
            raise click.UsageError("--forward writes a transcript or (-o) a page: drop --frames and --check")
        variables = [a.partition("=")[0].strip() for a in at]
        if forward not in variables:
            raise click.UsageError(f"--forward {forward}: give one of the --at variables "
                                   f"({', '.join(variables) or 'none'})")
        from ..checks.tangents import fits
        from ..recipes.expr import parse_value

        v = parse_value("--direction", direction, DTYPES[dtype]).detach() if direction is not None else None
        node = next((n for n in t.nodes if n.kind == "input" and n.label == forward), None)
        shape = tuple(node.shape or ()) if node is not None else None
        if v is not None and shape is not None and not fits(v.shape, shape):
            raise click.UsageError(f"--direction {direction[:40]}: give a value of {forward}'s shape "
                                   f"({'x'.join(map(str, shape)) or 'a number'}), not {'x'.join(map(str, v.shape))}")
        s = t.stepper(render_options(**drawing), mode="forward", wrt=forward, direction=v)
        if as_text or not out:
            click.echo(s.text(), nl=False)
        if out:
            s.save(out)
            click.echo(f"wrote {out}", err=True)
        return
    write_stepper(t, out, frames_dir, as_text or not (out or frames_dir), render_options(**drawing), check)


@cli.command()
@click.option("-o", "--output", "out_dir", default="graphviz_ad_demo", show_default=True, metavar="DIR",
              help="Folder for the demo's files.")
@common_render_options
@handle
def demo(out_dir: str, **drawing: Any) -> None:
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
    opts = render_options(**drawing)
    written = [t.render(d / "nested.svg", opts), t.render(d / "nested.dot", opts), t.render(d / "nested.json")]
    s = t.stepper(opts)
    written.append(s.save(d / "nested_steps.html") or d / "nested_steps.html")
    f = t.graph.node(t.graph.outputs[0])
    click.echo(f"f = {DEMO_EXPRESSION} at x=1, y=2, z=3 = {f.value.scalar():.8g}")
    for p in written:
        click.echo(f"wrote {p}")
    click.echo(command_hint())


def command_hint() -> str:
    """One line saying how to run the command again: ``graphviz-ad`` where it is on PATH, else the
    interpreter's ``-m graphviz_ad``."""
    import shutil
    import sys

    found = shutil.which("graphviz-ad")
    module = f"{sys.executable} -m graphviz_ad"
    if found:
        return f"the command: graphviz-ad (at {found}), also {module}; try: graphviz-ad step --help"
    return f"graphviz-ad is not on your PATH; run it as: {module} (try: {module} step --help)"


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="graphviz-ad")


cli.add_command(model)
cli.add_command(figures)
cli.add_command(train)
