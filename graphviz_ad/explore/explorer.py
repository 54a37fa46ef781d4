"""The Explorer object: a trace's interactive page as HTML, a file, or a notebook output."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from ..gcpause import gc_paused
from ..model.graph import Graph
from ..model.steps import Step
from ..output.files import write_atomic
from ..render.options import RenderOptions
from ..render.theme import get_theme
from .notebook import notebook_bundle
from .page import explorer_html, explorer_page
from .pieces import page_data

__all__ = ["Explorer"]


class Explorer:
    """Expand and collapse modules in place, search, inspect any box, step the backward pass at any level.

    It opens on the view the options' ``depth`` draws (``"auto"``: the collapsed picture) and lays
    out only what is open, in the browser (Graphviz in WebAssembly, in a Web Worker). Nothing is
    fetched: the page works from a file, in a notebook and in a Sphinx build.
    """

    def __init__(self, graph: Graph, steps: list[Step], options: RenderOptions) -> None:
        self.graph = graph
        self.steps = steps
        self.options = options

    @cached_property
    def _texts(self) -> tuple[str, str, bytes]:
        """The page's data as JSON, the DOT statements made in Python as lines, the float32 numbers."""
        with gc_paused():
            data, dot, numbers = page_data(self.graph, self.steps, self.options)
            # ASCII: a lone surrogate stays an escape (UTF-8 has no way to write it)
            return (json.dumps(data, separators=(",", ":"), allow_nan=False), dot.encode("utf-8", "replace").decode(),
                    numbers)

    def fragment(self, *, graphviz: bool = True, picture: str = "") -> str:
        """The explorer as an HTML fragment (a ``div``; several may share a page). ``graphviz=False``
        leaves the vendored Graphviz out (the explorer waits for another on the page that carries it);
        ``picture``: HTML shown until the first layout (see :mod:`graphviz_ad.explore.notebook`)."""
        return explorer_html(*self._texts, get_theme(self.options.theme), graphviz=graphviz, picture=picture)

    def to_html(self) -> str:
        """A whole offline HTML page."""
        return explorer_page(self.fragment(), get_theme(self.options.theme))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (atomically) and return the path."""
        return write_atomic(path, self.to_html())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The notebook display (:mod:`graphviz_ad.explore.notebook`): the explorer, Graphviz in the kernel
        session's first output only, the static picture where no script runs, and text."""
        return notebook_bundle(self, repr(self), include=include, exclude=exclude)

    def __repr__(self) -> str:
        return f"<graphviz_ad.Explorer: {len(self.graph.nodes)} nodes, {len(self.steps)} backward steps>"
