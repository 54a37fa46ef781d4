"""render.formats.graph_bytes is the one format dispatch: Trace.render and the CLI write exactly its bytes."""

from __future__ import annotations

import pytest

from graphviz_ad.model.export import dumps
from graphviz_ad.render.formats import GRAPH_FORMATS, graph_bytes
from graphviz_ad.render.options import RenderOptions
from tests.helpers import needs_dot


def test_dot_and_json_need_no_binary(nested_trace):
    t = nested_trace
    opts = RenderOptions(rankdir="LR")
    assert graph_bytes(t.graph, "dot", opts) == t.to_dot(opts)
    assert graph_bytes(t.graph, "json", opts, t.steps, t.update) == dumps(t.to_json())
    with pytest.raises(ValueError, match="unknown graph format 'gif'"):
        graph_bytes(t.graph, "gif")


@needs_dot
@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
def test_trace_render_writes_the_same_bytes(nested_trace, tmp_path, fmt):
    t = nested_trace
    data = graph_bytes(t.graph, fmt, None, t.steps, t.update)
    assert isinstance(data, bytes) == (fmt in ("png", "pdf"))
    written = t.render(tmp_path / f"f.{fmt}").read_bytes()
    assert written == (data.encode("utf-8") if isinstance(data, str) else data)
    if fmt == "svg":
        assert data == t.to_svg()
