"""Snapshots of tensor values taken while recording: small tensors kept exactly, large ones as summaries,
converted to Python numbers in batches (one ``tolist()`` per group of like tensors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..model.values import DEFAULT_MAX_ELEMENTS, Value

__all__ = ["HeldValue", "Snapshots", "snapshot", "finalize_values", "pending_sum"]

# Summaries of tensors up to this many elements are computed in batches (a stack and three
# reductions per group of like tensors), larger ones at once: for them the reductions cost
# memory bandwidth, not call overhead, and holding them would cost memory.
BATCH_MAX_ELEMENTS = 1 << 13
# At most this many bytes of tensors are held for a batch before it is converted.
BATCH_BYTES = 2 << 20

_STRIDED = torch.strided
_DTYPE_NAMES: dict[torch.dtype, str] = {}
_DEVICE_NAMES: dict[torch.device, str] = {}
_LAYOUT_NAMES: dict[torch.layout, str] = {}


@dataclass(slots=True)
class HeldValue(Value):
    """A :class:`Value` whose tensor work is deferred: ``pending`` holds a tensor (a copy, or the
    tensor itself with its ``version`` when its owner guarantees that nothing changes it before
    conversion), the four 0-d tensors of a summary, or another Value whose summary this one shares
    (the same numbers in another shape), until :func:`finalize_values` converts it. Readers see a
    plain Value; only this module touches the two slots."""

    pending: Any = None
    version: int | None = None  # the held tensor's version when taken (None: a private copy)


def _dtype_name(dt: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dt)
    if name is None:
        name = _DTYPE_NAMES[dt] = str(dt).replace("torch.", "")
    return name


def _device_name(dev: torch.device) -> str:
    name = _DEVICE_NAMES.get(dev)
    if name is None:
        name = _DEVICE_NAMES[dev] = str(dev)
    return name


def _layout_name(layout: torch.layout) -> str:
    name = _LAYOUT_NAMES.get(layout)
    if name is None:
        name = _LAYOUT_NAMES[layout] = str(layout).replace("torch.", "")
    return name


def _summary_input(x: torch.Tensor) -> torch.Tensor:
    """What min/max/mean/norm are taken of: |z| for complex, float64 for integers and bools."""
    if x.is_complex():
        return x.abs()
    if not x.is_floating_point():
        return x.to(torch.float64)
    return x


def snapshot(t: torch.Tensor, max_elements: int = DEFAULT_MAX_ELEMENTS, *, hold: bool = False) -> HeldValue:
    """Keep what the display needs of ``t``.

    By default a small tensor is copied now (it may be changed in place later) and a large one
    summarised now. ``hold=True`` keeps a reference instead and defers the work to
    :func:`finalize_values` (batched): only for tensors nothing changes before then, or whose
    holder converts them first (:class:`Snapshots`).
    """
    shape = tuple(t.shape)
    n = t.numel()
    dev = t.device
    v = HeldValue(shape, _dtype_name(t.dtype), _device_name(dev))
    if t.layout is not _STRIDED:
        return _sparse(v, t, hold)
    if dev.type == "meta":
        v.kind = "empty"
        return v
    if n == 0:
        v.data = torch.empty(shape).tolist()
        v.finite = True
        return v
    if hold and (n <= max_elements or n <= BATCH_MAX_ELEMENTS):  # held: kept exactly or summarised in a batch
        try:
            v.version = t._version
        except RuntimeError:  # an inference-mode tensor keeps no version counter: take it now
            hold = False
    if n <= max_elements:
        if hold:
            v.pending = t
        else:
            v.pending = t.detach().clone()  # detached: no autograd record, no grad-mode switch needed
    elif hold and n <= BATCH_MAX_ELEMENTS:
        v.kind = "stats"
        v.pending = t
    else:
        v.kind = "stats"
        x = _summary_input(t.detach())
        lo, hi = torch.aminmax(x)  # one pass for both; float32 stays float32 (no copy)
        # four 0-d tensors, stacked with every other summary at once in finalize_values
        v.pending = (lo, hi, x.sum(), torch.linalg.vector_norm(x))
    return v


def _sparse(v: HeldValue, t: torch.Tensor, hold: bool) -> HeldValue:
    """A sparse tensor's layout, its number of stored entries and a summary of its stored values:
    held (the tensor, converted in :func:`finalize_values`) or taken now."""
    v.layout = _layout_name(t.layout)
    v.kind = "stats"
    if t.device.type == "meta":
        v.kind = "empty"
        return v
    if hold:
        try:
            v.version = t._version
            v.pending = t
            return v
        except RuntimeError:  # no version counter (inference mode): taken now
            pass
    _sparse_summary(v, t)
    return v


@torch.no_grad()
def _sparse_summary(v: HeldValue, t: torch.Tensor) -> None:
    """``nnz`` and min/max/mean/norm of the stored values (after coalescing, for COO) of sparse ``t``;
    ``kind`` "empty" when it stores none or its layout's values cannot be read."""
    try:
        t = t.detach()
        if t.layout is torch.sparse_coo:
            t = t.coalesce()  # duplicate indices summed: each stored entry once
        nnz = t._nnz()
        values = t.values()
    except (RuntimeError, NotImplementedError, TypeError, AttributeError):
        v.kind = "empty"
        return
    v.nnz = int(nnz)
    n = values.numel()
    if n == 0:
        v.kind = "empty"
        return
    x = _summary_input(values.reshape(-1))
    lo, hi = torch.aminmax(x)
    mn, mx, total, norm = torch.stack([lo, hi, x.sum(), torch.linalg.vector_norm(x)]).to(torch.float64).cpu().tolist()
    v.stats = {"min": mn, "max": mx, "mean": total / n, "norm": norm}


