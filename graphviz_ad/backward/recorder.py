"""Run the real backward with hooks on every autograd node and record each step as the engine runs it."""

from __future__ import annotations

import dataclasses
import warnings
import weakref
from collections.abc import Mapping
from functools import partial
from typing import Any, Sequence

import torch

from ..errors import BackwardError
from ..gcpause import gc_paused
from ..model.graph import Graph
from ..model.steps import Contribution, Incoming, Local, Step
from ..model.values import Value
from ..trace.recorder import Recording
from ..trace.snapshots import Snapshots, pending_sum
from .formulas import local_formula, paren

__all__ = ["run_backward", "loss_of"]

_AccumulateGrad = torch._C._functions.AccumulateGrad
_BackwardCFunction = torch.autograd.function.BackwardCFunction


_NAMES: dict[type, str] = {}
# Autograd nodes whose gradient for their input holds exactly the upstream's numbers, reshaped or
# reordered: its min/max/mean/norm are the upstream's (no second summary of the same numbers).
SAME_NUMBERS = frozenset({
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "TransposeBackward0", "TransposeBackward1",
    "TBackward0", "PermuteBackward0", "SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2",
    "SqueezeBackward3", "SqueezeBackward4", "UnsqueezeBackward0", "UnsqueezeBackward1", "CloneBackward0",
    "AliasBackward0",
})


def _grad_fn_name(gf: Any) -> str:
    """The autograd node's class name (``MulBackward0``), cached per node type."""
    cls = type(gf)
    name = _NAMES.get(cls)
    if name is None:
        if cls is _AccumulateGrad:
            name = "AccumulateGrad"
        elif issubclass(cls, _BackwardCFunction):
            name = gf.name()
        else:
            name = cls.__name__
        _NAMES[cls] = name
    return name


def loss_of(output: Any) -> torch.Tensor | None:
    """The scalar ``loss`` of a mapping or dataclass output (a Hugging Face ``ModelOutput``, a dict), if
    it has one that requires grad: what a training loop (and Hugging Face's Trainer) differentiates."""
    if isinstance(output, Mapping):
        loss = output.get("loss")
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        loss = getattr(output, "loss", None)
    else:
        return None
    if isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad:
        return loss
    return None


def _seed_gradients(outputs: list[torch.Tensor], gradient: Any,
                    labels: list[str] | None = None) -> list[torch.Tensor | None]:
    if gradient is None:
        if len(outputs) > 1 and labels is not None and any(t.numel() != 1 for t in outputs):
            named = ", ".join(f"{name} {tuple(t.shape)}" for name, t in zip(labels, outputs))
            raise BackwardError(
                f"the trace has {len(outputs)} outputs that require grad ({named}), not all single numbers, so "
                "backward does not know where to start: trace the one to differentiate (e.g. "
                "gad.trace(lambda **kw: model(**kw).loss, **inputs), or return a dict or ModelOutput with a "
                "scalar 'loss'), or pass gradient= (one tensor per output, of its shape)")
        for t in outputs:
            if t.numel() != 1:
                raise BackwardError(
                    f"the output has shape {tuple(t.shape)}, not a single number, so backward needs to know "
                    "dL/d(output): pass gradient= (a tensor of that shape, e.g. torch.ones_like(output)), "
                    "or trace a scalar loss such as output.sum()")
        return [None] * len(outputs)
    grads = list(gradient) if isinstance(gradient, (list, tuple)) else [gradient]
    if len(grads) != len(outputs):
        raise BackwardError(f"gradient= has {len(grads)} tensor(s) but the trace has {len(outputs)} output(s) "
                            "that require grad; pass one gradient per output")
    out: list[torch.Tensor | None] = []
    for g, t in zip(grads, outputs):
        g = torch.as_tensor(g, dtype=t.dtype, device=t.device)
        if g.shape != t.shape:
            raise BackwardError(f"gradient= has shape {tuple(g.shape)} but the output has shape {tuple(t.shape)}")
        out.append(g)
    return out


