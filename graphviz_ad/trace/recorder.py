"""Record a real forward pass: a TorchFunctionMode for torch calls, global module hooks for structure."""

from __future__ import annotations

import inspect
import re
import sys
import threading
import types
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch.overrides import TorchFunctionMode

from ..errors import TraceError
from ..gcpause import gc_paused
from ..model.graph import Graph, Node
from ..model.values import DEFAULT_MAX_ELEMENTS, Value
from . import frames as fr
from .buffers import BufferGuard, BufferStates
from .ops import ARITHMETIC, format_args, op_name
from .snapshots import Snapshots

__all__ = ["Recording", "record", "name_next_op"]

_AccumulateGrad = torch._C._functions.AccumulateGrad
_CALL_IMPL = torch.nn.Module._call_impl.__code__
_MODULE_FILE = _CALL_IMPL.co_filename
_LOCK = threading.Lock()
_ACTIVE = threading.local()
_WAIT_S = 300.0
_SKIP_FUNCS = {"__get__", "__set__", "__repr__", "__format__", "__torch_function__", "backward", "register_hook"}
# besides every method ending in a single "_" (add_, _foreach_mul_)
_INPLACE_FUNCS = {"__set__", "__setitem__"} | {
    f"__i{op}__" for op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift",
                             "and", "or", "xor")}
_KINDS: dict[Any, tuple[str, bool, bool, bool]] = {}  # torch callable -> (op name, recorded, in place, reflected)


_NO_GRAD = ("no_grad",)  # the flag of a node whose tensor does not require grad (views fold such plumbing)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _text(name: str) -> str:
    """A module or parameter name fit for every output: a lone surrogate (add_module accepts one; no
    encoding can write it) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", name) if _SURROGATE.search(name) else name


_REFLECTED = frozenset({"__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__rdiv__", "__rfloordiv__", "__rmod__",
                        "__rpow__", "__rmatmul__", "rsub"})
_REFLECTED_FLAG = ("reflected",)  # the Python source has the operands the other way round (1 + t, 2 / t)
# torch hands both ``t + 1`` and ``1 + t`` to ``Tensor.add(t, 1)``: which one the source wrote is read from it
_COMMUTATIVE = frozenset({"add", "mul"})


def _kind(func: Callable[..., Any]) -> tuple[str, bool, bool, bool]:
    try:
        return _KINDS[func]
    except (KeyError, TypeError):
        pass
    raw = getattr(func, "__name__", "")
    kind = (op_name(func), raw not in _SKIP_FUNCS, (raw.endswith("_") and not raw.endswith("__")) or raw in _INPLACE_FUNCS,
            raw in _REFLECTED)
    try:
        _KINDS[func] = kind
    except TypeError:
        pass
    return kind


@dataclass
class Recording:
    """What a forward recording leaves for the backward pass and the renderers."""

    graph: Graph
    output: Any
    output_tensors: list[torch.Tensor]
    autograd_nodes: list[tuple[Any, str]]  # (autograd Node, graph node id), strong refs
    leaves: dict[str, torch.Tensor]  # graph node id -> leaf tensor that requires grad
    max_elements: int = DEFAULT_MAX_ELEMENTS
    root_modules: list[torch.nn.Module] = field(default_factory=list)
    # the buffers the forward changed and the numbers it left there (restored since), for the backward
    buffer_states: BufferStates = field(default_factory=BufferStates)
    output_labels: list[str] = field(default_factory=list)  # one per output tensor: ``output['loss']``
    # node id -> forward-mode tangent of its value, where record(..., tangents=True) ran on dual tensors
    tangents: dict[str, torch.Tensor | None] = field(default_factory=dict)


class _Mode(TorchFunctionMode):
    def __init__(self, rec: "_Recorder") -> None:
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: A002
        name, recorded, inplace, reflected = _kind(func)
        snaps = self.rec.snaps
        if kwargs is None:
            kwargs = {}
        elif "out" in kwargs or kwargs.get("inplace"):
            inplace = True
        if inplace and snaps.pending:  # values are held, not copied: convert them before any can change
            snaps.flush()
        out = func(*args, **kwargs)
        if recorded:
            self.rec.record(name, args, kwargs, out, reflected)
        return out


def _tangent(t: torch.Tensor) -> torch.Tensor | None:
    """The forward-mode tangent of ``t`` (a dual tensor), copied; None where it has none."""
    from torch.autograd.forward_ad import unpack_dual

    tangent = unpack_dual(t).tangent
    return tangent.detach().clone() if tangent is not None else None


def _tensors(obj: Any) -> list[torch.Tensor]:
    """Tensors inside a call's output (tensor, tuple/list, nested once more, dict values)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    out: list[torch.Tensor] = []
    if isinstance(obj, (tuple, list)):
        for o in obj:
            if isinstance(o, torch.Tensor):
                out.append(o)
            elif isinstance(o, (tuple, list)):
                out.extend(x for x in o if isinstance(x, torch.Tensor))
    elif isinstance(obj, dict):
        out.extend(v for v in obj.values() if isinstance(v, torch.Tensor))
    return out


