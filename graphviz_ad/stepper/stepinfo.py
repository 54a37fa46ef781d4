"""What each backward step says, as display text: title, upstream, sum and chain-rule terms."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from itertools import zip_longest
from typing import NamedTuple

from ..model.graph import Graph, Node
from ..model.steps import Contribution, Local, Step
from ..model.values import Value
from ..render.format import Memo, clean_text, fmt_value

__all__ = ["Term", "StepView", "step_view", "step_views", "op_expression", "value_text", "ValueTexts"]

_NAME = re.compile(r"[\w.]+")  # a variable or parameter name (x, mul, layers.0.weight), not an expression
_INFIX = {"add": " + ", "mul": "*", "sub": " - ", "div": " / ", "true_divide": " / ", "pow": "**", "matmul": " @ ",
          "floor_divide": " // ", "remainder": " % "}
# The recorder flags a reflected call (1 - x is x.__rsub__(1)): its operands are shown the other way round.
# torch.sub and friends called with keyword or extra arguments keep the function form.
_UNORDERED = frozenset({"rsub"})


class Term(NamedTuple):
    """One chain-rule term: upstream × local = contribution, sent to ``to``.

    A named tuple, as :class:`StepView`: one or more is made per step."""

    to: str  # the label of the input that receives the contribution
    formula: str  # the local derivative as a formula (``∂mul/∂z = c``), or just ``∂mul/∂z``
    local: str  # its number, "" where autograd gives none (custom functions, tensors)
    contrib: str  # the contribution, "" where none was passed

    def text(self) -> str:
        """``× ∂mul/∂z = c = 2.1995 → z: 0.019377``."""
        local = f" = {self.local}" if self.local else ""
        contrib = f": {self.contrib}" if self.contrib else ""
        return f"× {self.formula}{local} → {self.to}{contrib}"


class StepView(NamedTuple):
    """A step of the backward record as the stepper shows it (every number already formatted).

    A named tuple (immutable, and made faster than a frozen dataclass): one is made per step."""

    index: int  # type: ignore[assignment]  # the step's index, in place of tuple.index (never used)
    node: str
    label: str
    grad_fn: str
    leaf: bool
    internal: bool
    expr: str
    upstream: str
    incoming: tuple[str, ...] = ()
    terms: tuple[Term, ...] = ()
    completes: tuple[str, ...] = ()  # labels of the nodes whose gradient this step completed (its last part)

    @property
    def complete_notes(self) -> list[str]:
        """``∇a complete (from step 6)`` for every node whose gradient this step completed."""
        return [f"∇{to if _NAME.fullmatch(to) else f'({to})'} complete (from step {self.number})"
                for to in self.completes]

    @property
    def number(self) -> int:
        """The step's number as shown everywhere (transcript, frames, page): counted from 1."""
        return self.index + 1

    @property
    def title(self) -> str:
        """``MulBackward0 (mul = z*c)``; a leaf step reads ``x.grad``."""
        if self.leaf:
            return f"{self.label}.grad"
        return f"{self.grad_fn} ({self.expr})" if self.expr else self.grad_fn

    @property
    def heading(self) -> str:
        """The panel's heading: the title, and for a leaf ``AccumulateGrad (leaf x)``."""
        return f"{self.grad_fn} (leaf {self.label})" if self.leaf else self.title

    @property
    def sum_text(self) -> str:
        """``0.1 + 0.2`` where several consumers sent a gradient, else ""."""
        return " + ".join(self.incoming) if len(self.incoming) >= 2 else ""

    @property
    def upstream_text(self) -> str:
        """The upstream gradient, as its sum where there is one: ``0.1 + 0.2 = 0.3``."""
        return f"{self.sum_text} = {self.upstream}" if self.sum_text else self.upstream


def value_text(v: Value | None, digits: int) -> str:
    """A value on one line (tensor summaries span two lines in node labels)."""
    if v is None:
        return "none"
    return fmt_value(v, digits).replace("\n", "; ")


