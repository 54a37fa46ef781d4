"""The explorer's speed: writing the page, its first picture, expanding a block and searching, in headless Chromium.

    python benchmarks/explore_bench.py            # GPT-2-style stacks of 48 blocks, and the 100,000-op stress case
    python benchmarks/explore_bench.py --smoke    # tiny sizes, one run: does it still work?
    python benchmarks/explore_bench.py --skip-stress

A benchmark, not a test: it measures and prints (``--json FILE`` keeps the numbers), it asserts nothing.
Times are wall-clock on this machine, the best of ``--repeat`` runs (every run is kept in the JSON):
"written" is ``t.explore().save()`` after the trace and the backward; "first picture" is from navigation start to the first layout shown (the page's
``data-state="ready"``); "expand" is from the click on a collapsed block to its layout shown; "search"
the page's own timing of one query over every node and module (``data-search-ms``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import graphviz_ad as gad  # noqa: E402

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (d // self.heads) ** 0.5)
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.proj(y)


class GPTBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, blocks: int, d: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.h = nn.Sequential(*[GPTBlock(d, heads) for _ in range(blocks)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, x):
        return self.ln_f(self.h(x)).pow(2).mean()


class Residual(nn.Module):
    """A pre-norm residual block of 21 recorded ops in three child modules (a norm, a gated MLP's two
    linears) and its own arithmetic: a block of a real network, at toy width."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        h = self.norm(x)                                     # 1
        a, g = self.fc(h).chunk(2, dim=-1)                   # 2 3
        h = torch.tanh(a) * torch.sigmoid(g)                 # 4 5 6
        h = self.proj(h) * 0.5                               # 7 8
        c = h - h.mean(-1, keepdim=True)                     # 9 10
        s = (c.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt()  # 11 12 13 14
        h = torch.relu(c / s) + torch.exp(-c.abs())          # 15 16 17 18 19 20
        return x + h                                         # 21


STRESS_BLOCKS = 4762  # 21 recorded ops each, and the final sum: 100,003 ops


class Stress(nn.Module):
    """``blocks`` residual blocks of 21 recorded ops each (4,762 of them: 100,003 ops), in pairs."""

    def __init__(self, blocks: int, d: int = 4) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[nn.Sequential(Residual(d), Residual(d)) for _ in range(blocks // 2)])

    def forward(self, x):
        return self.blocks(x).sum()


class _LastHidden(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(input_ids=ids).last_hidden_state.pow(2).mean()


def hf_gpt2(layers: int) -> tuple[nn.Module, torch.Tensor] | None:
    """Hugging Face's GPT2Model built from a config (no weights downloaded), if transformers is installed."""
    try:
        from transformers import GPT2Config, GPT2Model
    except ImportError:
        return None
    cfg = GPT2Config(n_layer=layers, n_embd=64, n_head=4, vocab_size=100, n_positions=32, bos_token_id=0,
                     eos_token_id=0)
    return _LastHidden(GPT2Model(cfg).eval()), torch.randint(0, 100, (1, 16))


def torchview_full_depth(model: nn.Module, x: torch.Tensor) -> float | None:
    """Seconds for torchview's full-depth drawing (capture and dot's SVG), or None without torchview."""
    try:
        from torchview import draw_graph
    except ImportError:
        return None
    t0 = time.perf_counter()
    draw_graph(model, input_data=x, depth=10**6, expand_nested=True).visual_graph.pipe(format="svg")
    return time.perf_counter() - t0


def measure(name: str, model: nn.Module, x: torch.Tensor, browser, out: Path, expand: str, repeat: int = 1) -> dict:
    t0 = time.perf_counter()
    t = gad.trace(model, x).backward()
    traced = time.perf_counter() - t0
    ops = sum(1 for n in t.nodes if n.kind in ("op", "output"))
    print(f"{name}: {len(t.nodes):,} recorded nodes, {ops:,} of them ops, {len(t.steps):,} backward steps "
          f"(traced and backward in {traced:.1f} s)", flush=True)
    writes = []
    for _ in range(repeat):  # a new Explorer each time: nothing cached
        t0 = time.perf_counter()
        path = t.explore().save(out / f"{name}.html")
        writes.append(time.perf_counter() - t0)
    row = {"name": name, "nodes": len(t.nodes), "ops": ops, "steps": len(t.steps), "trace_backward_s": traced,
           "written_s": min(writes), "written_all_s": writes, "page_mb": path.stat().st_size / 1e6}
    errors: list[str] = []
    firsts = []
    for k in range(repeat):  # a new tab each time; the last one goes on to expand and search
        if k:
            page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector(".gad-explorer[data-state=ready]", timeout=120000)
        firsts.append(time.perf_counter() - t0)
    row["first_picture_s"] = min(firsts)
    row["first_picture_all_s"] = firsts
    row["boxes_first"] = int(page.get_attribute(".gad-explorer", "data-boxes"))
    row["first_layout_ms_in_page"] = int(page.get_attribute(".gad-explorer", "data-layout-ms"))
    sel = f'g[data-module="{expand}"]'
    if page.query_selector(sel):
        n = int(page.get_attribute(".gad-explorer", "data-layouts"))
        t0 = time.perf_counter()
        page.click(sel)
        page.wait_for_function("n => Number(document.querySelector('.gad-explorer').getAttribute('data-layouts')) > n"
                               " && document.querySelector('.gad-explorer').getAttribute('data-state') === 'ready'",
                               arg=n, timeout=120000)
        row["expand_s"] = time.perf_counter() - t0
        row["expand_layout_ms_in_page"] = int(page.get_attribute(".gad-explorer", "data-layout-ms"))
        row["boxes_expanded"] = int(page.get_attribute(".gad-explorer", "data-boxes"))
    for q in ("softmax", "layernorm"):
        page.fill(".gad-x-search", q)  # the first query also builds the index
    row["search_ms"] = int(page.get_attribute(".gad-explorer", "data-search-ms"))
    row["search_results"] = int(page.get_attribute(".gad-explorer", "data-results"))
    row["page_errors"] = errors
    page.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, one run")
    ap.add_argument("--skip-stress", action="store_true", help="leave out the 100,000-op case")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="write and open each page N times (a shared machine: the best and every time are kept)")
    ap.add_argument("--only", metavar="NAMES", help="comma-separated cases: gpt2_48, hf_gpt2_48, stress")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    torch.manual_seed(0)
    torch.set_num_threads(1)
    cases = [("gpt2_48", GPT(4 if args.smoke else 48), torch.randn(1, 16, 32), "h.1")]
    hf = hf_gpt2(4 if args.smoke else 48)
    if hf is not None:
        cases.append(("hf_gpt2_48", *hf, "model.h.1"))
    if not args.skip_stress:
        cases.append(("stress", Stress(20 if args.smoke else STRESS_BLOCKS), torch.randn(1, 4), "blocks.1"))
    if args.only:
        cases = [c for c in cases if c[0] in args.only.split(",")]
    rows = []
    exe = os.environ.get("GRAPHVIZ_AD_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        for name, model, x, expand in cases:
            rows.append(measure(name, model, x, browser, Path(tmp), expand, 1 if args.smoke else args.repeat))
            print(json.dumps(rows[-1]), flush=True)
        browser.close()
    print()
    print("| case | recorded nodes (ops) | page written | page size | first picture (boxes) | expand a block (boxes) "
          "| search |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        expand = f"{r['expand_s']:.2f} s ({r['boxes_expanded']})" if "expand_s" in r else "-"
        print(f"| {r['name']} | {r['nodes']:,} ({r['ops']:,}) | {r['written_s']:.2f} s | {r['page_mb']:.1f} MB "
              f"| {r['first_picture_s']:.2f} s ({r['boxes_first']}) | {expand} | {r['search_ms']} ms |")
    for name, model, x, _ in cases:
        if name.startswith("gpt2"):
            took = torchview_full_depth(model, x)
            print(f"\ntorchview, full depth, {name}: " + (f"{took:.2f} s to its SVG (forward only, no values)"
                                                        if took is not None else "not installed"))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
