"""Capture ratios of two graphviz_ad checkouts, measured turn about: which change helped.

    python benchmarks/ab.py OLD_CHECKOUT [NEW_CHECKOUT] [--only cnn,loop] [--rounds 3] [--repeat 7] [--smoke]

    git worktree add --detach /tmp/gad-old HEAD~3 && python benchmarks/ab.py /tmp/gad-old

This machine's speed drifts by 10-20% over minutes, more than many changes; runs of bench.py
made at different times cannot tell such changes apart. Here every round runs each checkout's
capture once, in a fresh process each (imports from that checkout first on sys.path), one after
the other, on the same workloads, and the table shows the median ratio over rounds. NEW
defaults to this checkout. Ratios as bench.py's: trace + backward + to_json against a plain
forward+backward in interleaved pairs (process time, the collector run before each call outside
the timing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, sys
sys.path.insert(0, {checkout!r})
sys.path.insert(1, {bench!r})
import torch
torch.set_num_threads(1)
import graphviz_ad, timing, workloads
from tools import GraphvizAD, plain_step, reset_grads
assert graphviz_ad.__file__.startswith({checkout!r}), graphviz_ad.__file__
out = {{}}
for name in {names!r}:
    w = workloads.get(name)
    module, inputs = w.build(workloads.sizes_for(w, {mode!r}))
    s = timing.pairs_within(lambda: plain_step(module, inputs), lambda: GraphvizAD().capture(module, inputs),
                            {repeat}, 60.0, before=lambda: reset_grads(module, inputs))
    out[name] = timing.median(s.cpu) / timing.median(s.baseline_cpu)
print(json.dumps(out))
"""


def _one(checkout: Path, names: list[str], repeat: int, mode: str) -> dict[str, float]:
    code = _CHILD.format(checkout=str(checkout), bench=str(HERE), names=names, repeat=repeat, mode=mode)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=str(HERE), check=False)
    if done.returncode != 0:
        raise SystemExit(f"ab.py: the run in {checkout} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path, help="a checkout of graphviz_ad (e.g. a git worktree)")
    p.add_argument("new", type=Path, nargs="?", default=HERE.parent, help="default: this checkout")
    p.add_argument("--only", default="cnn,transformer,loop,mlp", help="comma-separated workloads")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=7, help="interleaved pairs per workload and run")
    p.add_argument("--smoke", action="store_true", help="tiny workloads: checks that it works")
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    checkouts = {"old": args.old.resolve(), "new": args.new.resolve()}
    for c in checkouts.values():
        if not (c / "graphviz_ad" / "__init__.py").is_file():
            raise SystemExit(f"ab.py: {c} is not a graphviz_ad checkout (no graphviz_ad/__init__.py)")
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
            runs[which].append(_one(checkouts[which], names, args.repeat, "smoke" if args.smoke else "default"))
            print(f"[ab] round {r + 1}/{args.rounds} {which}: "
                  + ", ".join(f"{n} {v:.2f}x" for n, v in runs[which][-1].items()), file=sys.stderr)
    print(f"| workload | old ({checkouts['old'].name}) | new ({checkouts['new'].name}) | new / old |")
    print("|---|---|---|---|")
    for n in names:
        old = statistics.median(x[n] for x in runs["old"])
        new = statistics.median(x[n] for x in runs["new"])
        print(f"| {n} | {old:.2f}× | {new:.2f}× | {new / old:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
