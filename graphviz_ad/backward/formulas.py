"""Local derivatives as formulas, per autograd node and input slot (``d tanh(e)/de = 1 - tanh²(e)``)."""

from __future__ import annotations

import re

__all__ = ["local_formula", "paren", "FORMULAS"]

# {a}, {b}: the op's first and second operands (names or numbers); {out}: the op's result;
# G: the upstream gradient. One entry per input slot of the autograd node (next_functions order).
FORMULAS: dict[str, tuple[str, ...]] = {
    "AddBackward0": ("1", "1"),
    "AddBackward1": ("1",),
    "SubBackward0": ("1", "-1"),
    "SubBackward1": ("1",),
    "RsubBackward0": ("-1", "1"),
    "RsubBackward1": ("-1",),
    "MulBackward0": ("{b}", "{a}"),
    "MulBackward1": ("{b}",),
    "DivBackward0": ("1/{b}", "-{a}/{b}²"),
    "DivBackward1": ("1/{b}",),
    "ReciprocalBackward0": ("-1/{a}²",),
    "NegBackward0": ("-1",),
    "PowBackward0": ("{b}·{a}^({b}-1)",),
    "PowBackward1": ("{b}·{a}^({b}-1)", "{a}^{b}·ln({a})"),
    "PowBackward2": ("{out}·ln(base)",),
    "ExpBackward0": ("exp({a})",),
    "LogBackward0": ("1/{a}",),
    "SinBackward0": ("cos({a})",),
    "CosBackward0": ("-sin({a})",),
    "TanBackward0": ("1 + tan²({a})",),
    "TanhBackward0": ("1 - tanh²({a})",),
    "SigmoidBackward0": ("σ({a})·(1 - σ({a}))",),
    "ReluBackward0": ("1 where {a} > 0, else 0",),
    "SqrtBackward0": ("1/(2·√{a})",),
    "AbsBackward0": ("sign({a})",),
    "SumBackward0": ("1 for every element",),
    "SumBackward1": ("1 for every summed element",),
    "MeanBackward0": ("1/n for every element",),
    "MeanBackward1": ("1/n for every averaged element",),
    "MmBackward0": ("G·{b}ᵀ", "{a}ᵀ·G"),
    "BmmBackward0": ("G·{b}ᵀ", "{a}ᵀ·G"),
    "MvBackward0": ("G ⊗ {b}", "{a}ᵀ·G"),
    "DotBackward0": ("{b}", "{a}"),
    "AddmmBackward0": ("G summed over the batch", "G·Wᵀ", "Xᵀ·G"),
    "TBackward0": ("Gᵀ (transpose back)",),
    "ViewBackward0": ("G reshaped back",),
    "UnsafeViewBackward0": ("G reshaped back",),
    "ReshapeAliasBackward0": ("G reshaped back",),
    "ExpandBackward0": ("G summed over the broadcast dims",),
    "MseLossBackward0": ("2·({a} - {b})/n", "-2·({a} - {b})/n"),
    "SoftmaxBackward0": ("s ⊙ (G - Σ G⊙s), s = softmax({a})",),
    "LogSoftmaxBackward0": ("G - softmax({a})·ΣG",),
    "NllLossBackward0": ("-1/n at each target class",),
}


def local_formula(grad_fn: str, slot: int, out: str, operands: list[str]) -> str | None:
    """``∂out/∂in`` for input slot ``slot`` of autograd node ``grad_fn``, or None when unknown."""
    templates = FORMULAS.get(grad_fn)
    if templates is None or slot >= len(templates):
        return None
    a = operands[0] if operands else "x"
    b = operands[1] if len(operands) > 1 else "y"
    # an operand already between a function's parentheses (tanh²({a})) gets no second pair
    template = templates[slot].replace("({a})", "(" + a.replace("{", "{{").replace("}", "}}") + ")")
    return template.format(a=paren(a), b=paren(b), out=paren(out))


_AMBIGUOUS = re.compile(r"[ +\-*/^]")


def paren(name: str) -> str:
    """Wrap a name in parentheses where it would read ambiguously inside a formula."""
    return f"({name})" if _AMBIGUOUS.search(name) else name
