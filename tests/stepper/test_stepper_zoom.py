"""Zoom and pan on the stepper page, as in the notebook graph view: − + Fit, Ctrl + wheel, drag, double-click,
the readable floor kept when fitted. Measured in a real Chromium at two widths."""

from __future__ import annotations

import pytest

from tests.browser_support import Watched
from tests.helpers import needs_dot

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_dot]

WIDTH = "e => e.getBoundingClientRect().width"


@pytest.mark.parametrize("width", [800, 1200])
def test_zoom_buttons_wheel_drag_and_fit(browser, nested_trace, tmp_path, width):
    path = tmp_path / "steps.html"
    path.write_text(nested_trace.stepper(rankdir="LR").to_html(), encoding="utf-8")
    w = Watched(browser, width=width)
    try:
        w.open(path)
        page, root = w.page, ".gad-stepper"
        svg = f"{root} svg.gad-svg"
        natural = float(page.get_attribute(svg, "width").removesuffix("pt")) * 4 / 3
        fitted = page.eval_on_selector(svg, WIDTH)
        assert fitted >= 0.85 * natural - 1  # the readable floor
        assert page.get_attribute(root, "data-gad-zoom") == "1"
        assert page.is_disabled(f"{root} .gad-zoom-fit") and page.is_disabled(f"{root} .gad-zoom-out")
        page.click(f"{root} .gad-zoom-in")
        assert page.get_attribute(root, "data-gad-zoom") == "1.5"
        assert page.eval_on_selector(svg, WIDTH) == pytest.approx(fitted * 1.5, rel=0.01)
        page.click(f"{root} .gad-zoom-in")
        zoomed = page.eval_on_selector(svg, WIDTH)
        assert zoomed == pytest.approx(fitted * 2.25, rel=0.01)
        page.click(f"{root} .gad-zoom-out")
        assert page.get_attribute(root, "data-gad-zoom") == "1.5"
        page.click(f"{root} .gad-zoom-fit")
        assert page.get_attribute(root, "data-gad-zoom") == "1"
        assert page.eval_on_selector(svg, WIDTH) == pytest.approx(fitted, abs=0.5)

        box = page.eval_on_selector(f"{root} .gad-view", "e => { const r = e.getBoundingClientRect(); "
                                    "return [r.x, r.y, r.width, r.height]; }")
        cx, cy = box[0] + min(box[2], fitted) / 2, box[1] + box[3] / 2
        page.mouse.move(cx, cy)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -200)  # Ctrl + wheel zooms in
        page.keyboard.up("Control")
        page.wait_for_timeout(50)
        assert float(page.get_attribute(root, "data-gad-zoom")) > 1
        page.click(f"{root} .gad-zoom-in")
        before = page.eval_on_selector(svg, "e => e.getBoundingClientRect().x")
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx - 50, cy, steps=4)
        page.mouse.up()
        assert page.eval_on_selector(svg, "e => e.getBoundingClientRect().x") == pytest.approx(before - 50, abs=1)
        page.keyboard.press("ArrowRight")  # the arrows still step while zoomed
        assert page.get_attribute(root, "data-step") == "1"
        page.dblclick(f"{root} .gad-view")
        assert page.get_attribute(root, "data-gad-zoom") == "1"
        assert page.eval_on_selector(svg, WIDTH) == pytest.approx(fitted, abs=0.5)
        assert w.errors == [] and w.requests == [path.as_uri()]
    finally:
        w.page.close()
