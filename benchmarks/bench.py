"""Benchmark graphviz_ad against a plain forward+backward and against torchviz, torchview and torchlens.

Run from the repository root:

    python benchmarks/bench.py [--quick|--smoke|--big] [--repeat N] [--only WORKLOAD] [--json out.json]

Prints markdown tables (capture, drawing, stepper, peak memory) and the machine they were measured
on; ``--json PATH`` writes the same data. A benchmark, not a test: it asserts nothing. Each workload
is measured in its own subprocess (``--smoke`` measures in this process, to be quick), with one
torch thread. See benchmarks/README.md.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import workloads  # noqa: E402
from report import load_average, machine, markdown  # noqa: E402
from tools import TOOLS  # noqa: E402
from worker import Config  # noqa: E402

PRESETS: dict[str, Config] = {
    "default": Config(mode="default", repeat=5, budget_s=20.0, call_limit_s=120.0, dot_max_nodes=3000),
    "quick": Config(mode="quick", repeat=3, budget_s=6.0, call_limit_s=60.0, dot_max_nodes=2000),
    # budget 0: the warm-up run is the only run
    "smoke": Config(mode="smoke", repeat=1, budget_s=0.0, call_limit_s=60.0, dot_max_nodes=3000, gc_collect=False),
    "big": Config(mode="big", repeat=5, budget_s=30.0, call_limit_s=300.0, dot_max_nodes=3000),
}
MEM_METHOD = ("ru_maxrss of a fresh subprocess per measurement (resource.getrusage(RUSAGE_SELF) read by "
              "the child as it ends: the same number RUSAGE_CHILDREN gives the parent for one child; KiB on Linux)")
_ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")


def _log(msg: str) -> None:
    print(f"[bench {time.perf_counter() - _START:6.1f}s] {msg}", file=sys.stderr, flush=True)


# -- subprocess entry points ------------------------------------------------------
def _worker_main(name: str, config: str, out: str) -> int:
    from worker import measure

    cfg = Config(**json.loads(config))
    res = measure(name, cfg)
    Path(out).write_text(json.dumps(res), encoding="utf-8")
    return 0


def _mem_main(name: str, kind: str, mode: str) -> int:
    """One memory measurement: build the workload, do ``kind`` once, report this process's peak RSS."""
    import resource

    import torch

    from tools import TOOLS as tools
    from tools import plain_step

    torch.set_num_threads(1)
    w = workloads.get(name)
    module, inputs = w.build(workloads.sizes_for(w, mode))
    if kind == "plain":
        plain_step(module, inputs)
    elif kind == "graphviz_ad":
        tools["graphviz_ad"].capture(module, inputs)
    elif kind != "base":
        raise SystemExit(f"unknown memory measurement {kind!r}")
    print(json.dumps({"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return 0


# -- the orchestration ---------------------------------------------------------------
def _title(name: str, cfg: Config) -> str:
    w = workloads.get(name)
    return workloads.describe(w, workloads.sizes_for(w, cfg.mode))


def _run_worker(name: str, cfg: Config, timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gad-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", name,
               "--_config", json.dumps(cfg.to_json()), "--_out", str(out)]
        try:
            p = subprocess.run(cmd, env=_ENV, timeout=timeout_s, check=False, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"name": name, "title": _title(name, cfg), "error": f"worker timed out ({timeout_s:g} s)"}
        if p.returncode != 0 or not out.exists():
            return {"name": name, "title": _title(name, cfg),
                    "error": f"worker exited with status {p.returncode} (its stderr is above)"}
        return json.loads(out.read_text(encoding="utf-8"))


def _measure_in_process(name: str, cfg: Config) -> dict[str, Any]:
    from worker import measure

    try:
        return measure(name, cfg)
    except Exception as e:  # the table says which workload broke; the others still run
        return {"name": name, "title": _title(name, cfg), "error": f"{type(e).__name__}: {e}"}


def _memory(names: list[str], mode: str, jobs: int) -> dict[str, Any]:
    """Peak RSS of base / plain / graphviz_ad for each workload, one fresh subprocess each."""
    def one(name: str, kind: str) -> tuple[str, str, dict[str, Any]]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_mem", name, kind, mode]
        try:
            p = subprocess.run(cmd, env=_ENV, capture_output=True, text=True, timeout=1800, check=False)
        except subprocess.TimeoutExpired:
            return name, kind, {"error": "timed out"}
        if p.returncode != 0:
            tail = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
            return name, kind, {"error": tail[:200]}
        return name, kind, json.loads(p.stdout.strip().splitlines()[-1])

    out: dict[str, Any] = {"method": MEM_METHOD, "workloads": {n: {} for n in names}}
    tasks = [(n, k) for n in names for k in ("base", "plain", "graphviz_ad")]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, kind, r in pool.map(lambda a: one(*a), tasks):
            out["workloads"][name][kind] = r
    return out


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick",
                      help="fewer repeats and a smaller time budget (~3 minutes)")
    mode.add_argument("--smoke", action="store_const", dest="mode", const="smoke",
                      help="tiny workloads, one run each, measured in this process: checks that it works")
    mode.add_argument("--big", action="store_const", dest="mode", const="big",
                      help="also the 50,000-op chain (long)")
    p.add_argument("--repeat", type=int, help="measured runs per thing (default 5; smoke 1)")
    p.add_argument("--only", action="append", metavar="WORKLOAD",
                   help="measure only this workload (repeatable, or comma-separated): "
                        + ", ".join(workloads.WORKLOADS))
    p.add_argument("--tools", help=f"comma-separated tools to compare (default all: {', '.join(TOOLS)})")
    p.add_argument("--budget", type=float, help="seconds of repeats per measured thing (default 20)")
    p.add_argument("--call-limit", type=float, help="a single captured call longer than this fails (default 120 s)")
    p.add_argument("--dot-max-nodes", type=int, help="do not lay out graphs with more nodes (default 3000)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-cold", action="store_true", help="skip timing whole processes (the CLI from a cold start)")
    p.add_argument("--in-process", action="store_true",
                   help="measure every workload in this process (default only with --smoke)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    p.add_argument("--_config", help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    p.add_argument("--_mem", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.mode = args.mode or "default"
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args._worker:
        return _worker_main(args._worker, args._config, args._out)
    if args._mem:
        return _mem_main(*args._mem)

    cfg = PRESETS[args.mode]
    if args.repeat is not None:
        cfg = replace(cfg, repeat=max(1, args.repeat))
    if args.budget is not None:
        cfg = replace(cfg, budget_s=args.budget)
    if args.call_limit is not None:
        cfg = replace(cfg, call_limit_s=args.call_limit)
    if args.dot_max_nodes is not None:
        cfg = replace(cfg, dot_max_nodes=args.dot_max_nodes)
    if args.tools:
        wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in TOOLS]
        if unknown:
            raise SystemExit(f"unknown tool(s) {', '.join(unknown)}; choose from: {', '.join(TOOLS)}")
        cfg = replace(cfg, tools=wanted)
    if args.only:
        names = [n.strip() for arg in args.only for n in arg.split(",") if n.strip()]
        for n in names:
            workloads.get(n)
    else:
        names = list(workloads.BIG if args.mode == "big" else workloads.DEFAULT)
    in_process = args.in_process or args.mode == "smoke"

    import torch

    torch.set_num_threads(1)
    versions = {name: (TOOLS[name].version() if TOOLS[name].missing() is None else None) for name in cfg.tools}
    result: dict[str, Any] = {"machine": machine(versions), "config": cfg.to_json(), "workloads": []}
    for name in names:
        _log(f"{name}: measuring ({'in this process' if in_process else 'in a subprocess'})")
        res = _measure_in_process(name, cfg) if in_process else _run_worker(name, cfg, 3600.0)
        result["workloads"].append(res)
        _log(f"{name}: done" + (f" in {res['wall_s']:.1f} s" if "wall_s" in res else f": {res.get('error')}"))
    if not args.no_memory:
        mem_names = names[:1] if args.mode == "smoke" else names
        _log(f"peak memory: {', '.join(mem_names)} (base, plain, graphviz_ad; one subprocess each)")
        result["memory"] = _memory(mem_names, "smoke" if args.mode == "smoke" else "default",
                                   jobs=3 if args.mode == "smoke" else 2)
    if not args.no_cold:
        from coldstart import cold_start

        _log("whole processes: the CLI from a cold python")
        result["cold_start"] = cold_start(cfg.repeat, smoke=args.mode == "smoke")
    result["machine"]["load_average_end"] = load_average()
    result["wall_s"] = time.perf_counter() - _START
    text = markdown(result)
    sys.stdout.write(text)
    sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
        _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
