"""The explorer in headless Chromium, opened from a file: expand and collapse in place, search, the details
panel against autograd, stepping the backward pass at the view's level, hostile names, two explorers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.render.collapse import resolve_view
from tests.browser_support import Watched, launch_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = ".gad-explorer"


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, d)

    def forward(self, x):
        h = torch.tanh(self.fc(x))
        return x + self.fc2(h)


class Net(nn.Module):
    def __init__(self, n: int = 4, d: int = 4) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block(d) for _ in range(n)])

    def forward(self, x):
        return (self.blocks(x) ** 2).sum()


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture(scope="module")
def net() -> tuple[Net, torch.Tensor]:
    torch.manual_seed(0)
    return Net(), torch.randn(2, 4)


@pytest.fixture(scope="module")
def trace(net) -> gad.Trace:
    model, x = net
    return gad.trace(model, x).backward()


@pytest.fixture(scope="module")
def page_file(trace, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "page.html"
    trace.explore(depth=2).save(path)
    return path


def box(trace: gad.Trace, qualname: str) -> str:
    """The id the drawing gives a collapsed module: ``m`` and its cluster's id."""
    return "m" + next(c.id for c in trace.graph.clusters if c.qualname == qualname)


def ready(page, root: str = ROOT, after: int = 0) -> None:
    """Wait until the explorer at ``root`` has shown a layout newer than ``after``."""
    page.wait_for_function(
        "([r, n]) => { const e = document.querySelector(r); return e && e.getAttribute('data-state') === 'ready'"
        " && Number(e.getAttribute('data-layouts')) > n; }", arg=[root, after], timeout=30000)


def layouts(page, root: str = ROOT) -> int:
    return int(page.get_attribute(root, "data-layouts") or 0)


def drawn(page, root: str = ROOT) -> list[str]:
    return page.eval_on_selector_all(f"{root} g[data-id]", "els => els.map(e => e.getAttribute('data-id'))")


def field(page, name: str, root: str = ROOT) -> str:
    return page.text_content(f'{root} .gad-x-panel [data-field="{name}"]')


def local_requests(w: Watched) -> list[str]:
    return [u for u in w.requests if not (u.startswith("file:") or u.startswith("blob:"))]


@pytest.fixture()
def opened(browser, page_file):
    w = Watched(browser)
    w.open(page_file)
    ready(w.page)
    yield w
    assert w.errors == []
    assert local_requests(w) == []
    w.page.close()


def test_it_opens_from_a_file_on_the_collapsed_view_with_one_box_per_drawn_node(opened, trace):
    view, _ = resolve_view(trace.graph, 2)
    assert sorted(drawn(opened.page)) == sorted(n.id for n in view.nodes)
    modules = opened.page.eval_on_selector_all("g[data-module]", "els => els.map(e => e.getAttribute('data-module'))")
    assert sorted(modules) == [f"blocks.{k}" for k in range(4)]


def test_clicking_a_module_expands_it_in_place_and_its_label_collapses_it_again(opened, trace):
    page = opened.page
    before = sorted(drawn(page))
    n = layouts(page)
    where = page.eval_on_selector('g[data-module="blocks.1"]', "e => [e.getBoundingClientRect().x, "
                                  "e.getBoundingClientRect().y]")
    page.click('g[data-module="blocks.1"]')
    ready(page, after=n)
    cid = box(trace, "blocks.1")[1:]
    now = page.eval_on_selector(f'g.cluster[data-cluster="{cid}"]', "e => [e.getBoundingClientRect().x, "
                                "e.getBoundingClientRect().y]")
    assert [round(b - a) for a, b in zip(where, now)] == [0, 0]  # the opened module stays where its box was
    inside = {x.id for x in trace.nodes if x.module and (x.module == "blocks.1" or x.module.startswith("blocks.1."))}
    after = drawn(page)
    assert len(after) > len(before)
    assert inside <= set(after) and box(trace, "blocks.1") not in after
    cid = box(trace, "blocks.1")[1:]
    label = page.locator(f'g.cluster[data-cluster="{cid}"] > text').first
    n = layouts(page)
    label.click()
    ready(page, after=n)
    assert sorted(drawn(page)) == before


