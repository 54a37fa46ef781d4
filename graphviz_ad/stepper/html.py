"""The standalone HTML stepper: one inline SVG, inline CSS and script, the steps as embedded JSON.

Nothing is fetched: no CDN, no fonts, no images. Several steppers can share a page: every id
starts with the stepper's prefix (``gad-`` and a hash of its content, so the same input gives the
same bytes), and each script finds its own root element. User text (labels, formulas) reaches
the page only as SVG text escaped by Graphviz, or as JSON that the script inserts with
``textContent``.

DOM contract (what tests and embedding pages may rely on):

- root: ``div.gad-stepper#<prefix>`` with ``data-step="k"`` (the frame shown: 0 forward pass,
  1..N step k-1, N+1 every gradient, N+2+j the optimizer's update of parameter j where the trace
  recorded one) and class ``gad-at-forward`` on frame 0, ``gad-at-update`` on update frames;
- controls: ``button.gad-prev``, ``button.gad-play``, ``button.gad-next``,
  ``input.gad-slider`` (type range, 0..last frame), ``span.gad-counter`` (the phase: ``forward``,
  ``backward: step k of N``, ``gradients (after backward)``, ``optimizer step (SGD): j of U``);
  keys ArrowLeft/ArrowRight, Home/End when focus is in the stepper (or on the page body, for the
  page's first stepper); a click on Prev, Play or Next that leaves the focus outside (Safari, a
  notebook) moves it to the root, so the keys go on stepping this stepper;
- zoom (:mod:`graphviz_ad.output.zoom`, as the notebook graph view): ``div.gad-zoom-tools`` with
  ``button.gad-zoom-out``, ``button.gad-zoom-in``, ``button.gad-zoom-fit`` above ``div.gad-view``
  (the SVG's scroll box); the root carries ``data-gad-zoom`` (1 = fitted) and ``gad-zoomed``; keys
  ``+``, ``-``, ``0``; Ctrl/⌘ + wheel, drag to pan while zoomed, double-click to fit;
- SVG: node groups ``g[data-node="n3"]`` and edge groups ``g[data-edge="e3"]`` carry the state
  classes of :mod:`graphviz_ad.stepper.progress` (``gad-current`` on the current step's node, or
  on the parameter being updated); gradient texts have class ``gad-grad`` and are hidden while
  pending (shown on update frames, where every gradient is known);
- panel ``div.gad-panel``: ``.gad-panel-title`` (``[3] MulBackward0 (mul = z*c)``,
  ``[4] AccumulateGrad (leaf z)``), one
  ``.gad-panel-upstream`` (the step's upstream gradient, or a leaf's ``.grad``), ``.gad-panel-sum``
  where several gradients were summed (``0.1 + 0.2 = ``); per chain-rule term a
  ``.gad-panel-term`` with ``.gad-panel-to``, ``.gad-panel-factor`` (the upstream),
  ``.gad-panel-local`` (the local derivative's number, empty when unknown), ``.gad-panel-contrib``
  and ``.gad-panel-formula``; per node whose gradient the step completed a ``.gad-panel-complete``
  row (``∇a complete (from step 6)``); the final frame lists ``.gad-panel-leafgrad`` rows. An update frame's
  title reads ``optimizer step (SGD): 0.bias``; its rows hold ``.gad-panel-old`` (the value before),
  ``.gad-panel-gradient``, per optimizer state entry a ``.gad-panel-state`` row with
  ``.gad-panel-state-name``, ``.gad-panel-before`` and ``.gad-panel-after`` (``none`` where the
  state did not exist yet), ``.gad-panel-rule`` and ``.gad-panel-new``. Numbers are formatted in
  Python (:func:`graphviz_ad.render.format.fmt_value`), never in the script.
"""

from __future__ import annotations

from typing import Any

from ..output.embed import content_prefix, html_document, script_json, svg_for_html
from ..output.zoom import ZOOM_JS, readable_min_width
from ..render.theme import Theme
from .progress import Progress
from .stepinfo import StepView
from .svgparts import SvgTemplate, strip_grad_tip, tag_grad
from .updateinfo import UpdateView

__all__ = ["stepper_html", "stepper_page", "inline_svg", "MAX_HTML_TERMS", "MAX_HTML_LEAVES",
           "MAX_HTML_STATE"]

