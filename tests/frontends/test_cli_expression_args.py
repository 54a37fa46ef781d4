"""An expression that starts with a minus is the expression, whatever letter follows, and ``--`` works."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from graphviz_ad.recipes.expr import FUNCTIONS

_TWO = {"pow", "maximum", "minimum", "atan2", "matmul", "dot"}


def _case(name: str) -> tuple[str, list[str], torch.Tensor]:
    """The call ``-name(...)`` with values that are in every function's domain, and torch's result."""
    x, y = torch.tensor([0.5, 0.25]), torch.tensor([0.3, 0.2])
    fn = FUNCTIONS[name]
    if name in ("softmax", "log_softmax"):
        return f"-{name}(x, dim=0)", ["--at", "x=[0.5, 0.25]"], -fn(x, dim=0)
    if name == "mm":
        return "-mm(x, y)", ["--at", "x=[[0.5]]", "--at", "y=[[0.3]]"], -torch.mm(x[:1, None], y[:1, None])
    if name in _TWO:
        return f"-{name}(x, y)", ["--at", "x=[0.5, 0.25]", "--at", "y=[0.3, 0.2]"], -fn(x, y)
    return f"-{name}(x)", ["--at", "x=[0.5, 0.25]"], -fn(x)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_leading_minus_before_every_allowed_function_is_the_expression(name):
    expr, at, expected = _case(name)
    for args in (["render", expr, *at, "--format", "json"], ["render", *at, expr, "--format", "json"]):
        res = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert res.exit_code == 0, (args, res.output)
        out = next(n for n in json.loads(res.output)["nodes"] if n["kind"] == "output")
        assert torch.allclose(torch.tensor(out["value"]), expected, atol=1e-6), (name, out["value"])


@pytest.mark.parametrize("args", [
    ["step", "--", "-log(x)", "--at", "x=2", "--text"],
    ["step", "--at", "x=2", "--", "-log(x)"],
    ["step", "-log(x)", "--at", "x=2"],
    ["step", "-tanh(x)", "--at=x=2", "--text"],
])
def test_minus_expressions_and_double_dash_step_the_expression(args):
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "x.grad" in res.output and "Usage" not in res.output


def test_the_help_option_is_still_help():
    res = CliRunner().invoke(cli, ["render", "-h"])
    assert res.exit_code == 0 and "Usage: " in res.output
