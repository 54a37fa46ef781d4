"""Expression strings for the CLI: parsed with ``ast`` against an allow-list, evaluated by walking the tree.

User text is never passed to eval, exec or compile-and-run. Only numbers, the names given
with ``--at``, ``pi`` and ``e``, the operators + - * / ** @ and unary minus, and calls of
the functions in :data:`FUNCTIONS` are accepted; the work an expression can ask for is bounded.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..errors import ExpressionError, GraphvizADError

__all__ = ["Expression", "parse_expression", "short_names", "parse_value", "trace_expression", "backward_from_ones", "FUNCTIONS",
           "LIMITS"]

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "asin": torch.asin, "acos": torch.acos,
    "atan": torch.atan, "sinh": torch.sinh, "cosh": torch.cosh, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "exp": torch.exp, "log": torch.log, "ln": torch.log, "log2": torch.log2,
    "log10": torch.log10, "log1p": torch.log1p, "expm1": torch.expm1, "sqrt": torch.sqrt,
    "abs": torch.abs, "relu": torch.relu, "gelu": F.gelu, "softplus": F.softplus, "silu": F.silu,
    "square": torch.square, "sign": torch.sign, "sum": torch.sum, "mean": torch.mean, "prod": torch.prod,
    "matmul": torch.matmul, "mm": torch.mm, "dot": torch.dot, "pow": torch.pow,
    "maximum": torch.maximum, "minimum": torch.minimum, "atan2": torch.atan2,
    "softmax": torch.softmax, "log_softmax": torch.log_softmax,
}
_NEEDS_DIM = {"softmax", "log_softmax"}
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}


@dataclass(frozen=True)
class Limits:
    chars: int = 2000
    nodes: int = 400
    depth: int = 60
    value_chars: int = 100_000
    elements: int = 1_000_000
    dims: int = 8


LIMITS = Limits()


def _fail(msg: str, source: str, node: ast.AST | None = None) -> ExpressionError:
    offset = getattr(node, "col_offset", None) if node is not None else None
    return ExpressionError(msg, source, offset)


def _parse(text: str, what: str) -> ast.Expression:
    if "\x00" in text:
        raise ExpressionError(f"the {what} contains a NUL byte; remove it", None, None)
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as e:
        offset = (e.offset - 1) if e.offset else len(text)  # 0: at the end of the text
        offset = min(max(offset, 0), len(text)) if (e.lineno or 1) == 1 else None
        raise ExpressionError(f"syntax error in the {what}: {e.msg}", text, offset) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"the {what} is nested too deeply to parse", None, None) from None


def _depth_and_size(tree: ast.AST, text: str) -> None:
    """Refuse expressions too large (parts) or too deeply nested (parentheses and calls); a flat chain
    such as ``x+x+...+x`` is limited by its length, not called nesting: the left operand of a binary
    operator continues its chain at the same depth."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > LIMITS.nodes:
            raise ExpressionError(f"the expression is too long (more than {LIMITS.nodes} parts: numbers, names, "
                                  "operators and calls); split it into smaller pieces", None, None)
        if depth > LIMITS.depth:
            raise _fail(f"the expression is nested too deeply (more than {LIMITS.depth} levels of parentheses "
                        "or calls)", text, node)
        if isinstance(node, ast.BinOp):
            stack.append((node.left, depth))  # a chain a + b + c: one level, however long
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node) if c is not node.left)
        else:
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))


