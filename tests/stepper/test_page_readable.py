"""The stepper page is readable at any width: graph text never under ~10 px (the figure scrolls instead), the
panel in view at narrow widths. Measured in a real Chromium."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from tests.browser_support import Watched
from tests.helpers import f, leaves, needs_dot

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_dot]

SMALLEST_TEXT = """svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const sizes = [...svg.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')));
  return Math.min(...sizes) * scale;
}"""


def _wide_trace():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))
    return gad.trace(lambda x, y: nn.functional.mse_loss(net(x), y), torch.randn(2, 3), torch.randn(2, 1)).backward()


@pytest.mark.parametrize("width", [800, 1200, 1800])
@pytest.mark.parametrize("which", ["nested", "model"])
def test_graph_text_is_readable_and_the_panel_in_view(browser, tmp_path, width, which):
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward() if which == "nested" else _wide_trace()
    path = tmp_path / "s.html"
    t.stepper(rankdir="LR").save(path)
    w = Watched(browser, width=width)
    try:
        w.open(path)
        page = w.page
        smallest = page.eval_on_selector(".gad-stepper svg.gad-svg", SMALLEST_TEXT)
        assert smallest >= 10, (width, smallest)
        page.click(".gad-next")
        panel = page.eval_on_selector(".gad-panel", "e => e.getBoundingClientRect().toJSON()")
        assert panel["top"] < 900 and panel["bottom"] > 0, panel  # the chain rule is on screen
        assert w.errors == []
    finally:
        w.page.close()


def test_a_stale_stepper_says_how_to_make_it_live_and_a_live_one_does_not(browser, tmp_path):
    s = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward().stepper()
    live, stale = tmp_path / "live.html", tmp_path / "stale.html"
    live.write_text(s.to_html(), encoding="utf-8")
    html = s.to_html()
    start = html.index("<script>")
    stale.write_text(html[:start] + html[html.index("</script>", start) + 9:], encoding="utf-8")  # as untrusted
    w = Watched(browser)
    try:
        w.open(stale)
        assert "run the cell, or trust the notebook" in w.page.text_content(".gad-stale")
        w.open(live)
        assert w.page.query_selector(".gad-stale") is None and w.errors == []
    finally:
        w.page.close()
