"""Numbers and values as short text for labels (4-6 significant digits) and full precision for tooltips."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import repeat
from typing import Any

from ..trace.values import Value

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_NOT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

__all__ = ["fmt_number", "fmt_full", "fmt_value", "fmt_value_full", "fmt_value_texts", "fmt_shape", "clean_text"]


def fmt_number(v: Any, digits: int = 5) -> str:
    """``0.058131``, ``1.1259e+15``, ``nan``, ``-inf``, ``True``; complex as ``1+2j``."""
    if type(v) is float:  # the common case first: format() already spells nan, inf and -inf that way
        s = f"{v:.{digits}g}"
        return "0" if s == "-0" else s
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v) if abs(v) < 10**9 else f"{v:.{digits}g}"
    if isinstance(v, complex):
        return f"{fmt_number(v.real, digits)}{'+' if v.imag >= 0 or math.isnan(v.imag) else '-'}{fmt_number(abs(v.imag), digits)}j"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        s = f"{v:.{digits}g}"
        return "0" if s == "-0" else s
    return str(v)


def fmt_full(v: Any) -> str:
    """Enough digits to round-trip a float32 (9 significant), for tooltips and tests."""
    return fmt_number(v, 9)


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


@lru_cache(maxsize=256)
def _row_template(n: int, digits: int) -> str:
    """``"%.5g, %.5g, …"`` for ``n`` numbers: ``%`` formats floats exactly as ``format(x, ".5g")``."""
    return ", ".join([f"%.{digits}g"] * n)


def _row(items: list[Any], digits: int) -> str:
    """``fmt_number`` of each item, joined by ``", "``; a row of plain floats (what ``tolist()`` gives) in one
    C-level pass."""
    if set(map(type, items)) == {float}:
        text = _row_template(len(items), digits) % tuple(items)
        # -0.0 must read 0; only it is written "-0" (exponents have two digits or more: 1e-05)
        if "-0, " not in text and text[-2:] != "-0":
            return text
        parts = list(map(format, items, repeat(f".{digits}g")))
        return ", ".join(["0" if p == "-0" else p for p in parts])
    return ", ".join([fmt_number(x, digits) for x in items])


def _preview(data: Any, digits: int, max_items: int) -> str:
    """A nested list as ``[[1, 2], [3, 4]]``, eliding after ``max_items`` numbers (``[[1, 2], [3, …]]``)."""
    if data and not isinstance(data[0], list):  # the common flat case, without the general walk
        head = _row(data[:max_items], digits)
        return f"[{head}, …]" if len(data) > max_items else f"[{head}]"
    inner, depth = data, 0
    while len(inner) == 1 and type(inner[0]) is list:  # a batch of one, [[1, 2, 3]]: the row in brackets
        inner, depth = inner[0], depth + 1
    if depth and (not inner or not isinstance(inner[0], list)) and list not in set(map(type, inner)):
        k = min(max_items, len(inner))
        tail = "" if k == len(inner) else ", …" if k else "…"
        return "[" * (depth + 1) + _row(inner[:k], digits) + tail + "]" * (depth + 1)
    out = ["["]
    left = max_items
    # (list, index of its next item) for every open list; nesting is walked without recursion
    stack: list[tuple[list[Any], int]] = [(data, 0)]
    while stack:
        items, i = stack.pop()
        n = len(items)
        if not i and n and not isinstance(items[0], list) and list not in set(map(type, items)):
            # a row of numbers (the innermost dimension of a tensor): format what fits at once
            k = min(left, n)
            out.append(_row(items[:k], digits))
            left -= k
            if k < n:
                out.append((", …" if k else "…") + "]" * (len(stack) + 1))
                return "".join(out)
            out.append("]")
            continue
        while i < n:
            x = items[i]
            if i:
                out.append(", ")
            i += 1
            if isinstance(x, list):
                stack.append((items, i))
                stack.append((x, 0))
                out.append("[")
                break
            if not left:  # one number too many: elide it and the rest, close every open list
                out.append("…" + "]" * (len(stack) + 1))
                return "".join(out)
            out.append(fmt_number(x, digits))
            left -= 1
        else:
            out.append("]")
    return "".join(out)


def fmt_value(v: Value | None, digits: int = 5, max_items: int = 4) -> str:
    """The value as label text: a number, a small tensor preview, or a summary of a large one."""
    if v is None:
        return ""
    s = v.scalar()
    if s is not None and v.numel == 1:
        return fmt_number(s, digits)
    if v.data is not None:
        return _preview(v.data, min(digits, 4) if max_items < 64 else digits, max_items)
    if v.stats is not None:
        st = v.stats
        return (f"min {fmt_number(st['min'], 4)} max {fmt_number(st['max'], 4)}\n"
                f"mean {fmt_number(st['mean'], 4)} ‖·‖ {fmt_number(st['norm'], 4)}")
    return "(no data)"


def fmt_value_full(v: Value | None) -> str:
    """Full precision (or the full preview), for tooltips."""
    if v is None:
        return ""
    head = "" if v.numel == 1 else f"{fmt_shape(v.shape)} {v.dtype}: "
    return head + fmt_value(v, digits=9, max_items=16)


def fmt_value_texts(v: Value | None, digits: int = 5) -> tuple[str, str]:
    """``(fmt_value(v, digits), fmt_value_full(v))``, looking at ``v`` once: a node shows both (label, tooltip)."""
    if v is None:
        return "", ""
    numel = v.numel
    s = v.scalar()
    if s is not None and numel == 1:
        return fmt_number(s, digits), fmt_number(s, 9)
    head = "" if numel == 1 else f"{fmt_shape(v.shape)} {v.dtype}: "
    if v.data is not None:
        return _preview(v.data, min(digits, 4), 4), head + _preview(v.data, 4, 16)
    text = fmt_value(v)  # a summary (always 4 digits) or "(no data)": the same for both
    return text, head + text


def clean_text(s: str, limit: int = 60) -> str:
    """User text made displayable: control characters shown as escapes, long text cut."""
    if not _CONTROL.search(s):
        return s if len(s) <= limit else s[: limit - 1] + "…"
    if _CONTROL_NOT_NEWLINE.search(s):
        text = _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}", s)
    else:  # only line breaks (every multi-line tooltip): no callback per match
        text = s.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
