"""Tests of the step panel's painting: the lines a step frame shows, their text and width."""

from __future__ import annotations

import re

from graphviz_ad.render.theme import get_theme
from graphviz_ad.stepper.panel import MAX_TERMS, PanelPainter, StepPainter, line_width
from graphviz_ad.stepper.stepinfo import StepView, Term

__all__: list[str] = []

TAG = re.compile(r"<[^>]*>")


def painted(view: StepView, position: int = 4, total: int = 10) -> tuple[list[str], int]:
    """The step's panel rows as plain text (tags removed, entities read back) and its width."""
    rows, width = StepPainter(PanelPainter(get_theme("light"))).paint(view, position, total)
    assert all(row.endswith("</text>\n") for row in rows)
    plain = [TAG.sub("", row).rstrip("\n").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
             for row in rows]
    return plain, width


def view(**kw) -> StepView:
    fields = dict(index=3, node="n3", label="mul", grad_fn="MulBackward0", leaf=False, internal=False,
                  expr="mul = z*c", upstream="0.5", incoming=("0.5",), terms=())
    return StepView(**{**fields, **kw})


def test_a_step_lists_its_terms():
    rows, width = painted(view(terms=(Term("z", "∂mul/∂z = c", "2.2", "1.1"), Term("c", "∂mul/∂c = z", "", ""))))
    assert rows == ["[4] MulBackward0 (mul = z*c)   backward step 4 of 10",
                    "upstream  0.5",
                    "→ z:  0.5 × (∂mul/∂z = c = 2.2) = 1.1",
                    "→ c:  0.5 × (∂mul/∂c = z)"]
    assert width == max(map(len, rows))


def test_a_leaf_shows_its_gradient_as_a_sum():
    rows, width = painted(view(leaf=True, label="x", grad_fn="AccumulateGrad", upstream="4", incoming=("1", "3")))
    assert rows == ["[4] AccumulateGrad (leaf x)   backward step 4 of 10", "x.grad = 1 + 3 = 4"]
    assert width == max(map(len, rows))


def test_terms_past_the_limit_are_counted_and_no_term_is_said():
    many = tuple(Term(f"t{i}", f"∂f/∂t{i}", "", "") for i in range(MAX_TERMS + 3))
    rows, _ = painted(view(terms=many))
    assert len(rows) == 2 + MAX_TERMS + 1 and rows[-1] == "… and 3 more"
    rows, _ = painted(view(terms=()))
    assert rows[-1] == "no input of this op needs a gradient"


def test_markup_in_names_is_escaped_and_counted_as_written():
    rows, width = painted(view(label="<b>&", expr="", grad_fn="F<x>", terms=(Term("<i>", "∂/∂<i>", "", "a&b"),)))
    assert rows[0].startswith("[4] F<x>   backward") and rows[2] == "→ <i>:  0.5 × (∂/∂<i>) = a&b"
    assert width == max(map(len, rows))
    raw, _ = StepPainter(PanelPainter(get_theme("light"))).paint(view(grad_fn="F<x>"), 1, 1)
    assert "F&lt;x&gt;" in raw[0] and "<x>" not in raw[0]


def test_width_is_the_widest_line_as_painted_lines_count_it():
    rows, width = painted(view(upstream="0.123456789" * 5, incoming=("0.1", "0.2")))
    assert rows[1] == f"upstream  0.1 + 0.2 = {'0.123456789' * 5}"
    assert width == len(rows[1]) == line_width([(rows[1], "grad")])
