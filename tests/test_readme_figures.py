"""The committed README figures (docs/figures) are what examples/figures.toml builds today, up to float32
rounding noise (another CPU's kernels change last bits, never a label, node, edge, colour or layout), and
the check that says so keeps its teeth."""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from graphviz_ad.output.backend import run_dot
from graphviz_ad.recipes.figcheck import compare_folders, compare_text, nudge_floats
from graphviz_ad.recipes.figures import MANIFEST, check_figures, environment
from tests.helpers import needs_dot

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
TOML = ROOT / "examples" / "figures.toml"
FIX = "rebuild them with: python3 -m graphviz_ad figures examples/figures.toml (then commit docs/figures)"


def _same_environment() -> None:
    made_with = json.loads((FIGURES / MANIFEST).read_text(encoding="utf-8"))["environment"]
    here = environment()
    if here != made_with:  # other fonts, Graphviz or torch give another layout: nothing to compare with
        pytest.skip(f"docs/figures were made with {made_with}, this machine has {here}")


@pytest.mark.slow
@needs_dot
def test_readme_figures_are_up_to_date():
    _same_environment()
    notes: list[str] = []
    stale = check_figures(TOML, FIGURES, notes=notes)
    print("\n".join(notes))  # a figure made with another transformers release is not compared
    assert stale == [], "docs/figures is stale:\n" + "\n".join(stale) + f"\n{FIX}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = {p.name for p in FIGURES.iterdir()}
    missing = [ref for ref in _figure_refs(readme) if ref not in names]
    assert missing == [], f"the README shows figures that examples/figures.toml does not build: {missing}"


def _figure_refs(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"docs/figures/([\w.-]+)", text)]


@needs_dot
def test_the_cli_check_says_which_file_is_stale(tmp_path):
    toml = tmp_path / "figures.toml"
    toml.write_text('out = "out"\n[[figure]]\nname = "f"\nexpr = "tanh(x*y)"\nat = {x = 1, y = 2}\n'
                    'outputs = ["svg", "dot", "json"]\n', encoding="utf-8")
    run = CliRunner().invoke
    assert run(cli, ["figures", str(toml), "-q"]).exit_code == 0
    ok = run(cli, ["figures", str(toml), "--check"])
    assert ok.exit_code == 0 and "up to date" in ok.output
    dot = tmp_path / "out" / "f.dot"
    dot.write_text(dot.read_text(encoding="utf-8").replace("tanh", "Tanh"), encoding="utf-8")
    bad = run(cli, ["figures", str(toml), "--check"])
    assert bad.exit_code == 1
    assert "f.dot: text differs" in bad.output and "Tanh" in bad.output and "f.svg" not in bad.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST, "f.dot", "f.json", "f.svg"]


# -- the check itself, both ways ---------------------------------------------------------------------------

def _ulp_up(x: float) -> float:
    """The next float32 above x (x first rounded to float32)."""
    if x == 0 or not math.isfinite(x):
        return x
    bits = struct.unpack("<i", struct.pack("<f", x))[0]
    return struct.unpack("<f", struct.pack("<i", bits + 1))[0]


COMMITTED = sorted(p.name for p in FIGURES.iterdir() if p.suffix in (".dot", ".html"))


@pytest.mark.parametrize("name", COMMITTED)
def test_every_float_nudged_by_one_ulp_passes(name):
    text = (FIGURES / name).read_text(encoding="utf-8")
    nudged = nudge_floats(text, _ulp_up)
    assert nudged != text.replace("&#45;", "-")  # it did change numbers
    assert compare_text(text, nudged) is None


def test_a_changed_label_or_fifth_digit_fails():
    text = (FIGURES / "nested.dot").read_text(encoding="utf-8")
    assert "tanh" in text
    assert "text differs" in compare_text(text, text.replace("tanh", "tanH", 1))
    m = re.search(r"grad: (\d\.\d{9})|grad: (0\.0\d{9})", text)  # a tooltip's full-precision gradient
    assert m, "nested.dot has a tooltip with 9 significant digits"
    old = m.group(0).split(": ")[1]
    digits = [i for i, ch in enumerate(old) if ch.isdigit() and old[: i + 1].strip("0.")]  # significant digits
    fifth = digits[4]
    new = old[:fifth] + str((int(old[fifth]) + 1) % 10) + old[fifth + 1:]
    why = compare_text(text, text.replace(old, new, 1))
    assert why is not None and "beyond rounding noise" in why


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s.replace('fontsize=9', 'fontsize=10', 1), "beyond rounding noise"),  # integers: exact
    (lambda s: s.replace("#2166ac", "#2166ad", 1), "text differs"),  # a colour
    (lambda s: s.replace("->", "-> n0 ->", 1), "text differs"),  # an edge
])
def test_structure_and_attributes_are_exact(edit, expected):
    text = (FIGURES / "chain_exploding.dot").read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text
    assert expected in compare_text(text, changed)


@needs_dot
def test_an_svg_must_be_what_graphviz_draws_from_its_committed_dot(tmp_path):
    _same_environment()
    committed, fresh = tmp_path / "committed", tmp_path / "fresh"
    committed.mkdir()
    fresh.mkdir()
    for name in ("nested.svg", "nested.dot"):
        (committed / name).write_bytes((FIGURES / name).read_bytes())
        (fresh / name).write_bytes((FIGURES / name).read_bytes())
    svg = (committed / "nested.svg").read_text(encoding="utf-8")
    (fresh / "nested.svg").write_text(svg.replace("0.0581308678", "0.0581308454"), encoding="utf-8")
    draw = lambda dot: run_dot(dot, "svg")  # noqa: E731
    assert compare_folders(committed, fresh, ["nested.dot", "nested.svg"], draw) == []  # another CPU's SVG
    moved = re.sub(r'x="(\d+)\.', lambda m: f'x="{int(m.group(1)) + 6}.', svg, count=1)  # one text moved
    (committed / "nested.svg").write_text(moved, encoding="utf-8")
    assert compare_folders(committed, fresh, ["nested.dot", "nested.svg"], draw) == [
        "nested.svg: not what Graphviz draws from the committed nested.dot"]