def test_search_lists_matches_and_the_chosen_one_is_expanded_to_and_highlighted(opened, trace):
    page = opened.page
    target = next(x for x in trace.nodes if x.op == "tanh" and x.module == "blocks.2")
    page.fill(".gad-x-search", "tanh")
    labels = page.eval_on_selector_all(".gad-x-result", "els => els.map(e => e.getAttribute('data-target'))")
    assert labels == [x.id for x in trace.nodes if "tanh" in f"{x.label} {x.op} {x.module} {x.id}".lower()]
    n = layouts(page)
    page.click(f'.gad-x-result[data-target="{target.id}"]')
    ready(page, after=n)
    assert target.id in drawn(page)
    assert "gad-x-hit" in page.get_attribute(f'g[data-id="{target.id}"]', "class")
    assert field(page, "name") == target.label
    assert field(page, "module") == "blocks.2"
    page.fill(".gad-x-search", "Linear")  # a class: every module of it, then the ops named so
    targets = page.eval_on_selector_all(".gad-x-result", "els => els.map(e => e.getAttribute('data-target'))")
    linear = [c.qualname for c in trace.graph.clusters if c.type_name == "Linear"]
    assert len(linear) == 8
    assert targets == [box(trace, q) for q in linear] + [x.id for x in trace.nodes if x.op == "linear"]


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(", ")]


def test_the_details_panel_shows_autograds_values_and_gradients(opened, trace, net):
    model, x = net
    page = opened.page
    # the oracle: the same forward by hand, the tanh inside blocks.2 kept with its gradient
    block = model.blocks[2]
    h_in = model.blocks[1](model.blocks[0](x))
    h = torch.tanh(block.fc(h_in))
    h.retain_grad()
    out = h_in + block.fc2(h)
    loss = (model.blocks[3](out) ** 2).sum()
    loss.backward()
    target = next(n for n in trace.nodes if n.op == "tanh" and n.module == "blocks.2")
    page.fill(".gad-x-search", target.id)
    n = layouts(page)
    page.click(f'.gad-x-result[data-target="{target.id}"]')
    ready(page, after=n)
    # float32 numbers as the shortest decimal that reads back as the same float32: exactly autograd's numbers,
    # without the digits a double adds past float32's (1.1592504, not 1.1592503786087036)
    def single(text: str) -> list[float]:
        return torch.tensor(floats(text), dtype=torch.float32).tolist()

    shown = field(page, "value.values")
    assert single(shown) == h.detach().flatten().tolist()
    assert max(len(x.strip().lstrip("-").replace(".", "").lstrip("0").split("e")[0]) for x in shown.split(",")) <= 9
    assert single(field(page, "grad.values")) == h.grad.flatten().tolist()
    assert single(field(page, "value.min")) == [h.min().item()]
    assert single(field(page, "grad.max")) == [h.grad.max().item()]
    assert math.isclose(float(field(page, "value.norm")), h.norm().item(), rel_tol=1e-6)
    assert math.isclose(float(field(page, "grad.std")), h.grad.std().item(), rel_tol=1e-5)
    assert field(page, "value.nan") == "0"
    assert field(page, "shape") == "[2, 4]"
    assert sum(int(c) for c in page.get_attribute('[data-field="value.hist"]', "data-counts").split(",")) == 8
    model.zero_grad(set_to_none=True)


def test_a_collapsed_modules_panel_has_its_parameters_and_the_gradient_norms_in_and_out(opened, trace, net):
    model, x = net
    page = opened.page
    a = model.blocks[0](x)
    b = model.blocks[1](a)
    a.retain_grad()
    b.retain_grad()
    loss = (model.blocks[3](model.blocks[2](b)) ** 2).sum()
    loss.backward()
    page.fill(".gad-x-search", "blocks.1 Block")
    n = layouts(page)
    page.click(f'.gad-x-result[data-target="{box(trace, "blocks.1")}"]')
    assert page.get_attribute(ROOT, "data-selected") == box(trace, "blocks.1")
    assert field(page, "params") == str(sum(p.numel() for p in model.blocks[1].parameters()))
    assert field(page, "in_shapes") == "[2, 4]" and field(page, "out_shapes") == "[2, 4]"
    assert math.isclose(float(field(page, "grad.at_outputs")), b.grad.norm().item(), rel_tol=1e-6)
    # the input of blocks.1 feeds two edges (the residual and fc): their gradients sum to a.grad
    edges = [e for e in trace.edges if e.source == next(n.id for n in trace.nodes if n.module == "blocks.0"
                                                          and n.op == "add")]
    parts = [float(v) for v in field(page, "grad.at_inputs").split(" + ")]
    assert len(parts) == len(edges) == 2
    assert sorted(parts) == pytest.approx(sorted(float(e.grad.stats["norm"]) if e.grad.stats else
                                                 torch.tensor(e.grad.data).norm().item() for e in edges), rel=1e-6)
    model.zero_grad(set_to_none=True)
    assert layouts(page) == n  # a search result that is drawn already needs no new layout


