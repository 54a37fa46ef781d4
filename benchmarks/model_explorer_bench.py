"""Google's Model Explorer beside graphviz_ad's explorer (and torchview) on the same model: time to first picture.

    pip install ai-edge-model-explorer            # not a dependency of graphviz_ad; only this benchmark uses it
    python benchmarks/model_explorer_bench.py              # GPT-2-style stack of 48 blocks, 3 interleaved rounds
    python benchmarks/model_explorer_bench.py --smoke      # 4 blocks, one round: does it still work?
    python benchmarks/model_explorer_bench.py --repeat 2 --expand-all --json /tmp/mx.json

A benchmark, not a test: it measures and prints (``--json FILE`` keeps the numbers), it asserts nothing.
Without ``ai-edge-model-explorer`` installed it says so and exits 0. Installing it into the project's
environment (ai-edge-model-explorer 0.1.34) added only packages that were not there (its adapter, dacite,
portpicker, psutil, termcolor, watchdog; Flask, IPython, numpy and requests it found) and changed no version of
torch, click, numpy, playwright, nbclient or transformers (it does not require torch); check
``pip install --dry-run ai-edge-model-explorer`` first, and if it would change one of them, install it into a
separate environment that sees the rest and run this script with its ``python``::

    python3 -m venv --system-site-packages /tmp/mx-venv
    /tmp/mx-venv/bin/pip install ai-edge-model-explorer
    /tmp/mx-venv/bin/python benchmarks/model_explorer_bench.py

The model is ``GPT`` from ``explore_bench.py`` (imported, not copied), built once with a fixed seed, with the
same input for both tools. Each round measures both tools one after the other, the order alternating from
round to round, in one process, so that the machine's drift hits both alike:

- Model Explorer, through ``torch.export`` as its documentation says (``visualize_pytorch``): "export" is
  ``torch.export.export(model, (x,))``; "convert" is ``config().add_model_from_pytorch(...)`` (its adapter
  turning the exported program into its graphs, which ``visualize_pytorch`` does before it starts its
  server); then its local server (started once, in a thread, never opening a browser of its own, its check
  for a newer release on PyPI switched off) serves the page on 127.0.0.1, and headless Chromium (the tests'
  flags, Debian's ``/usr/bin/chromium``; every request that is not to that server, such as its web fonts, is
  refused, so nothing comes from the network) opens it. "first picture" is from navigation start to the
  first frame painted after its WebGL renderer finished its first drawing: the renderer registers itself in
  ``window.me_test.renderers`` (Model Explorer's own hook for its tests) at the end of its ``ngOnInit``,
  after its first ``renderGraph()`` and ``zoomFitGraph()``, and the boxes it drew are its
  ``nodesToRender``; then two animation frames. It includes the server turning the graph into JSON for the
  page, the page parsing it and the layout in its web worker.
- graphviz_ad: ``explore_bench.measure`` (imported): ``trace`` + ``backward()``, ``t.explore().save()``, and
  "first picture" from navigation start to the page's ``data-state="ready"`` (its first layout shown).
- torchview (if installed): ``explore_bench.torchview_full_depth``: capture and ``dot``'s SVG at full depth,
  once per round.
- ``--expand-all``: also each explorer's own "expand all" control, from the click to the drawing shown
  (Model Explorer: its renderer has no request pending and draws more boxes; graphviz_ad: a new layout
  ``ready``), each with a time limit (``--expand-limit``); a drawing still not there then is reported as
  over the limit.

The pictures are not alike, and the table says how: Model Explorer opens fully collapsed (for a model
whose forward is one ``nn.Module``: inputs, one box for the whole model, output), shows the forward only
(``torch.export`` records no backward pass), and shows no values or gradients (shapes and dtypes of
tensors, names and attributes of ops); graphviz_ad opens on its ``depth="auto"`` view of the recorded
forward and backward, with values and gradients in its details panel. ``--screenshots DIR`` keeps a
picture of each first view. Headless Chromium without a GPU draws WebGL in software (SwiftShader): the
output names the WebGL renderer it had, since Model Explorer draws with WebGL and graphviz_ad with SVG.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from explore_bench import CHROMIUM_ARGS, GPT, measure, torchview_full_depth  # noqa: E402

# The renderer's own test hook: set at the end of its ngOnInit, after its first drawing.
_ME_RENDERER = "window.me_test && window.me_test.renderers && window.me_test.renderers[0]"
_ME_DRAWN = f"() => {{ const r = {_ME_RENDERER}; return !!(r && r.nodesToRender && r.nodesToRender.length > 0); }}"
_TWO_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
_WEBGL = """() => { const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) { return 'no WebGL 2'; }
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER); }"""


def model_explorer_version() -> str | None:
    """The installed ai-edge-model-explorer's version, or None when it cannot be imported."""
    try:
        import model_explorer
    except ImportError:
        return None
    return getattr(model_explorer, "__version__", "unknown")


