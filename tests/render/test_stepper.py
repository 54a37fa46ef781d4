"""Tests of the backward stepper: frames, one layout, the transcript, the standalone HTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import torch

import graphviz_ad as gad
import graphviz_ad.render.stepper as stepper_module
from graphviz_ad.errors import OutputError
from graphviz_ad.render.format import fmt_value
from graphviz_ad.render.progress import Progress
from graphviz_ad.render.theme import THEMES
from tests.helpers import f, needs_dot

__all__: list[str] = []

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"
GEOMETRY = re.compile(r"<(?:polygon|polyline|ellipse|path)\b[^>]*?(?:points|d|cx)=\"[^\"]*\"[^>]*>")
XSS = "<script>alert(1)</script>"


def fmt(v) -> str:
    return fmt_value(v, 5).replace("\n", "; ")


def groups(svg: str, kind: str) -> dict[str, ET.Element]:
    """The node (or edge) groups of a frame by id."""
    root = ET.fromstring(svg.encode("utf-8"))
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if f"gad-{kind}" in (g.get("class") or "").split()}


def grad_texts(group: ET.Element, color: str) -> list[str]:
    return [t.text or "" for t in group.iter(f"{SVG}text") if t.get("fill") == color.lower()]


def panel_text(svg: str) -> str:
    root = ET.fromstring(svg.encode("utf-8"))
    panel = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "gad-panel")
    return "\n".join("".join(t.itertext()) for t in panel.iter(f"{SVG}text"))


@pytest.fixture
def stepper(nested_trace):
    return nested_trace.stepper()


# -- frames -------------------------------------------------------------------

@needs_dot
def test_frame_count(stepper, nested_trace):
    frames = stepper.frames()
    assert len(frames) == len(nested_trace.steps) + 2 == len(stepper) == 12


@needs_dot
def test_frames_are_well_formed_svg(stepper):
    for k, svg in enumerate(stepper.frames()):
        root = ET.fromstring(svg.encode("utf-8"))
        assert root.tag == f"{SVG}svg"
        assert root.get("data-step") == str(k)


@needs_dot
def test_frames_share_one_layout(stepper):
    frames = stepper.frames()
    first = GEOMETRY.findall(frames[0])
    assert len(first) > 20
    for svg in frames[1:]:
        assert [re.sub(r' (?:fill|stroke|stroke-width)="[^"]*"', "", g) for g in GEOMETRY.findall(svg)] == \
            [re.sub(r' (?:fill|stroke|stroke-width)="[^"]*"', "", g) for g in first]
        assert re.search(r'viewBox="[^"]*"', svg).group(0) == re.search(r'viewBox="[^"]*"', frames[0]).group(0)


@needs_dot
def test_node_text_positions_do_not_move(stepper):
    frames = stepper.frames()
    def positions(svg):
        return {nid: [(t.get("x"), t.get("y"), t.text) for t in g.iter(f"{SVG}text") if t.get("fill") != "#aa3377"]
                for nid, g in groups(svg, "node").items()}
    assert all(positions(svg) == positions(frames[0]) for svg in frames[1:])


@needs_dot
def test_forward_frame_shows_no_gradient(stepper, nested_trace):
    svg = stepper.frame(0)
    grad = THEMES["light"].grad
    for nid, g in groups(svg, "node").items():
        assert grad_texts(g, grad) == [], nid
        assert all("grad:" not in (a.get(XLINK_TITLE) or "") for a in g.iter(f"{SVG}a"))
    for eid, g in groups(svg, "edge").items():
        assert grad_texts(g, grad) == [], eid
    for n in nested_trace.nodes:
        if n.grad is not None:
            assert f"∇ {fmt(n.grad)}" not in svg
    classes = " ".join(g.get("class") for g in {**groups(svg, "node"), **groups(svg, "edge")}.values())
    assert "gad-current" not in classes and "gad-pending" not in classes


@needs_dot
def test_final_frame_shows_every_gradient(stepper, nested_trace):
    svg = stepper.frame(-1)
    nodes = groups(svg, "node")
    for n in nested_trace.nodes:
        texts = grad_texts(nodes[n.id], THEMES["light"].grad)
        assert texts == ([f"∇ {fmt(n.grad)}"] if n.grad is not None else []), n.label
    assert all("gad-pending" not in g.get("class") for g in nodes.values())
    assert "x.grad = 0.058131" in panel_text(svg)


@needs_dot
def test_step_frames_highlight_the_step_and_hide_pending(stepper, nested_trace):
    grad = THEMES["light"].grad
    first = {}
    for s in nested_trace.steps:
        first.setdefault(s.node, s.index)
    for k, step in enumerate(nested_trace.steps, start=1):
        svg = stepper.frame(k)
        nodes = groups(svg, "node")
        current = [nid for nid, g in nodes.items() if "gad-current" in g.get("class").split()]
        assert current == [step.node]
        for nid, g in nodes.items():
            classes = g.get("class").split()
            if nid in first and first[nid] > step.index:
                assert "gad-pending" in classes and grad_texts(g, grad) == [], (k, nid)
            elif nid in first and nid != step.node:
                assert "gad-done" in classes and len(grad_texts(g, grad)) == 1, (k, nid)
        assert grad_texts(nodes[step.node], grad) == [f"∇ {fmt(step.upstream)}"]
        edges = groups(svg, "edge")
        active = {eid for eid, g in edges.items() if "gad-edge-active" in g.get("class").split()}
        touching = {f"e{i}" for i, e in enumerate(nested_trace.edges) if step.node in (e.source, e.target)}
        assert active == touching


@needs_dot
def test_step_panel_shows_the_chain_rule(stepper, nested_trace):
    for k, step in enumerate(nested_trace.steps, start=1):
        text = panel_text(stepper.frame(k))
        assert f"[{step.index}]" in text and fmt(step.upstream) in text
        for loc, con in zip(step.local, step.contributions):
            if con.value is None:
                continue
            assert fmt(con.value) in text
            if loc.value is not None:
                assert f"{loc.formula} = {fmt(loc.value)}" in text
    mul = panel_text(stepper.frame(4))
    assert "MulBackward0 (mul = z*c)" in mul
    assert "0.0088097 × (∂mul/∂z = c = 2.1995) = 0.019377" in mul
    assert "z.grad = 0.019377" in panel_text(stepper.frame(5))


@needs_dot
def test_frames_rest_on_one_dot_run(nested_trace, monkeypatch, tmp_path):
    calls = []
    real = stepper_module.run_dot

    def counting(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("fmt"))
        return real(*args, **kwargs)

    monkeypatch.setattr(stepper_module, "run_dot", counting)
    s = nested_trace.stepper()
    s.frames()
    s.frames()
    s.to_html()
    s.save(tmp_path / "frames")
    s._repr_mimebundle_()
    assert calls == ["svg"]
    nested_trace.stepper().frames()
    assert len(calls) == 2


@needs_dot
def test_frame_index_out_of_range(stepper):
    with pytest.raises(IndexError, match="12 frames"):
        stepper.frame(12)
    assert stepper.frame(-12) == stepper.frame(0)


@needs_dot
def test_dark_theme_frames(nested_trace):
    s = nested_trace.stepper(theme="dark")
    fwd, final = s.frame(0), s.frame(-1)
    grad = THEMES["dark"].grad
    assert ".gad-theme-dark .gad-pending" in fwd
    assert all(grad_texts(g, grad) == [] for g in groups(fwd, "node").values())
    with_grad = sum(1 for n in nested_trace.nodes if n.grad is not None)
    assert with_grad == 10  # x y z a b c mul d e f
    assert sum(len(grad_texts(g, grad)) for g in groups(final, "node").values()) == with_grad


@needs_dot
def test_layout_has_room_for_gradients_without_grads_option(nested_trace):
    plain = nested_trace.stepper(grads=False)
    assert GEOMETRY.findall(plain.frame(0)) == GEOMETRY.findall(nested_trace.stepper().frame(0))


# -- progress (no dot) ------------------------------------------------------------

def test_progress_states(nested_trace):
    p = Progress(nested_trace.graph, nested_trace.steps)
    ids = {n.label: n.id for n in nested_trace.nodes}
    assert p.frame_count == 12
    fwd = p.frame(0)
    assert fwd.kind == "forward" and not fwd.grad_visible(ids["f"])
    s3 = p.frame(4)  # step [3], the mul z*c
    assert s3.current == ids["mul"] and s3.nodes[ids["mul"]] == "gad-current"
    assert s3.nodes[ids["d"]] == "gad-done" and s3.nodes[ids["x"]] == "gad-pending"
    assert s3.nodes[ids["2"]] == "gad-static"
    assert s3.grad_visible(ids["d"]) and not s3.grad_visible(ids["x"])
    assert p.frame(11).kind == "final" and all(v in ("gad-done", "gad-static") for v in p.frame(11).nodes.values())
    with pytest.raises(IndexError):
        p.frame(12)


# -- transcript ---------------------------------------------------------------------

def test_transcript_lines(nested_trace):
    lines = nested_trace.stepper().text().splitlines()
    assert len(lines) == len(nested_trace.steps)
    assert lines[3] == ("[3] MulBackward0 (mul = z*c): upstream 0.0088097 × ∂mul/∂z = c = 2.1995 → z: 0.019377; "
                        "× ∂mul/∂c = z = 3 → c: 0.026429")
    assert lines[4] == "[4] z.grad = 0.019377"
    assert lines[9] == "[9] x.grad = 0.058131"
    assert lines[0].startswith("[0] TanhBackward0 (f = tanh(e)): upstream 1 × ∂f/∂e = 1 - tanh²(e) = 0.066941")


def test_transcript_numbers_are_autograds(nested_trace):
    x, y, z = (torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in (1.0, 2.0, 3.0))
    gx, gy, gz = torch.autograd.grad(f(x, y, z), (x, y, z))
    text = nested_trace.stepper().text()
    for name, g in (("x", gx), ("y", gy), ("z", gz)):
        assert f"{name}.grad = {fmt_value(gad.trace(lambda v: v, g).nodes[0].value)}" in text


def test_transcript_shows_sums():
    def f(x, y):
        p = x * y
        return p + x
    t = gad.trace(f, torch.tensor(2.0, requires_grad=True), torch.tensor(3.0, requires_grad=True)).backward()
    leaf = next(s for s in t.steps if s.leaf and t.node(s.node).label == "x")
    assert len(leaf.incoming) == 2
    parts = " + ".join(fmt(i.value) for i in leaf.incoming)
    assert f"[{leaf.index}] x.grad = {parts} = {fmt(leaf.upstream)}" in t.stepper().text()
    assert f"[{leaf.index}] x.grad = 1 + 3 = 4" in t.stepper().text()


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_custom_function_step_has_name_and_numbers():
    t = gad.trace(lambda x: Cube.apply(x) + 1, torch.tensor(2.0, requires_grad=True)).backward()
    line = next(line for line in t.stepper().text().splitlines() if "CubeBackward" in line)
    assert "upstream 1" in line and ": 12" in line


def test_transcript_without_steps_is_not_empty(nested_trace):
    nested_trace.steps = []
    assert nested_trace.stepper().text() == "(no backward steps)\n"


# -- HTML ---------------------------------------------------------------------------

@needs_dot
def test_html_is_self_contained(stepper):
    html = stepper.to_html()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(", html)
    assert html.count("<svg") == 1
    assert html.count("<script") == 2
    assert "Content-Security-Policy" in html


@needs_dot
def test_html_is_deterministic(make_nested):
    a, b = make_nested().stepper().to_html(), make_nested().stepper().to_html()
    assert a == b
    c = make_nested((1.0, 2.0, 4.0)).stepper().to_html()
    prefix = re.search(r'class="gad-stepper[^"]*" id="(gad-[0-9a-f]{12})"', a).group(1)
    assert prefix not in c


@needs_dot
def test_html_ids_are_prefixed(stepper):
    html = stepper.to_html()
    prefix = re.search(r'class="gad-stepper[^"]*" id="(gad-[0-9a-f]{12})"', html).group(1)
    ids = re.findall(r'\bid="([^"]*)"', html)
    assert len(ids) > 30
    assert all(i == prefix or i.startswith(prefix + "-") for i in ids)
    assert len(ids) == len(set(ids))


@needs_dot
def test_html_embeds_steps_as_json(stepper, nested_trace):
    html = stepper.to_html()
    raw = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1)
    data = json.loads(raw)
    assert [s["node"] for s in data["steps"]] == [s.node for s in nested_trace.steps]
    assert data["steps"][3]["upstream"] == "0.0088097"
    assert data["steps"][3]["terms"][0] == ["z", "∂mul/∂z = c", "2.1995", "0.019377"]


@needs_dot
def test_html_markup_in_labels_stays_text():
    t = gad.trace_call(lambda v: torch.sin(v) * 2, (torch.tensor(0.5, requires_grad=True),),
                       input_names=[XSS]).backward()
    s = t.stepper()
    html = s.to_html()
    assert XSS not in html and "<script>alert" not in html
    assert html.count("<script") == 2 and html.count("</script") == 2
    raw = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1)
    assert "</" not in raw and "<" not in raw
    assert any(XSS == step["label"] for step in json.loads(raw)["steps"])
    for svg in s.frames():
        ET.fromstring(svg.encode("utf-8"))
        assert "<script" not in svg
    assert f"[{len(t.steps) - 1}] {XSS}.grad = " in s.text()


@needs_dot
def test_repr_mimebundle(stepper):
    bundle = stepper._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/html"].startswith('<div class="gad-stepper')
    assert "<html" not in bundle["text/html"]
    assert "[4] z.grad = 0.019377" in bundle["text/plain"]
    assert set(stepper._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(stepper._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}


def test_repr_mimebundle_without_graphviz(nested_trace, monkeypatch):
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", "graphviz-ad-no-such-dot")
    bundle = nested_trace.stepper()._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert "[4] z.grad = 0.019377" in bundle["text/plain"] and "not found" in bundle["text/plain"]


# -- save ---------------------------------------------------------------------------

@needs_dot
def test_save_html_text_and_frames(stepper, tmp_path):
    assert stepper.save(tmp_path / "s.html").read_text(encoding="utf-8") == stepper.to_html()
    assert stepper.save(tmp_path / "s.txt").read_text(encoding="utf-8") == stepper.text()
    folder = stepper.save(tmp_path / "frames")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{k:03d}.svg" for k in range(12)]
    assert (folder / "frame_004.svg").read_text(encoding="utf-8") == stepper.frame(4)
    existing = tmp_path / "dir.with.dots"
    existing.mkdir()
    assert len(list(stepper.save(existing).iterdir())) == 12


@needs_dot
def test_save_refuses_unknown_suffix_and_missing_parent(stepper, tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        stepper.save(tmp_path / "s.svg")
    with pytest.raises(OutputError, match="does not exist"):
        stepper.save(tmp_path / "missing" / "frames")
