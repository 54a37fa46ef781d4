"""What one recorded optimizer step did to each traced parameter (plain data, made by backward/optimizer.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .values import Value

__all__ = ["ParamUpdate", "OptimizerRecord"]


@dataclass
class ParamUpdate:
    """What the optimizer did to one parameter."""

    node: str
    name: str
    old: Value
    grad: Value
    new: Value
    state_before: dict[str, Value] = field(default_factory=dict)
    state_after: dict[str, Value] = field(default_factory=dict)
    rule: str = ""
    hyper: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerRecord:
    """The optimizer's name, one update per traced parameter, and whether it was put back (dry run)."""

    optimizer: str
    updates: list[ParamUpdate]
    dry_run: bool
