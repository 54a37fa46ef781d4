"""benchmarks/explore_bench.py in its smoke mode: it runs in Chromium and every case reaches its first picture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


def test_the_explorer_benchmark_runs(tmp_path):
    pytest.importorskip("playwright.sync_api")
    if not Path(os.environ.get("GRAPHVIZ_AD_CHROMIUM", "/usr/bin/chromium")).exists():
        pytest.skip("no chromium")
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "explore_bench.py"), "--smoke", "--json", str(out)],
                   check=True, capture_output=True, env=env, timeout=600)
    rows = json.loads(out.read_text())
    assert {r["name"] for r in rows} >= {"gpt2_48", "stress"}
    for r in rows:
        assert r["page_errors"] == [] and r["boxes_first"] > 0 and r["first_picture_s"] > 0
