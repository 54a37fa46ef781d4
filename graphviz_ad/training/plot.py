"""Static figures of runs with matplotlib (Agg, no pyplot state): loss curves, gradient-norm heatmaps on the
``grad_color`` palette, update/parameter ratios; PNG and deterministic SVG bytes for docs."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import GraphvizADError
from ..render.gradcolor import DECADES_PER_BIN, SCALE
from .bins import NONFINITE_BIN, bins_of, palette

if TYPE_CHECKING:
    from .run import Run

__all__ = ["PlotUnavailable", "run_figure", "compare_figure", "figure_bytes", "RATIO_GUIDE"]

RATIO_GUIDE = 1e-3  # the usual rule of thumb: updates about a thousandth of the weights
_MAX_LINES_WITH_LEGEND = 12


class PlotUnavailable(GraphvizADError, ImportError):
    """matplotlib is needed for figures of runs and is not installed."""


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise PlotUnavailable("run.plot() and .png/.svg output need matplotlib: pip install matplotlib "
                              "(or pip install graphviz_ad[plot]); .html and .json work without it") from e
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _finite_xy(xs: Sequence[int], ys: Sequence[float | None], positive: bool) -> tuple[list[int], list[float]]:
    px, py = [], []
    for x, y in zip(xs, ys, strict=True):
        if y is not None and math.isfinite(y) and (y > 0 or not positive):
            px.append(x)
            py.append(y)
    return px, py


def _loss_axes(ax: Any, runs: list[Run], labels: list[str], log_loss: bool) -> None:
    """Every logged scalar of every run; a run that diverges (beyond 100x the largest starting value) runs
    off the top of the chart, so that it does not flatten the others, and its legend says so."""
    curves = []
    for run, label in zip(runs, labels, strict=True):
        h = run.record
        for name, series in h.scalars.items():
            xs, ys = _finite_xy(h.log_steps, series, log_loss)
            if xs:
                legend = (label if name == "loss" else f"{label}: {name}") if len(runs) > 1 else name
                curves.append((xs, ys, legend))
        for name, step in h.nonfinite.items():
            if name in h.scalars:
                ax.axvline(step, color="#000000", ls=":", lw=1)
    top = 100 * max((abs(ys[0]) for _, ys, _ in curves), default=0.0)
    clipped = False
    for xs, ys, legend in curves:
        off = top > 0 and max(ys) > top
        clipped |= off
        ax.plot(xs, ys, lw=1.2, marker="o" if len(xs) <= 2 else None,
                label=legend + (" (off the chart: diverged)" if off else ""))
    if log_loss and curves:
        ax.set_yscale("log")
    if clipped:
        low = min(min(ys) for _, ys, _ in curves)
        ax.set_ylim(low / 2 if log_loss else min(0.0, low), top)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("logged value" + (" (log scale)" if log_loss else ""))
    ax.set_title("loss")
    if len(curves) > 1 or len(runs) > 1:
        ax.legend(fontsize=8)
    if not curves:
        ax.text(0.5, 0.5, "nothing logged (run.log(loss))", ha="center", va="center", transform=ax.transAxes)


def _heatmap_axes(fig: Any, ax: Any, run: Run, title: str, colorbar: bool) -> None:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    h = run.record
    colours = [c for c, _ in palette()]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm([k - 0.5 for k in range(len(colours) + 1)], len(colours))
    if len(h) and h.names:
        bins = bins_of(h.matrix("grad_norm")).T  # parameters x steps
        steps = list(h.steps)
        extent = (steps[0] - 0.5, steps[-1] + 0.5, len(h.names) - 0.5, -0.5)
        im = ax.imshow(bins, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest", extent=extent)
        ticks = list(range(len(h.names)))
        step = max(1, len(ticks) // 24)
        ax.set_yticks(ticks[::step])
        ax.set_yticklabels(h.names[::step], fontsize=7)
        if colorbar:
            half = len(SCALE) // 2
            bar = fig.colorbar(im, ax=ax, ticks=list(range(len(colours))), fraction=0.04, pad=0.02)
            bar.ax.set_yticklabels([("1" if k == half else f"1e{(k - half) * DECADES_PER_BIN}")
                                    if k < NONFINITE_BIN else "nan/inf" for k in range(len(colours))], fontsize=7)
            bar.set_label("gradient norm", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no optimizer step recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("optimizer step")
    ax.set_title(title)


def _ratio_axes(ax: Any, run: Run) -> None:
    h = run.record
    if len(h) and h.names:
        r = h.matrix("update_ratio")
        steps = list(h.steps)
        for i, name in enumerate(h.names):
            xs, ys = _finite_xy(steps, list(r[:, i]), True)
            if xs:
                ax.plot(xs, ys, lw=0.9, label=name)
        if ax.lines:
            ax.set_yscale("log")
            ax.axhline(RATIO_GUIDE, color="#888888", ls="--", lw=0.8)
        if 0 < len(h.names) <= _MAX_LINES_WITH_LEGEND:
            ax.legend(fontsize=7, ncol=2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("||update|| / ||param||")
    ax.set_title("update / parameter ratio per layer (dashed: 1e-3)")


def _activation_axes(ax: Any, run: Run) -> None:
    """Per watched module, the fraction of its outputs saturated (Tanh, Sigmoid) or zero (ReLU)."""
    h = run.record
    steps = list(h.steps)
    for module, stats in h.activations.items():
        for stat in ("saturated", "zero"):
            if stat in stats:
                xs, ys = _finite_xy(steps, stats[stat], False)
                if xs:
                    ax.plot(xs, ys, lw=1.0, label=f"{module}: {stat}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("fraction of outputs")
    ax.set_title("activations: saturated (|y| > 0.99) or zero fraction per module")
    if ax.lines and len(ax.lines) <= _MAX_LINES_WITH_LEGEND:
        ax.legend(fontsize=7, ncol=2)


def run_figure(run: Run, *, log_loss: bool = True) -> Any:
    """Loss curve, gradient-norm heatmap (parameters x steps) and update ratios of one run; with
    ``activations=True`` also the saturated/zero fraction of each module's outputs."""
    _, Figure = _matplotlib()
    rows = max(3.0, min(10.0, 0.18 * len(run.names)))
    acts = any(k in stats for stats in run.record.activations.values() for k in ("saturated", "zero"))
    heights = [3, rows, 3.2] + ([2.6] if acts else [])
    fig = Figure(figsize=(9, 1 + sum(heights)), layout="constrained")
    axes = fig.subplots(len(heights), 1, height_ratios=heights)
    _loss_axes(axes[0], [run], [run.display_label], log_loss)
    _heatmap_axes(fig, axes[1], run, "gradient norm per parameter (grad_color's log palette)", True)
    _ratio_axes(axes[2], run)
    if acts:
        _activation_axes(axes[3], run)
    fig.suptitle(run.display_label)
    return fig


def compare_figure(runs: list[Run], labels: list[str], *, log_loss: bool = True) -> Any:
    """Loss curves overlaid on top; one gradient-norm heatmap per run side by side below, titled by label."""
    _, Figure = _matplotlib()
    n = len(runs)
    rows = max(2.5, min(6.0, 0.12 * max(len(r.names) for r in runs)))
    fig = Figure(figsize=(max(9, 4 * n), 3.5 + rows + 1), layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[3, rows])
    _loss_axes(fig.add_subplot(grid[0, :]), runs, labels, log_loss)
    for k, (run, label) in enumerate(zip(runs, labels, strict=True)):
        _heatmap_axes(fig, fig.add_subplot(grid[1, k]), run, f"gradient norm: {label}", k == n - 1)
    return fig


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """PNG or SVG bytes of a figure; the same figure gives the same bytes (no dates, fixed SVG ids)."""
    matplotlib, _ = _matplotlib()
    buf = io.BytesIO()
    meta = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "graphviz_ad", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, metadata=meta, dpi=110)
    return buf.getvalue()
