"""``graphviz-ad model``: user models by path or dotted name, losses, depth, optimizer, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_widenet_json_with_loss_and_sgd_step(run, tmp_path):
    res = run("model", f"{EXAMPLES}/widenet.py:build", "--input", "32x1", "--target", "32x1", "--loss", "mse",
              "--optimizer", "sgd", "--lr", "0.003", "--momentum", "0.9", "-o", "w.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "w.json").read_text())
    params = [n["label"] for n in data["nodes"] if n["kind"] == "param"]
    assert params == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert data["optimizer"]["name"] == "SGD" and len(data["optimizer"]["updates"]) == 4
    assert [c["label"] for c in data["clusters"]][:2] == ["Sequential", "0: Linear"]


def test_model_svg_depth_and_grad_color(run, tmp_path):
    res = run("model", f"{EXAMPLES}/depth_chain.py:build_vanishing", "--input", "1x1", "--depth", "0",
              "--grad-color", "-o", "chain.svg")
    assert res.exit_code == 0, res.output
    assert "|∇| (log scale)" in (tmp_path / "chain.svg").read_text()


def test_model_html_is_the_explorer(run, tmp_path):
    res = run("model", f"{EXAMPLES}/widenet.py:build", "--input", "4x1", "--loss", "mse", "-o", "w.html")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "w.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and 'class="gad-explorer"' in text and 'class="gad-stepper"' not in text


def test_model_html_without_backward_is_the_forward_explorer(run, tmp_path):
    res = run("model", f"{EXAMPLES}/widenet.py:build", "--input", "4x1", "--no-backward", "-o", "w.html")
    assert res.exit_code == 0, res.output
    assert 'class="gad-explorer"' in (tmp_path / "w.html").read_text()


def test_cross_entropy_and_dotted_module(run, tmp_path):
    (tmp_path / "mymodels.py").write_text(
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(4, 3)\n    def forward(self, x):\n        return self.fc(x)\n"
        "net = Net()\n")
    import sys
    sys.path.insert(0, str(tmp_path))
    try:
        res = run("model", "mymodels:net", "--input", "5x4", "--loss", "cross_entropy", "-o", "n.json")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mymodels", None)
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "n.json").read_text())
    assert data["nodes"][-1]["op"] == "cross_entropy"


@pytest.mark.parametrize("spec, extra, message", [
    ("nope.py:build", [], "no such file"),
    ("{ex}/widenet.py:missing", [], "has no attribute 'missing'"),
    ("{ex}/widenet.py", [], "write MODULE:ATTR"),
    ("no_such_pkg_xyz:build", [], "no module named"),
    ("{ex}/widenet.py:build", ["--input", "3x"], "write a shape"),
    ("{ex}/widenet.py:build", ["--input", "3x5"], "failed in your code"),
    ("{ex}/widenet.py:build", ["--input", "3x1", "--depth", "x"], "Invalid value for --depth"),
    ("{ex}/widenet.py:build", ["--input", "3x1", "--optimizer", "sgd"], "needs a loss"),
])
def test_user_errors(run, tmp_path, spec, extra, message):
    args = ["model", spec.format(ex=EXAMPLES)] + (extra or ["--input", "3x1"])
    res = run(*args)
    assert res.exit_code in (1, 2)
    assert message in res.output
    assert "Traceback (most recent call last):\n  File \"/" not in res.output.replace("your code only", "")
    assert list(tmp_path.iterdir()) == []


def test_errors_in_user_code_show_only_their_frames(run, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
                   "        return helper(x)\n\ndef helper(x):\n    raise ValueError('boom in user code')\n"
                   "def build():\n    return M()\n")
    res = run("model", f"{bad}:build", "--input", "2x2")
    assert res.exit_code == 1
    assert "boom in user code" in res.output and "bad.py" in res.output and "line 7" in res.output
    assert "torch/nn" not in res.output and "graphviz_ad" not in res.output
    bad.unlink()


def test_a_hugging_face_model_with_its_own_loss_and_show_all(run, tmp_path):
    pytest.importorskip("transformers")
    res = run("model", f"{EXAMPLES}/tiny_gpt2.py:build", "--input", "1x8", "--loss", "labels", "-o", "g.dot")
    assert res.exit_code == 0, res.output
    default = (tmp_path / "g.dot").read_text()
    assert "mask and position plumbing" in default and "gad-cluster-function" not in default
    assert "cross_entropy" in default  # the model's own loss, differentiated
    res = run("model", f"{EXAMPLES}/tiny_gpt2.py:build", "--input", "1x8", "--loss", "labels", "--show-all",
              "-o", "all.dot")
    assert res.exit_code == 0, res.output
    full = (tmp_path / "all.dot").read_text()
    assert "gad-cluster-function" in full and "mask and position plumbing" not in full


def test_loss_labels_on_a_model_without_its_own_loss_is_a_clear_error(run):
    res = run("model", f"{EXAMPLES}/widenet.py:build", "--input", "4x1", "--loss", "labels")
    assert res.exit_code == 1
    assert "--loss labels needs a model that computes its own loss from labels=" in res.output
