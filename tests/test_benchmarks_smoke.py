"""benchmarks/bench.py in its smoke mode: it runs, prints its tables, and graphviz_ad fails nowhere in them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import needs_dot

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out


ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"


def _failures(result: dict) -> list[str]:
    """Every graphviz_ad cell of the JSON that is not a measurement."""
    bad: list[str] = []
    for w in result["workloads"]:
        name = w["name"]
        if "error" in w:
            bad.append(f"{name}: {w['error']}")
            continue
        bad += [f"{name}: benchmark error in {k}: {v}" for k, v in w.get("errors", {}).items()]
        cap = w["capture"]["graphviz_ad"]
        if cap.get("status") != "ok":
            bad.append(f"{name} capture: {cap}")
        for r in w["render"]:
            if r["tool"] != "graphviz_ad" or r.get("same_as"):
                continue
            for key in ("dot_text", "dot", "e2e"):
                if r.get(key, {}).get("status") != "ok":
                    bad.append(f"{name} {r['view']} {key}: {r.get(key, r)}")
        for s in w["stepper"]:
            if s.get("status") not in ("ok", "not available"):
                bad.append(f"{name} stepper: {s}")
    for name, kinds in result.get("memory", {}).get("workloads", {}).items():
        bad += [f"{name} memory {k}: {v['error']}" for k, v in kinds.items() if "error" in v]
    return bad


@pytest.mark.slow
@needs_dot
def test_bench_smoke(tmp_path: Path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--smoke", "--json", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for heading in ("## Capture", "## Drawing", "## Stepper", "## Peak memory", "Total wall time"):
        assert heading in text, f"{heading!r} missing from the output:\n{text}"
    assert "| workload | graphviz_ad nodes / steps | plain fwd+bwd | graphviz_ad |" in text
    assert "torch 2." in text and "cores" in text  # the machine is described

    result = json.loads(out.read_text(encoding="utf-8"))
    names = [w["name"] for w in result["workloads"]]
    assert names == ["cnn", "transformer", "loop", "mlp"]
    assert _failures(result) == []
    for w in result["workloads"]:
        cap = w["capture"]["graphviz_ad"]
        assert cap["median_s"] > 0 and cap["ratio"] > 0
        assert w["graph"]["nodes"] > 0 and w["graph"]["steps"] > 0
        for tool in ("torchviz", "torchview", "torchlens"):  # a comparison tool may be missing or fail,
            assert w["capture"][tool]["status"] in ("ok", "not installed", "failed")  # but is always reported
    mem = result["memory"]["workloads"]["cnn"]
    assert all(mem[k]["maxrss_kib"] > 0 for k in ("base", "plain", "graphviz_ad"))
    # each table row of graphviz_ad shows a time, never a failure mark
    gad_rows = [line for line in text.splitlines() if line.startswith("| ") and "| graphviz_ad |" in line]
    assert gad_rows and not any("✗" in line for line in gad_rows)


def test_ab_compares_two_checkouts(tmp_path):
    """benchmarks/ab.py --smoke with this checkout on both sides: each side imports its own
    checkout, and the table has a ratio per workload; a folder that is no checkout is refused."""
    ab = ROOT / "benchmarks" / "ab.py"
    done = subprocess.run([sys.executable, str(ab), str(ROOT), str(ROOT), "--smoke", "--rounds", "1",
                           "--repeat", "1", "--only", "loop,mlp"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| loop") or line.startswith("| mlp")]
    assert len(rows) == 2 and all(line.count("×") == 2 for line in rows)
    bad = subprocess.run([sys.executable, str(ab), str(tmp_path), "--smoke"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "not a graphviz_ad checkout" in bad.stderr
