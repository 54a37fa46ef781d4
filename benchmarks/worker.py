"""Measure one workload: capture by every tool against a plain baseline, graphviz_ad's drawing, the stepper."""

from __future__ import annotations

import importlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn

import timing
import workloads
from timing import CallTimeout, Samples, failure, median, pairs_within, repeat_within
from tools import TOOLS, count_dot_nodes, plain_step, reset_grads

__all__ = ["Config", "measure"]


@dataclass
class Config:
    mode: str = "default"  # default | quick | smoke | big
    repeat: int = 5
    budget_s: float = 20.0  # time for the repeats of one measured thing
    call_limit_s: float = 120.0  # one captured call longer than this is a failure (Timeout)
    dot_max_nodes: int = 3000  # bigger graphs are not laid out (dot's time grows much faster than linearly)
    stepper_max_bytes: int = 400_000_000  # skip the stepper when its frames would exceed this much SVG
    gc_collect: bool = True  # a full garbage collection before each timed call (outside the timing)
    tools: list[str] = field(default_factory=lambda: list(TOOLS))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _error(e: BaseException, cfg: Config) -> dict[str, Any]:
    if isinstance(e, CallTimeout):
        return {"status": "failed", "error": f"Timeout (>{cfg.call_limit_s:g} s)"}
    return {"status": "failed", "error": failure(e), "message": str(e).splitlines()[0][:300] if str(e) else ""}


def _ok(s: Samples) -> dict[str, Any]:
    d = s.to_json()
    d["status"] = "ok"
    return d


def _capture(module: nn.Module, inputs: tuple[torch.Tensor, ...], cfg: Config, res: dict[str, Any]) -> None:
    before = lambda: reset_grads(module, inputs)  # noqa: E731
    plain = lambda: plain_step(module, inputs)  # noqa: E731
    baseline: list[float] = []
    cap: dict[str, Any] = {}
    for name in cfg.tools:
        tool = TOOLS[name]
        why = tool.missing()
        if why is not None:
            cap[name] = {"status": why}
            continue
        cap[name] = {"version": tool.version()}
        try:
            s = pairs_within(plain, lambda tool=tool: tool.capture(module, inputs), cfg.repeat, cfg.budget_s,
                             cfg.call_limit_s, before)
        except (Exception, CallTimeout) as e:
            cap[name].update(_error(e, cfg))
            continue
        cap[name].update(_ok(s))
        baseline += s.baseline
        if name == "graphviz_ad":
            phases = {k: median([x[k] for x in s.extra]) for k in ("trace_s", "backward_s", "to_json_s")}
            cap[name]["phases"] = phases
            last = s.extra[-1]
            res["graph"] = {k: last[k] for k in ("nodes", "edges", "steps")}
            before()
            timing.collect_garbage()
            cap[name]["gc_pauses"] = tool.gc_pauses(module, inputs)  # type: ignore[attr-defined]
    if not baseline:
        baseline = repeat_within(plain, cfg.repeat, cfg.budget_s, before=before).times
    res["plain"] = {"median_s": median(baseline), "n": len(baseline), "samples_s": baseline}
    res["capture"] = cap


def _e2e(module: nn.Module, inputs: tuple[torch.Tensor, ...], kw: dict[str, Any]) -> dict[str, float]:
    """trace -> backward -> to_dot -> dot -> SVG text, each phase timed (what ``to_svg`` does)."""
    import graphviz_ad as gad
    from graphviz_ad.output.backend import run_dot

    t0 = time.perf_counter()
    t = gad.trace(module, *inputs)
    t1 = time.perf_counter()
    t.backward()
    t2 = time.perf_counter()
    text = t.to_dot(**kw)
    t3 = time.perf_counter()
    data = run_dot(text, "svg")
    t4 = time.perf_counter()
    data.decode("utf-8")
    t5 = time.perf_counter()
    return {"trace_s": t1 - t0, "backward_s": t2 - t1, "dot_text_s": t3 - t2, "dot_s": t4 - t3,
            "post_s": t5 - t4}


