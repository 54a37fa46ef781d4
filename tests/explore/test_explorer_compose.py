"""The page composes its DOT statements from the data's fields (explorer.js's ``composer``): in Chromium,
every statement it writes equals render/dot.py's DotPieces for a graph of every kind of node, value and
name, under several render options; so the page and the static figures draw the same boxes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.explore.pieces import _plumbing_opened
from graphviz_ad.render.collapse import collapse, module_level
from graphviz_ad.render.dot import DotPieces
from graphviz_ad.render.options import RenderOptions
from graphviz_ad.render.tidy import tidy
from graphviz_ad.trace.recorder import name_next_op
from tests.browser_support import Watched, launch_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = 'a<b>&"c\'[d]\x01\n😀 and a name far too long to be shown in a box whole'


class Odd(nn.Module):
    """Values of every kind the labels write: ties at the rounding digit, -0, huge and tiny numbers,
    integers (small and past 1e9), booleans, NaN and inf, a large tensor (kept as a summary), nested
    previews, a 0-d tensor, an empty one."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.add_module(HOSTILE.replace(".", ""), nn.Linear(4, 4))
        self.inner = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.masked = Masked()

    def forward(self, x):
        h = self.lin(x)
        weird = getattr(self, HOSTILE.replace(".", ""))(h)
        ties = torch.tensor([[0.125, 1.0625, 2.5, 12345.0], [-0.0, 9.5, 0.00015625, 1e20]]) * h
        tiny = h * 1e-7 + ties
        nested = tiny.reshape(2, 2, 2)
        ints = (h * 1e10).round().long()  # integers past 1e9, and small ones
        small = (h * 10).round().int()
        keep = (torch.arange(4) % 2) == 0  # mask plumbing: the tidy view folds it into one box
        picked = torch.where(keep, h, torch.zeros_like(h))
        bad = torch.log(h) * 0 + h  # NaN where h < 0
        inf = h / (h - h)  # inf and NaN
        big = h.repeat(50, 50)  # a summary, no numbers kept
        big_out = big.mean(0, keepdim=True)[:, :4]
        zero_d = h.sum()
        empty = h[:, :0].sum(1)
        return ((self.inner(nested.reshape(2, 4) + picked) + torch.mul(*self.masked(h)) + big_out).sum() + zero_d * 0.5 + empty.sum()
                + (ints.float() * 0).sum() + (small.float() * 0).sum() + bad.nansum() * 0
                + torch.nan_to_num(inf).sum() * 0 + weird.sum())


class Masked(nn.Module):
    """Its mask leaves it (a module's box is then the value that leaves it last, not the mask)."""

    def forward(self, x):
        keep = (torch.arange(4) + 1) % 2 == 0
        return torch.where(keep, x, torch.zeros(())), keep


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture(scope="module")
def traces() -> list[gad.Trace]:
    torch.manual_seed(0)
    odd = gad.trace(Odd(), torch.randn(2, 4)).backward()

    def expression(a, b):  # an expression's definitions (c = a / b), as the expression recipe names them
        name_next_op("c", "c = a / b", "a / b")
        c = a / b
        name_next_op("d", "d = d", "d")  # a definition that is its own name: no "= ..."
        d = c * 3
        name_next_op("e", "e = <&>", 'c + 2.5 "[x]"')
        e = d + 2.5
        return (e - a).sum()

    expr = gad.trace(expression, torch.tensor([1.5, -2.0], requires_grad=True),
                     torch.tensor([0.25, 3.0], requires_grad=True)).backward()
    from tests.hardening.test_names import Hostile

    hostile = gad.trace(Hostile(), torch.ones(1, 2)).backward()
    lin = nn.Linear(2, 2)  # complex and sparse values: their statements are made in Python, every box's too
    complex_ = gad.trace(lambda z: lin((z * z).abs()).sum(), torch.tensor([1 + 2j, 3 - 1j], requires_grad=True))
    sparse = torch.sparse_coo_tensor([[0, 1], [1, 0]], [1.0, 2.0], (2, 2), requires_grad=True)
    return [odd, expr, hostile, complex_.backward(), gad.trace(lambda s: (s * 2).to_dense().sum(), sparse).backward()]


