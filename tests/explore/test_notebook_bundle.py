"""The explorer's notebook display without a browser: Graphviz in a kernel session's first output only
(again when that cell runs again or is deleted), the static picture for where no script runs, text."""

from __future__ import annotations

import base64
import html as html_lib
import re
import sys
import types

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.explore.notebook import SESSION, Session, notebook_bundle
from graphviz_ad.explore.page import viz_key
from tests.helpers import needs_dot

PICTURE = re.compile(r'<div class="gad-x-static-box" style="[^"]*"><img class="gad-x-static" alt="([^"]*)" '
                     r'style="[^"]*" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"></div>')


@pytest.fixture(scope="module")
def trace() -> gad.Trace:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
    return gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()


@pytest.fixture(autouse=True)
def fresh_session():
    SESSION.reset()
    yield
    SESSION.reset()


def carries(html: str) -> bool:
    return 'class="gad-x-viz"' in html


@pytest.fixture
def kernel(monkeypatch):
    """A stand-in for the IPython a kernel has loaded: ``request(cell, msg, deleted)`` sets the request
    the shell is answering, as ipykernel keeps it (``shell.parent_header``)."""
    shell = types.SimpleNamespace(parent_header={})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))

    def request(cell, msg, deleted=()):
        shell.parent_header = {"header": {"msg_id": msg}, "metadata": {"cellId": cell, "deletedCells": list(deleted)}}

    return request


@needs_dot
def test_a_trace_shows_its_explorer_with_the_static_picture_and_its_summary(trace):
    bundle = trace._repr_mimebundle_()
    assert list(bundle) == ["text/html", "image/svg+xml", "text/plain"]
    assert bundle["text/plain"] == repr(trace)
    assert bundle["image/svg+xml"] == trace.to_svg()
    html = bundle["text/html"]
    explorer = trace.explore()
    assert html == explorer.fragment(picture=PICTURE.search(html).group(0))  # the explorer, with its picture
    alt, data = PICTURE.search(html).groups()
    svg = trace.to_svg()
    assert base64.b64decode(data).decode("utf-8") == svg[svg.find("<svg"):]
    assert html_lib.unescape(alt) == repr(trace)
    assert f'data-viz="{viz_key()}"' in html and carries(html)
    assert not re.search(r'(?:src|href)="(?!data:)', html)  # nothing to fetch


@needs_dot
def test_only_the_sessions_first_explorer_carries_graphviz(trace):
    first, second = trace._repr_mimebundle_()["text/html"], trace.explore(depth=1)._repr_mimebundle_()["text/html"]
    assert carries(first) and not carries(second)
    assert f'data-viz="{viz_key()}"' in second  # it waits for the first's Graphviz under the same key
    assert len(second) < 0.2 * len(first)
    viz = re.search(r'<script type="application/octet-stream" class="gad-x-viz"[^>]*>[^<]*</script>\n', first)
    assert viz and trace._repr_mimebundle_()["text/html"] == first.replace(viz.group(0), "")  # nothing else differs
    SESSION.reset()  # a new session (a restarted kernel): its first output carries it again
    assert trace._repr_mimebundle_()["text/html"] == first


def test_a_bundle_without_html_does_not_take_the_carrier(trace):
    assert list(trace._repr_mimebundle_(include={"text/plain"})) == ["text/plain"]
    assert carries(trace._repr_mimebundle_(exclude={"image/svg+xml"})["text/html"])


def test_running_the_carrying_cell_again_or_deleting_it_carries_graphviz_again(trace, kernel):
    explorer = trace.explore(depth=1)

    def html():
        return notebook_bundle(explorer, "t", include={"text/html"})["text/html"]

    kernel("cell-a", "m1")
    assert carries(html())
    assert not carries(html())  # a second explorer in the same run of the same cell
    kernel("cell-b", "m2")
    assert not carries(html())
    kernel("cell-a", "m3")  # the carrier's cell again: its old output goes, the new one carries Graphviz
    assert carries(html())
    kernel("cell-b", "m4")
    assert not carries(html())
    kernel("cell-c", "m5", deleted=["cell-a"])  # the carrier's cell was deleted
    assert carries(html())
    kernel(None, "m6")  # a client that names no cell (nbclient): the first output only
    assert not carries(html())


def test_every_output_carries_graphviz_in_colab(trace, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    session = Session()
    assert all(carries(notebook_bundle(trace.explore(), "t", include={"text/html"}, session=session)["text/html"])
               for _ in range(2))


def test_without_dot_the_explorer_still_shows_and_the_text_says_what_is_missing(trace, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", str(tmp_path / "no-such-dot"))
    bundle = trace._repr_mimebundle_()
    assert list(bundle) == ["text/html", "text/plain"]
    assert 'class="gad-explorer"' in bundle["text/html"] and "gad-x-static" not in bundle["text/html"]
    summary, hint = bundle["text/plain"].split("\n")
    assert summary == repr(trace)
    assert hint.startswith("(no static picture: Graphviz's") and "Install Graphviz" in hint


@needs_dot
def test_under_a_sanitizer_the_picture_and_the_how_to_line_stay(trace):
    """JupyterLab sanitizes untrusted output (no script, style or SVG tags)."""
    bleach = pytest.importorskip("bleach")
    html = trace._repr_mimebundle_()["text/html"]
    clean = bleach.clean(html, tags={"div", "p", "img", "span", "button", "input", "label", "ol"}, strip=True,
                         attributes={"*": ["class", "id"], "img": ["src", "alt"]}, protocols={"data", "http", "https"})
    assert "<script" not in clean and "<svg" not in clean and "<style" not in clean
    assert re.search(r'<img class="gad-x-static"[^>]* src="data:image/svg\+xml;base64,', clean)
    assert "run the cell, or trust the notebook" in clean  # the first line, above the hidden controls
    assert clean.index('class="gad-x-stale"') < clean.index('class="gad-x-controls"')
    hidden = re.findall(r'<div class="gad-x-(?:controls|side)" id=[^>]*>', html)
    assert len(hidden) == 2 and all('style="display:none"' in h for h in hidden)


def test_a_page_of_its_own_has_neither_the_note_nor_hidden_controls(trace):
    page = trace.explore().to_html()
    assert 'class="gad-x-stale"' not in page and 'data-gad-live="1"' not in page and 'class="gad-x-static' not in page


@needs_dot
def test_an_explorers_own_display_is_the_same_with_its_own_summary(trace):
    e = trace.explore(depth=1)
    bundle = e._repr_mimebundle_()
    assert list(bundle) == ["text/html", "image/svg+xml", "text/plain"]
    assert bundle["text/plain"] == repr(e) and bundle["image/svg+xml"] == trace.to_svg(depth=1)
    assert carries(bundle["text/html"])
    assert e.to_html().count('class="gad-x-viz"') == 1 and e.fragment().count('class="gad-x-viz"') == 1
