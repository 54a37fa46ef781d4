"""CLI messages in the CLI's own words, with the README's exit codes (2 usage, 1 failure)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from tests.helpers import needs_dot

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import bootstrap  # noqa: E402


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("expr, at, words", [
    ("max(x, y)", ["--at", "x=1", "--at", "y=2"], "did you mean 'maximum'?"),
    ("sinn(x)", ["--at", "x=1"], "did you mean 'sin'?"),
    ("x + yy", ["--at", "x=1", "--at", "y=2"], "did you mean 'y'?"),
    ("2+3", [], "uses no variable"),
])
def test_refused_expressions_exit_2_in_the_clis_words(expr, at, words):
    res = invoke("render", expr, *at, "--format", "json")
    assert res.exit_code == 2 and words in res.output, res.output
    assert "traced function" not in res.output and "Traceback" not in res.output


def test_a_flat_chain_is_limited_by_length_not_called_nesting():
    res = invoke("render", "+".join(["x"] * 60), "--at", "x=1", "--format", "json")
    assert res.exit_code == 0, res.output
    res = invoke("render", "+".join(["x"] * 150), "--at", "x=1", "--format", "json")
    assert res.exit_code == 2 and "too long" in res.output and "nested" not in res.output
    deep = "sin(" * 80 + "x" + ")" * 80
    res = invoke("render", deep, "--at", "x=1", "--format", "json")
    assert res.exit_code == 2 and "nested too deeply" in res.output


@pytest.mark.parametrize("args, words", [
    (["examples/widenet.py", "--input", "3x1"], "write MODULE:ATTR"),
    (["examples/widenet.py:build", "--input", "3xfoo"], "write a shape"),
    (["examples/widenet.py:build", "--input", "3x1", "--loss", "cross_entropy", "--target", "3x2"],
     "class indices"),
    (["examples/widenet.py:build", "--input", "3x1", "--loss", "mse", "--target", "3"], "--target 3x1"),
])
def test_model_usage_mistakes_exit_2(args, words, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = invoke("model", *args)
    assert res.exit_code == 2 and words in res.output, res.output
    assert "in your code" not in res.output


def test_target_is_documented_per_loss():
    text = " ".join(invoke("model", "--help").output.split())
    assert "class indices" in text and "mse: the output's shape" in text


@needs_dot
def test_demo_says_how_to_run_the_command(tmp_path):
    res = invoke("demo", "-o", str(tmp_path / "d"))
    assert res.exit_code == 0 and "-m graphviz_ad" in res.output.splitlines()[-1]


def test_bootstrap_says_where_the_command_went(tmp_path):
    exe = tmp_path / "bin" / "graphviz-ad"
    exe.parent.mkdir()
    exe.write_text("")
    assert "on your PATH" in bootstrap.command_hint(exe, str(exe), "python3")
    hint = bootstrap.command_hint(exe, None, "/usr/bin/python3")
    assert "not on your PATH" in hint and str(exe.parent) in hint and "pyenv rehash" in hint
    assert "/usr/bin/python3 -m graphviz_ad" in hint


def test_warnings_are_one_line_without_internal_paths(tmp_path, monkeypatch):
    model = tmp_path / "warns.py"
    model.write_text("import warnings\nimport torch\n\n\nclass Net(torch.nn.Module):\n"
                     "    def forward(self, x):\n        warnings.warn('careful: shapes differ')\n"
                     "        return x * 2\n\n\ndef build():\n    return Net()\n")
    res = CliRunner().invoke(cli, ["model", f"{model}:build", "--input", "2x1", "--no-backward",
                                   "-o", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    assert "warning: careful: shapes differ" in res.output
    assert "warns.py:" not in res.output and "warnings.warn" not in res.output
