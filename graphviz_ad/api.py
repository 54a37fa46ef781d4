"""The public Trace object: a recorded forward, its backward steps, and every way to show them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

from .backward.optimizer import record_step
from .backward.recorder import run_backward
from .checks.gradcheck import LeafCheck, check_lines, finite_differences, float64_gradients
from .checks.rerun import Call
from .checks.tangents import direction_for, forward_tangents, reverse_along
from .errors import BackwardError, TraceError
from .model.export import to_json as _to_json
from .model.export import to_networkx as _to_networkx
from .model.graph import Edge, Graph, Node
from .model.steps import Step
from .model.updates import OptimizerRecord
from .model.values import DEFAULT_MAX_ELEMENTS
from .output.files import format_from_path, write_atomic
from .render.dot import to_dot as _to_dot
from .render.formats import GRAPH_FORMATS, graph_bytes
from .render.options import RenderOptions
from .trace.recorder import Recording, record

__all__ = ["Trace", "trace", "trace_call"]


class Trace:
    """A recorded forward pass (and, after :meth:`backward`, its backward steps).

    ``nodes``, ``edges``, ``steps`` and ``output`` are plain data; renderers read them.
    """

    def __init__(self, recording: Recording, call: tuple[Callable[..., Any], tuple, dict] | None = None) -> None:
        self._rec = recording
        self._call = call  # (fn, args, kwargs): what check() and forward mode run again
        self.graph: Graph = recording.graph
        self.steps: list[Step] = []
        self.update: OptimizerRecord | None = None
        self._backward_done = False
        self._seed: Any = None

    # -- data -------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    @property
    def edges(self) -> list[Edge]:
        return self.graph.edges

    @property
    def output(self) -> Any:
        """What the traced function returned."""
        return self._rec.output

    @property
    def output_tensors(self) -> list[Any]:
        """The tensors inside :attr:`output`, in reading order (a tuple's or dict's tensors each)."""
        return list(self._rec.output_tensors)

    def node(self, label_or_id: str) -> Node:
        """The node with this id (``n3``) or, failing that, the first node with this label."""
        for n in self.graph.nodes:
            if n.id == label_or_id:
                return n
        for n in self.graph.nodes:
            if n.label == label_or_id:
                return n
        raise KeyError(f"no node with id or label {label_or_id!r}")

    # -- backward ---------------------------------------------------------
    def backward(self, gradient: Any = None, *, accumulate: bool = False, retain_graph: bool = False) -> "Trace":
        """Run the real backward once and record every step; returns ``self``.

        Leaf ``.grad`` stays as it was unless ``accumulate=True``. A second call replaces
        the record (it needs ``retain_graph=True`` on the first).
        """
        self.steps = run_backward(self._rec, gradient, accumulate=accumulate, retain_graph=retain_graph)
        self._backward_done = True
        self._seed = gradient
        return self

    def optimizer_step(self, optimizer: Any, *, dry_run: bool = False) -> OptimizerRecord:
        """Run one real ``optimizer.step()`` and record each traced parameter's update.

        Needs ``.grad`` filled: call ``t.backward(accumulate=True)`` first, as the lesson's
        iteration does (zero_grad, forward, loss, backward, step). ``dry_run=True`` puts the
        parameters and the optimizer state back afterwards. The record is ``t.update``.
        """
        params = {id(t): (nid, self.graph.node(nid).label) for nid, t in self._rec.leaves.items()
                  if self.graph.node(nid).kind == "param"}
        self.update = record_step(optimizer, params, dry_run=dry_run, max_elements=self._rec.max_elements)
        return self.update

    # -- checks -----------------------------------------------------------
    def _rerun(self) -> Call:
        if self._call is None:
            raise TraceError("this trace cannot run its function again (it was made from a recording): "
                             "trace it with gad.trace(fn, *args)")
        fn, args, kwargs = self._call
        leaves = {self.graph.node(nid).label: t for nid, t in self._rec.leaves.items()}
        return Call(fn, args, kwargs, leaves, list(self._rec.root_modules), self._seed)

    def check(self) -> dict[str, LeafCheck]:
        """Autograd checked by finite differences: every leaf's gradient by central differences in float64.

        Returns leaf name -> :class:`LeafCheck` (``autograd``, ``numerical``, ``rel_error``, ``ok``).
        Runs the traced function twice per leaf element on float64 copies (the user's tensors, parameters
        and buffers are left as they were, the RNG state too); needs :meth:`backward` first.
        """
        if not self._backward_done:
            raise BackwardError("check() compares autograd's gradients with finite differences: "
                                "call t.backward() first")
        call = self._rerun()
        autograd = {}
        by_label = {self.graph.node(nid).label: self.graph.node(nid) for nid in self._rec.leaves}
        for name, t in call.leaves.items():
            grad = by_label[name].grad
            if grad is None or grad.kind != "exact":
                autograd[name] = torch.zeros_like(t, dtype=torch.float64) if grad is None else None
            else:
                autograd[name] = torch.as_tensor(grad.data, dtype=torch.float64).reshape(t.shape)
        missing = [n for n, g in autograd.items() if g is None]
        if missing:
            autograd.update(float64_gradients(call, missing))
        return finite_differences(call, autograd)

    def _forward_stepper(self, options: RenderOptions, wrt: str | None, direction: Any = None) -> Any:
        from .stepper.forward import ForwardStepper

        inputs = [self.graph.node(nid).label for nid in self._input_ids()]
        if wrt is None:
            raise TraceError(f"forward mode needs wrt=, the input to differentiate by: one of {', '.join(inputs)}")
        call = self._rerun()
        seed = direction_for(call, inputs, wrt, direction, self._rec.max_elements)
        tangents = forward_tangents(call, self.graph, inputs, wrt, self._rec.max_elements, seed)
        grad = next((n.grad for n in self.graph.nodes if n.kind == "input" and n.label == wrt), None)
        along = reverse_along(grad, seed)
        if along is None and grad is not None and wrt in call.leaves:  # summarised: autograd once more, in float64
            try:
                along = reverse_along(float64_gradients(call, [wrt])[wrt], seed)
            except (RuntimeError, TypeError):  # code that cannot run in float64 (a float32 tensor of its own)
                along = None
        svg = graph_bytes(self.graph, "svg", options)
        return ForwardStepper(self.graph, tangents, wrt, self.steps, svg, len(call.leaves), options.digits,
                              seed=seed, along=along,
                              input_numbers=sum(t.numel() for t in call.leaves.values()))

    def _input_ids(self) -> list[str]:
        """The traced function's arguments' nodes, in order."""
        return [n.id for n in self.graph.nodes if n.kind == "input" and n.op == "input"]

    # -- output -----------------------------------------------------------
    def to_dot(self, options: RenderOptions | None = None, **kw: Any) -> str:
        """DOT text (no ``dot`` binary needed). Options: see :class:`RenderOptions`."""
        return _to_dot(self.graph, options, **kw)

    def to_svg(self, options: RenderOptions | None = None, **kw: Any) -> str:
        """SVG text, laid out by Graphviz's ``dot``."""
        return graph_bytes(self.graph, "svg", RenderOptions.make(options, **kw))  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        """A dict in schema ``graphviz_ad/1`` (nodes, edges, steps; ``optimizer`` after a recorded step)."""
        return _to_json(self.graph, self.steps, self.update)

    def to_networkx(self) -> Any:
        return _to_networkx(self.graph)

    def render(self, path: str | os.PathLike[str], options: RenderOptions | None = None, **kw: Any) -> Path:
        """Write the graph to ``path``; the format comes from the suffix (.svg .png .pdf .dot .json)."""
        fmt = format_from_path(path, GRAPH_FORMATS)
        return write_atomic(path, graph_bytes(self.graph, fmt, RenderOptions.make(options, **kw), self.steps,
                                              self.update))

    def stepper(self, options: RenderOptions | None = None, *, check: bool = False, mode: str = "backward",
                wrt: str | None = None, direction: Any = None, **kw: Any) -> Any:
        """An interactive walk through the backward steps (frames, HTML).

        ``check=True`` adds the finite-difference check (:meth:`check`) to the transcript and to the
        page's last gradient frame. ``mode="forward", wrt="x"``: forward mode instead, the tangent of
        every node with respect to input ``x`` in forward order (a :class:`ForwardStepper`; no backward
        needed, though after one each step shows autograd's local derivatives too). For a tensor ``x``
        the tangents are derivatives along a ``direction`` v of ``x`` (a tensor of its shape; by default
        the one-hot vector at its first element, so the final tangent is ``x.grad``'s first component;
        in general it is ``x.grad · v``); the transcript and the page say which v was used."""
        from .stepper.stepper import Stepper

        if mode == "forward":
            return self._forward_stepper(RenderOptions.make(options, **kw), wrt, direction)
        if direction is not None:
            raise TraceError("direction= is forward mode's: give it with mode=\"forward\", wrt=...")
        if mode != "backward":
            raise ValueError(f"mode must be 'backward' or 'forward', not {mode!r}")
        if not self._backward_done:
            raise BackwardError("the stepper walks the backward pass: call t.backward() first")
        s = Stepper(self.graph, self.steps, self.update, RenderOptions.make(options, **kw))
        if check:
            s.check_lines = check_lines(self.check(), s.options.digits)
        return s

    def explore(self, options: RenderOptions | None = None, **kw: Any) -> Any:
        """The interactive explorer (:class:`graphviz_ad.explore.explorer.Explorer`): ``to_html()``,
        ``save(path)``, notebook display. It opens on the view ``depth`` draws (``"auto"``: collapsed)."""
        from .explore.explorer import Explorer

        return Explorer(self.graph, self.steps, RenderOptions.make(options, **kw))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The explorer for a notebook (``self.explore()``, :mod:`graphviz_ad.explore.notebook`): HTML,
        the static SVG and this summary as text."""
        from .explore.notebook import notebook_bundle

        return notebook_bundle(self.explore(), repr(self), include=include, exclude=exclude)

    def __repr__(self) -> str:
        ops = sum(1 for n in self.graph.nodes if n.kind in ("op", "output"))
        return f"<graphviz_ad.Trace: {len(self.graph.nodes)} nodes ({ops} ops), {len(self.steps)} backward steps>"


def trace_call(fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None, *,
               max_elements: int = DEFAULT_MAX_ELEMENTS, input_names: list[str] | None = None,
               output_name: str | None = None) -> Trace:
    """:func:`trace` with options: ``max_elements`` (tensors larger than this are kept as
    min/max/mean/norm summaries), explicit ``input_names`` and ``output_name``."""
    return Trace(record(fn, args, kwargs, max_elements=max_elements, input_names=input_names,
                        output_name=output_name), (fn, tuple(args), dict(kwargs or {})))


def trace(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Trace:
    """Run ``fn(*args, **kwargs)`` (a function or an ``nn.Module``) once and record the graph."""
    return Trace(record(fn, args, kwargs), (fn, args, kwargs))
