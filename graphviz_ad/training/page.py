"""The standalone page of one or more runs: loss curves, gradient-norm heatmaps, update ratios, and the
model's graph recoloured per step under a slider (with play). One file, inline CSS/JS/SVG, no network.

The histories travel compactly: little-endian float32 arrays and uint8 colour bins, base64-encoded,
at most :data:`MAX_COLUMNS` recorded steps per run (evenly sampled beyond that; the full record is in
``run.save('run.json')``). Colour bins are computed here with :mod:`graphviz_ad.training.bins`
(``grad_color``'s own bins), never in the script. The same runs give the same bytes.

DOM contract (tests and embedding pages rely on it): root ``div.gadt#<prefix>`` with ``data-step``
(the slider's position: an index into the shown steps of the selected run) and ``data-redraw-ms``
(the last redraw's time); ``input.gadt-slider``, ``button.gadt-play``, ``span.gadt-counter``
(``step S (k of N)``), ``select.gadt-run`` (several runs), ``input.gadt-logy`` (log-scale loss);
``canvas.gadt-loss``, ``canvas.gadt-heat`` (one per run), ``canvas.gadt-ratio``; in the graph, every
box standing for recorded parameters has ``data-box`` (its node id) and ``data-bin`` (the colour bin
shown; ``nan`` for non-finite); ``.gadt-readout`` lists the step's loss and extreme gradient norms.
Only when a run recorded activations (``watch(..., activations=True)``): ``figure.gadt-acts`` with
``canvas.gadt-act-heat`` (saturated/zero fraction, one row per module that has one, named in
``.gadt-act-rows``) and ``table.gadt-act-table``, one ``tr[data-module]`` per module with
``td.gadt-act-mean``, ``td.gadt-act-std``, ``td.gadt-act-frac`` for the step shown (4 significant digits,
``nan`` where the module did not run, ``-`` where it has no such statistic).
A heatmap cell's tooltip names its parameter, step and norm; a click on it moves the slider there.
"""

from __future__ import annotations

import base64
import html
import math
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from ..output.embed import content_prefix, script_json, svg_for_html
from ..render.gradcolor import DECADES_PER_BIN, SCALE
from .bins import bins_of, palette

if TYPE_CHECKING:
    from .run import Run

__all__ = ["run_page", "page_data", "MAX_COLUMNS", "columns"]

