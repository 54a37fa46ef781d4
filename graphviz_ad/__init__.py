"""graphviz_ad: draw PyTorch's computation graph with every value, and step through autograd's chain rule.

Visual encoding (also in the README and each figure's legend): inputs are blue ellipses,
parameters/buffers orange 3-D boxes, constants grey dashed ellipses, operations white rounded
boxes, outputs vermillion bold boxes. Every node shows its name, op and value; after
``backward()`` it also shows its gradient (``∇``, purple) and each edge the gradient flowing
back along it. User helper functions and modules are drawn as labelled clusters. ``⚠`` and a
thick border flag NaN/inf.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .api import Trace, trace, trace_call
from .errors import (
    BackwardError,
    DotFailed,
    ExecutableNotFound,
    ExpressionError,
    GraphvizADError,
    OutputError,
    RenderError,
    TraceError,
)
from .frontends.notebook import show
from .render.options import RenderOptions
from .training import compare, watch

__all__ = [
    "trace", "trace_call", "Trace", "show", "RenderOptions", "GraphvizADError", "TraceError", "BackwardError",
    "ExpressionError", "RenderError", "ExecutableNotFound", "DotFailed", "OutputError", "__version__",
    "watch", "compare",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext graphviz_ad``: registers the ``%%autograd`` cell magic (:mod:`graphviz_ad.frontends.notebook`)."""
    from .frontends.notebook import register_magic

    register_magic(ipython)
