"""The explorer's HTML: a fragment (for notebooks and Sphinx) and a whole offline page around it.

Every id starts with the explorer's prefix (``gad-x-`` and a hash of its data), so several explorers
share a page and the same input gives the same bytes. The page's data travels as gzip-compressed JSON
(base64) in a ``<script type="application/octet-stream">``, its columns of indices and its float32
tensors' numbers as little-endian int32 and float32 bytes, and the vendored Graphviz (WebAssembly),
packed the same way; the page's script inflates both and starts Graphviz in a Web Worker from a Blob URL.

DOM contract (what tests and embedding pages may rely on): root ``div.gad-explorer`` with
``data-state`` (``busy``, ``ready``, ``error``) and ``data-boxes`` (the boxes drawn); in the drawing,
every box ``g[data-id]`` (its node id in ``to_json``; a collapsed module ``m<cluster id>`` with
``data-module``, its qualified name, and ``data-cluster``; a folded box, a long chain or a cluster's
mask plumbing, with ``data-fold``, its member count: click it to open it in place), every open module
``g.cluster[data-cluster]`` (click its label to collapse it), every open fold ``g.cluster[data-cluster]``
with the fold's box id (click its label to fold it again); ``input[type=search].gad-x-search`` and its results
``button.gad-x-result[data-target]``; the details panel's values ``[data-field]`` (``name``, ``op``,
``module``, ``source``, ``shape``, ``value.min``, ``grad.norm``, ...); the backward stepper's
``button.gad-x-prev``, ``.gad-x-next``, ``.gad-x-to-selected`` (or ArrowLeft/ArrowRight/Home while the
explorer has focus) and the root's ``data-step``.
"""

from __future__ import annotations

import base64
import gzip
import html
from functools import cache

from ..output.embed import content_prefix, html_document
from ..render.theme import Theme
from .assets import VIZ_FILE, asset

__all__ = ["explorer_html", "explorer_page", "viz_key", "carrying_graphviz", "CSP"]

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; "
       "worker-src blob:; img-src data: blob:")


