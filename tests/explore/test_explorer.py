"""The Explorer object without a browser: its bundle, same input same bytes, the page's policy, the assets shipped."""

from __future__ import annotations

import base64
import configparser
import gzip
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from graphviz_ad.explore.assets import VIZ_FILE, asset
from graphviz_ad.explore.page import CSP
from graphviz_ad.render.collapse import resolve_view

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trace() -> gad.Trace:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 3), nn.Tanh()), nn.Linear(3, 1))
    return gad.trace(lambda x: net(x).sum(), torch.randn(4, 2)).backward()


def unpacked(html: str, cls: str) -> str:
    packed = re.search(rf'class="{cls}" data-encoding="gzip-base64" id="[^"]+">([A-Za-z0-9+/=]+)</script>', html)
    assert packed
    return gzip.decompress(base64.b64decode(packed.group(1))).decode("utf-8")


def page_data(html: str) -> dict:
    return json.loads(unpacked(html, "gad-x-data"))


def test_the_page_is_the_same_bytes_for_the_same_trace_and_forbids_every_fetch(trace, tmp_path):
    e = trace.explore(depth=1)
    html = e.to_html()
    assert html == trace.explore(depth=1).to_html()
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert "default-src 'none'" in CSP and "connect-src" not in CSP
    assert e.save(tmp_path / "p.html").read_text(encoding="utf-8") == html


def test_the_page_data_is_to_json_and_opens_on_the_collapsed_view(trace):
    html = trace.explore(depth=1).to_html()
    data = page_data(html)
    full = trace.to_json()
    assert [n["id"] for n in data["graph"]["nodes"]] == [n["id"] for n in full["nodes"]]
    assert data["graph"]["nodes"] == full["nodes"] and data["graph"]["edges"] == full["edges"]
    assert [s["node"] for s in data["graph"]["steps"]] == [s["node"] for s in full["steps"]]
    view, _ = resolve_view(trace.graph, 1)
    assert {"m" + c for c in data["closed"]} == {n.id for n in view.nodes if n.kind == "module" or n.id.startswith("m")}
    lines = unpacked(html, "gad-x-dot").split("\n")
    assert len(lines) == len(full["nodes"]) + len(full["edges"]) + len(full["clusters"]) + len(data["modules"])
    assert [x.split(" ", 1)[0] for x in lines[:len(full["nodes"])]] == [n["id"] for n in full["nodes"]]
    assert all("tooltip=" not in x for x in lines)


def test_render_options_are_checked():
    t = gad.trace(lambda x: x * 2, torch.ones(1, requires_grad=True))
    with pytest.raises(TypeError, match="unknown render option"):
        t.explore(colour="red")
    assert t.explore().to_html().startswith("<!DOCTYPE html>")  # no backward: the forward explorer


def test_the_vendored_graphviz_and_its_licence_are_shipped():
    viz = asset(VIZ_FILE)
    assert viz.startswith("/*!\nViz.js 3.31.0") and "</script" not in viz.lower()
    licence = (ROOT / "graphviz_ad" / "explore" / "assets" / "VIZ_LICENSE").read_text(encoding="utf-8")
    assert "MIT" in licence and "Eclipse Public License" in licence
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    globs = cfg["options.package_data"]["*"]
    assert "*.js" in globs and "VIZ_LICENSE" in globs and "*.css" in globs
