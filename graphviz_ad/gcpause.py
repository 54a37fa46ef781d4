"""Pausing Python's cyclic garbage collector while millions of small records are made."""

from __future__ import annotations

import gc
import sysconfig
from contextlib import contextmanager
from typing import Iterator

__all__ = ["gc_paused"]

# the GIL build's collector: generations, and gc.freeze() moves whole lists (no walk over objects)
_GENERATIONAL = not sysconfig.get_config_var("Py_GIL_DISABLED")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collector off inside the block, the user's setting restored after (also on errors).

    With every record alive, collections only rescan them: they tripled the backward of a
    5,000-op loop in the prototype. What the block made is then moved straight to the oldest
    generation (:func:`_promote_young`), so the first young collection after the block does not
    scan it all either.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _promote_young()
            gc.enable()


def _promote_young() -> None:
    """Move every object the collector tracks into its oldest generation, without a collection.

    The records made while paused live as long as the trace; a young collection would walk all of
    them (~10% of a 5,000-op loop's capture) to find nothing. ``gc.freeze()`` moves every tracked
    object to the permanent generation and ``gc.unfreeze()`` puts them all into the oldest one:
    together, a promotion that costs no scan. Garbage cycles made meanwhile are found by the next
    full collection instead of a young one. Skipped when the process has frozen objects of its own
    (``gc.freeze()`` before a fork): unfreezing would release those too; and on free-threaded
    builds, whose collector has no young generation and whose freeze walks the whole heap.
    """
    if _GENERATIONAL and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
