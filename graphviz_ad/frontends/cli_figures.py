"""The ``graphviz-ad figures`` command: build the figures a TOML file describes (docs, slides)."""

from __future__ import annotations

import click

from ..recipes.figures import FigureResult, FiguresFileError, build_figures, check_figures
from .cli_common import UserError, handle

__all__ = ["figures"]


@click.command()
@click.argument("toml_file", metavar="FIGURES.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", metavar="DIR",
              help="Folder for the files (default: the file's out = \"DIR\", relative to the file's folder).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Figures built at once, each in its own process (default: one per core).")
@click.option("--force", is_flag=True, help="Rebuild every figure, even those that are up to date.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures.")
@click.option("--check", is_flag=True,
              help="Write nothing: build into a temporary folder and say which files in the out folder are stale "
                   "(beyond float rounding noise); exit 1 if any.")
@handle
def figures(toml_file: str, out_dir: str | None, jobs: int | None, force: bool, quiet: bool, check: bool) -> None:
    """Build every figure FIGURES.toml describes, rebuilding only what changed.

    \b
    Each [[figure]] table has a name and either an expression or a model:
      [[figure]]
      name = "nested"
      expr = "tanh(log(1 + z*(2*x/sin(y))))"
      at = {x = 1, y = 2, z = 3}            # numbers or nested lists
      outputs = ["svg", "html"]             # svg png pdf dot json frames html
      theme = "light"                       # also rankdir, depth, grad_color, backward
      [[figure]]
      name = "widenet"
      model = "widenet.py:build"            # path relative to FIGURES.toml
      input = "32x1"
      target = "32x1"
      loss = "mse"
      optimizer = {name = "sgd", lr = 0.003, momentum = 0.9}

    Files: DIR/NAME.svg (.png .pdf .dot .json), DIR/NAME_steps.html and
    DIR/NAME_frames/frame_000.svg ... A figure whose entry, model source
    file, graphviz_ad, torch, Graphviz and the libraries the model file
    imports (transformers, ...) are unchanged, and whose files are intact,
    is not rebuilt (the record is DIR/.graphviz_ad-figures.json); files an
    earlier run wrote that no figure makes any more are deleted. A DOT, JSON
    or HTML file there that differs only by float rounding noise (another
    CPU's last bits) is kept, and the drawings are laid out from the DOT
    kept. A figure that fails is reported by name and the others still
    build; the exit status is then 1 (2 for an unusable file).

    \b
    Examples:
      graphviz-ad figures examples/figures.toml
      graphviz-ad figures examples/figures.toml --out /tmp/figures --jobs 2 -q
      graphviz-ad figures examples/figures.toml --check    # in CI: are the committed figures current?

    \b
    --check compares numbers up to float32 rounding noise (another CPU's last bits), and an SVG
    through the DOT committed beside it (outputs = ["svg", "dot"]): the DOT must match, and the
    SVG must be exactly what this Graphviz draws from that DOT. A figure made
    with other versions of the libraries its model file imports is not
    compared (a line says so): another release may trace another graph.
    """
    if check:
        try:
            notes: list[str] = []
            stale = check_figures(toml_file, out_dir, jobs=jobs, notes=notes)
        except FiguresFileError as e:
            raise click.UsageError(str(e)) from None
        for line in notes:
            click.echo(line, err=True)
        for line in stale:
            click.echo(line, err=True)
        if stale:
            raise UserError(f"{len(stale)} stale file(s); rebuild with: graphviz-ad figures {toml_file}")
        if not quiet:
            click.echo("every figure is up to date (up to float rounding noise)", err=True)
        return

    def report(done: int, total: int, r: FigureResult) -> None:
        if r.status == "failed":
            reason = r.reason.replace("\n", "\n    ")
            click.echo(f"[{done}/{total}] {r.name}: failed: {reason}", err=True)
        elif not quiet:
            extra = f" ({r.written} file{'s' if r.written != 1 else ''} written)" if r.status == "built" else ""
            click.echo(f"[{done}/{total}] {r.name}: {r.status}{extra}", err=True)

    try:
        result = build_figures(toml_file, out_dir, jobs=jobs, force=force, report=report)
    except FiguresFileError as e:
        raise click.UsageError(str(e)) from None
    failed = result.failed
    if result.removed and not quiet:
        click.echo(f"removed {len(result.removed)} stale file(s): {', '.join(result.removed)}", err=True)
    if not quiet:
        click.echo(f"{len(result.results)} figures in {result.out}: {result.count('built')} built, "
                   f"{result.count('up to date')} up to date, {len(failed)} failed", err=True)
    if failed:
        raise UserError(f"{len(failed)} of {len(result.results)} figures failed: " + ", ".join(r.name for r in failed))
