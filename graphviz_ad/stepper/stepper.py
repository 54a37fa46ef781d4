"""The backward stepper: SVG frames, a standalone HTML page and a text transcript of one trace.

The graph is laid out once (``dot`` runs once, on the DOT with every gradient so the labels
have room); frames and the HTML page restyle that one SVG. Where the trace recorded an optimizer
step (``trace.update``), one frame per parameter update follows the backward.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import OutputError, RenderError
from ..gcpause import gc_paused
from ..model.graph import Graph
from ..model.steps import Step
from ..model.updates import OptimizerRecord
from ..output.backend import DotProcess
from ..output.files import write_atomic
from ..render.collapse import resolve_view
from ..render.dot import to_dot
from ..render.options import RenderOptions
from ..render.theme import get_theme
from .frames import FrameBuilder, Panels
from .html import stepper_html, stepper_page
from .progress import Progress
from .stepinfo import StepView, ValueTexts, step_views
from .svgparts import SvgTemplate, parse_svg
from .transcript import transcript
from .updateinfo import UpdateView, forward_title, optimizer_title, update_views

__all__ = ["Stepper", "frame_name"]

_LEAF_KINDS = ("input", "param")


def frame_name(k: int, count: int) -> str:
    """The file name of frame ``k`` of ``count``: ``frame_007.svg``, zero-padded so names sort in order."""
    return f"frame_{k:0{max(3, len(str(count - 1)))}d}.svg"


class Stepper:
    """Frames of one training iteration: frame 0 the forward values (``forward (loss = …)``), one frame
    per backward step, then every gradient (``gradients (after backward)``), then, where the trace
    recorded an optimizer step, one frame per parameter update (``optimizer step (SGD)``).

    ``frames()`` gives SVG strings, ``to_html()`` one self-contained page, ``text()`` a
    transcript, ``save(path)`` writes one of them (``.html``, ``.txt``, or a folder of SVGs).
    """

    def __init__(self, graph: Graph, steps: list[Step], update: OptimizerRecord | None = None,
                 options: RenderOptions | None = None) -> None:
        self.graph = graph
        self.steps = steps
        self.update = update
        self.options = RenderOptions.make(options)
        self.theme = get_theme(self.options.theme)
        self._text = ValueTexts(self.options.digits)
        self._view, self._drawn = resolve_view(graph, self.options.depth, show_all=self.options.show_all)
        record = update
        self.updates: list[UpdateView] = update_views(record, self.options.digits)
        self.titles = {"forward": forward_title(graph, record is not None, self.options.digits),
                       "update": optimizer_title(record) if record is not None else "optimizer step"}
        self._template: SvgTemplate | None = None
        self._builder: FrameBuilder | None = None
        self.check_lines: list[str] = []  # the finite-difference check's lines (Trace.stepper(check=True))

    @cached_property
    def progress(self) -> Progress:
        """Which nodes and edges are current, done or pending in each frame; made on first use
        (by frames and the page, while dot lays out)."""
        return Progress(self._view, self.steps, self._drawn, [u.node for u in self.updates])

    @cached_property
    def leaves(self) -> list[tuple[str, str]]:
        """The inputs' and parameters' labels and gradients (the final frame lists them), made on first use."""
        return [(n.label, self._text(n.grad))
                for n in self.graph.nodes if n.kind in _LEAF_KINDS and n.grad is not None]

    @cached_property
    def views(self) -> list[StepView]:
        """What each backward step shows (its formula, numbers, texts), formatted on first use."""
        with gc_paused():  # one view per step: the collector would rescan the whole trace meanwhile
            return step_views(self.steps, self.graph, self.options.digits, self._text)

    # -- layout (one dot run) ---------------------------------------------
    @property
    def template(self) -> SvgTemplate:
        """The laid-out SVG, cut into parts; ``dot`` runs on first use only, while the steps are
        formatted and the progress made (dot works on another core meanwhile)."""
        if self._template is None:
            self._template = self._lay_out(lambda: (self.views, self.progress, self.leaves))
        return self._template

    def _lay_out(self, meanwhile: Callable[[], object]) -> SvgTemplate:
        """Run ``dot`` and cut its SVG into parts; ``meanwhile`` runs while dot works."""
        # the view is resolved already; gradients drawn (room for them), never as colours (that
        # would show a pending gradient's size)
        dot = to_dot(self._view, replace(self.options, grads=True, grad_color=False, depth=None, show_all=True))
        run = DotProcess(dot, "svg")
        try:
            meanwhile()
            svg = run.result().decode("utf-8")
        finally:
            run.close()
        template = parse_svg(svg, self.theme.grad)
        if not any(s.kind == "svg" for s in template.slots) or not any(s.kind == "end" for s in template.slots):
            raise RenderError("Graphviz's SVG did not have the expected <svg width=… height=… viewBox=…> "
                              "header; the stepper needs the SVG of dot 2.43 or later")
        return template

    @cached_property
    def _panels(self) -> Panels:
        """Every frame's panel, painted on first use (it needs the step views, not the layout)."""
        views = self.views
        with gc_paused():  # a list of rows per frame: the collector would rescan the whole trace meanwhile
            return Panels(views, self.theme, self.leaves, self.updates, self.titles)

    def _frames(self) -> FrameBuilder:
        if self._builder is None:
            if self._template is None:  # the progress made and the panels painted while dot lays out
                self._template = self._lay_out(lambda: (self.progress, self._panels))
            self._builder = FrameBuilder(self.template, self.progress, self._panels, self.theme)
        return self._builder

    # -- outputs ------------------------------------------------------------
    def __len__(self) -> int:
        return self.progress.frame_count

    def frame(self, k: int) -> str:
        """The SVG of frame ``k`` (negative ``k`` counts from the end)."""
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"frame {k} out of range: this stepper has {n} frames")
        return self._frames().frame(k % n)

    def frames(self) -> list[str]:
        """Every frame as SVG text: forward, one per backward step, every gradient, one per parameter update."""
        return list(self._frames().iter_frames())

    def iter_frames(self) -> Iterator[str]:
        """The frames of :meth:`frames`, one at a time: for writing or streaming them without holding
        every full SVG at once (each frame is a whole copy of the picture)."""
        return self._frames().iter_frames()

    def text(self) -> str:
        """The transcript: one line per step, upstream × local = contribution; then one per parameter update."""
        text = transcript(self.views, self.updates, self.titles["update"])
        return text + "".join(f"{line}\n" for line in self.check_lines)

    def fragment(self) -> str:
        """The stepper as an HTML fragment (a ``div`` with its style and script) for a page of one's own:
        what a notebook shows and a Sphinx build inlines; :meth:`to_html` wraps it in a whole page."""
        return stepper_html(self.template, self.progress, self.views, self.theme, self.leaves, self.updates,
                            self.titles, self.check_lines)

    def to_html(self) -> str:
        """One self-contained HTML page (inline SVG, CSS and script; nothing fetched)."""
        return stepper_page(self.fragment(), self.theme)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.html``/``.htm`` (the page), ``.txt`` (the transcript), or, for a folder or a
        name without suffix, ``frame_000.svg`` … into that folder (created if missing)."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".html", ".htm"):
            return write_atomic(target, self.to_html())
        if suffix == ".txt":
            return write_atomic(target, self.text())
        if suffix and not target.is_dir():
            raise ValueError(f"cannot tell what to write to {str(path)!r}: use a name ending in .html or .txt, "
                             "or a folder (no suffix) for the SVG frames")
        return self._save_frames(target)

    def _save_frames(self, folder: Path) -> Path:
        try:
            folder.mkdir(exist_ok=True)
        except FileNotFoundError as e:
            raise OutputError(f"cannot create the folder {str(folder)!r}: its parent does not exist; "
                              "create it first") from e
        except OSError as e:
            raise OutputError(f"cannot create the folder {str(folder)!r}: {e.strerror or e}") from e
        count = len(self)
        for k, svg in enumerate(self._frames().iter_frames()):
            write_atomic(folder / frame_name(k, count), svg)
        return folder

    # -- notebooks ------------------------------------------------------------
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The HTML stepper and the transcript; the transcript alone where Graphviz is missing."""
        bundle = {"text/plain": repr(self) + "\n" + self.text()}
        try:
            bundle["text/html"] = self.fragment()
        except RenderError as e:  # dot missing, failing or too slow: the transcript still shows
            bundle["text/plain"] += f"\n({e})\n"
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def __repr__(self) -> str:
        ups = f", {len(self.updates)} parameter updates" if self.updates else ""
        return f"<graphviz_ad.Stepper: {len(self)} frames ({len(self.steps)} backward steps{ups})>"