class ModelExplorerServer:
    """Model Explorer's own local server (``model_explorer.server.start``), in a daemon thread on 127.0.0.1.

    One server holds one config; each exported model is added to it and opened by its own URL
    (``graphs://NAME/INDEX``, the form ``add_model_from_pytorch`` gives its model source)."""

    def __init__(self) -> None:
        import model_explorer
        import portpicker
        import requests
        from model_explorer import server

        self.log = io.StringIO()
        # No look-up of a newer release on PyPI (the server does it in a thread at start and when the page asks).
        server._check_new_version = lambda print_msg=True: {"version": "", "runningVersion": "", "releaseUrl": "",
                                                            "desktopAppUrl": ""}
        server.print = lambda *a, **k: print(*a, **{**k, "file": self.log})  # its banner and extension list
        self.config = model_explorer.config()
        self.host = "127.0.0.1"
        self.port = portpicker.pick_unused_port()
        t0 = time.perf_counter()
        threading.Thread(target=lambda: server.start(host=self.host, port=self.port, config=self.config,
                                                     no_open_in_browser=True), daemon=True).start()
        while True:
            try:
                if requests.get(f"{self.origin}/check_health", timeout=5).text == "model_explorer_ok":
                    break
            except requests.RequestException:
                time.sleep(0.02)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("Model Explorer's server did not answer within 60 s:\n" + self.log.getvalue())
        self.start_s = time.perf_counter() - t0

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, name: str, exported) -> tuple[str, float]:
        """Converts ``exported`` (an ExportedProgram) with Model Explorer's adapter; its URL and the seconds taken."""
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(self.log):
            self.config.add_model_from_pytorch(name, exported_program=exported)
        took = time.perf_counter() - t0
        source = self.config.model_sources[-1]
        return f"{self.origin}/?data=" + quote(json.dumps({"models": [source]})), took


def _nodes_drawn(page) -> dict:
    return page.evaluate(f"""() => {{ const r = {_ME_RENDERER};
        const shown = r.nodesToRender.map(n => n.node);
        return {{boxes: shown.length, layers: shown.filter(n => n.nodeType === 1).length,
                 labels: shown.slice(0, 12).map(n => n.label), nodes: Object.keys(r.curModelGraph.nodesById).length}};
    }}""")


def _refuse_other_hosts(page, origin: str, refused: list[str]) -> None:
    def route(r) -> None:
        url = r.request.url
        if url.startswith(origin + "/") or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            refused.append(url)
            r.abort()
    page.route("**/*", route)


def measure_model_explorer(me: ModelExplorerServer, name: str, model, x, browser, args, shots: Path | None) -> dict:
    torch._dynamo.reset()  # each round exports from scratch, as a fresh process would (the first also imports)
    t0 = time.perf_counter()
    exported = torch.export.export(model, (x,))
    row = {"export_s": time.perf_counter() - t0, "exported_graph_nodes": len(exported.graph.nodes)}
    url, row["convert_s"] = me.add(name, exported)
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # a clean one: no saved settings
    page = context.new_page()
    errors: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "net::ERR_FAILED" not in m.text else None)  # the refused fonts
    _refuse_other_hosts(page, me.origin, refused)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(_ME_DRAWN, timeout=args.limit * 1000, polling=10)
    page.evaluate(_TWO_FRAMES)
    row["first_picture_s"] = time.perf_counter() - t0
    drawn = _nodes_drawn(page)
    row.update(boxes_first=drawn["boxes"], layers_first=drawn["layers"], labels_first=drawn["labels"],
               graph_nodes=drawn["nodes"])
    if shots is not None:
        page.screenshot(path=str(shots / f"model_explorer_{name}.png"))
    if args.expand_all:
        t0 = time.perf_counter()
        page.click(".mat-icon-container.expand-all")
        try:
            page.wait_for_function(f"""n => {{ const r = {_ME_RENDERER};
                return r.showBusySpinnerTimeoutRef < 0 && r.nodesToRender.length > n; }}""",
                                   arg=drawn["boxes"], timeout=args.expand_limit * 1000, polling=10)
            page.evaluate(_TWO_FRAMES)
            row["expand_all_s"] = time.perf_counter() - t0
            row["boxes_expanded_all"] = _nodes_drawn(page)["boxes"]
            if shots is not None:
                page.screenshot(path=str(shots / f"model_explorer_{name}_expanded.png"))
        except Exception as e:  # Playwright's TimeoutError
            if "Timeout" not in type(e).__name__:
                raise
            row["expand_all_s"] = None
    row["page_errors"] = errors
    row["refused_requests"] = len(refused)
    row["webgl"] = page.evaluate(_WEBGL)
    context.close()
    return row


