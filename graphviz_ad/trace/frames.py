"""Reading the user's Python frames: which code is theirs, what they named a result, which helper call we are in,
which source line made an op and in which order its source wrote the operands."""

from __future__ import annotations

import ast
import dis
import itertools
import linecache
import os
import sysconfig
import types
from typing import Any

import torch

__all__ = ["CodeInfo", "code_info", "assigned_name", "function_label", "find_name", "source_line", "scalar_first",
           "SOURCE_LIMIT"]

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIRS = tuple(
    {os.path.realpath(p) + os.sep for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])}
)
_LIBRARY_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
_STORE_OPS = {"STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL", "STORE_ATTR"}
_RETURN_OPS = {"RETURN_VALUE"}
_SKIP_OPS = {"CACHE", "EXTENDED_ARG", "NOP", "PRECALL", "TO_BOOL"}
SOURCE_LIMIT = 160  # characters of a source line kept per op


class CodeInfo:
    """What we need to know about one code object, computed once and cached."""

    __slots__ = ("user", "library", "next_store", "returns_after", "label", "code", "lines", "operands")

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        # instruction offset -> the stripped source line it is on (None: no source), filled as ops are recorded
        self.lines: dict[int, str | None] = {}
        # instruction offset -> how its source writes a binary + or * (see :func:`scalar_first`), filled on demand
        self.operands: dict[int, bool | tuple[str | None, str | None]] = {}
        fn = code.co_filename
        real = fn if fn.startswith("<") else os.path.realpath(fn)
        self.user = not (
            real.startswith(_TORCH_DIR)
            or real.startswith(_OWN_DIR)
            or (real.startswith(_STDLIB_DIRS) and "site-packages" not in real)
        )
        # an installed library's code: read for names (``hidden_states``), not drawn as the user's helper
        self.library = self.user and any(d in real for d in _LIBRARY_DIRS)
        self.next_store: dict[int, str] = {}
        self.returns_after: set[int] = set()
        self.label = ""
        if self.user:
            self._scan(code)
            self.label = function_label(code)

    def _scan(self, code: types.CodeType) -> None:
        instrs = [i for i in dis.get_instructions(code) if i.opname not in _SKIP_OPS]
        for cur, nxt in zip(instrs, instrs[1:]):
            # f_lasti may point at the instruction or at one of its inline cache entries
            span = range(cur.offset, nxt.offset, 2)
            if nxt.opname in _STORE_OPS and isinstance(nxt.argval, str):
                self.next_store.update(dict.fromkeys(span, nxt.argval))
            elif nxt.opname in _RETURN_OPS:
                self.returns_after.update(span)


_CACHE: dict[types.CodeType, CodeInfo] = {}


def code_info(code: types.CodeType) -> CodeInfo:
    info = _CACHE.get(code)
    if info is None:
        info = _CACHE[code] = CodeInfo(code)
    return info


def function_label(code: types.CodeType) -> str:
    """``inner(x, y)``: the function's name and its parameter names, as a cluster label."""
    name = getattr(code, "co_qualname", code.co_name).rsplit(".<locals>.", 1)[-1]
    n = code.co_argcount + code.co_kwonlyargcount
    params = [p for p in code.co_varnames[:n] if p != "self"]
    if code.co_flags & 0x04:
        params.append("*" + code.co_varnames[n])
    return f"{name}({', '.join(params)})"


def assigned_name(frame: types.FrameType, info: CodeInfo, stop: types.FrameType | None) -> str | None:
    """The variable the instruction at ``frame.f_lasti`` stores its result in, if it is stored at once.

    A result returned straight away takes the name the caller stores the call's result in.
    """
    lasti = frame.f_lasti
    name = info.next_store.get(lasti)
    if name is not None:
        return name
    if lasti in info.returns_after:
        caller = frame.f_back
        if caller is None or caller is stop:
            return None
        cinfo = code_info(caller.f_code)
        if cinfo.user:
            return cinfo.next_store.get(caller.f_lasti)
    return None


def find_name(frame: types.FrameType | None, obj: Any) -> str | None:
    """The name of a local (then global) variable bound to ``obj`` in ``frame``, if any."""
    if frame is None:
        return None
    for scope in (frame.f_locals, frame.f_globals):
        for k, v in scope.items():
            if v is obj and not k.startswith("_"):
                return k
    return None


