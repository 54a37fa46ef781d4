"""What ``gad.watch`` costs: training iterations with and without it, the record's memory, and the page.

A benchmark, not a test: it measures and prints (``tests/training/test_bench_watch_smoke.py`` runs
``--smoke``). Iterations are timed in interleaved rounds (plain, watched; the order alternates) with
``torch.set_num_threads(1)``; the table shows the median per-iteration time of each and the median of
the per-round ratios, so that the machine's drift hits both alike. The page part trains a 12-block
transformer for real (``--steps``, default 10,000), then times ``run.save('run.html')`` (graph traced
and laid out once, histories encoded) and, when Playwright and Chromium are there, the slider's redraw.

    python benchmarks/bench_watch.py                 # ~5 minutes on 2 cores
    python benchmarks/bench_watch.py --smoke         # tiny sizes, a few seconds: does it work?
    python benchmarks/bench_watch.py --results benchmarks/RESULTS_watch.md
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import graphviz_ad as gad  # noqa: E402


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- workloads: (model, optimizer, one iteration) --------------------------------------------------------
def widenet(smoke: bool) -> tuple[nn.Module, torch.optim.Optimizer, Callable[[], torch.Tensor]]:
    torch.manual_seed(2021)
    x = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    y = torch.sin(math.pi * x) + torch.randn(32, 1) / 4
    model = nn.Sequential(nn.Linear(1, 512), nn.Tanh(), nn.Linear(512, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.003, momentum=0.9)
    return model, opt, lambda: nn.functional.mse_loss(model(x), y)


def cnn(smoke: bool) -> tuple[nn.Module, torch.optim.Optimizer, Callable[[], torch.Tensor]]:
    model = _example("resnet_cnn").build()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2 if smoke else 8, 3, 16 if smoke else 32, 16 if smoke else 32, generator=g)
    y = torch.randint(0, 10, (x.shape[0],), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, opt, lambda: nn.functional.cross_entropy(model(x), y)


def chain(smoke: bool) -> tuple[nn.Module, torch.optim.Optimizer, Callable[[], torch.Tensor]]:
    model = _example("depth_chain").build(1.0, 50)
    x = torch.linspace(-1.0, 1.0, 32).reshape(32, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    return model, opt, lambda: nn.functional.mse_loss(model(x), 2 * x)


WORKLOADS = {"widenet (32 x 512 tanh)": (widenet, 1.2), "resnet-style cnn": (cnn, 1.2),
             "50-layer chain": (chain, 1.5)}


def _iterate(model: nn.Module, opt: torch.optim.Optimizer, loss_of: Callable[[], torch.Tensor], n: int,
             run: Any = None) -> float:
    """n lesson iterations (zero_grad, forward, loss, backward, step, keep loss.item()); CPU seconds each."""
    kept = []
    t0 = time.process_time()
    for _ in range(n):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        if run is not None:
            run.log(loss)
        else:
            kept.append(loss.item())
    return (time.process_time() - t0) / n


def overhead(make: Callable[[bool], Any], smoke: bool, rounds: int, seconds: float) -> dict[str, Any]:
    """Blocks of plain and watched iterations, turn about (the order alternates), on two copies of the
    workload: one trained plainly, one inside a single ``gad.watch`` that stays open over all its blocks
    (its set-up is paid once, as in a real run, and the batched conversions to floats fall inside the
    blocks). Per block the CPU time of an iteration, per pair of neighbouring blocks their ratio; the
    ratio reported is the median of the pairs' ratios, with their quartiles for the spread. Short
    blocks (20 ms by default), many rounds: neighbouring blocks see the machine alike. (The ratio of
    the fastest block of each, in 0.3 s blocks, was the estimate before: on a shared machine whose
    speed moves by a third within seconds it swung from 1.08x to 1.33x between runs of the same code.)"""
    model, opt, loss_of = make(smoke)
    w_model, w_opt, w_loss_of = make(smoke)
    per = _iterate(model, opt, loss_of, 3)
    n = max(3, int(seconds / max(per, 1e-6)))
    plain, watched, ratios = [], [], []
    with gad.watch(w_model, w_opt, graph=False) as run:
        _iterate(w_model, w_opt, w_loss_of, 2, run)  # warm: the workspace is allocated at the first step
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            got = {}
            for watch in order:
                if watch:
                    got[True] = _iterate(w_model, w_opt, w_loss_of, n, run)
                else:
                    got[False] = _iterate(model, opt, loss_of, n)
            plain.append(got[False])
            watched.append(got[True])
            ratios.append(got[True] / got[False])
    params = sum(1 for _ in model.parameters())
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"plain": statistics.median(plain), "watched": statistics.median(watched),
            "ratio": statistics.median(ratios), "q1": quartiles[0], "q3": quartiles[2], "iterations": n,
            "rounds": rounds, "tensors": params, "bytes_per_step": 3 * 8 * params + 8}


# -- the page of a long transformer run -------------------------------------------------------------------
def transformer_run(steps: int, smoke: bool) -> tuple[Any, float]:
    """A small 12-block encoder (d_model 32, 4 heads, feed-forward 64): 144 parameter tensors, as many as
    a big one, at a step cost that lets 10,000 real steps run in minutes on a CPU."""
    torch.manual_seed(0)
    d = 16 if smoke else 32
    layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=2 * d, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=12, enable_nested_tensor=False)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, d, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    with gad.watch(model, opt) as run:
        for _ in range(steps):
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            run.log(loss)
    return run, time.perf_counter() - t0


def slider_times(path: Path, moves: int) -> dict[str, float] | str:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright not installed"
    exe = os.environ.get("GRAPHVIZ_AD_CHROMIUM") or "/usr/bin/chromium"
    if not os.path.exists(exe):
        return "no chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function("() => document.querySelector('.gadt').hasAttribute('data-redraw-ms')")
        load = time.perf_counter() - t0
        last = int(page.get_attribute(".gadt-slider", "max"))
        times = []
        for k in range(moves):
            v = (k * 7919) % (last + 1)
            wall = page.evaluate(
                "v => { const s = document.querySelector('.gadt-slider'); const t = performance.now(); s.value = v;"
                " s.dispatchEvent(new Event('input')); return performance.now() - t; }", v)
            times.append(wall)
        browser.close()
    return {"load_s": load, "median_ms": statistics.median(times), "max_ms": max(times), "moves": moves}


def page_bench(steps: int, smoke: bool) -> dict[str, Any]:
    run, train_s = transformer_run(steps, smoke)
    out: dict[str, Any] = {"steps": steps, "tensors": len(run.names), "train_s": train_s,
                           "record_mb": run.record.rows.buffer_info()[1] * 8 / 1e6}
    with tempfile.TemporaryDirectory() as d:
        for name in ("run.html", "run.json"):
            t0 = time.perf_counter()
            path = run.save(Path(d) / name)
            out[name] = {"s": time.perf_counter() - t0, "mb": path.stat().st_size / 1e6}
        t0 = time.perf_counter()
        run.to_html()  # again: the graph is traced and laid out once per run, then reused
        out["html_again_s"] = time.perf_counter() - t0
        out["slider"] = slider_times(Path(d) / "run.html", 20 if smoke else 200)
    return out


def machine() -> str:
    load = [round(x, 2) for x in os.getloadavg()]
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"Python {platform.python_version()}, torch {torch.__version__} (torch.set_num_threads(1)); "
            f"load average at start {load}")


def report(results: dict[str, Any], page: dict[str, Any], smoke: bool) -> str:
    lines = ["## Watch overhead", "",
             "CPU time per training iteration (zero_grad, forward, loss, backward, step, the loss kept as a "
             "float), every step recorded, in short interleaved blocks (plain, watched, turn about): the "
             "median over blocks of each, the median of the ratios of neighbouring blocks, and those "
             "ratios' quartiles (how much the machine's other jobs moved it).", "",
             "| workload | parameter tensors | plain | watched | ratio | quartiles | target | record per step |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        target = WORKLOADS[name][1]
        ok = "met" if r["ratio"] <= target else "**not met**"
        lines.append(f"| {name} | {r['tensors']} | {r['plain'] * 1e6:.0f} µs | {r['watched'] * 1e6:.0f} µs | "
                     f"{r['ratio']:.2f}× | {r['q1']:.2f}-{r['q3']:.2f}× | ≤{target}× ({ok}) | "
                     f"{r['bytes_per_step']} B |")
    lines += ["", "## The page of a long run", "",
              f"A 12-block transformer encoder ({page['tensors']} parameter tensors) trained for real for "
              f"{page['steps']:,} steps (Adam), every step recorded: {page['train_s']:.1f} s of training, "
              f"a record of {page['record_mb']:.1f} MB.", "",
              "| output | write time | size |", "|---|---|---|"]
    for name in ("run.html", "run.json"):
        lines.append(f"| `run.save('{name}')` | {page[name]['s']:.2f} s | {page[name]['mb']:.1f} MB |")
    lines.append(f"| `run.to_html()` again (graph already laid out) | {page['html_again_s']:.2f} s | |")
    s = page["slider"]
    lines.append("")
    if isinstance(s, dict):
        lines.append(f"Slider in headless Chromium: page ready in {s['load_s']:.2f} s; redraw over {s['moves']} "
                     f"moves: median {s['median_ms']:.1f} ms, max {s['max_ms']:.1f} ms (target ≤ 50 ms).")
    else:
        lines.append(f"Slider: not measured ({s}).")
    lines += ["", f"Machine: {machine()}." + (" Smoke mode: tiny sizes, not meaningful." if smoke else "")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one short round each")
    ap.add_argument("--rounds", type=int, default=150, help="interleaved rounds per workload")
    ap.add_argument("--seconds", type=float, default=0.02,
                    help="time per timed block (short: neighbouring blocks see the machine alike)")
    ap.add_argument("--steps", type=int, default=10_000, help="transformer steps for the page")
    ap.add_argument("--results", metavar="FILE.md", help="also write the tables into this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rounds, seconds, steps = (2, 0.05, 30) if args.smoke else (args.rounds, args.seconds, args.steps)
    results = {}
    for name, (make, _) in WORKLOADS.items():
        results[name] = overhead(make, args.smoke, rounds, seconds)
        print(f"{name}: ratio {results[name]['ratio']:.2f}", file=sys.stderr)
    page = page_bench(steps, args.smoke)
    text = report(results, page, args.smoke)
    print(text)
    if args.results:
        from graphviz_ad.output.files import write_atomic

        write_atomic(args.results, "# gad.watch: benchmark results\n\nOne run of `python benchmarks/bench_watch.py"
                     f"{' --smoke' if args.smoke else ''}`.\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