class _StepRecorder:
    """Hook callbacks, and what they saw. The hooks only keep numbers and indices; the step
    objects' formulas and targets are filled in after the backward (:func:`_attach`)."""

    def __init__(self, rec: Recording, graph: Graph, local_numbers: bool) -> None:
        self.rec = rec
        self.graph = graph
        self.local_numbers = local_numbers
        self.steps: list[Step] = []
        # gradients are held, not copied: the engine never changes a tensor in place while a hook
        # holds a reference to it (it copies instead), and they are converted right after backward
        self.snaps = Snapshots(rec.max_elements)
        self.seen: dict[int, tuple[weakref.ref, int, Value]] = {}
        self.step_of: dict[int, int] = {}  # autograd node index -> step index
        self.k_of_step: list[int | None] = []  # step index -> autograd node index
        self.local_values: dict[int, list[Value | None]] = {}  # step index -> autograd's local numbers
        self.inbox: dict[int, list[tuple[int, str, Value | None]]] = {}
        self.edge_grads: dict[tuple[str, str], Value | None] = {}
        self.node_grads: dict[str, Value] = {}
        nodes = rec.autograd_nodes
        index = {id(gf): k for k, (gf, _) in enumerate(nodes)}
        self.names = [_grad_fn_name(gf) for gf, _ in nodes]
        none_slot = (None, None, None)
        self.slots: list[list[tuple[str | None, str | None, int | None]]] = []
        for gf, _ in nodes:
            slots: list[tuple[str | None, str | None, int | None]] = []
            if type(gf) is not _AccumulateGrad:
                for nf, _i in gf.next_functions:
                    if nf is None:
                        slots.append(none_slot)
                    else:
                        k = index.get(id(nf))
                        if k is None:
                            slots.append((None, _grad_fn_name(nf), None))
                        else:
                            slots.append((nodes[k][1], self.names[k], k))
            self.slots.append(slots)
        seen_nodes: set[str] = set()
        self.main: list[bool] = []  # the first autograd node of a graph node carries its gradient
        for _, nid in nodes:
            self.main.append(nid not in seen_nodes)
            seen_nodes.add(nid)

    def _snap(self, t: torch.Tensor | None, same: Value | None = None) -> Value | None:
        """A snapshot, shared when the same gradient tensor is seen again (a step's contribution is
        usually the next step's upstream); ``same``: a summary holding the same numbers, to share."""
        if t is None:
            return None
        version = t._version
        hit = self.seen.get(id(t))
        if hit is not None and hit[0]() is t and hit[1] == version:
            return hit[2]
        v = self.snaps.take(t) if same is None else self.snaps.alias(t, same)
        self.seen[id(t)] = (weakref.ref(t), version, v)
        return v

    def needs_prehooks(self) -> list[bool]:
        """Per autograd node: a leaf's accumulation has no post hook; a scalar op's local derivative must
        be read before the node runs (its saved tensors are freed after); every other step is recorded
        in one post hook."""
        scalar: dict[str, bool] = {}
        if self.local_numbers:
            one: dict[tuple[int, ...], bool] = {}  # per shape: a single number
            for n in self.graph.nodes:
                v = n.value
                if v is not None:
                    shape = v.shape
                    s = one.get(shape)
                    if s is None:
                        s = one[shape] = v.numel == 1
                    scalar[n.id] = s
        return [type(gf) is _AccumulateGrad or scalar.get(nid, False) for gf, nid in self.rec.autograd_nodes]

    def pre_and_post(self, k: int, grad_inputs: Sequence[torch.Tensor | None],
                     grad_outputs: Sequence[torch.Tensor | None]) -> None:
        self.pre(k, grad_outputs, local=False)
        self.post(k, grad_inputs)

    def post_hook(self, k: int, grad_inputs: Sequence[torch.Tensor | None], _grad_outputs: Any) -> None:
        self.post(k, grad_inputs)

    def pre(self, k: int, grad_outputs: Sequence[torch.Tensor | None], local: bool = True) -> None:
        gf, nid = self.rec.autograd_nodes[k]
        leaf = type(gf) is _AccumulateGrad
        upstream = self._snap(grad_outputs[0]) if grad_outputs else None
        main = self.main[k]
        si = len(self.steps)
        step = Step(si, nid, self.names[k], upstream, [], [], [], leaf, not main)
        incoming = self.inbox.pop(k, None)
        if incoming:
            step.incoming = [Incoming(s, src, v) for s, src, v in incoming]
        if main and upstream is not None:
            self.node_grads[nid] = upstream
        self.step_of[k] = si
        self.k_of_step.append(k)
        self.steps.append(step)
        if (local and not leaf and self.slots[k] and self.local_numbers and not isinstance(gf, _BackwardCFunction)
                and all(g is not None and g.numel() == 1 for g in grad_outputs)):
            self.local_values[si] = self._local_numbers(gf, grad_outputs, len(self.slots[k]))

    def _local_numbers(self, gf: Any, grad_outputs: Sequence[torch.Tensor | None], n: int) -> list[Value | None]:
        """Autograd's own local derivatives: the node applied to an upstream of ones."""
        try:
            with torch.no_grad():
                res = gf(*[torch.ones_like(g) for g in grad_outputs if g is not None])
        except Exception:
            return [None] * n
        res = res if isinstance(res, tuple) else (res,)
        return [self._snap(r) if isinstance(r, torch.Tensor) and r.numel() == 1 else None for r in res][:n] + [None] * (n - len(res))

    def post(self, k: int, grad_inputs: Sequence[torch.Tensor | None]) -> None:
        si = self.step_of.get(k)
        if si is None:
            return
        step = self.steps[si]
        nid = step.node
        contributions = step.contributions
        n_in = len(grad_inputs)
        up = step.upstream
        # a view's gradient holds the upstream's numbers in another shape: its summary is the upstream's
        same = up if up is not None and up.kind == "stats" and step.grad_fn in SAME_NUMBERS else None
        for slot, (owner, to_name, target) in enumerate(self.slots[k]):
            g = grad_inputs[slot] if slot < n_in else None
            if same is not None and slot == 0 and g is not None and g.numel() == same.numel:
                v = self._snap(g, same)
            else:
                v = self._snap(g)
            contributions.append(Contribution(owner, to_name, v))
            if g is None:
                continue
            if target is not None:
                box = self.inbox.get(target)
                if box is None:
                    self.inbox[target] = [(si, nid, v)]
                else:
                    box.append((si, nid, v))
            if owner is not None and owner != nid:
                key = (owner, nid)
                if key not in self.edge_grads:
                    self.edge_grads[key] = v  # the contribution's own snapshot: no tensor kept alive
                else:  # the input feeds this op twice (x*x): the edge carries the sum
                    self.edge_grads[key] = pending_sum(self.edge_grads[key], g, self.snaps)

    def leaf_hook(self, nid: str, grad: torch.Tensor) -> None:
        """A non-leaf input's gradient (its own history is outside the trace)."""
        v = self._snap(grad)
        self.node_grads[nid] = v  # type: ignore[assignment]
        self.k_of_step.append(None)
        self.steps.append(Step(index=len(self.steps), node=nid, grad_fn="AccumulateGrad", upstream=v, leaf=True))