@dataclass
class Expression:
    """A checked expression: its text, tree and the free names it uses (in order of appearance)."""

    text: str
    tree: ast.Expression
    names: list[str]

    def evaluate(self, values: dict[str, Any], hint: Callable[[str, str, str | None], None] | None = None,
                 names: str = "short", output_name: str = "f") -> Any:
        """Evaluate with ``values`` for the names; ``hint(label, source, definition)`` is called before each op.

        ``names="short"``: each op is named as the lesson names intermediates (:func:`short_names`),
        its source the defining expression over earlier names (``c`` and ``a / b``); ``"full"``:
        named by its whole subexpression (at most 24 characters), as before.
        """
        short = short_names(self, output_name) if names == "short" else None
        results: dict[int, Any] = {}
        for node in _postorder(self.tree.body):
            defined = short.get(id(node)) if short is not None else None
            results[id(node)] = self._apply(node, [results[id(c)] for c in _operands(node)], values, hint, defined)
        return results[id(self.tree.body)]

    def _apply(self, node: ast.AST, args: list[Any], values: dict[str, Any],
               hint: Callable[[str, str, str | None], None] | None,
               label_definition: tuple[str, str] | None = None) -> Any:
        text = self.text
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id] if node.id in values else CONSTANTS[node.id]
        seg = ast.get_source_segment(text, node) or ""
        if all(not isinstance(a, torch.Tensor) for a in args):
            return _fold(node, args)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return args[0]  # no op: nothing to name
        if hint is not None:
            if label_definition is not None:
                hint(label_definition[0], seg, label_definition[1])
            else:
                hint(seg if len(seg) <= 24 else "", seg, None)
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](args[0], args[1])
        if isinstance(node, ast.UnaryOp):
            return -args[0] if isinstance(node.op, ast.USub) else args[0]
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        name = node.func.id
        kwargs = {str(kw.arg): int(kw.value.value) for kw in node.keywords}  # type: ignore[attr-defined]
        if name in ("maximum", "minimum", "atan2", "matmul", "mm", "dot"):
            args = [a if isinstance(a, torch.Tensor) else torch.tensor(a) for a in args]
        return FUNCTIONS[name](*args, **kwargs)


_SHORT = "abcdefghijklmnopqrstuvwxyz"


