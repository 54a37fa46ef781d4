"""Gradient magnitude as colour on a log scale: vanishing (blue) to exploding (red); NaN/inf flagged."""

from __future__ import annotations

import math

from ..model.values import Value

__all__ = ["magnitude", "grad_fill", "fill_of", "colour_bar", "SCALE", "LIGHT", "DARK_BINS"]

# ColorBrewer RdBu (11 classes, reversed): distinguishable with the common colour-vision deficiencies.
SCALE = ("#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
         "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f")
DARK_BINS = {0, 1, 9, 10}
LIGHT = frozenset(SCALE[3:8])  # too pale for an edge line
DECADES_PER_BIN = 3  # the middle bin holds |g| in [10^-1.5, 10^1.5]
NONFINITE = "#000000"


def magnitude(v: Value | None) -> float | None:
    """|g| for a number, the 2-norm for a tensor (from the summary for large ones); None: no gradient."""
    if v is None:
        return None
    if v.stats is not None:
        return v.stats["norm"]
    total = 0.0
    stack = [v.data]
    while stack:
        d = stack.pop()
        if isinstance(d, list):
            stack.extend(d)
        elif d is not None:
            a = abs(d)
            total += a * a  # inf stays inf, nan stays nan
    return math.sqrt(total)


def bin_of(mag: float) -> int:
    if mag == 0:
        return 0
    k = round(math.log10(mag) / DECADES_PER_BIN) + len(SCALE) // 2
    return min(max(k, 0), len(SCALE) - 1)


def grad_fill(v: Value | None) -> tuple[str, str] | None:
    """(fill colour, text colour) for a gradient, or None when there is none."""
    return fill_of(magnitude(v))


def fill_of(mag: float | None) -> tuple[str, str] | None:
    """(fill colour, text colour) for a gradient of magnitude ``mag`` (see :func:`magnitude`); None: no gradient."""
    if mag is None:
        return None
    if not math.isfinite(mag):
        return NONFINITE, "#ffffff"
    k = bin_of(mag)
    return SCALE[k], ("#ffffff" if k in DARK_BINS else "#1a1a1a")


def colour_bar() -> str:
    """The colour bar as HTML-like table cells, labelled with the magnitudes."""
    half = len(SCALE) // 2
    cells = []
    for k, colour in enumerate(SCALE):
        exp = (k - half) * DECADES_PER_BIN
        text = "1" if exp == 0 else f"1e{exp}"
        fg = "#ffffff" if k in DARK_BINS else "#1a1a1a"
        cells.append(f'<TD BGCOLOR="{colour}"><FONT COLOR="{fg}" POINT-SIZE="8">{text}</FONT></TD>')
    cells.append(f'<TD BGCOLOR="{NONFINITE}"><FONT COLOR="#ffffff" POINT-SIZE="8">nan/inf</FONT></TD>')
    return "".join(cells)
