"""Graphviz's SVG made ready to inline in HTML (no XML prolog or comments, every id prefixed), and JSON
safe inside a ``<script>``.

One page (a notebook, a Sphinx build) can hold several graphs; prefixing each graph's ids with a
hash of its own content keeps them apart and keeps the bytes the same for the same graph.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = ["content_prefix", "svg_for_html", "script_json", "html_document"]

_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_TAG_ID = re.compile(r'(<[a-zA-Z][^<>]*?\s)id="')
_REF = re.compile(r'(url\(#|href="#)([^)"]*)')


def content_prefix(stem: str, text: str, digits: int = 12) -> str:
    """``stem`` followed by the first ``digits`` hex digits of the SHA-256 of ``text``."""
    return stem + hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits]


def svg_for_html(svg: str, prefix: str, *, refs: bool = False) -> str:
    """The ``<svg>`` element of ``svg`` without comments, each tag's id starting with ``prefix``
    (``refs``: ``url(#…)`` and ``href="#…"`` references rewritten to match)."""
    body = _COMMENT.sub("", svg[svg.find("<svg"):])
    body = _TAG_ID.sub(lambda m: f'{m.group(1)}id="{prefix}', body)
    if refs:
        body = _REF.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", body)
    return body


def script_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# a page's default: nothing fetched, inline style and script only
OFFLINE_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def html_document(body: str, *, title: str, style: str, csp: str = OFFLINE_CSP) -> str:
    """A whole, self-contained HTML document around ``body`` (``title`` already escaped): its content
    security policy ``csp`` forbids any fetch, an empty icon keeps the browser from asking for one."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<link rel="icon" href="data:,">\n'
            f"<title>{title}</title>\n<style>{style}</style>\n"
            "</head>\n<body>\n" + body + "</body>\n</html>\n")
