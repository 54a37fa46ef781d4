"""Shared fixtures: the lesson's nested function, golden-file comparison with an explicit update option."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphviz_ad.recipes.figcheck import compare_text

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden instead of comparing with them")


from tests.browser_support import Watched, launch_browser
from tests.helpers import leaves, nested_f


@pytest.fixture
def nested_trace():
    import graphviz_ad as gad

    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    return t.backward()


@pytest.fixture
def golden(request: pytest.FixtureRequest, tmp_path: Path):
    """``golden(name, text)``: compare ``text`` with tests/golden/<name> (or rewrite it with --update-golden)."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(text, encoding="utf-8")
            return
        actual = tmp_path / name
        actual.write_text(text, encoding="utf-8")
        assert path.exists(), f"no golden file {path}; run pytest --update-golden to create it"
        expected = path.read_text(encoding="utf-8")
        # up to float32 rounding noise: another CPU's kernels change last bits, never the text around them
        why = compare_text(expected, text)
        assert why is None, f"{name} differs from the golden file: {why} (actual output in {actual}); " \
                            "if the change is intended, run pytest --update-golden"

    return check


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, through Playwright); skips with the reason when either is missing."""
    yield from launch_browser()


@pytest.fixture
def watched(browser):
    """A page recording console errors, dialogs and requests, closed after the test."""
    w = Watched(browser)
    yield w
    w.page.close()