def measure_graphviz_ad(name: str, model, x, browser, out: Path, args, shots: Path | None) -> dict:
    full = measure(name, model, x, browser, out, "h.1")
    keep = ("nodes", "ops", "steps", "trace_backward_s", "written_s", "page_mb", "first_picture_s", "boxes_first",
            "expand_s", "boxes_expanded", "page_errors")
    row = {k: full[k] for k in keep if k in full}
    if shots is None and not args.expand_all:
        return row
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto((out / f"{name}.html").as_uri())
    page.wait_for_selector(".gad-explorer[data-state=ready]", timeout=args.limit * 1000)
    if shots is not None:
        page.screenshot(path=str(shots / f"graphviz_ad_{name}.png"))
    if args.expand_all:
        n = int(page.get_attribute(".gad-explorer", "data-layouts"))
        t0 = time.perf_counter()
        page.click(".gad-x-expand-all")
        try:
            page.wait_for_function("n => { const e = document.querySelector('.gad-explorer');"
                                   " return Number(e.getAttribute('data-layouts')) > n"
                                   " && e.getAttribute('data-state') === 'ready'; }",
                                   arg=n, timeout=args.expand_limit * 1000, polling=10)
            row["expand_all_s"] = time.perf_counter() - t0
            row["boxes_expanded_all"] = int(page.get_attribute(".gad-explorer", "data-boxes"))
        except Exception as e:
            if "Timeout" not in type(e).__name__:
                raise
            row["expand_all_s"] = None
    page.close()
    return row


