"""Zoom and pan for an inline SVG, shared by the notebook graph view and the stepper page.

:data:`ZOOM_JS` defines one JavaScript function, ``gadZoom(root, view, el, o)``, that each page's
script inlines inside its own closure (nothing global, nothing fetched): − + Fit buttons, Ctrl/⌘ +
wheel or a pinch, drag to pan while zoomed, double-click (or ``0``) to fit, ``+``/``-`` keys, and
arrow keys to pan where ``o.pan`` says so. ``root`` gets class ``gad-zoomed`` (and
``gad-dragging``) and ``data-gad-zoom`` (the scale, 1 = fitted); the buttons are
``button.gad-zoom-out``, ``button.gad-zoom-in``, ``button.gad-zoom-fit`` in a bar of class ``o.bar``
put before ``view``. Fitting follows the CSS: ``max-width:100%`` with :func:`readable_min_width`'s
floor, so text stays readable and the view scrolls sideways instead.
"""

from __future__ import annotations

import re

__all__ = ["READABLE_SCALE", "readable_min_width", "ZOOM_JS"]

# Graphviz's smallest text here is 9 pt (edge labels, shapes): 12 px at the SVG's natural size. Fitting
# to a width never shrinks it below this share of that (about 10 px); the view scrolls instead.
READABLE_SCALE = 0.85
_WIDTH = re.compile(r'width="([0-9.]+)pt"')


def readable_min_width(svg_open: str) -> str:
    """``min-width:…px`` for the SVG whose root tag (or whole text) is ``svg_open``: fit to the
    column, never below :data:`READABLE_SCALE` of the natural size; ``""`` without a width in pt."""
    m = _WIDTH.search(svg_open)
    return f"min-width:{float(m.group(1)) * 4 / 3 * READABLE_SCALE:.0f}px" if m else ""


ZOOM_JS = r"""
  function gadZoom(root, view, el, o) {
    var MAX = 40, s = 1, tx = 0, ty = 0, drag = null;
    function button(bar, cls, text, label) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.title = label;
      bar.appendChild(b);
      return b;
    }
    var bar = document.createElement("div");
    bar.className = o.bar;
    var zout = button(bar, "gad-zoom-out", "\u2212", "zoom out");
    var zin = button(bar, "gad-zoom-in", "+", "zoom in");
    var fit = button(bar, "gad-zoom-fit", "Fit", "fit to the width");
    var hint = document.createElement("span");
    hint.className = o.hint;
    hint.textContent = "Ctrl/\u2318 + wheel or pinch: zoom \u00b7 drag: pan \u00b7 double-click: fit";
    bar.appendChild(hint);
    view.parentNode.insertBefore(bar, view);
    el.style.transformOrigin = "0 0";

    function size() {  // the element's box before the transform
      var r = el.getBoundingClientRect();
      return {w: r.width / s, h: r.height / s};
    }
    function apply() {
      var b = size(), vw = view.clientWidth, vh = view.clientHeight;
      tx = Math.min(0, Math.max(Math.min(0, vw - b.w * s), tx));
      ty = Math.min(0, Math.max(Math.min(0, vh - b.h * s), ty));
      el.style.transform = s === 1 ? "" : "translate(" + tx + "px," + ty + "px) scale(" + s + ")";
      if (s > 1) {
        root.classList.add("gad-zoomed");
        view.scrollLeft = 0;
        view.scrollTop = 0;
      } else { root.classList.remove("gad-zoomed"); }
      root.setAttribute("data-gad-zoom", String(Math.round(s * 1000) / 1000));
      zout.disabled = fit.disabled = s <= 1;
      zin.disabled = s >= MAX;
    }
    function zoomAt(f, cx, cy) {
      var ns = Math.max(1, Math.min(MAX, s * f));
      if (s === 1 && ns > 1) {  // from the fitted view, perhaps scrolled sideways: the scroll becomes the pan
        tx = -view.scrollLeft; ty = -view.scrollTop;
      }
      tx = cx - (cx - tx) * ns / s;
      ty = cy - (cy - ty) * ns / s;
      s = ns;
      apply();
    }
    function zoomCentre(f) {
      var b = size();
      zoomAt(f, Math.min(view.clientWidth, b.w * s) / 2, view.clientHeight / 2);
    }
    function reset() { s = 1; tx = 0; ty = 0; apply(); }
    zin.addEventListener("click", function () { zoomCentre(1.5); });
    zout.addEventListener("click", function () { zoomCentre(1 / 1.5); });
    fit.addEventListener("click", reset);
    view.addEventListener("dblclick", reset);
    view.addEventListener("wheel", function (ev) {
      if (!(ev.ctrlKey || ev.metaKey)) { return; }  // a plain wheel scrolls the page
      ev.preventDefault();
      var r = view.getBoundingClientRect(), d = ev.deltaY * (ev.deltaMode === 1 ? 33 : 1);
      zoomAt(Math.exp(-Math.max(-300, Math.min(300, d)) * 0.002), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    view.addEventListener("pointerdown", function (ev) {
      if (s <= 1 || ev.button !== 0) { return; }
      ev.preventDefault();
      drag = {x: ev.clientX, y: ev.clientY, tx: tx, ty: ty};
      if (view.setPointerCapture) { view.setPointerCapture(ev.pointerId); }
      root.classList.add("gad-dragging");
    });
    view.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      tx = drag.tx + ev.clientX - drag.x;
      ty = drag.ty + ev.clientY - drag.y;
      apply();
    });
    function end() { drag = null; root.classList.remove("gad-dragging"); }
    view.addEventListener("pointerup", end);
    view.addEventListener("pointercancel", end);
    view.addEventListener("dragstart", function (ev) { ev.preventDefault(); });
    root.addEventListener("keydown", function (ev) {
      if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
      var t = ev.target;
      if (t && (/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable)) { return; }
      var pan = o.pan && {ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40]}[ev.key];
      if (ev.key === "+" || ev.key === "=") { zoomCentre(1.5); }
      else if (ev.key === "-" || ev.key === "_") { zoomCentre(1 / 1.5); }
      else if (ev.key === "0") { reset(); }
      else if (pan && s > 1) { tx += pan[0]; ty += pan[1]; apply(); }
      else { return; }
      ev.preventDefault();
    });
    window.addEventListener("resize", apply);
    apply();
    return {zoomed: function () { return s > 1; }};
  }
"""