def _packed(text: str | bytes, level: int = 1) -> str:
    """``text`` gzip-compressed (no timestamp: the same text gives the same bytes), in base64."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(gzip.compress(raw, compresslevel=level, mtime=0)).decode("ascii")


@cache
def _packed_viz() -> str:
    """The vendored Graphviz, packed once per process (1.3 MB of script: 0.64 MB, and no escapes in a notebook)."""
    return _packed(_raw_script(VIZ_FILE), 6)


def _theme_vars(theme: Theme) -> str:
    pairs = {"bg": theme.background, "fg": theme.text, "muted": theme.muted, "grad": theme.grad,
             "hl": theme.highlight, "border": theme.cluster_border, "btn": theme.cluster_fn}
    return ";".join(f"--gad-{k}:{v}" for k, v in pairs.items())


def _raw_script(name: str) -> str:
    text = asset(name)
    if "</script" in text.lower() or "<!--" in text:
        raise ValueError(f"{name} cannot be inlined in a <script> element")  # a broken asset, not user input
    return text


# shown with a notebook's static picture where the script did not run (an untrusted notebook); the script
# removes it as it sets the explorer up
STALE_NOTE = ('<p class="gad-x-stale" style="margin:0 0 8px;padding:4px 8px;border:1px solid #CC3311;'
              'border-radius:4px">This explorer needs its script, which did not run here: run the cell, or trust '
              'the notebook (File \u2192 Trust Notebook), to make it live.</p>\n')


def _controls(prefix: str, hide: str = "") -> str:
    return (f'<div class="gad-x-controls" id="{prefix}-controls"{hide}>'
            f'<input type="search" class="gad-x-search" id="{prefix}-search" '
            'placeholder="search: name, op, module, class" '
            f'aria-label="search the graph">'
            f'<button type="button" class="gad-x-expand-all" id="{prefix}-expand-all">expand all</button>'
            f'<button type="button" class="gad-x-collapse-all" id="{prefix}-collapse-all">collapse all</button>'
            f'<label>depth <input type="number" class="gad-x-depth" id="{prefix}-depth" min="0" value="1"></label>'
            f'<button type="button" class="gad-x-depth-go" id="{prefix}-depth-go">show to depth</button>'
            f'<button type="button" class="gad-x-download" id="{prefix}-download">download SVG</button>'
            f'<span class="gad-x-status" id="{prefix}-status" aria-live="polite">the explorer needs its script to run '
            f'(an untrusted notebook runs none: trust it, or run the cell)</span></div>\n')


def _side(prefix: str, hide: str = "") -> str:
    return (f'<div class="gad-x-side" id="{prefix}-side"{hide}>'
            f'<ol class="gad-x-results" id="{prefix}-results"></ol>'
            f'<div class="gad-x-panel" id="{prefix}-panel" aria-live="polite">'
            f'<div class="gad-x-title" id="{prefix}-title">click a box</div>'
            f'<div class="gad-x-panel-body" id="{prefix}-panel-body"></div></div>'
            f'<div class="gad-x-steps" id="{prefix}-steps">'
            f'<div class="gad-x-controls">'
            f'<button type="button" class="gad-x-prev" id="{prefix}-prev">\u25c0 back</button>'
            f'<button type="button" class="gad-x-next" id="{prefix}-next">backward step \u25b6</button>'
            f'<button type="button" class="gad-x-to-selected" id="{prefix}-to-selected">step to the selected box'
            f'</button></div>'
            f'<div class="gad-x-title gad-x-step-title" id="{prefix}-step-title">forward</div>'
            f'<div class="gad-x-step-body" id="{prefix}-step-body"></div></div>'
            "</div>\n")


@cache
def viz_key() -> str:
    """The vendored Graphviz's key (a hash of it): explorers on one page share the Graphviz one of them
    carries under this key (the root's ``data-viz``), so a notebook needs it in one output only."""
    return content_prefix("viz-", _packed_viz())


def _viz_element(prefix: str) -> str:
    return (f'<script type="application/octet-stream" class="gad-x-viz" data-encoding="gzip-base64" '
            f'id="{prefix}-viz">{_packed_viz()}</script>\n')


_WORKER_TAG = '<script type="text/plain" class="gad-x-worker" id="'


def carrying_graphviz(fragment: str) -> str:
    """An explorer fragment made with ``graphviz=False``, now carrying Graphviz itself: a Sphinx page's
    first explorer, whose Graphviz the page's others share (one copy per page, not one per explorer)."""
    at = fragment.find(_WORKER_TAG)
    if at < 0 or 'class="gad-x-viz"' in fragment:
        return fragment
    start = at + len(_WORKER_TAG)
    prefix = fragment[start:fragment.index('-worker"', start)]
    return fragment[:at] + _viz_element(prefix) + fragment[at:]


def explorer_html(data_json: str, dot_lines: str, numbers: bytes, theme: Theme, *, graphviz: bool = True,
                  picture: str = "") -> str:
    """The explorer as an HTML fragment: ``data_json``, ``dot_lines`` and ``numbers`` are
    :func:`graphviz_ad.explore.pieces.page_data`'s data (as JSON), DOT statements and float32 numbers.

    ``graphviz=False`` leaves the vendored Graphviz out: the script then waits for another explorer on
    the page to bring it (:mod:`graphviz_ad.explore.notebook`). ``picture``: HTML shown in the view
    until the first layout replaces it (a static picture, for where the script does not run); with it,
    the controls and the side panel stay hidden (inline styles, which a sanitizer keeps) until the
    script shows them, and a line says how to make the explorer live."""
    data, dot, nums = _packed(data_json), _packed(dot_lines), _packed(numbers)
    prefix = content_prefix("gad-x-", "\0".join((data, dot, nums, theme.name)))
    hide = ' style="display:none" data-gad-live="1"' if picture else ""  # no dead buttons where no script runs
    viz = _viz_element(prefix) if graphviz else ""
    return (f'<div class="gad-explorer" id="{prefix}" data-state="busy" data-step="-1" tabindex="0" '
            f'data-lm-suppress-shortcuts="true" data-viz="{viz_key()}" style="{_theme_vars(theme)}">\n'
            f"<style>\n{asset('explorer.css')}</style>\n"
            + (STALE_NOTE if picture else "")
            + _controls(prefix, hide)
            + f'<div class="gad-x-body" id="{prefix}-body">'
            f'<div class="gad-x-view" id="{prefix}-view">{picture}</div>\n'
            + _side(prefix, hide)
            + "</div>\n"
            f'<script type="application/octet-stream" class="gad-x-data" data-encoding="gzip-base64" '
            f'id="{prefix}-data">{data}</script>\n'
            f'<script type="application/octet-stream" class="gad-x-dot" data-encoding="gzip-base64" '
            f'id="{prefix}-dot">{dot}</script>\n'
            f'<script type="application/octet-stream" class="gad-x-numbers" data-encoding="gzip-base64" '
            f'id="{prefix}-numbers">{nums}</script>\n'
            + viz
            + f'<script type="text/plain" class="gad-x-worker" id="{prefix}-worker">{_raw_script("layout-worker.js")}'
            "</script>\n"
            f"<script>{_raw_script('explorer.js')}</script>\n"
            "</div>\n")


def explorer_page(fragment: str, theme: Theme, title: str = "graphviz_ad: explorer") -> str:
    """A whole HTML document around the fragment; its content security policy forbids any fetch (the
    layout worker comes from a ``blob:`` URL, and compiling the WebAssembly needs ``wasm-unsafe-eval``)."""
    return html_document(fragment, title=html.escape(title), csp=CSP,
                         style=f"html,body{{margin:0;background:{theme.background}}}body{{padding:12px}}")
