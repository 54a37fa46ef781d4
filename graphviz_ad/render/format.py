"""Numbers and values as short text for labels (4-6 significant digits) and full precision for tooltips."""

from __future__ import annotations

import math
import re
from typing import Any

from ..trace.values import Value

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

__all__ = ["fmt_number", "fmt_full", "fmt_value", "fmt_value_full", "fmt_shape", "clean_text"]


def fmt_number(v: Any, digits: int = 5) -> str:
    """``0.058131``, ``1.1259e+15``, ``nan``, ``-inf``, ``True``; complex as ``1+2j``."""
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
    return "×".join(str(s) for s in shape) if shape else "scalar"


def _preview(data: Any, digits: int, max_items: int) -> str:
    """A nested list as ``[[1, 2], [3, 4]]``, eliding after ``max_items`` numbers."""
    if data and not isinstance(data[0], list):  # the common flat case, without the general walk
        head = ", ".join(fmt_number(x, digits) for x in data[:max_items])
        return f"[{head}, …]" if len(data) > max_items else f"[{head}]"
    out: list[str] = []
    count = 0
    stack: list[Any] = [("open", data)]
    while stack:
        kind, item = stack.pop()
        if kind == "text":
            out.append(item)
            continue
        if isinstance(item, list):
            parts: list[Any] = [("text", "[")]
            for i, x in enumerate(item):
                if i:
                    parts.append(("text", ", "))
                parts.append(("open", x))
            parts.append(("text", "]"))
            stack.extend(reversed(parts))
        else:
            count += 1
            if count > max_items:
                out.append("…")
                # drop remaining numbers but keep closing brackets balanced
                stack = [s for s in stack if s[0] == "text" and s[1] == "]"]
                continue
            out.append(fmt_number(item, digits))
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


def clean_text(s: str, limit: int = 60) -> str:
    """User text made displayable: control characters shown as escapes, long text cut."""
    if not _CONTROL.search(s):
        return s if len(s) <= limit else s[: limit - 1] + "…"
    text = _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}", s)
    return text if len(text) <= limit else text[: limit - 1] + "…"
