"""The explorer as a notebook output: Graphviz once per page, a static picture where no script runs.

Each explorer output needs Graphviz (WebAssembly, 0.64 MB packed) to lay out what is open. Copied into
every output, ten explorers would make a 7 MB notebook; so only the first explorer output of a kernel
session carries it, and every later one waits for it on the page (the page-global promise of
``explorer.js``, keyed by a hash of the vendored file). The first output of a session comes again
when the cell that carried it runs again or is deleted (as JupyterLab and VS Code name the cell in each
request), and in Colab, whose outputs live in separate frames, every output carries it. A saved
notebook, its nbconvert HTML export and a trusted reopening hold the carrier with the others; an
output whose page never gets it keeps its static picture and says in one line how to bring Graphviz
back (restart the kernel and run the cells again).

Where no script runs (an untrusted notebook: JupyterLab's sanitizer drops scripts, styles and inline
SVG; a static viewer) the output shows the static picture of the view it opens on, an ``<img>`` of
:func:`graphviz_ad.render.formats.graph_bytes`' SVG (a ``data:`` URL; nothing is fetched), and its
status line says how to make it live. ``image/svg+xml`` (the same SVG) serves front ends that draw no
HTML; both need Graphviz's ``dot``: without it the explorer still works, and ``text/plain`` says what
is missing. IPython is never imported here (the kernel's request is read only where IPython is loaded).
"""

from __future__ import annotations

import base64
import html
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ..errors import RenderError
from ..output.zoom import readable_min_width
from ..render.formats import graph_bytes

if TYPE_CHECKING:
    from .explorer import Explorer

__all__ = ["notebook_bundle", "Session", "SESSION"]


class Session:
    """Which output of this kernel session carries Graphviz: the first, and again when its cell runs
    again or is deleted. ``reset()`` makes the next output carry it (a new session, as after a restart)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.carrier: tuple[str | None, str | None] | None = None  # (cell id, request id) of the carrier

    def carries(self) -> bool:
        """Whether the output being made now carries Graphviz (and, if so, it becomes the carrier)."""
        if "google.colab" in sys.modules:  # each output in its own frame: none can share
            return True
        cell, request, deleted = _request()
        if self.carrier is not None:
            cell0, request0 = self.carrier
            again = cell is not None and request != request0 and (cell == cell0 or cell0 in deleted)
            if not again:
                return False
        self.carrier = (cell, request)
        return True


SESSION = Session()


def _request() -> tuple[str | None, str | None, tuple[str, ...]]:
    """The cell being run, the request's id and the cells deleted since, as the kernel received them
    (JupyterLab and VS Code send ``cellId`` and ``deletedCells`` in an execute request's metadata);
    ``None`` where they are not known (no kernel, or a client that does not send them)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    parent = getattr(shell, "parent_header", None)
    if not isinstance(parent, dict):
        return None, None, ()
    meta, header = parent.get("metadata") or {}, parent.get("header") or {}
    cell = meta.get("cellId") if isinstance(meta, dict) else None
    deleted = meta.get("deletedCells") if isinstance(meta, dict) else None
    return (cell if isinstance(cell, str) else None,
            header.get("msg_id") if isinstance(header, dict) else None,
            tuple(d for d in deleted if isinstance(d, str)) if isinstance(deleted, list) else ())


def _picture(svg: str, label: str) -> str:
    """The static picture as an ``<img>`` (what a sanitizer keeps), scaled to the width but never below a
    readable size (a narrow cell scrolls)."""
    body = svg[svg.find("<svg"):]
    data = base64.b64encode(body.encode("utf-8")).decode("ascii")
    floor = readable_min_width(body[:body.find(">") + 1])
    floor = floor + ";" if floor else ""
    # inline styles only: a sanitizer keeps them, and drops the <style> that makes the view scroll
    return (f'<div class="gad-x-static-box" style="max-width:100%;overflow-x:auto">'
            f'<img class="gad-x-static" alt="{html.escape(label)}" style="display:block;max-width:100%;{floor}'
            f'height:auto" src="data:image/svg+xml;base64,{data}"></div>')


def notebook_bundle(explorer: Explorer, text: str, *, include: Collection[str] | None = None,
                    exclude: Collection[str] | None = None, session: Session = SESSION) -> dict[str, Any]:
    """The explorer's notebook display: ``text/html`` (the explorer, Graphviz only in a session's first
    output, the static picture where no script runs), ``image/svg+xml`` (that picture) and
    ``text/plain`` (``text``; where ``dot`` is missing, with a line that says so)."""

    def wanted(mime: str) -> bool:
        return (not include or mime in include) and not (exclude and mime in exclude)

    bundle: dict[str, Any] = {}
    svg = None
    if wanted("text/html") or wanted("image/svg+xml"):
        try:
            svg = graph_bytes(explorer.graph, "svg", explorer.options)
        except RenderError as e:  # dot missing, failed or too slow: the explorer needs none of it
            text += f"\n(no static picture: {e})"
    if wanted("text/html"):
        picture = _picture(svg, text.split("\n")[0]) if isinstance(svg, str) else ""
        bundle["text/html"] = explorer.fragment(graphviz=session.carries(), picture=picture)
    if wanted("image/svg+xml") and isinstance(svg, str):
        bundle["image/svg+xml"] = svg
    if wanted("text/plain"):
        bundle["text/plain"] = text
    return bundle
