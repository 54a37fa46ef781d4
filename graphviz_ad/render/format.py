"""Numbers and values as short text for labels (4-6 significant digits) and full precision for tooltips."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import repeat
from typing import Any, Callable

from ..model.values import Value

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


def _float_row(items: list[float], digits: int) -> str:
    """``fmt_number`` of each of ``items`` (all plain floats), joined by ``", "``, in one C-level pass."""
    text = _row_template(len(items), digits) % tuple(items)
    # -0.0 must read 0; only it is written "-0" (exponents have two digits or more: 1e-05)
    if "-0, " not in text and text[-2:] != "-0":
        return text
    parts = list(map(format, items, repeat(f".{digits}g")))
    return ", ".join(["0" if p == "-0" else p for p in parts])


def _row(items: list[Any], digits: int) -> str:
    """``fmt_number`` of each item, joined by ``", "``; a row of plain floats (what ``tolist()`` gives) at once."""
    if set(map(type, items)) == {float}:
        return _float_row(items, digits)
    return ", ".join([fmt_number(x, digits) for x in items])


def _plain_row(data: list[Any]) -> tuple[list[Any], int, bool] | None:
    """``(row, depth, floats)`` when ``data`` is one row of numbers inside ``depth`` single-item lists
    (``[[1, 2]]``: depth 1; a flat list, depth 0, may hold anything after its first item), ``floats`` when
    every item of the row is a plain float; else None (walk it)."""
    if data and not isinstance(data[0], list):
        return data, 0, set(map(type, data)) == {float}
    inner, depth = data, 0
    while len(inner) == 1 and type(inner[0]) is list:  # a batch of one
        inner, depth = inner[0], depth + 1
    if depth and (not inner or not isinstance(inner[0], list)):
        types = set(map(type, inner))
        if list not in types:
            return inner, depth, types == {float}
    return None


def _wrap(text: str, n: int, depth: int, max_items: int) -> str:
    """A plain row's preview from the text of its first ``min(n, max_items)`` numbers (of ``n``)."""
    if not depth:
        return f"[{text}, …]" if n > max_items else f"[{text}]"
    k = min(max_items, n)
    tail = "" if k == n else ", …" if k else "…"
    return "[" * (depth + 1) + text + tail + "]" * (depth + 1)


def _preview(data: Any, digits: int, max_items: int) -> str:
    """A nested list as ``[[1, 2], [3, 4]]``, eliding after ``max_items`` numbers (``[[1, 2], [3, …]]``)."""
    plain = _plain_row(data)
    if plain is not None:
        row, depth, floats = plain
        head = _float_row(row[:max_items], digits) if floats else _row(row[:max_items], digits)
        return _wrap(head, len(row), depth, max_items)
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
    if v.layout != "strided":
        return _fmt_sparse(v)
    if v.stats is not None:
        st = v.stats
        mean = "≈ 0" if v.mean_is_noise else fmt_number(st["mean"], 4)
        return (f"min {fmt_number(st['min'], 4)} max {fmt_number(st['max'], 4)}\n"
                f"mean {mean} ‖·‖ {fmt_number(st['norm'], 4)}")
    return "(no data)"


def _fmt_sparse(v: Value) -> str:
    """``sparse 10×3, nnz 4`` (``sparse CSR …`` for another layout) and the summary of the stored values."""
    kind = "sparse" if v.layout == "sparse_coo" else "sparse " + v.layout.removeprefix("sparse_").upper()
    head = f"{kind} {fmt_shape(v.shape)}" + (f", nnz {v.nnz}" if v.nnz is not None else "")
    st = v.stats
    if st is None:
        return head if v.nnz is not None else head + " (no data)"
    return (f"{head}\nmin {fmt_number(st['min'], 4)} max {fmt_number(st['max'], 4)}\n"
            f"mean {fmt_number(st['mean'], 4)} ‖·‖ {fmt_number(st['norm'], 4)}")


def fmt_value_full(v: Value | None) -> str:
    """Full precision (or the full preview), for tooltips."""
    if v is None:
        return ""
    head = "" if v.numel == 1 else f"{fmt_shape(v.shape)} {v.dtype}: "
    return head + fmt_value(v, digits=9, max_items=16)


@lru_cache(maxsize=1024)
def _head(shape: tuple[int, ...], dtype: str) -> str:
    """``"2×3 float32: "``, the start of a tensor's tooltip text."""
    return f"{fmt_shape(shape)} {dtype}: "


def fmt_value_texts(v: Value | None, digits: int = 5) -> tuple[str, str]:
    """``(fmt_value(v, digits), fmt_value_full(v))``, looking at ``v`` once: a node shows both (label, tooltip)."""
    if v is None:
        return "", ""
    numel = v.numel
    if numel == 1:
        s = v.scalar()
        if s is not None:
            return fmt_number(s, digits), fmt_number(s, 9)
        head = ""
    else:
        head = _head(v.shape, v.dtype) if type(v.shape) is tuple else f"{fmt_shape(v.shape)} {v.dtype}: "
    data = v.data
    if data is None:
        text = fmt_value(v)  # a summary (always 4 digits) or "(no data)": the same for both
        return text, head + text
    # the label shows 4 numbers at min(digits, 4) digits, the tooltip 16 at 4 digits
    short_digits = min(digits, 4)
    plain = _plain_row(data)
    if plain is None:
        return _preview(data, short_digits, 4), head + _preview(data, 4, 16)
    row, depth, floats = plain
    n = len(row)
    if not floats:
        full, short = _row(row[:16], 4), _row(row[:4], short_digits)
    else:
        full = _float_row(row[:16], 4)
        if short_digits != 4:
            short = _float_row(row[:4], short_digits)
        else:  # the first four numbers of the tooltip's
            short = ", ".join(full.split(", ", 4)[:4]) if n > 4 else full
    # _wrap's text, for at least one number shown
    opening, closing = "[" * (depth + 1), "]" * (depth + 1)
    return (f"{opening}{short}{', …' if n > 4 else ''}{closing}",
            f"{head}{opening}{full}{', …' if n > 16 else ''}{closing}")


class Memo(dict[str, str]):
    """``make(text)`` by text, each made on first use: for texts that recur from step to step
    (labels, formulas, painted spans). A subscript that hits costs no call."""

    def __init__(self, make: Callable[[str], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, text: str) -> str:
        made = self[text] = self.make(text)
        return made


def clean_text(s: str, limit: int = 60) -> str:
    """User text made displayable: control characters shown as escapes, long text cut."""
    if not _CONTROL.search(s):
        return s if len(s) <= limit else s[: limit - 1] + "…"
    if _CONTROL_NOT_NEWLINE.search(s):
        text = _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}", s)
    else:  # only line breaks (every multi-line tooltip): no callback per match
        text = s.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
