"""Pausing Python's cyclic garbage collector while millions of small records are made."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collector off inside the block, the user's setting restored after (also on errors).

    With every record alive, collections only rescan them: they tripled the backward of a
    5,000-op loop in the prototype.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
