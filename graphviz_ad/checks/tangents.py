"""Forward mode: every node's tangent (dual numbers, value + ε·tangent) from ``torch.autograd.forward_ad``.

The traced function runs once more under the recorder with the input ``wrt`` made dual (its tangent
all ones: for a scalar input, d node / d wrt), the other inputs plain copies; the second recording
must have the same nodes as the first, so each node of the trace gets the tangent of its value.
"""

from __future__ import annotations

import torch
from torch.autograd import forward_ad as fwAD

from ..errors import TraceError
from ..model.graph import Graph
from ..model.values import Value
from ..trace.recorder import record
from ..trace.snapshots import finalize_values, snapshot
from .rerun import Call

__all__ = ["forward_tangents"]


def forward_tangents(call: Call, graph: Graph, inputs: list[str], wrt: str,
                     max_elements: int) -> dict[str, Value | None]:
    """Node id -> the tangent of its value with respect to input ``wrt`` (None: no tangent reaches it).

    ``inputs``: the traced function's argument names, in order (``wrt`` is one of them)."""
    if wrt not in inputs:
        raise TraceError(f"forward mode differentiates with respect to an input: {wrt!r} is not one; "
                         f"the inputs are {', '.join(inputs) or 'none'}")
    position = inputs.index(wrt)
    plain = [a.detach() if isinstance(a, torch.Tensor) else a for a in call.args]
    x = plain[position]
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TraceError(f"forward mode needs {wrt!r} to be a floating-point tensor")
    with fwAD.dual_level():
        plain[position] = fwAD.make_dual(x.clone(), torch.ones_like(x))
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
