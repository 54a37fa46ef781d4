"""Gradient-colour bins for whole arrays at once, exactly :func:`graphviz_ad.render.gradcolor.bin_of`'s.

``bin_of`` is monotonic in the magnitude, so its bins are intervals: the lower edge of each is found
once by bisecting over the float64 bit patterns with ``bin_of`` itself as the oracle, and an array is
then binned with one ``searchsorted``. No formula is copied, so a change of the palette's scale
carries over. Bin ``len(SCALE)`` stands for NaN/inf (``fill_of``'s non-finite colour).
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from typing import Any

from ..render.gradcolor import SCALE, bin_of, fill_of

__all__ = ["NONFINITE_BIN", "edges", "bins_of", "palette"]

NONFINITE_BIN = len(SCALE)


def _float(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


@lru_cache(maxsize=1)
def edges() -> tuple[float, ...]:
    """The smallest positive magnitude of each bin 1..len(SCALE)-1 (``bin_of(m) >= k`` from there on)."""
    out = []
    hi_bits = _bits(math.inf) - 1  # the largest finite float
    for k in range(1, len(SCALE)):
        lo, hi = 0, hi_bits  # invariant: bin_of(float(lo)) < k <= bin_of(float(hi))
        if bin_of(_float(hi)) < k:
            out.append(math.inf)
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if bin_of(_float(mid)) >= k:
                hi = mid
            else:
                lo = mid
        out.append(_float(hi))
    return tuple(out)


def bins_of(values: Any) -> Any:
    """A uint8 numpy array of bins for an array of magnitudes (non-finite -> :data:`NONFINITE_BIN`)."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    out = np.searchsorted(np.asarray(edges()), np.abs(a), side="right").astype(np.uint8)
    out[~np.isfinite(a)] = NONFINITE_BIN
    return out


def palette() -> list[tuple[str, str]]:
    """(fill, text colour) of every bin, the non-finite one last: what ``fill_of`` gives for it."""
    half = len(SCALE) // 2
    from ..render.gradcolor import DECADES_PER_BIN

    colours = [fill_of(10.0 ** ((k - half) * DECADES_PER_BIN)) for k in range(len(SCALE))] + [fill_of(math.nan)]
    return [c for c in colours if c is not None]