class ValueTexts:
    """:func:`value_text` with each value formatted once: a step's upstream is the contribution an
    earlier step sent, and reappears in the step's incoming list, so most values recur.

    Keyed by the value's identity; use it only while the values it has seen are alive (one pass
    over a trace's steps).
    """

    def __init__(self, digits: int) -> None:
        self.digits = digits
        self._texts: dict[int, str] = {}

    def __call__(self, v: Value | None) -> str:
        if v is None:
            return "none"
        text = self._texts.get(id(v))
        if text is None:
            text = self._texts[id(v)] = value_text(v, self.digits)
        return text


def _short(name: str) -> str:
    """An operand of an infix expression, in parentheses where it would read ambiguously."""
    if any(c in name for c in " +-*/") and not name.lstrip("-").replace(".", "", 1).isdigit():
        return f"({name})"
    return name


def _product(text: str) -> bool:
    """``z*c``: a product of names or numbers, which needs no parentheses as a term of a sum."""
    return all(_NAME.fullmatch(part) for part in text.split("*"))


def op_expression(node: Node, graph: Graph, operand_label: Callable[[str], str] | None = None) -> str:
    """``mul = z*c``, ``b = sin(y)``, ``g = 1 - e`` (a reflected call's operands in the source's order), or "".

    A node whose label is already an expression (``sin(y)``, from the expression front end)
    is shown as that label alone. ``operand_label``: an operand's label as shown (cleaned, at
    most 40 characters) by node id, where the caller keeps them.
    """
    if node.kind not in ("op", "output"):
        return ""
    label = clean_text(node.label, 60)
    if node.definition is not None:
        definition = clean_text(node.definition, 80)
        return label if definition == label else f"{label} = {definition}"
    if not _NAME.fullmatch(node.label):
        return label
    label_of = operand_label or (lambda o: clean_text(graph.node(o).label, 40))
    names = [_inline(graph.node(o), graph, label_of) or label_of(o) for o in node.operands]
    return f"{label} = {_rhs(node, names)}"


def _inline(operand: Node, graph: Graph, label_of: Callable[[str], str]) -> str:
    """An unnamed intermediate (labelled by its op: ``mul``) as its short expression over named values
    (``z*c``), so that ``d = z*c + 1`` reads, not ``d = mul + 1``; "" for a named one."""
    if operand.kind != "op" or operand.label != operand.op or operand.definition is not None:
        return ""
    return _rhs(operand, [label_of(o) for o in operand.operands])


def _rhs(node: Node, names: list[str]) -> str:
    """The right-hand side of ``node``'s definition over its operands' ``names``, in the source's order
    (``1 + z*c`` where Python called ``(z*c).__radd__(1)``)."""
    if "reflected" in node.flags and len(names) == 2:
        names = names[::-1]
    sep = _INFIX.get(node.op)
    if sep is not None and len(names) >= 2 and not node.args:
        rhs = sep.join(n if sep == " + " and _product(n) else _short(n) for n in names)
    elif node.op in _UNORDERED and len(names) >= 2:
        rhs = f"{node.op} of {', '.join(names)}"
    else:
        rhs = f"{node.op}({', '.join(names + ([clean_text(node.args, 48)] if node.args else []))})"
    return rhs