def expected(trace: gad.Trace, options: RenderOptions) -> tuple[list[str], list[str], list[str], dict[str, str]]:
    """What DotPieces writes for the graph the page explores (the tidy view with its plumbing's members,
    which the page folds): nodes, edges, clusters; and every module's box in the tidy view, as the
    static figures draw it."""
    static = trace.graph if options.show_all else tidy(trace.graph).graph
    graph = trace.graph if options.show_all else _plumbing_opened(trace.graph, tidy(trace.graph))[0]
    pieces = DotPieces(options, tooltips=False)
    boxes: dict[str, str] = {}
    for level in sorted({module_level(c.qualname) for c in static.clusters if c.kind == "module"}):
        view, _ = collapse(static, level)
        for n in view.nodes:
            if "collapsed" in n.flags and n.id.startswith("m") and n.id[1:] not in boxes:
                boxes[n.id[1:]] = pieces.node(n)
    return ([pieces.node(n) for n in graph.nodes], [pieces.edge_attrs(e.grad) for e in graph.edges],
            [pieces.cluster(c) for c in graph.clusters], boxes)


COMPOSED = """root => {
  const s = root.gadStatements, n = Number(root.dataset.nodes), e = Number(root.dataset.edges);
  const out = {nodes: [], edges: [], clusters: [], boxes: {}};
  for (let i = 0; i < n; i++) out.nodes.push(s.node(i));
  for (let k = 0; k < e; k++) out.edges.push(s.edge(k));
  for (let i = 0; i < Number(root.dataset.clusters); i++) out.clusters.push(s.cluster(i));
  for (const cid of JSON.parse(root.dataset.modules)) out.boxes[cid] = s.module(cid);
  return out;
}"""


@pytest.mark.parametrize("opts", [{}, {"grad_color": True}, {"digits": 4, "theme": "dark"}, {"digits": 6},
                                  {"grads": False}, {"show_all": True, "grad_color": True}])
def test_every_statement_the_page_composes_is_dotpieces(browser, traces, opts, tmp_path):
    options = RenderOptions.make(None, **opts)
    for k, trace in enumerate(traces):
        nodes, edges, clusters, boxes = expected(trace, options)
        path = trace.explore(**opts).save(tmp_path / f"p{k}.html")
        w = Watched(browser)
        w.open(path)
        w.page.wait_for_selector(".gad-explorer[data-state=ready]", timeout=30000)
        w.page.eval_on_selector(".gad-explorer", "(r, a) => { r.dataset.nodes = a[0]; r.dataset.edges = a[1];"
                                " r.dataset.clusters = a[2]; r.dataset.modules = a[3]; }",
                                [len(nodes), len(edges), len(clusters), __import__("json").dumps(sorted(boxes))])
        got = w.page.eval_on_selector(".gad-explorer", COMPOSED)
        assert got["nodes"] == nodes
        assert got["edges"] == edges
        assert got["clusters"] == clusters
        assert got["boxes"] == boxes
        assert w.errors == []
        w.page.close()


def test_the_sample_graph_has_every_kind_of_value(traces):
    odd = traces[0].graph
    values = [v for n in odd.nodes for v in (n.value, n.grad) if v is not None]
    assert any(v.kind == "stats" for v in values) and any(v.dtype == "int64" for v in values)
    assert any(v.dtype == "bool" for v in values) and any(v.numel == 0 for v in values)
    flat = [x for v in values if v.kind == "exact" for x in _flat(v.data)]
    assert any(isinstance(x, float) and math.isnan(x) for x in flat)
    assert any(isinstance(x, float) and math.isinf(x) for x in flat)
    assert any(isinstance(x, int) and not isinstance(x, bool) and abs(x) >= 1e9 for x in flat)
    assert any(n.definition for n in traces[1].graph.nodes)
    assert sum("plumbing" in n.flags for n in tidy(odd).graph.nodes) == 2


def _flat(d):
    stack = [d]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        else:
            yield x
