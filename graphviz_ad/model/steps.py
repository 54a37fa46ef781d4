"""The backward record: one Step per autograd node the engine ran, in the engine's order."""

from __future__ import annotations

from dataclasses import dataclass, field

from .values import Value

__all__ = ["Step", "Local", "Contribution", "Incoming"]


@dataclass(slots=True)
class Local:
    """The local derivative of the op's output with respect to one input slot."""

    to: str | None  # graph node id of the input (None: a constant or no gradient)
    to_grad_fn: str | None  # the autograd node that receives the contribution
    formula: str | None
    value: Value | None  # a number where the op is elementwise on scalars


@dataclass(slots=True)
class Contribution:
    """upstream x local: the gradient this step passed to one input slot."""

    to: str | None
    to_grad_fn: str | None
    value: Value | None
    target: int | None = None  # index of the step that received it


@dataclass(slots=True)
class Incoming:
    """A contribution from an earlier step, summed into this step's upstream."""

    step: int
    source: str  # graph node id of the consumer that sent it
    value: Value | None


@dataclass(slots=True)
class Step:
    index: int
    node: str  # graph node id of the forward op (or leaf) this autograd node differentiates
    grad_fn: str
    upstream: Value | None
    local: list[Local] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    incoming: list[Incoming] = field(default_factory=list)
    leaf: bool = False  # a leaf accumulation (``x.grad = ...``)
    internal: bool = False  # an autograd node inside an op (TBackward0 inside linear)
