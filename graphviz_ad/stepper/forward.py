"""Forward mode, stepped: the tangent of every node in forward order (dual numbers, value + ε·tangent).

Each step reads: d node/d wrt = Σ d operand/d wrt × ∂node/∂operand = tangent_in × local = tangent. The
tangents are ``torch.autograd.forward_ad``'s, seeded with a direction ``v`` of ``wrt`` (1 for a scalar;
for a tensor by default the one-hot vector at its first element, or the caller's): for a tensor input
each d node/d wrt is the derivative of the node along ``v`` (J·v). The local derivatives (formula and
number) are autograd's, read from the backward record where there is one. The last step's tangent is
reverse mode's gradient dotted with ``v`` (for the one-hot default: its first component); forward mode
needs one pass per input number, reverse mode one per output.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..model.graph import Graph
from ..model.steps import Local, Step
from ..model.values import Value
from ..output.embed import content_prefix, script_json, svg_for_html
from ..output.files import write_atomic
from ..render.format import clean_text, fmt_number
from .stepinfo import ValueTexts, op_expression

if TYPE_CHECKING:
    from ..checks.tangents import Direction

__all__ = ["ForwardStep", "ForwardStepper"]


class ForwardStep(NamedTuple):
    """One forward-mode step: the node, its definition and the chain-rule sum that gives its tangent."""

    number: int
    node: str
    title: str  # ``c = a / b``
    text: str  # ``dc/dx = da/dx × (∂c/∂a = 1/b = 1.0998) = 2 × 1.0998 = 2.1995``


class ForwardStepper:
    """The forward-mode walk of a trace with respect to input ``wrt``: :meth:`text`, :meth:`to_html`, :meth:`save`."""

    def __init__(self, graph: Graph, tangents: dict[str, Value | None], wrt: str, steps: list[Step],
                 svg: str, inputs_with_grad: int, digits: int = 5, *, seed: Direction | None = None,
                 along: float | None = None, input_numbers: int | None = None) -> None:
        """``seed``: the tangent ``wrt`` was seeded with (:func:`graphviz_ad.checks.tangents.direction_for`;
        None: 1); ``along``: reverse mode's ``wrt.grad · v`` where known; ``input_numbers``: how many
        numbers the inputs that need a gradient hold (default: one each)."""
        self.graph = graph
        self.tangents = tangents
        self.wrt = wrt
        self.svg = svg
        self.inputs_with_grad = inputs_with_grad
        self.seed = seed
        self.along = along
        self.input_numbers = input_numbers if input_numbers is not None else inputs_with_grad
        self._text = ValueTexts(digits)
        self._digits = digits
        locals_: dict[tuple[str, str], Local] = {}
        for s in steps:
            if not s.leaf and not s.internal:
                for loc in s.local:
                    if loc.to is not None:
                        locals_.setdefault((s.node, loc.to), loc)
        self._locals = locals_
        self._reverse = {n.label: n.grad for n in graph.nodes if n.kind in ("input", "param")}
        self.steps: list[ForwardStep] = self._walk()

    def _d(self, nid: str) -> str:
        return f"d{_p(clean_text(self.graph.node(nid).label, 40))}/d{self.wrt}"

    def _walk(self) -> list[ForwardStep]:
        out: list[ForwardStep] = []
        text = self._text
        for node in self.graph.nodes:
            tangent = self.tangents.get(node.id)
            if tangent is None:
                continue
            number = len(out) + 1
            if node.kind == "input":
                out.append(ForwardStep(number, node.id, f"{node.label} (input)",
                                       f"{self._d(node.id)} = {text(tangent)}  ({self._seed_words(node.label)})"))
                continue
            terms, products = [], []
            for o in dict.fromkeys(node.operands):
                t_in = self.tangents.get(o)
                if t_in is None:
                    continue
                loc = self._locals.get((node.id, o))
                formula = clean_text(loc.formula, 80) if loc is not None and loc.formula else ""
                local = text(loc.value) if loc is not None and loc.value is not None else ""
                shown = formula or f"∂{_p(clean_text(node.label, 40))}/∂{_p(clean_text(self.graph.node(o).label, 40))}"
                if local and not shown.endswith(f" = {local}"):
                    shown = f"{shown} = {local}"
                terms.append(f"{self._d(o)} × ({shown})")
                if local:
                    products.append(f"{text(t_in)} × {local}")
                elif t_in.numel != 1:  # a tensor tangent: its summary × the local derivative's formula
                    rhs = shown.rsplit(" = ", 1)[-1]
                    products.append(f"{text(t_in)} × ({rhs})" if " " in rhs else f"{text(t_in)} × {rhs}")
                else:
                    products.append("")
            lhs = f"{self._d(node.id)} = " + (" + ".join(terms) if terms else "0")
            numbers = " + ".join(products) if products and all(products) else ""
            line = f"{lhs} = {numbers} = {text(tangent)}" if numbers else f"{lhs} = {text(tangent)}"
            out.append(ForwardStep(number, node.id, op_expression(node, self.graph) or node.label, line))
        return out

    @property
    def _scalar_seed(self) -> bool:
        """The plain case: a scalar input seeded with 1 (every tangent is d node / d wrt)."""
        return self.seed is None or (self.seed.default and self.seed.value.numel == 1)

    def _seed_words(self, label: str) -> str:
        if self._scalar_seed:
            return f"the seed: {label} + ε·1"
        assert self.seed is not None
        return f"the seed: {label} + ε·v, v = {self.seed.text}"

    def summary(self) -> list[str]:
        """What the walk ends with: the direction, the final tangent beside reverse mode's gradient (dotted
        with the direction), and the passes each mode needs."""
        lines = []
        wrt = self.wrt
        if not self._scalar_seed:
            assert self.seed is not None
            lines.append(f"direction: v = {self.seed.text} = {self._text(self.seed.value)}; {wrt} + ε·v, so "
                         f"every d…/d{wrt} here is the derivative along v (J·v), one forward pass per direction")
        outs = [o for o in self.graph.outputs if self.tangents.get(o) is not None]
        grad = self._reverse.get(wrt)
        for o in outs:
            tangent = self.tangents[o]
            final = self._text(tangent)
            same = ""
            if len(outs) == 1 and grad is not None and tangent is not None and tangent.numel == 1:
                if self._scalar_seed:
                    same = f"; reverse mode's {wrt}.grad is {self._text(grad)}{self._agree(tangent, grad.scalar())}"
                elif self.along is not None:
                    part = (f"{wrt}.grad[{', '.join('0' for _ in self.seed.value.shape)}], its component along v"
                            if self.seed is not None and self.seed.default
                            else "the gradient dotted with v")
                    same = (f"; reverse mode's {wrt}.grad · v is {fmt_number(self.along, self._digits)} ({part})"
                            f"{self._agree(tangent, self.along)}")
                else:
                    same = (f"; reverse mode's {wrt}.grad was kept as a summary (more numbers than the trace "
                            f"keeps), so it is not dotted with v here")
            lines.append(f"forward mode: {self._d(o)} = {final}{same}")
        n, numbers, outputs = self.inputs_with_grad, self.input_numbers, len(self.graph.outputs)
        inputs = f"{n} inputs that need a gradient" if n != 1 else "1 input that needs a gradient"
        if numbers == n:
            forward = f"forward mode {n} (one per input)"
        else:
            inputs += f", {numbers} numbers in all"
            forward = f"forward mode {numbers} (one per input number)"
        lines.append(f"passes for the whole gradient of this graph ({inputs}, {outputs} output): {forward}, "
                     f"reverse mode {outputs} (one per output): reverse mode wins for one output and many inputs")
        return lines

    @staticmethod
    def _agree(tangent: Value, other: float | complex | None) -> str:
        """``: the same number`` where forward and reverse mode agree to float32 rounding, else says they differ."""
        t = tangent.scalar()
        if t is None or other is None:
            return ""
        if abs(t - other) <= 1e-4 * max(abs(t), abs(other), 1e-12):
            return ": the same number"
        return ": they differ"

    def text(self) -> str:
        """One line per step, ``[k] title: d…/d x = …``, then :meth:`summary`."""
        lines = [f"[{s.number}] {s.title}: {s.text}" for s in self.steps] + self.summary()
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """One self-contained page: the graph, the steps (Prev/Next, ← →), the summary."""
        data = script_json([[s.node, f"[{s.number}] {s.title}", s.text] for s in self.steps])
        prefix = content_prefix("gfw-", data + self.svg) + "-"
        svg = svg_for_html(self.svg, prefix)
        summary = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary())
        csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>graphviz_ad: forward mode, step by step (d/d{html.escape(self.wrt)})</title>
<style>
body{{margin:0;padding:16px;font:15px/1.45 system-ui,Helvetica,Arial,sans-serif;background:#fff;color:#1a1a1a}}
.gfw-panel{{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ccc;z-index:1}}
.gfw-title{{font-weight:bold}} .gfw-text{{font-family:ui-monospace,Menlo,monospace;white-space:pre-wrap}}
.gfw-figure{{overflow:auto}} .gfw-figure svg{{max-width:none;height:auto}}
.gfw-current polygon,.gfw-current path,.gfw-current ellipse{{stroke:#CC3311;stroke-width:3}}
</style>
</head>
<body>
<div class="gfw" tabindex="0">
<div class="gfw-panel"><button class="gfw-prev">&#9664; Prev</button> <button class="gfw-next">Next &#9654;</button>
 <span class="gfw-counter"></span><div class="gfw-title"></div><div class="gfw-text"></div></div>
<div class="gfw-figure">{svg}</div>
<div class="gfw-summary">{summary}</div>
</div>
<script type="application/json" class="gfw-data">{data}</script>
<script>
(function () {{
  var steps = JSON.parse(document.querySelector(".gfw-data").textContent), k = 0, prefix = "{prefix}";
  var title = document.querySelector(".gfw-title"), text = document.querySelector(".gfw-text");
  var counter = document.querySelector(".gfw-counter");
  function show(j) {{
    k = Math.max(0, Math.min(steps.length - 1, j));
    document.querySelectorAll(".gfw-current").forEach(function (g) {{ g.classList.remove("gfw-current"); }});
    var g = document.getElementById(prefix + steps[k][0]);
    if (g) {{ g.classList.add("gfw-current"); }}
    title.textContent = steps[k][1]; text.textContent = steps[k][2];
    counter.textContent = "forward step " + (k + 1) + " of " + steps.length;
  }}
  document.querySelector(".gfw-prev").addEventListener("click", function () {{ show(k - 1); }});
  document.querySelector(".gfw-next").addEventListener("click", function () {{ show(k + 1); }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ show(k + 1); }} else if (e.key === "ArrowLeft") {{ show(k - 1); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.html`` (the page) or ``.txt`` (the transcript)."""
        target = Path(path)
        return write_atomic(target, self.to_html() if target.suffix.lower() in (".html", ".htm") else self.text())

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<graphviz_ad.ForwardStepper: {len(self.steps)} forward steps, d/d{self.wrt}>"


def _p(name: str) -> str:
    """A name in parentheses where it is an expression (``d(z*c)/dx``)."""
    return f"({name})" if any(c in name for c in " +-*/") else name
