"""A watched training run: the record, what it logs, and every way to show or save it."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import GraphvizADError
from ..output.files import format_from_path, write_atomic
from .history import SCHEMA, History, TrainingError

if TYPE_CHECKING:
    from .graphview import GraphView
    from .recorder import Recorder

__all__ = ["Run", "load"]


def _scalar(name: str, value: Any) -> float:
    """A logged value as a float: a number, or a one-element tensor (``.item()``)."""
    if type(value) is torch.Tensor and value.numel() == 1:  # the common case, first
        return float(value.item())
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.detach().item() if hasattr(value, "detach") else value.item()
        except (RuntimeError, ValueError):
            shape = tuple(getattr(value, "shape", ()))
            raise TrainingError(f"run.log({name}=...) takes one number; got a tensor of shape {shape}: "
                                "log loss.mean() or one element") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TrainingError(f"run.log({name}=...) takes a number or a one-element tensor, "
                            f"got {type(value).__name__}")
    return float(value)


class Run:
    """One training run, recorded by :func:`graphviz_ad.watch` (or loaded from its JSON).

    ``history`` is plain Python data (see :meth:`History.as_dict`); ``label`` and ``config`` name the
    run in comparisons (``config`` defaults to the optimizer's name and hyperparameters).
    """

    def __init__(self, recorder: Recorder | None, *, label: str | None = None,
                 config: dict[str, Any] | None = None, history: History | None = None) -> None:
        self._recorder = recorder
        self._history = recorder.history if recorder is not None else (history or History([]))
        self.label = label
        self.config: dict[str, Any] = dict(config or {})
        self.every = recorder.every if recorder is not None else 1
        self._graph: GraphView | None = None
        self.graph_problem: str | None = None  # why the page has no graph, when tracing or drawing it failed
        self._open = False

    # -- context manager ----------------------------------------------------------------
    def __enter__(self) -> Run:
        if self._open:
            raise TrainingError("this run is already being watched; start a new one with gad.watch(...)")
        if self._recorder is not None:
            self._recorder.start()
        self._open = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._open = False
        if self._recorder is not None:
            self._recorder.stop()

    @property
    def recording(self) -> bool:
        """False on the ranks that do not record (``rank=`` of :func:`watch`), and for loaded runs."""
        return self._recorder is not None

    # -- logging -------------------------------------------------------------------------
    def log(self, loss: Any = None, /, **scalars: Any) -> None:
        """Keep scalars for this step: ``run.log(loss)`` or ``run.log(loss=..., acc=...)`` (numbers or
        one-element tensors, converted with ``.item()``). Does nothing on ranks that do not record."""
        if self._recorder is None:
            return
        if loss is not None and not scalars:  # run.log(loss): the loop's every step
            one = type(loss) is torch.Tensor and loss.numel() == 1  # the common case, converted at once
            self._history.add_loss(self._recorder.steps_seen, float(loss.item()) if one else _scalar("loss", loss))
            return
        values: dict[str, float] = {}
        if loss is not None:
            if "loss" in scalars:
                raise TrainingError("run.log got the loss twice (positionally and as loss=); give it once")
            values["loss"] = _scalar("loss", loss)
        for k, v in scalars.items():
            values[k] = _scalar(k, v)
        if not values:
            raise TrainingError("run.log() needs something to log: run.log(loss) or run.log(loss=..., acc=...)")
        self._history.add_scalars(self._recorder.steps_seen, values)

    # -- data ----------------------------------------------------------------------------
    @property
    def record(self) -> History:
        """The underlying record (numpy views with :meth:`History.matrix`)."""
        return self._history

    @property
    def history(self) -> dict[str, Any]:
        """Plain data: ``step``, ``grad_norm[name]``, ``param_norm[name]``, ``update_norm[name]``,
        ``update_ratio[name]`` (lists per recorded step), ``loss`` and other logged scalars (lists per
        log call, with ``log_step``), ``activations[module][stat]``, ``nonfinite`` (name -> first step)."""
        return self._history.as_dict()

    @property
    def names(self) -> list[str]:
        return list(self._history.names)

    @property
    def display_label(self) -> str:
        """The label, else the config as ``lr=0.003, momentum=0.9``."""
        if self.label:
            return self.label
        return ", ".join(f"{k}={v}" for k, v in self.config.items() if k != "optimizer") or "run"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (schema ``graphviz_ad/training/1``); non-finite numbers as strings."""
        return {"schema": SCHEMA, "label": self.label, "config": self.config, "every": self.every,
                **self._history.to_json()}

    # -- graph ---------------------------------------------------------------------------
    def graph(self) -> GraphView | None:
        """The model's graph for the page: traced once on the first batch, laid out once. None without a
        recorded batch, or when it cannot be traced or drawn (no ``dot``): ``graph_problem`` says why, and
        the page shows everything else."""
        rec = self._recorder
        sample = rec.sample if rec is not None else None
        if self._graph is None and self.graph_problem is None and rec is not None and sample is not None:
            from .graphview import trace_graph

            rec.paused = True
            try:
                self._graph = trace_graph(rec.model, sample)
            except GraphvizADError as e:
                self.graph_problem = str(e)
            finally:
                rec.paused = False
        return self._graph

    # -- output --------------------------------------------------------------------------
    def plot(self, *, log_loss: bool = True) -> Any:
        """A matplotlib Figure: loss curve, gradient-norm heatmap (layers x steps), update/parameter ratio."""
        from .plot import run_figure

        return run_figure(self, log_loss=log_loss)

    def to_html(self) -> str:
        """The standalone page: curves, heatmaps and the graph with a step slider (no network)."""
        from .page import run_page

        return run_page([self])

    def save(self, path: str | os.PathLike[str], *, log_loss: bool = True) -> Path | None:
        """Write ``.html`` (the page), ``.json``, ``.png`` or ``.svg`` (the figure); the format comes from
        the suffix; the file is written whole or not at all. On ranks that do not record: nothing, None."""
        format_from_path(path, SAVE_FORMATS)  # a bad suffix is refused first, also where nothing is written
        if self._recorder is None and not len(self._history):
            return None
        return save_as(self, path, log_loss=log_loss)

    def _repr_html_(self) -> str:
        from .page import run_page

        return run_page([self], embedded=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        h = self._history
        last = ""
        if "loss" in h.scalars and h.scalars["loss"]:
            v = h.scalars["loss"][-1]
            last = f", last loss {v:.6g}" if v is not None and math.isfinite(v) else f", last loss {v}"
        return (f"<graphviz_ad.Run {self.display_label!r}: {len(h)} recorded steps of {len(h.names)} parameters"
                f"{last}>")


SAVE_FORMATS = ("html", "json", "png", "svg")


def save_as(shown: Any, path: str | os.PathLike[str], *, log_loss: bool = True) -> Path:
    """Write a Run or a Comparison (``to_html``, ``to_json``, ``plot``) as the suffix says: ``.html`` (the
    page), ``.json``, ``.png`` or ``.svg`` (the figure); whole or not at all."""
    fmt = format_from_path(path, SAVE_FORMATS)
    if fmt == "html":
        data: str | bytes = shown.to_html()
    elif fmt == "json":
        data = dumps(shown.to_json())
    else:
        from .plot import figure_bytes

        data = figure_bytes(shown.plot(log_loss=log_loss), fmt)
    return write_atomic(path, data)


def dumps(data: dict[str, Any]) -> str:
    """Compact JSON: a long run holds millions of numbers, and an indented dump is Python's slow encoder."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


def load(path: str | os.PathLike[str]) -> Run:
    """A run saved with ``run.save('run.json')``, to compare or draw again (without its graph)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrainingError(f"cannot read the run {str(path)!r}: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise TrainingError(f"{str(path)!r} is not a run saved by graphviz_ad (schema {SCHEMA!r})")
    run = Run(None, label=data.get("label"), config=data.get("config") or {}, history=History.from_json(data))
    run.every = int(data.get("every", 1))
    return run
