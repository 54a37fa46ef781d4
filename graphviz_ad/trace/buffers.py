"""Module buffers as the trace found them: saved before a module's forward runs, put back afterwards.

A forward may change its modules' buffers (BatchNorm's running statistics in train mode, a user's
``self.count += 1`` or ``self.ema.mul_(0.9)``); the trace leaves the model as it was found, so every
buffer of every module the trace meets is copied before that module's forward and restored when the
trace ends, also when the traced code raises. The tensors stay the same objects: a buffer changed in
place gets its old numbers back in place; one the forward replaced (``self.count = self.count + 1``)
is put back into its module.

The numbers are written through ``tensor.data``, which shares the storage but not the version
counter: autograd has saved some of these tensors for backward (BatchNorm saves its running
statistics), and a counted in-place change would make any later backward through the trace fail
("modified by an inplace operation"). So that backward computes with the numbers the real forward
left, :class:`BufferStates` swaps the forward's numbers in for the duration of a backward.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["BufferGuard", "BufferStates"]


def _untraced() -> Any:
    """No torch-function handling (the trace's mode included) for our own copies and comparisons."""
    return torch._C.DisableTorchFunction()


def _version(t: torch.Tensor) -> int | None:
    try:
        return t._version
    except RuntimeError:  # an inference-mode tensor keeps no version counter
        return None


def _write_numbers(dst: torch.Tensor, src: torch.Tensor) -> None:
    """``dst``'s numbers become ``src``'s, in place, without counting as an in-place change for autograd."""
    with torch.no_grad():
        try:
            dst.data.copy_(src)
        except RuntimeError:
            if not dst.is_inference():
                raise
            with torch.inference_mode():  # an inference tensor is written only in inference mode
                dst.copy_(src)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        return bool(torch.equal(a, b))
    except (RuntimeError, NotImplementedError):  # a layout without equal(): write it back anyway
        return False


@dataclass(slots=True)
class _Saved:
    module: torch.nn.Module
    name: str
    tensor: torch.Tensor
    copy: torch.Tensor | None  # None: nothing to copy (a meta tensor)
    version: int | None


@dataclass
class BufferStates:
    """The buffers a traced forward changed, with the numbers it left in them: swapped in while a
    backward through the trace runs (:meth:`applied`), so autograd sees what the real forward saved."""

    changed: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)

    def applied(self) -> _Applied:
        return _Applied(self.changed)


class _Applied:
    """Context manager: the forward's numbers in, then the numbers found at entry back (also on error)."""

    def __init__(self, changed: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.changed = changed
        self.found: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __enter__(self) -> None:
        for t, after in self.changed:
            self.found.append((t, t.detach().clone()))
            _write_numbers(t, after)

    def __exit__(self, *exc: object) -> None:
        for t, found in reversed(self.found):
            _write_numbers(t, found)
        self.found.clear()


class BufferGuard:
    """Every buffer of the modules the trace meets, saved when first met; :meth:`restore` puts them back."""

    __slots__ = ("saved", "_modules")

    def __init__(self) -> None:
        self.saved: list[_Saved] = []
        self._modules: set[int] = set()

    def _walk(self, module: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """``module`` and the modules below it not seen before (each module walked once per trace)."""
        stack = [module]
        while stack:
            m = stack.pop()
            if id(m) in self._modules:
                continue
            self._modules.add(id(m))
            yield m
            stack.extend(c for c in m._modules.values() if c is not None)

    def watch(self, module: torch.nn.Module) -> None:
        """Save the buffers of ``module`` and its submodules (before its forward runs)."""
        if id(module) in self._modules:
            return
        with _untraced():  # called inside the trace (a module pre-hook): these copies are no ops to draw
            for m in self._walk(module):
                for name, b in m._buffers.items():
                    if b is None or not isinstance(b, torch.Tensor):
                        continue
                    copy = None if b.device.type == "meta" else b.detach().clone()
                    self.saved.append(_Saved(m, name, b, copy, _version(b)))

    def _changed(self, e: _Saved) -> bool:
        t = e.tensor
        if e.copy is None:
            return False
        if e.version is not None and _version(t) != e.version:
            return True
        return not _same(t, e.copy)

    def states(self) -> BufferStates:
        """The buffers the forward changed in place, with the numbers it left (for a later backward)."""
        changed = []
        with _untraced():
            for e in self.saved:
                if e.module._buffers.get(e.name) is e.tensor and self._changed(e):
                    changed.append((e.tensor, e.tensor.detach().clone()))
        return BufferStates(changed)

    def restore(self) -> None:
        """Every saved buffer back in its module, with the numbers it had when it was saved."""
        with _untraced():
            for e in reversed(self.saved):  # a buffer registered under two names: the first saving wins
                if e.module._buffers.get(e.name) is not e.tensor:
                    e.module._buffers[e.name] = e.tensor
                if self._changed(e):
                    _write_numbers(e.tensor, e.copy)  # type: ignore[arg-type]
        self.saved.clear()
        self._modules.clear()
