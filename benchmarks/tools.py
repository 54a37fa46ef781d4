"""What each compared tool does in the benchmark: capture a graph of a workload, and give DOT text to lay out."""

from __future__ import annotations

import abc
import contextlib
import gc
import importlib
import importlib.metadata
import re
import time
import warnings
from typing import Any, Callable, Iterator

import torch
from torch import nn

__all__ = ["TOOLS", "Tool", "plain_step", "reset_grads", "count_dot_nodes"]

_NODE_LINE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.]+)\s*\[')


def count_dot_nodes(dot: str) -> int:
    """Node statements in DOT text (not edges, not graph/node/edge defaults, not graphviz_ad's legend)."""
    n = 0
    for line in dot.splitlines():
        m = _NODE_LINE.match(line)
        if m and "->" not in line[:m.end()] and m.group(1) not in ("graph", "node", "edge", "legend", "legend_grad"):
            n += 1
    return n


@contextlib.contextmanager
def modes_kept(module: nn.Module) -> Iterator[None]:
    """Every submodule's train/eval flag put back afterwards: torchview's draw_graph(mode=...) sets the
    whole model to one mode, which changed what the measurements after it traced (dropout on)."""
    flags = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        for m, training in flags:
            m.training = training


def reset_grads(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    module.zero_grad(set_to_none=True)
    for x in inputs:
        x.grad = None


def plain_step(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    """The baseline: an untraced forward and backward."""
    module(*inputs).backward()


class Tool(abc.ABC):
    """One compared tool. ``capture`` returns a small summary (never the graph: runs must not pile up)."""

    name = ""
    package = ""  # the import name
    dist = ""  # the distribution name, for the version

    def missing(self) -> str | None:
        """None when importable, else why not."""
        try:
            importlib.import_module(self.package)
        except ImportError:
            return "not installed"
        except Exception as e:  # a broken install is reported, not raised
            return f"import failed: {type(e).__name__}"
        return None

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.dist or self.package)
        except importlib.metadata.PackageNotFoundError:
            return None

    @abc.abstractmethod
    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        """Capture the workload's graph once, as this tool does."""

    def graph_dot(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
        """The DOT text this tool would hand to ``dot`` at its default settings (None: it has none)."""
        return None


class GraphvizAD(Tool):
    """trace + backward (every step recorded) + to_json(): the full record, no drawing."""

    name = package = dist = "graphviz_ad"

    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        import graphviz_ad as gad

        t0 = time.perf_counter()
        t = gad.trace(module, *inputs)
        t1 = time.perf_counter()
        t.backward()
        t2 = time.perf_counter()
        t.to_json()
        t3 = time.perf_counter()
        return {"trace_s": t1 - t0, "backward_s": t2 - t1, "to_json_s": t3 - t2,
                "nodes": len(t.nodes), "edges": len(t.edges), "steps": len(t.steps)}

    def gc_pauses(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        """One capture with a ``gc.callbacks`` probe: seconds of cyclic-GC pauses in each phase."""
        import graphviz_ad as gad

        spent = {"trace_s": 0.0, "backward_s": 0.0, "to_json_s": 0.0}
        counts = {"collections": 0, "full": 0}
        phase = ["trace_s"]
        started = [0.0]

        def probe(stage: str, info: dict[str, int]) -> None:
            if stage == "start":
                started[0] = time.perf_counter()
            else:
                spent[phase[0]] += time.perf_counter() - started[0]
                counts["collections"] += 1
                counts["full"] += info.get("generation") == 2

        gc.callbacks.append(probe)
        try:
            t = gad.trace(module, *inputs)
            phase[0] = "backward_s"
            t.backward()
            phase[0] = "to_json_s"
            t.to_json()
        finally:
            gc.callbacks.remove(probe)
        return {**spent, **counts}

    def graph_dot(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
        import graphviz_ad as gad

        return gad.trace(module, *inputs).backward().to_dot()


class Torchviz(Tool):
    """forward + make_dot (the graphviz.Digraph object) + backward."""

    name = package = dist = "torchviz"

    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        from torchviz import make_dot

        loss = module(*inputs)
        g = make_dot(loss, params=dict(module.named_parameters()))
        loss.backward()
        return {"body_lines": len(g.body)}

    def graph_dot(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
        from torchviz import make_dot

        return make_dot(module(*inputs), params=dict(module.named_parameters())).source


class Torchview(Tool):
    """draw_graph (forward under no_grad; the graph object, nothing rendered), in the model's own mode."""

    name = package = dist = "torchview"

    def _graph(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Any:
        from torchview import draw_graph

        with modes_kept(module):
            return draw_graph(module, input_data=list(inputs), save_graph=False,
                              mode="train" if module.training else "eval")

    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        g = self._graph(module, inputs)
        return {"body_lines": len(g.visual_graph.body)}

    def graph_dot(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> str | None:
        return self._graph(module, inputs).visual_graph.source


class Torchlens(Tool):
    """log every forward op with its value: ``torchlens.trace`` (2.x; ``log_forward_pass`` before 2.0).

    Each call wraps torch's functions and unwraps them afterwards (``unwrap_when_done``), so that
    the interleaved plain runs are not slowed by leftover wrappers.
    """

    name = package = dist = "torchlens"

    def _call(self) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], Any]:
        import torchlens as tl

        try:
            from torchlens.options import CaptureOptions

            opts = CaptureOptions(layers_to_save="all", unwrap_when_done=True)
            return lambda m, xs: tl.trace(m, list(xs), capture=opts)
        except ImportError:
            return lambda m, xs: tl.log_forward_pass(m, list(xs), layers_to_save="all")

    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        call = self._call()
        with warnings.catch_warnings(), modes_kept(module):
            warnings.simplefilter("ignore")
            log = call(module, inputs)
        layers = getattr(log, "layer_list", None)
        return {"layers": len(layers) if layers is not None else None}


class HooksOnly(Tool):
    """A reference, not a tool: the bare mechanism graphviz_ad is built on, doing nothing with what it
    sees: a pass-through TorchFunctionMode during the forward, then one no-op Python hook on every
    autograd node during the backward (registered and removed). What any recorder of every op and
    every backward step in Python pays before keeping a single number."""

    name = "hooks-only"
    package = "torch"

    def version(self) -> str | None:
        return "(reference)"

    def capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
        from torch.overrides import TorchFunctionMode

        seen: list[Any] = []

        class PassThrough(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: A002
                out = func(*args, **(kwargs or {}))
                seen.append(func)
                return out

        with PassThrough():
            loss = module(*inputs)
        nodes: list[Any] = []
        found = {id(loss.grad_fn)}
        stack = [loss.grad_fn]
        while stack:  # no recursion: the loop workload is 15,000 nodes deep
            fn = stack.pop()
            nodes.append(fn)
            for nxt, _ in fn.next_functions:
                if nxt is not None and id(nxt) not in found:
                    found.add(id(nxt))
                    stack.append(nxt)
        noop = lambda *_: None  # noqa: E731
        handles = [fn.register_hook(noop) for fn in nodes]
        try:
            loss.backward()
        finally:
            for h in handles:
                h.remove()
        return {"calls": len(seen), "autograd_nodes": len(nodes)}


TOOLS: dict[str, Tool] = {t.name: t for t in (GraphvizAD(), HooksOnly(), Torchviz(), Torchview(), Torchlens())}