MAX_HTML_TERMS = 50  # chain-rule terms sent to the page per step; the rest are counted
MAX_HTML_LEAVES = 50  # leaf gradients listed on the gradients frame; the rest are counted
MAX_HTML_STATE = 20  # optimizer state entries sent per update; the rest are counted



def _readable_floor(svg_open: str) -> str:
    """``style="min-width:…px"`` for the root ``<svg`` tag: fit to the column, but not below
    :data:`~graphviz_ad.output.zoom.READABLE_SCALE` of the natural size."""
    floor = readable_min_width(svg_open)
    return f' style="{floor}"' if floor else ""


def inline_svg(template: SvgTemplate, prefix: str) -> str:
    """The laid-out SVG for the page: every gradient present (CSS hides pending ones), node and edge
    groups marked with ``data-node``/``data-edge``, ids prefixed, no XML prolog or comments."""
    values: dict[int, str] = {}
    for slot in template.slots:
        if slot.kind == "node":
            values[slot.index] = f'<g id="{slot.owner}" class="{slot.text}" data-node="{slot.owner}">'
        elif slot.kind == "edge":
            values[slot.index] = f'<g id="{slot.owner}" class="{slot.text}" data-edge="{slot.owner}">'
        elif slot.kind in ("node_grad", "edge_grad"):
            values[slot.index] = tag_grad(slot.text)
        elif slot.kind == "node_tip":  # one tooltip for every frame: it must not give the gradient away
            values[slot.index] = f'<a xlink:title="{strip_grad_tip(slot.text)}">'
        elif slot.kind == "svg":
            values[slot.index] = slot.text + ' class="gad-svg"' + _readable_floor(slot.text)
    return svg_for_html(template.fill(values), prefix + "-")


def _step_data(v: StepView) -> dict[str, Any]:
    terms = [[t.to, t.formula, t.local, t.contrib] for t in v.terms[:MAX_HTML_TERMS]]
    return {"index": v.index, "number": v.number, "node": v.node, "label": v.label, "grad_fn": v.grad_fn, "leaf": v.leaf,
            "title": v.heading, "upstream": v.upstream, "sum": v.sum_text, "terms": terms,
            "more": max(0, len(v.terms) - MAX_HTML_TERMS), "complete": v.complete_notes[:MAX_HTML_TERMS]}


def _update_data(u: UpdateView) -> dict[str, Any]:
    return {"index": u.index, "node": u.node, "name": u.name, "old": u.old, "grad": u.grad, "new": u.new,
            "state": [list(x) for x in u.state[:MAX_HTML_STATE]], "more_state": max(0, len(u.state) - MAX_HTML_STATE),
            "rule": u.rule}


def _data(progress: Progress, views: list[StepView], leaves: list[tuple[str, str]], updates: list[UpdateView],
          titles: dict[str, str]) -> dict[str, Any]:
    return {"steps": [_step_data(v) for v in views], **progress.to_json(),
            "leaves": [list(x) for x in leaves[:MAX_HTML_LEAVES]], "more_leaves": max(0, len(leaves) - MAX_HTML_LEAVES),
            "forward_title": titles.get("forward", "forward"), "update_title": titles.get("update", "optimizer step"),
            "updates": [_update_data(u) for u in updates]}


def _theme_vars(theme: Theme) -> str:
    pairs = {"bg": theme.background, "fg": theme.text, "muted": theme.muted, "grad": theme.grad,
             "hl": theme.highlight, "border": theme.cluster_border, "btn": theme.cluster_fn}
    return ";".join(f"--gad-{k}:{v}" for k, v in pairs.items())


