"""The Sphinx extension: ``.. autograd-graph::`` renders at build time; errors are warnings at the source line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import needs_dot

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out

build_main = pytest.importorskip("sphinx.cmd.build").build_main

CONF = 'extensions = ["graphviz_ad.sphinx"]\nproject = "autograd"\n'

INDEX = """\
Autograd
========

The nested function:

.. autograd-graph:: tanh(log(1 + z*(2*x/sin(y))))
   :at: x=1, y=2, z=3

Step by step:

.. autograd-graph:: tanh(log(1 + z*(2*x/sin(y))))
   :at: x=1, y=2, z=3
   :steps:
   :rankdir: LR

A tensor and a model:

.. autograd-graph:: sum(w @ v)
   :at: w=[[1, 2], [3, 4]], v=[[0.5], [-1]]
   :theme: dark
   :no-backward:

A constant (no gradient):

.. autograd-graph:: -sum(t*log(softmax(x, dim=0)))
   :at: x=[1, 2, 0.5]
   :const: t=[0, 1, 0]

.. autograd-graph:: models/tiny.py:build
   :input: 4x2
   :target: 4x1
   :loss: mse
   :depth: all
"""

TINY = """\
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
"""


def project(tmp_path: Path, index: str) -> Path:
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text(index)
    (src / "models" / "tiny.py").write_text(TINY)
    return src


def build(tmp_path: Path, src: Path, builder: str = "html", strict: bool = True) -> tuple[int, Path, str]:
    out = tmp_path / f"out-{builder}-{strict}"
    warnings = tmp_path / f"warnings-{builder}-{strict}.txt"
    args = ["-b", builder, "-q", "-w", str(warnings), str(src), str(out)]
    status = build_main((["-W"] if strict else []) + args)
    return status, out, warnings.read_text() if warnings.exists() else ""


@needs_dot
def test_html_has_the_graph_the_stepper_and_the_model(tmp_path: Path):
    status, out, warnings = build(tmp_path, project(tmp_path, INDEX))
    assert status == 0, warnings
    page = (out / "index.html").read_text(encoding="utf-8")
    # the still graph: inline SVG (no XML prolog), ids prefixed, with the values and gradients
    assert page.count('<div class="gad-graph"') == 4 and "<?xml" not in page
    assert "grad: 3 float32: [0.2312" in page  # :at: x has its gradient (:const: t none: tests/recipes/test_figures.py)
    assert "0.96595" in page and "0.058131" in page
    assert 'id="gad-fig-' in page and 'id="node1"' not in page
    # the stepper: its body inline, with its controls, data and script
    assert page.count('class="gad-stepper') == 1
    assert 'class="gad-next"' in page and 'class="gad-data"' in page and "document.currentScript" in page
    assert "<!DOCTYPE html>" not in page.split("<body", 1)[1]
    # the tensor (forward only) and the model
    assert "0.weight" in page and "mse_loss" in page


@needs_dot
def test_other_builders_get_a_note(tmp_path: Path):
    status, out, warnings = build(tmp_path, project(tmp_path, INDEX), builder="text")
    assert status == 0, warnings
    text = " ".join((out / "index.txt").read_text(encoding="utf-8").split())  # the text builder wraps lines
    assert "[autograd graph of tanh(log(1 + z*(2*x/sin(y)))) at x=1, y=2, z=3: see the HTML version]" in text
    assert "[autograd graph of model models/tiny.py:build: see the HTML version]" in text
    assert "<svg" not in text


BAD = """\
Errors
======

.. autograd-graph:: x + y
   :at: x=1, y=2

.. autograd-graph:: tanh(log(1 + z*(2*x/sin(y)))
   :at: x=1, y=2, z=3

.. autograd-graph:: models/tiny.py:missing
   :input: 4x2

.. autograd-graph:: x * q
   :at: x=1
"""


@needs_dot
def test_errors_are_warnings_at_the_directive_line(tmp_path: Path):
    src = project(tmp_path, BAD)
    status, out, warnings = build(tmp_path, src, strict=False)
    assert status == 0
    index = src / "index.rst"
    assert f"{index}:7: WARNING: autograd-graph: syntax error in the expression" in warnings
    assert f"{index}:10: WARNING: autograd-graph:" in warnings and "has no attribute 'missing'" in warnings
    assert f"{index}:13: WARNING: autograd-graph: unknown name 'q'" in warnings
    assert ":at: q=VALUE" in warnings and "--at" not in warnings  # the directive's option names
    assert (out / "index.html").read_text(encoding="utf-8").count('<div class="gad-graph"') == 1  # x + y
    status, _out, warnings = build(tmp_path, src, strict=True)  # -W: a warning fails the build
    assert status != 0
    assert f"{index}:7: WARNING: autograd-graph: syntax error" in warnings


@needs_dot
def test_a_training_run_of_a_model(tmp_path: Path):
    src = project(tmp_path, "Training\n========\n\n.. autograd-graph:: models/tiny.py:build\n   :input: 4x2\n"
                            "   :target: 4x1\n   :loss: mse\n   :train: epochs=5, lr=0.1, momentum=0.9\n")
    status, out, warnings = build(tmp_path, src)
    assert status == 0, warnings
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'class="gadt-data"' in page and "gadt-" in page  # the run's page, inline
    bad = project(tmp_path / "bad", "Bad\n===\n\n.. autograd-graph:: models/tiny.py:build\n   :input: 4x2\n"
                                    "   :train: epochs=5, optimizer=rmsprop\n")
    status, _, warnings = build(tmp_path / "bad", bad, strict=False)
    assert "optimizer 'rmsprop': choose one of sgd, adam" in warnings
