"""Training over time: ``watch`` records a run in the user's own loop; views plot, page and compare runs."""

from __future__ import annotations

from .comparison import Comparison, compare
from .history import History, TrainingError
from .recorder import watch
from .run import Run, load

__all__ = ["watch", "Run", "History", "compare", "Comparison", "load", "TrainingError"]
