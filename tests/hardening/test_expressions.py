"""Expression input under attack: random valid expressions equal torch; garbage is refused, fast, harmlessly."""

from __future__ import annotations

import math
import time

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphviz_ad.frontends.cli import cli
from graphviz_ad.recipes.expr import parse_value, trace_expression

UNARY = {"sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "exp": torch.exp,
         "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs, "relu": torch.relu}
BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
NAMES = ("x", "y", "z")

leaf = st.one_of(st.sampled_from(NAMES).map(lambda n: ("var", n)),
                 st.sampled_from([0.5, 1.0, 2.0, 3.0]).map(lambda c: ("const", c)))


def extend(children):
    return st.one_of(
        st.tuples(st.just("un"), st.sampled_from(sorted(UNARY)), children),
        st.tuples(st.just("bin"), st.sampled_from(sorted(BINARY)), children, children),
        st.tuples(st.just("neg"), children),
        st.tuples(st.just("pow"), children, st.sampled_from([2, 3])),
    )


trees = st.recursive(leaf, extend, max_leaves=12)


def text(tree) -> str:
    kind = tree[0]
    if kind == "var":
        return tree[1]
    if kind == "const":
        return repr(tree[1])
    if kind == "un":
        return f"{tree[1]}({text(tree[2])})"
    if kind == "bin":
        return f"({text(tree[2])} {tree[1]} {text(tree[3])})"
    if kind == "neg":
        return f"-({text(tree[1])})"
    return f"({text(tree[1])})**{tree[2]}"


def oracle(tree, env):
    """Evaluate the tree with torch directly (numbers stay Python floats, as the tool folds them)."""
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "const":
        return tree[1]
    if kind == "un":
        a = oracle(tree[2], env)
        return UNARY[tree[1]](a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64)).item() \
            if not isinstance(a, torch.Tensor) else UNARY[tree[1]](a)
    if kind == "bin":
        a, b = oracle(tree[2], env), oracle(tree[3], env)
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            try:
                return float(BINARY[tree[1]](a, b))
            except ZeroDivisionError:
                return math.nan if a == 0 else math.copysign(math.inf, a)
        return BINARY[tree[1]](a, b)
    if kind == "neg":
        return -oracle(tree[1], env)
    a = oracle(tree[1], env)
    return a ** tree[2] if isinstance(a, torch.Tensor) else float(a) ** tree[2]


def variables(tree) -> set[str]:
    if tree[0] == "var":
        return {tree[1]}
    return set().union(*(variables(c) for c in tree[1:] if isinstance(c, tuple)))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees, st.tuples(*[st.floats(-3, 3, allow_nan=False, width=32)] * 3))
def test_random_expressions_equal_torch(tree, vals):
    expr = text(tree)
    used = [n for n in NAMES if n in variables(tree)]
    if not used:
        return
    values = {n: parse_value(n, repr(float(v))) for n, v in zip(NAMES, vals) if n in used}
    t = trace_expression(expr, values)
    env = {n: torch.tensor(values[n].item(), requires_grad=True) for n in used}
    want = oracle(tree, env)
    out = t.output
    assert same(out.item(), want.item() if isinstance(want, torch.Tensor) else want), expr
    if not out.requires_grad or not isinstance(want, torch.Tensor) or not want.requires_grad:
        return
    t.backward()
    grads = torch.autograd.grad(want, [env[n] for n in used], allow_unused=True)
    for n, g in zip(used, grads):
        got = t.node(n).grad
        assert got is not None or g is None
        if g is not None:
            assert same(got.scalar(), g.item()), (expr, n)


GARBAGE = [
    "", "   ", "x +", ")(", "x $ y", "((((((((((x", "(" * 300 + "x" + ")" * 300, "-" * 5000 + "x",
    "x+" * 3000 + "x", "9**9**9**9**9", "x ** 10**400", "x＋1", "x\x00+1", "x.__class__", "x.grad",
    "x[0]", "x[::-1]", "lambda: x", "[x for x in y]", "{x: 1}", "(x, y)", "x if x else y", "x < y",
    "x and y", "(x := 3)", "f'{x}'", "'a' * x", "__import__('os').system('touch pwned')", "open('pwned', 'w')",
    "eval('1')", "exec('1')", "getattr(x, 'grad')", "sin.__globals__", "torch.sin(x)", "print(x)",
    "sum(x, dim=x)", "softmax(x)", "x @", "@x", "x; y", "x\ny", "\\x", "`x`", "$(touch pwned)", "x" * 3000,
    "b'x'", "...", "None", "True + x", "await x", "yield x", "*x", "x(1)", "sin(*x)", "sin(x=1)",
]


@pytest.mark.parametrize("expr", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_refused_quickly_with_a_short_message(expr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    res = CliRunner().invoke(cli, ["render", expr, "--at", "x=1", "--at", "y=2", "-o", "out.svg"])
    elapsed = time.perf_counter() - start
    assert res.exit_code != 0, (expr, res.output)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    error_lines = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and len(error_lines[0]) < 400, res.output
    assert elapsed < 3.0
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing "pwned"


@pytest.mark.parametrize("value, message", [
    ("[" * 20 + "1" + "]" * 20, "nested levels"),
    ("[" + "1," * 60000 + "1]", "too long"),
    ("__import__('os')", "must be a number"),
    ("1e999999", None),
    ("[1, nan, inf, -inf]", None),
])
def test_at_values_are_bounded(value, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["render", "sum(x)", "--at", f"x={value}", "--format", "json"])
    if message is None:
        assert res.exit_code == 0, res.output
    else:
        assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_enormous_tensor_sizes_are_refused_before_allocating():
    with pytest.raises(Exception, match="too long|more than"):
        parse_value("x", "[" + ",".join(["0"] * 1_200_000) + "]")
