"""Is a committed figure still what the build makes? Equal up to float32 rounding noise, nothing else.

On another CPU (other SIMD kernels, another thread count) float32 results differ in their last
bits, so a rebuilt figure's bytes differ from the committed ones while the picture is the same.
The check here keeps its teeth: every label, node, edge, colour and attribute must be the same text;
only numbers may differ, and each pair only by

    rtol · max(|a|, |b|, scale) + one unit in the last digit either of them prints

where ``scale`` is the largest number on the same line (a tensor preview's numbers, a summary's
min and max, share one scale: their rounding noise is relative to the tensor, not to each
element; a summary's mean takes the scale of the min and max before it). Integers get no
last-digit allowance (a font size of 10 against 11 is a change).

An SVG is not compared as text: a label whose digits differ may be wider, and Graphviz then lays
the picture out a little differently. When the figure's DOT is committed beside it, the DOT is
compared (as above) and the SVG must be exactly what this Graphviz draws from the committed DOT.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["RTOL", "compare_text", "compare_folders", "nudge_floats"]

RTOL = 1e-5  # a change in the 5th significant digit is ≥ 1e-5 relative; float32 noise is ~1e-7 to 1e-6

_NUMBER = re.compile(r"(?<![\w.#])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
# content-hash ids (the stepper page's and the notebook's prefixes) follow the numbers they hash
_HASH_ID = re.compile(r"gad-(?:nbgraph-|fig-)?[0-9a-f]{10,12}(?![0-9a-f])")
_LINE_BREAK = re.compile(r"\n|&#10;|\\n|[<>\"‖;]")


def _normalise(text: str) -> str:
    return _HASH_ID.sub("gad-#", text.replace("&#45;", "-"))


def _unit(token: str) -> float:
    """One unit in the last digit ``token`` prints (0 for an integer: no rounding to allow for)."""
    mantissa, _, exp = token.lower().partition("e")
    if "." not in mantissa and not exp:
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exp or 0) - decimals)


def _tokens(text: str) -> tuple[list[str], list[str], list[int], list[int]]:
    """The text without its numbers (the skeleton, split where numbers were), the numbers, each
    number's line (see the module docstring) and where each skeleton part starts."""
    parts: list[str] = []
    numbers: list[str] = []
    lines: list[int] = []
    starts: list[int] = []
    start = 0
    line = 0
    for m in _NUMBER.finditer(text):
        between = text[start:m.start()]
        line += len(_LINE_BREAK.findall(between))
        parts.append(between)
        starts.append(start)
        numbers.append(m.group())
        lines.append(line)
        start = m.end()
    parts.append(text[start:])
    starts.append(start)
    return parts, numbers, lines, starts


def _context(text: str, at: int) -> str:
    return text[max(0, at - 70): at + 70]


def compare_text(expected: str, actual: str, rtol: float = RTOL) -> str | None:
    """None when ``actual`` is ``expected`` up to rounding noise; else what differs first."""
    if expected == actual:
        return None
    exp_text, act_text = _normalise(expected), _normalise(actual)
    e_parts, e_nums, e_lines, e_starts = _tokens(exp_text)
    a_parts, a_nums, _, a_starts = _tokens(act_text)
    for ep, ap, es, as_ in zip(e_parts, a_parts, e_starts, a_starts):
        if ep != ap:
            k = next(i for i, (x, y) in enumerate(zip(ep, ap)) if x != y) if ep[:len(ap)] != ap[:len(ep)] \
                else min(len(ep), len(ap))
            return f"text differs: expected {_context(exp_text, es + k)!r}, got {_context(act_text, as_ + k)!r}"
    if len(e_parts) != len(a_parts):
        return f"{len(e_nums)} numbers expected, {len(a_nums)} found"
    values = [(float(x), float(y)) for x, y in zip(e_nums, a_nums)]
    scale: dict[int, float] = {}
    for (x, y), line in zip(values, e_lines):
        m = max(abs(x), abs(y)) if math.isfinite(x) and math.isfinite(y) else 0.0
        scale[line] = max(scale.get(line, 0.0), m)
    for k, ((x, y), xs, ys, line) in enumerate(zip(values, e_nums, a_nums, e_lines)):
        if x == y:
            continue
        near = scale[line]
        if k and e_parts[k].endswith("mean "):  # a summary's mean: its noise is relative to the min and max before it
            near = max(near, scale[e_lines[k - 1]])
        allowed = rtol * max(abs(x), abs(y), near) + max(_unit(xs), _unit(ys))
        if not abs(x - y) <= allowed:
            return (f"number differs beyond rounding noise: expected {xs} got {ys} (allowed ±{allowed:.3g}) "
                    f"in {_context(act_text, a_starts[k + 1])!r}")
    return None


def nudge_floats(text: str, step: Callable[[float], float]) -> str:
    """``text`` with every non-integer number replaced by ``step(number)`` printed to 9 significant
    digits: for testing the check (one float32 ulp up passes, a changed 5th digit fails)."""
    def one(m: re.Match[str]) -> str:
        token = m.group()
        if _unit(token) == 0.0:
            return token
        return f"{step(float(token)):.9g}"

    return _NUMBER.sub(one, text.replace("&#45;", "-"))


def compare_folders(committed: Path, fresh: Path, names: list[str], draw: Callable[[str], bytes],
                    rtol: float = RTOL) -> list[str]:
    """Each of ``names`` (paths relative to both folders) that is stale, with why. ``draw(dot)`` is
    Graphviz's SVG of a DOT text, for SVGs whose DOT is committed beside them."""
    stale: list[str] = []
    for name in names:
        old, new = committed / name, fresh / name
        a, b = old.read_bytes(), new.read_bytes()
        if a == b:
            continue
        dot = old.with_suffix(".dot")
        if old.suffix == ".svg" and dot.is_file() and (fresh / Path(name).with_suffix(".dot")).is_file():
            if draw(dot.read_text(encoding="utf-8")) != a:  # the DOT beside it is compared on its own
                stale.append(f"{name}: not what Graphviz draws from the committed {dot.name}")
            continue
        try:
            why = compare_text(a.decode("utf-8"), b.decode("utf-8"), rtol)
        except UnicodeDecodeError:
            why = "binary file differs"
        if why is not None:
            stale.append(f"{name}: {why}")
    return stale
