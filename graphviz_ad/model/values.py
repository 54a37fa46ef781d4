"""What the display keeps of a tensor: a plain Value (numbers, or a summary); no torch in it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Value", "DEFAULT_MAX_ELEMENTS", "json_number", "MACHINE_EPS"]

DEFAULT_MAX_ELEMENTS = 64  # tensors larger than this are kept as summaries

# Machine epsilon of the dtype a summary's sum is taken in (integers and bools are summed in float64,
# complex numbers as their float magnitudes).
MACHINE_EPS = {"float64": 2.0 ** -52, "complex128": 2.0 ** -52, "float32": 2.0 ** -23, "complex64": 2.0 ** -23,
               "float16": 2.0 ** -10, "complex32": 2.0 ** -10, "chalf": 2.0 ** -10, "bfloat16": 2.0 ** -7}


@dataclass(slots=True)
class Value:
    """What the display keeps of one tensor.

    ``data`` is a Python number (0-d) or a nested list (small tensors: ``kind == "exact"``);
    a large tensor's ``stats`` hold min/max/mean/norm (``kind == "stats"``); ``kind == "empty"``
    when no numbers could be kept (a meta tensor, one changed before it was read).
    A sparse tensor (``layout`` ``"sparse_coo"``, ``"sparse_csr"``, ...) keeps ``nnz``, its number of
    stored entries, and a summary of its stored values (``kind == "stats"``; ``"empty"`` when it stores
    none, or its layout's values could not be read).
    The tracer makes these (:mod:`graphviz_ad.trace.snapshots`, which fills them in batches);
    everything else only reads them.
    """

    shape: tuple[int, ...]
    dtype: str
    device: str
    data: Any = None
    stats: dict[str, float] | None = None
    kind: str = "exact"  # exact | stats | empty
    finite: bool | None = None  # every number finite (None: not known, look)
    layout: str = "strided"  # torch's layout name without "torch.": strided, sparse_coo, sparse_csr, ...
    nnz: int | None = None  # a sparse tensor's stored entries (None: dense, or not known)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def mean_is_noise(self) -> bool:
        """A summary's mean below the rounding noise of the tensor's own float sum (eps·max|x|·log2 n):
        zero in exact arithmetic as far as the numbers can tell, with another sign on another CPU's
        kernels. Shown as ``mean ≈ 0`` and written as 0.0; a tiny *exact* value is never touched."""
        st = self.stats
        if st is None:
            return False
        # an exact 0 counts too (its sum cancelled to 0 here, and to ±1e-12 on another CPU); an all-zero
        # tensor (noise 0) has a true mean of 0; log2 n as the bit length (no float log per value)
        noise = (MACHINE_EPS.get(self.dtype, 2.0 ** -52) * max(abs(st["min"]), abs(st["max"]))
                 * max(1, math.prod(self.shape).bit_length()))
        return 0 < noise < math.inf and abs(st["mean"]) <= noise  # a NaN mean or bound compares False

    def scalar(self) -> float | complex | None:
        """The single number this value holds, or None."""
        d = self.data
        while isinstance(d, list) and len(d) == 1:
            d = d[0]
        if isinstance(d, (int, float, complex, bool)):
            return d
        return None

    def to_json(self) -> Any:
        if self.kind == "exact":
            if self.finite and not isinstance(self.data, complex):
                return self.data
            return _jsonify(self.data)
        if self.layout != "strided":
            return self._sparse_json()
        if self.kind == "empty":
            return {"shape": list(self.shape), "min": None, "max": None, "mean": None, "norm": None}
        st = self.stats
        assert st is not None
        mn, mx, mean, norm = st["min"], st["max"], st["mean"], st["norm"]
        if self.mean_is_noise:
            mean = 0.0
        if type(mn) is float and type(mx) is float and type(mean) is float and type(norm) is float \
                and mn - mn == 0 and mx - mx == 0 and mean - mean == 0 and norm - norm == 0:  # all finite
            return {"shape": list(self.shape), "min": mn, "max": mx, "mean": mean, "norm": norm}
        return {"shape": list(self.shape), "min": json_number(mn), "max": json_number(mx),
                "mean": json_number(mean), "norm": json_number(norm)}

    def _sparse_json(self) -> dict[str, Any]:
        """``{"shape", "layout", "nnz", "min", "max", "mean", "norm"}``: the summary of the stored values."""
        st = self.stats or {}
        return {"shape": list(self.shape), "layout": self.layout, "nnz": self.nnz,
                **{k: json_number(st.get(k)) for k in ("min", "max", "mean", "norm")}}


def json_number(v: Any) -> Any:
    """A JSON-safe number: non-finite floats become "nan", "inf", "-inf"; complex a [re, im] pair."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, complex):
        return [json_number(v.real), json_number(v.imag)]
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def _jsonify(d: Any) -> Any:
    if isinstance(d, list):
        return [_jsonify(x) for x in d]
    return json_number(d)
