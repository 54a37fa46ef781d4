"""DOT text (golden, escaping, options) and the real ``dot`` binary for SVG/PNG/PDF."""

from __future__ import annotations

import html
import re
import subprocess

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.errors import ExecutableNotFound
from graphviz_ad.model.values import Value
from graphviz_ad.render.dot import _tooltip_text
from graphviz_ad.render.format import _preview, clean_text, fmt_value, fmt_value_full, fmt_value_texts
from graphviz_ad.render.quoting import _html_general, _quote_general, html_text, quote
from tests.helpers import leaves, needs_dot, nested_f


def test_nested_dot_matches_golden(nested_trace, golden):
    golden("nested.dot", nested_trace.to_dot())


def test_nested_dot_dark_lr_matches_golden(nested_trace, golden):
    golden("nested_dark_lr.dot", nested_trace.to_dot(theme="dark", rankdir="LR", legend=False))


def test_dot_is_deterministic_across_traces():
    a = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward().to_dot()
    b = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward().to_dot()
    assert a == b


def test_forward_only_dot_has_no_gradients():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    dot = t.to_dot()
    assert "∇" not in dot.replace("∇ gradient", "")
    assert "0.96595" in dot


def test_options_are_checked():
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="unknown theme"):
        t.to_dot(theme="neon")
    with pytest.raises(ValueError, match="rankdir"):
        t.to_dot(rankdir="XY")
    with pytest.raises(TypeError, match="unknown render option"):
        t.to_dot(colour="red")
    assert "rankdir=LR" in t.to_dot(rankdir="lr")


@pytest.mark.parametrize("text, expected", [
    ('a"b', '"a\\"b"'), ("back\\slash", '"back\\\\slash"'), ("two\nlines", '"two\\nlines"'),
    ("{braces}", '"{braces}"'), ("ünïcødé ∂", '"ünïcødé ∂"'),
])
def test_quote(text, expected):
    assert quote(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"), ("a & b", "a &amp; b"), ('"q"', "&quot;q&quot;"),
    ("new\nline", "new line"), ("😀", "&#128512;"),
])
def test_html_text(text, expected):
    assert html_text(text) == expected


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("data, digits, max_items, expected", [
    ([[1.0, 2.0], [3.0, 4.0]], 5, 3, "[[1, 2], [3, …]]"),
    ([[1.0, 2.0, 3.0, 4.0, 5.0]], 5, 4, "[[1, 2, 3, 4, …]]"),
    ([[[0.5, -0.0]]], 5, 4, "[[[0.5, 0]]]"),
    ([[]], 5, 4, "[[]]"),
    ([], 5, 4, "[]"),
    ([1, [2.0]], 5, 4, "[1, [2.0]]"),  # a flat list: later items as they are
    ([[1.0], 2, True], 5, 4, "[[1], 2, True]"),
    ([[1.0, 2.0, 3.0, 4.0], [5.0]], 5, 4, "[[1, 2, 3, 4], […]]"),
    ([NAN, -INF, 1e-05, 123456.0, -0.0], 4, 4, "[nan, -inf, 1e-05, 1.235e+05, …]"),
    ([[-0.0, 0.25, 1e20]], 9, 16, "[[0, 0.25, 1e+20]]"),
    ([[1 + 2j, 3]], 5, 4, "[[1+2j, 3]]"),
])
def test_preview_elides_and_keeps_brackets_balanced(data, digits, max_items, expected):
    assert _preview(data, digits, max_items) == expected


def _values() -> list[Value]:
    rows = [[0.5, -0.0, 1e-07, -2.5, NAN, INF, 3.0, 0.0, -1.0, 7.25, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0]]
    return [Value(shape=(1, len(rows[0])), dtype="float32", device="cpu", data=rows),
            Value(shape=(3,), dtype="float32", device="cpu", data=[1.5, -0.0, 2.0]),
            Value(shape=(2, 2), dtype="float32", device="cpu", data=[[1.0, 2.0], [3.0, -0.0]]),
            Value(shape=(1, 1, 2), dtype="float32", device="cuda:0", data=[[[1.0, 2.0]]]),
            Value(shape=(5,), dtype="int64", device="cpu", data=[1, 2, 10**12, True, 4]),
            Value(shape=(2,), dtype="complex64", device="cpu", data=[1 + 2j, -0.5j]),
            Value(shape=(), dtype="float32", device="cpu", data=0.123456789),
            Value(shape=(1, 1), dtype="float32", device="cpu", data=[[2.0]]),
            Value(shape=(0,), dtype="float32", device="cpu", data=[]),
            Value(shape=(100,), dtype="float32", device="cpu",
                  stats={"min": -1.0, "max": INF, "mean": 0.25, "norm": 12.5}),
            Value(shape=(4,), dtype="float32", device="meta")]