def run_backward(rec: Recording, gradient: Any = None, *, accumulate: bool = False,
                 retain_graph: bool = False, local_numbers: bool = True) -> list[Step]:
    """Run ``torch.autograd.backward`` once on the recording's outputs and record every step.

    Leaf ``.grad`` is restored afterwards unless ``accumulate``; the graph's nodes and edges
    get their gradients (node.grad, edge.grad).
    """
    graph = rec.graph
    pairs = [(label, t) for label, t in zip(_labels(rec), rec.output_tensors) if t.requires_grad]
    loss = loss_of(rec.output) if gradient is None else None
    if loss is not None:  # a model output with a loss (Hugging Face): backward starts from the loss
        pairs = [(label, t) for label, t in pairs if t is loss]
    outputs = [t for _, t in pairs]
    if not outputs:
        raise BackwardError("nothing in this trace requires grad, so there is no backward pass to record: "
                            "create the inputs with requires_grad=True (the CLI does this for --at values)")
    seeds = _seed_gradients(outputs, gradient, [label for label, _ in pairs])
    leaves = list(rec.leaves.items())
    if not leaves:
        raise BackwardError("no input or parameter of this trace requires grad; nothing to differentiate")
    with gc_paused():
        sr = _StepRecorder(rec, graph, local_numbers)
        _run(sr, rec, outputs, seeds, leaves, accumulate, retain_graph)
        _attach(graph, sr)
    return sr.steps


def _labels(rec: Recording) -> list[str]:
    """The output tensors' labels (``output['logits']``), or ``output[k]`` where none were kept."""
    if len(rec.output_labels) == len(rec.output_tensors):
        return rec.output_labels
    return [f"output[{k}]" for k in range(len(rec.output_tensors))]


