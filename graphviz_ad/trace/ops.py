"""Names of recorded torch calls: ``Tensor.__rmul__`` is drawn as ``mul``, ``torch.sin`` as ``sin``."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["op_name", "ARITHMETIC", "format_args"]

_DUNDER = {
    "add": "add", "radd": "add", "iadd": "add_",
    "sub": "sub", "rsub": "sub", "isub": "sub_",
    "mul": "mul", "rmul": "mul", "imul": "mul_",
    "truediv": "div", "rtruediv": "div", "div": "div", "rdiv": "div", "itruediv": "div_",
    "floordiv": "floor_divide", "rfloordiv": "floor_divide",
    "mod": "remainder", "rmod": "remainder",
    "pow": "pow", "rpow": "pow", "ipow": "pow_",
    "matmul": "matmul", "rmatmul": "matmul",
    "neg": "neg", "pos": "positive", "abs": "abs", "invert": "bitwise_not",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lt": "lt", "le": "le", "gt": "gt", "ge": "ge", "eq": "eq", "ne": "ne",
    "getitem": "getitem", "setitem": "setitem",
}

# Ops whose Python-number operands are drawn as constant nodes (the 2 in 2*x).
ARITHMETIC = frozenset(
    {
        "add", "sub", "mul", "div", "pow", "rsub", "true_divide", "remainder", "floor_divide",
        "fmod", "add_", "sub_", "mul_", "div_", "pow_", "maximum", "minimum", "atan2",
        "lt", "le", "gt", "ge", "eq", "ne", "multiply", "divide", "subtract",
    }
)

_CACHE: dict[Any, str] = {}


def op_name(func: Callable[..., Any]) -> str:
    """A short, stable op name for a torch callable."""
    try:
        return _CACHE[func]
    except (KeyError, TypeError):
        pass
    name = getattr(func, "__name__", None) or type(func).__name__
    if name.startswith("__") and name.endswith("__"):
        name = _DUNDER.get(name[2:-2], name[2:-2])
    if name == "rsub":
        name = "sub"
    try:
        _CACHE[func] = name
    except TypeError:
        pass
    return name


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)) and len(v) > 6:
        return f"[{len(v)} items]"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    r = repr(v)
    return r if len(r) <= 24 else r[:21] + "..."


def format_args(positional: list[Any], keywords: dict[str, Any]) -> str:
    """Non-tensor arguments as a short text: ``1, keepdim=True``."""
    parts = [_short(v) for v in positional]
    parts += [f"{k}={_short(v)}" for k, v in keywords.items()]
    text = ", ".join(parts)
    return text if len(text) <= 48 else text[:45] + "..."