@pytest.mark.parametrize("digits", [3, 4, 5, 9])
def test_value_texts_are_the_label_and_tooltip_texts(digits):
    for v in _values() + [None]:
        assert fmt_value_texts(v, digits) == (fmt_value(v, digits), fmt_value_full(v))


@pytest.mark.parametrize("text", ['say "hi"', "back\\slash", "a\nb\nc", "[1, 2]", "x < y & z", "tab\there", "😀",
                                  "\x01\x7f", "cr\r\nlf", "plain", "", "…×∇"])
def test_escaping_shortcuts_agree_with_quoting(text):
    assert html_text(text) == _html_general(text)
    assert quote(text) == _quote_general(text)
    parts = [text, "value: [1, 2]", "grad: " + "9, " * 700]
    for n in (1, 2, 3):
        expected = quote(clean_text("\n".join(parts[:n]), 2000).replace("\\n", "\n"))
        assert _tooltip_text(parts[:n]) == expected


HOSTILE = ['say "hi"', "back\\slash\\", "{b}", "<i>&amp;</i>", "two\nlines", "ünï ∂ 中文 \u202etxt", "]]>", "%s{0}"]


@needs_dot
def test_hostile_labels_keep_the_dot_valid_and_svg_text(tmp_path):
    xs = [torch.tensor(float(i + 1), requires_grad=True) for i in range(len(HOSTILE))]

    def f(*args):
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total

    t = gad.trace_call(f, tuple(xs), input_names=HOSTILE).backward()
    dot = t.to_dot()
    # Graphviz parses it, and finds exactly the intended nodes (plus the legend)
    canon = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, check=True).stdout.decode()
    ids = set(re.findall(r"^\t(n\d+|legend)\s+\[", canon, flags=re.M))
    assert ids == {n.id for n in t.nodes} | {"legend"}
    svg = t.to_svg()
    assert "<i>" not in svg and "<script" not in svg
    assert "&lt;i&gt;&amp;amp;&lt;/i&gt;" in svg
    assert "say &quot;hi&quot;" in svg or 'say "hi"' in svg


@needs_dot
def test_svg_carries_every_number_at_full_precision_in_tooltips(nested_trace):
    svg = html.unescape(nested_trace.to_svg())
    for n in nested_trace.nodes:
        if n.kind == "const":
            continue
        assert f"value: {n.value.scalar():.9g}" in svg
        assert f"grad: {n.grad.scalar():.9g}" in svg
    assert "0.96595" in svg and "∇ 0.058131" in svg
    assert 'id="n0"' in svg and 'class="node gad-node gad-input"' in svg


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".dot", b"digraph"), (".json", b"{")])
def test_render_formats_from_suffix_and_deterministic(nested_trace, tmp_path, suffix, magic):
    a = nested_trace.render(tmp_path / f"a{suffix}")
    b = nested_trace.render(tmp_path / f"b{suffix}")
    assert a.read_bytes().startswith(magic)
    assert a.read_bytes() == b.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_suffix_is_refused(nested_trace, tmp_path):
    with pytest.raises(ValueError, match="output format"):
        nested_trace.render(tmp_path / "f.jpeg")
    assert list(tmp_path.iterdir()) == []