def _run(sr: _StepRecorder, rec: Recording, outputs: list[torch.Tensor], seeds: list[Any],
         leaves: list[tuple[str, torch.Tensor]], accumulate: bool, retain_graph: bool) -> None:
    """The real backward with a hook on every autograd node; every hook removed, ``.grad``
    restored afterwards (unless ``accumulate``) and the modules' buffers as found, also when it raises."""
    handles: list[Any] = []
    saved: list[tuple[torch.Tensor, Any]] = []
    boundary = {id(t.grad_fn) for _, t in leaves if t.grad_fn is not None}
    try:
        prehook = sr.needs_prehooks()
        one_hook = sr.pre_and_post
        for k, (gf, nid) in enumerate(rec.autograd_nodes):
            if id(gf) in boundary:
                continue
            if not prehook[k]:  # one hook per node where one does
                handles.append(gf.register_hook(partial(one_hook, k)))
                continue
            handles.append(gf.register_prehook(partial(sr.pre, k)))
            if type(gf) is not _AccumulateGrad:
                handles.append(gf.register_hook(partial(sr.post_hook, k)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for nid, t in leaves:
                if t.grad_fn is not None:
                    handles.append(t.register_hook(lambda g, nid=nid: sr.leaf_hook(nid, g)))
                saved.append((t, t.grad))
                if not accumulate:
                    t.grad = None
        try:
            # the buffers hold the numbers the forward left while autograd reads what it saved of them
            with rec.buffer_states.applied():
                torch.autograd.backward(outputs, seeds, retain_graph=retain_graph,
                                        inputs=[t for _, t in leaves])
        except RuntimeError as e:
            msg = str(e)
            if "second time" in msg or "already been freed" in msg:
                raise BackwardError("the graph was freed by an earlier backward; call t.backward(retain_graph=True) "
                                    "the first time to run it again") from e
            raise BackwardError(f"PyTorch's backward failed: {msg.splitlines()[0]}") from e
        for nid, t in leaves:  # a leaf returned as it is (f(x) = x) has no autograd node to hook
            if nid not in sr.node_grads and t.grad is not None:
                sr.leaf_hook(nid, t.grad.detach().clone())
    finally:
        for h in handles:
            h.remove()
        if not accumulate:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for t, old in saved:
                    t.grad = old


def _attach(graph: Graph, sr: _StepRecorder) -> None:
    """Give the graph its node and edge gradients, write the formulas, convert every value in one batch."""
    graph.set_gradients(sr.node_grads, sr.edge_grads)
    sr.snaps.flush()
    _write_locals(graph, sr)


def _write_locals(graph: Graph, sr: _StepRecorder) -> None:
    """Every step's local derivatives: ``∂out/∂in = formula`` where the autograd node has a known
    formula, autograd's own number where it was read; and which step each contribution reached."""
    formulas: dict[tuple[Any, ...], str | None] = {}  # many steps share a formula (a loop, repeated layers)
    by_id = graph.node_index
    step_of = sr.step_of
    local_values = sr.local_values
    for step, k in zip(sr.steps, sr.k_of_step):
        if k is None or step.leaf:
            continue
        slots = sr.slots[k]
        if not slots:
            continue
        node = by_id[step.node]
        values = local_values.get(step.index)
        labels: tuple[str, ...] | None = None
        local = []
        for slot, (to, to_name, _) in enumerate(slots):
            formula = None
            if to is not None:
                if labels is None:
                    labels = tuple([by_id[o].label for o in node.operands])
                inside = to == step.node  # into an autograd node inside the same op (TBackward0 in linear)
                key = (step.grad_fn, slot, node.label, labels, node.op, inside,
                       to_name if inside else by_id[to].label)
                if key in formulas:
                    formula = formulas[key]
                else:
                    formula = formulas[key] = _formula(step, slot, node, labels, to, to_name, by_id)
            local.append(Local(to, to_name, formula, values[slot] if values is not None else None))
        contributions = step.contributions
        for c, (_, _, target) in zip(contributions, slots):
            if target is not None:
                c.target = step_of.get(target)
        # an input slot that leads nowhere and gets nothing (a constant: the 1 in 1 + z*c) is left out
        # of the record, in JSON, the transcript and the panel alike
        if any(loc.to is None and c.value is None for loc, c in zip(local, contributions)):
            pairs = [(loc, c) for loc, c in zip(local, contributions) if not (loc.to is None and c.value is None)]
            local, step.contributions = [p[0] for p in pairs], [p[1] for p in pairs]
        step.local = local


def _formula(step: Step, slot: int, node: Any, labels: tuple[str, ...], to: str, to_name: str | None,
             by_id: dict[str, Any]) -> str | None:
    formula = local_formula(step.grad_fn, slot, node.label, list(labels))
    if formula is None:
        return None
    if to != step.node:
        return f"∂{paren(node.label)}/∂{paren(by_id[to].label)} = {formula}"
    return f"{formula} (into {to_name}, inside {node.op})"
