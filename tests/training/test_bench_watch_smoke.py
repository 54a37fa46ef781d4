"""benchmarks/bench_watch.py in its smoke mode: it runs and prints its tables (a benchmark, not a timed test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import needs_dot

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@needs_dot
def test_bench_watch_smoke(tmp_path):
    out = tmp_path / "RESULTS_watch.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_watch.py"), "--smoke", "--results",
                           str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for heading in ("## Watch overhead", "## The page of a long run", "| widenet (32 x 512 tanh) | 4 |",
                    "| resnet-style cnn |", "| 50-layer chain | 50 |", "`run.save('run.html')`", "Machine:"):
        assert heading in proc.stdout, heading
    assert out.read_text(encoding="utf-8").startswith("# gad.watch: benchmark results")
