"""A training run's record as plain data: per-parameter norms per recorded step, logged scalars, activations.

The recorder appends one flat row of floats per recorded optimizer step (gradient, parameter and
update norm of every parameter) to one ``array('d')``: 8 bytes per scalar, nothing else grows. It
may hold the newest rows back (as tensors, converted in batches); ``pull``, when set, hands them over,
and every reader (``steps``, ``rows``, ``nonfinite``, ``len``, ``matrix``, ``as_dict``, ``to_json``)
calls it first. Everything else (the ``history`` dict, JSON, the page's arrays) is derived from that
on demand.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

from ..errors import GraphvizADError

__all__ = ["History", "METRICS", "RESERVED", "SCHEMA", "json_number", "from_json_number", "TrainingError"]

SCHEMA = "graphviz_ad/training/1"
METRICS = ("grad_norm", "param_norm", "update_norm", "update_ratio")
RESERVED = frozenset({"step", "log_step", "activations", "nonfinite", *METRICS})


class TrainingError(GraphvizADError, ValueError):
    """A training record was used wrongly (a bad logged value, a reserved name, an unreadable file)."""


def json_number(x: float | None) -> float | str | None:
    """A float as JSON allows it: non-finite numbers as "nan", "inf", "-inf" (as the rest of graphviz_ad)."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if x != x else ("inf" if x > 0 else "-inf")


def from_json_number(x: Any) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        return float(x)
    return float(x)