_CSS = """\
.gad-stepper{background:var(--gad-bg);color:var(--gad-fg);font-size:14px;line-height:1.45;
  font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;padding:12px;border-radius:6px;outline:none}
.gad-stepper:focus-visible{box-shadow:0 0 0 2px var(--gad-hl)}
.gad-stepper .gad-controls{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin-bottom:10px}
.gad-stepper button{font:inherit;color:var(--gad-fg);background:var(--gad-btn);border:1px solid var(--gad-border);
  border-radius:4px;padding:4px 12px;cursor:pointer}
.gad-stepper button:disabled{opacity:.4;cursor:default}
.gad-stepper .gad-slider{flex:1 1 220px;accent-color:var(--gad-hl)}
.gad-stepper .gad-counter{min-width:8em;color:var(--gad-muted);font-variant-numeric:tabular-nums}
.gad-stepper .gad-body{display:flex;flex-wrap:wrap;align-items:flex-start;gap:16px}
.gad-stepper .gad-figure{flex:1 1 420px;min-width:0}
.gad-stepper .gad-view{overflow:auto}
.gad-stepper.gad-zoomed .gad-view{overflow:hidden;cursor:grab;touch-action:none}
.gad-stepper.gad-dragging .gad-view{cursor:grabbing}
.gad-stepper .gad-zoom-tools{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:0 0 6px;font-size:12px}
.gad-stepper .gad-zoom-tools button{padding:1px 8px;min-width:2.4em}
.gad-stepper .gad-zoom-hint{color:var(--gad-muted)}
.gad-stepper .gad-figure svg{max-width:100%;height:auto;display:block}
.gad-stepper .gad-panel{flex:0 1 380px;min-width:240px;position:sticky;top:8px;
  border:1px solid var(--gad-border);border-radius:6px;padding:10px 12px}
.gad-stepper .gad-panel-title{font-weight:600;margin-bottom:6px;overflow-wrap:anywhere}
@media (max-width:800px){.gad-stepper .gad-panel{order:-1;flex:1 1 100%;top:0;z-index:1;background:var(--gad-bg);
  max-height:40vh;overflow:auto}}
.gad-stepper .gad-panel-row{overflow-wrap:anywhere}
.gad-stepper .gad-panel-term{margin-top:8px;padding-top:6px;border-top:1px dashed var(--gad-border)}
.gad-stepper .gad-panel-key,.gad-stepper .gad-panel-op,.gad-stepper .gad-panel-note,
.gad-stepper .gad-panel-missing{color:var(--gad-muted)}
.gad-stepper .gad-panel-to{font-weight:600}
.gad-stepper .gad-panel-upstream,.gad-stepper .gad-panel-factor,.gad-stepper .gad-panel-contrib,
.gad-stepper .gad-panel-grad{color:var(--gad-grad);font-variant-numeric:tabular-nums}
.gad-stepper .gad-panel-formula{font-style:italic;color:var(--gad-muted)}
.gad-stepper .gad-panel-complete{margin-top:6px;color:var(--gad-grad)}
.gad-stepper .gad-panel-gradient{color:var(--gad-grad)}
.gad-stepper .gad-panel-old,.gad-stepper .gad-panel-new,.gad-stepper .gad-panel-before,.gad-stepper .gad-panel-after,
.gad-stepper .gad-panel-gradient{font-variant-numeric:tabular-nums}
.gad-stepper .gad-panel-state-name{font-weight:600}
.gad-stepper .gad-panel-rule{margin:6px 0}
.gad-stepper .gad-pending{opacity:.3}
.gad-stepper.gad-at-forward .gad-grad,.gad-stepper .gad-pending .gad-grad{visibility:hidden}
.gad-stepper.gad-at-forward .gad-legend-grad{visibility:hidden}
.gad-stepper.gad-at-update .gad-pending .gad-grad{visibility:visible}
.gad-stepper .gad-current ellipse,.gad-stepper .gad-current path,.gad-stepper .gad-current polygon,
.gad-stepper .gad-current polyline{stroke:var(--gad-hl);stroke-width:3px}
.gad-stepper .gad-edge-active path{stroke:var(--gad-hl);stroke-width:2.5px}
.gad-stepper .gad-edge-active polygon{stroke:var(--gad-hl);fill:var(--gad-hl)}
.gad-stepper .gad-edge-active text{font-weight:bold}
"""

