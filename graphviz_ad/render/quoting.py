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
# What the general rules change: most text has nothing of it (labels but a preview's brackets,
# tooltips but their line breaks), and one regex scan then skips the general work.
_HTML_NOT_BRACKET = re.compile(r"""[&<>"'\x00-\x1f\x7f-\x9f\U00010000-\U0010ffff\ud800-\udfff]""")
QUOTE_NOT_NEWLINE = re.compile(r'[\\"\x00-\x09\x0b-\x1f\x7f-\x9f]')


def quote(s: str) -> str:
    """A DOT double-quoted string literal; backslashes, quotes and newlines are escaped."""
    if not QUOTE_NOT_NEWLINE.search(s):
        return '"' + s.replace("\n", "\\n") + '"'
    return _quote_general(s)


def _quote_general(s: str) -> str:
    s = s.replace("\r\n", "\n").replace("\r", "\n").translate(_QUOTE)
    if _CONTROL.search(s):
        s = _CONTROL.sub(" ", s)
    return f'"{s}"'


def html_text(s: str) -> str:
    """Text for inside an HTML-like label: markup characters as entities, no control characters."""
    if not _HTML_NOT_BRACKET.search(s):
        return s.replace("[", "&#91;").replace("]", "&#93;")
    return _html_general(s)


def _html_general(s: str) -> str:
    s = s.translate(_HTML_TABLE)
    if _ASTRAL.search(s):  # characters beyond the BMP (and lone surrogates) as numeric references
        s = _ASTRAL.sub(lambda m: f"&#{ord(m.group())};", s)
    return s