def test_a_collapsed_modules_step_shows_autograds_gradient_norms(opened, trace, net):
    model, x = net
    page = opened.page
    a = model.blocks[2](model.blocks[1](model.blocks[0](x)))
    out = model.blocks[3](a)
    a.retain_grad()
    out.retain_grad()
    (out ** 2).sum().backward()
    mod = box(trace, "blocks.3")
    while page.get_attribute(ROOT, "data-step-box") != mod:
        page.click(".gad-x-next")
    panel = ".gad-x-steps"
    upstream = float(page.text_content(f'{panel} [data-field="step.upstream"]'))
    assert math.isclose(upstream, out.grad.norm().item(), rel_tol=1e-6)
    add_in = next(n for n in trace.nodes if n.module == "blocks.2" and n.op == "add")
    parts = [float(v) for v in page.text_content(f'{panel} [data-field="step.to.{add_in.id}"]').split(" + ")]
    assert len(parts) == 2  # the residual and the path through fc: autograd sums them into a.grad
    for name in ("fc.weight", "fc.bias", "fc2.weight", "fc2.bias"):
        p = dict(model.blocks[3].named_parameters())[name]
        node = next(n for n in trace.nodes if n.label == f"blocks.3.{name}")
        shown = float(page.text_content(f'{panel} [data-field="step.param.{node.id}"]'))
        assert math.isclose(shown, p.grad.norm().item(), rel_tol=1e-6)
    model.zero_grad(set_to_none=True)


def test_the_backward_steps_through_a_collapsed_module_as_one_step_and_inside_it_once_expanded(opened, trace):
    page = opened.page
    nodes = {n.id: n for n in trace.nodes}

    def drawn_as(step):  # blocks.k and everything inside it is one box at depth 2
        parts = (nodes[step.node].module or "").split(".")
        return box(trace, ".".join(parts[:2])) if parts[0] == "blocks" and len(parts) >= 2 else step.node

    view_steps = []
    for s in trace.steps:
        key = drawn_as(s)
        if not view_steps or view_steps[-1] != key or not key.startswith("m"):
            view_steps.append(key)
    boxes = []
    for _ in range(len(view_steps)):
        page.click(".gad-x-next")
        boxes.append(page.get_attribute(ROOT, "data-step-box"))
    assert boxes == view_steps
    assert [b for b in boxes if b.startswith("m")] == [box(trace, f"blocks.{k}") for k in (3, 2, 1, 0)]
    assert page.is_disabled(".gad-x-next")
    page.click(".gad-x-prev")
    assert page.get_attribute(ROOT, "data-step") == str(len(view_steps) - 2)
    page.keyboard.press("ArrowLeft")  # focus is on the back button, inside the explorer
    assert page.get_attribute(ROOT, "data-step") == str(len(view_steps) - 3)
    page.keyboard.press("ArrowRight")
    assert page.get_attribute(ROOT, "data-step") == str(len(view_steps) - 2)
    # expanding blocks.3 makes its op steps appear, in autograd's order
    n = layouts(page)
    page.click('g[data-module="blocks.3"]')
    ready(page, after=n)
    inside = list(dict.fromkeys(s.node for s in trace.steps if (nodes[s.node].module or "").startswith("blocks.3")))
    page.click(".gad-x-prev")
    while page.get_attribute(ROOT, "data-step") != "-1":
        page.click(".gad-x-prev")
    seen = []
    for _ in range(len(view_steps) + len(inside)):
        if page.is_disabled(".gad-x-next"):
            break
        page.click(".gad-x-next")
        seen.append(page.get_attribute(ROOT, "data-step-box"))
    assert list(dict.fromkeys(b for b in seen if b in inside)) == inside
    # step to the selected box
    page.click(f'g[data-id="{inside[-1]}"]')
    page.click(".gad-x-to-selected")
    assert page.get_attribute(ROOT, "data-step-box") == inside[-1]