_JS = r"""
(function () {
  "use strict";
  var me = document.currentScript;
""" + ZOOM_JS + r"""
  function first(root, cls) { return root.getElementsByClassName(cls)[0]; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    e.className = cls;
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function add(parent, cls, text) { var e = el("span", cls, text); parent.appendChild(e); return e; }
  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  function setup(root) {
    if (root.getAttribute("data-gad-ready") === "1") { return; }
    root.setAttribute("data-gad-ready", "1");
    var stale = first(root, "gad-stale");
    if (stale) { stale.parentNode.removeChild(stale); }
    var data = JSON.parse(first(root, "gad-data").textContent);
    var steps = data.steps, n = steps.length, ups = data.updates || [], upAt = data.update_at || [];
    var grads = n + 1, last = grads + ups.length, k = 0, timer = null;
    var nodes = [], edges = [];
    Array.prototype.forEach.call(root.querySelectorAll("g[data-node]"), function (g) {
      nodes.push({id: g.getAttribute("data-node"), g: g, base: g.getAttribute("class")});
    });
    Array.prototype.forEach.call(root.querySelectorAll("g[data-edge]"), function (g) {
      var e = data.edges[Number(g.getAttribute("data-edge").slice(1))];
      if (e) { edges.push({src: e[0], dst: e[1], key: e[2], g: g, base: g.getAttribute("class")}); }
    });
    var prev = first(root, "gad-prev"), next = first(root, "gad-next"), play = first(root, "gad-play");
    var slider = first(root, "gad-slider"), counter = first(root, "gad-counter");
    var title = first(root, "gad-panel-title"), body = first(root, "gad-panel-body");
    var view = first(root, "gad-view");
    var zoom = gadZoom(root, view, view.getElementsByTagName("svg")[0],
                       {bar: "gad-zoom-tools", hint: "gad-zoom-hint", pan: false});

    function updateStates(j) {
      var over = {};
      upAt.forEach(function (id, i) { if (i < j) { over[id] = "gad-done"; } });
      upAt.forEach(function (id, i) { if (i > j) { over[id] = "gad-pending"; } });
      over[upAt[j]] = "gad-current";
      return over;
    }
    function nodeState(id, s, cur, over) {
      if (k === 0) { return ""; }
      if (over && has(over, id)) { return over[id]; }
      if (!has(data.first, id)) { return "gad-static"; }
      if (k >= grads) { return "gad-done"; }
      if (id === cur) { return "gad-current"; }
      return data.first[id] <= s ? "gad-done" : "gad-pending";
    }
    function edgeState(e, s, cur) {
      if (k === 0) { return ""; }
      if (e.key === null) { return k >= grads ? "gad-static" : active("gad-static", e, cur); }
      if (k >= grads) { return "gad-done"; }
      return active(e.key <= s ? "gad-done" : "gad-pending", e, cur);
    }
    function active(state, e, cur) {
      if (e.dst === cur) { return state + " gad-edge-active gad-edge-in"; }
      if (e.src === cur) { return state + " gad-edge-active gad-edge-out"; }
      return state;
    }
    function restyle() {
      var s = k - 1, cur = (k >= 1 && k <= n) ? data.at[s] : k > grads ? upAt[k - grads - 1] : null, curG = null;
      var over = k > grads ? updateStates(k - grads - 1) : null;
      nodes.forEach(function (r) {
        var st = nodeState(r.id, s, cur, over);
        r.g.setAttribute("class", st ? r.base + " " + st : r.base);
        if (r.id === cur) { curG = r.g; }
      });
      edges.forEach(function (e) {
        var st = edgeState(e, s, cur);
        e.g.setAttribute("class", st ? e.base + " " + st : e.base);
      });
      return curG;
    }
    function row(cls) { var r = el("div", "gad-panel-row " + cls); body.appendChild(r); return r; }
    function gradRow(cls, label, sum, value) {
      var r = row(cls);
      add(r, "gad-panel-to", label);
      add(r, "gad-panel-op", ".grad = ");
      if (sum) { add(r, "gad-panel-sum", sum + " = "); }
      add(r, cls === "gad-panel-leaf" ? "gad-panel-upstream" : "gad-panel-grad", value);
    }
    function term(v, t) {
      var box = el("div", "gad-panel-term");
      body.appendChild(box);
      var h = el("div", "gad-panel-row"); box.appendChild(h);
      add(h, "gad-panel-key", "\u2192 ");
      add(h, "gad-panel-to", t[0]);
      var m = el("div", "gad-panel-row gad-panel-math"); box.appendChild(m);
      add(m, "gad-panel-factor", v.upstream);
      add(m, "gad-panel-op", " \u00d7 ");
      add(m, "gad-panel-local", t[2]);
      if (!t[2]) { add(m, "gad-panel-missing", "local"); }
      add(m, "gad-panel-op", " = ");
      add(m, "gad-panel-contrib", t[3]);
      box.appendChild(el("div", "gad-panel-row gad-panel-formula", t[1]));
    }
    function valueRow(key, name, op, cls, value) {
      var r = row("gad-panel-update-row");
      add(r, "gad-panel-key", key);
      add(r, "gad-panel-to", name);
      add(r, "gad-panel-op", op);
      add(r, cls, value);
    }
    function update(u) {
      title.textContent = data.update_title + ": " + u.name;
      valueRow("old ", u.name, " = ", "gad-panel-old", u.old);
      valueRow("grad ", u.name, ".grad = ", "gad-panel-gradient", u.grad);
      u.state.forEach(function (st) {
        var r = row("gad-panel-state");
        add(r, "gad-panel-key", "state ");
        add(r, "gad-panel-state-name", st[0]);
        add(r, "gad-panel-op", ": ");
        add(r, "gad-panel-before", st[1]);
        add(r, "gad-panel-op", " \u2192 ");
        add(r, "gad-panel-after", st[2]);
      });
      if (u.more_state) { row("gad-panel-note").textContent = "\u2026 and " + u.more_state + " more"; }
      row("gad-panel-rule gad-panel-formula").textContent = u.rule;
      valueRow("new ", u.name, " = ", "gad-panel-new", u.new);
    }
    function panel() {
      while (body.firstChild) { body.removeChild(body.firstChild); }
      if (k === 0) {
        title.textContent = data.forward_title;
        row("gad-panel-note").textContent = "Every value is computed. Next (or \u2192) walks the backward pass, " +
          "one chain-rule step at a time: upstream \u00d7 local = contribution." +
          (ups.length ? " Then the optimizer updates each parameter." : "");
        return;
      }
      if (k > grads) { update(ups[k - grads - 1]); return; }
      if (k === grads) {
        title.textContent = "gradients (after backward)";
        row("gad-panel-note").textContent = "The backward pass took " + n + " steps.";
        data.leaves.forEach(function (l) { gradRow("gad-panel-leafgrad", l[0], "", l[1]); });
        if (data.more_leaves) { row("gad-panel-note").textContent = "\u2026 and " + data.more_leaves + " more"; }
        (data.check || []).forEach(function (c) { row("gad-panel-check").textContent = c; });
        return;
      }
      var v = steps[k - 1];
      title.textContent = "[" + v.number + "] " + v.title;
      if (v.leaf) { gradRow("gad-panel-leaf", v.label, v.sum, v.upstream); complete(v); return; }
      var u = row("gad-panel-up");
      add(u, "gad-panel-key", "upstream ");
      if (v.sum) { add(u, "gad-panel-sum", v.sum + " = "); }
      add(u, "gad-panel-upstream", v.upstream);
      v.terms.forEach(function (t) { term(v, t); });
      if (v.more) { row("gad-panel-note").textContent = "\u2026 and " + v.more + " more"; }
      if (!v.terms.length) { row("gad-panel-note").textContent = "No input of this op needs a gradient."; }
      complete(v);
    }
    function complete(v) {
      (v.complete || []).forEach(function (c) { row("gad-panel-complete").textContent = c; });
    }
    function stop() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      play.textContent = "\u25b6 Play";
      play.setAttribute("aria-pressed", "false");
    }
    function show(j, scroll) {
      k = Math.max(0, Math.min(last, j));
      root.setAttribute("data-step", String(k));
      if (k === 0) { root.classList.add("gad-at-forward"); } else { root.classList.remove("gad-at-forward"); }
      if (k > grads) { root.classList.add("gad-at-update"); } else { root.classList.remove("gad-at-update"); }
      slider.value = String(k);
      counter.textContent = k === 0 ? "forward" : k === grads ? "gradients (after backward)"
        : k > grads ? data.update_title + ": " + (k - grads) + " of " + ups.length : "backward: step " + k + " of " + n;
      prev.disabled = k === 0;
      next.disabled = k === last;
      var curG = restyle();
      panel();
      if (scroll && curG && curG.scrollIntoView && !zoom.zoomed()) {  // zoomed: the reader's pan stays
        curG.scrollIntoView({block: "nearest", inline: "nearest"});
      }
      if (k === last) { stop(); }
    }
    function start() {
      if (k === last) { show(0); }
      timer = setInterval(function () { show(k + 1, true); }, 1000);
      play.textContent = "\u275a\u275a Pause";
      play.setAttribute("aria-pressed", "true");
    }
    function keep() {  // a click that left the focus elsewhere (Safari; a notebook): the keys come here still
      if (!root.contains(document.activeElement)) { root.focus({preventScroll: true}); }
    }
    prev.addEventListener("click", function () { keep(); stop(); show(k - 1, true); });
    next.addEventListener("click", function () { keep(); stop(); show(k + 1, true); });
    play.addEventListener("click", function () { keep(); if (timer === null) { start(); } else { stop(); } });
    slider.addEventListener("input", function () { stop(); show(Number(slider.value), true); });
    function onKey(ev) {  // whether the key stepped this stepper
      if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) { return false; }
      var t = ev.target;
      if (t && (/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable)) { return false; }
      var to = {ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: last}[ev.key];
      if (to === undefined) { return false; }
      ev.preventDefault();
      stop();
      show(to, true);
      return true;
    }
    // keys from inside the stepper, taken before they bubble to the page: JupyterLab's document-level
    // shortcuts (ArrowRight matches its "... :focus" selector on a focused button) never see them
    root.addEventListener("keydown", function (ev) { if (onKey(ev)) { ev.stopPropagation(); } });
    document.addEventListener("keydown", function (ev) {  // nothing focused: the page's first stepper
      var a = document.activeElement;
      var idle = !a || a === document.body || a === document.documentElement;
      if (idle && document.querySelector(".gad-stepper") === root) { onKey(ev); }
    });
    show(0);
  }
  var root = me && me.closest ? me.closest(".gad-stepper") : null;
  if (root) { setup(root); } else { Array.prototype.forEach.call(document.querySelectorAll(".gad-stepper"), setup); }
})();
"""