class Snapshots:
    """The values taken during one recording, converted in batches.

    Tensors are held, not copied (:func:`snapshot` with ``hold=True``); the owner calls
    :meth:`flush` before anything may change a held tensor in place, and at the end. At most
    :data:`BATCH_BYTES` of mid-size tensors are held at a time.
    """

    __slots__ = ("max_elements", "values", "_done", "_held_bytes")

    def __init__(self, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        self.max_elements = max_elements
        self.values: list[HeldValue] = []
        self._done = 0
        self._held_bytes = 0

    def take(self, t: torch.Tensor, *, hold: bool = True) -> HeldValue:
        v = snapshot(t, self.max_elements, hold=hold)
        self.values.append(v)
        # held summaries, and held exact values when they may be big (max_elements raised), count
        if v.version is not None and (v.kind == "stats" or self.max_elements > DEFAULT_MAX_ELEMENTS) \
                and v.layout == "strided":  # a held sparse tensor is summarised alone: not counted
            self._held_bytes += t.numel() * t.element_size()
            if self._held_bytes > BATCH_BYTES:
                self.flush()
        return v

    def alias(self, t: torch.Tensor, source: Value) -> HeldValue:
        """A summary of ``t`` that is ``source``'s: for a tensor holding the same numbers in another
        shape or order (a view's gradient). No tensor work; converted with ``source``."""
        if source.layout != "strided" or t.layout is not _STRIDED:  # a summary of stored values only
            return self.take(t)
        v = HeldValue(tuple(t.shape), _dtype_name(t.dtype), _device_name(t.device))
        v.kind = "stats"
        v.pending = source
        self.values.append(v)
        return v

    @property
    def pending(self) -> bool:
        return self._done < len(self.values)

    def flush(self) -> None:
        """Convert every value taken since the last flush."""
        if self._done < len(self.values):
            finalize_values(self.values[self._done:])
        self._done = len(self.values)
        self._held_bytes = 0


@torch.no_grad()
def finalize_values(values: list[HeldValue]) -> None:
    """Convert every pending tensor to Python numbers, one ``tolist()`` per group of like tensors."""
    exact: dict[tuple[str, str, tuple[int, ...]], list[HeldValue]] = {}
    stats: dict[tuple[str, str], list[HeldValue]] = {}
    batched: dict[tuple[str, str, int], list[HeldValue]] = {}
    aliases: list[HeldValue] = []  # summaries shared with another value, taken (and converted) before them
    for v in values:
        p = v.pending
        if p is None:
            continue
        held = v.version
        if held is not None and p._version != held:  # changed in place before conversion: not kept
            v.kind = "empty"
            v.pending = None
            continue
        if v.kind == "exact":
            key = (v.dtype, v.device, v.shape)
            group = exact.get(key)
            if group is None:
                exact[key] = [v]
            else:
                group.append(v)
        elif v.layout != "strided":  # a held sparse tensor
            _sparse_summary(v, p)
            v.pending = None
            v.version = None
        elif type(p) is tuple:
            stats.setdefault((str(p[0].dtype), v.device), []).append(v)
        elif isinstance(p, Value):
            aliases.append(v)
        else:
            batched.setdefault((v.dtype, v.device, p.numel()), []).append(v)
    for group in exact.values():
        stacked = torch.stack([v.pending for v in group]).cpu()
        if stacked.dtype == torch.bfloat16 or stacked.dtype == torch.float16:
            stacked = stacked.float()
        if stacked.is_floating_point():
            finite = torch.isfinite(stacked).reshape(len(group), -1).all(1).tolist()
        else:
            finite = [not stacked.is_complex()] * len(group)
        for v, d, ok in zip(group, stacked.tolist(), finite):
            v.data, v.finite, v.pending, v.version = d, ok, None, None
    for group in batched.values():
        x = _summary_input(torch.stack([v.pending.reshape(-1) for v in group]))
        # amin and amax: aminmax(dim=) is many times slower on CPU
        _put_stats(group, torch.stack([x.amin(1), x.amax(1), x.sum(1), torch.linalg.vector_norm(x, dim=1)], 1))
    for group in stats.values():
        _put_stats(group, torch.stack([x for v in group for x in v.pending]).reshape(len(group), 4))
    for v in aliases:  # in order: a source is converted before, or in this batch above
        src = v.pending
        v.pending = None
        if src.stats is None:
            v.kind = "empty"
        else:
            v.stats = dict(src.stats)


def _put_stats(group: list[HeldValue], rows: torch.Tensor) -> None:
    """Each value's min, max, sum and norm (one row of ``rows`` each) as its summary."""
    for v, (mn, mx, total, norm) in zip(group, rows.to(torch.float64).cpu().tolist()):
        v.stats = {"min": mn, "max": mx, "mean": total / v.numel, "norm": norm}
        v.pending = None
        v.version = None


def pending_sum(prev: Value | None, g: torch.Tensor, snaps: Snapshots) -> HeldValue | None:
    """``prev + g`` as a new snapshot while ``prev``'s small tensor is still pending (an input that
    feeds one op twice, x*x, carries the sum of both gradients); None when it is a summary.
    A held sparse gradient is summed as well (its sum is sparse too, summarised alike)."""
    if isinstance(prev, HeldValue) and prev.layout != "strided" and isinstance(prev.pending, torch.Tensor) \
            and prev.shape == tuple(g.shape):
        return snaps.take(prev.pending + g.detach())
    if not isinstance(prev, HeldValue) or prev.pending is None or prev.kind != "exact" or prev.shape != tuple(g.shape):
        return None
    return snaps.take(prev.pending + g.detach())