def _is_op(node: ast.AST, variables: set[str]) -> bool:
    """Whether ``node`` computes a tensor (an op is recorded): it reads a variable, and is not ``+x``."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        return False
    return isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)) and any(
        isinstance(n, ast.Name) and n.id in variables for n in ast.walk(node))


def short_names(expr: "Expression", output_name: str = "f") -> dict[int, tuple[str, str]]:
    """The lesson's names of an expression's ops: ``id(ast node) -> (label, defining text)``.

    In forward order the intermediates are named a, b, c, ... (skipping the names the expression
    uses and ``output_name``), each defined over earlier names: ``c`` is ``a / b``. A product (or a
    negation) that is a term of a sum is written inline rather than named, as the lesson writes
    ``d = 1 + z*c``: its label is its text (``z * c``). The result gets label "" (the recorder names
    it ``output_name``) and its definition (``tanh(e)``).
    """
    variables = set(expr.names)
    used = {n.id for n in ast.walk(expr.tree) if isinstance(n, ast.Name)} | {output_name}
    pool = (name for k in range(1000) for name in ((c + (str(k + 1) if k else "")) for c in _SHORT)
            if name not in used)
    parent: dict[int, ast.AST] = {}
    for node in ast.walk(expr.tree.body):
        for c in _operands(node):
            parent[id(c)] = node
    shown: dict[int, ast.expr] = {}  # an op as its operands read it: its name, or itself written inline
    out: dict[int, tuple[str, str]] = {}
    root = expr.tree.body
    for node in _postorder(root):
        if not _is_op(node, variables):
            continue
        text = ast.unparse(_with_operands(node, shown)).replace(" * ", "*")  # 2*x, z*c as the lesson writes
        up = parent.get(id(node))
        term = (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
                or isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub))
        if node is root:
            out[id(node)] = ("", text)
        elif term and isinstance(up, ast.BinOp) and isinstance(up.op, (ast.Add, ast.Sub)):
            out[id(node)] = (text, text)
            shown[id(node)] = _with_operands(node, shown)
        else:
            name = next(pool)
            out[id(node)] = (name, text)
            shown[id(node)] = ast.Name(id=name, ctx=ast.Load())
    return out


def _with_operands(node: ast.AST, shown: dict[int, ast.expr]) -> ast.expr:
    """A copy of ``node`` whose operands that are ops read as ``shown`` gives them."""
    def sub(c: ast.expr) -> ast.expr:
        return shown.get(id(c), c)
    if isinstance(node, ast.BinOp):
        return ast.BinOp(left=sub(node.left), op=node.op, right=sub(node.right))
    if isinstance(node, ast.UnaryOp):
        return ast.UnaryOp(op=node.op, operand=sub(node.operand))
    assert isinstance(node, ast.Call)
    return ast.Call(func=node.func, args=[sub(a) for a in node.args], keywords=node.keywords)


def _fold(node: ast.AST, args: list[Any]) -> float:
    """Arithmetic on plain numbers, in floats (no big integers): overflow gives inf."""
    try:
        if isinstance(node, ast.BinOp):
            return float(_BINOPS[type(node.op)](args[0], args[1]))
        if isinstance(node, ast.UnaryOp):
            return -args[0] if isinstance(node.op, ast.USub) else args[0]
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return float(FUNCTIONS[node.func.id](torch.tensor(args[0], dtype=torch.float64), *args[1:]))
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.nan if args[0] == 0 else math.copysign(math.inf, args[0])
    except (ValueError, TypeError):
        return math.nan


def _postorder(root: ast.AST) -> Iterator[ast.AST]:
    """``root``'s tree, each node after its operands (left to right): forward order, without recursion."""
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            yield node
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(_operands(node)))


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def parse_expression(text: str, allowed_names: set[str] | None = None) -> Expression:
    """Check ``text`` against the allow-list and return an :class:`Expression`."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the expression is empty; write one such as 'tanh(log(1 + z*(2*x/sin(y))))'")
    if len(text) > LIMITS.chars:
        raise ExpressionError(f"the expression is too long ({len(text)} characters, at most {LIMITS.chars})")
    if "\n" in text.strip() or "\r" in text:
        raise ExpressionError("the expression must be on one line")
    text = text.strip()
    tree = _parse(text, "expression")
    _depth_and_size(tree, text)
    names: list[str] = []
    for node in ast.walk(tree):
        _check(node, text, allowed_names)
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS and node.id not in CONSTANTS:
            if node.id not in names:
                names.append(node.id)
    names.sort(key=lambda n: text.find(n))
    return Expression(text, tree, names)


# names people reach for that the allow-list spells differently
_ALIASES = {"max": "maximum", "min": "minimum", "arctan2": "atan2", "arcsin": "asin", "arccos": "acos",
            "arctan": "atan", "logistic": "sigmoid", "power": "pow", "absolute": "abs"}


def _did_you_mean(name: str, known: Any) -> str:
    """``did you mean 'maximum'? `` for a near miss of a known name, else ""."""
    import difflib

    known = sorted(known)
    guess = _ALIASES.get(name) if _ALIASES.get(name) in known else None
    if guess is None:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        guess = close[0] if close else None
    return f"did you mean {guess!r}? " if guess else ""


def _check(node: ast.AST, text: str, allowed_names: set[str] | None) -> None:
    if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINOPS or isinstance(node, (ast.USub, ast.UAdd)):
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _fail(f"the operator {type(node.op).__name__} is not allowed; use + - * / ** @", text, node)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _fail("only unary minus and plus are allowed", text, node)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _fail(f"only numbers are allowed as constants, not {node.value!r}"[:120], text, node)
        if isinstance(node.value, int) and abs(node.value) > 10**300:
            raise _fail("this number is too large", text, node)
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            return
        if node.id in CONSTANTS:
            return
        if allowed_names is not None and node.id not in allowed_names:
            given = ", ".join(sorted(allowed_names)) or "none"
            near = _did_you_mean(node.id, [*allowed_names, *CONSTANTS])
            raise _fail(f"unknown name {node.id!r}: {near}give its value with --at {node.id}=VALUE "
                        f"(values given: {given})", text, node)
        if not node.id.isidentifier() or node.id.startswith("_"):
            raise _fail(f"the name {node.id!r} is not allowed", text, node)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = ast.get_source_segment(text, node.func) or "this"
            near = _did_you_mean(node.func.id, FUNCTIONS) if isinstance(node.func, ast.Name) else ""
            raise _fail(f"calling {what!r} is not allowed; {near}allowed functions: {', '.join(sorted(FUNCTIONS))}",
                        text, node)
        for kw in node.keywords:
            if kw.arg != "dim" or not isinstance(kw.value, ast.Constant) or type(kw.value.value) is not int:
                raise _fail("the only keyword allowed is dim=<integer>", text, kw.value)
        if node.func.id in _NEEDS_DIM and not node.keywords and len(node.args) < 2:
            raise _fail(f"{node.func.id} needs a dimension: {node.func.id}(x, dim=0)", text, node)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _fail("*arguments are not allowed", text, a)
        return
    if isinstance(node, ast.keyword):
        return
    kind = {"Attribute": "attribute access", "Subscript": "subscripts", "Lambda": "lambdas",
            "ListComp": "comprehensions", "GeneratorExp": "comprehensions", "DictComp": "comprehensions",
            "SetComp": "comprehensions", "Compare": "comparisons", "BoolOp": "and/or",
            "IfExp": "conditional expressions", "NamedExpr": "assignments", "JoinedStr": "strings",
            "List": "lists (give tensors with --at)", "Tuple": "tuples", "Dict": "dicts", "Set": "sets",
            "Await": "await", "Yield": "yield", "Starred": "*arguments", "Slice": "slices"}.get(
        type(node).__name__, type(node).__name__)
    raise _fail(f"not allowed in an expression: {kind}", text, node)


def parse_value(name: str, text: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A ``--at`` value: a number or a nested list of numbers (nan and inf allowed) -> tensor."""
    what = f"value of {name}"
    if len(text) > LIMITS.value_chars:
        raise ExpressionError(f"the {what} is too long ({len(text)} characters, at most {LIMITS.value_chars})")
    tree = _parse(text.strip(), what)
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > LIMITS.dims:
            raise ExpressionError(f"the {what} has more than {LIMITS.dims} nested levels")
        if isinstance(node, (ast.List, ast.Tuple)):
            stack.extend((e, depth + 1) for e in node.elts)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            stack.append((node.operand, depth))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            count += 1
        elif isinstance(node, ast.Name) and node.id in ("nan", "inf"):
            count += 1
        else:
            raise ExpressionError(f"the {what} must be a number or a nested list of numbers, e.g. "
                                  f"{name}=1.5 or {name}=[[1,2],[3,4]]; got {text[:40]!r}")
        if count > LIMITS.elements:
            raise ExpressionError(f"the {what} has more than {LIMITS.elements} numbers")
    data = _to_python(tree.body)
    try:
        t = torch.tensor(data, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise ExpressionError(f"the {what} is not a rectangular list of numbers: {e}") from None
    return t.requires_grad_(True)


def _to_python(node: ast.AST) -> Any:
    """Convert a checked literal tree to Python data, iteratively."""
    results: dict[int, Any] = {}
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        n, ready = stack.pop()
        children = list(n.elts) if isinstance(n, (ast.List, ast.Tuple)) else (
            [n.operand] if isinstance(n, ast.UnaryOp) else [])
        if not ready:
            stack.append((n, True))
            stack.extend((c, False) for c in children)
            continue
        if isinstance(n, (ast.List, ast.Tuple)):
            results[id(n)] = [results[id(c)] for c in children]
        elif isinstance(n, ast.UnaryOp):
            v = results[id(children[0])]
            results[id(n)] = -v if isinstance(n.op, ast.USub) else v
        elif isinstance(n, ast.Name):
            results[id(n)] = float(n.id)
        else:
            results[id(n)] = float(n.value)  # type: ignore[attr-defined]
    return results[id(node)]


def trace_expression(text: str, values: dict[str, torch.Tensor], *, output_name: str = "f",
                     names: str = "short") -> Any:
    """Parse ``text``, check every name has a value, and trace its evaluation (returns a Trace).

    ``names``: ``"short"`` names the intermediates a, b, c, ... as the lesson does (:func:`short_names`),
    ``"full"`` by their whole subexpressions."""
    if names not in ("short", "full"):
        raise ExpressionError(f"names must be 'short' or 'full', not {names!r}")
    from ..api import Trace
    from ..trace.recorder import name_next_op, record

    expr = parse_expression(text, set(values))
    if not expr.names:
        raise ExpressionError(f"the expression {text!r} uses no variable, so there is no graph to draw: write it "
                              "over variables and give their values, e.g. 'x + 3' with --at x=2")
    missing = [n for n in expr.names if n not in values]
    if missing:
        raise ExpressionError(f"no value for {', '.join(missing)}: add " + " ".join(f"--at {n}=VALUE" for n in missing))
    unused = [n for n in values if n not in expr.names]
    if unused:
        raise ExpressionError(f"--at {unused[0]}=...: {unused[0]!r} does not appear in the expression {text!r}")
    order = list(values)

    def evaluate(*tensors: torch.Tensor) -> Any:
        return expr.evaluate(dict(zip(order, tensors)), name_next_op, names, output_name)

    try:
        rec = record(evaluate, tuple(values[n] for n in order), input_names=order, output_name=output_name)
    except GraphvizADError:
        raise
    except (RuntimeError, IndexError, TypeError, ValueError) as e:
        raise ExpressionError(f"PyTorch could not evaluate the expression: {str(e).splitlines()[0]}") from None
    return Trace(rec, (evaluate, tuple(values[n] for n in order), {}))


def backward_from_ones(t: Any) -> Any:
    """Run the backward of a traced expression; a result with several elements starts from ones
    (the gradient of the sum of its elements)."""
    out = t.output
    return t.backward(None if out.numel() == 1 else torch.ones_like(out))
