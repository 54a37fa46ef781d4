"""The HTML stepper in a real headless Chromium: stepping, panel numbers, no network, no script injection."""

from __future__ import annotations

import re

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.stepper.progress import NODE_STATES as STATES
from tests.browser_support import check_update_panel, expected_terms, fmt, texts
from tests.helpers import needs_dot

__all__: list[str] = []

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_dot]

XSS = "<script>alert(1)</script>"
def node_states(page, root: str) -> dict[str, str]:
    return page.eval_on_selector_all(
        f"{root} g[data-node]",
        "els => Object.fromEntries(els.map(e => [e.getAttribute('data-node'), e.getAttribute('class')]))")


def frame_states(svg: str) -> dict[str, str]:
    """Node id -> state classes in a Python-built frame."""
    out = {}
    for nid, cls in re.findall(r'<g id="(n\d+)" class="([^"]*)"', svg):
        out[nid] = " ".join(c for c in cls.split() if c in STATES)
    return out


def check_frame(page, root: str, k: int, trace, stepper) -> None:
    steps = trace.steps
    assert page.get_attribute(root, "data-step") == str(k)
    current = page.eval_on_selector_all(f"{root} g.gad-node.gad-current",
                                        "els => els.map(e => e.getAttribute('data-node'))")
    dom = {nid: " ".join(c for c in cls.split() if c in STATES) for nid, cls in node_states(page, root).items()}
    assert dom == frame_states(stepper.frame(k)), k  # the script and the SVG frames agree
    if k == 0 or k == len(steps) + 1:
        assert current == []
        return
    step = steps[k - 1]
    assert current == [step.node]
    assert texts(page, root, "gad-panel-upstream") == [fmt(step.upstream)]
    terms = expected_terms(step)
    assert texts(page, root, "gad-panel-local") == [t[0] for t in terms]
    assert texts(page, root, "gad-panel-contrib") == [t[1] for t in terms]
    assert texts(page, root, "gad-panel-title")[0].startswith(f"[{k}] ")


def test_stepping_through_the_nested_function(watched, nested_trace, tmp_path):
    s = nested_trace.stepper()
    path = tmp_path / "steps.html"
    s.save(path)
    url = watched.open(path)
    page, root, last = watched.page, "div.gad-stepper", len(nested_trace.steps) + 1
    check_frame(page, root, 0, nested_trace, s)
    hidden = page.eval_on_selector_all(f"{root} .gad-grad", "els => els.map(e => getComputedStyle(e).visibility)")
    assert hidden and set(hidden) == {"hidden"}  # the forward frame shows no gradient
    page.keyboard.press("ArrowRight")  # nothing focused: the page's (only) stepper answers
    check_frame(page, root, 1, nested_trace, s)
    for k in range(2, last + 1):
        if k % 2:
            page.keyboard.press("ArrowRight")
        else:
            page.click(f"{root} .gad-next")
        check_frame(page, root, k, nested_trace, s)
    leafgrads = page.eval_on_selector_all(f"{root} .gad-panel-leafgrad", "els => els.map(e => e.textContent)")
    assert leafgrads == [f"{n}.grad = {fmt(nested_trace.node(n).grad)}" for n in ("x", "y", "z")]
    assert leafgrads[0] == "x.grad = 0.058131"
    assert page.is_disabled(f"{root} .gad-next")
    page.keyboard.press("ArrowRight")  # stays on the last frame
    check_frame(page, root, last, nested_trace, s)
    page.keyboard.press("ArrowLeft")
    check_frame(page, root, last - 1, nested_trace, s)
    page.click(f"{root} .gad-prev")
    check_frame(page, root, last - 2, nested_trace, s)
    page.fill(f"{root} .gad-slider", "4")
    check_frame(page, root, 4, nested_trace, s)
    assert texts(page, root, "gad-panel-formula") == ["∂mul/∂z = c", "∂mul/∂c = z"]
    page.keyboard.press("Home")  # focus is on the slider now: the slider's own keys move it
    assert page.get_attribute(root, "data-step") == "0"
    assert page.is_disabled(f"{root} .gad-prev")
    check_frame(page, root, 0, nested_trace, s)
    assert watched.errors == []
    assert watched.requests == [url]


def test_play_advances_and_pauses(watched, nested_trace, tmp_path):
    path = tmp_path / "play.html"
    nested_trace.stepper().save(path)
    watched.open(path)
    page = watched.page
    page.click(".gad-play")
    for _ in range(50):  # polled from here: the page's CSP forbids the eval behind wait_for_function
        if int(page.get_attribute(".gad-stepper", "data-step")) >= 2:
            break
        page.wait_for_timeout(100)
    assert int(page.get_attribute(".gad-stepper", "data-step")) >= 2
    page.click(".gad-play")
    stopped = page.get_attribute(".gad-stepper", "data-step")
    page.wait_for_timeout(1300)
    assert page.get_attribute(".gad-stepper", "data-step") == stopped
    assert page.get_attribute(".gad-play", "aria-pressed") == "false"
    assert watched.errors == []


def test_markup_in_a_label_stays_text(watched, tmp_path):
    t = gad.trace_call(lambda v: torch.sin(v) * 2, (torch.tensor(0.5, requires_grad=True),),
                       input_names=[XSS]).backward()
    path = tmp_path / "xss.html"
    t.stepper().save(path)
    url = watched.open(path)
    page = watched.page
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # the leaf step of the input
    assert page.text_content(".gad-panel-title") == f"[{len(t.steps)}] AccumulateGrad (leaf {XSS})"
    assert page.text_content(".gad-panel-leaf .gad-panel-to") == XSS
    assert page.eval_on_selector_all("script", "els => els.length") == 2
    svg_text = page.eval_on_selector_all("g[data-node] text", "els => els.map(e => e.textContent)")
    assert any(XSS in s for s in svg_text)
    assert watched.dialogs == [] and watched.errors == []
    assert watched.requests == [url]


