"""The machine description and the markdown tables of a benchmark run."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["machine", "markdown", "fmt_s", "load_average"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> str | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return None


def _dot_version() -> str | None:
    exe = os.environ.get("GRAPHVIZ_AD_DOT", "dot")
    try:
        p = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (p.stderr or p.stdout).strip() or None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _git() -> str | None:
    """The checkout measured: commit, and whether graphviz_ad/ has uncommitted changes (read-only git calls)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=30, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphviz_ad"], cwd=root, capture_output=True,
                               text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not head:
        return None
    return head + (" + uncommitted changes in graphviz_ad/" if dirty else "")


def machine(tool_versions: dict[str, str | None]) -> dict[str, Any]:
    import torch

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "cores_usable": usable, "memory": _mem_total(),
        "os": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__,
        "torch_threads": 1, "dot": _dot_version(), "tools": tool_versions, "graphviz_ad_checkout": _git(),
        "load_average_start": load_average(),
    }


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.3g} ms" if x < 0.1 else f"{x * 1e3:.0f} ms"
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def _fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def _fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _fmt_mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def _status(cell: dict[str, Any] | None) -> str | None:
    """The text of a cell that holds no timing (failure, skipped, not installed), else None."""
    if cell is None:
        return "—"
    st = cell.get("status")
    if st in (None, "ok"):
        return None
    if st == "failed":
        return f"✗ {cell.get('error', 'failed')}"
    if st == "skipped":
        return f"skipped ({cell.get('error', '')})"
    return str(st)


