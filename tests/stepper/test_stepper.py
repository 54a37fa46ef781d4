"""Tests of the backward stepper: frames, one layout, the transcript, the standalone HTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import torch

import graphviz_ad as gad
import graphviz_ad.stepper.stepper as stepper_module
from graphviz_ad.errors import OutputError
from graphviz_ad.render.format import fmt_value
from graphviz_ad.render.theme import THEMES
from graphviz_ad.stepper.progress import Progress
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
    first = {}  # when a node's gradient is complete: the last step that sent it a part, or its own step
    for s in nested_trace.steps:
        first.setdefault(s.node, s.index)
    last_part: dict[str, int] = {}
    for s in nested_trace.steps:
        for c in s.contributions:
            if c.to is not None and c.value is not None and c.to != s.node:
                last_part[c.to] = max(last_part.get(c.to, -1), s.index)
    for nid, pos in last_part.items():
        first[nid] = min(first[nid], pos)
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
        assert f"[{k}]" in text and fmt(step.upstream) in text
        for loc, con in zip(step.local, step.contributions):
            if con.value is None:
                continue
            assert fmt(con.value) in text
            if loc.value is not None:  # a constant derivative shows its number once (∂d/∂mul = 1, not = 1 = 1)
                shown = loc.formula.removesuffix(f" = {fmt(loc.value)}")
                assert f"{shown} = {fmt(loc.value)}" in text and f"{shown} = {fmt(loc.value)} = " not in text
    mul = panel_text(stepper.frame(4))
    assert "MulBackward0 (mul = z*c)" in mul
    assert "0.0088097 × (∂mul/∂z = c = 2.1995) = 0.019377" in mul
    assert "z.grad = 0.019377" in panel_text(stepper.frame(5))


@needs_dot
def test_frames_rest_on_one_dot_run(nested_trace, monkeypatch, tmp_path):
    calls = []

    class Counting(stepper_module.DotProcess):
        def __init__(self, *args, **kwargs):
            calls.append(args[1] if len(args) > 1 else kwargs.get("fmt"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(stepper_module, "DotProcess", Counting)
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

def test_xml_text_escapes_markup_and_replaces_forbidden_characters():
    from graphviz_ad.stepper.panel import xml_text

    assert xml_text("x.grad = 0.5 → ∂f/∂x") == "x.grad = 0.5 → ∂f/∂x"  # nothing to change: returned as is
    assert xml_text("a<b & c>d") == "a&lt;b &amp; c&gt;d"
    assert xml_text("tab\tkept, newline\nand \x00 \x1f \ud800 \ufffe \uffff replaced") == (
        "tab\tkept, newline\ufffdand \ufffd \ufffd \ufffd \ufffd \ufffd replaced")
    assert xml_text("\x7f\x85\ufffd") == "\x7f\x85\ufffd"  # allowed in XML 1.0: kept


def _changes_replayed(p: Progress) -> list[dict[str, str]]:
    """Every frame's states rebuilt from Progress.changes (each change applied over the previous frame's)."""
    states: dict[str, str] = {}
    out = []
    for change in p.changes():
        if change.full:
            states = {}
        states.update(change.states)
        out.append(dict(states))
    return out


def test_progress_changes_equal_frames(nested_trace, make_training):
    t = make_training().trace
    cases = [Progress(nested_trace.graph, nested_trace.steps)]
    for depth in (None, 1, 0):  # collapsed boxes: one node drawn for several steps and parameters
        s = t.stepper(depth=depth)
        cases.append(s.progress)
    for p in cases:
        replayed = _changes_replayed(p)
        assert len(replayed) == p.frame_count
        for k, states in enumerate(replayed):
            frame = p.frame(k)
            assert states == {**frame.nodes, **frame.edges}, k
        assert [c.kind for c in p.changes()] == [p.frame(k).kind for k in range(p.frame_count)]


@needs_dot
def test_frames_in_order_equal_each_frame(nested_trace, make_training):
    """frames() rewrites only what changed from frame to frame; the result must be frame(k)'s."""
    t = make_training().trace
    for s in (nested_trace.stepper(), nested_trace.stepper(theme="dark", rankdir="LR"), t.stepper(),
              t.stepper(depth=1, grad_color=True)):
        assert s.frames() == [s.frame(k) for k in range(len(s))] == list(s.iter_frames())


