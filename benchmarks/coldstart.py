"""Whole processes, as a user starts them: the CLI rendering the lesson's expression from a cold
``python``, against importing torch alone and against the same picture made with torchviz."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["cold_start"]

EXPR = "tanh(log(1 + z*2*x/sin(y)))"
AT = ["--at", "x=1", "--at", "y=2", "--at", "z=3"]
TORCHVIZ = (
    "import torch, torchviz\n"
    "x, y, z = (torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))\n"
    "f = torch.tanh(torch.log(1 + z * 2 * x / torch.sin(y)))\n"
    "open(r'{out}', 'wb').write(torchviz.make_dot(f).pipe(format='svg'))\n"
)


def _commands(out: Path, smoke: bool) -> list[tuple[str, list[str]]]:
    py = sys.executable
    gad = [py, "-m", "graphviz_ad"]
    cmds = [("graphviz-ad render → SVG (trace, backward, dot)", gad + ["render", EXPR, *AT, "-o", str(out / "g.svg")])]
    if smoke:
        return cmds
    cmds += [
        ("python -c 'import torch' (the floor)", [py, "-c", "import torch"]),
        ("python -c 'import graphviz_ad'", [py, "-c", "import graphviz_ad"]),
        ("graphviz-ad step → HTML stepper", gad + ["step", EXPR, *AT, "-o", str(out / "s.html")]),
        ("torchviz: make_dot(f).pipe('svg') (no values, no gradients)",
         [py, "-c", TORCHVIZ.format(out=out / "tv.svg")]),
    ]
    return cmds


def cold_start(repeat: int, smoke: bool = False) -> dict[str, Any]:
    """Median wall time of each command in a fresh process (one unmeasured run first, for the disk cache)."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gad-cold-") as tmp:
        out = Path(tmp)
        for label, cmd in _commands(out, smoke):
            if label.startswith("torchviz") and shutil.which("dot") is None:
                rows.append({"label": label, "error": "dot not found"})
                continue
            times: list[float] = []
            error = None
            unmeasured = 0 if smoke else 1
            for _ in range(unmeasured + (1 if smoke else max(1, repeat))):
                t0 = time.perf_counter()
                p = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
                times.append(time.perf_counter() - t0)
                if p.returncode != 0:
                    error = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1][:200]
                    break
            times = times[unmeasured:]
            rows.append({"label": label, "error": error} if error else
                        {"label": label, "median_s": statistics.median(times), "n": len(times)})
    return {"rows": rows}