def test_missing_dot_binary_is_one_named_error(nested_trace, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", "dot-that-does-not-exist")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExecutableNotFound, match="apt-get install graphviz"):
        nested_trace.to_svg()
    with pytest.raises(ExecutableNotFound):
        nested_trace.render(tmp_path / "f.svg")
    assert not (tmp_path / "f.svg").exists()
    assert nested_trace.to_dot().startswith("digraph")
    nested_trace.render(tmp_path / "f.json")
    assert (tmp_path / "f.json").exists()


_EDGE_LABEL = re.compile(r'<g id="a_(e\d+)&#45;label"><a xlink:title="([^"]*)">\s*<text[^>]*>([^<]*)</text>')


def _fan_out(x, y):
    """x and y each feed two ops (their edges carry parts of a sum); the rest pass on one gradient."""
    a = x * y
    b = torch.sin(x)
    c = a + b
    return c * y


_EDGE_DOT = re.compile(r'  (n\d+) -> (n\d+) \[id="(e\d+)"[^\n]*')
_EDGE_TEXT = re.compile(r'label=<<FONT[^>]*>([^<]*)</FONT>>')


@needs_dot
def test_big_graphs_label_only_the_gradients_no_box_shows(monkeypatch):
    """Past EXTERNAL_LABELS_FROM labelled edges, edge labels are xlabels (dot ranks a label like a
    node: layout time explodes), and only where they tell something new: an edge leaving a box with
    several consumers carries one part of its gradient; a box's only consumer gets the box's own
    gradient, already shown in the box. The SVG keeps the same texts and tooltips for the labels that
    stay, so frames still restyle them."""
    from graphviz_ad.render import dot as dot_module

    t = gad.trace(_fan_out, *leaves(0.5, 1.5)).backward()
    small = t.to_dot()
    inline_svg, inline_final = t.to_svg(), t.stepper().frame(-1)
    assert "xlabel" not in small
    labelled_small = {m.group(3): m.group(0) for m in _EDGE_DOT.finditer(small) if "label=<" in m.group(0)}
    assert len(labelled_small) == 7  # x->mul, x->sin, y->mul, y->mul_1, mul->add, sin->add, add->mul_1
    sources = [m.group(1) for m in _EDGE_DOT.finditer(small) if m.group(3) in labelled_small]
    fan_out = {e for e, src in zip(labelled_small, sources) if sources.count(src) > 1}
    assert len(fan_out) == 4

    monkeypatch.setattr(dot_module, "EXTERNAL_LABELS_FROM", 3)
    big = t.to_dot()
    edges = {m.group(3): m.group(0) for m in _EDGE_DOT.finditer(big)}
    for eid, line in labelled_small.items():
        if eid in fan_out:
            assert edges[eid] == line.replace(", label=<<FONT", ", xlabel=<<FONT")
        else:  # no label, and the source box shows that gradient already
            assert "label" not in edges[eid]
            text = _EDGE_TEXT.search(line).group(1)
            src = re.match(r"  (n\d+)", line).group(1)
            assert f"∇ {text}<" in re.search(rf"\n  {src} \[[^\n]*", big).group(0)
    assert big.count("xlabel=") == 4
    kept = sorted(m for m in _EDGE_LABEL.findall(inline_svg) if m[0] in fan_out)
    assert len(kept) == 4
    assert sorted(_EDGE_LABEL.findall(t.to_svg())) == kept
    final = t.stepper().frame(-1)
    assert sorted(_EDGE_LABEL.findall(final)) == sorted(m for m in _EDGE_LABEL.findall(inline_final) if m[0] in fan_out)


def test_an_output_that_feeds_on_keeps_its_edge_label(monkeypatch):
    """An output's gradient adds the seed to what flows back into it: its one outgoing edge carries
    another number than its box, so that edge stays labelled in big graphs too."""
    from graphviz_ad.render import dot as dot_module

    def two(x):
        s = torch.sin(x)
        return s, s * 3

    t = gad.trace(two, *leaves(0.5)).backward(gradient=[torch.tensor(1.0, dtype=torch.float64)] * 2)
    monkeypatch.setattr(dot_module, "EXTERNAL_LABELS_FROM", 1)
    big = t.to_dot()
    s_id = re.search(r"\n  (n\d+) \[[^\n]*<B>s</B>", big).group(1)
    s_edges = [m.group(0) for m in _EDGE_DOT.finditer(big) if m.group(1) == s_id]
    assert len(s_edges) == 1 and 'xlabel=<<FONT COLOR="#AA3377" POINT-SIZE="9">3<' in s_edges[0]  # s's box: ∇ 4
    assert "∇ 4<" in re.search(rf"\n  {s_id} \[[^\n]*", big).group(0)

def test_a_mean_that_is_only_rounding_noise_reads_as_zero():
    """A layer norm's output has mean 0 in exact arithmetic; float32 leaves ±1e-9 of noise that changes sign
    between CPUs. Labels, tooltips and JSON show it as zero; a real small mean, and a tiny exact value, stay."""
    torch.manual_seed(0)
    x = torch.randn(64, 256)
    t = gad.trace(lambda x: torch.nn.functional.layer_norm(x, (256,)) * 3 + 1e-3, x)
    norm = next(n for n in t.nodes if n.op == "layer_norm")
    st = norm.value.stats
    assert st["mean"] != 0 and abs(st["mean"]) < 1e-7  # the raw float32 sum left noise
    assert norm.value.mean_is_noise
    dot = t.to_dot()
    assert "mean ≈ 0" in dot
    assert f"mean {st['mean']:.4g}" not in dot
    out = next(n for n in t.nodes if n.kind == "output")
    assert not out.value.mean_is_noise  # 3·0 + 1e-3: a mean of 0.001 is real
    assert "mean 0.001 " in dot
    data = {n["id"]: n for n in t.to_json()["nodes"]}
    assert data[norm.id]["value"]["mean"] == 0.0 and data[out.id]["value"]["mean"] == pytest.approx(1e-3, rel=1e-3)
    zeros = gad.trace(lambda z: z * 2, torch.zeros(100)).nodes[-1].value
    assert not zeros.mean_is_noise  # all zeros: the mean really is 0
    tiny = gad.trace(lambda a: a * 1e-30, torch.full((100,), 3.0)).nodes[-1]
    assert not tiny.value.mean_is_noise and "3e-30" in gad.trace(lambda a: a * 1e-30, torch.full((100,), 3.0)).to_dot()