def test_two_steppers_on_one_page_are_independent(watched, make_nested, tmp_path):
    a = make_nested().stepper()._repr_mimebundle_()["text/html"]
    b = make_nested((1.0, 2.0, 4.0)).stepper()._repr_mimebundle_()["text/html"]
    path = tmp_path / "two.html"
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{a}{b}</body></html>",
                    encoding="utf-8")
    watched.open(path)
    page = watched.page
    roots = page.eval_on_selector_all(".gad-stepper", "els => els.map(e => e.id)")
    assert len(roots) == 2 and roots[0] != roots[1]
    second = f"#{roots[1]}"
    page.click(f"{second} .gad-next")
    page.click(f"{second} .gad-next")
    page.keyboard.press("ArrowRight")  # focus is in the second stepper
    assert page.get_attribute(second, "data-step") == "3"
    assert page.get_attribute(f"#{roots[0]}", "data-step") == "0"
    assert page.eval_on_selector_all(f"#{roots[0]} .gad-current", "els => els.length") == 0
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))
    assert watched.errors == []


def grad_visibility(page, root: str) -> set[str]:
    return set(page.eval_on_selector_all(f"{root} .gad-grad", "els => els.map(e => getComputedStyle(e).visibility)"))


def test_stepping_through_a_training_iteration(watched, make_training, tmp_path):
    t = make_training(2).trace  # the second iteration: momentum buffers exist before the step
    s = t.stepper()
    path = tmp_path / "train.html"
    s.save(path)
    url = watched.open(path)
    page, root = watched.page, "div.gad-stepper"
    n, ups = len(t.steps), len(t.update.updates)
    last = n + 1 + ups
    assert page.get_attribute(f"{root} .gad-slider", "max") == str(last) == "15"
    assert texts(page, root, "gad-panel-title") == [f"forward (loss = {fmt(t.node(t.graph.outputs[0]).value)})"]
    assert texts(page, root, "gad-counter") == ["forward"]
    page.keyboard.press("ArrowRight")
    check_frame(page, root, 1, t, s)
    assert texts(page, root, "gad-counter") == [f"backward: step 1 of {n}"]
    page.fill(f"{root} .gad-slider", str(n + 1))
    assert texts(page, root, "gad-panel-title") == ["gradients (after backward)"]
    assert texts(page, root, "gad-counter") == ["gradients (after backward)"]
    assert not page.is_disabled(f"{root} .gad-next")  # the optimizer step follows
    for j in range(ups):
        if j % 2:
            page.click(f"{root} .gad-next")
        else:
            page.keyboard.press("ArrowRight")
        k = n + 2 + j
        check_update_panel(page, root, j, t)
        dom = {nid: " ".join(c for c in cls.split() if c in STATES) for nid, cls in node_states(page, root).items()}
        assert dom == frame_states(s.frame(k)), k  # the script and the SVG frames agree
        assert grad_visibility(page, root) == {"visible"}  # every gradient is known, a waiting parameter's too
        edges = page.eval_on_selector_all(f"{root} g[data-edge].gad-edge-active", "els => els.length")
        assert edges == 0
    assert page.is_disabled(f"{root} .gad-next")
    page.keyboard.press("ArrowRight")  # stays on the last frame
    check_update_panel(page, root, ups - 1, t)
    page.click(f"{root} .gad-prev")
    check_update_panel(page, root, ups - 2, t)
    page.keyboard.press("Home")
    assert page.get_attribute(root, "data-step") == "0"
    assert "gad-at-update" not in page.get_attribute(root, "class").split()
    assert grad_visibility(page, root) == {"hidden"}
    page.keyboard.press("End")
    check_update_panel(page, root, ups - 1, t)
    page.fill(f"{root} .gad-slider", str(n + 1))  # back to the gradients frame: no update styling left
    check_frame(page, root, n + 1, t, s)
    assert "gad-at-update" not in page.get_attribute(root, "class").split()
    assert page.eval_on_selector_all(f"{root} .gad-panel-old", "els => els.length") == 0
    assert watched.errors == []
    assert watched.requests == [url]


def test_update_panel_on_the_first_step(watched, make_training, tmp_path):
    t = make_training(1).trace
    path = tmp_path / "first.html"
    t.stepper().save(path)
    watched.open(path)
    page = watched.page
    page.keyboard.press("End")
    check_update_panel(watched.page, "div.gad-stepper", len(t.update.updates) - 1, t)
    assert texts(page, "div.gad-stepper", "gad-panel-before") == ["none"]  # no momentum buffer yet
    assert watched.errors == []


def test_markup_in_a_parameter_name_stays_text(watched, hostile_training, tmp_path):
    t = hostile_training
    path = tmp_path / "xss_param.html"
    t.stepper().save(path)
    url = watched.open(path)
    page = watched.page
    page.keyboard.press("End")
    check_update_panel(page, "div.gad-stepper", 0, t)
    assert page.text_content(".gad-panel-title") == f"optimizer step (SGD): {XSS}"
    assert page.eval_on_selector_all("script", "els => els.length") == 2
    assert watched.dialogs == [] and watched.errors == []
    assert watched.requests == [url]
