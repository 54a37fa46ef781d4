"use strict";
// The training page's script: decode the runs, draw the charts once, recolour the graph per step.
// It runs inside (function(root){...})(the page's root div); nothing is fetched.
var data = JSON.parse(root.querySelector(".gadt-data").textContent);
var PALETTE = data.palette;                 // [fill, text] per colour bin; the last one is nan/inf
var NAN_BIN = PALETTE.length - 1;
var LINE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

function bytes(s) {
  var bin = atob(s), out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function f32(s) { var b = bytes(s); return new Float32Array(b.buffer, 0, b.length / 4); }
function f64(s) { var b = bytes(s); return new Float64Array(b.buffer, 0, b.length / 8); }

var runs = data.runs.map(function (r) {
  return {label: r.label, names: r.names, rows: r.rows, total: r.total, P: r.names.length,
          steps: f64(r.steps), grad: f32(r.grad), bins: bytes(r.bins), ratio: f32(r.ratio),
          lx: f64(r.loss_x), ly: f32(r.loss_y), boxes: r.boxes, boxBins: bytes(r.box_bins),
          nonfinite: r.nonfinite, acts: (r.acts || []).map(function (a) {
            var v = {}; a.stats.forEach(function (s) { v[s] = f32(a.values[s]); });
            return {module: a.module, stats: a.stats, v: v};
          })};
});
var slider = root.querySelector(".gadt-slider");
var counter = root.querySelector(".gadt-counter");
var readout = root.querySelector(".gadt-readout");
var playBtn = root.querySelector(".gadt-play");
var logy = root.querySelector(".gadt-logy");
var picker = root.querySelector(".gadt-run");
var active = 0;
var stepMin = Infinity, stepMax = -Infinity;
runs.forEach(function (r) {
  if (r.rows) { stepMin = Math.min(stepMin, r.steps[0]); stepMax = Math.max(stepMax, r.steps[r.rows - 1]); }
  for (var i = 0; i < r.lx.length; i++) { stepMin = Math.min(stepMin, r.lx[i]); stepMax = Math.max(stepMax, r.lx[i]); }
});
if (!isFinite(stepMin)) { stepMin = 0; stepMax = 1; }
if (stepMax === stepMin) stepMax = stepMin + 1;

function num(x) {
  if (x !== x) return "nan";
  if (!isFinite(x)) return x > 0 ? "inf" : "-inf";
  return Number(x.toPrecision(4)).toString();
}
var PAD = {l: 52, r: 8, t: 8, b: 22};
function xOf(step, w) { return PAD.l + (step - stepMin) / (stepMax - stepMin) * (w - PAD.l - PAD.r); }

function setup(canvas, height) {
  var w = Math.max(300, canvas.parentNode.clientWidth || 800);
  canvas.width = w; canvas.height = height;
  canvas.style.width = w + "px"; canvas.style.height = height + "px";
  var ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, height);
  ctx.font = "10px sans-serif"; ctx.fillStyle = "#444"; ctx.strokeStyle = "#bbb";
  return ctx;
}
function axes(ctx, w, h, lo, hi, log) {
  ctx.strokeStyle = "#bbb"; ctx.beginPath();
  ctx.moveTo(PAD.l, PAD.t); ctx.lineTo(PAD.l, h - PAD.b); ctx.lineTo(w - PAD.r, h - PAD.b); ctx.stroke();
  ctx.fillStyle = "#444";
  ctx.fillText(num(log ? Math.pow(10, hi) : hi), 2, PAD.t + 8);
  ctx.fillText(num(log ? Math.pow(10, lo) : lo), 2, h - PAD.b);
  ctx.fillText("step " + num(stepMin), PAD.l, h - 6);
  var right = "step " + num(stepMax);
  ctx.fillText(right, w - PAD.r - ctx.measureText(right).width, h - 6);
}
function lines(canvas, height, series, log, guide) {
  // series: [{x: Float64Array, y: Float32Array|Array, color}]; draws once.
  var ctx = setup(canvas, height), w = canvas.width, lo = Infinity, hi = -Infinity;
  series.forEach(function (s) {
    for (var i = 0; i < s.y.length; i++) {
      var v = s.y[i];
      if (!(isFinite(v)) || (log && v <= 0)) continue;
      v = log ? Math.log10(v) : v; if (v < lo) lo = v; if (v > hi) hi = v;
    }
  });
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (hi === lo) { hi = lo + 1; lo = lo - 1; }
  var yOf = function (v) { return h0 - ((log ? Math.log10(v) : v) - lo) / (hi - lo) * (h0 - PAD.t); };
  var h0 = height - PAD.b;
  axes(ctx, w, height, lo, hi, log);
  if (guide && log && Math.log10(guide) >= lo && Math.log10(guide) <= hi) {
    ctx.setLineDash([4, 3]); ctx.strokeStyle = "#888"; ctx.beginPath();
    ctx.moveTo(PAD.l, yOf(guide)); ctx.lineTo(w - PAD.r, yOf(guide)); ctx.stroke(); ctx.setLineDash([]);
  }
  series.forEach(function (s) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.2; ctx.beginPath();
    var pen = false;
    for (var i = 0; i < s.y.length; i++) {
      var v = s.y[i];
      if (!isFinite(v) || (log && v <= 0)) { pen = false; continue; }
      var x = xOf(s.x[i], w), y = yOf(v);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  });
}
function drawLoss() {
  var series = runs.map(function (r, k) { return {x: r.lx, y: r.ly, color: LINE[k % LINE.length]}; });
  lines(root.querySelector(".gadt-loss"), 180, series, logy.checked, 0);
  var legend = root.querySelector(".gadt-loss-legend");
  if (runs.length > 1 && !legend) {
    legend = document.createElement("div"); legend.className = "gadt-loss-legend";
    runs.forEach(function (r, k) {
      var s = document.createElement("span"); s.style.color = LINE[k % LINE.length];
      s.textContent = "\u25A0 " + r.label; legend.appendChild(s);
    });
    root.querySelector(".gadt-loss").parentNode.parentNode.appendChild(legend);
  }
}
function drawRatio() {
  var r = runs[active], series = [];
  for (var p = 0; p < r.P; p++) {
    var y = new Float32Array(r.rows);
    for (var i = 0; i < r.rows; i++) y[i] = r.ratio[i * r.P + p];
    series.push({x: r.steps, y: y, color: LINE[p % LINE.length]});
  }
  lines(root.querySelector(".gadt-ratio"), 180, series, true, 1e-3);
}
function drawHeat(canvas, r) {
  // one pixel per (shown step, parameter), stretched by CSS; colours are the page's palette bins.
  var w = Math.max(1, r.rows), h = Math.max(1, r.P);
  canvas.width = w; canvas.height = h;
  var box = canvas.parentNode.clientWidth || 800;
  canvas.style.width = (box - PAD.l - PAD.r) + "px"; canvas.style.marginLeft = PAD.l + "px";
  canvas.style.height = Math.min(400, Math.max(40, 4 * h)) + "px";
  var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h), rgb = PALETTE.map(function (p) {
    var c = p[0]; return [parseInt(c.substr(1, 2), 16), parseInt(c.substr(3, 2), 16), parseInt(c.substr(5, 2), 16)];
  });
  for (var i = 0; i < r.rows; i++) for (var p = 0; p < r.P; p++) {
    var c = rgb[r.bins[i * r.P + p]], o = 4 * (p * w + i);
    img.data[o] = c[0]; img.data[o + 1] = c[1]; img.data[o + 2] = c[2]; img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
// the activations panel (only on pages of runs that recorded them): fraction heatmap and the step's table
var actFig = root.querySelector(".gadt-acts");
function fracOf(a) { return a.stats.length > 2 ? a.stats[2] : null; }
function drawActs() {
  if (!actFig) return;
  var r = runs[active], withFrac = r.acts.filter(fracOf);
  actFig.querySelector(".gadt-act-note").textContent = r.acts.length ? "" :
    "This run recorded no activations (watch(..., activations=True)).";
  actFig.querySelector(".gadt-act-rows").textContent = withFrac.length ?
    "rows, top to bottom: " + withFrac.map(function (a) { return a.module + " (" + fracOf(a) + ")"; }).join(", ") : "";
  var canvas = actFig.querySelector(".gadt-act-heat"), w = Math.max(1, r.rows), h = Math.max(1, withFrac.length);
  canvas.style.display = withFrac.length ? "block" : "none";
  canvas.width = w; canvas.height = h;
  var box = canvas.parentNode.clientWidth || 800;
  canvas.style.width = (box - PAD.l - PAD.r) + "px"; canvas.style.marginLeft = PAD.l + "px";
  canvas.style.height = Math.min(300, Math.max(12, 12 * h)) + "px";
  var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (var m = 0; m < withFrac.length; m++) {
    var vals = withFrac[m].v[fracOf(withFrac[m])];
    for (var i = 0; i < r.rows; i++) {
      var f = vals[i], o = 4 * (m * w + i), ok = f === f;
      f = ok ? Math.max(0, Math.min(1, f)) : 0;
      img.data[o] = ok ? Math.round(255 - 42 * f) : 221; img.data[o + 1] = ok ? Math.round(255 - 161 * f) : 221;
      img.data[o + 2] = ok ? Math.round(255 - 255 * f) : 221; img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  var body = actFig.querySelector(".gadt-act-table tbody");
  while (body.firstChild) body.removeChild(body.firstChild);
  r.acts.forEach(function (a) {
    var tr = document.createElement("tr"); tr.setAttribute("data-module", a.module);
    ["module", "mean", "std", "frac"].forEach(function (k) {
      var td = document.createElement("td"); td.className = "gadt-act-" + k;
      if (k === "module") td.textContent = a.module;
      tr.appendChild(td);
    });
    body.appendChild(tr);
  });
}
function actRow(i) {
  if (!actFig) return;
  var r = runs[active], trs = actFig.querySelectorAll(".gadt-act-table tbody tr");
  r.acts.forEach(function (a, k) {
    var cells = trs[k].children, frac = fracOf(a);
    cells[1].textContent = num(a.v.mean[i]); cells[2].textContent = num(a.v.std[i]);
    cells[3].textContent = frac ? num(a.v[frac][i]) + " " + frac : "-";
  });
}
if (actFig) {
  var actHeat = actFig.querySelector(".gadt-act-heat");
  actHeat.addEventListener("mousemove", function (ev) {
    var r = runs[active], withFrac = r.acts.filter(fracOf), b = actHeat.getBoundingClientRect();
    var i = Math.floor((ev.clientX - b.left) / b.width * r.rows);
    var m = Math.floor((ev.clientY - b.top) / b.height * withFrac.length);
    actHeat.title = (i >= 0 && i < r.rows && m >= 0 && m < withFrac.length) ? withFrac[m].module + " at step " +
      r.steps[i] + ": " + fracOf(withFrac[m]) + " fraction " + num(withFrac[m].v[fracOf(withFrac[m])][i]) : "";
  });
  actHeat.addEventListener("click", function (ev) {
    var r = runs[active], b = actHeat.getBoundingClientRect(), i = Math.floor((ev.clientX - b.left) / b.width * r.rows);
    if (i >= 0 && i < r.rows) { slider.value = String(i); redraw(); }
  });
}
// the graph: every box that stands for recorded parameters, with its filled shapes and its texts
var prefix = root.id + "-";
function boxesOf(r) {
  return r.boxes.map(function (id) {
    var g = document.getElementById(prefix + id);
    if (!g) return null;
    g.setAttribute("data-box", id);
    var shapes = [], texts = [];
    g.querySelectorAll("polygon, path, ellipse").forEach(function (s) {
      var f = s.getAttribute("fill"); if (f && f !== "none" && f !== "transparent") shapes.push(s);
    });
    g.querySelectorAll("text").forEach(function (t) { texts.push(t); });
    return {g: g, shapes: shapes, texts: texts};
  });
}
var boxEls = boxesOf(runs[0]);
var cursors = root.querySelectorAll(".gadt-cursor");

function rowAt(r, step) {  // the last shown row of run r at or before this step
  var lo = 0, hi = r.rows - 1;
  if (hi < 0 || r.steps[0] > step) return -1;
  while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (r.steps[mid] <= step) lo = mid; else hi = mid - 1; }
  return lo;
}
function place(cursor, step) {
  var plot = cursor.parentNode, w = plot.clientWidth || 800;
  cursor.style.left = xOf(step, w) + "px";
}
function lossAt(r, step) {
  var best = NaN;
  for (var i = 0; i < r.lx.length && r.lx[i] <= step; i++) best = r.ly[i];
  return best;
}
function redraw() {
  var t0 = performance.now();
  var r = runs[active], i = Math.min(+slider.value, Math.max(0, r.rows - 1));
  root.setAttribute("data-step", String(i));
  if (!r.rows) { counter.textContent = "no optimizer step recorded"; return; }
  var step = r.steps[i];
  counter.textContent = "step " + step + " (" + (i + 1) + " of " + r.rows +
    (r.rows < r.total ? " shown, every " + (r.total / r.rows).toFixed(1) + "th of " + r.total + " recorded" : "") + ")";
  for (var b = 0; b < boxEls.length; b++) {
    var el = boxEls[b]; if (!el) continue;
    var k = r.boxBins[i * r.boxes.length + b], p = PALETTE[k];
    for (var s = 0; s < el.shapes.length; s++) el.shapes[s].setAttribute("fill", p[0]);
    for (var t = 0; t < el.texts.length; t++) el.texts[t].setAttribute("fill", p[1]);
    el.g.setAttribute("data-bin", k === NAN_BIN ? "nan" : String(k));
  }
  var hi = -1, lo = -1, top = -Infinity, bottom = Infinity;
  for (var q = 0; q < r.P; q++) {
    var v = r.grad[i * r.P + q], key = v === v ? v : Infinity;  // nan counts as the largest
    if (hi < 0 || key > top) { hi = q; top = key; }
    if (lo < 0 || key < bottom) { lo = q; bottom = key; }
  }
  var text = "loss " + num(lossAt(r, step));
  if (hi >= 0) text += " \u00B7 largest gradient norm " + r.names[hi] + " " + num(r.grad[i * r.P + hi]) +
    " \u00B7 smallest " + r.names[lo] + " " + num(r.grad[i * r.P + lo]);
  var bad = Object.keys(r.nonfinite).filter(function (n) { return r.nonfinite[n] <= step; });
  if (bad.length) text += " \u00B7 nan/inf since step " + r.nonfinite[bad[0]] + ": " + bad.slice(0, 5).join(", ");
  readout.textContent = text;
  actRow(i);
  for (var c = 0; c < cursors.length; c++) place(cursors[c], step);
  root.setAttribute("data-redraw-ms", (performance.now() - t0).toFixed(2));
}
function selectRun(k) {
  active = k;
  var r = runs[active];
  slider.max = String(Math.max(0, r.rows - 1));
  if (+slider.value > r.rows - 1) slider.value = String(Math.max(0, r.rows - 1));
  boxEls = boxesOf(r);
  drawRatio();
  drawActs();
  redraw();
}
var timer = null;
function stop() { if (timer !== null) { clearInterval(timer); timer = null; } playBtn.textContent = "play"; }
playBtn.addEventListener("click", function () {
  if (timer !== null) { stop(); return; }
  var r = runs[active], last = Math.max(0, r.rows - 1), jump = Math.max(1, Math.round(r.rows / 150));
  if (+slider.value >= last) slider.value = "0";
  playBtn.textContent = "pause";
  timer = setInterval(function () {
    var next = Math.min(last, +slider.value + jump);
    slider.value = String(next); redraw();
    if (next >= last) stop();
  }, 40);
});
// the heatmaps: hover names the cell (parameter, step, gradient norm); a click moves the slider there
root.querySelectorAll(".gadt-heat").forEach(function (c) {
  var r = runs[+c.getAttribute("data-run")];
  function cell(ev) {
    var box = c.getBoundingClientRect();
    var i = Math.floor((ev.clientX - box.left) / box.width * r.rows);
    var p = Math.floor((ev.clientY - box.top) / box.height * r.P);
    return (i >= 0 && i < r.rows && p >= 0 && p < r.P) ? [i, p] : null;
  }
  c.addEventListener("mousemove", function (ev) {
    var at = cell(ev);
    c.title = at ? r.names[at[1]] + " at step " + r.steps[at[0]] + ": gradient norm " +
      num(r.grad[at[0] * r.P + at[1]]) : "";
  });
  c.addEventListener("click", function (ev) {
    var at = cell(ev);
    if (!at) return;
    if (picker && +picker.value !== +c.getAttribute("data-run")) {
      picker.value = c.getAttribute("data-run"); selectRun(+picker.value);
    }
    slider.value = String(at[0]); redraw();
  });
});
slider.addEventListener("input", redraw);
logy.addEventListener("change", drawLoss);
if (picker) picker.addEventListener("change", function () { selectRun(+picker.value); });
drawLoss();
root.querySelectorAll(".gadt-heat").forEach(function (c) { drawHeat(c, runs[+c.getAttribute("data-run")]); });
selectRun(0);