def source_line(frame: types.FrameType, info: CodeInfo) -> str | None:
    """The source line (stripped) of the instruction ``frame`` is at, once per code offset; None where the
    source cannot be read (exec'd strings, the REPL)."""
    lasti = frame.f_lasti
    lines = info.lines
    if lasti in lines:
        return lines[lasti]
    text = linecache.getline(info.code.co_filename, frame.f_lineno).strip() or None
    if text is not None and len(text) > SOURCE_LIMIT:  # a generated or minified line: its start says enough
        text = text[:SOURCE_LIMIT - 1] + "…"
    lines[lasti] = text
    return text


_SCALAR_TYPES = (int, float, complex, bool)
_ADD_MUL = (ast.Add, ast.Mult)


def _operand_kind(e: ast.expr) -> tuple[str, str | None]:
    """("scalar", None) for a number (``2``, ``-0.5``), ("name", id) for a plain name, ("other", None) else."""
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)):
        e = e.operand
        if isinstance(e, ast.Constant) and isinstance(e.value, _SCALAR_TYPES):
            return "scalar", None
        return "other", None
    if isinstance(e, ast.Constant) and isinstance(e.value, _SCALAR_TYPES):
        return "scalar", None
    if isinstance(e, ast.Name):
        return "name", e.id
    return "other", None


def _segment(code: types.CodeType, lasti: int) -> str | None:
    """The source text of the instruction at ``lasti`` (Python 3.11+: its column span), or None."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return None
    # one entry per 2-byte code unit, inline caches included
    pos = next(itertools.islice(positions(), lasti // 2, None), None)
    if pos is None:
        return None
    line, end_line, col, end_col = pos
    if line is None or end_line is None or col is None or end_col is None:
        return None
    lines = linecache.getlines(code.co_filename)
    if not lines or end_line > len(lines):
        return None
    raw = [ln.encode("utf-8") for ln in lines[line - 1:end_line]]  # column offsets count UTF-8 bytes
    if len(raw) == 1:
        raw[0] = raw[0][col:end_col]
    else:
        raw[0], raw[-1] = raw[0][col:], raw[-1][:end_col]
    try:
        return b"".join(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _binary_operands(code: types.CodeType, lasti: int) -> bool | tuple[str | None, str | None]:
    """How the source of the instruction at ``lasti`` writes a ``+`` or ``*`` (``a + b``, ``s += t``): True where
    a number is on its left (``2 * x``), False where the order is torch's or cannot be read (a number on its
    right, no such operation, no source), else the names on its left and right to look up (``k * x``)."""
    text = _segment(code, lasti)
    if text is None:
        return False
    try:
        tree: ast.AST = ast.parse(f"({text})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            body = ast.parse(text.strip(), mode="exec").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # not the code that ran (file changed)
            return False
        tree = body[0] if len(body) == 1 else ast.Pass()
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, _ADD_MUL):
        left, right = _operand_kind(tree.left), _operand_kind(tree.right)
    elif isinstance(tree, ast.AugAssign) and isinstance(tree.op, _ADD_MUL):
        left, right = _operand_kind(tree.target), _operand_kind(tree.value)
    else:
        return False
    if left[0] == "scalar" or right[0] == "scalar":
        return left[0] == "scalar"
    if left[1] is None and right[1] is None:
        return False
    return left[1], right[1]


_UNBOUND = object()


def _lookup(frame: types.FrameType, name: str) -> Any:
    for scope in (frame.f_locals, frame.f_globals):
        if name in scope:
            return scope[name]
    return _UNBOUND


def scalar_first(frame: types.FrameType, info: CodeInfo, tensor: Any) -> bool:
    """Whether the ``+`` or ``*`` that ``frame`` is executing has a non-tensor on its left in the source
    (``2 * x``, ``1 + z*c``, ``k * x`` with ``k`` a float), though torch is handed ``tensor`` first.

    The source's form is read once per code offset (its column span, parsed with ``ast``); names are
    looked up in the frame only where no number settles it. False wherever the source cannot be read
    (Python before 3.11, exec'd strings, the REPL)."""
    lasti = frame.f_lasti
    operands = info.operands
    form = operands.get(lasti)
    if form is None:
        form = operands[lasti] = _binary_operands(info.code, lasti)
    if form is True or form is False:
        return form
    left, right = form
    if left is not None:
        value = _lookup(frame, left)
        if value is tensor:
            return False
        if value is not _UNBOUND:
            return not isinstance(value, torch.Tensor)
    return right is not None and _lookup(frame, right) is tensor