def test_transcript_lines(nested_trace):
    lines = nested_trace.stepper().text().splitlines()
    assert len(lines) == len(nested_trace.steps)
    assert lines[3] == ("[4] MulBackward0 (mul = z*c): upstream 0.0088097 × ∂mul/∂z = c = 2.1995 → z: 0.019377; "
                        "× ∂mul/∂c = z = 3 → c: 0.026429 · ∇z complete (from step 4) · ∇c complete (from step 4)")
    assert lines[4] == "[5] z.grad = 0.019377"
    assert lines[9] == "[10] x.grad = 0.058131"
    assert lines[0].startswith("[1] TanhBackward0 (f = tanh(e)): upstream 1 × ∂f/∂e = 1 - tanh²(e) = 0.066941")


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
    assert f"[{leaf.index + 1}] x.grad = {parts} = {fmt(leaf.upstream)}" in t.stepper().text()
    assert f"[{leaf.index + 1}] x.grad = 1 + 3 = 4" in t.stepper().text()


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
    assert f"[{len(t.steps)}] {XSS}.grad = " in s.text()


@needs_dot
def test_repr_mimebundle(stepper):
    bundle = stepper._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/html"].startswith('<div class="gad-stepper')
    assert "<html" not in bundle["text/html"]
    assert "[5] z.grad = 0.019377" in bundle["text/plain"]
    assert set(stepper._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(stepper._repr_mimebundle_(exclude=["text/plain"])) == {"text/html"}


def test_repr_mimebundle_without_graphviz(nested_trace, monkeypatch):
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", "graphviz-ad-no-such-dot")
    bundle = nested_trace.stepper()._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    assert "[5] z.grad = 0.019377" in bundle["text/plain"] and "not found" in bundle["text/plain"]


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


# -- the optimizer step (a training iteration) -----------------------------------------

def classes_of(svg: str, kind: str) -> dict[str, list[str]]:
    return {nid: g.get("class").split() for nid, g in groups(svg, kind).items()}


def update_frame(t, j: int) -> int:
    return len(t.steps) + 2 + j


def test_stepper_without_update_has_no_update_frames(nested_trace):
    s = nested_trace.stepper()
    assert s.updates == [] and len(s) == len(nested_trace.steps) + 2
    assert s.progress.update_at == []
    assert repr(s) == "<graphviz_ad.Stepper: 12 frames (10 backward steps)>"


@needs_dot
def test_training_frame_count_and_one_layout(make_training, monkeypatch):
    calls = []

    class Counting(stepper_module.DotProcess):
        def __init__(self, *args, **kwargs):
            calls.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(stepper_module, "DotProcess", Counting)
    t = make_training().trace
    assert len(t.update.updates) == 4
    s = t.stepper()
    frames = s.frames()
    assert len(frames) == len(t.steps) + 2 + len(t.update.updates) == len(s) == 16
    assert calls == [1]
    assert repr(s) == "<graphviz_ad.Stepper: 16 frames (10 backward steps, 4 parameter updates)>"
    strip = lambda g: re.sub(r' (?:fill|stroke|stroke-width)="[^"]*"', "", g)  # noqa: E731
    first = [strip(g) for g in GEOMETRY.findall(frames[0])]
    for k, svg in enumerate(frames):
        root = ET.fromstring(svg.encode("utf-8"))
        assert root.get("data-step") == str(k)
        assert [strip(g) for g in GEOMETRY.findall(svg)] == first
    kinds = [ET.fromstring(svg.encode("utf-8")).get("class").split()[1] for svg in frames]
    assert kinds == ["gad-frame-forward"] + ["gad-frame-step"] * 10 + ["gad-frame-final"] + ["gad-frame-update"] * 4


@needs_dot
def test_update_frames_highlight_the_parameter(make_training):
    t = make_training().trace
    s = t.stepper()
    params = [u.node for u in t.update.updates]
    assert [t.node(p).label for p in params] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    grad = THEMES["light"].grad
    final = s.frame(len(t.steps) + 1)
    final_nodes = classes_of(final, "node")
    for j, u in enumerate(t.update.updates):
        svg = s.frame(update_frame(t, j))
        nodes = classes_of(svg, "node")
        assert [nid for nid, c in nodes.items() if "gad-current" in c] == [u.node]
        for i, other in enumerate(params):
            if i < j:
                assert "gad-done" in nodes[other], (j, i)
            elif i > j:
                assert "gad-pending" in nodes[other], (j, i)
        for nid, c in nodes.items():  # the rest of the graph as in the gradients frame
            if nid not in params:
                assert c == final_nodes[nid], nid
        for nid, g in groups(svg, "node").items():  # every gradient shows, also a waiting parameter's
            node = t.node(nid)
            assert grad_texts(g, grad) == ([f"∇ {fmt(node.grad)}"] if node.grad is not None else []), nid
        edges = classes_of(svg, "edge")
        assert edges == classes_of(final, "edge")
        assert not any("gad-edge-active" in c for c in edges.values())


@needs_dot
def test_update_panels_show_the_records_numbers(make_training):
    run = make_training(2)  # the second iteration: a momentum buffer exists before the step
    t = run.trace
    s = t.stepper()
    rule = "buf ← 0.9·buf + g;  p ← p − lr·buf   (lr=0.1; the first step sets buf ← g)"
    params = dict(run.model.named_parameters())
    for j, u in enumerate(t.update.updates):
        text = panel_text(s.frame(update_frame(t, j)))
        lines = text.splitlines()
        assert lines[0] == f"optimizer step (SGD): {u.name}   parameter {j + 1} of 4"
        assert lines[1] == f"old   {u.name} = {fmt(u.old)}"
        assert lines[2] == f"grad  {u.name}.grad = {fmt(u.grad)}"
        before, after = u.state_before["momentum_buffer"], u.state_after["momentum_buffer"]
        assert lines[3] == f"state momentum_buffer: {fmt(before)} → {fmt(after)}"
        assert lines[4] == f"rule  {rule}" == f"rule  {u.rule}"
        assert lines[5] == f"new   {u.name} = {fmt(u.new)}"
        # PyTorch is the oracle: the new value is the parameter after the step, the gradient its .grad
        assert fmt(u.new) == fmt(gad.trace(lambda v: v, params[u.name].detach()).nodes[0].value)
        assert fmt(u.grad) == fmt(gad.trace(lambda v: v, params[u.name].grad).nodes[0].value)
        assert fmt(after) == fmt(gad.trace(lambda v: v, run.optimizer.state[params[u.name]]["momentum_buffer"])
                                 .nodes[0].value)


@needs_dot
def test_update_panel_on_the_first_step_has_no_state_before(make_training):
    t = make_training().trace
    u = t.update.updates[3]
    assert u.name == "2.bias" and u.state_before == {}
    text = panel_text(t.stepper().frame(-1))
    assert f"state momentum_buffer: none → {fmt(u.grad)}" in text  # the first step sets buf ← g
    assert fmt(u.state_after["momentum_buffer"]) == fmt(u.grad)


@needs_dot
def test_phase_labels(make_training, nested_trace):
    t = make_training().trace
    s = t.stepper()
    loss = t.node(t.graph.outputs[0]).value
    n = len(t.steps)
    assert panel_text(s.frame(0)).splitlines() == [
        f"forward (loss = {fmt(loss)})",
        f"every value computed; the {n} backward steps follow, one per frame; then the optimizer updates 4 parameters"]
    assert panel_text(s.frame(1)).splitlines()[0].endswith("   backward step 1 of 10")
    assert panel_text(s.frame(n + 1)).splitlines()[0] == "gradients (after backward)   backward done in 10 steps"
    assert panel_text(s.frame(n + 2)).startswith("optimizer step (SGD): 0.weight")
    # a stepper without an optimizer step names the phases the same way, its output by its own name
    plain = nested_trace.stepper()
    f_value = nested_trace.node(nested_trace.graph.outputs[0]).value
    assert panel_text(plain.frame(0)).splitlines()[0] == f"forward (f = {fmt(f_value)})" == "forward (f = 0.96595)"
    assert panel_text(plain.frame(-1)).startswith("gradients (after backward)")


def test_dry_run_is_named(make_training):
    t = make_training(dry_run=True).trace
    s = t.stepper()
    assert s.titles["update"] == "optimizer step (SGD, dry run)"
    assert "optimizer step (SGD, dry run): buf ← 0.9·buf + g" in s.text()


def test_progress_update_states(make_training):
    t = make_training().trace
    params = [u.node for u in t.update.updates]
    p = Progress(t.graph, t.steps, None, params)
    n = len(t.steps)
    assert p.frame_count == n + 2 + 4 and p.final_frame == n + 1
    for j, nid in enumerate(params):
        state = p.frame(n + 2 + j)
        assert state.kind == "update" and state.update == j and state.current == nid and state.step is None
        assert [state.nodes[q] for q in params] == ["gad-done"] * j + ["gad-current"] + ["gad-pending"] * (3 - j)
        assert all(state.grad_visible(q) for q in params)
    with pytest.raises(IndexError, match="16 frames"):
        p.frame(n + 6)
    assert p.to_json()["update_at"] == params


def test_progress_update_states_in_collapsed_boxes(make_training):
    t = make_training().trace
    s = t.stepper(depth=1)  # each Linear is one box holding its weight and bias
    p = s.progress
    n = len(t.steps)
    boxes = p.update_at
    assert boxes[0] == boxes[1] != boxes[2] == boxes[3]
    assert all(b not in [x.id for x in t.nodes] for b in boxes)
    states = [p.frame(n + 2 + j) for j in range(4)]
    assert [st.current for st in states] == boxes
    assert states[0].nodes[boxes[2]] == states[1].nodes[boxes[2]] == "gad-pending"
    assert states[2].nodes[boxes[0]] == states[3].nodes[boxes[0]] == "gad-done"


def test_transcript_update_lines(make_training):
    t = make_training(2).trace
    lines = t.stepper().text().splitlines()
    n = len(t.steps)
    assert len(lines) == n + 1 + 4
    assert lines[n] == ("optimizer step (SGD): buf ← 0.9·buf + g;  p ← p − lr·buf   "
                        "(lr=0.1; the first step sets buf ← g)")
    for u, line in zip(t.update.updates, lines[n + 1:]):
        before, after = u.state_before["momentum_buffer"], u.state_after["momentum_buffer"]
        assert line == (f"[step] {u.name} = {fmt(u.old)} → {fmt(u.new)} | grad {fmt(u.grad)} | "
                        f"momentum_buffer {fmt(before)} → {fmt(after)}")
    u = t.update.updates[3]
    assert u.new.scalar() == pytest.approx(u.old.scalar() - 0.1 * u.state_after["momentum_buffer"].scalar())
    first = make_training(1).trace
    last = first.stepper().text().splitlines()[-1]
    g = fmt(first.update.updates[3].grad)
    assert last.startswith("[step] 2.bias = ") and last.endswith(f" | grad {g} | momentum_buffer none → {g}")


def test_transcript_rule_heads_each_param_group():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))
    opt = torch.optim.SGD([{"params": net[0].parameters()}, {"params": net[1].parameters(), "lr": 0.5}], lr=0.1)
    t = gad.trace(lambda: net(torch.ones(1, 1)).sum())
    t.backward(accumulate=True)
    t.optimizer_step(opt)
    lines = t.stepper().text().splitlines()[len(t.steps):]
    assert [line.split(" = ")[0] for line in lines] == [
        "optimizer step (SGD): p ← p − lr·g   (lr=0.1)", "[step] 0.weight", "[step] 0.bias",
        "optimizer step (SGD): p ← p − lr·g   (lr=0.5)", "[step] 1.weight", "[step] 1.bias"]


