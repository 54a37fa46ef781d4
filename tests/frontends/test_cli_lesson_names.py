"""Expressions read like the lesson: intermediates a, b, c, ... each defined over earlier names; --const; every
drawing option on render, step and model."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from tests.helpers import intermediates

EXPR = "tanh(log(1 + z*(2*x/sin(y))))"
AT = ["--at", "x=1", "--at", "y=2", "--at", "z=3"]

LESSON_TRANSCRIPT = """\
[1] TanhBackward0 (f = tanh(e)): upstream 1 × ∂f/∂e = 1 - tanh²(e) = 0.066941 → e: 0.066941 · ∇e complete (from step 1)
[2] LogBackward0 (e = log(d)): upstream 0.066941 × ∂e/∂d = 1/d = 0.1316 → d: 0.0088097 · ∇d complete (from step 2)
[3] AddBackward0 (d = 1 + z*c): upstream 0.0088097 × ∂d/∂(z*c) = 1 → z*c: 0.0088097 · ∇(z*c) complete (from step 3)
[4] MulBackward0 (z*c): upstream 0.0088097 × ∂(z*c)/∂z = c = 2.1995 → z: 0.019377; × ∂(z*c)/∂c = z = 3 → c: 0.026429 · ∇z complete (from step 4) · ∇c complete (from step 4)
[5] z.grad = 0.019377
[6] DivBackward0 (c = a / b): upstream 0.026429 × ∂c/∂a = 1/b = 1.0998 → a: 0.029065; × ∂c/∂b = -a/b² = -2.4189 → b: -0.063929 · ∇a complete (from step 6) · ∇b complete (from step 6)
[7] SinBackward0 (b = sin(y)): upstream -0.063929 × ∂b/∂y = cos(y) = -0.41615 → y: 0.026604 · ∇y complete (from step 7)
[8] y.grad = 0.026604
[9] MulBackward0 (a = 2*x): upstream 0.029065 × ∂a/∂x = 2 → x: 0.058131 · ∇x complete (from step 9)
[10] x.grad = 0.058131
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_nested_expression_steps_with_the_lessons_names_line_by_line():
    res = invoke("step", EXPR, *AT)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == LESSON_TRANSCRIPT.splitlines()


def test_intermediates_carry_the_lessons_names_values_and_gradients():
    data = json.loads(invoke("render", EXPR, *AT, "--format", "json").output)
    expected = intermediates(1.0, 2.0, 3.0)
    nodes = {n["label"]: n for n in data["nodes"]}
    for name in "abcdef":
        assert nodes[name]["value"] == pytest.approx(expected[name][0], rel=1e-6), name
        assert nodes[name]["grad"] == pytest.approx(expected[name][1], rel=1e-5), name
    assert "z*c" in nodes and nodes["z*c"]["op"] == "mul"


def test_each_box_shows_its_name_and_its_definition():
    dot = invoke("render", EXPR, *AT, "--format", "dot").output
    for row in ("<B>a</B> = 2*x", "<B>b</B> = sin(y)", "<B>c</B> = a / b", "<B>d</B> = 1 + z*c",
                "<B>e</B> = log(d)", "<B>f</B> = tanh(e)", "<B>z*c</B></TD>"):
        assert row in dot, row


def test_names_full_keeps_the_subexpression_labels_without_doubled_parentheses():
    out = invoke("step", EXPR, *AT, "--names", "full").output
    assert "(f = tanh(log(1 + z*(2*x/sin(y)))))" in out and "∂(2*x)/∂x = 2 → x" in out
    assert "((" not in out.replace("((2*x", "") and "= 1 = 1" not in out and "= 2 = 2" not in out


@pytest.mark.parametrize("expr, names", [
    ("x*y + sin(x)", {"x*y", "a", "f"}),  # a product that is a term of a sum is written inline
    ("exp(-x) * e", {"a", "b", "f"}),  # the constant e is used: e is not an intermediate's name
])
def test_short_names_skip_the_names_the_expression_uses(expr, names):
    res = invoke("render", expr, "--at", "x=1", *(["--at", "y=2"] if "y" in expr else []), "--format", "json")
    labels = {n["label"] for n in json.loads(res.output)["nodes"] if n["kind"] in ("op", "output")}
    assert labels == names


def test_const_values_get_no_gradient_and_at_values_do():
    res = invoke("render", "-sum(t*log(softmax(x, dim=0)))", "--at", "x=[1,2,0.5]", "--const", "t=[0,1,0]",
                 "--format", "json")
    assert res.exit_code == 0, res.output
    nodes = {n["label"]: n for n in json.loads(res.output)["nodes"]}
    assert nodes["t"]["grad"] is None
    x = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
    (-(torch.tensor([0.0, 1.0, 0.0]) * torch.log(torch.softmax(x, dim=0))).sum()).backward()
    assert nodes["x"]["grad"] == pytest.approx(x.grad.tolist(), rel=1e-5)
    assert invoke("render", "x*t", "--at", "x=1", "--const", "x=2").exit_code == 2


@pytest.mark.parametrize("command", [["render", "x*y", "--at", "x=1", "--at", "y=2", "--format", "dot"],
                                     ["step", "x*y", "--at", "x=1", "--at", "y=2", "--text"]])
def test_every_drawing_option_is_on_render_and_step(command):
    res = invoke(*command, "--depth", "1", "--grad-color", "--digits", "3", "--no-legend", "--theme", "dark",
                 "--rankdir", "LR")
    assert res.exit_code == 0, res.output
    if command[0] == "render":
        assert "legend" not in res.output and "rankdir=LR" in res.output


def test_model_takes_the_drawing_options_too():
    text = invoke("model", "--help").output
    for option in ("--depth", "--grad-color", "--digits", "--legend", "--theme", "--rankdir"):
        assert option in text, option
