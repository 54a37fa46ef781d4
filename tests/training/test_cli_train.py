"""``graphviz-ad train``: factories, the progress bar, --compare, outputs, and user errors (exit 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from tests.training.conftest import widenet_data

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LESSON = f"{EXAMPLES}/training_lesson.py:widenet"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)

    return invoke


def _plain_losses(epochs: int, lr: float, momentum: float) -> list[float]:
    """The same training in a plain loop: what the CLI's run must have recorded."""
    torch.manual_seed(2021)
    inputs, targets = widenet_data()
    torch.manual_seed(2021)
    model = torch.nn.Sequential(torch.nn.Linear(1, 512), torch.nn.Tanh(), torch.nn.Linear(512, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    out = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def test_train_the_lessons_widenet_to_json_with_a_progress_bar(run, tmp_path):
    res = run(LESSON, "--epochs", "20", "--lr", "0.003", "--momentum", "0.9", "-o", "run.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["schema"] == "graphviz_ad/training/1"
    assert data["scalars"]["loss"] == _plain_losses(20, 0.003, 0.9)
    assert data["names"] == ["0.weight", "0.bias", "2.weight", "2.bias"] and data["step"] == list(range(1, 21))
    assert data["config"] == {"optimizer": "sgd", "lr": 0.003, "momentum": 0.9, "seed": 0, "epochs": 20}
    assert f"training {LESSON}" in res.stderr  # the progress bar's label
    final = data["scalars"]["loss"][-1]
    assert f"final loss {final:.6g} after 20 steps" in res.stderr and "wrote run.json" in res.stderr


def test_train_compare_draws_the_runs_together(run, tmp_path):
    res = run(LESSON, "--epochs", "8", "--momentum", "0.9", "--compare", "lr=0.0003,0.003,0.03", "-o", "lr.html")
    assert res.exit_code == 0, res.output
    page = (tmp_path / "lr.html").read_text()
    assert page.count('class="gadt-heat"') == 3 and "lr=0.0003" in page and "lr=0.03" in page
    for label in ("lr=0.0003", "lr=0.003", "lr=0.03"):
        assert f"training {label}" in res.stderr
    res = run(LESSON, "--epochs", "3", "--compare", "lr=0.003,0.03", "-o", "lr.png")
    assert res.exit_code == 0 and (tmp_path / "lr.png").read_bytes().startswith(b"\x89PNG")


def test_a_model_only_factory_takes_random_data_of_the_given_shapes(run, tmp_path):
    res = run(f"{EXAMPLES}/widenet.py:build", "--epochs", "3", "--input", "16x1", "--optimizer", "adam",
              "--lr", "0.01", "-o", "w.json")
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "w.json").read_text())
    assert len(data["scalars"]["loss"]) == 3 and data["config"]["optimizer"] == "adam"
    res = run(f"{EXAMPLES}/widenet.py:build", "--epochs", "3")
    assert res.exit_code == 2 and "give --input SHAPE" in res.output


@pytest.mark.parametrize("factory, message", [
    ("nope.py:build", "no such file"),
    (f"{EXAMPLES}/widenet.py:missing", "has no attribute 'missing'"),
    (f"{EXAMPLES}/widenet.py:data", "the factory returned tuple"),
    ("BROKEN", "building the model failed in your code"),
])
def test_a_bad_factory_is_a_clear_error_with_exit_1_and_no_output(run, tmp_path, factory, message):
    if factory == "BROKEN":
        (tmp_path / "broken.py").write_text("def build():\n    raise RuntimeError('no model today')\n")
        factory = "broken.py:build"
    res = run(factory, "--epochs", "2", "-o", "run.html")
    assert res.exit_code == 1, res.output
    assert message in res.output and "Traceback (most recent call last):\n  File" not in res.output.split("Error")[0]
    assert not (tmp_path / "run.html").exists() and not list(tmp_path.glob(".run.html.*"))


def test_usage_mistakes_exit_2_before_training(run, tmp_path):
    res = run(LESSON, "--epochs", "2", "-o", "run.txt")
    assert res.exit_code == 2 and "cannot tell the output format" in res.output
    res = run(LESSON, "--epochs", "2", "--compare", "depth=1,2")
    assert res.exit_code == 2 and "KEY one of lr, momentum, seed, epochs, optimizer" in res.output
    res = run(LESSON, "--epochs", "2", "--compare", "lr=0.1")
    assert res.exit_code == 2 and "at least two values" in res.output
    res = run(LESSON, "--epochs", "0")
    assert res.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_the_users_error_during_training_is_their_traceback(run, tmp_path):
    (tmp_path / "bad.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = torch.nn.Linear(1, 1)\n"
        "        self.calls = 0\n"
        "    def forward(self, x):\n        self.calls += 1\n"
        "        if self.calls > 2:\n            raise ValueError('diverged on purpose')\n        return self.fc(x)\n"
        "def build():\n    return Net(), torch.ones(4, 1), torch.zeros(4, 1)\n")
    res = run("bad.py:build", "--epochs", "5", "-o", "run.json")
    assert res.exit_code == 1
    assert "training failed in your code" in res.output and "diverged on purpose" in res.output
    assert not (tmp_path / "run.json").exists()
