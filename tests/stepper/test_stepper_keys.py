"""The arrow keys step right after a click on a stepper's button, also where a click does not focus the button
(Safari, Firefox on macOS; a notebook that keeps focus elsewhere) and with several steppers on the page."""

from __future__ import annotations

import pytest

import graphviz_ad as gad
from tests.browser_support import check_panel
from tests.helpers import f, leaves, needs_dot

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_dot]

# what Safari does natively: a click on a button leaves the focus where it was
NO_FOCUS_ON_CLICK = ("document.addEventListener('mousedown', e => { if (e.target.closest('button')) "
                     "{ e.preventDefault(); } }, true)")


@pytest.mark.parametrize("focus_on_click", [True, False])
def test_click_next_then_arrow_right_steps_twice(watched, tmp_path, focus_on_click):
    a, b = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward(), gad.trace(f, *leaves(1.0, 2.0, 4.0)).backward()
    path = tmp_path / "two.html"
    path.write_text("<!DOCTYPE html><html><body>" + a.stepper().fragment() + b.stepper().fragment()
                    + "</body></html>", encoding="utf-8")
    watched.open(path)
    page = watched.page
    if not focus_on_click:
        page.evaluate(NO_FOCUS_ON_CLICK)
    first, second = (f"#{i}" for i in page.eval_on_selector_all(".gad-stepper", "els => els.map(e => e.id)"))
    page.click(f"{second} .gad-next")
    page.keyboard.press("ArrowRight")
    check_panel(page, second, 2, b)  # the clicked stepper stepped twice
    check_panel(page, first, 0, a)
    page.click(f"{second} .gad-prev")
    page.keyboard.press("ArrowLeft")
    check_panel(page, second, 0, b)
    assert watched.errors == []
