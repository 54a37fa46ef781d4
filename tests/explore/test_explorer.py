"""The Explorer object without a browser: its bundle, same input same bytes, the page's policy, the assets shipped."""

from __future__ import annotations

import array
import base64
import configparser
import gzip
import json
import math
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


def blob(html: str) -> bytes:
    packed = re.search(r'class="gad-x-numbers" data-encoding="gzip-base64" id="[^"]+">([A-Za-z0-9+/=]*)</script>', html)
    assert packed
    return gzip.decompress(base64.b64decode(packed.group(1)))


def numbers(html: str, c: dict) -> list[float]:
    """The float32 numbers, and every int32 column of ``c`` (the page's columns) in place of its [offset, length]."""
    raw = blob(html)
    ints = array.array("i", raw)
    for group in ("nodes", "edges", "steps", "values"):
        for name, col in c[group].items():
            if name not in ("data", "packed", "bad", "metas"):
                c[group][name] = list(ints[col[0]:col[0] + col[1]])
    a, n = c["floats"]
    return list(array.array("f", raw[a * 4:(a + n) * 4]))


def _nested(flat: list[float], shape: list[int]):
    if not shape:
        return flat.pop(0)
    return [_nested(flat, shape[1:]) for _ in range(shape[0])]


def columns_as_json(c: dict, flat: list[float]) -> dict:
    """The page's columns as ``to_json``'s nodes, edges and steps (what explorer.js's ``objects`` makes)."""
    S, V = c["strings"], c["values"]
    data = list(V["data"])
    for k in V["packed"]:  # float32 numbers, exactly: non-finite ones as to_json writes them
        data[k] = _nested(flat, V["metas"][V["meta"][k]][0])
        data[k] = json.loads(json.dumps(data[k]).replace("NaN", '"nan"').replace("-Infinity", '"-inf"')
                             .replace("Infinity", '"inf"'))
    assert flat == []

    def val(i):
        return None if i == 0 else data[i - 1]

    def meta(i, col):
        return None if i == 0 else V["metas"][V["meta"][i - 1]][0 if col == "shape" else 1]

    N, E, T = c["nodes"], c["edges"], c["steps"]
    nodes = [{"id": S[N["id"][k]], "kind": c["kinds"][N["kind"][k]], "label": S[N["label"][k]], "op": S[N["op"][k]],
              "module": S[N["module"][k]], "shape": meta(N["value"][k], "shape"), "dtype": meta(N["value"][k], "dtype"),
              "value": val(N["value"][k]), "grad": val(N["grad"][k]),
              "cluster": None if N["cluster"][k] < 0 else c["clusters"]["id"][N["cluster"][k]],
              "args": S[N["args"][k]]} for k in range(len(N["id"]))]
    edges = [{"source": nodes[a]["id"], "target": nodes[b]["id"], "grad": val(g)}
             for a, b, g in zip(E["source"], E["target"], E["grad"])]
    steps, at, at_local = [], 0, 0
    for i in range(len(T["index"])):
        n, m = T["size"][i], T["localSize"][i]
        steps.append({"index": T["index"][i], "node": S[T["node"][i]], "grad_fn": S[T["grad_fn"][i]],
                      "upstream": val(T["upstream"][i]),
                      "local": [{"to": S[T["localTo"][j]], "formula": S[T["localFormula"][j]]}
                                for j in range(at_local, at_local + m)],
                      "contributions": [{"to": S[T["to"][j]], "value": val(T["value"][j])} for j in range(at, at + n)],
                      "leaf": bool(T["leaf"][i])})
        at, at_local = at + n, at_local + m
    return {"nodes": nodes, "edges": edges, "steps": steps}


def test_the_page_data_is_to_json_as_columns_and_opens_on_the_collapsed_view(trace):
    html = trace.explore(depth=1).to_html()
    data = page_data(html)
    full = trace.to_json()
    got = columns_as_json(data["graph"], numbers(html, data["graph"]))
    assert got["nodes"] == full["nodes"] and got["edges"] == full["edges"]
    for s in full["steps"]:  # what the page never reads stays out: the earlier steps' contributions again
        del s["incoming"]
        for loc in s["local"]:
            del loc["value"]
    assert got["steps"] == full["steps"]
    view, _ = resolve_view(trace.graph, 1)
    assert {"m" + c for c in data["closed"]} == {n.id for n in view.nodes if n.kind == "module" or n.id.startswith("m")}
    # made here: only the opening view's collapsed boxes (every other statement is composed in the page)
    lines = unpacked(html, "gad-x-dot").split("\n")
    assert data["made"] == [] and sorted(data["opened"]) == sorted(data["closed"]) and len(lines) == len(data["opened"])
    assert [x.split(" ", 1)[0] for x in lines] == ["m" + c for c in data["opened"]]
    assert all("tooltip=" not in x for x in lines)


def test_a_value_shared_by_a_node_its_step_and_an_edge_is_shipped_once(trace):
    html = trace.explore().to_html()
    data = page_data(html)["graph"]
    floats = numbers(html, data)
    used = [*data["nodes"]["value"], *data["nodes"]["grad"], *data["edges"]["grad"], *data["steps"]["upstream"],
            *data["steps"]["value"]]
    used = [v for v in used if v != 0]  # value 0: none
    assert len(set(used)) == len(data["values"]["data"]) < len(used)
    assert len(floats) == sum(math.prod(data["values"]["metas"][data["values"]["meta"][k]][0])
                                     for k in data["values"]["packed"]) > 0


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
