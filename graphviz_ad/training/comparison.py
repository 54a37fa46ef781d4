"""``gad.compare(run_a, run_b, ...)``: several runs in one figure or page, labelled by what differs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .history import TrainingError
from .run import Run, save_as

__all__ = ["compare", "Comparison", "labels_for"]


def _show(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def labels_for(runs: list[Run]) -> list[str]:
    """Each run's label, or the config entries that differ between the runs (``lr=0.003``), or ``run k``."""
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r.config if k not in keys]
    differing = [k for k in keys if len({repr(r.config.get(k)) for r in runs}) > 1]
    out = []
    for k, r in enumerate(runs, 1):
        if r.label:
            out.append(r.label)
        elif differing:
            out.append(", ".join(f"{key}={_show(r.config[key])}" for key in differing if key in r.config))
        else:
            out.append(f"run {k}")
    return out


class Comparison:
    """Runs shown together: :meth:`plot` (a matplotlib Figure), :meth:`to_html`, :meth:`save`."""

    def __init__(self, runs: list[Run], labels: list[str]) -> None:
        self.runs = runs
        self.labels = labels

    def plot(self, *, log_loss: bool = True) -> Any:
        from .plot import compare_figure

        return compare_figure(self.runs, self.labels, log_loss=log_loss)

    def to_html(self) -> str:
        from .page import run_page

        return run_page(self.runs, self.labels)

    def to_json(self) -> dict[str, Any]:
        return {"schema": "graphviz_ad/training-compare/1",
                "runs": [dict(r.to_json(), label=lab) for r, lab in zip(self.runs, self.labels, strict=True)]}

    def save(self, path: str | os.PathLike[str], *, log_loss: bool = True) -> Path:
        """``.html`` (the page), ``.json`` (every run), ``.png``/``.svg`` (the figure); atomic."""
        return save_as(self, path, log_loss=log_loss)

    def _repr_html_(self) -> str:
        from .page import run_page

        return run_page(self.runs, self.labels, embedded=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<graphviz_ad.Comparison of {len(self.runs)} runs: {', '.join(self.labels)}>"


def compare(*runs: Run, labels: list[str] | None = None) -> Comparison:
    """Show ``runs`` together: loss curves overlaid, gradient-norm heatmaps side by side; each labelled by
    ``labels``, else by its own label, else by the config entries that differ (``lr=0.003`` vs ``lr=0.03``)."""
    if not runs:
        raise TrainingError("compare needs at least one run: gad.compare(run_a, run_b)")
    bad = [type(r).__name__ for r in runs if not isinstance(r, Run)]
    if bad:
        raise TrainingError(f"compare takes runs from gad.watch(...), got {', '.join(bad)}")
    if labels is not None and len(labels) != len(runs):
        raise TrainingError(f"compare got {len(labels)} labels for {len(runs)} runs; give one label per run")
    return Comparison(list(runs), list(labels) if labels is not None else labels_for(list(runs)))