def _controls(prefix: str, frames: int) -> str:
    return (f'<div class="gad-controls" id="{prefix}-controls">'
            f'<button type="button" class="gad-prev" id="{prefix}-prev" aria-label="previous step">\u25c0 Prev</button>'
            f'<button type="button" class="gad-play" id="{prefix}-play" aria-pressed="false">\u25b6 Play</button>'
            f'<button type="button" class="gad-next" id="{prefix}-next" aria-label="next step">Next \u25b6</button>'
            f'<input type="range" class="gad-slider" id="{prefix}-slider" min="0" max="{frames - 1}" value="0" '
            f'step="1" aria-label="frame">'
            f'<span class="gad-counter" id="{prefix}-counter">forward</span></div>\n')


def _panel(prefix: str) -> str:
    return (f'<div class="gad-panel" id="{prefix}-panel" aria-live="polite">'
            f'<div class="gad-panel-title" id="{prefix}-title">forward</div>'
            f'<div class="gad-panel-body" id="{prefix}-body"></div></div>\n')


# shown where the page's script did not run (a notebook saved by someone else, not trusted): the script
# removes it as it sets the stepper up
STALE_NOTE = ('<p class="gad-stale" style="margin:0 0 8px;padding:4px 8px;border:1px solid #CC3311;border-radius:4px">'
              "This stepper's buttons need its script, which did not run here: run the cell, or trust the "
              "notebook (File \u2192 Trust Notebook), to make it live.</p>\n")