class _Recorder:
    """Mutable state of one recording; everything it installs is removed by :meth:`close`."""

    def __init__(self, max_elements: int, stop: types.FrameType, module_root: torch.nn.Module | None) -> None:
        self.graph = Graph()
        self.max_elements = max_elements
        self.stop: types.FrameType | None = stop
        self.thread = threading.get_ident()
        # id(tensor) -> (weak ref, node id, bound without an autograd node: one may be attached later)
        self.tensor_node: dict[int, tuple[weakref.ref, str, bool]] = {}
        self.owner: dict[int, str] = {}
        self.autograd_nodes: list[tuple[Any, str]] = []
        self.leaves: dict[str, torch.Tensor] = {}
        self.snaps = Snapshots(max_elements)
        self.buffers = BufferGuard()  # restored by record() when the trace ends
        self.param_names: dict[int, str] = {}
        self.module_names: dict[int, str] = {}
        self.roots: list[torch.nn.Module] = []
        self.module_frames: dict[int, str] = {}
        # the innermost user frame (and its CodeInfo) around each live module call, found when it was entered
        self.module_callers: dict[int, tuple[types.FrameType | None, Any]] = {}
        self.module_stack: list[tuple[str, str, int]] = []  # (qualname, cluster id, id of its call frame)
        self.module_qual: str | None = None  # the innermost module call with a name (ops are tagged with it)
        self.func_frames: dict[int, tuple[types.FrameType, str]] = {}
        self.tangents: dict[str, torch.Tensor | None] | None = None  # {} to keep forward-mode tangents
        self.module_root = module_root
        self.hint: tuple[str, str, str | None] | None = None  # (label, source, definition) of the next op
        self.error: BaseException | None = None
        self._handles: list[Any] = []
        self._last_frame: types.FrameType | None = None
        self._last_located: tuple[types.FrameType | None, Any, bool, str | None] = (None, None, True, None)
        if module_root is not None:
            self._register_root(module_root)
            self.buffers.watch(module_root)

    # -- module structure -------------------------------------------------
    def _register_root(self, module: torch.nn.Module) -> None:
        if any(r is module for r in self.roots):
            return
        self.roots.append(module)
        taken = set(self.param_names.values())
        params: list[tuple[str, torch.Tensor]] = []
        buffers: list[tuple[str, torch.Tensor]] = []
        for qual, m in module.named_modules(remove_duplicate=False):  # one walk (named_parameters makes its own)
            self.module_names.setdefault(id(m), _text(qual))
            prefix = qual + "." if qual else ""
            params.extend((prefix + k, p) for k, p in m._parameters.items() if p is not None)
            buffers.extend((prefix + k, b) for k, b in m._buffers.items() if b is not None)
        for name, p in params + buffers:  # parameters first, as named_parameters then named_buffers
            if id(p) in self.param_names:
                continue
            name = _text(name)
            if name in taken:
                name = f"{_text(type(module).__name__)}.{name}"
            self.param_names[id(p)] = name
            taken.add(name)

    def install(self) -> None:
        reg = torch.nn.modules.module
        self._handles.append(reg.register_module_forward_pre_hook(self._pre_hook))
        self._handles.append(reg.register_module_forward_hook(self._post_hook, always_call=True))

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        # no frame may stay referenced: a frame keeps its locals and its callers' frames, so the
        # recorder (a local of the stop frame) and the caller's trace would live on in a reference
        # cycle, freed only by a full collection
        self.module_frames.clear()
        self.module_callers.clear()
        self.func_frames.clear()
        self._last_frame = None
        self._last_located = (None, None, True, None)
        self.stop = None

    def _pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        self.buffers.watch(module)  # before its forward can change a buffer
        # The frame that calls the hooks also calls forward (``_call_impl``, or its ``inner``).
        f = sys._getframe(1)
        if f.f_code.co_filename != _MODULE_FILE:
            while f is not None and f.f_code is not _CALL_IMPL:
                f = f.f_back
            if f is None:
                return
        if id(module) not in self.module_names:  # an outermost module (or one outside the traced root)
            self._register_root(module)
        qual = self.module_names.get(id(module), "")
        if module is self.module_root:
            self.module_frames[id(f)] = ""  # the traced root: its forward is the whole graph, not a cluster
            self.module_callers[id(f)] = (None, None)
            self.module_stack.append((qual, "", id(f)))
            self._set_module_qual()
            return
        user, info, _, parent = self._locate(f.f_back)
        self.module_callers[id(f)] = (user, info)
        type_name = _text(type(module).__name__)
        label = f"{qual}: {type_name}" if qual else type_name
        c = self.graph.add_cluster("module", label, parent, qualname=qual, type_name=type_name)
        self.module_frames[id(f)] = c.id
        self._last_frame = None
        self.module_stack.append((qual, c.id, id(f)))
        self._set_module_qual()

    def _post_hook(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() != self.thread or not self.module_stack:
            return
        _, _, frame_id = self.module_stack.pop()
        self._last_frame = None
        self.module_frames.pop(frame_id, None)
        self.module_callers.pop(frame_id, None)
        self._set_module_qual()

    def _set_module_qual(self) -> None:
        self.module_qual = next((q for q, _, _ in reversed(self.module_stack) if q), None)

    # -- frames -------------------------------------------------------------
    def _locate(self, f: types.FrameType | None) -> tuple[types.FrameType | None, Any, bool, str | None]:
        """(innermost user frame, its CodeInfo, no module boundary in between, innermost cluster).

        The frames above a live frame cannot change, so the answer for the frame the last op
        came from is reused (a loop of ops in one function walks the stack once).
        """
        if f is not None and f is self._last_frame:
            return self._last_located
        located = self._walk(f)
        self._last_frame, self._last_located = f, located
        return located

    def _walk(self, f: types.FrameType | None) -> tuple[types.FrameType | None, Any, bool, str | None]:
        chain: list[Any] = []
        user_frame = None
        user_info = None
        direct = True
        stop = self.stop
        module_frames = self.module_frames
        while f is not None and f is not stop:
            c = module_frames.get(id(f))
            if c is not None:
                # the frames above a live module call were placed (clusters made) when it was entered
                if c:
                    chain.append(c)
                if user_frame is None:
                    direct = False
                    user_frame, user_info = self.module_callers.get(id(f), (None, None))
                break
            else:
                info = fr.code_info(f.f_code)
                if info.user:
                    if user_frame is None:
                        user_frame, user_info = f, info
                    back = f.f_back
                    # a module's own forward is drawn as the module's cluster, not as a function
                    if (back is not stop and back is not None and id(back) not in module_frames
                            and info.label and not info.label.startswith("<")):
                        chain.append(f)
            f = f.f_back
        parent: str | None = None
        for item in reversed(chain):
            if isinstance(item, str):
                parent = item
                continue
            entry = self.func_frames.get(id(item))
            if entry is None or entry[0] is not item:
                info = fr.code_info(item.f_code)
                origin = "library" if info.library else "forward" if self._is_forward(item) else "user"
                cluster = self.graph.add_cluster("function", info.label, parent, origin=origin)
                entry = (item, cluster.id)
                self.func_frames[id(item)] = entry
            parent = entry[1]
        return user_frame, user_info, direct, parent

    def _is_forward(self, f: types.FrameType) -> bool:
        """Whether ``f`` is a module's own forward called through wrappers (a library's decorators): only
        library or torch frames lie between it and the module call."""
        b = f.f_back
        stop, module_frames = self.stop, self.module_frames
        while b is not None and b is not stop:
            if id(b) in module_frames:
                return True
            info = fr.code_info(b.f_code)
            if info.user and not info.library:
                return False
            b = b.f_back
        return False

    # -- tensors --------------------------------------------------------------
    def _entry(self, t: torch.Tensor) -> tuple[weakref.ref, str, bool] | None:
        entry = self.tensor_node.get(id(t))
        return entry if entry is not None and entry[0]() is t else None

    def node_of(self, t: torch.Tensor) -> str | None:
        entry = self._entry(t)
        return entry[1] if entry is not None else None

    def bind(self, t: torch.Tensor, node_id: str) -> None:
        # the flag: bound without an autograd node, so one attached later must still be claimed
        self.tensor_node[id(t)] = (weakref.ref(t), node_id, t.grad_fn is None)

    def _snap(self, t: torch.Tensor, hold: bool = True) -> Value:
        """Held (converted at the next in-place op or at the end) or copied now."""
        return self.snaps.take(t, hold=hold)

    def add_leaf(self, t: torch.Tensor, label: str | None = None, frame: types.FrameType | None = None,
                 cluster: str | None = None, argument: bool = False) -> str:
        """A node for a tensor that no recorded op produced: an input, a parameter or a constant."""
        pname = self.param_names.get(id(t))
        if pname is not None:
            kind = "param"
            op = "parameter" if isinstance(t, torch.nn.Parameter) else "buffer"
            label = pname
            owner = pname.rpartition(".")[0]
            for qual, cid, _ in reversed(self.module_stack):
                if qual == owner and cid:
                    cluster = cid
                    break
            module: str | None = owner
        else:
            # an argument of the traced function is an input even when it needs no gradient (data)
            kind = "input" if t.requires_grad or argument else "const"
            op = "input" if kind == "input" else "tensor"
            module = None
            cluster = None  # a tensor from outside the traced code is drawn at the top level
            if label is None:
                label = fr.find_name(frame, t) or ("tensor" if t.dim() else "const")
        # a parameter is held like an op's output (it changes only in place or after the trace); anything
        # else is copied now: a buffer that batch_norm updates in C++, a tensor the caller may change
        held = self._snap(t, isinstance(t, torch.nn.Parameter))
        node = self.graph.add_node(kind, label, op, module, cluster, held)
        if not t.requires_grad:
            node.flags = _NO_GRAD
        self.bind(t, node.id)
        if self.tangents is not None:
            self.tangents[node.id] = _tangent(t)
        if t.requires_grad:
            self.leaves[node.id] = t
            if t.grad_fn is not None:  # a non-leaf input: its history before the trace is not drawn
                self._claim(t.grad_fn, node.id)
        return node.id

    def _known(self, t: torch.Tensor) -> str | None:
        """The node of a tensor seen before; claims an autograd node attached after it was recorded
        (a custom ``autograd.Function`` sets its output's grad_fn once its forward has returned)."""
        entry = self._entry(t)
        if entry is None:
            return None
        nid = entry[1]
        if entry[2]:
            gf = t.grad_fn
            if gf is not None and id(gf) not in self.owner:
                node = self.graph.node(nid)
                if isinstance(gf, torch.autograd.function.BackwardCFunction):
                    node.op = gf.name().removesuffix("Backward")
                self._walk_autograd(node, [t])
        return nid

    def _claim(self, gf: Any, node_id: str) -> None:
        self.owner[id(gf)] = node_id
        self.autograd_nodes.append((gf, node_id))

    def _walk_autograd(self, node: Node, outs: list[torch.Tensor]) -> None:
        """Claim the autograd nodes this op made: its outputs' grad_fn and the new ones behind them."""
        owner = self.owner
        stack = []
        for t in outs:
            gf = t.grad_fn
            if gf is not None and id(gf) not in owner:
                self._claim(gf, node.id)
                stack.append(gf)
        while stack:
            gf = stack.pop()
            for nf, _ in gf.next_functions:
                if nf is None or id(nf) in owner:
                    continue
                if type(nf) is _AccumulateGrad:
                    var = nf.variable
                    leaf = self.node_of(var) or self.add_leaf(var, cluster=node.cluster)
                    self._claim(nf, leaf)
                    self.graph.add_edge(leaf, node.id)
                else:
                    self._claim(nf, node.id)
                    stack.append(nf)

    # -- the op record ---------------------------------------------------------
    def record(self, name: str, args: tuple, kwargs: dict, out: Any, reflected: bool = False) -> None:
        if threading.get_ident() != self.thread:
            return
        if out is None and name == "setitem" and args and isinstance(args[0], torch.Tensor):
            out = args[0]
        outs = [out] if isinstance(out, torch.Tensor) else _tensors(out)
        if not outs:
            return
        try:
            self._record(name, args, kwargs, outs)
            if reflected:
                self.graph.nodes[-1].flags += _REFLECTED_FLAG
        except Exception as e:  # a bug of ours must not corrupt the user's forward
            if self.error is None:
                self.error = e

    def _record(self, name: str, args: tuple, kwargs: dict, outs: list[torch.Tensor]) -> None:
        caller = sys._getframe(3)
        frame, info, direct, cluster = self._locate(caller)
        hint = self.hint
        source = definition = None
        if hint is not None:
            self.hint = None
            label, source, definition = hint
            label = label or name
        else:
            label = (fr.assigned_name(frame, info, self.stop) if frame is not None and direct else None) or name
            if frame is not None:  # the line of the user's code that made it (for a model's op: the call)
                source = fr.source_line(frame, info)
        graph = self.graph
        arith = name in ARITHMETIC
        sources: list[str] = []  # leaves and constants are created before the op, so ids follow data flow
        extra_pos: list[Any] = []
        for a in args:
            self._source(a, frame, cluster, arith, sources, extra_pos)
        extra_kw: dict[str, Any] = {}
        for k, v in kwargs.items():
            if isinstance(v, torch.Tensor):
                sources.append(self._known(v) or self.add_leaf(v, frame=frame, cluster=cluster))
            elif v is not None:
                extra_kw[k] = v
        out0 = outs[0]
        value = self.snaps.take(out0)
        node = graph.add_node("op", label, name, self.module_qual, cluster, value,
                              format_args(extra_pos, extra_kw) if extra_pos or extra_kw else "", source)
        if definition is not None:
            node.definition = definition
        nid = node.id
        if self.tangents is not None:
            self.tangents[nid] = _tangent(out0)
        by_id = graph.node_index
        constant = True
        for src in sources:
            graph.add_edge(src, nid)
            if constant and by_id[src].op != "const":
                constant = False
        node.operands = sources
        grad_fn = out0.grad_fn
        if constant:
            node.kind = "input" if out0.requires_grad else "const"
        for t in outs:
            self.bind(t, nid)
        if len(outs) > 1:
            node.flags = ("outputs=%d" % len(outs),)
        if not out0.requires_grad:
            node.flags += _NO_GRAD
        if grad_fn is not None or len(outs) > 1:
            self._walk_autograd(node, outs)
        if node.kind == "input" and grad_fn is None:
            self.leaves[nid] = out0
        # ``2 * x`` and ``1 + z*c`` reach torch as mul(x, 2) and add(z*c, 1): read the order the source wrote
        if (name in _COMMUTATIVE and frame is caller and len(args) == 2 and not kwargs
                and isinstance(args[0], torch.Tensor) and not isinstance(args[1], torch.Tensor)
                and fr.scalar_first(frame, info, args[0])):
            node.flags += _REFLECTED_FLAG

    def _source(self, a: Any, frame: Any, cluster: str | None, arith: bool, sources: list[str],
                extra: list[Any]) -> None:
        """Append the node id(s) that argument ``a`` comes from; other arguments go to ``extra``."""
        if isinstance(a, torch.Tensor):
            sources.append(self._known(a) or self.add_leaf(a, frame=frame, cluster=cluster))
        elif arith and isinstance(a, (int, float, complex, bool)):
            c = self.graph.add_node("const", f"{a:g}" if isinstance(a, float) else str(a), "const", None, cluster,
                                    Value((), type(a).__name__, "python", a))
            c.flags = _NO_GRAD
            sources.append(c.id)
        elif isinstance(a, (list, tuple)) and any(isinstance(x, torch.Tensor) for x in a):
            for x in a:
                self._source(x, frame, cluster, arith, sources, extra)
        else:
            extra.append(a)

    def mark_outputs(self, result: Any, name: str) -> list[tuple[str, torch.Tensor]]:
        """Mark the nodes that produced the traced function's return value as outputs; returns
        (label, tensor) for each of them, in reading order."""
        tensors = []
        for label, t in _labelled_tensors([(name, result)]):
            nid = self._known(t)
            node = self.graph.node(nid) if nid is not None else None
            if node is None or node.kind != "op":
                out = self.graph.add_node("output", label, "identity", value=self._snap(t))
                if nid is None:
                    nid = self.add_leaf(t, label=label)
                self.graph.add_edge(nid, out.id)
                node = out
            else:
                node.kind = "output"
                if node.label == node.op:
                    node.label = label
            if node.id not in self.graph.outputs:
                self.graph.outputs.append(node.id)
            tensors.append((label, t))
        return tensors


def _bind_inputs(fn: Callable[..., Any], args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """(parameter name, value) pairs for the call, in the function's parameter order."""
    target = fn.forward if isinstance(fn, torch.nn.Module) else fn
    try:
        sig = inspect.signature(target)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, TypeError) and "argument" in str(e):
            raise TraceError(f"the arguments do not fit {getattr(target, '__qualname__', target)!s}: {e}") from None
        return [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    pairs: list[tuple[str, Any]] = []
    for pname, val in bound.arguments.items():
        kind = sig.parameters[pname].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            pairs.extend((f"{pname}[{i}]", v) for i, v in enumerate(val))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            pairs.extend(val.items())
        else:
            pairs.append((pname, val))
    return pairs


def _labelled_tensors(pairs: list[tuple[str, Any]]) -> list[tuple[str, torch.Tensor]]:
    """The tensors inside (name, value) pairs, in reading order, named like ``xs[0]`` or ``out['loss']``
    (lists, tuples and dicts are walked with a stack, not recursion)."""
    found: list[tuple[str, torch.Tensor]] = []
    stack = list(reversed(pairs))
    while stack:
        name, val = stack.pop()
        if isinstance(val, torch.Tensor):
            found.append((name, val))
        elif isinstance(val, (list, tuple)):
            stack.extend(reversed([(f"{name}[{i}]", v) for i, v in enumerate(val)]))
        elif isinstance(val, dict):
            stack.extend(reversed([(f"{name}[{k!r}]", v) for k, v in val.items()]))
    return found


def _register_inputs(rec: _Recorder, pairs: list[tuple[str, Any]]) -> None:
    for name, t in _labelled_tensors(pairs):
        if rec.node_of(t) is None and id(t) not in rec.param_names:
            rec.add_leaf(t, label=name, argument=True)


def record(fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None, *,
           max_elements: int = DEFAULT_MAX_ELEMENTS, input_names: list[str] | None = None,
           output_name: str | None = None, tangents: bool = False) -> Recording:
    """Run ``fn(*args, **kwargs)`` once under the recorder and return what it recorded.

    ``tangents=True``: keep every node's forward-mode tangent (run inside ``forward_ad.dual_level``
    with dual inputs) in ``Recording.tangents``.

    Nothing stays installed afterwards and the modules' buffers hold what they held before, also
    when ``fn`` raises (the user's exception propagates unchanged).
    """
    kwargs = kwargs or {}
    if not callable(fn):
        raise TraceError(f"trace() needs a function or an nn.Module to call, got {type(fn).__name__}")
    if getattr(_ACTIVE, "on", False):
        raise TraceError("trace() was called inside a function that is being traced; graphviz_ad records "
                         "one trace at a time: trace the outer function, or call the inner one untraced")
    if not _LOCK.acquire(timeout=_WAIT_S):  # traces in other threads run one after the other
        raise TraceError(f"another thread's graphviz_ad trace did not finish within {_WAIT_S:g} s; "
                         "graphviz_ad records one trace at a time")
    _ACTIVE.on = True
    rec = None
    try:
        with gc_paused():
            module_root = fn if isinstance(fn, torch.nn.Module) else None
            rec = _ACTIVE.rec = _Recorder(max_elements, sys._getframe(), module_root)
            if tangents:
                rec.tangents = {}
            pairs = list(zip(input_names, args)) if input_names is not None else _bind_inputs(fn, args, kwargs)
            _register_inputs(rec, pairs)
            rec.install()
            try:
                with _Mode(rec):
                    result = fn(*args, **kwargs)  # this frame is the recorder's stop frame
            finally:
                rec.close()
            if rec.error is not None:
                raise TraceError(f"graphviz_ad failed while recording an op: {rec.error!r}; "
                                 "please report this with the code you traced") from rec.error
            marked = rec.mark_outputs(result, output_name or _output_name(fn))
            if not marked:
                raise TraceError(f"the traced function returned {type(result).__name__}, not a tensor; return "
                                 "the tensor(s) to draw (a loss, a prediction, a tuple or dict of tensors)")
            rec.snaps.flush()
            return Recording(rec.graph, result, [t for _, t in marked], rec.autograd_nodes, rec.leaves,
                             max_elements, rec.roots, rec.buffers.states(), [label for label, _ in marked],
                             rec.tangents or {})
    finally:
        if rec is not None:
            rec.close()
            rec.buffers.restore()  # after the values are read: the model's buffers as they were found
        _ACTIVE.on = False
        _ACTIVE.rec = None
        _LOCK.release()


def name_next_op(label: str, source: str, definition: str | None = None) -> None:
    """Name the next op the running trace records (``label``, ``source`` for its tooltip, and its
    ``definition`` over earlier names, ``a / b``): for code that knows better names than the
    recorder can read, such as an expression's evaluator.
    Outside a trace (in this thread) it does nothing."""
    rec = getattr(_ACTIVE, "rec", None)
    if rec is not None:
        rec.hint = (label, source, definition)


def _output_name(fn: Callable[..., Any]) -> str:
    if isinstance(fn, torch.nn.Module):
        return "output"
    name = getattr(fn, "__name__", "output")
    return "output" if name.startswith("<") else name