def test_hostile_module_and_node_names_stay_text(browser, tmp_path):
    from tests.hardening.test_names import Hostile

    torch.manual_seed(0)
    t = gad.trace(Hostile(), torch.ones(1, 2)).backward()
    path = t.explore(depth=1).save(tmp_path / "hostile.html")
    w = Watched(browser)
    w.open(path)
    ready(w.page)
    page = w.page
    qualnames = [c.qualname for c in t.graph.clusters if c.kind == "module" and c.qualname.count(".") == 0
                 and c.qualname]
    shown = page.eval_on_selector_all("g[data-module]", "els => els.map(e => e.getAttribute('data-module'))")
    assert shown == qualnames
    # data, DOT, numbers, Graphviz, worker, page: none injected
    assert page.eval_on_selector_all("script", "els => els.length") == 6
    assert page.eval_on_selector_all("b", "els => els.length") == 0  # no injected markup
    page.fill(".gad-x-search", "<b>bold</b>")
    texts = page.eval_on_selector_all(".gad-x-result", "els => els.map(e => e.textContent)")
    assert texts and all("<b>bold</b>" in x for x in texts)
    page.click(".gad-x-result >> nth=0")  # a module drawn already: selected without a new layout
    assert "<b>bold</b>" in page.text_content(".gad-x-title")
    assert w.errors == [] and w.dialogs == [] and local_requests(w) == []
    w.page.close()


def test_two_explorers_on_one_page_stay_independent(browser, trace, tmp_path):
    from graphviz_ad.explore.page import explorer_page
    from graphviz_ad.render.theme import get_theme

    a, b = trace.explore(depth=2).fragment(), trace.explore(depth=2, theme="dark").fragment()
    path = tmp_path / "two.html"
    path.write_text(explorer_page(a + b, get_theme("light")), encoding="utf-8")
    w = Watched(browser)
    w.open(path)
    roots = w.page.eval_on_selector_all(ROOT, "els => els.map(e => '#' + e.id)")
    assert len(roots) == 2 and roots[0] != roots[1]
    for r in roots:
        ready(w.page, r)
    counts = [len(drawn(w.page, r)) for r in roots]
    n = layouts(w.page, roots[0])
    w.page.click(f'{roots[0]} g[data-module="blocks.0"]')
    ready(w.page, roots[0], after=n)
    assert len(drawn(w.page, roots[0])) > counts[0]
    assert len(drawn(w.page, roots[1])) == counts[1]
    w.page.fill(f"{roots[1]} .gad-x-search", "tanh")
    assert w.page.eval_on_selector_all(f"{roots[0]} .gad-x-result", "els => els.length") == 0
    ids = w.page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))
    assert w.errors == [] and local_requests(w) == []
    w.page.close()


def test_the_svg_of_the_current_view_can_be_downloaded(opened, trace):
    page = opened.page
    with page.expect_download() as info:
        page.click(".gad-x-download")
    download = info.value
    assert download.suggested_filename == "graph.svg"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("<svg") and text.count("data-id=") == len(drawn(page))


def test_a_graph_too_big_without_modules_opens_on_its_folded_chains_and_a_click_unfolds_one(browser, tmp_path):
    def loop(x):
        for _ in range(200):
            x = torch.sin(x)
        return x

    t = gad.trace(loop, torch.tensor([0.5], requires_grad=True)).backward()
    view, _ = resolve_view(t.graph, "auto")
    folded = [n.id for n in view.nodes if "chain" in n.flags]
    assert folded and len(view.nodes) < 10
    path = t.explore().save(tmp_path / "loop.html")
    w = Watched(browser)
    w.open(path)
    ready(w.page)
    page = w.page
    assert sorted(drawn(page)) == sorted(n.id for n in view.nodes)
    steps_folded = int(page.text_content(".gad-x-step-title").split("(")[1].split()[0])
    assert steps_folded < len(t.steps)
    n = layouts(page)
    page.click(f'g[data-id="{folded[0]}"]')
    ready(page, after=n)
    assert sorted(drawn(page)) == sorted(x.id for x in t.nodes)
    assert int(page.text_content(".gad-x-step-title").split("(")[1].split()[0]) == len(t.steps)
    assert w.errors == [] and local_requests(w) == []
    w.page.close()


