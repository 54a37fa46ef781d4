"""Record one real ``optimizer.step()``: each parameter's old value, gradient, optimizer state and new value."""

from __future__ import annotations

import copy
from typing import Any

import torch

from ..errors import BackwardError
from ..model.updates import OptimizerRecord, ParamUpdate
from ..model.values import Value
from ..trace.snapshots import HeldValue, finalize_values, snapshot

__all__ = ["record_step", "update_rule"]


_HYPER = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps", "maximize", "alpha")


def update_rule(opt_name: str, group: dict[str, Any]) -> str:
    """The update the optimizer applies, as a formula with its hyperparameters."""
    lr = group.get("lr")
    wd = group.get("weight_decay", 0) or 0
    g = "(g + λ·p)" if wd and opt_name != "AdamW" else "g"
    if opt_name == "SGD":
        mom = group.get("momentum", 0) or 0
        if not mom:
            return f"p ← p − lr·{g}   (lr={lr:g})"
        damp = group.get("dampening", 0) or 0
        buf = f"buf ← {mom:g}·buf + {'' if not damp else f'{1 - damp:g}·'}{g}"
        step = f"p ← p − lr·({g} + {mom:g}·buf)" if group.get("nesterov") else "p ← p − lr·buf"
        return f"{buf};  {step}   (lr={lr:g}; the first step sets buf ← {g})"
    if opt_name in ("Adam", "AdamW"):
        b1, b2 = group.get("betas", (0.9, 0.999))
        decay = f"p ← p·(1 − lr·{wd:g}); " if opt_name == "AdamW" and wd else ""
        return (f"{decay}m ← {b1:g}·m + {1 - b1:g}·{g};  v ← {b2:g}·v + {1 - b2:g}·{g}²;  "
                f"p ← p − lr·m̂/(√v̂ + ε)   (lr={lr:g})")
    return f"{opt_name} update (lr={lr})"


def _state_values(state: dict[str, Any], max_elements: int, values: list[HeldValue]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            out[k] = held = snapshot(v, max_elements)
            values.append(held)
    return out


def record_step(optimizer: torch.optim.Optimizer, params: dict[int, tuple[str, str]], *,
                dry_run: bool = False, max_elements: int = 64) -> OptimizerRecord:
    """Run ``optimizer.step()`` once, recording every traced parameter it updates.

    ``params`` maps ``id(parameter)`` to (graph node id, name). With ``dry_run`` the
    parameters and the optimizer's state are put back afterwards.
    """
    tracked = [(p, group) for group in optimizer.param_groups for p in group["params"] if id(p) in params]
    if not tracked:
        raise BackwardError("none of the optimizer's parameters appear in this trace; pass the optimizer "
                            "that was built from the traced model's parameters")
    if all(p.grad is None for p, _ in tracked):
        raise BackwardError("the optimizer has no gradients to apply: run t.backward(accumulate=True) "
                            "(so .grad is filled, as loss.backward() would) before t.optimizer_step(opt)")
    values: list[HeldValue] = []
    name = type(optimizer).__name__
    before: list[tuple[torch.nn.Parameter, dict[str, Any], HeldValue, HeldValue, dict[str, Value]]] = []
    for p, group in tracked:
        old = snapshot(p, max_elements)
        grad = snapshot(p.grad, max_elements) if p.grad is not None else snapshot(torch.zeros_like(p), max_elements)
        values += [old, grad]
        state = _state_values(optimizer.state.get(p, {}), max_elements, values)
        before.append((p, group, old, grad, state))
    saved = None
    if dry_run:
        saved = ([p.detach().clone() for p, _ in tracked], copy.deepcopy(optimizer.state_dict()))
    try:
        with torch.no_grad():
            optimizer.step()
        updates = []
        for p, group, old, grad, state in before:
            new = snapshot(p, max_elements)
            values.append(new)
            after = _state_values(optimizer.state.get(p, {}), max_elements, values)
            nid, pname = params[id(p)]
            hyper = {k: group[k] for k in _HYPER if k in group}
            updates.append(ParamUpdate(nid, pname, old, grad, new, state, after, update_rule(name, group), hyper))
    finally:
        if saved is not None:
            with torch.no_grad():
                for (p, _), data in zip(tracked, saved[0]):
                    p.copy_(data)
            optimizer.load_state_dict(saved[1])
    finalize_values(values)
    return OptimizerRecord(name, updates, dry_run)