MAX_COLUMNS = 2000
MAX_LOSS_POINTS = 20000


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _b64(a: Any, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def columns(n: int, limit: int = MAX_COLUMNS) -> Any:
    """Indices of the recorded steps the page shows: all of them up to ``limit``, else evenly spread
    (first and last included)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def page_data(run: Run, label: str, boxes: tuple[tuple[str, tuple[int, ...]], ...]) -> dict[str, Any]:
    """What the script needs of one run, compact (see the module docstring)."""
    h = run.record
    idx = columns(len(h))
    grads = h.matrix("grad_norm")[idx]
    ratio = h.matrix("update_ratio")[idx]
    box_bins = np.zeros((len(idx), len(boxes)), dtype=np.uint8)
    for k, (_, members) in enumerate(boxes):
        sub = grads[:, list(members)]
        box_bins[:, k] = bins_of(np.sqrt((sub * sub).sum(axis=1)) if len(members) > 1 else sub[:, 0])
    loss = h.scalars.get("loss")
    lx = np.asarray(h.log_steps, dtype=np.float64)
    ly = np.asarray([math.nan if v is None else v for v in (loss or [])], dtype=np.float64)
    if loss is not None and len(ly) > MAX_LOSS_POINTS:
        keep = columns(len(ly), MAX_LOSS_POINTS)
        lx, ly = lx[keep], ly[keep]
    return {
        "label": label, "names": h.names, "rows": len(idx), "total": len(h), "every": run.every,
        "steps": _b64(np.asarray(h.steps, dtype=np.float64)[idx], "<f8"),
        "grad": _b64(grads, "<f4"), "bins": _b64(bins_of(grads), "u1"), "ratio": _b64(ratio, "<f4"),
        "loss_x": _b64(lx if loss is not None else [], "<f8"), "loss_y": _b64(ly, "<f4"),
        "boxes": [b for b, _ in boxes], "box_bins": _b64(box_bins, "u1"),
        "nonfinite": dict(sorted(h.nonfinite.items())),
        "acts": _activations(h, idx),
    }


def _activations(h: Any, idx: Any) -> list[dict[str, Any]]:
    """Per watched module (``activations=True``), its statistics at the shown steps (float32, nan where the
    module did not run): ``[{"module", "stats", "values": {stat: base64}}]``; empty without activations."""
    out = []
    n = len(h)
    for module, stats in h.activations.items():
        values = {}
        for stat, series in stats.items():
            a = np.full(n, math.nan)
            got = np.asarray([math.nan if v is None else v for v in series[:n]], dtype=np.float64)
            a[:len(got)] = got
            values[stat] = _b64(a[idx], "<f4")
        out.append({"module": module, "stats": list(stats), "values": values})
    return out


def _activation_panel() -> str:
    """The activations figure (filled by the script): a heatmap of the saturated (Tanh, Sigmoid) or zero (ReLU)
    fraction per module and step, and a table of every module's mean, std and fraction at the step shown."""
    return ('<figure class="gadt-acts"><figcaption>activations per module: saturated (|tanh| &gt; 0.99, '
            'sigmoid within 0.01 of 0 or 1) or zero (ReLU) fraction of the outputs, white 0 to orange 1; '
            'mean and std at the step shown</figcaption><p class="gadt-note gadt-act-note"></p>'
            '<div class="gadt-act-rows"></div><div class="gadt-plot"><canvas class="gadt-act-heat"></canvas>'
            '<div class="gadt-cursor"></div></div><table class="gadt-act-table"><thead><tr><th>module</th>'
            '<th>mean</th><th>std</th><th>saturated / zero</th></tr></thead><tbody></tbody></table></figure>')


def _legend() -> str:
    half = len(SCALE) // 2
    cells = []
    for k, (fill, text) in enumerate(palette()):
        name = "nan/inf" if k == len(SCALE) else ("1" if k == half else f"1e{(k - half) * DECADES_PER_BIN}")
        cells.append(f'<span style="background:{fill};color:{text}">{name}</span>')
    return '<div class="gadt-legend">gradient norm: ' + "".join(cells) + "</div>"


def run_page(runs: list[Run], labels: list[str] | None = None, *, embedded: bool = False) -> str:
    """The page (or, ``embedded``, the fragment for a notebook) of ``runs``, labelled by ``labels``."""
    labels = labels or [r.display_label for r in runs]
    view = next((g for g in (r.graph() for r in runs) if g is not None), None)
    datas = []
    for run, label in zip(runs, labels, strict=True):
        boxes = view.boxes_for(run.names) if view is not None else ()
        datas.append(page_data(run, label, boxes))
    payload = {"runs": datas, "palette": [list(p) for p in palette()]}
    blob = script_json(payload)
    svg = view.svg if view is not None else ""
    prefix = content_prefix("gadt-", blob + svg)
    title = html.escape(labels[0] if len(runs) == 1 else "comparison: " + " vs ".join(labels))
    picker = ""
    if len(runs) > 1:
        opts = "".join(f'<option value="{k}">{html.escape(lab)}</option>' for k, lab in enumerate(labels))
        picker = f'<label>graph and ratios of <select class="gadt-run">{opts}</select></label>'
    heats = "".join(
        f'<figure class="gadt-heatfig"><figcaption>gradient norm per parameter: {html.escape(lab)}</figcaption>'
        f'<div class="gadt-plot"><canvas class="gadt-heat" data-run="{k}"></canvas><div class="gadt-cursor"></div>'
        f'</div></figure>' for k, lab in enumerate(labels))
    problem = next((r.graph_problem for r in runs if r.graph_problem), None)
    why = (f"it could not be drawn: {problem}" if problem else
           "the watch saw no forward call of the model (watch(..., graph=True))")
    graph = (f'<div class="gadt-graph">{svg_for_html(svg, prefix + "-")}</div>' if view is not None else
             f'<p class="gadt-note">No graph: {html.escape(why)}.</p>')
    body = (
        f'<div class="gadt" id="{prefix}" data-step="0">'
        f'<h2 class="gadt-title">{title}</h2>'
        '<div class="gadt-controls"><button type="button" class="gadt-play">play</button>'
        '<input type="range" class="gadt-slider" min="0" max="0" value="0" aria-label="step">'
        '<span class="gadt-counter"></span>'
        f'{picker}<label><input type="checkbox" class="gadt-logy" checked> log-scale loss</label></div>'
        '<div class="gadt-readout"></div>'
        '<figure><figcaption>loss</figcaption><div class="gadt-plot"><canvas class="gadt-loss"></canvas>'
        '<div class="gadt-cursor"></div></div></figure>'
        f'<div class="gadt-heats">{heats}</div>{_legend()}'
        '<figure><figcaption>update / parameter ratio per layer (dashed: 1e-3)</figcaption><div class="gadt-plot">'
        '<canvas class="gadt-ratio"></canvas><div class="gadt-cursor"></div></div></figure>'
        f'{_activation_panel() if any(d["acts"] for d in datas) else ""}'
        f'<figure><figcaption>the model\'s graph, coloured by the gradient norms of the step shown</figcaption>'
        f'{graph}</figure>'
        f'<script type="application/json" class="gadt-data">{blob}</script>'
        f'<script>(function(root){{{_asset("page.js")}}})(document.getElementById("{prefix}"));</script>'
        '</div>')
    style = f"<style>{_asset('page.css')}</style>"
    if embedded:
        return style + body
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{style}</head>'
            f'<body>{body}</body></html>\n')
