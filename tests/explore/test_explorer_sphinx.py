"""The explorer in a Sphinx HTML build (``:explore:``) works in the built page, in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_support import Watched, launch_browser
from tests.explore.test_explorer_browser import layouts, local_requests, ready
from tests.test_sphinx import build, project

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INDEX = """\
Explorer
========

.. autograd-graph:: models/tiny.py:build
   :input: 4x2
   :target: 4x1
   :loss: mse
   :depth: 1
   :explore:
"""


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


def test_sphinx_explore_option_puts_a_working_explorer_in_the_page(browser, tmp_path: Path):
    status, out, warnings = build(tmp_path, project(tmp_path, INDEX))
    assert status == 0, warnings
    w = Watched(browser)
    w.open(out / "index.html")
    ready(w.page)
    page = w.page
    modules = page.eval_on_selector_all("g[data-module]", "els => els.map(e => e.getAttribute('data-module'))")
    assert modules == ["0", "1", "2"]
    before = page.eval_on_selector_all("g[data-id]", "els => els.length")
    n = layouts(page)
    page.click('g[data-module="0"]')
    ready(page, after=n)
    assert page.eval_on_selector_all("g[data-id]", "els => els.length") > before
    assert w.errors == [] and local_requests(w) == []


TWO = INDEX + """
A second one, sharing the first one's Graphviz:

.. autograd-graph:: tanh(x*y)
   :at: x=0.5, y=2
   :explore:
"""


def test_explorers_on_one_sphinx_page_share_one_graphviz_and_stay_independent(browser, tmp_path: Path):
    status, out, warnings = build(tmp_path, project(tmp_path, TWO))
    assert status == 0, warnings
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.count('class="gad-explorer"') == 2
    assert html.count('class="gad-x-viz"') == 1  # 0.64 MB once per page, not once per explorer
    w = Watched(browser)
    w.open(out / "index.html")
    page = w.page
    page.wait_for_function("() => [...document.querySelectorAll('.gad-explorer')]"
                           ".every(e => e.getAttribute('data-state') === 'ready')", timeout=30_000)
    roots = page.query_selector_all(".gad-explorer")
    counts = [r.eval_on_selector_all("g[data-id]", "els => els.length") for r in roots]
    roots[0].query_selector('g[data-module="0"]').click()
    page.wait_for_function("(n) => document.querySelectorAll('.gad-explorer')[0]"
                           ".querySelectorAll('g[data-id]').length > n", arg=counts[0], timeout=30_000)
    assert roots[1].eval_on_selector_all("g[data-id]", "els => els.length") == counts[1]
    assert w.errors == [] and local_requests(w) == []
