"""Every example is a script that runs: each one is executed here into a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out


ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    # GRAPHVIZ_AD_QUICK: training examples run short (tests/training checks their numbers in full)
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHVIZ_AD_QUICK="1")
    res = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    written = [p for p in tmp_path.iterdir() if p.suffix in (".svg", ".html")]
    assert written, "the example should write its figures"


def test_examples_print_the_lessons_numbers(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(name: str) -> str:
        return subprocess.run([sys.executable, str(ROOT / "examples" / name), str(tmp_path)], capture_output=True,
                              text=True, env=env, check=True).stdout

    assert "dloss/dw autograd -14 hand -14" in run("single_neuron.py")
    chain = run("depth_chain.py")
    assert "w=2.0: prediction 1.1258999e+15, d prediction / d w1 = 5.6294995e+14" in chain
    assert "w=0.5: prediction 8.8817842e-16, d prediction / d w1 = 1.7763568e-15" in chain
    m = re.search(r"x  value 1  grad (\S+)", run("nested_function.py"))
    assert m and float(m.group(1)) == pytest.approx(0.058130822, rel=1e-6)  # float32 on any CPU
