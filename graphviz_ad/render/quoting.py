"""Quoting for DOT: escaped double-quoted strings and HTML-like label text."""

from __future__ import annotations

import re

__all__ = ["quote", "html_text"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUOTE = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "]": "&#93;", "[": "&#91;"}
_HTML.update({chr(c): " " for c in [*range(32), *range(0x7F, 0xA0)]})
_HTML_TABLE = str.maketrans(_HTML)
_ASTRAL = re.compile(r"[\U00010000-\U0010ffff\ud800-\udfff]")


def quote(s: str) -> str:
    """A DOT double-quoted string literal; backslashes, quotes and newlines are escaped."""
    s = s.replace("\r\n", "\n").replace("\r", "\n").translate(_QUOTE)
    if _CONTROL.search(s):
        s = _CONTROL.sub(" ", s)
    return f'"{s}"'


def html_text(s: str) -> str:
    """Text for inside an HTML-like label: markup characters as entities, no control characters."""
    s = s.translate(_HTML_TABLE)
    if _ASTRAL.search(s):  # characters beyond the BMP (and lone surrogates) as numeric references
        s = _ASTRAL.sub(lambda m: f"&#{ord(m.group())};", s)
    return s