class _Views:
    """Step views of one graph: node labels, expressions and values each made displayable once."""

    def __init__(self, graph: Graph, text: ValueTexts) -> None:
        self.graph = graph
        self.node = graph.node
        self.text = text
        # clean_text by text: node labels and formulas recur (a loop's thousand ops have a handful)
        self.operand_labels = Memo(partial(clean_text, limit=40))  # as an operand or a term's target
        self.names = Memo(partial(clean_text, limit=48))  # a step's node label
        self.formulas = Memo(partial(clean_text, limit=120))
        self._expressions: dict[str, str] = {}  # node id -> its expression
        self._texts: dict[tuple[str, ...], str] = {}  # what an expression is made of -> the expression

    def label(self, nid: str) -> str:
        """Node ``nid``'s label cut at 40 characters."""
        return self.operand_labels[self.node(nid).label]

    def shown(self, nid: str) -> str:
        """Node ``nid`` as an operand reads: its label, or an unnamed intermediate's expression (``z*c``)."""
        return _inline(self.node(nid), self.graph, self.label) or self.label(nid)

    def expression(self, node: Node) -> str:
        """:func:`op_expression` of ``node``, kept by node (several steps of one op) and made once per
        distinct input (kind, label, op, arguments, operands' labels): a loop's ops repeat a few."""
        known = self._expressions.get(node.id)
        if known is None:
            key = (node.kind, node.label, node.op, node.args, node.definition, *map(self.shown, node.operands))
            known = self._texts.get(key)
            if known is None:
                known = self._texts[key] = op_expression(node, self.graph, self.label)
            self._expressions[node.id] = known
        return known

    def term(self, step: Step, loc: Local | None, con: Contribution | None) -> Term | None:
        target = (loc.to if loc is not None else None) or (con.to if con is not None else None)
        grad_fn = (loc.to_grad_fn if loc is not None else None) or (con.to_grad_fn if con is not None else None)
        value = con.value if con is not None else None
        if target is None and value is None:
            return None  # a constant or an input that needs no gradient: nothing flows
        if target is None or target == step.node:
            to = grad_fn or "?"  # routed to another autograd node of the same op (TBackward0 inside linear)
        else:
            to = self.label(target)
        formula = loc.formula if loc is not None and loc.formula else f"∂{self.label(step.node)}/∂{to}"
        local = self.text(loc.value) if loc is not None and loc.value is not None else ""
        contrib = self.text(value) if value is not None else ""
        formula = self.formulas[formula]
        if local and formula.endswith(f" = {local}"):  # a constant derivative (∂d/∂c = 1): its number once
            formula = formula[:-len(local) - 3]
        return Term(to, formula, local, contrib)  # by position: one per term, keywords cost

    def view(self, step: Step, completes: tuple[str, ...] = ()) -> StepView:
        node = self.node(step.node)
        terms: list[Term] = []
        for loc, con in zip_longest(step.local, step.contributions):
            term = self.term(step, loc, con)
            if term is not None:
                terms.append(term)
        text = self.text
        incoming = tuple([text(i.value) for i in step.incoming])
        expr = "" if step.leaf else self.expression(node)
        if step.internal and expr:
            expr = f"inside {expr}"
        label, upstream = self.names[node.label], text(step.upstream)
        # by position, in the fields' order (index, node, label, grad_fn, leaf, internal, expr, upstream,
        # incoming, terms): one per step, and keywords cost a third of the time
        return StepView(step.index, step.node, label, step.grad_fn, step.leaf, step.internal, expr, upstream,
                        incoming, tuple(terms), completes)


def step_view(step: Step, graph: Graph, digits: int = 5) -> StepView:
    """The display text of one step; numbers through :func:`fmt_value` with ``digits``."""
    return _Views(graph, ValueTexts(digits)).view(step)


def step_views(steps: list[Step], graph: Graph, digits: int = 5, text: ValueTexts | None = None) -> list[StepView]:
    """:func:`step_view` of every step; each value, node label and expression formatted once."""
    views = _Views(graph, text if text is not None else ValueTexts(digits))
    last: dict[str, int] = {}  # node id -> the step that sent it the last part of its gradient
    for pos, s in enumerate(steps):
        for c in s.contributions:
            if c.to is not None and c.value is not None and c.to != s.node:
                last[c.to] = pos
    completed: dict[int, list[str]] = {}
    for nid, pos in last.items():
        completed.setdefault(pos, []).append(nid)
    return [views.view(s, tuple([views.label(n) for n in completed[pos]]) if pos in completed else ())
            for pos, s in enumerate(steps)]