def _median(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _s(v: float | None, limit: float | None = None) -> str:
    if v is None:
        return f"> {limit:g} s" if limit is not None else "-"
    return f"{v:.2f} s"


def _runs(rows: list[dict], key: str) -> str:
    vals = [r.get(key) for r in rows]
    return ", ".join("-" if v is None else f"{v:.2f}" for v in vals)


def table(result: dict, args) -> str:
    me, gad, tv = result["model_explorer"], result["graphviz_ad"], result["torchview_full_depth_s"]
    m0, g0 = me[0], gad[0]
    lines = [f"GPT-2-style stack of {result['blocks']} blocks, {len(me)} round(s) (medians; every round in "
             "brackets, in seconds)", "",
             "| | Model Explorer (torch.export) | graphviz_ad explorer | torchview, full depth |",
             "|---|---|---|---|",
             f"| what is recorded | forward: {m0['exported_graph_nodes']:,} exported graph nodes, "
             f"{m0['graph_nodes']:,} in its graph | forward and backward: {g0['nodes']:,} nodes ({g0['ops']:,} ops, "
             f"{g0['steps']:,} backward steps) | forward |",
             f"| capture | export {_s(_median(me, 'export_s'))} [{_runs(me, 'export_s')}] + convert "
             f"{_s(_median(me, 'convert_s'))} [{_runs(me, 'convert_s')}] | trace + backward "
             f"{_s(_median(gad, 'trace_backward_s'))} [{_runs(gad, 'trace_backward_s')}] + page written "
             f"{_s(_median(gad, 'written_s'))} [{_runs(gad, 'written_s')}] ({g0['page_mb']:.1f} MB) | "
             + (f"{_s(statistics.median(tv))} [{', '.join(f'{v:.2f}' for v in tv)}] to its SVG (capture + dot)"
                if tv else "not measured" if args.no_torchview else "not installed") + " |",
             f"| server start (once) | {result['model_explorer_server_start_s']:.2f} s | none (a file) | none |",
             f"| first picture in headless Chromium | {_s(_median(me, 'first_picture_s'))} "
             f"[{_runs(me, 'first_picture_s')}] | {_s(_median(gad, 'first_picture_s'))} "
             f"[{_runs(gad, 'first_picture_s')}] | - (a static SVG) |",
             f"| boxes in the first picture | {m0['boxes_first']} ({m0['layers_first']} collapsed layers: "
             f"{', '.join(m0['labels_first'][:6])}) | {g0['boxes_first']} (depth \"auto\") | all |"]
    if args.expand_all:
        lines.append(f"| expand all (the page's control) | {_s(_median(me, 'expand_all_s'), args.expand_limit)} "
                     f"[{_runs(me, 'expand_all_s')}], {m0.get('boxes_expanded_all', '-')} boxes | "
                     f"{_s(_median(gad, 'expand_all_s'), args.expand_limit)} [{_runs(gad, 'expand_all_s')}], "
                     f"{g0.get('boxes_expanded_all', '-')} boxes | - |")
    lines.append("| values and gradients | none (shapes, dtypes, op attributes) | in the details panel | none |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="4 blocks, one round")
    ap.add_argument("--blocks", type=int, default=48, help="blocks in the GPT-2-style stack (default 48)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds, each tool once per round (default 3)")
    ap.add_argument("--expand-all", action="store_true", help="also time each page's 'expand all' control")
    ap.add_argument("--expand-limit", type=float, default=120, help="seconds allowed for 'expand all' (120)")
    ap.add_argument("--limit", type=float, default=120, help="seconds allowed for a first picture (120)")
    ap.add_argument("--no-torchview", action="store_true", help="leave out torchview's full-depth drawing")
    ap.add_argument("--screenshots", metavar="DIR", help="keep a screenshot of each first picture")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args()
    version = model_explorer_version()
    if version is None:
        print("ai-edge-model-explorer is not installed: nothing measured (pip install ai-edge-model-explorer; it is "
              "not a dependency of graphviz_ad)")
        return 0
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed: nothing measured (pip install playwright)")
        return 0

    blocks, repeat = (4, 1) if args.smoke else (args.blocks, args.repeat)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, x = GPT(blocks), torch.randn(1, 16, 32)
    shots = Path(args.screenshots) if args.screenshots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    result: dict = {"blocks": blocks, "model_explorer_version": version, "torch": torch.__version__,
                    "load_average": list(os.getloadavg()), "model_explorer": [], "graphviz_ad": [],
                    "torchview_full_depth_s": []}
    me = ModelExplorerServer()
    result["model_explorer_server_start_s"] = me.start_s
    exe = os.environ.get("GRAPHVIZ_AD_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        for k in range(repeat):
            name = f"gpt2_{blocks}_{k}"
            order = ("model_explorer", "graphviz_ad") if k % 2 == 0 else ("graphviz_ad", "model_explorer")
            for tool in order:
                if tool == "model_explorer":
                    row = measure_model_explorer(me, name, model, x, browser, args, shots if k == 0 else None)
                else:
                    row = measure_graphviz_ad(name, model, x, browser, Path(tmp), args, shots if k == 0 else None)
                result[tool].append(row)
                print(json.dumps({"round": k, "tool": tool, **row}), flush=True)
            if not args.no_torchview:
                took = torchview_full_depth(model, x)
                if took is not None:
                    result["torchview_full_depth_s"].append(took)
                    print(json.dumps({"round": k, "tool": "torchview", "full_depth_s": took}), flush=True)
        browser.close()
    result["load_average_end"] = list(os.getloadavg())
    print()
    print(table(result, args))
    print(f"\nWebGL in headless Chromium: {result['model_explorer'][0]['webgl']}")
    print(f"ai-edge-model-explorer {version}, torch {torch.__version__}; load average "
          f"{result['load_average'][0]:.1f} at start, {result['load_average_end'][0]:.1f} at end on "
          f"{os.cpu_count()} cores (a loaded machine inflates every number)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
