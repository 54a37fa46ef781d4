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