class History:
    """What a run recorded. ``names``: the parameters, in the optimizer's order, as ``named_parameters()``
    names them (without DDP's ``module.``); ``steps``: the optimizer step numbers recorded (1-based)."""

    def __init__(self, names: list[str], activation_stats: dict[str, tuple[str, ...]] | None = None) -> None:
        self.names = list(names)
        self._steps: array = array("q")
        self._rows: array = array("d")  # per recorded step: grad norms, param norms, update norms (3 * len(names))
        self.scalars: dict[str, list[float | None]] = {}  # None: not logged at that call
        self.log_steps: list[int] = []  # the optimizer step count at each log() call
        self.activation_stats = dict(activation_stats or {})  # module -> the statistics kept for it
        self.activations: dict[str, dict[str, list[float | None]]] = {
            m: {s: [] for s in stats} for m, stats in self.activation_stats.items()}
        self._nonfinite: dict[str, int] = {}  # parameter or scalar name -> first step it was nan/inf
        self._cache: dict[str, Any] | None = None
        self.pull: Callable[[], None] | None = None  # hands over rows the recorder holds back (see above)

    @property
    def steps(self) -> array:
        """The optimizer step numbers recorded (1-based), one per row."""
        if self.pull is not None:
            self.pull()
        return self._steps

    @property
    def rows(self) -> array:
        """Per recorded step: grad norms, param norms, update norms (``3 * len(names)`` floats, flat)."""
        if self.pull is not None:
            self.pull()
        return self._rows

    @property
    def nonfinite(self) -> dict[str, int]:
        """Parameter or scalar name -> the first step it was nan or inf."""
        if self.pull is not None:
            self.pull()
        return self._nonfinite

    @nonfinite.setter
    def nonfinite(self, value: dict[str, int]) -> None:
        self._nonfinite = value

    # -- writing (the recorder's side) ----------------------------------------
    def add_step(self, step: int, values: list[float]) -> None:
        """One recorded optimizer step: ``values`` = grad norms + param norms + update norms (flat)."""
        self.add_steps([step], values)

    def add_steps(self, steps: list[int], values: list[float]) -> None:
        """Recorded optimizer steps in order: ``values`` = their rows (see :meth:`add_step`), one after another."""
        self._steps.extend(steps)
        self._rows.extend(values)
        self._cache = None
        if steps and not math.isfinite(sum(values)):  # rare (or an overflowing sum): find which parameters went bad
            n = len(self.names)
            width = 3 * n
            for k, step in enumerate(steps):
                row = values[k * width:(k + 1) * width]
                if math.isfinite(sum(row)):
                    continue
                for i, name in enumerate(self.names):
                    if name not in self._nonfinite and not (math.isfinite(row[i]) and math.isfinite(row[n + i])):
                        self._nonfinite[name] = step

    def add_activations(self, values: dict[str, list[float]]) -> None:
        """The statistics of each watched module at the step just recorded (None for modules that did not run)."""
        for module, stats in self.activations.items():
            got = values.get(module)
            for k, series in enumerate(stats.values()):
                series.append(got[k] if got is not None else None)
        self._cache = None

    def add_loss(self, step: int, value: float) -> None:
        """``add_scalars(step, {"loss": value})``, for the loop's every step without the dict."""
        series = self.scalars.get("loss")
        if series is None or len(series) != len(self.log_steps) or value - value != 0:  # new, padded or nan/inf
            self.add_scalars(step, {"loss": value})
            return
        self.log_steps.append(step)
        series.append(value)
        self._cache = None

    def add_scalars(self, step: int, scalars: dict[str, float]) -> None:
        if not scalars.keys() <= self.scalars.keys():  # a new name: check it once
            bad = sorted(set(scalars) & RESERVED)
            if bad:
                raise TrainingError(f"cannot log {', '.join(bad)}: the name is taken by the record itself; "
                                    "log it under another name (e.g. run.log(my_step=...))")
        self.log_steps.append(step)
        n = len(self.log_steps)
        for name, value in scalars.items():
            series = self.scalars.get(name)
            if series is None:
                series = self.scalars[name] = []
            if len(series) < n - 1:  # a scalar logged for the first time, or skipped: pad with None
                series.extend([None] * (n - 1 - len(series)))
            series.append(value)
            if not math.isfinite(value) and name not in self._nonfinite:
                self._nonfinite[name] = step
        self._cache = None

    # -- reading ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.steps)  # (through pull)

    def matrix(self, metric: str) -> Any:
        """A numpy array (recorded steps x parameters) of one of :data:`METRICS` (a view where possible)."""
        import numpy as np

        if metric not in METRICS:
            raise TrainingError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
        n = len(self.names)
        flat, steps = self.rows, self._steps  # (rows pulls first)
        rows = np.frombuffer(flat, dtype=np.float64).reshape(len(steps), 3 * n) if n else \
            np.zeros((len(steps), 0))
        if metric == "update_ratio":
            u, p = rows[:, 2 * n:], rows[:, n:2 * n]
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where(p != 0, u / np.where(p != 0, p, 1.0), np.where(u == 0, 0.0, np.inf))
            return r
        k = METRICS.index(metric)
        return rows[:, k * n:(k + 1) * n]

    def as_dict(self) -> dict[str, Any]:
        """The plain-Python history: ``step``, ``grad_norm[name]`` ... lists per recorded step, each logged
        scalar as a list per log call with ``log_step``, ``activations[module][stat]``, ``nonfinite``."""
        if self.pull is not None:
            self.pull()
        if self._cache is None:
            d: dict[str, Any] = {"step": list(self._steps)}
            for metric in METRICS:  # columns of the numpy view: one tolist() per metric
                columns = self.matrix(metric).T.tolist() if self.names else []
                d[metric] = dict(zip(self.names, columns, strict=True))
            n = len(self.log_steps)
            for name, series in self.scalars.items():
                d[name] = series + [None] * (n - len(series))
            d["log_step"] = list(self.log_steps)
            if self.activations:
                d["activations"] = {m: {s: list(v) for s, v in stats.items()} for m, stats in self.activations.items()}
            d["nonfinite"] = dict(self.nonfinite)
            self._cache = d
        return self._cache

    # -- JSON --------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-safe: the history dict with non-finite numbers as strings."""
        d = self.as_dict()

        def conv(series: list[Any]) -> list[Any]:
            try:
                if math.isfinite(sum(series)):  # the usual case: nothing to convert (one pass in C)
                    return series
            except TypeError:  # None for a scalar not logged at some call
                pass
            return [json_number(x) for x in series]

        out: dict[str, Any] = {"names": list(self.names), "step": list(self.steps)}
        for metric in METRICS:
            out[metric] = {name: conv(d[metric][name]) for name in self.names}
        out["scalars"] = {name: conv(d[name]) for name in self.scalars}
        out["log_step"] = list(self.log_steps)
        out["activations"] = {m: {s: conv(v) for s, v in stats.items()} for m, stats in self.activations.items()}
        out["nonfinite"] = dict(self.nonfinite)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        """The inverse of :meth:`to_json` (for ``Run.load`` and comparisons of saved runs)."""
        try:
            names = list(data["names"])
            acts = {m: tuple(stats) for m, stats in data.get("activations", {}).items()}
            h = cls(names, acts)
            steps = list(data["step"])
            cols = [[float(x) for x in data[m][name]] for m in METRICS[:3] for name in names]  # "nan" too
            for j, step in enumerate(steps):
                h._steps.append(int(step))
                h._rows.extend(c[j] for c in cols)
            h.log_steps = [int(s) for s in data.get("log_step", [])]
            h.scalars = {k: [from_json_number(x) for x in v] for k, v in data.get("scalars", {}).items()}
            for m, stats in data.get("activations", {}).items():
                h.activations[m] = {s: [from_json_number(x) for x in v] for s, v in stats.items()}
            h.nonfinite = {k: int(v) for k, v in data.get("nonfinite", {}).items()}
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise TrainingError(f"not a graphviz_ad training record ({type(e).__name__}: {e}); "
                                "give a file written by run.save('run.json')") from None
        return h
