/* graphviz_ad explorer: the layout worker. Runs after viz-standalone.js in the same Blob: lays out DOT
   with Graphviz's dot (WebAssembly) off the page's main thread and posts the SVG back. */
var gadViz = Viz.instance();
onmessage = function (ev) {
  var msg = ev.data;
  gadViz.then(function (viz) {
    var t0 = Date.now();
    var r = viz.render(msg.dot, {format: "svg"});
    postMessage({id: msg.id, status: r.status, svg: r.status === "success" ? r.output : "",
                 errors: (r.errors || []).map(function (e) { return e.level + ": " + e.message; }),
                 ms: Date.now() - t0});
  }, function (err) {
    postMessage({id: msg.id, status: "failure", svg: "", errors: [String(err)], ms: 0});
  });
};
