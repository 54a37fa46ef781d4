"""Forward mode: every node's tangent (dual numbers, value + ε·tangent) from ``torch.autograd.forward_ad``.

The traced function runs once more under the recorder with the input ``wrt`` made dual, its tangent the
direction ``v`` (for a scalar input 1: every tangent is d node / d wrt; for a tensor input by default the
one-hot vector at its first element, so every tangent is the derivative along that element, J·v), the
other inputs plain copies; the second recording must have the same nodes as the first, so each node of the
trace gets the tangent of its value.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch.autograd import forward_ad as fwAD

from ..errors import TraceError
from ..model.graph import Graph
from ..model.values import Value
from ..trace.recorder import record
from ..trace.snapshots import finalize_values, snapshot
from .rerun import Call

__all__ = ["Direction", "direction_for", "fits", "forward_tangents", "reverse_along"]


class Direction(NamedTuple):
    """The tangent the input ``wrt`` is seeded with: the tensor, what the display keeps of it, and its words."""

    tensor: torch.Tensor
    value: Value
    text: str  # "1" (a scalar's default), "the one-hot vector at x[0, 0]" (a tensor's), "the given v"
    default: bool  # the default seed (1, or the one-hot vector), not the caller's direction


def _input(call: Call, inputs: list[str], wrt: str) -> torch.Tensor:
    if wrt not in inputs:
        raise TraceError(f"forward mode differentiates with respect to an input: {wrt!r} is not one; "
                         f"the inputs are {', '.join(inputs) or 'none'}")
    position = inputs.index(wrt)
    x = call.args[position] if position < len(call.args) else None
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TraceError(f"forward mode needs {wrt!r} to be a floating-point tensor")
    return x


def fits(direction: tuple[int, ...] | torch.Size, shape: tuple[int, ...] | torch.Size) -> bool:
    """Whether a direction of shape ``direction`` seeds an input of ``shape``: the same shape, or one
    number for a one-number input."""
    return tuple(direction) == tuple(shape) or (math.prod(direction) == 1 and math.prod(shape) == 1)


def direction_for(call: Call, inputs: list[str], wrt: str, direction: Any = None,
                  max_elements: int = 64) -> Direction:
    """The seed tangent of input ``wrt``: ``direction`` (a tensor, number or nested list of ``wrt``'s shape),
    or by default 1 for a scalar and the one-hot vector at the first element for a tensor."""
    x = _input(call, inputs, wrt).detach()
    if direction is None:
        v = torch.zeros_like(x)
        v.view(-1)[:1] = 1
        if x.numel() == 1:
            text = "1"
        else:
            text = f"the one-hot vector at {wrt}[{', '.join('0' for _ in x.shape)}]"
        default = True
    else:
        try:
            v = torch.as_tensor(direction.detach() if isinstance(direction, torch.Tensor) else direction,
                                dtype=x.dtype, device=x.device).clone()
        except (TypeError, ValueError, RuntimeError) as e:
            raise TraceError(f"direction= must be a tensor, a number or a nested list of numbers of {wrt}'s "
                             f"shape {tuple(x.shape)}: {e}") from None
        if not fits(v.shape, x.shape):
            raise TraceError(f"direction= must have the shape of {wrt}, {tuple(x.shape)}; got {tuple(v.shape)}")
        v = v.reshape(x.shape)  # a number for a one-number input of another shape ([[2.0]])
        text = "the given direction v"
        default = False
    held = snapshot(v, max_elements)
    finalize_values([held])
    return Direction(v, held, text, default)


def forward_tangents(call: Call, graph: Graph, inputs: list[str], wrt: str, max_elements: int,
                     direction: Direction | None = None) -> dict[str, Value | None]:
    """Node id -> the tangent of its value along ``direction`` of input ``wrt`` (None: no tangent reaches it).

    ``inputs``: the traced function's argument names, in order (``wrt`` is one of them); ``direction``:
    :func:`direction_for` (its default where None)."""
    x = _input(call, inputs, wrt)
    seed = (direction or direction_for(call, inputs, wrt, None, max_elements)).tensor
    position = inputs.index(wrt)
    plain = [a.detach() if isinstance(a, torch.Tensor) else a for a in call.args]
    with fwAD.dual_level():
        plain[position] = fwAD.make_dual(x.detach().clone(), seed.clone())
        rec = record(call.fn, tuple(plain), call.kwargs, max_elements=max_elements, input_names=inputs,
                     tangents=True)
    ops = [(n.kind in ("op", "output"), n.op) for n in graph.nodes]
    again = [(n.kind in ("op", "output"), n.op) for n in rec.graph.nodes]
    if ops != again:
        raise TraceError("forward mode ran the function again and it recorded a different graph (code that "
                         "depends on more than its inputs?); forward mode needs a function that repeats")
    held = {nid: snapshot(t, max_elements) for nid, t in rec.tangents.items() if t is not None}
    finalize_values(list(held.values()))
    return {n.id: held.get(n.id) for n in graph.nodes}


def reverse_along(grad: Value | torch.Tensor | None, direction: Direction) -> float | None:
    """Reverse mode's gradient of ``wrt`` dotted with the direction (``x.grad · v``; for the default one-hot
    vector its first element), in float64 from autograd's numbers (recorded, or a gradient tensor); None
    where the recorded ones were not kept (a summarised gradient) or there is none."""
    if grad is None:
        return None
    if isinstance(grad, torch.Tensor):
        g = grad.detach().to(torch.float64).reshape(direction.tensor.shape)
    elif grad.kind != "exact" or grad.data is None:
        return None
    else:
        g = torch.as_tensor(grad.data, dtype=torch.float64).reshape(direction.tensor.shape)
    dot = torch.dot(g.reshape(-1), direction.tensor.detach().to(torch.float64).reshape(-1))
    return float(dot)
