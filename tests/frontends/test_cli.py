"""The graphviz-ad command line through click's CliRunner: output, exit codes, short errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad import __version__
from graphviz_ad.frontends.cli import cli
from tests.helpers import intermediates, needs_dot

EXPR = "tanh(log(1 + z*(2*x/sin(y))))"
AT = ["--at", "x=1", "--at", "y=2", "--at", "z=3"]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_render_json_numbers_equal_torch(run):
    res = run("render", EXPR, *AT, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    expected = intermediates(1.0, 2.0, 3.0)
    nodes = {n["label"]: n for n in data["nodes"]}
    for name in "xyz":
        assert nodes[name]["value"] == expected[name][0]
        assert nodes[name]["grad"] == pytest.approx(expected[name][1], rel=1e-6)
    out = nodes["f"]
    assert out["kind"] == "output" and out["value"] == pytest.approx(expected["f"][0], rel=1e-6)
    assert [s["grad_fn"] for s in data["steps"]][:3] == ["TanhBackward0", "LogBackward0", "AddBackward0"]


def test_render_no_backward_has_no_gradients(run):
    data = json.loads(run("render", EXPR, *AT, "--format", "json", "--no-backward").output)
    assert all(n["grad"] is None for n in data["nodes"]) and data["steps"] == []


@needs_dot
def test_render_svg_to_stdout_and_file(run, tmp_path):
    res = run("render", EXPR, *AT)
    assert res.exit_code == 0 and res.output.startswith("<?xml") and "0.96595" in res.output
    res = run("render", EXPR, *AT, "-o", "f.svg", "--theme", "dark", "--rankdir", "LR")
    assert res.exit_code == 0
    assert (tmp_path / "f.svg").read_text().count("<svg") == 1
    assert run("render", EXPR, *AT, "-o", "f.png").exit_code == 0
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


def test_render_dot_to_stdout(run):
    res = run("render", "x*y", "--at", "x=2", "--at", "y=[1, 2]", "--format", "dot")
    assert res.exit_code == 0 and res.output.startswith("digraph")


@pytest.mark.parametrize("args, code, message", [
    (["render", "x +", "--at", "x=1"], 2, "syntax error"),
    (["render", "x*w", "--at", "x=1"], 2, "unknown name 'w': give its value with --at w=VALUE"),
    (["render", "x*y", "--at", "x=1"], 2, "unknown name 'y'"),
    (["render", "x", "--at", "x=1", "--at", "q=2"], 2, "'q' does not appear"),
    (["render", "x", "--at", "x"], 2, "write NAME=VALUE"),
    (["render", "x", "--at", "x=abc"], 2, "must be a number or a nested list"),
    (["render", "x", "--at", "x=[[1,2],[3]]"], 2, "not a rectangular list"),
    (["render", "x@y", "--at", "x=[1,2]", "--at", "y=[1,2,3]"], 2, "PyTorch could not evaluate"),
    (["render", "__import__('os').system('true')", "--at", "x=1"], 2, "not allowed"),
    (["render", "x.grad", "--at", "x=1"], 2, "attribute access"),
    (["render", "x", "--at", "x=1", "--theme", "neon"], 2, "Invalid value for '--theme'"),
    (["render", "x", "--at", "x=1", "--format", "png"], 2, "binary"),
    (["render", "x", "--at", "x=1", "-o", "f.jpeg"], 2, "output format"),
    (["render", "x", "--at", "x=1", "-o", "missing/dir/f.svg"], 1, "does not exist"),
])
def test_user_errors_are_short_and_write_nothing(run, tmp_path, args, code, message):
    res = run(*args)
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_syntax_error_has_a_caret_under_the_position(run):
    res = run("render", "x + (3", "--at", "x=1")
    lines = res.output.rstrip("\n").splitlines()
    assert lines[-2].strip() == "x + (3" and lines[-1].index("^") == lines[-2].index("(")


def test_nan_and_inf_values_are_legal(run):
    res = run("render", "x*y", "--at", "x=nan", "--at", "y=inf", "--format", "json")
    assert res.exit_code == 0
    assert {n["label"]: n["value"] for n in json.loads(res.output)["nodes"]}["x"] == "nan"


def test_dtype_option(run):
    res = run("render", "x*2", "--at", "x=0.1", "--dtype", "float64", "--format", "json")
    node = json.loads(res.output)["nodes"][0]
    assert node["dtype"] == "float64" and node["value"] == 0.1


def test_version_and_help(run):
    assert run("--version").output.strip() == f"graphviz-ad, version {__version__}"
    for cmd in ("render", "step", "demo"):
        res = run(cmd, "--help")
        assert res.exit_code == 0 and "Example" in res.output


@pytest.mark.slow
def test_python_dash_m_works(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    res = subprocess.run([sys.executable, "-m", "graphviz_ad", "render", "x*2", "--at", "x=1", "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["schema"] == "graphviz_ad/1"
    res = subprocess.run([sys.executable, "-m", "graphviz_ad", "render", "x +", "--at", "x=1"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "syntax error" in res.stderr


def test_render_html_writes_the_explorer_and_step_html_keeps_the_stepper(run, tmp_path):
    assert run("render", EXPR, *AT, "-o", "page.html").exit_code == 0
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert 'class="gad-explorer"' in page and "worker-src blob:" in page
    assert run("step", EXPR, *AT, "-o", "steps.html").exit_code == 0
    assert 'class="gad-stepper' in (tmp_path / "steps.html").read_text(encoding="utf-8")
