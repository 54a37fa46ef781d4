"""Snapshots of tensor values: small tensors kept exactly, large ones as summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Value", "snapshot", "finalize_values", "DEFAULT_MAX_ELEMENTS", "json_number"]

DEFAULT_MAX_ELEMENTS = 64


@dataclass(slots=True)
class Value:
    """What the display keeps of one tensor.

    ``data`` is a Python number (0-d), a nested list (small tensors), or None for a
    large tensor, whose ``stats`` then hold min/max/mean/norm. Tensor work is deferred:
    ``_pending`` holds a cloned tensor (or a stacked stats tensor) until
    :func:`finalize_values` converts every pending value with one ``tolist()`` per group.
    """

    shape: tuple[int, ...]
    dtype: str
    device: str
    data: Any = None
    stats: dict[str, float] | None = None
    _pending: Any = None  # a cloned tensor (small), or the four 0-d tensors of a summary
    _kind: str = "exact"  # exact | stats | empty
    finite: bool | None = None  # every number finite (None: not known, look)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def scalar(self) -> float | complex | None:
        """The single number this value holds, or None."""
        d = self.data
        while isinstance(d, list) and len(d) == 1:
            d = d[0]
        if isinstance(d, (int, float, complex, bool)):
            return d
        return None

    def to_json(self) -> Any:
        if self._kind == "exact":
            if self.finite and not isinstance(self.data, complex):
                return self.data
            return _jsonify(self.data)
        if self._kind == "empty":
            return {"shape": list(self.shape), "min": None, "max": None, "mean": None, "norm": None}
        assert self.stats is not None
        out: dict[str, Any] = {"shape": list(self.shape)}
        for k in ("min", "max", "mean", "norm"):
            out[k] = json_number(self.stats[k])
        return out


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


def snapshot(t: torch.Tensor, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Value:
    """Keep what the display needs of ``t`` now (it may be changed in place later)."""
    shape = tuple(t.shape)
    n = t.numel()
    v = Value(shape=shape, dtype=str(t.dtype).replace("torch.", ""), device=str(t.device))
    if t.is_meta or (t.layout != torch.strided):
        v._kind = "empty"
        return v
    if n == 0:
        v.data = torch.empty(shape).tolist()
    elif n <= max_elements:
        v._pending = t.detach().clone()  # detached: no autograd record, no grad-mode switch needed
    else:
        v._kind = "stats"
        x = t.detach()
        if x.is_complex():
            x = x.abs()
        elif not x.is_floating_point():
            x = x.to(torch.float64)
        lo, hi = torch.aminmax(x)  # one pass for both; float32 stays float32 (no copy)
        # four 0-d tensors, stacked with every other summary at once in finalize_values
        v._pending = (lo, hi, x.sum(), torch.linalg.vector_norm(x))  # type: ignore[assignment]
    return v


def finalize_values(values: list[Value]) -> None:
    """Convert every pending tensor to Python numbers, one ``tolist()`` per group of like tensors."""
    exact: dict[tuple[str, str, tuple[int, ...]], list[Value]] = {}
    stats: dict[tuple[str, str], list[Value]] = {}
    for v in values:
        p = v._pending
        if p is None:
            continue
        if v._kind == "stats":
            stats.setdefault((str(p[0].dtype), str(p[0].device)), []).append(v)
        else:
            exact.setdefault((str(p.dtype), str(p.device), tuple(p.shape)), []).append(v)
    for group in exact.values():
        stacked = torch.stack([v._pending for v in group]).cpu()  # type: ignore[misc]
        if stacked.dtype == torch.bfloat16 or stacked.dtype == torch.float16:
            stacked = stacked.float()
        if stacked.is_floating_point():
            finite = torch.isfinite(stacked).reshape(len(group), -1).all(1).tolist()
        else:
            finite = [not stacked.is_complex()] * len(group)
        for v, d, ok in zip(group, stacked.tolist(), finite):
            v.data = d
            v.finite = ok
            v._pending = None
    for group in stats.values():
        flat = torch.stack([x for v in group for x in v._pending])  # type: ignore[union-attr]
        rows = flat.to(torch.float64).cpu().reshape(len(group), 4).tolist()
        for v, (mn, mx, total, norm) in zip(group, rows):
            v.stats = {"min": mn, "max": mx, "mean": total / v.numel, "norm": norm}
            v._pending = None
