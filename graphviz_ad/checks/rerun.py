"""Re-running a traced function on float64 copies of its leaves, leaving the user's tensors as they were."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Call", "float64_world"]


@dataclass
class Call:
    """What :meth:`Trace.check` and forward mode need to run the traced function again: the function, its
    arguments, the leaves that require grad (by name), the modules it used and the backward's seed."""

    fn: Any
    args: tuple
    kwargs: dict
    leaves: dict[str, torch.Tensor]  # leaf label -> the user's tensor (requires grad)
    modules: list[torch.nn.Module] = field(default_factory=list)
    seed: Any = None  # the gradient the backward started from (None: 1 for a scalar output)


def _double(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64) if t.is_floating_point() else t.detach()


@contextlib.contextmanager
def float64_world(call: Call) -> Iterator[tuple[tuple, dict, dict[str, torch.Tensor]]]:
    """Inside: (args, kwargs, leaves) where every floating tensor argument is a float64 copy and every
    leaf, parameter and buffer the function reads from elsewhere holds float64 data (``.data`` swapped).
    ``leaves`` maps each leaf name to the float64 tensor to differentiate (perturb its ``.data``). On exit every swapped
    tensor gets its own data back (a batch-norm's running statistics included): nothing the user holds
    is left changed. The RNG state is restored too."""
    copies: dict[int, torch.Tensor] = {}

    def copy(a: Any) -> Any:
        if isinstance(a, torch.Tensor):
            if id(a) not in copies:
                copies[id(a)] = _double(a)
            return copies[id(a)]
        if isinstance(a, (list, tuple)):
            return type(a)(copy(x) for x in a)
        return a

    args = tuple(copy(a) for a in call.args)
    kwargs = {k: copy(v) for k, v in call.kwargs.items()}
    swapped: list[tuple[torch.Tensor, torch.Tensor]] = []
    seen: set[int] = set(copies)

    def swap(t: torch.Tensor) -> None:
        if id(t) in seen or not t.is_floating_point():
            return
        seen.add(id(t))
        swapped.append((t, t.data))
        t.data = t.data.detach().to(torch.float64)

    leaves: dict[str, torch.Tensor] = {}
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []  # integer buffers (num_batches_tracked): copied back
    rng = torch.random.get_rng_state()
    try:
        for m in call.modules:
            for p in m.parameters():
                swap(p)
            for b in m.buffers():
                if b.is_floating_point():
                    swap(b)
                else:
                    kept.append((b, b.detach().clone()))
        for name, t in call.leaves.items():
            if id(t) in copies:
                leaves[name] = copies[id(t)]
            else:
                swap(t)
                leaves[name] = t  # its data is float64 now; perturb t.data, differentiate t
        yield args, kwargs, leaves
    finally:
        for t, data in reversed(swapped):
            t.data = data
        with torch.no_grad():
            for b, saved in kept:
                b.copy_(saved)
        torch.random.set_rng_state(rng)
