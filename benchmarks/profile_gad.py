"""Profile graphviz_ad on one benchmark workload: where trace, backward, to_json and to_dot spend their time.

    python benchmarks/profile_gad.py loop [--sort tottime|cumulative] [--top 25] [--pyinstrument] [--out F.prof]

cProfile (deterministic; inflates code made of many tiny calls) prints the top functions with
file:line and their share of the profiled time; ``--pyinstrument`` (a sampling profiler, if
installed) prints its call tree of the same run. A warm-up trace runs first, unprofiled.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import torch  # noqa: E402

import workloads  # noqa: E402
from tools import reset_grads  # noqa: E402

PHASES = ("trace", "backward", "to_json", "to_dot")


def _run(module: Any, inputs: tuple, phases: tuple[str, ...], depth: Any) -> dict[str, float]:
    import graphviz_ad as gad

    times: dict[str, float] = {}
    reset_grads(module, inputs)
    t0 = time.perf_counter()
    t = gad.trace(module, *inputs)
    times["trace"] = time.perf_counter() - t0
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("backward", t.backward), ("to_json", t.to_json), ("to_dot", lambda: t.to_dot(depth=depth))]
    for name, fn in steps:
        if name in phases:
            t0 = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t0
    return times


def _short(path: str) -> str:
    for root in (str(HERE.parent) + os.sep, os.path.dirname(torch.__file__).rsplit(os.sep, 1)[0] + os.sep):
        if path.startswith(root):
            return path[len(root):]
    return path


def _top(stats: pstats.Stats, key: str, n: int, total: float) -> list[str]:
    rows = []
    entries = stats.stats  # type: ignore[attr-defined]
    idx = 2 if key == "tottime" else 3
    for (path, line, func), st in sorted(entries.items(), key=lambda kv: kv[1][idx], reverse=True)[:n]:
        cc, nc, tt, ct = st[0], st[1], st[2], st[3]
        calls = f"{nc}" if nc == cc else f"{nc}/{cc}"
        where = f"{_short(path)}:{line}" if line else path
        rows.append(f"| {100 * tt / total:5.1f}% | {100 * ct / total:5.1f}% | {calls:>9} | `{where}` {func} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workload", choices=list(workloads.WORKLOADS))
    p.add_argument("--smoke", action="store_true", help="the tiny size of the workload")
    p.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, from {', '.join(PHASES)}")
    p.add_argument("--depth", default="auto", help="to_dot depth: auto (default), none, or a number")
    p.add_argument("--sort", choices=("tottime", "cumulative", "both"), default="both")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", help="also write the cProfile data here (for snakeviz, pstats)")
    p.add_argument("--pyinstrument", action="store_true", help="also a pyinstrument run (sampling)")
    args = p.parse_args(argv)
    phases = tuple(x.strip() for x in args.phases.split(",") if x.strip())
    depth: Any = None if args.depth.lower() == "none" else args.depth if args.depth == "auto" else int(args.depth)

    torch.set_num_threads(1)
    w = workloads.get(args.workload)
    size = workloads.sizes_for(w, "smoke" if args.smoke else "default")
    module, inputs = w.build(size)
    plain_t0 = time.perf_counter()
    module(*inputs).backward()
    plain = time.perf_counter() - plain_t0
    _run(module, inputs, phases, depth)  # warm-up
    clean = _run(module, inputs, phases, depth)
    print(f"# {workloads.describe(w, size)}\n")
    print("Unprofiled: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in clean.items())
          + f"; plain forward+backward {plain * 1e3:.1f} ms\n")

    prof = cProfile.Profile()
    prof.enable()
    profiled = _run(module, inputs, phases, depth)
    prof.disable()
    total = sum(profiled.values())
    print("Under cProfile: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in profiled.items()) + "\n")
    stats = pstats.Stats(prof)
    if args.out:
        stats.dump_stats(args.out)
    head = ["| self % | cum % | calls | function |", "|---:|---:|---:|---|"]
    for key in (("tottime", "cumulative") if args.sort == "both" else (args.sort,)):
        print(f"## Top {args.top} by {'self' if key == 'tottime' else 'cumulative'} time "
              f"(% of the {total * 1e3:.0f} ms profiled)\n")
        print("\n".join(head + _top(stats, key, args.top, total)) + "\n")

    if args.pyinstrument:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("(pyinstrument is not installed)")
            return 0
        pi = Profiler(interval=0.0005)
        pi.start()
        _run(module, inputs, phases, depth)
        pi.stop()
        print("## pyinstrument\n\n```")
        print(pi.output_text(unicode=False, color=False, show_all=False))
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
