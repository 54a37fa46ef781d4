"""Fixtures of the stepper tests: the lesson's nested function traced at chosen values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import graphviz_ad as gad
from tests.helpers import f, leaves

__all__ = ["make_nested"]


def _trace_nested(values: tuple[float, float, float] = (1.0, 2.0, 3.0)) -> gad.Trace:
    return gad.trace(f, *leaves(*values)).backward()


@pytest.fixture
def make_nested() -> Callable[..., gad.Trace]:
    """A factory: ``make_nested((1.0, 2.0, 4.0))`` traces f and runs the backward at those values."""
    return _trace_nested
