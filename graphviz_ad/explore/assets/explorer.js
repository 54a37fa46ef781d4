/* graphviz_ad explorer: expand and collapse modules in place, search, inspect, step the backward pass.
   The page holds the trace's JSON and each part's DOT statement (made in Python, the static figures'
   style); this script composes the DOT of what is open and a Web Worker (Graphviz in WebAssembly, from a
   Blob URL: works from file://) lays it out. User text reaches the page only as JSON inserted with
   textContent/setAttribute, or as SVG text escaped by Graphviz and parsed as XML. */
(function () {
  "use strict";
  var me = document.currentScript;

  function first(root, cls) { return root.getElementsByClassName(cls)[0]; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function num(x) {
    if (x === "nan") { return NaN; }
    if (x === "inf") { return Infinity; }
    if (x === "-inf") { return -Infinity; }
    if (x === true) { return 1; }
    if (x === false) { return 0; }
    return x;
  }
  function flat(v, out) {
    var stack = [v];
    while (stack.length) {
      var d = stack.pop();
      if (Array.isArray(d)) { for (var i = d.length - 1; i >= 0; i--) { stack.push(d[i]); } } else { out.push(num(d)); }
    }
    return out;
  }
  function prod(shape) { var p = 1; (shape || []).forEach(function (s) { p *= s; }); return p; }
  function shapeText(shape) { return shape === null || shape === undefined ? "" : "[" + shape.join(", ") + "]"; }
  function numText(x) { return x === null || x === undefined ? "" : String(x); }

  /* What the panel shows of a value: exact tensors (small) are summarised here, bigger ones were
     summarised at trace time (min/max/mean/norm). */
  function summary(v) {
    if (v === null || v === undefined) { return null; }
    if (typeof v === "object" && !Array.isArray(v)) {
      var n = prod(v.shape), mean = num(v.mean), norm = num(v.norm), std = null;
      if (n > 1 && typeof mean === "number" && typeof norm === "number") {
        std = Math.sqrt(Math.max(0, (norm * norm - n * mean * mean) / (n - 1)));
      }
      return {exact: false, n: n, min: num(v.min), max: num(v.max), mean: mean, norm: norm, std: std};
    }
    var xs = flat(v, []), s = {exact: true, n: xs.length, min: Infinity, max: -Infinity, mean: 0, norm: 0,
                                std: null, nan: 0, inf: 0, values: xs};
    var sum = 0, sq = 0, finite = [];
    xs.forEach(function (x) {
      if (typeof x !== "number") { return; }
      if (x !== x) { s.nan++; } else if (!isFinite(x)) { s.inf++; } else { finite.push(x); }
      if (x < s.min) { s.min = x; }
      if (x > s.max) { s.max = x; }
      sum += x; sq += x * x;
    });
    if (!xs.length || s.nan) { s.min = s.nan ? NaN : s.min; s.max = s.nan ? NaN : s.max; }
    s.mean = xs.length ? sum / xs.length : NaN;
    s.norm = Math.sqrt(sq);
    if (xs.length > 1) {
      var m = s.mean, acc = 0;
      xs.forEach(function (x) { acc += (x - m) * (x - m); });
      s.std = Math.sqrt(acc / (xs.length - 1));
    }
    if (finite.length > 1) {
      var lo = Math.min.apply(null, finite), hi = Math.max.apply(null, finite), bins = [], k;
      for (k = 0; k < 10; k++) { bins.push(0); }
      finite.forEach(function (x) {
        var b = hi > lo ? Math.min(9, Math.floor((x - lo) / (hi - lo) * 10)) : 0;
        bins[b]++;
      });
      s.hist = {lo: lo, hi: hi, bins: bins};
    }
    return s;
  }
  function normOf(v) { var s = summary(v); return s ? s.norm : null; }

  /* The data and the vendored Graphviz travel gzip-compressed in base64 (a tenth of the JSON's size,
     half of Graphviz's); the browser's own DecompressionStream inflates them, nothing is fetched. */
  function unpack(script) {
    var text = script.textContent;
    if (script.getAttribute("data-encoding") !== "gzip-base64") { return Promise.resolve(text); }
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  /* Graphviz once per page: an explorer that carries it (.gad-x-viz) publishes it page-wide under its
     key (the root's data-viz); one without it (a notebook's later outputs) waits for it, saying so. */
  function graphviz(root) {
    var key = root.getAttribute("data-viz") || "", own = first(root, "gad-x-viz");
    var all = window.gadExplorerViz = window.gadExplorerViz || {}, r = all[key];
    if (!r) {
      r = all[key] = {carried: false};
      r.promise = new Promise(function (ok) { r.resolve = ok; });
    }
    if (own && !r.carried) { r.carried = true; r.resolve(unpack(own)); }
    if (!r.carried) {
      root.setAttribute("data-graphviz", "waiting");
      first(root, "gad-x-status").textContent = "waiting for Graphviz, the layout engine: it comes with the first " +
        "explorer shown in a kernel session (restart the kernel and run the cells again if it never arrives)";
      r.promise.then(function () { root.removeAttribute("data-graphviz"); }, function () {});
    }
    return r.promise;
  }
  function setup(root) {
    if (root.getAttribute("data-gad-ready") === "1") { return; }
    root.setAttribute("data-gad-ready", "1");
    Array.prototype.forEach.call(root.querySelectorAll(".gad-x-stale"), function (e) { e.parentNode.removeChild(e); });
    Array.prototype.forEach.call(root.querySelectorAll("[data-gad-live]"), function (e) { e.style.display = ""; });
    first(root, "gad-x-status").textContent = "loading\u2026";
    Promise.all([unpack(first(root, "gad-x-data")), unpack(first(root, "gad-x-dot")),
                 graphviz(root)]).then(function (texts) {
      var data = JSON.parse(texts[0]), lines = texts[1].split("\n"), g = data.graph, k = 0;
      function take(n) { var out = lines.slice(k, k + n); k += n; return out; }
      data.nodes = take(g.nodes.length);
      data.edges = take(g.edges.length);
      data.clusters = take(g.clusters.length);
      var ids = Object.keys(data.modules);
      take(ids.length).forEach(function (box, i) { data.modules[ids[i]].box = box; });
      start(root, data, texts[2]);
    }, function (e) {
      first(root, "gad-x-status").textContent = "cannot read the page's data: " + e;
      root.setAttribute("data-state", "error");
    });
  }
  function start(root, data, vizSource) {
    var g = data.graph, nodes = g.nodes, edges = g.edges, clusters = g.clusters, mods = data.modules;
    var prefix = root.id, idx = {}, cidx = {}, closed = {}, selected = null, hit = null, current = null;
    nodes.forEach(function (n, i) { idx[n.id] = i; });
    clusters.forEach(function (c, i) { cidx[c.id] = i; });
    data.closed.forEach(function (c) { closed[c] = true; });
    var folds = data.folds || {}, foldOf = {}, foldClosed = {};  // long op chains folded into one box
    Object.keys(folds).forEach(function (f) {
      foldClosed[f] = true;
      folds[f].members.forEach(function (id) { foldOf[id] = f; });
    });
    function foldAt(id) { var f = foldOf[id]; return f && foldClosed[f] ? f : null; }
    var view = first(root, "gad-x-view"), status = first(root, "gad-x-status");
    var search = first(root, "gad-x-search"), results = first(root, "gad-x-results");
    var title = first(root, "gad-x-title"), body = first(root, "gad-x-panel-body");
    var svg = null, seq = 0, pending = [], busy = false, queued = null;

    /* ---- the view: which boxes are drawn --------------------------------------------------- */
    function reps() {  // cluster id -> the outermost closed module around it (itself included)
      var rep = {};
      clusters.forEach(function (c) {
        if (c.parent !== null && rep[c.parent]) { rep[c.id] = rep[c.parent]; }
        else if (closed[c.id] && mods[c.id]) { rep[c.id] = c.id; }
      });
      return rep;
    }
    function drawnIds(rep) {
      return nodes.map(function (n) {
        var r = n.cluster ? rep[n.cluster] : null;
        return r ? "m" + r : foldAt(n.id) || n.id;
      });
    }
    function buildDot() {
      var rep = reps(), drawn = drawnIds(rep), inside = {}, kids = {}, boxDone = {}, out = data.header.slice();
      function put(c, s) { var key = c || ""; (inside[key] = inside[key] || []).push(s); }
      nodes.forEach(function (n, i) {
        var r = n.cluster ? rep[n.cluster] : null;
        var f = r ? null : foldAt(n.id);
        if (f) { if (!boxDone[f]) { boxDone[f] = true; put(n.cluster, folds[f].box); } }
        else if (!r) { put(n.cluster, data.nodes[i]); }
        else if (!boxDone[r]) { boxDone[r] = true; put(clusters[cidx[r]].parent, mods[r].box); }
      });
      clusters.forEach(function (c) {
        if (!rep[c.id]) { var key = c.parent || ""; (kids[key] = kids[key] || []).push(c.id); }
      });
      var stack = [["open", "", 0]];
      while (stack.length) {
        var it = stack.pop(), cid = it[1], d = it[2], ind = "  ".repeat(d + 1);
        if (it[0] === "close") { out.push("  ".repeat(d) + "}"); continue; }
        if (cid) {
          out.push("  ".repeat(d) + "subgraph cluster_" + cid + " {");
          out.push(ind + data.clusters[cidx[cid]]);
          stack.push(["close", cid, d]);
        }
        (inside[cid] || []).forEach(function (s) { out.push(ind + s); });
        var ks = kids[cid] || [];
        for (var j = ks.length - 1; j >= 0; j--) { stack.push(["open", ks[j], d + 1]); }
      }
      var seen = {}, list = [];
      edges.forEach(function (e, k) {
        var s = drawn[idx[e.source]], t = drawn[idx[e.target]];
        if (s === t) { return; }
        var key = s + " " + t, h = seen[key];
        if (h) { h.merged = true; return; }
        h = seen[key] = {s: s, t: t, k: k, merged: false};
        list.push(h);
      });
      list.forEach(function (h) {
        out.push("  " + h.s + " -> " + h.t + ' [id="e' + h.k + '", class="gad-edge gad-from-' + h.s + " gad-to-" + h.t +
                 '"' + (h.merged ? "" : data.edges[h.k]) + "];");
      });
      if (data.legend) { out.push("  " + data.legend); }
      out.push("}\n");
      return out.join("\n");
    }

    /* ---- layout in the worker ------------------------------------------------------------- */
    var worker = null;
    try {
      var src = vizSource + "\n" + first(root, "gad-x-worker").textContent;
      worker = new Worker(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
    } catch (e) {
      status.textContent = "cannot start the layout worker: " + e;
    }
    function layout(then) {
      if (busy) { queued = then || queued || function () {}; return; }
      if (!worker) { return; }
      busy = true;
      root.setAttribute("data-state", "busy");
      status.textContent = "laying out\u2026";
      var id = ++seq, t0 = Date.now();
      pending[id] = {then: then, t0: t0};
      worker.postMessage({id: id, dot: buildDot()});
    }
    if (worker) {
      worker.onmessage = function (ev) {
        var m = ev.data, p = pending[m.id];
        delete pending[m.id];
        busy = false;
        if (m.status !== "success") {
          status.textContent = "layout failed: " + m.errors.join("; ");
          root.setAttribute("data-state", "error");
        } else {
          place(m.svg);
          var boxes = view.querySelectorAll("g[data-id]").length;
          root.setAttribute("data-boxes", String(boxes));
          root.setAttribute("data-layout-ms", String(Date.now() - p.t0));
          status.textContent = boxes + " boxes, laid out in " + (Date.now() - p.t0) + " ms";
          root.setAttribute("data-layouts", String(m.id));
          root.setAttribute("data-state", "ready");
          showStep();
          if (p.then) { p.then(); }
        }
        if (queued) { var q = queued; queued = null; layout(q); }
      };
      worker.onerror = function (ev) {
        busy = false;
        status.textContent = "layout worker failed: " + (ev.message || "unknown error");
        root.setAttribute("data-state", "error");
      };
    }

    function place(text) {
      var doc = new DOMParser().parseFromString(text, "image/svg+xml");
      var s = doc.documentElement;
      if (!s || s.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
        status.textContent = "the layout returned no SVG";
        return;
      }
      Array.prototype.forEach.call(s.querySelectorAll("g.node"), function (gn) {
        var id = gn.getAttribute("id");
        if (id === "legend" || id === "legend_grad") { return; }
        gn.setAttribute("data-id", id);
        var cid = id.charAt(0) === "m" ? id.slice(1) : null;
        if (cid && mods[cid]) {
          gn.setAttribute("data-module", mods[cid].qualname);
          gn.setAttribute("data-cluster", cid);
        }
        if (folds[id]) { gn.setAttribute("data-fold", String(folds[id].members.length)); }
      });
      Array.prototype.forEach.call(s.querySelectorAll("g.cluster"), function (gc) {
        gc.setAttribute("data-cluster", gc.getAttribute("id").replace(/^cluster_/, ""));
        gc.setAttribute("data-open", "1");
      });
      Array.prototype.forEach.call(s.querySelectorAll("g.edge"), function (ge) {
        ge.setAttribute("data-edge", ge.getAttribute("id"));
      });
      Array.prototype.forEach.call(s.querySelectorAll("[id]"), function (e) {
        e.setAttribute("id", prefix + "-" + e.getAttribute("id"));
      });
      s.setAttribute("id", prefix + "-svg");
      s = document.importNode(s, true);
      if (svg) { view.replaceChild(s, svg); } else { view.textContent = ""; view.appendChild(s); }  // the static picture goes
      svg = s;
    }

    /* ---- keep what was clicked where it was ---------------------------------------------- */
    function anchorOf(cid) {
      var e = svg && svg.querySelector('[data-cluster="' + cid + '"]');
      if (!e) { return null; }
      var r = e.getBoundingClientRect(), v = view.getBoundingClientRect();
      return {cid: cid, x: r.left - v.left, y: r.top - v.top};
    }
    function restore(a) {
      if (!a) { return; }
      var e = svg.querySelector('[data-cluster="' + a.cid + '"]');
      if (!e) { return; }
      var r = e.getBoundingClientRect(), v = view.getBoundingClientRect();
      var left = view.scrollLeft + (r.left - v.left) - a.x, top = view.scrollTop + (r.top - v.top) - a.y;
      // where the view cannot scroll that far back, a margin keeps the clicked module where it was
      svg.style.marginLeft = left < 0 ? -left + "px" : "";
      svg.style.marginTop = top < 0 ? -top + "px" : "";
      view.scrollLeft = Math.max(0, left);
      view.scrollTop = Math.max(0, top);
    }

    /* ---- expand, collapse, depth ---------------------------------------------------------- */
    function setClosed(cid, yes) {
      var a = anchorOf(cid);
      if (yes) { closed[cid] = true; } else { delete closed[cid]; }
      layout(function () { restore(a); });
    }
    function toDepth(d) {
      closed = {};
      Object.keys(mods).forEach(function (cid) { if (mods[cid].level >= d) { closed[cid] = true; } });
      layout();
    }
    function openAround(cluster) {  // every closed module around ``cluster`` (not itself) opened
      var c = cluster, changed = false;
      while (c !== null && c !== undefined) {
        var parent = clusters[cidx[c]].parent;
        if (c !== cluster && closed[c]) { delete closed[c]; changed = true; }
        c = parent;
      }
      return changed;
    }

    /* ---- selection and the details panel -------------------------------------------------- */
    function elementFor(target) {  // target: a node id (n3) or a module box id (mc3)
      if (!svg) { return null; }
      var e = svg.querySelector('g[data-id="' + target + '"]');
      if (e) { return e; }
      if (target.charAt(0) === "m") { return svg.querySelector('g.cluster[data-cluster="' + target.slice(1) + '"]'); }
      var n = nodes[idx[target]];
      if (!n) { return null; }
      var r = n.cluster ? reps()[n.cluster] : null;
      var f = r ? null : foldAt(target);
      return r ? svg.querySelector('g[data-id="m' + r + '"]') : f ? svg.querySelector('g[data-id="' + f + '"]') : null;
    }
    function restyle() {
      if (!svg) { return; }
      Array.prototype.forEach.call(svg.querySelectorAll(".gad-x-selected,.gad-x-hit,.gad-x-current"), function (e) {
        e.classList.remove("gad-x-selected", "gad-x-hit", "gad-x-current");
      });
      var e;
      if (selected && (e = elementFor(selected))) { e.classList.add("gad-x-selected"); }
      if (hit && (e = elementFor(hit))) { e.classList.add("gad-x-hit"); }
      if (current && (e = elementFor(current))) { e.classList.add("gad-x-current"); }
      stepStyle();
    }
    function clear(x) { while (x.firstChild) { x.removeChild(x.firstChild); } }
    function row(field, key, value, cls) {
      var r = el("div", "gad-x-row" + (cls ? " " + cls : ""));
      r.appendChild(el("span", "gad-x-key", key + ": "));
      var v = el("span", "gad-x-val", value);
      v.setAttribute("data-field", field);
      r.appendChild(v);
      body.appendChild(r);
      return v;
    }
    function note(text) { body.appendChild(el("div", "gad-x-note", text)); }
    function valueRows(which, v, cls) {
      var s = summary(v);
      body.appendChild(el("div", "gad-x-section", which === "value" ? "value" : "gradient"));
      if (!s) { note(which === "value" ? "no value recorded" : "no gradient (the backward did not reach it)"); return; }
      if (s.exact && s.n === 1) { row(which + ".value", "value", numText(s.values[0]), cls); }
      else if (s.exact) { row(which + ".values", "values", s.values.map(numText).join(", "), cls); }
      row(which + ".min", "min", numText(s.min), cls);
      row(which + ".max", "max", numText(s.max), cls);
      row(which + ".mean", "mean", numText(s.mean), cls);
      if (s.std !== null) { row(which + ".std", s.exact ? "std" : "std (from norm and mean)", numText(s.std), cls); }
      row(which + ".norm", "norm", numText(s.norm), cls);
      if (s.exact) {
        row(which + ".nan", "NaN", String(s.nan), cls);
        row(which + ".inf", "\u00b1inf", String(s.inf), cls);
        if (s.hist) {
          var h = el("div", "gad-x-hist"), top = Math.max.apply(null, s.hist.bins);
          h.setAttribute("data-field", which + ".hist");
          h.setAttribute("data-counts", s.hist.bins.join(","));
          h.title = "histogram of the finite values, " + s.hist.lo + " to " + s.hist.hi;
          s.hist.bins.forEach(function (c) {
            var b = el("span", "gad-x-bar");
            b.style.height = (top ? Math.round(100 * c / top) : 0) + "%";
            h.appendChild(b);
          });
          body.appendChild(h);
        }
      } else {
        note("a large tensor: kept as min/max/mean/norm at trace time; NaN/inf counts and the histogram " +
             "are not recorded for it" + (isFinite(s.min) && isFinite(s.max) ? "" : " (some values are not finite)"));
      }
    }
    function nodeDetails(n) {
      title.textContent = n.label;
      row("name", "name", n.label);
      row("kind", "kind", n.kind);
      row("op", "op", n.op + (n.args ? "(" + n.args + ")" : ""));
      row("module", "module", n.module === null ? "(none)" : n.module === "" ? "(root)" : n.module);
      var src = data.sources[idx[n.id]];
      row("source", "source", src === null || src === undefined ? "(not recorded)" : src);
      var ins = edges.filter(function (e) { return e.target === n.id; }).map(function (e) {
        var m = nodes[idx[e.source]];
        return m.label + " " + shapeText(m.shape);
      });
      row("inputs", "inputs", ins.length ? ins.join("; ") : "(none)");
      row("shape", "shape", shapeText(n.shape));
      row("dtype", "dtype", n.dtype || "");
      valueRows("value", n.value, "");
      valueRows("grad", n.grad, "gad-x-grad");
    }
    function within(cluster, cid) {
      var c = cluster;
      while (c !== null && c !== undefined) { if (c === cid) { return true; } c = clusters[cidx[c]].parent; }
      return false;
    }
    function moduleDetails(cid) {
      var m = mods[cid], c = clusters[cidx[cid]];
      title.textContent = c.label;
      row("module", "module", m.qualname === "" ? "(root)" : m.qualname);
      row("type", "class", m.type);
      row("params", "parameters", String(m.params));
      var inside = {}, outputs = {};
      nodes.forEach(function (n) { if (n.cluster && within(n.cluster, cid)) { inside[n.id] = true; } });
      g.outputs.forEach(function (o) { if (inside[o]) { outputs[o] = true; } });
      var ins = [], outs = [], seenIn = {};
      edges.forEach(function (e) {
        if (inside[e.target] && !inside[e.source]) {
          if (!seenIn[e.source]) { seenIn[e.source] = []; ins.push(e.source); }
          seenIn[e.source].push(e);
        } else if (inside[e.source] && !inside[e.target]) { outputs[e.source] = true; }
      });
      Object.keys(outputs).forEach(function (o) { outs.push(o); });
      outs.sort(function (a, b) { return idx[a] - idx[b]; });
      row("in_shapes", "in", ins.map(function (id) { return shapeText(nodes[idx[id]].shape); }).join("; ") || "(none)");
      row("out_shapes", "out", outs.map(function (id) { return shapeText(nodes[idx[id]].shape); }).join("; ") || "(none)");
      body.appendChild(el("div", "gad-x-section", "gradient"));
      row("grad.at_outputs", "\u2016\u2207\u2016 flowing in (at its outputs)", outs.map(function (id) {
        return numText(normOf(nodes[idx[id]].grad));
      }).join("; ") || "(none)", "gad-x-grad");
      row("grad.at_inputs", "\u2016\u2207\u2016 flowing out (along its inputs)", ins.map(function (id) {
        return seenIn[id].map(function (e) { return numText(normOf(e.grad)); }).join(" + ");
      }).join("; ") || "(none)", "gad-x-grad");
    }
    function select(target) {
      selected = target;
      clear(body);
      if (target === null) { title.textContent = "click a box"; restyle(); return; }
      if (target.charAt(0) === "m" && mods[target.slice(1)]) { moduleDetails(target.slice(1)); }
      else if (idx[target] !== undefined) { nodeDetails(nodes[idx[target]]); }
      root.setAttribute("data-selected", target);
      restyle();
    }

    /* ---- search --------------------------------------------------------------------------- */
    var hay = null;
    function index() {
      hay = [];
      Object.keys(mods).forEach(function (cid) {
        var m = mods[cid];
        hay.push({target: "m" + cid, text: (m.qualname + " " + m.type + " " + clusters[cidx[cid]].label).toLowerCase(),
                  label: (m.qualname || "(root)") + " \u2014 " + m.type});
      });
      nodes.forEach(function (n) {
        hay.push({target: n.id, text: (n.label + " " + n.op + " " + (n.module || "") + " " + n.id).toLowerCase(),
                  label: n.label + " \u2014 " + n.op + (n.module ? " \u2014 " + n.module : "")});
      });
    }
    function find(q) {
      if (!hay) { index(); }
      var words = q.toLowerCase().split(/\s+/).filter(Boolean), out = [];
      if (!words.length) { return out; }
      for (var i = 0; i < hay.length; i++) {
        var t = hay[i].text, ok = true;
        for (var j = 0; j < words.length && ok; j++) { ok = t.indexOf(words[j]) >= 0; }
        if (ok) { out.push(hay[i]); }
      }
      return out;
    }
    function showResults() {
      var t0 = Date.now(), found = find(search.value);
      root.setAttribute("data-search-ms", String(Date.now() - t0));
      root.setAttribute("data-results", String(found.length));
      clear(results);
      found.slice(0, 100).forEach(function (r) {
        var li = el("li"), b = el("button", "gad-x-result", r.label);
        b.type = "button";
        b.setAttribute("data-target", r.target);
        li.appendChild(b);
        results.appendChild(li);
      });
      if (found.length > 100) { results.appendChild(el("li", "gad-x-note", "\u2026 and " + (found.length - 100) + " more")); }
    }
    function reveal(target) {
      var cluster = target.charAt(0) === "m" && mods[target.slice(1)] ? target.slice(1) : null;
      if (cluster === null) {
        var n = nodes[idx[target]];
        if (!n) { return; }
        cluster = n.cluster;
        if (foldAt(target)) { delete foldClosed[foldAt(target)]; openAround(cluster); if (cluster) { delete closed[cluster]; } layoutThen(); return; }
        if (cluster && closed[cluster]) { delete closed[cluster]; openAround(cluster); layoutThen(); return; }
      }
      if (cluster && openAround(cluster)) { layoutThen(); return; }
      done();
      function layoutThen() { layout(done); }
      function done() {
        hit = target;
        select(target);
        var e = elementFor(target);
        if (e && e.scrollIntoView) { e.scrollIntoView({block: "center", inline: "center"}); }
      }
    }
    search.addEventListener("input", showResults);
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { var b = results.querySelector(".gad-x-result"); if (b) { reveal(b.getAttribute("data-target")); } }
    });
    results.addEventListener("click", function (ev) {
      var b = ev.target.closest ? ev.target.closest(".gad-x-result") : null;
      if (b) { reveal(b.getAttribute("data-target")); }
    });

    /* ---- the backward pass, stepped on the view as it is ----------------------------------- */
    var steps = g.steps, stepAt = -1, view_steps = [];
    var stepTitle = first(root, "gad-x-step-title"), stepBody = first(root, "gad-x-step-body");
    var prevB = first(root, "gad-x-prev"), nextB = first(root, "gad-x-next"), toSel = first(root, "gad-x-to-selected");
    var nodeOfStep = steps.map(function (s) { return s.node; });
    function viewSteps() {  // consecutive steps inside one closed module are one step of the view
      var rep = reps(), out = [];
      steps.forEach(function (s, i) {
        var n = nodes[idx[s.node]], r = n && n.cluster ? rep[n.cluster] : null, f = r ? null : foldAt(s.node);
        var box = r ? "m" + r : f || s.node, last = out[out.length - 1];
        if (last && (r || f) && last.box === box) { last.steps.push(i); }
        else { out.push({box: box, steps: [i], module: r, fold: f}); }
      });
      return out;
    }
    function stepStyle() {
      if (!svg) { return; }
      var done = {}, k;
      for (k = 0; k <= stepAt && k < view_steps.length; k++) { done[view_steps[k].box] = true; }
      Array.prototype.forEach.call(svg.querySelectorAll("g[data-id]"), function (e) {
        if (stepAt < 0 || done[e.getAttribute("data-id")] || !stepped[e.getAttribute("data-id")]) {
          e.classList.remove("gad-x-pending");
        } else { e.classList.add("gad-x-pending"); }
      });
    }
    var stepped = {};
    function showStep() {
      view_steps = viewSteps();
      stepped = {};
      view_steps.forEach(function (v) { stepped[v.box] = true; });
      if (stepAt >= view_steps.length) { stepAt = view_steps.length - 1; }
      clear(stepBody);
      root.setAttribute("data-step", String(stepAt));
      prevB.disabled = stepAt < 0;
      nextB.disabled = stepAt >= view_steps.length - 1;
      if (stepAt < 0) {
        current = null;
        stepTitle.textContent = "forward (" + view_steps.length + " backward steps at this view)";
        restyle();
        return;
      }
      var v = view_steps[stepAt];
      current = v.box;
      root.setAttribute("data-step-box", v.box);
      function srow(field, key, value) {
        var r = el("div", "gad-x-row gad-x-grad");
        r.appendChild(el("span", "gad-x-key", key + ": "));
        var s = el("span", "gad-x-val", value);
        s.setAttribute("data-field", field);
        r.appendChild(s);
        stepBody.appendChild(r);
      }
      var counter = "step " + (stepAt + 1) + " of " + view_steps.length + ": ";
      if (v.module || v.fold) {
        var m = v.module ? mods[v.module] : null, firstS = steps[v.steps[0]], lastS = steps[v.steps[v.steps.length - 1]];
        stepTitle.textContent = counter + (m ? (m.qualname || "(root)") + " (" + m.type + ", " : "a folded chain (") +
          v.steps.length + " op steps)";
        srow("step.upstream", "\u2016upstream\u2016 at its output", numText(normOf(firstS.upstream)));
        var leaving = {}, inside = {};
        v.steps.forEach(function (i) { inside[steps[i].node] = true; });
        v.steps.forEach(function (i) {
          steps[i].contributions.forEach(function (c) { if (c.to && !inside[c.to]) { leaving[c.to] = (leaving[c.to] || []).concat([c.value]); } });
        });
        Object.keys(leaving).sort(function (a, b) { return idx[a] - idx[b]; }).forEach(function (to) {
          var n = nodes[idx[to]];
          srow("step.to." + to, "\u2192 " + (n ? n.label : to), leaving[to].map(function (x) { return numText(normOf(x)); }).join(" + "));
        });
        v.steps.forEach(function (i) {  // the parameters' gradients, accumulated inside the module
          var st = steps[i], p = nodes[idx[st.node]];
          if (st.leaf && p && p.kind === "param") { srow("step.param." + p.id, "\u2016\u2207\u2016 " + p.label, numText(normOf(st.upstream))); }
        });
        stepBody.appendChild(el("div", "gad-x-note", "expand the " + (m ? "module" : "chain") + " to see its " + v.steps.length +
                                " steps in autograd's order (last: " + lastS.grad_fn + ")"));
      } else {
        var s = steps[v.steps[0]], n = nodes[idx[s.node]];
        stepTitle.textContent = counter + "[" + s.index + "] " + (s.grad_fn || "") + " (" + (n ? n.label : s.node) + ")";
        var one = function (v) { var x = summary(v); return x && x.exact && x.n === 1; };
        var shown = function (v) { var x = summary(v); return numText(x ? (one(v) ? x.values[0] : x.norm) : null); };
        srow("step.upstream", one(s.upstream) ? "upstream" : "\u2016upstream\u2016", shown(s.upstream));
        s.contributions.forEach(function (c, j) {
          if (!c.to) { return; }
          var t = nodes[idx[c.to]], loc = s.local[j];
          srow("step.to." + c.to, (one(c.value) ? "\u2192 " : "\u2016\u2192\u2016 ") + (t ? t.label : c.to) +
               (loc && loc.formula ? " (" + loc.formula + ")" : ""), shown(c.value));
        });
      }
      restyle();
    }
    function step(to) { stepAt = Math.max(-1, Math.min(to, viewSteps().length - 1)); showStep(); }
    prevB.addEventListener("click", function () { step(stepAt - 1); });
    nextB.addEventListener("click", function () { step(stepAt + 1); });
    toSel.addEventListener("click", function () {
      if (!selected) { return; }
      var vs = viewSteps(), box = elementFor(selected);
      var id = box ? box.getAttribute("data-id") : selected;
      for (var k = 0; k < vs.length; k++) { if (vs[k].box === id) { step(k); return; } }
    });
    if (!steps.length) { prevB.disabled = nextB.disabled = toSel.disabled = true; }
    root.addEventListener("keydown", function (ev) {  // arrows step the backward pass (not while typing)
      var t = ev.target;
      if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) { return; }
      var to = {ArrowRight: stepAt + 1, ArrowLeft: stepAt - 1, Home: -1}[ev.key];
      if (to === undefined) { return; }
      ev.preventDefault();
      ev.stopPropagation();  // not also a shortcut of the page (JupyterLab's, on a focused button)
      step(to);
    });

    /* ---- clicks and controls -------------------------------------------------------------- */
    view.addEventListener("click", function (ev) {
      var t = ev.target, box = t.closest ? t.closest("g[data-id]") : null;
      if (box) {
        var id = box.getAttribute("data-id"), cid = box.getAttribute("data-cluster");
        if (folds[id]) { delete foldClosed[id]; layout(); return; }
        if (cid) { selected = id; setClosed(cid, false); select(id); return; }
        select(id);
        return;
      }
      var c = t.closest ? t.closest("g.cluster") : null;
      if (c) {
        var ccid = c.getAttribute("data-cluster");
        if (t.localName === "text" && mods[ccid]) { setClosed(ccid, true); select("m" + ccid); return; }
        if (mods[ccid]) { select("m" + ccid); }
      }
    });
    first(root, "gad-x-expand-all").addEventListener("click", function () { closed = {}; foldClosed = {}; layout(); });
    first(root, "gad-x-collapse-all").addEventListener("click", function () { toDepth(1); });
    var depthIn = first(root, "gad-x-depth");
    first(root, "gad-x-depth-go").addEventListener("click", function () { toDepth(Math.max(0, Number(depthIn.value) || 0)); });
    first(root, "gad-x-download").addEventListener("click", function () {
      if (!svg) { return; }
      var text = new XMLSerializer().serializeToString(svg), a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
      a.download = "graph.svg";
      document.body.appendChild(a);
      a.click();
      document.body.removeChild(a);
    });
    select(null);
    layout();
  }
  var root = me && me.closest ? me.closest(".gad-explorer") : null;
  if (root) { setup(root); } else { Array.prototype.forEach.call(document.querySelectorAll(".gad-explorer"), setup); }
})();
