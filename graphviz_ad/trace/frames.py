"""Reading the user's Python frames: which code is theirs, what they named a result, which helper call we are in."""

from __future__ import annotations

import dis
import os
import sysconfig
import types
from typing import Any

import torch

__all__ = ["CodeInfo", "code_info", "assigned_name", "function_label", "find_name"]

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIRS = tuple(
    {os.path.realpath(p) + os.sep for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])}
)
_LIBRARY_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
_STORE_OPS = {"STORE_FAST", "STORE_NAME", "STORE_DEREF", "STORE_GLOBAL", "STORE_ATTR"}
_RETURN_OPS = {"RETURN_VALUE"}
_SKIP_OPS = {"CACHE", "EXTENDED_ARG", "NOP", "PRECALL", "TO_BOOL"}


class CodeInfo:
    """What we need to know about one code object, computed once and cached."""

    __slots__ = ("user", "library", "next_store", "returns_after", "label")

    def __init__(self, code: types.CodeType) -> None:
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
