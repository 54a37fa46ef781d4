"""``2 * x`` and ``1 + z * c`` read in the source's order: torch hands both ``t + 1`` and ``1 + t`` to ``Tensor.add(t, 1)``,
so the recorder reads the order from the user's source (the instruction's column span, parsed with ``ast``); where
there is no source (an exec'd string) it keeps torch's order."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.explore.pieces import page_data
from graphviz_ad.stepper.stepinfo import op_expression
from tests.helpers import leaves, nested_f


def _expressions(t) -> dict[str, str]:
    return {n.label: op_expression(n, t.graph) for n in t.nodes if n.kind in ("op", "output")}


def test_a_scalar_on_the_left_reads_first():
    def f(x):
        a = 2 * x
        return a

    t = gad.trace(f, *leaves(1.5)).backward()
    assert _expressions(t) == {"a": "a = 2*x"}
    assert "a = 2*x" in t.stepper().text()


def test_the_lessons_nested_function_reads_d_equals_1_plus_z_c():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()  # examples/nested_function.py, as written there
    text = t.stepper().text()
    assert "AddBackward0 (d = 1 + z*c)" in text, text
    assert "MulBackward0 (a = 2*x)" in text, text
    assert "mul + 1" not in text and "z*c + 1" not in text
    # the numbers stay autograd's
    x, y, z = leaves(1.0, 2.0, 3.0)
    nested_f(x, y, z).backward()
    assert [t.node(n).grad.scalar() for n in "xyz"] == [x.grad.item(), y.grad.item(), z.grad.item()]


def test_a_scalar_on_the_right_keeps_its_place():
    def f(x):
        a = x * 2
        b = a + 1
        return b

    t = gad.trace(f, *leaves(1.5)).backward()
    assert _expressions(t) == {"a": "a = x*2", "b": "b = a + 1"}
    assert not any("reflected" in n.flags for n in t.nodes)


def test_tensors_on_both_sides_keep_the_sources_order():
    def f(w, x, b):
        y = w * x + b
        z = b + y
        return x * z

    t = gad.trace(f, *leaves(0.5, 2.0, -1.0)).backward()
    text = t.stepper().text()
    assert "(y = w*x + b)" in text and "(mul = w*x)" in text, text
    assert "(z = b + y)" in text and "(f = x*z)" in text, text
    assert not any("reflected" in n.flags for n in t.nodes)


def test_a_float_variable_on_the_left_reads_first():
    k = 0.5

    def f(x):
        y = k * x
        s = 3
        s += y  # an augmented assignment: 3 on the left as well
        return s * 1.0

    t = gad.trace(f, *leaves(4.0)).backward()
    exprs = _expressions(t)
    assert exprs["y"] == "y = 0.5*x"
    assert exprs["s"] == "s = 3 + y"
    assert exprs["f"] == "f = s*1"


def test_a_tensor_variable_named_on_the_left_is_not_swapped():
    def f(x):
        c = torch.tensor(3.0)  # a tensor constant: two tensors, torch's order is the source's
        return c * x + x * 2

    t = gad.trace(f, *leaves(1.0)).backward()
    assert "(f = c*x + x*2)" in t.stepper().text()
    assert not any("reflected" in n.flags for n in t.nodes)


def test_without_source_the_order_is_torchs():
    scope: dict = {"torch": torch}
    exec("def f(x):\n    a = 2 * x\n    return a\n", scope)  # no file: no positions to read
    t = gad.trace(scope["f"], *leaves(1.5)).backward()
    assert _expressions(t) == {"a": "a = x*2"}
    assert t.node("a").source is None


def test_reading_the_order_is_cached_per_code_offset():
    from graphviz_ad.trace import frames as fr

    def f(x):
        for _ in range(50):
            x = 2 * x
        return x

    t = gad.trace(f, *leaves(1.0))
    muls = [n for n in t.nodes if n.op == "mul"]
    assert len(muls) == 50 and all("reflected" in n.flags for n in muls)
    info = fr.code_info(f.__code__)
    assert len(info.operands) == 1  # one offset, parsed once


class _TwoLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.fc2 = torch.nn.Linear(4, 1)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(torch.tanh(h))


def test_each_op_carries_the_line_of_the_users_code_that_made_it():
    net = _TwoLayers()
    model = torch.nn.Sequential(torch.nn.Linear(1, 3))
    x = torch.randn(2, 1)

    def loss(x):
        return torch.nn.functional.mse_loss(net(model(x)), torch.zeros(2, 1))

    t = gad.trace(loss, x)
    by_module = {n.module: n.source for n in t.nodes if n.kind in ("op", "output") and n.module}
    assert by_module["fc1"] == "h = self.fc1(x)"
    assert by_module["fc2"] == "return self.fc2(torch.tanh(h))"
    # an op of a torch module called from the user's function: the line that called the model
    assert by_module["0"] == "return torch.nn.functional.mse_loss(net(model(x)), torch.zeros(2, 1))"
    tanh = next(n for n in t.nodes if n.op == "tanh")
    assert tanh.source == "return self.fc2(torch.tanh(h))"
    # and the explorer's details panel reads it
    from array import array

    page, _, blob = page_data(t.graph, t.steps, gad.RenderOptions())
    data, ints = page["graph"], array("i", blob)  # a column is [offset, length] of int32s in the blob
    at, n = data["nodes"]["source"]
    assert "h = self.fc1(x)" in [data["strings"][k] for k in ints[at:at + n]]


def test_a_long_source_line_is_cut():
    from graphviz_ad.trace.frames import SOURCE_LIMIT

    terms = " + ".join(["x * 0"] * 40)
    scope: dict = {"torch": torch}
    path = Path(__file__).with_name("_long_line_generated.py")  # linecache reads source from a file
    code = compile(f"def f(x):\n    return torch.sin(x) + {terms}\n", str(path), "exec")
    exec(code, scope)
    import linecache

    linecache.cache[str(path)] = (0, None, ["def f(x):\n", f"    return torch.sin(x) + {terms}\n"], str(path))
    try:
        t = gad.trace(scope["f"], *leaves(1.0))
    finally:
        linecache.cache.pop(str(path), None)
    sources = {n.source for n in t.nodes if n.kind in ("op", "output")}
    (line,) = sources
    assert len(line) == SOURCE_LIMIT and line.endswith("…") and line.startswith("return torch.sin(x) + x * 0")


@pytest.mark.browser
@pytest.mark.slow
def test_the_explorers_details_panel_shows_the_source_line_of_a_model_op(browser, tmp_path):
    from tests.browser_support import Watched

    torch.manual_seed(0)
    net = _TwoLayers()
    t = gad.trace(lambda x: net(x).sum(), torch.randn(2, 3)).backward()
    target = next(n for n in t.nodes if n.module == "fc1" and n.op == "linear")
    path = tmp_path / "page.html"
    t.explore(depth=None).save(path)
    w = Watched(browser)
    try:
        w.open(path)
        page = w.page
        page.wait_for_function("() => { const e = document.querySelector('.gad-explorer');"
                               " return e && e.getAttribute('data-state') === 'ready'; }", timeout=30000)
        page.fill(".gad-x-search", target.id)
        page.click(f'.gad-x-result[data-target="{target.id}"]')
        page.wait_for_function("() => { const e = document.querySelector('.gad-x-panel [data-field=\"source\"]');"
                               " return e && e.textContent.length > 0; }", timeout=30000)
        assert page.text_content('.gad-x-panel [data-field="source"]') == "h = self.fc1(x)"
        assert w.errors == []
    finally:
        w.page.close()


@pytest.mark.notebook
@pytest.mark.slow
def test_a_notebook_cell_reads_in_the_source_order(tmp_path, monkeypatch):
    """In a real ipykernel the cell's source is IPython's (linecache), so ``1 + z * c`` reads in its order."""
    import json
    import sys

    nbclient = pytest.importorskip("nbclient", reason="needs: pip install nbclient")
    nbformat = pytest.importorskip("nbformat", reason="needs: pip install nbformat")
    pytest.importorskip("ipykernel", reason="needs: pip install ipykernel")
    root = Path(__file__).resolve().parents[2]
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(root)}}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    cell = ("import torch, graphviz_ad as gad\n"
            "def f(x, z, c):\n"
            "    a = 2 * x\n"
            "    d = 1 + z * c\n"
            "    return a * d\n"
            "t = gad.trace(f, *[torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0)]).backward()\n"
            "print(t.stepper().text())\n"
            "print(t.node('d').source)\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    assert "AddBackward0 (d = 1 + z*c)" in text and "MulBackward0 (a = 2*x)" in text, text
    assert text.rstrip().endswith("d = 1 + z * c")
