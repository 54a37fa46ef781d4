"""What the stepper says about the training iteration: phase titles and each parameter's optimizer update."""

from __future__ import annotations

from dataclasses import dataclass

from ..model.graph import Graph
from ..model.updates import OptimizerRecord, ParamUpdate
from ..render.format import clean_text
from .stepinfo import value_text

__all__ = ["UpdateView", "update_view", "update_views", "forward_title", "optimizer_title",
           "BACKWARD", "GRADIENTS", "MAX_OUTPUTS"]

BACKWARD = "backward"  # the phase of the chain-rule steps
GRADIENTS = "gradients (after backward)"  # the frame with every gradient
MAX_OUTPUTS = 2  # outputs named in the forward frame's title; the rest are elided


@dataclass(frozen=True)
class UpdateView:
    """One parameter's optimizer update as the stepper shows it (every number already formatted)."""

    index: int  # position in the record (0-based)
    node: str  # the parameter's graph node id
    name: str
    old: str
    grad: str
    new: str
    state: tuple[tuple[str, str, str], ...]  # (name, before, after); "none" where the state did not exist
    rule: str

    def text(self) -> str:
        """``[step] 2.bias = 0.029748 → 0.026722 | grad 1.0089 | momentum_buffer none → 1.0089``."""
        parts = [f"{self.name} = {self.old} → {self.new}", f"grad {self.grad}"]
        parts += [f"{k} {before} → {after}" for k, before, after in self.state]
        return "[step] " + " | ".join(parts)


def update_view(index: int, u: ParamUpdate, digits: int = 5) -> UpdateView:
    """The display text of one update; numbers through :func:`value_text` with ``digits``."""
    keys = list(dict.fromkeys([*u.state_before, *u.state_after]))
    state = tuple((clean_text(k, 40), value_text(u.state_before.get(k), digits),
                   value_text(u.state_after.get(k), digits)) for k in keys)
    return UpdateView(index=index, node=u.node, name=clean_text(u.name, 48), old=value_text(u.old, digits),
                      grad=value_text(u.grad, digits), new=value_text(u.new, digits), state=state,
                      rule=clean_text(u.rule, 200))


def update_views(record: OptimizerRecord | None, digits: int = 5) -> list[UpdateView]:
    """Every update of the record, in its order; none without a record."""
    return [] if record is None else [update_view(i, u, digits) for i, u in enumerate(record.updates)]


def optimizer_title(record: OptimizerRecord) -> str:
    """``optimizer step (SGD)``; ``optimizer step (SGD, dry run)`` where the parameters were put back."""
    name = clean_text(record.optimizer, 40)
    return f"optimizer step ({name}, dry run)" if record.dry_run else f"optimizer step ({name})"


def forward_title(graph: Graph, training: bool, digits: int = 5) -> str:
    """``forward (f = 0.96595)``; in a training iteration the output is the loss: ``forward (loss = 0.52)``."""
    outs = [graph.node(o) for o in graph.outputs]
    if not outs:
        return "forward"
    if training and len(outs) == 1:
        return f"forward (loss = {value_text(outs[0].value, digits)})"
    parts = [f"{clean_text(n.label, 40)} = {value_text(n.value, digits)}" for n in outs[:MAX_OUTPUTS]]
    more = ", …" if len(outs) > MAX_OUTPUTS else ""
    return f"forward ({', '.join(parts)}{more})"
