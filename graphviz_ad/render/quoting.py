"""Quoting for DOT: escaped double-quoted strings and HTML-like label text."""

from __future__ import annotations

__all__ = ["quote", "html_text"]


def quote(s: str) -> str:
    """A DOT double-quoted string literal; backslashes, quotes and newlines are escaped."""
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    s = s.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    s = "".join(ch if ord(ch) >= 32 else " " for ch in s)
    return f'"{s}"'


_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "]": "&#93;", "[": "&#91;"}


def html_text(s: str) -> str:
    """Text for inside an HTML-like label: markup characters as entities, no control characters."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in _HTML:
            out.append(_HTML[ch])
        elif o < 32 or 0x7F <= o < 0xA0:
            out.append(" ")
        elif o > 0xFFFF or 0xD800 <= o < 0xE000:
            out.append(f"&#{o};")
        else:
            out.append(ch)
    return "".join(out)
