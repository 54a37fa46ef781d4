"""One exception hierarchy for graphviz_ad: each message says what went wrong and what to do."""

from __future__ import annotations

__all__ = [
    "GraphvizADError",
    "TraceError",
    "BackwardError",
    "ExpressionError",
    "OptionError",
    "RenderError",
    "ExecutableNotFound",
    "DotFailed",
    "OutputError",
]


class GraphvizADError(Exception):
    """Base class of every error graphviz_ad raises on purpose."""


class TraceError(GraphvizADError, RuntimeError):
    """The traced code could not be recorded (bad arguments, nothing recorded, nesting)."""


class BackwardError(GraphvizADError, RuntimeError):
    """The backward pass could not be run or recorded."""


class OptionError(GraphvizADError, ValueError):
    """A value given to the tool was refused (a shape, MODULE:ATTR, a target that does not fit the loss):
    a usage mistake, exit status 2 in the CLI."""


class ExpressionError(GraphvizADError, ValueError):
    """An expression string was refused: syntax, a name not allowed, a missing value.

    ``source`` and ``offset`` locate the problem so a caret can be drawn under it.
    """

    def __init__(self, message: str, source: str | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.offset = offset

    def pretty(self) -> str:
        """The message, with the source line and a caret under the offending position."""
        if self.source is None or self.offset is None or "\n" in self.source:
            return self.message
        return f"{self.message}\n  {self.source}\n  {' ' * self.offset}^"


class RenderError(GraphvizADError, RuntimeError):
    """A figure could not be produced."""


class ExecutableNotFound(RenderError):
    """Graphviz's ``dot`` binary is not installed or not on PATH."""

    def __init__(self, exe: str = "dot") -> None:
        super().__init__(
            f"Graphviz's {exe!r} executable was not found on PATH; it is needed for SVG/PNG/PDF "
            "(DOT and JSON output work without it). Install Graphviz: "
            "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), "
            "'conda install graphviz', or see https://graphviz.org/download/"
        )


class DotFailed(RenderError):
    """``dot`` ran but failed, crashed or timed out."""


class OutputError(GraphvizADError, OSError):
    """An output file could not be written (nothing partial is left behind)."""
