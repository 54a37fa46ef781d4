/* graphviz_ad explorer: expand and collapse modules in place, search, inspect, step the backward pass.
   The page holds the trace's data as columns (explore/pieces.py) and the few DOT statements Python
   made; this script composes each box's statement when first drawn (``composer``: DotPieces' text), the
   DOT of what is open, and a Web Worker (Graphviz in WebAssembly, from a Blob URL: works from file://)
   lays it out. User text reaches the page only as JSON inserted with
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
  var numTextAll = numText;
  /* A number of a single- or half-precision tensor as the shortest decimal that reads back as the same
     float32 (1.1592504, not the double 1.1592503786087036): the digits past float32's are not the value's. */
  var SINGLE = {float32: true, float16: true, bfloat16: true};
  function singleText(x) {
    if (typeof x !== "number" || !isFinite(x) || x === 0) { return numText(x); }
    var want = Math.fround(x);
    for (var p = 1; p <= 9; p++) {
      var y = parseFloat(x.toPrecision(p));
      if (Math.fround(y) === want) { return String(y); }
    }
    return String(x);
  }

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

  /* ---- the DOT statements of what is drawn, composed here as render/dot.py's DotPieces writes them
     (tooltips off: the details panel shows every digit). One definition per piece on each side, and
     tests/explore/test_explorer_compose.py checks, in Chromium, that every statement this composes
     equals DotPieces' for a graph of every kind of node, value and name. Statements of what this does
     not write (sparse or complex values, folded boxes) come made from Python. */
  function composer(style) {
    var TABLE = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">';
    var light = {}, dark = {};
    style.light.forEach(function (c) { light[c] = true; });
    var HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "]": "&#93;", "[": "&#91;"};
    var SPECIAL = /[&<>"'\x00-\x1f\x7f-\x9f\ud800-\udfff]/, CONTROL = /[\x00-\x1f\x7f-\x9f]/;
    var CONTROL_NOT_NEWLINE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
    function html(s) {  // quoting.html_text
      if (!SPECIAL.test(s)) { return s.replace(/\[/g, "&#91;").replace(/\]/g, "&#93;"); }
      var out = "";
      for (var ch of s) {
        var cp = ch.codePointAt(0);
        if (HTML[ch]) { out += HTML[ch]; }
        else if (cp < 32 || (cp >= 0x7f && cp < 0xa0)) { out += " "; }
        else if (cp >= 0x10000 || (cp >= 0xd800 && cp <= 0xdfff)) { out += "&#" + cp + ";"; }
        else { out += ch; }
      }
      return out;
    }
    function clean(s, limit) {  // format.clean_text
      if (CONTROL.test(s)) {
        s = CONTROL_NOT_NEWLINE.test(s) ? s.replace(/[\x00-\x1f\x7f-\x9f]/g, function (c) {
          return c === "\n" ? "\\n" : "\\x" + ("0" + c.charCodeAt(0).toString(16)).slice(-2);
        }) : s.replace(/\n/g, "\\n");
      }
      if (s.length <= limit) { return s; }
      var cps = Array.from(s);
      return cps.length <= limit ? s : cps.slice(0, limit - 1).join("") + "\u2026";
    }
    function font(text, color, size, bold) {
      var s = '<FONT COLOR="' + color + '"' + (size ? ' POINT-SIZE="' + size + '"' : "") + ">" + text + "</FONT>";
      return bold ? "<B>" + s + "</B>" : s;
    }
    /* Python's "%.{p}g" (correctly rounded, ties to even), "nan", "inf", "-inf"; -0 as "0" */
    function gfmt(x, p) {
      if (x !== x) { return "nan"; }
      if (x === Infinity) { return "inf"; }
      if (x === -Infinity) { return "-inf"; }
      if (x === 0) { return "0"; }
      var neg = x < 0, a = Math.abs(x), e = a.toExponential(p - 1), digits = e.slice(0, e.indexOf("e")).replace(".", "");
      var exp = Number(e.slice(e.indexOf("e") + 1)), long = a.toExponential(Math.min(100, p + 20));
      var ld = long.slice(0, long.indexOf("e")).replace(".", "");
      if (ld.charAt(p) === "5" && /^0*$/.test(ld.slice(p + 1)) && Number(ld.charAt(p - 1)) % 2 === 0) {
        digits = ld.slice(0, p);  // a tie: JavaScript rounds it up, Python to the even digit (here, down)
        exp = Number(long.slice(long.indexOf("e") + 1));
      }
      var s;
      if (exp < -4 || exp >= p) {
        var m = digits.charAt(0) + (p > 1 ? "." + digits.slice(1) : "");
        if (m.indexOf(".") >= 0) { m = m.replace(/0+$/, "").replace(/\.$/, ""); }
        s = m + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
      } else {
        s = exp >= 0 ? digits.slice(0, exp + 1) + (p > exp + 1 ? "." + digits.slice(exp + 1) : "")
          : "0." + "0".repeat(-exp - 1) + digits;
        if (s.indexOf(".") >= 0) { s = s.replace(/0+$/, "").replace(/\.$/, ""); }
      }
      return neg ? "-" + s : s;
    }
    function isInt(dtype) { return /^u?int/.test(dtype) || dtype === "long"; }
    function number(x, p, intType) {  // format.fmt_number of a JSON number (non-finite ones as strings)
      if (x === true) { return "True"; }
      if (x === false) { return "False"; }
      x = num(x);
      if (intType && Number.isInteger(x) && Math.abs(x) < 1e9) { return String(x); }
      return gfmt(x, p);
    }
    function row(items, p, intType) { return items.map(function (x) { return number(x, p, intType); }).join(", "); }
    function plainRow(data) {
      if (data.length && !Array.isArray(data[0])) { return [data, 0]; }
      var inner = data, depth = 0;
      while (inner.length === 1 && Array.isArray(inner[0])) { inner = inner[0]; depth++; }
      if (depth && (!inner.length || !Array.isArray(inner[0])) && !inner.some(Array.isArray)) { return [inner, depth]; }
      return null;
    }
    function preview(data, p, maxItems, intType) {  // format._preview
      var out = ["["], left = maxItems, stack = [[data, 0]];
      while (stack.length) {
        var top = stack.pop(), items = top[0], i = top[1], n = items.length;
        if (!i && n && !Array.isArray(items[0]) && !items.some(Array.isArray)) {
          var k = Math.min(left, n);
          out.push(row(items.slice(0, k), p, intType));
          left -= k;
          if (k < n) { out.push((k ? ", \u2026" : "\u2026") + "]".repeat(stack.length + 1)); return out.join(""); }
          out.push("]");
          continue;
        }
        var broke = false;
        while (i < n) {
          var x = items[i];
          if (i) { out.push(", "); }
          i++;
          if (Array.isArray(x)) { stack.push([items, i]); stack.push([x, 0]); out.push("["); broke = true; break; }
          if (!left) { out.push("\u2026" + "]".repeat(stack.length + 1)); return out.join(""); }
          out.push(number(x, p, intType));
          left--;
        }
        if (!broke) { out.push("]"); }
      }
      return out.join("");
    }
    function pyMax(a, b) { return b > a ? b : a; }
    function bitLength(n) { var k = 0; while (n >= 1) { n = Math.floor(n / 2); k++; } return k; }
    function meanIsNoise(v) {  // Value.mean_is_noise
      var st = v.data, eps = style.eps[v.dtype] !== undefined ? style.eps[v.dtype] : Math.pow(2, -52);
      var noise = eps * pyMax(Math.abs(num(st.min)), Math.abs(num(st.max))) * Math.max(1, bitLength(prod(v.shape)));
      return 0 < noise && noise < Infinity && Math.abs(num(st.mean)) <= noise;
    }
    function scalarOf(d) {
      while (Array.isArray(d) && d.length === 1) { d = d[0]; }
      return typeof d === "number" || typeof d === "boolean" || d === "nan" || d === "inf" || d === "-inf" ? d : null;
    }
    function valueText(v, digits) {  // format.fmt_value_texts' label text
      if (!v) { return ""; }
      var d = v.data, intType = isInt(v.dtype);
      if (prod(v.shape) === 1) { var s = scalarOf(d); if (s !== null) { return number(s, digits, intType); } }
      if (d !== null && typeof d === "object" && !Array.isArray(d)) {
        if (d.min === null || d.min === undefined) { return "(no data)"; }
        return "min " + number(d.min, 4) + " max " + number(d.max, 4) + "\nmean " +
          (meanIsNoise(v) ? "\u2248 0" : number(d.mean, 4)) + " \u2016\u00b7\u2016 " + number(d.norm, 4);
      }
      var sd = Math.min(digits, 4);
      if (!Array.isArray(d)) { return number(d, sd, intType); }
      var plain = plainRow(d);
      if (!plain) { return preview(d, sd, 4, intType); }
      var r = plain[0], n = r.length;
      return "[".repeat(plain[1] + 1) + row(r.slice(0, 4), sd, intType) + (n > 4 ? ", \u2026" : "") + "]".repeat(plain[1] + 1);
    }
    function magnitude(v) {  // gradcolor.magnitude, summed in its order
      if (!v) { return null; }
      var d = v.data;
      if (d !== null && typeof d === "object" && !Array.isArray(d)) {
        return d.min === null || d.min === undefined ? 0 : num(d.norm);
      }
      var total = 0, stack = [d];
      while (stack.length) {
        var x = stack.pop();
        if (Array.isArray(x)) { for (var i = 0; i < x.length; i++) { stack.push(x[i]); } }
        else if (x !== null) { var a = Math.abs(num(x)); total += a * a; }
      }
      return Math.sqrt(total);
    }
    function pyRound(x) {  // round half to even
      var r = Math.round(x);
      return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
    }
    function fillOf(mag) {
      if (mag === null) { return null; }
      if (!isFinite(mag)) { return [style.nonfinite, "#ffffff"]; }
      var n = style.scale.length, k = mag === 0 ? 0 : Math.min(Math.max(pyRound(Math.log10(mag) / style.decades) + (n >> 1), 0), n - 1);
      return [style.scale[k], style.dark.indexOf(k) >= 0 ? "#ffffff" : "#1a1a1a"];
    }
    function title(n, muted) {  // dot._Writer._title
      var kind = n.kind, name = html(clean(n.label, 48)), op;
      if (kind === "op" || kind === "output") { op = n.args ? n.op + "(" + clean(n.args, 48) + ")" : n.op; }
      else { op = kind !== "param" ? (style.kindName[kind] || kind) : n.op; }
      if (n.collapsed) {
        return "<TR><TD><B>" + name + "</B></TD></TR>" + (n.args ? "<TR><TD>" + font(html(n.args), muted, 9) + "</TD></TR>" : "");
      }
      if (kind === "const" && n.op === "const") { return "<TR><TD><B>" + name + "</B></TD></TR>"; }
      if (n.definition !== null && n.definition !== undefined && (kind === "op" || kind === "output")) {
        var def = clean(n.definition, 48);
        return "<TR><TD><B>" + name + "</B>" + (def === clean(n.label, 48) ? "" : " = " + html(def)) + "</TD></TR>";
      }
      if (n.label === n.op) {
        return "<TR><TD><B>" + name + "</B>" + (op !== n.op ? " " + font(html(op.slice(n.op.length)), muted) : "") + "</TD></TR>";
      }
      return "<TR><TD><B>" + name + "</B> " + font(html(op), muted, 10) + "</TD></TR>";
    }
    function meta(v, muted) {
      var local = v.device !== "cpu" && v.device !== "python";
      if (prod(v.shape) !== 1 || v.shape.length) {
        var m = (v.shape.length ? v.shape.join("\u00d7") : "scalar") + " " + v.dtype + (local ? " " + v.device : "");
        return "<TR><TD>" + font(html(m), muted, 9) + "</TD></TR>";
      }
      return local ? "<TR><TD>" + font(html(v.device), muted, 9) + "</TD></TR>" : "";
    }
    function node(n) {  // dot._Writer.node_line, no indent, no tooltip
      var kind = n.kind, value = n.vrec, grad = n.grec, badValue = !!(value && value.bad);
      var badGrad = style.grads && !!(grad && grad.bad), bad = badValue || badGrad;
      var fill = style.fill[kind], muted = style.muted, gradColour = style.grad;
      var coloured = style.gradColor && style.grads ? fillOf(magnitude(grad)) : null;
      if (coloured) { fill = coloured[0]; muted = gradColour = coloured[1]; }
      var extra = coloured ? ', fontcolor="' + coloured[1] + '"' : "";
      if (bad) { extra += ", penwidth=2.5"; }
      var rows = [TABLE, title(n, muted)];
      if (value && !(kind === "const" && n.op === "const")) {
        rows.push(meta(value, muted));
        var text = valueText(value, style.digits), warn = badValue ? "\u26a0 " : "";
        if (text) { text.split("\n").forEach(function (line) { rows.push("<TR><TD>" + html(warn + line) + "</TD></TR>"); warn = ""; }); }
      }
      if (style.grads && grad) {
        var lines = valueText(grad, style.digits).split("\n");
        rows.push("<TR><TD>" + font(html((badGrad ? "\u26a0 " : "") + "\u2207 " + lines[0]), gradColour) + "</TD></TR>");
        lines.slice(1).forEach(function (line) { rows.push("<TR><TD>" + font(html(line), gradColour) + "</TD></TR>"); });
      }
      rows.push("</TABLE>>");
      return n.id + ' [id="' + n.id + '", class="gad-node gad-' + kind + (bad ? " gad-nonfinite" : "") + '", shape=' +
        style.shape[kind] + ', style="' + style.style[kind] + '", fillcolor="' + fill + '", color="' + style.border[kind] +
        '", label=' + rows.join("") + extra + "];";
    }
    function edge(g) {  // dot._Writer.edge_attrs, labelled
      if (!g || !style.grads) { return ""; }
      var mag = magnitude(g), text = prod(g.shape) === 1 ? valueText(g, style.digits) : "\u2016g\u2016 " + number(mag, style.digits);
      var out = ", label=<" + font(html(text), style.grad, 9) + ">";
      var coloured = style.gradColor ? fillOf(mag) : null;
      if (coloured && !light[coloured[0]]) { out += ', color="' + coloured[0] + '", penwidth=2.5'; }
      return out;
    }
    function cluster(c) {  // dot._cluster_attrs
      return 'id="cluster_' + c.id + '"; class="gad-cluster gad-cluster-' + c.kind + '"; style="rounded,filled"; fillcolor="' +
        (c.kind === "module" ? style.clusterMod : style.clusterFn) + '"; color="' + style.clusterBorder + '"; fontcolor="' +
        style.muted + '"; fontsize=10; labeljust=l; label=<' + html(clean(c.label, 60)) + ">;";
    }
    function foldCluster(id, label) {  // an open fold (the page's own: a static figure draws it closed)
      return 'id="cluster_' + id + '"; class="gad-cluster gad-cluster-fold"; style="rounded,dashed"; color="' +
        style.clusterBorder + '"; fontcolor="' + style.muted + '"; fontsize=10; labeljust=l; label=<' + html(clean(label, 60)) + ">;";
    }
    return {node: node, edge: edge, cluster: cluster, foldCluster: foldCluster};
  }

  /* The data and the vendored Graphviz travel gzip-compressed in base64 (a tenth of the JSON's size,
     half of Graphviz's); the browser's own DecompressionStream inflates them, nothing is fetched. */
  function unpack(script, binary) {
    var text = script.textContent;
    if (script.getAttribute("data-encoding") !== "gzip-base64") { return Promise.resolve(text); }
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return binary ? new Response(stream).arrayBuffer() : new Response(stream).text();
  }
  function nested(numbers, at, shape) {  // numbers[at...] as a tensor's tolist() of ``shape``
    if (!shape.length) { return numbers[at]; }
    if (shape.length === 1) { return Array.prototype.slice.call(numbers.subarray(at, at + shape[0])); }
    var out = [], inner = shape.slice(1), step = prod(inner);
    for (var i = 0; i < shape[0]; i++) { out.push(nested(numbers, at + i * step, inner)); }
    return out;
  }
  /* The data comes as columns (pieces._columns: strings and values once each, by index); this makes the
     objects the rest of the script reads (to_json's shapes, without what the page never reads; a node's
     and an edge's ``vrec``/``grec``: the value with its shape, dtype and device, for the labels). */
  /* The records objects() makes: a value's numbers, an edge's gradient, a step's contributions are
     made when first read (a page opens without touching the 100,000 boxes it does not draw). */
  function Rec(meta, data, bad, numbers, at) {
    this.shape = meta[0]; this.dtype = meta[1]; this.device = meta[2]; this.bad = bad;
    this._d = data; this._n = numbers; this._at = at;
  }
  Object.defineProperty(Rec.prototype, "data", {get: function () {
    if (this._at >= 0) { this._d = nested(this._n, this._at, this.shape); this._at = -1; this._n = null; }
    return this._d;
  }});
  function valueOf(r) { return r ? r.data : null; }
  function Node() {}
  Object.defineProperty(Node.prototype, "value", {get: function () { return valueOf(this.vrec); }});
  Object.defineProperty(Node.prototype, "grad", {get: function () { return valueOf(this.grec); }});
  function Edge(source, target, grec) { this.source = source; this.target = target; this.grec = grec; }
  Object.defineProperty(Edge.prototype, "grad", {get: function () { return valueOf(this.grec); }});
  function Step(cols, S, values, i, at0, at1) {
    this.index = cols.index[i]; this.node = S[cols.node[i]]; this.grad_fn = S[cols.grad_fn[i]];
    this.leaf = !!cols.leaf[i]; this._u = values[cols.upstream[i]];
    this._c = [cols, S, values, at0, at1]; this._local = null; this._contributions = null;
  }
  Object.defineProperty(Step.prototype, "upstream", {get: function () { return valueOf(this._u); }});
  Object.defineProperty(Step.prototype, "local", {get: function () {
    if (!this._local) {
      var c = this._c, T = c[0], S = c[1], out = [];
      for (var j = c[4]; j < c[4] + this._ln; j++) { out.push({to: S[T.localTo[j]], formula: S[T.localFormula[j]]}); }
      this._local = out;
    }
    return this._local;
  }});
  Object.defineProperty(Step.prototype, "contributions", {get: function () {
    if (!this._contributions) {
      var c = this._c, T = c[0], S = c[1], values = c[2], out = [];
      for (var j = c[3]; j < c[3] + this._cn; j++) { out.push({to: S[T.to[j]], value: valueOf(values[T.value[j]])}); }
      this._contributions = out;
    }
    return this._contributions;
  }});
  function objects(c, buffer) {
    ["nodes", "edges", "steps", "values"].forEach(function (group) {  // int32 columns in the blob (pieces._binary)
      Object.keys(c[group]).forEach(function (name) {
        var col = c[group][name];
        if (["data", "packed", "bad", "metas"].indexOf(name) < 0) { c[group][name] = new Int32Array(buffer, col[0] * 4, col[1]); }
      });
    });
    var S = c.strings, V = c.values, kinds = c.kinds, bad = {}, values = new Array(V.data.length + 1), k;
    var numbers = new Float32Array(buffer, c.floats[0] * 4, c.floats[1]), offsets = {}, at = 0;
    V.bad.forEach(function (i) { bad[i] = true; });
    V.packed.forEach(function (i) { offsets[i] = at; at += prod(V.metas[V.meta[i]][0]); });
    values[0] = null;  // value 0: none
    for (k = 0; k < V.data.length; k++) {
      var off = offsets[k];
      values[k + 1] = new Rec(V.metas[V.meta[k]], V.data[k], !!bad[k], numbers, off === undefined ? -1 : off);
    }
    var N = c.nodes, C = c.clusters, E = c.edges, T = c.steps, nodes = new Array(N.id.length);
    var clusters = C.id.map(function (id, i) {
      return {id: id, kind: C.kind[i], label: S[C.label[i]], parent: C.parent[i] < 0 ? null : C.id[C.parent[i]]};
    });
    for (k = 0; k < nodes.length; k++) {
      var v = values[N.value[k]], cl = N.cluster[k], n = nodes[k] = new Node();
      n.id = S[N.id[k]]; n.kind = kinds[N.kind[k]]; n.label = S[N.label[k]]; n.op = S[N.op[k]]; n.module = S[N.module[k]];
      n.shape = v ? v.shape : null; n.dtype = v ? v.dtype : null; n.vrec = v; n.grec = values[N.grad[k]];
      n.cluster = cl < 0 ? null : C.id[cl]; n.args = S[N.args[k]]; n.definition = S[N.definition[k]];
      n.source = S[N.source[k]];
    }
    var edges = new Array(E.source.length);
    for (k = 0; k < edges.length; k++) { edges[k] = new Edge(nodes[E.source[k]].id, nodes[E.target[k]].id, values[E.grad[k]]); }
    var steps = new Array(T.index.length), at0 = 0, at1 = 0;
    for (k = 0; k < steps.length; k++) {
      var st = steps[k] = new Step(T, S, values, k, at0, at1);
      st._cn = T.size[k]; st._ln = T.localSize[k];
      at0 += st._cn; at1 += st._ln;
    }
    return {nodes: nodes, edges: edges, clusters: clusters, steps: steps, outputs: c.outputs, madeEdges: c.madeEdges};
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
                 graphviz(root), unpack(first(root, "gad-x-numbers"), true)]).then(function (texts) {
      var data = JSON.parse(texts[0]), lines = texts[1] ? texts[1].split("\n") : [], k = 0;
      data.graph = objects(data.graph, texts[3]);
      data.made.forEach(function (i) { data.graph.nodes[i].made = lines[k++]; });
      data.opened.forEach(function (cid) { data.modules[cid].box = lines[k++]; });
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
    // long op chains and a cluster's mask plumbing, folded into one box each (a chain may hold plumbing)
    var folds = data.folds || {}, foldOf = {}, foldClosed = {}, plumbingOf = {};
    Object.keys(folds).forEach(function (f) {
      foldClosed[f] = true;
      folds[f].members.forEach(function (id) {
        (foldOf[id] = foldOf[id] || []).push(f);
        if (folds[f].plumbing) { plumbingOf[id] = f; }
      });
      var cs = {};  // an open fold is drawn as a cluster of its own where its members share one
      folds[f].members.forEach(function (id) { cs[String(nodes[idx[id]] ? nodes[idx[id]].cluster : "?")] = true; });
      folds[f].wrap = Object.keys(cs).length === 1 && !cs["?"];
    });
    function foldAt(id) {  // the outermost closed fold around node ``id``
      var fs = foldOf[id];
      if (!fs) { return null; }
      for (var i = 0; i < fs.length; i++) { if (foldClosed[fs[i]]) { return fs[i]; } }
      return null;
    }
    function openFold(id) {  // the innermost open fold around node ``id`` drawn as a cluster
      var fs = foldOf[id];
      if (!fs) { return null; }
      for (var i = fs.length - 1; i >= 0; i--) { if (!foldClosed[fs[i]] && folds[fs[i]].wrap) { return fs[i]; } }
      return null;
    }
    var view = first(root, "gad-x-view"), status = first(root, "gad-x-status");
    var search = first(root, "gad-x-search"), results = first(root, "gad-x-results");
    var title = first(root, "gad-x-title"), body = first(root, "gad-x-panel-body");
    var svg = null, seq = 0, pending = [], busy = false, queued = null;

    /* ---- the statements, each composed when first drawn ------------------------------------ */
    var compose = composer(data.style), nodeDots = [], edgeDots = [], clusterDots = [], boxDots = {}, outs = null;
    function nodeStatement(i) {
      var d = nodeDots[i];
      if (d === undefined) { d = nodeDots[i] = nodes[i].made !== undefined ? nodes[i].made : compose.node(nodes[i]); }
      return d;
    }
    function edgeStatement(k) {
      var d = edgeDots[k];
      if (d === undefined) {
        d = edgeDots[k] = g.madeEdges[k] !== undefined ? g.madeEdges[k] : compose.edge(edges[k].grec);
      }
      return d;
    }
    function clusterStatement(i) {
      var d = clusterDots[i];
      if (d === undefined) { d = clusterDots[i] = compose.cluster(clusters[i]); }
      return d;
    }
    function foldCluster(f) {  // an open fold's cluster: the page's own (the static figures draw folds closed)
      return compose.foldCluster(f, folds[f].label + " (click to fold)");
    }
    function moduleOutputs() {  // collapse.collapse's choice of each module's value: what leaves it last
      var leaving = {}, last = {}, lastOut = {}, hasOut = {}, isOut = {}, chains = {};
      g.outputs.forEach(function (o) { isOut[o] = true; });
      function chain(c) {  // the module clusters at and around ``c``
        if (c === null || c === undefined) { return []; }
        var got = chains[c];
        if (!got) {
          got = chains[c] = chain(clusters[cidx[c]].parent).slice();
          if (mods[c]) { got.push(c); }
        }
        return got;
      }
      // a plumbing member counts as the plumbing's box, as in the tidy view collapse.collapse reads:
      // no value of its own, and a mask leaving a module is not the module's value
      function at(i) { return plumbingOf[nodes[i].id] ? -1 : i; }
      nodes.forEach(function (n, i) {
        chain(n.cluster).forEach(function (m) {
          last[m] = at(i);
          if (isOut[n.id]) { lastOut[m] = i; hasOut[m] = true; }
        });
      });
      edges.forEach(function (e) {
        var s = nodes[idx[e.source]], t = nodes[idx[e.target]], tc = chain(t.cluster), sc = chain(s.cluster);
        for (var j = 0; j < sc.length; j++) {
          var m = sc[j];
          if (tc.indexOf(m) >= 0) { continue; }
          if (!(s.op === "plumbing" || plumbingOf[s.id]) || leaving[m] === undefined) { leaving[m] = at(idx[s.id]); }
        }
      });
      return {leaving: leaving, last: last, lastOut: lastOut, hasOut: hasOut};
    }
    function moduleBox(cid) {  // the box collapse.collapse draws for the module, as DotPieces writes it
      var d = mods[cid].box || boxDots[cid];
      if (d === undefined) {
        if (!outs) { outs = moduleOutputs(); }
        var m = mods[cid], c = clusters[cidx[cid]];
        var o = nodes[outs.leaving[cid] !== undefined ? outs.leaving[cid] : outs.lastOut[cid] !== undefined ? outs.lastOut[cid] : outs.last[cid]] || {};
        d = boxDots[cid] = compose.node({id: "m" + cid, kind: outs.hasOut[cid] ? "output" : "module", label: c.label,
          op: m.type || "module", module: m.qualname, vrec: o.vrec || null, grec: o.grec || null, collapsed: true, definition: null,
          args: m.params ? String(m.params).replace(/\B(?=(\d{3})+(?!\d))/g, ",") + " params" : ""});
      }
      return d;
    }
    root.gadStatements = {node: nodeStatement, edge: edgeStatement, cluster: clusterStatement, module: moduleBox};  // for tests

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
      var rep = reps(), drawn = drawnIds(rep), inside = {}, kids = {}, boxDone = {}, wraps = {}, out = data.header.slice();
      function put(c, s) { var key = c || ""; (inside[key] = inside[key] || []).push(s); }
      nodes.forEach(function (n, i) {
        var r = n.cluster ? rep[n.cluster] : null;
        var f = r ? null : foldAt(n.id);
        if (f) { if (!boxDone[f]) { boxDone[f] = true; put(n.cluster, folds[f].box); } }
        else if (!r) {
          var w = openFold(n.id);
          if (!w) { put(n.cluster, nodeStatement(i)); }
          else {
            if (!wraps[w]) { wraps[w] = []; put(n.cluster, {fold: w}); }
            wraps[w].push(nodeStatement(i));
          }
        }
        else if (!boxDone[r]) { boxDone[r] = true; put(clusters[cidx[r]].parent, moduleBox(r)); }
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
          out.push(ind + clusterStatement(cidx[cid]));
          stack.push(["close", cid, d]);
        }
        (inside[cid] || []).forEach(function (s) {
          if (typeof s === "string") { out.push(ind + s); return; }
          out.push(ind + "subgraph cluster_" + s.fold + " {");  // an open fold: click its label to fold it
          out.push(ind + "  " + foldCluster(s.fold));
          wraps[s.fold].forEach(function (x) { out.push(ind + "  " + x); });
          out.push(ind + "}");
        });
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
                 '"' + (h.merged ? "" : edgeStatement(h.k)) + "];");
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
      var e = svg && (svg.querySelector('[data-cluster="' + cid + '"]') || svg.querySelector('g[data-fold][data-id="' + cid + '"]'));
      if (!e) { return null; }
      var r = e.getBoundingClientRect(), v = view.getBoundingClientRect();
      return {cid: cid, x: r.left - v.left, y: r.top - v.top};
    }
    function restore(a) {
      if (!a) { return; }
      var e = svg.querySelector('[data-cluster="' + a.cid + '"]') || svg.querySelector('g[data-fold][data-id="' + a.cid + '"]');
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
    function setFold(f, yes) {  // open a folded box in place (its cluster keeps the spot), or fold it again
      var a = anchorOf(f);
      if (yes) { foldClosed[f] = true; } else { delete foldClosed[f]; }
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
    function valueRows(which, v, cls, dtype) {
      var s = summary(v), numText = SINGLE[dtype] ? singleText : numTextAll;
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
      var src = n.source;
      row("source", "source", src === null || src === undefined ? "(not recorded)" : src);
      var ins = edges.filter(function (e) { return e.target === n.id; }).map(function (e) {
        var m = nodes[idx[e.source]];
        return m.label + " " + shapeText(m.shape);
      });
      row("inputs", "inputs", ins.length ? ins.join("; ") : "(none)");
      row("shape", "shape", shapeText(n.shape));
      row("dtype", "dtype", n.dtype || "");
      valueRows("value", n.value, "", n.dtype);
      valueRows("grad", n.grad, "gad-x-grad", n.dtype);
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
        if (foldAt(target)) {
          while (foldAt(target)) { delete foldClosed[foldAt(target)]; }
          openAround(cluster);
          if (cluster) { delete closed[cluster]; }
          layoutThen();
          return;
        }
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
        if (folds[id]) { setFold(id, false); return; }
        if (cid) { selected = id; setClosed(cid, false); select(id); return; }
        select(id);
        return;
      }
      var c = t.closest ? t.closest("g.cluster") : null;
      if (c) {
        var ccid = c.getAttribute("data-cluster");
        if (t.localName === "text" && mods[ccid]) { setClosed(ccid, true); select("m" + ccid); return; }
        if (folds[ccid] && t.localName === "text") { setFold(ccid, true); return; }
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
