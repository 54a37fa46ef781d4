"""The same figures, built by two processes with different hash seeds and time zones, are byte-identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import needs_dot

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out


ROOT = Path(__file__).resolve().parents[1]
ALL = '["svg", "png", "pdf", "dot", "json", "frames", "html"]'

FIGURES = f'''
[[figure]]
name = "nested"
expr = "tanh(log(1 + z*(2*x/sin(y))))"
at = {{x = 1, y = 2, z = 3}}
outputs = {ALL}

[[figure]]
name = "tensors"
expr = "sum(tanh(w @ v) * 2)"
at = {{w = [[1, -2], [0.5, 3]], v = [[0.25], [-1]]}}
outputs = {ALL}
theme = "dark"
rankdir = "LR"
grad_color = true

[[figure]]
name = "net"
model = "net.py:build"
input = "8x3"
target = "8x2"
loss = "mse"
optimizer = {{name = "sgd", lr = 0.1, momentum = 0.9}}
outputs = {ALL}
depth = "all"
'''

NET = '''
import torch
from torch import nn


def build():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
'''


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@needs_dot
def test_two_processes_write_the_same_bytes(tmp_path: Path):
    (tmp_path / "figures.toml").write_text(FIGURES)
    (tmp_path / "net.py").write_text(NET)
    # one after the other, so that any clock time in the output would differ (a PDF's creation date)
    for folder, seed, tz in (("a", "0", "UTC"), ("b", "4242", "America/New_York")):
        env = dict(os.environ, PYTHONHASHSEED=seed, TZ=tz, PYTHONPATH=str(ROOT))
        res = subprocess.run([sys.executable, "-m", "graphviz_ad", "figures", "figures.toml", "--out", folder, "-q"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert res.returncode == 0, res.stderr[-3000:]
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    suffixes = {Path(name).suffix for name in a}
    assert {".svg", ".png", ".pdf", ".dot", ".json", ".html"} <= suffixes
    for name in ("nested", "tensors", "net"):
        assert {f"{name}.{ext}" for ext in ("svg", "png", "pdf", "dot", "json")} | {f"{name}_steps.html"} <= set(a)
        assert f"{name}_frames/frame_001.svg" in a
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name] != b[name]]
    assert differ == [], f"these files differ between the two runs: {differ}"
