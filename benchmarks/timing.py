"""Timing helpers: one timed call, a per-call time limit, repeats within a time budget, medians."""

from __future__ import annotations

import gc
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["COLLECT", "CallTimeout", "Samples", "timed", "repeat_within", "pairs_within", "median", "failure",
           "collect_garbage"]


# run the garbage collector before each timed call (outside the timing); the smoke mode turns it off
COLLECT = True


class CallTimeout(BaseException):
    """A measured call ran past its limit (a BaseException, so no ``except Exception`` swallows it)."""


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def failure(e: BaseException) -> str:
    """The exception's name, with the cause's name when a tool re-wraps it (torchview does)."""
    name = type(e).__name__
    cause = e.__cause__ or e.__context__
    if cause is not None and type(cause).__name__ != name and not isinstance(e, CallTimeout):
        name += f" (from {type(cause).__name__})"
    return name


def collect_garbage() -> None:
    if COLLECT:
        gc.collect()


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout()


def timed(fn: Callable[[], Any], limit_s: float | None = None) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result) of ``fn()``; the garbage collector runs
    first (if COLLECT), outside the timing. CPU time leaves out waiting for a busy machine's cores
    (and the ``dot`` subprocess).

    ``limit_s`` interrupts the call with :class:`CallTimeout` (SIGALRM; main thread only).
    """
    collect_garbage()
    use_alarm = limit_s is not None and threading.current_thread() is threading.main_thread() \
        and hasattr(signal, "setitimer")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = fn()
        t1 = time.perf_counter()
        return t1 - t0, time.process_time() - c0, out
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@dataclass
class Samples:
    """Timings of one measured thing; ``warmup_only`` when the warm-up run was the only one affordable."""

    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)  # interleaved plain runs (pairs_within)
    baseline_cpu: list[float] = field(default_factory=list)
    warmup_only: bool = False
    extra: list[Any] = field(default_factory=list)  # what each run returned (phases, sizes)

    @property
    def median(self) -> float | None:
        return median(self.times)

    @property
    def n(self) -> int:
        return len(self.times)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"median_s": self.median, "n": self.n, "samples_s": self.times,
                               "cpu_median_s": median(self.cpu)}
        if self.baseline:
            out["plain_median_s"] = median(self.baseline)
            out["plain_samples_s"] = self.baseline
            out["plain_cpu_median_s"] = median(self.baseline_cpu)
            if self.median is not None and out["plain_median_s"]:
                out["ratio"] = self.median / out["plain_median_s"]
            if out["cpu_median_s"] is not None and out["plain_cpu_median_s"]:
                out["cpu_ratio"] = out["cpu_median_s"] / out["plain_cpu_median_s"]
        if self.warmup_only:
            out["note"] = "one run (warm-up included): over the time budget for repeats"
        return out


def _count(first: float, repeat: int, budget_s: float) -> int:
    """How many measured runs fit the budget after a warm-up that took ``first`` seconds."""
    if first > budget_s / 2:
        return 0
    return max(1, min(repeat, int(budget_s / max(first, 1e-9))))


def repeat_within(fn: Callable[[], Any], repeat: int, budget_s: float, limit_s: float | None = None,
                  before: Callable[[], None] | None = None) -> Samples:
    """A warm-up run, then up to ``repeat`` runs that fit in ``budget_s`` (at least one)."""
    s = Samples()
    if before:
        before()
    first, cpu, out = timed(fn, limit_s)
    n = _count(first, repeat, budget_s)
    if n == 0:
        s.times, s.cpu, s.extra, s.warmup_only = [first], [cpu], [out], True
        return s
    del out
    for _ in range(n):
        if before:
            before()
        t, cpu, out = timed(fn, limit_s)
        s.times.append(t)
        s.cpu.append(cpu)
        s.extra.append(out)
        del out
    return s


def pairs_within(plain: Callable[[], Any], tool: Callable[[], Any], repeat: int, budget_s: float,
                 limit_s: float | None = None, before: Callable[[], None] | None = None) -> Samples:
    """Interleaved (plain, tool) pairs, the order alternating, after one warm-up pair."""
    s = Samples()

    def one(fn: Callable[[], Any], limit: float | None) -> tuple[float, float, Any]:
        if before:
            before()
        return timed(fn, limit)

    tp, cp, _ = one(plain, None)
    first, cpu, out = one(tool, limit_s)
    n = _count(first + tp, repeat, budget_s)
    if n == 0:
        s.times, s.cpu, s.baseline, s.baseline_cpu, s.extra = [first], [cpu], [tp], [cp], [out]
        s.warmup_only = True
        return s
    del out
    for k in range(n):
        if k % 2:
            t, cpu, out = one(tool, limit_s)
            p, cp, _ = one(plain, None)
        else:
            p, cp, _ = one(plain, None)
            t, cpu, out = one(tool, limit_s)
        s.times.append(t)
        s.cpu.append(cpu)
        s.baseline.append(p)
        s.baseline_cpu.append(cp)
        s.extra.append(out)
        del out
    return s
