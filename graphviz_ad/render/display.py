"""A graph in a notebook: the SVG with zoom and pan as ``text/html``, beside ``image/svg+xml`` and ``text/plain``.

The graph travels as an ``<img>`` of the SVG (a ``data:`` URL); the small script, scoped to its
own output, swaps it for the inline SVG and adds the controls (the − + Fit buttons, Ctrl/⌘ +
wheel or a pinch, drag to pan, node tooltips carrying every digit). Where scripts do not run (an
untrusted notebook in JupyterLab, whose sanitizer also strips inline SVG and ``<style>``; a static
viewer) the ``<img>`` remains: the graph, scaled to the width, without zoom. Nothing is fetched;
several graphs on one page do not interfere. IPython is never imported here.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Collection
from typing import Any, Callable

from ..errors import RenderError
from ..output.embed import content_prefix, svg_for_html
from ..output.zoom import ZOOM_JS, readable_min_width

__all__ = ["graph_html", "graph_bundle"]

_CSS = """\
.gad-nbgraph{max-width:100%;margin:2px 0;outline:none}
.gad-nbgraph:focus-visible{box-shadow:0 0 0 2px #009E73}
.gad-nbgraph .gad-nbgraph-tools{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:0 0 4px;
  font:12px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
.gad-nbgraph .gad-nbgraph-tools button{font:inherit;min-width:2.4em;padding:1px 8px;color:inherit;
  background:transparent;border:1px solid rgba(128,128,128,.6);border-radius:4px;cursor:pointer}
.gad-nbgraph .gad-nbgraph-tools button:disabled{opacity:.4;cursor:default}
.gad-nbgraph .gad-nbgraph-hint{opacity:.7}
.gad-nbgraph .gad-nbgraph-view{max-width:100%;overflow-x:auto;overflow-y:hidden}
.gad-nbgraph.gad-zoomed .gad-nbgraph-view{overflow:hidden}
.gad-nbgraph .gad-nbgraph-img{display:block;max-width:100%;height:auto;transform-origin:0 0}
.gad-nbgraph.gad-zoomed .gad-nbgraph-view{cursor:grab;touch-action:none}
.gad-nbgraph.gad-dragging .gad-nbgraph-view{cursor:grabbing}
.gad-nbgraph svg a{text-decoration:none!important}
"""

_JS = r"""
(function () {
  "use strict";
  var me = document.currentScript;
""" + ZOOM_JS + r"""
  function decode(src) {
    var bin = atob(src.slice(src.indexOf(",") + 1)), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new TextDecoder("utf-8").decode(bytes);
  }
  function inline(img) {  // the same SVG, inline: tooltips, selectable text; the <img> stays on any failure
    try {
      var doc = new DOMParser().parseFromString(decode(img.getAttribute("src")), "image/svg+xml");
      var svg = doc.documentElement;
      if (!svg || svg.localName !== "svg" || doc.getElementsByTagName("parsererror").length) { return img; }
      svg = document.importNode(svg, true);
      svg.setAttribute("class", img.getAttribute("class"));
      svg.setAttribute("style", img.getAttribute("style") || "");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", img.getAttribute("alt") || "");
      img.parentNode.replaceChild(svg, img);
      return svg;
    } catch (e) { return img; }
  }
  function setup(root) {
    var img = root.querySelector(".gad-nbgraph-img");
    if (!img || root.getAttribute("data-gad-ready") === "1") { return; }
    root.setAttribute("data-gad-ready", "1");
    var view = img.parentNode, el = img.localName === "img" ? inline(img) : img;
    root.setAttribute("tabindex", "0");
    gadZoom(root, view, el, {bar: "gad-nbgraph-tools", hint: "gad-nbgraph-hint", pan: true});
  }
  var root = me && me.closest ? me.closest(".gad-nbgraph") : null;
  if (root) { setup(root); } else { Array.prototype.forEach.call(document.querySelectorAll(".gad-nbgraph"), setup); }
})();
"""


def graph_html(svg: str, label: str) -> str:
    """The graph for a notebook's ``text/html``: an ``<img>`` of the SVG (what a sanitizer keeps)
    in a container whose script inlines it and adds zoom and pan. Ids are prefixed with a hash of
    the SVG, so graphs on one page do not clash and the same graph gives the same bytes."""
    prefix = content_prefix("gad-nbgraph-", svg)
    body = svg_for_html(svg, prefix + "-")
    data = base64.b64encode(body.encode("utf-8")).decode("ascii")
    floor = readable_min_width(body[:body.find(">") + 1])
    floor = floor + ";" if floor else ""
    # data-lm-suppress-shortcuts: JupyterLab (4.1+) leaves the keys to the graph while it has focus
    return (f'<div class="gad-nbgraph" id="{prefix}" data-lm-suppress-shortcuts="true">\n<style>\n{_CSS}</style>\n'
            f'<div class="gad-nbgraph-view"><img class="gad-nbgraph-img" alt="{html.escape(label)}" '
            f'style="max-width:100%;{floor}height:auto;display:block" src="data:image/svg+xml;base64,{data}"></div>\n'
            f"<script>{_JS}</script>\n</div>\n")


def graph_bundle(draw: Callable[[], str], text: str, *, include: Collection[str] | None = None,
                 exclude: Collection[str] | None = None) -> dict[str, Any]:
    """A graph's notebook display: ``text/html``, ``image/svg+xml`` and ``text/plain`` (``text``);
    only ``text/plain``, with a one-line hint, where ``draw()`` (the SVG) fails (no ``dot``)."""

    def wanted(mime: str) -> bool:
        return (not include or mime in include) and not (exclude and mime in exclude)

    bundle: dict[str, Any] = {}
    if wanted("text/html") or wanted("image/svg+xml"):
        try:
            svg = draw()
        except RenderError as e:  # dot missing, failed or too slow: the summary and how to fix it
            text += f"\n(graph not drawn: {e})"
        else:
            if wanted("text/html"):
                bundle["text/html"] = graph_html(svg, text)
            if wanted("image/svg+xml"):
                bundle["image/svg+xml"] = svg
    if wanted("text/plain"):
        bundle["text/plain"] = text
    return bundle