@needs_dot
def test_html_carries_the_updates(make_training):
    t = make_training(2).trace
    s = t.stepper()
    html = s.to_html()
    raw = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1)
    data = json.loads(raw)
    assert data["update_at"] == [u.node for u in t.update.updates]
    assert data["update_title"] == "optimizer step (SGD)"
    assert data["forward_title"] == f"forward (loss = {fmt(t.node(t.graph.outputs[0]).value)})"
    assert len(data["updates"]) == len(t.update.updates) == 4
    for d, u in zip(data["updates"], t.update.updates):
        assert (d["name"], d["node"], d["old"], d["grad"], d["new"], d["rule"]) == (
            u.name, u.node, fmt(u.old), fmt(u.grad), fmt(u.new), u.rule)
        assert d["state"] == [["momentum_buffer", fmt(u.state_before["momentum_buffer"]),
                               fmt(u.state_after["momentum_buffer"])]]
    assert re.search(r'class="gad-slider"[^>]* max="15"', html)
    assert html.count("<script") == 2


@needs_dot
def test_html_without_update_has_empty_update_data(stepper):
    raw = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', stepper.to_html(), re.S).group(1)
    data = json.loads(raw)
    assert data["updates"] == [] and data["update_at"] == []
    assert data["forward_title"] == "forward (f = 0.96595)"
    assert re.search(r'class="gad-slider"[^>]* max="11"', stepper.to_html())


@needs_dot
def test_markup_in_a_parameter_name_stays_text(hostile_training):
    t = hostile_training
    assert t.update.updates[0].name == XSS
    s = t.stepper()
    html = s.to_html()
    assert XSS not in html and html.count("<script") == 2
    raw = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S).group(1)
    assert "<" not in raw and json.loads(raw)["updates"][0]["name"] == XSS
    svg = s.frame(-1)
    ET.fromstring(svg.encode("utf-8"))
    assert "<script" not in svg and f"optimizer step (SGD): {XSS}" in panel_text(svg)
    assert f"[step] {XSS} = 0.5 → 0.3 | grad 2 | momentum_buffer none → 2" in s.text()
