"""Finite differences beside autograd: every leaf's gradient by central differences in float64.

For the scalar L = Σ output · seed (the backward's starting gradient), each element x_i of each
leaf gives (L(x_i + h) - L(x_i - h)) / 2h; the relative error against autograd's gradient is
‖autograd - numerical‖ / max(‖autograd‖, ‖numerical‖, 1e-4). A wrong backward (a custom autograd.Function
with a bug) shows as a large relative error.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from ..errors import BackwardError
from .rerun import Call, float64_world

__all__ = ["LeafCheck", "finite_differences", "float64_gradients", "check_lines", "TOLERANCE", "MAX_CHECK_ELEMENTS"]

TOLERANCE = 1e-3  # a relative error above this is flagged: float32 autograd agrees to about 1e-6
FLOOR = 1e-4  # the error is relative to at least this norm: gradients ~0 both ways (float32 noise) pass
MAX_CHECK_ELEMENTS = 100_000  # two evaluations per element: refuse more
STEP = 1e-6  # h, in float64


class LeafCheck(NamedTuple):
    """One leaf's check: autograd's gradient, the numerical one (numbers or nested lists) and their
    relative error ‖autograd - numerical‖ / max(‖autograd‖, ‖numerical‖, :data:`FLOOR`); ``ok`` says
    whether it is within :data:`TOLERANCE`. Unpacks as ``(autograd, numerical, rel_error)``."""

    autograd: Any
    numerical: Any
    rel_error: float

    @property
    def ok(self) -> bool:
        return self.rel_error <= TOLERANCE

    def to_json(self) -> dict[str, Any]:
        rel = self.rel_error if math.isfinite(self.rel_error) else str(self.rel_error)
        return {"autograd": self.autograd, "numerical": self.numerical, "rel_error": rel, "ok": self.ok}

    def text(self, name: str, digits: int = 5) -> str:
        """``x: autograd 0.058131, numerical 0.058131, relative error 7.9e-07 ok`` (or ``MISMATCH``)."""
        verdict = "ok" if self.ok else "MISMATCH: autograd's gradient disagrees with finite differences"
        return (f"{name}: autograd {_short(self.autograd, digits)}, numerical {_short(self.numerical, digits)}, "
                f"relative error {self.rel_error:.2g} {verdict}")


def _objective(call: Call, args: tuple, kwargs: dict) -> float:
    with torch.no_grad():
        out = call.fn(*args, **kwargs)
    outs = [out] if isinstance(out, torch.Tensor) else [o for o in _flat(out) if isinstance(o, torch.Tensor)]
    seeds = call.seed if isinstance(call.seed, (list, tuple)) else [call.seed] * len(outs)
    total = 0.0
    for o, s in zip(outs, seeds):
        o = o.to(torch.float64)
        total += float((o * torch.as_tensor(s, dtype=torch.float64)).sum() if s is not None else o.sum())
    return total


def _flat(x: Any) -> list[Any]:
    if isinstance(x, dict):
        return [v for k in x for v in _flat(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for e in x for v in _flat(e)]
    return [x]


def finite_differences(call: Call, autograd: dict[str, torch.Tensor], step: float = STEP) -> dict[str, LeafCheck]:
    """Every leaf's gradient by central differences, beside ``autograd``'s (leaf name -> tensor)."""
    total = sum(t.numel() for t in call.leaves.values())
    if total > MAX_CHECK_ELEMENTS:
        raise BackwardError(f"the finite-difference check needs two evaluations per leaf element: {total:,} "
                            f"elements is more than {MAX_CHECK_ELEMENTS:,}; check a smaller model")
    numerical: dict[str, torch.Tensor] = {}
    with float64_world(call) as (args, kwargs, leaves):
        for name, x in leaves.items():
            flat = x.data.view(-1)
            grad = torch.empty(flat.numel(), dtype=torch.float64)
            for i in range(flat.numel()):
                orig = float(flat[i])
                flat[i] = orig + step
                up = _objective(call, args, kwargs)
                flat[i] = orig - step
                down = _objective(call, args, kwargs)
                flat[i] = orig
                grad[i] = (up - down) / (2 * step)
            numerical[name] = grad.view(x.shape)
    out: dict[str, LeafCheck] = {}
    for name, num in numerical.items():
        ag = autograd[name].detach().to(torch.float64).reshape(num.shape)
        diff = float(torch.linalg.vector_norm(ag - num))
        scale = max(float(torch.linalg.vector_norm(ag)), float(torch.linalg.vector_norm(num)))
        rel = diff / max(scale, FLOOR)  # nan where either is nan
        out[name] = LeafCheck(_plain(ag), _plain(num), rel)
    return out


def float64_gradients(call: Call, names: list[str]) -> dict[str, torch.Tensor]:
    """Autograd's gradients of the leaves ``names``, from one more forward and backward in float64 (for
    leaves too large for the trace to have kept their gradient exactly)."""
    with float64_world(call) as (args, kwargs, leaves):
        xs = [leaves[n] if leaves[n].requires_grad else leaves[n].requires_grad_(True) for n in names]
        with torch.enable_grad():
            out = call.fn(*args, **kwargs)
            outs = [out] if isinstance(out, torch.Tensor) else [o for o in _flat(out) if isinstance(o, torch.Tensor)]
            seeds = call.seed if isinstance(call.seed, (list, tuple)) else [call.seed] * len(outs)
            total = sum((o.to(torch.float64) * (torch.as_tensor(s, dtype=torch.float64) if s is not None else 1.0)).sum()
                        for o, s in zip(outs, seeds))
            grads = torch.autograd.grad(total, xs, allow_unused=True)
    return {n: (g if g is not None else torch.zeros_like(x)).detach() for n, g, x in zip(names, grads, xs)}


def check_lines(checks: dict[str, LeafCheck], digits: int = 5) -> list[str]:
    """The check as text: a heading, then one line per leaf (:meth:`LeafCheck.text`)."""
    bad = sum(1 for c in checks.values() if not c.ok)
    verdict = f"{bad} of {len(checks)} leaves disagree" if bad else "autograd agrees"
    return ([f"finite-difference check (central differences in float64): {verdict}"]
            + [c.text(name, digits) for name, c in checks.items()])


def _short(v: Any, digits: int) -> str:
    if isinstance(v, list):
        flat = torch.tensor(v, dtype=torch.float64).reshape(-1).tolist()
        inner = ", ".join(f"{x:.{digits}g}" for x in flat[:6]) + (", …" if len(flat) > 6 else "")
        return f"[{inner}]"
    return f"{v:.{digits}g}"


def _plain(t: torch.Tensor) -> Any:
    return t.item() if t.numel() == 1 and t.dim() == 0 else t.tolist()