def _render_gad(module: nn.Module, inputs: tuple[torch.Tensor, ...], label: str, plain_s: float | None,
                cfg: Config) -> tuple[list[dict[str, Any]], Any]:
    import graphviz_ad as gad

    before = lambda: reset_grads(module, inputs)  # noqa: E731
    before()
    t = gad.trace(module, *inputs).backward()
    rows: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    for view, kw in (("default", {}), ("expanded", {"depth": None})):
        row: dict[str, Any] = {"tool": "graphviz_ad", "view": view, "graph": label}
        rows.append(row)
        try:
            text = t.to_dot(**kw)
        except Exception as e:
            row.update(_error(e, cfg))
            continue
        row.update(nodes=count_dot_nodes(text), dot_bytes=len(text))
        same = next((v for v, other in texts.items() if other == text), None)
        texts[view] = text
        if same is not None:
            row["same_as"] = same
            continue
        row["dot_text"] = _ok(repeat_within(lambda kw=kw: t.to_dot(**kw), cfg.repeat, cfg.budget_s))
        if not _layout(row, text, cfg):
            continue
        try:
            s = repeat_within(lambda kw=kw: _e2e(module, inputs, kw), cfg.repeat, cfg.budget_s, before=before)
        except (Exception, CallTimeout) as e:
            row["e2e"] = _error(e, cfg)
            continue
        e2e = _ok(s)
        phases = {k: median([x[k] for x in s.extra]) for k in s.extra[0]}
        total = sum(phases.values())
        e2e["phases"] = phases
        if total > 0:
            torch_s = min(plain_s or 0.0, phases["trace_s"] + phases["backward_s"])
            e2e["share"] = {"dot": phases["dot_s"] / total, "torch": torch_s / total,
                            "graphviz_ad_python": (total - phases["dot_s"] - torch_s) / total}
        row["e2e"] = e2e
    return rows, t


def _render_other(module: nn.Module, inputs: tuple[torch.Tensor, ...], label: str, cfg: Config) -> list[dict]:
    rows = []
    for name in cfg.tools:
        tool = TOOLS[name]
        if name == "graphviz_ad" or tool.missing() is not None:
            continue
        row: dict[str, Any] = {"tool": name, "view": "default", "graph": label}
        try:
            reset_grads(module, inputs)
            text = tool.graph_dot(module, inputs)
        except (Exception, CallTimeout) as e:
            row.update(_error(e, cfg))
            rows.append(row)
            continue
        if text is None:
            continue
        rows.append(row)
        row.update(nodes=count_dot_nodes(text), dot_bytes=len(text))
        if not _layout(row, text, cfg):
            continue
        try:  # the tool's own forward and DOT text, then the same dot run: its end to end to SVG
            s = repeat_within(lambda tool=tool: _other_e2e(tool, module, inputs), cfg.repeat, cfg.budget_s,
                              before=lambda: reset_grads(module, inputs))
            row["e2e"] = _ok(s)
        except (Exception, CallTimeout) as e:
            row["e2e"] = _error(e, cfg)
    return rows