def _timing(cell: dict[str, Any] | None, ratio: bool = False) -> str:
    text = _status(cell)
    if text is not None:
        return text
    assert cell is not None
    s = fmt_s(cell.get("median_s"))
    if ratio and cell.get("ratio") is not None:
        s += f" ({_fmt_ratio(cell['ratio'])})"
    if cell.get("note"):
        s += " ¹"
    return s


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    cfg = result["config"]
    lines = [f"# graphviz_ad benchmark ({cfg['mode']} mode)", ""]
    lines.append(f"- Machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), "
                 f"{m.get('memory') or '? GiB'} RAM; {m['os']}")
    lines.append(f"- Python {m['python']}, torch {m['torch']} (torch.set_num_threads(1)), "
                 f"{m['dot'] or 'dot: not found'}")
    tv = ", ".join(f"{k} {v or 'not installed'}" for k, v in m["tools"].items())
    lines.append(f"- Tools: {tv}; graphviz_ad checkout {m.get('graphviz_ad_checkout') or '?'}")
    la, lb = m.get("load_average_start"), m.get("load_average_end")
    if la:
        busy = la[0] > 0.5 * (m["cores_usable"] or 1) or (lb and lb[0] > 1.0 + 0.5 * (m["cores_usable"] or 1))
        lines.append(f"- Load average (1, 5, 15 min) at start {la}" + (f", at end {lb}" if lb else "")
                     + (" — the machine was busy with other work: timings are inflated and noisy" if busy else ""))
    lines.append(f"- Medians of up to {cfg['repeat']} runs after a warm-up, each measured thing limited to "
                 f"~{cfg['budget_s']:g} s of repeats; one captured call limited to {cfg['call_limit_s']:g} s; "
                 f"graphs over {cfg['dot_max_nodes']:,} nodes are not laid out.")
    lines.append("")
    works = result["workloads"]
    tools = cfg["tools"]

    lines += ["## Capture", "",
              "Time to capture one graph, and the ratio to a plain forward+backward measured in interleaved "
              "pairs (same process, one thread). graphviz_ad: trace + backward (every step recorded) + "
              "to_json(); hooks-only (a reference, not a tool): the bare mechanism graphviz_ad builds on, "
              "a pass-through TorchFunctionMode and a no-op Python hook on every autograd node, keeping "
              "nothing; torchviz: forward + make_dot + backward; torchview: draw_graph (its own forward "
              "under no_grad, graph object only, no backward); torchlens: trace with every layer's value saved "
              "(forward only).", ""]
    rows = []
    for w in works:
        if "error" in w:
            rows.append([w["name"], "—", f"✗ {w['error']}"] + ["—"] * len(tools))
            continue
        g = w.get("graph", {})
        gtext = f"{g['nodes']:,} / {g['steps']:,}" if g else "—"
        rows.append([f"{w['name']}: {w['title']}", gtext, fmt_s(w["plain"]["median_s"])]
                    + [_timing(w["capture"].get(t), ratio=True) for t in tools])
    lines += _table(["workload", "graphviz_ad nodes / steps", "plain fwd+bwd"] + tools, rows)
    lines += ["", "¹ one run only (the warm-up): a single call took more than half the time budget.", ""]
    rows = []
    for w in works:
        if "error" in w:
            continue
        cells = []
        for t in tools:
            c = w["capture"].get(t) or {}
            cells.append(_fmt_ratio(c.get("cpu_ratio")) if c.get("status") == "ok" else (_status(c) or "—"))
        rows.append([w["name"]] + cells)
    if rows:
        lines += ["The same ratios by CPU time of the measuring process (`time.process_time`: not inflated "
                  "while other programs use the cores):", ""]
        lines += _table(["workload"] + tools, rows)
        lines.append("")

    rows = []
    for w in works:
        c = w.get("capture", {}).get("graphviz_ad", {})
        ph = c.get("phases")
        if not ph:
            continue
        total = sum(ph.values())
        g = c.get("gc_pauses") or {}
        gc_text = "—"
        if g:
            gc_text = " / ".join(fmt_s(g[k]) for k in ("trace_s", "backward_s", "to_json_s"))
            gc_text += f" ({g['collections']} collections, {g['full']} full)"
        rows.append([w["name"], fmt_s(ph["trace_s"]), fmt_s(ph["backward_s"]), fmt_s(ph["to_json_s"]),
                     fmt_s(total), _fmt_ratio(total / c["plain_median_s"]) if c.get("plain_median_s") else "—",
                     gc_text])
    if rows:
        lines += ["### graphviz_ad capture by phase (medians)", "",
                  "GC pauses: time in Python's cyclic garbage collector during one more capture "
                  "(gc.callbacks), per phase.", ""]
        lines += _table(["workload", "trace (forward)", "backward (steps)", "to_json", "sum", "× plain",
                         "GC pauses trace / backward / to_json"], rows)
        lines.append("")

    lines += ["## Drawing", "",
              "graphviz_ad at default settings (depth auto) and expanded (depth=None); other tools: the DOT "
              "text they build at their defaults, laid out by the same `dot -Tsvg`. End-to-end: trace → "
              "backward → DOT text → dot → SVG text from a fresh trace (other tools: their own forward and DOT "
              "text → dot → SVG text; no backward, no values); its split: torch (the plain "
              "forward+backward time) / graphviz_ad's Python / dot. ms / node: end to end divided by the "
              "nodes drawn, to compare pictures of different sizes (dot's time grows faster than the node "
              "count, so this favours the smaller picture).", ""]
    rows = []
    for w in works:
        for r in w.get("render", []):
            st = _status(r) if r.get("status") not in (None, "ok") else None
            if st:
                rows.append([r["graph"], r["tool"], r["view"], "—", st, "—", "—", "—"])
                continue
            if r.get("same_as"):
                rows.append([r["graph"], r["tool"], r["view"], f"{r['nodes']:,}", f"= {r['same_as']}", "", "", ""])
                continue
            e2e = r.get("e2e")
            share = e2e.get("share") if e2e and e2e.get("status") == "ok" else None
            split = (f"{_fmt_pct(share['torch'])} / {_fmt_pct(share['graphviz_ad_python'])} / "
                     f"{_fmt_pct(share['dot'])}") if share else "—"
            per_box = (f"{1e3 * e2e['median_s'] / r['nodes']:.2f}"
                       if e2e and e2e.get("status") == "ok" and e2e.get("median_s") and r.get("nodes") else "—")
            rows.append([r["graph"], r["tool"], r["view"], f"{r['nodes']:,}", _timing(r.get("dot_text")),
                         _timing(r.get("dot")), _timing(e2e) if e2e else "—", per_box, split])
    lines += _table(["graph", "tool", "view", "nodes drawn", "DOT text", "dot layout (SVG)", "end-to-end to SVG",
                     "ms / node", "torch / gad Python / dot"], rows)
    lines.append("")

    rows = []
    for w in works:
        for r in w.get("render", []):
            e2e = r.get("e2e")
            if r.get("tool") != "graphviz_ad" or not e2e or e2e.get("status") != "ok" or r.get("nodes", 0) < 1000:
                continue
            ph = e2e["phases"]
            rows.append([r["graph"], r["view"], f"{r['nodes']:,}", fmt_s(e2e["median_s"]),
                         fmt_s(ph["trace_s"] + ph["backward_s"]), fmt_s(ph["dot_text_s"]), fmt_s(ph["post_s"]),
                         fmt_s(ph["dot_s"]), _fmt_pct(e2e["share"]["graphviz_ad_python"]),
                         _fmt_pct(e2e["share"]["dot"])])
    lines += ["### graphviz_ad's Python vs dot on graphs of 1,000+ nodes", ""]
    if rows:
        lines += _table(["graph", "view", "nodes", "end-to-end", "trace+backward", "DOT text", "SVG post",
                         "dot", "gad Python share", "dot share"], rows)
    else:
        lines.append("(no graph of 1,000+ nodes was laid out in this run)")
    lines.append("")

    rows = []
    for w in works:
        for s in w.get("stepper", []):
            st = _status(s)
            if st is not None:
                rows.append([s["graph"], f"{s.get('steps', 0):,}", "—", _timing(s.get("to_svg")), st,
                             "—", "—", "—", "—", "—"])
                continue
            rows.append([s["graph"], f"{s['steps']:,}", f"{s['frame_count']:,}", _timing(s["to_svg"]),
                         _timing(s["frames"]), _fmt_ratio(s.get("ratio")),
                         _timing(s.get("frames_iter")), _fmt_ratio(s.get("ratio_iter")),
                         f"{s['ms_per_frame']:.2f}" if s.get("ms_per_frame") is not None else "—",
                         f"{s['frames_bytes'] / 1e6:.1f}"])
    lines += ["## Stepper", "", "`t.stepper().frames()` (one dot run, then every frame restyled, all kept in "
              "one list) and `t.stepper().iter_frames()` (the same frames, each dropped before the next, as when "
              "they are written out) against one `t.to_svg()`, default settings. Keeping every frame means "
              "fresh memory for each whole SVG copy; glibc's first touch of those pages is a large share of "
              "the list's time on this machine.", ""]
    lines += _table(["graph", "steps", "frames", "to_svg()", "frames() (list)", "× to_svg", "iter_frames()",
                     "× to_svg", "ms / frame (list)", "frames MB"], rows)
    lines.append("")

    cold = result.get("cold_start")
    if cold:
        lines += ["## Whole processes", "", "Wall time of a fresh `python` process, start to exit (imports, "
                  "trace, backward, dot, writing the file): the median of the measured runs after one unmeasured run "
                  "(smoke mode: one run).", ""]
        lines += _table(["command", "wall"], [[r["label"], fmt_s(r["median_s"]) if "median_s" in r
                                                else f"✗ {r['error']}"] for r in cold["rows"]])
        lines.append("")

    mem = result.get("memory")
    if mem:
        lines += ["## Peak memory", "", f"Peak RSS, {mem['method']}. Δ: above the import+build process.", ""]
        rows = []
        for name, r in mem["workloads"].items():
            base, plain, gad = (r.get(k, {}).get("maxrss_kib") for k in ("base", "plain", "graphviz_ad"))
            errs = [f"{k}: ✗ {v['error']}" for k, v in r.items() if "error" in v]
            dp = plain - base if None not in (plain, base) else None
            dg = gad - base if None not in (gad, base) else None
            ratio = _fmt_ratio(dg / dp) if dp and dg is not None and dp > 0 else "—"
            rows.append([name, _fmt_mib(base), _fmt_mib(plain), _fmt_mib(gad), _fmt_mib(dp), _fmt_mib(dg),
                         ratio + (" " + "; ".join(errs) if errs else "")])
        lines += _table(["workload", "import+build", "plain fwd+bwd", "graphviz_ad trace+backward+to_json",
                         "Δ plain", "Δ graphviz_ad", "Δ ratio"], rows)
        lines.append("")

    errors = [(w["name"], k, v) for w in works for k, v in w.get("errors", {}).items()]
    if errors:
        lines += ["## Errors in the benchmark itself", ""]
        lines += [f"- {n} / {k}: {v}" for n, k, v in errors]
        lines.append("")
    lines.append(f"Total wall time: {fmt_s(result['wall_s'])}.")
    return "\n".join(lines) + "\n"