def test_nan_and_inf_are_counted_and_a_vector_steps_gradient_is_shown_as_its_norm(browser, tmp_path):
    x = torch.tensor([0.0, -1.0, 2.0], requires_grad=True)
    t = gad.trace(lambda x: torch.log(x) * 3, x).backward(torch.tensor([1.0, 2.0, 2.0]))
    w = Watched(browser)
    w.open(t.explore().save(tmp_path / "nan.html"))
    ready(w.page)
    page = w.page
    log = next(n for n in t.nodes if n.op == "log")
    page.click(f'g[data-id="{log.id}"]')
    assert field(page, "value.nan") == "1" and field(page, "value.inf") == "1"
    values = field(page, "value.values").split(", ")
    assert values[:2] == ["-Infinity", "NaN"] and math.isclose(float(values[2]), torch.log(x[2]).item(), rel_tol=1e-7)
    page.click(".gad-x-next")
    assert page.text_content('.gad-x-steps .gad-x-row .gad-x-key').startswith("\u2016upstream\u2016")
    assert float(page.text_content('.gad-x-steps [data-field="step.upstream"]')) == 3.0  # |(1, 2, 2)|
    assert w.errors == [] and local_requests(w) == []
    w.page.close()


def test_a_hugging_face_model_opens_on_the_tidy_view(browser, tmp_path):
    """The page opens on the same picture as the static figure (issue 15's view): no library frames, the
    mask and position plumbing folded into one box; show_all gives every recorded node back."""
    from tests.hf_models import build

    model, kw = build("gpt2")
    t = gad.trace(model, **kw).backward()
    view, _ = resolve_view(t.graph, "auto")
    assert any(n.op == "plumbing" or "plumbing" in n.label for n in view.nodes)
    path = t.explore().save(tmp_path / "gpt2.html")
    w = Watched(browser)
    w.open(path)
    ready(w.page)
    boxes = drawn(w.page)
    assert sorted(boxes) == sorted(n.id for n in view.nodes)
    assert len(boxes) <= 60
    assert "wrapped_func" not in w.page.text_content(ROOT) and "mask and position plumbing" in w.page.text_content(ROOT)
    assert w.errors == [] and local_requests(w) == []
    w.page.close()
    everything = t.explore(show_all=True).save(tmp_path / "gpt2_all.html")
    w = Watched(browser)
    w.open(everything)
    ready(w.page)
    assert len(drawn(w.page)) > len(boxes)
    assert w.errors == [] and local_requests(w) == []
    w.page.close()


class Masked(nn.Module):
    """A module whose mask is computed from positions: the tidy view folds it into one plumbing box."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        pos = torch.arange(4)
        keep = (pos % 2) == 0
        return torch.where(keep, self.fc(x), torch.zeros(()))


def test_the_plumbing_box_opens_in_place_and_folds_again(browser, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(Masked(), Masked())
    t = gad.trace(lambda x: model(x).sum(), torch.randn(2, 4)).backward()
    path = t.explore().save(tmp_path / "plumbing.html")
    w = Watched(browser)
    w.open(path)
    ready(w.page)
    page = w.page
    boxes = page.eval_on_selector_all("g[data-id]", "els => els.map(e => e.getAttribute('data-id'))")
    folded = [b for b in boxes if b.startswith("p")]
    assert len(folded) == 2 and all(page.get_attribute(f'g[data-id="{b}"]', "data-fold") == "5" for b in folded)
    before = len(boxes)
    n = layouts(page)
    page.click(f'g[data-id="{folded[0]}"]')
    ready(page, after=n)
    opened = page.eval_on_selector_all("g[data-id]", "els => els.map(e => e.getAttribute('data-id'))")
    assert len(opened) == before + 5 - 1 and folded[0] not in opened and folded[1] in opened
    members = [n.id for n in t.graph.nodes if n.op in ("arange", "remainder", "eq")][:3]
    assert set(members) <= set(opened)
    # its members sit in a cluster of its own, inside the module's; its label folds it again
    cluster = f'g.cluster[data-cluster="{folded[0]}"]'
    n = layouts(page)
    page.click(f"{cluster} > text")
    ready(page, after=n)
    assert int(page.get_attribute(ROOT, "data-boxes")) == before
    assert page.eval_on_selector_all("g[data-id]", "els => els.map(e => e.getAttribute('data-id'))") == boxes
    assert w.errors == []