def _other_e2e(tool: Any, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    """Another tool's picture from scratch: its forward and graph (``graph_dot``), ``dot``, the SVG text."""
    from graphviz_ad.output.backend import run_dot

    run_dot(tool.graph_dot(module, inputs), "svg").decode("utf-8")


def _layout(row: dict[str, Any], text: str, cfg: Config) -> bool:
    """Time ``dot -Tsvg`` on ``text`` into ``row["dot"]``; False when skipped (too big) or failed."""
    from graphviz_ad.output.backend import run_dot

    if row["nodes"] > cfg.dot_max_nodes:
        row["dot"] = {"status": "skipped", "error": f"{row['nodes']:,} nodes > --dot-max-nodes"}
        return False
    try:
        row["dot"] = _ok(repeat_within(lambda: run_dot(text, "svg", timeout=cfg.call_limit_s), cfg.repeat, cfg.budget_s))
    except (Exception, CallTimeout) as e:
        row["dot"] = _error(e, cfg)
        return False
    return True


def _stepper(t: Any, label: str, default_nodes: int | None, cfg: Config) -> dict[str, Any]:
    out: dict[str, Any] = {"graph": label, "steps": len(t.steps)}
    try:
        importlib.import_module("graphviz_ad.stepper.stepper")
    except ImportError as e:
        out.update(status="not available", error=failure(e))
        return out
    if default_nodes is None or default_nodes > cfg.dot_max_nodes:
        out.update(status="skipped", error="graph too big for dot")
        return out
    try:
        svg = repeat_within(lambda: len(t.to_svg()), cfg.repeat, cfg.budget_s)
        size = svg.extra[-1] * (len(t.steps) + 2)
        out["to_svg"] = _ok(svg)
        if size > cfg.stepper_max_bytes:
            out.update(status="skipped", error=f"frames would be ~{size / 1e6:,.0f} MB of SVG")
            return out

        def frames() -> tuple[int, int]:
            fr = t.stepper().frames()
            return len(fr), sum(len(f) for f in fr)

        def streamed() -> tuple[int, int]:
            n = size = 0
            for f in t.stepper().iter_frames():
                n += 1
                size += len(f)
            return n, size

        s = repeat_within(frames, cfg.repeat, cfg.budget_s, cfg.call_limit_s)
        si = repeat_within(streamed, cfg.repeat, cfg.budget_s, cfg.call_limit_s)
    except (Exception, CallTimeout) as e:
        out.update(_error(e, cfg))
        return out
    out["frames"] = _ok(s)
    out["frames_iter"] = _ok(si)
    if si.median is not None and out["to_svg"]["median_s"]:
        out["ratio_iter"] = si.median / out["to_svg"]["median_s"]
    out["status"] = "ok"
    out["frame_count"], out["frames_bytes"] = s.extra[-1]
    if s.median is not None and out["to_svg"]["median_s"]:
        out["ratio"] = s.median / out["to_svg"]["median_s"]
        out["ms_per_frame"] = 1000 * max(0.0, s.median - out["to_svg"]["median_s"]) / max(1, out["frame_count"])
    return out


def _section(res: dict[str, Any], key: str, fn: Callable[[], Any]) -> Any:
    """Run one part; a bug in it is recorded, the rest of the workload still runs."""
    try:
        return fn()
    except (Exception, CallTimeout) as e:
        res.setdefault("errors", {})[key] = f"{failure(e)}: {e}"
        return None


def measure(name: str, cfg: Config) -> dict[str, Any]:
    """Every measurement of one workload, as plain data."""
    torch.set_num_threads(1)
    timing.COLLECT = cfg.gc_collect
    w = workloads.get(name)
    size = workloads.sizes_for(w, cfg.mode)
    t0 = time.perf_counter()
    module, inputs = w.build(size)
    res: dict[str, Any] = {"name": name, "title": workloads.describe(w, size), "size": size}
    _capture(module, inputs, cfg, res)
    plain_s = res["plain"]["median_s"]
    res["render"] = []
    res["stepper"] = []
    if "graphviz_ad" not in cfg.tools or TOOLS["graphviz_ad"].missing():
        res["wall_s"] = time.perf_counter() - t0
        return res
    got = _section(res, "render", lambda: _render_gad(module, inputs, name, plain_s, cfg))
    if got is not None:
        rows, t = got
        res["render"] += rows
        res["render"] += _section(res, "render_other", lambda: _render_other(module, inputs, name, cfg)) or []
        default_nodes = rows[0].get("nodes")
        res["stepper"].append(_section(res, "stepper", lambda: _stepper(t, name, default_nodes, cfg))
                              or {"graph": name, "status": "failed"})
        del t
        too_big = any(r.get("dot", {}).get("status") == "skipped" for r in rows)
        if too_big and w.render_small and cfg.mode != "smoke":
            # too big to lay out: draw a smaller instance of the same workload instead
            small_module, small_inputs = w.build(w.render_small)
            label = f"{name} @ {', '.join(f'{k}={v:,}' for k, v in w.render_small.items())}"
            before = lambda: reset_grads(small_module, small_inputs)  # noqa: E731
            small_plain = median(repeat_within(lambda: plain_step(small_module, small_inputs), cfg.repeat,
                                               cfg.budget_s, before=before).times)
            got = _section(res, "render_small",
                           lambda: _render_gad(small_module, small_inputs, label, small_plain, cfg))
            if got is not None:
                rows, t = got
                res["render"] += rows
                res["render"] += _section(res, "render_small_other",
                                          lambda: _render_other(small_module, small_inputs, label, cfg)) or []
                res["stepper"].append(_section(res, "stepper_small",
                                               lambda: _stepper(t, label, rows[0].get("nodes"), cfg))
                                      or {"graph": label, "status": "failed"})
                del t
    res["wall_s"] = time.perf_counter() - t0
    return res