def stepper_html(template: SvgTemplate, progress: Progress, views: list[StepView], theme: Theme,
                 leaves: list[tuple[str, str]], updates: list[UpdateView] | None = None,
                 titles: dict[str, str] | None = None, check: list[str] | None = None) -> str:
    """The stepper as an HTML fragment (for notebooks, and the body of :func:`stepper_page`).

    ``titles``: ``forward`` (the forward frame's title) and ``update`` (``optimizer step (SGD)``);
    ``check``: the finite-difference check's lines, shown under every gradient."""
    data = _data(progress, views, leaves, updates or [], titles or {})
    if check:
        data["check"] = check
    data = script_json(data)
    prefix = content_prefix("gad-", "\0".join((data, theme.name, template.fill({}))))
    svg = inline_svg(template, prefix)
    return (f'<div class="gad-stepper gad-at-forward" id="{prefix}" data-step="0" tabindex="0" '
            'data-lm-suppress-shortcuts="true" '
            f'style="{_theme_vars(theme)}">\n'
            f"<style>\n{_CSS}</style>\n"
            + STALE_NOTE
            + _controls(prefix, progress.frame_count)
            + f'<div class="gad-body" id="{prefix}-body-wrap">\n'
            f'<div class="gad-figure" id="{prefix}-figure"><div class="gad-view" id="{prefix}-view">\n{svg}</div></div>\n'
            + _panel(prefix)
            + "</div>\n"
            f'<script type="application/json" class="gad-data" id="{prefix}-data">{data}</script>\n'
            f"<script>{_JS}</script>\n"
            "</div>\n")


def stepper_page(fragment: str, theme: Theme) -> str:
    """A whole HTML document around the fragment; a content security policy forbids any fetch."""
    return html_document(fragment, title="graphviz_ad: backward pass, step by step",
                         style=f"html,body{{margin:0;background:{theme.background}}}body{{padding:16px}}")
