"""``graphviz-ad figures``: a TOML file of figures, built in parallel, rebuilt only where something changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from graphviz_ad.recipes.figspec import FigureError, parse_entry
from graphviz_ad.recipes.figures import MANIFEST, normalise_pdf
from tests.helpers import needs_dot

NESTED = '''
[[figure]]
name = "nested"
expr = "tanh(log(1 + z*(2*x/sin(y))))"
at = {x = 1, y = 2, z = 3}
'''

MODEL = '''
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))


def broken():
    raise RuntimeError("this factory is broken on purpose")
'''


def figure(name: str, **keys: str) -> str:
    lines = ["", "[[figure]]", f'name = "{name}"']
    lines += [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.py").write_text(MODEL)

    def invoke(text: str, *args: str):
        (tmp_path / "figures.toml").write_text(text)
        return CliRunner().invoke(cli, ["figures", "figures.toml", *args], catch_exceptions=False)

    return invoke


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (the manifest too): (inode, mtime in ns); a rewrite changes one of them."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@needs_dot
def test_every_output_of_an_expression(run, tmp_path: Path):
    res = run(NESTED.replace("}\n", '}\noutputs = ["svg", "png", "pdf", "dot", "json", "frames", "html"]\n'),
              "--out", "out")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines()[0] == "[1/1] nested: built (18 files written)"
    out = tmp_path / "out"
    svg = (out / "nested.svg").read_text()
    assert "0.96595" in svg and "0.058131" in svg
    assert (out / "nested.png").read_bytes().startswith(b"\x89PNG")
    pdf = (out / "nested.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/CreationDate (D:19700101000000" in pdf
    assert (out / "nested.dot").read_text().startswith("digraph")
    assert json.loads((out / "nested.json").read_text())["schema"] == "graphviz_ad/1"
    frames = sorted(p.name for p in (out / "nested_frames").iterdir())
    assert frames[0] == "frame_000.svg" and len(frames) == 12  # forward, 10 steps, all gradients
    assert 'class="gad-stepper' in (out / "nested_steps.html").read_text()
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["figures"]["nested"]["files"]) == sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MANIFEST)


@needs_dot
def test_rerun_with_unchanged_inputs_rewrites_nothing(run, tmp_path: Path):
    text = NESTED + figure("net", model='"tiny.py:build"', input='"4x2"', outputs='["svg", "json"]')
    assert run(text, "--out", "out").exit_code == 0
    before = stats(tmp_path / "out")
    res = run(text, "--out", "out")
    assert res.exit_code == 0, res.output
    assert stats(tmp_path / "out") == before
    assert res.stderr.splitlines() == ["[1/2] nested: up to date", "[2/2] net: up to date",
                                       "2 figures in out: 0 built, 2 up to date, 0 failed"]


@needs_dot
def test_a_changed_entry_or_model_rebuilds_only_itself(run, tmp_path: Path):
    text = NESTED + figure("net", model='"tiny.py:build"', input='"4x2"')
    assert run(text, "--out", "out").exit_code == 0
    out = tmp_path / "out"
    before = stats(out)
    res = run(text.replace('name = "nested"', 'name = "nested"\ntheme = "dark"'), "--out", "out")
    assert res.exit_code == 0, res.output
    assert "nested: built (1 file written)" in res.stderr and "net: up to date" in res.stderr
    after = stats(out)
    assert after["net.svg"] == before["net.svg"] and after["nested.svg"] != before["nested.svg"]
    # the model's source file is part of its key
    with (tmp_path / "tiny.py").open("a") as fh:
        fh.write("\n# an edit\n")
    res = run(text.replace('name = "nested"', 'name = "nested"\ntheme = "dark"'), "--out", "out")
    assert "nested: up to date" in res.stderr and "net: built (0 files written)" in res.stderr


@needs_dot
def test_a_missing_or_edited_output_is_rebuilt_and_force_rebuilds_all(run, tmp_path: Path):
    text = NESTED + figure("net", model='"tiny.py:build"', input='"4x2"')
    assert run(text, "--out", "out").exit_code == 0
    (tmp_path / "out" / "nested.svg").unlink()
    (tmp_path / "out" / "net.svg").write_text("edited")
    res = run(text, "--out", "out")
    assert "nested: built (1 file written)" in res.stderr and "net: built (1 file written)" in res.stderr
    assert "0.96595" in (tmp_path / "out" / "nested.svg").read_text()
    res = run(text, "--out", "out", "--force")
    assert res.stderr.count("built (0 files written)") == 2


@needs_dot
def test_files_no_figure_makes_any_more_are_deleted(run, tmp_path: Path):
    out = tmp_path / "out"
    text = NESTED.replace("}\n", '}\noutputs = ["svg", "dot", "frames"]\n') + figure("net", model='"tiny.py:build"',
                                                                                 input='"4x2"')
    assert run(text, "--out", "out").exit_code == 0
    (out / "mine.txt").write_text("not ours")
    res = run(text.replace('"svg", "dot", "frames"', '"svg"').replace('"net"', '"net2"'), "--out", "out")
    assert res.exit_code == 0, res.output
    assert "removed 14 stale file(s): nested.dot, nested_frames/frame_000.svg" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "mine.txt", "nested.svg", "net2.svg"]
    # a figure that fails keeps its last good files
    res = run(NESTED.replace('"tanh(', '"tanh(q+'), "--out", "out")
    assert res.exit_code == 1 and "removed 1 stale file(s): net2.svg" in res.stderr
    assert (out / "nested.svg").is_file()
    assert "nested: built" in run(NESTED, "--out", "out").stderr


@needs_dot
def test_bad_entries_are_reported_by_name_and_the_others_build(run, tmp_path: Path):
    text = (figure("good", expr='"x*y + sin(x)"', at="{x = 1, y = 2}")
            + figure("typo", expr='"x"', at="{x = 1}", colour='"red"')
            + figure("syntax", expr='"tanh(x"', at="{x = 1}")
            + figure("failing", model='"tiny.py:broken"', input='"1x2"')
            + figure("nofile", model='"missing.py:build"', input='"1x2"')
            + figure("good", expr='"x"', at="{x = 1}"))
    res = run(text, "--out", "out")
    assert res.exit_code == 1
    err = res.stderr
    assert "typo: failed: unknown key 'colour'" in err
    assert "syntax: failed: syntax error in the expression" in err
    assert "failing: failed: building the model failed" in err and "broken on purpose" in err
    assert "nofile: failed: no such file" in err
    assert "good: failed: the name is already used by figure #1" in err
    assert "6 figures in out: 1 built, 0 up to date, 5 failed" in err
    assert err.rstrip().endswith("Error: 5 of 6 figures failed: typo, syntax, failing, nofile, good")
    assert "0.2" in (tmp_path / "out" / "good.svg").read_text()
    # a failed figure is retried next time; the good one is not rebuilt
    res = run(text, "--out", "out")
    assert "good: up to date" in res.stderr and "failing: failed" in res.stderr


@pytest.mark.parametrize("text, message", [
    ("[[figure]\nname = 1\n", "not valid TOML"),
    ('title = "x"\n' + NESTED, "unknown top-level key 'title'"),
    ("out = 'x'\n", "no figures"),
    ('figure = "nested"\n', "no figures"),
])
def test_an_unusable_file_exits_2(run, text: str, message: str):
    res = run(text, "--out", "out")
    assert res.exit_code == 2
    assert message in res.stderr


def test_no_out_folder_and_no_file_exit_2(run, tmp_path: Path):
    res = run(NESTED)
    assert res.exit_code == 2 and "give --out DIR, or out = \"DIR\"" in res.stderr
    res = CliRunner().invoke(cli, ["figures", "nowhere.toml", "--out", "o"])
    assert res.exit_code == 2 and "cannot read 'nowhere.toml'" in res.stderr
    res = CliRunner().invoke(cli, ["figures", "figures.toml", "--jobs", "0"])
    assert res.exit_code == 2


@needs_dot
def test_out_in_the_file_is_relative_to_the_file(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sub = tmp_path / "docs"
    sub.mkdir()
    (sub / "tiny.py").write_text(MODEL)
    (sub / "figs.toml").write_text('out = "figures"\n' + figure("net", model='"tiny.py:build"', input='"4x2"'))
    monkeypatch.chdir(tmp_path / "docs" / "..")
    res = CliRunner().invoke(cli, ["figures", "docs/figs.toml"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (sub / "figures" / "net.svg").is_file()


@needs_dot
def test_quiet_prints_only_failures(run):
    res = run(NESTED, "--out", "out", "-q")
    assert res.exit_code == 0 and res.stderr == "" and res.stdout == ""
    res = run(NESTED + figure("bad", expr='"x +"', at="{x = 1}"), "--out", "out", "-q")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[0].startswith("[2/2] bad: failed: syntax error")
    assert "up to date" not in res.stderr


SLOW_MODEL = '''
import os, time
from pathlib import Path
import torch
from torch import nn


def build():
    with open(Path(__file__).with_name("pids.txt"), "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(1.0)
    torch.manual_seed(0)
    return nn.Linear(2, 1)
'''


@needs_dot
@pytest.mark.slow
def test_figures_build_in_parallel_processes(run, tmp_path: Path):
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    text = "".join(figure(f"m{i}", model='"slow.py:build"', input='"1x2"', seed=str(i)) for i in range(2))
    res = run(text, "--out", "out", "--jobs", "2")
    assert res.exit_code == 0, res.output
    pids = set((tmp_path / "pids.txt").read_text().split())
    assert len(pids) == 2 and str(os.getpid()) not in pids


@pytest.mark.parametrize("entry, message", [
    ({"expr": "x", "at": {"x": 1}}, "every figure needs a name"),
    ({"name": "../up", "expr": "x", "at": {"x": 1}}, "name '../up'"),
    ({"name": "a", "expr": "x", "model": "m.py:f"}, "not both"),
    ({"name": "a"}, "not neither"),
    ({"name": "a", "expr": "x", "at": {"x": True}}, "at.x must be a number"),
    ({"name": "a", "expr": "x", "at": {"x": 1}, "input": "1x1"}, "input belongs to model figures"),
    ({"name": "a", "expr": "x", "at": {"x": 1}, "outputs": ["gif"]}, "unknown output 'gif'"),
    ({"name": "a", "expr": "x", "at": {"x": 1}, "theme": "pink"}, "unknown theme 'pink'"),
    ({"name": "a", "expr": "x", "at": {"x": 1}, "depth": -1}, "depth must be"),
    ({"name": "a", "expr": "x", "at": {"x": 1}, "backward": False, "outputs": ["html"]}, "drop backward = false"),
    ({"name": "a", "expr": "x", "at": {"y": 1}}, "unknown name 'x'"),
    ({"name": "a", "model": "m.py:f"}, "needs input"),
    ({"name": "a", "model": "m.py:f", "input": "1x1", "target": "1x1"}, "add loss"),
    ({"name": "a", "model": "m.py:f", "input": "1x1", "loss": "l1"}, "loss 'l1'"),
    ({"name": "a", "model": "m.py:f", "input": "1x1", "loss": "mse", "optimizer": {"name": "rmsprop"}},
     "optimizer name 'rmsprop'"),
    ({"name": "a", "model": "m.py:f", "input": "1x1", "optimizer": "sgd"}, "optimizer needs a loss"),
])
def test_entries_are_checked(entry: dict, message: str):
    with pytest.raises(FigureError) as info:
        parse_entry(entry, ".")
    assert message in str(info.value)


def test_entry_values_and_paths():
    spec = parse_entry({"name": "a", "expr": "x + sum(w)",
                        "at": {"x": float("nan"), "w": [[1, 2.5], [-3, float("-inf")]]}, "depth": "all"}, "/base")
    assert spec.at == (("x", "nan"), ("w", "[[1, 2.5], [-3, -inf]]")) and spec.options.depth is None
    spec = parse_entry({"name": "m", "model": "sub/m.py:build", "input": [1, 3, 8, 8]}, "/base")
    assert spec.model == "/base/sub/m.py:build" and spec.model_file == "/base/sub/m.py" and spec.inputs == ("1x3x8x8",)
    spec = parse_entry({"name": "m", "model": "pkg.mod:build", "input": ["2x2", "3"]}, "/base")
    assert spec.model == "pkg.mod:build" and spec.model_file is None and spec.inputs == ("2x2", "3")


def test_pdf_creation_date_is_pinned_keeping_the_length():
    for date in (b"D:20261127054428Z", b"D:20261127054428+01'00", b"D:20261126234428-05'00"):
        data = b"<< /Producer (cairo) /CreationDate (" + date + b") >>"
        pinned = normalise_pdf(data)
        assert len(pinned) == len(data) and b"19700101000000" in pinned
    assert normalise_pdf(b"no date here") == b"no date here"


def test_help_has_an_example():
    res = CliRunner().invoke(cli, ["figures", "--help"])
    assert res.exit_code == 0
    assert "Examples:\n    graphviz-ad figures examples/figures.toml\n" in res.output


def test_the_explore_output_writes_the_interactive_page(run, tmp_path: Path):
    res = run(NESTED.replace("}\n", '}\noutputs = ["explore"]\n'), "--out", "out")
    assert res.exit_code == 0, res.output
    assert "1 built" in res.output, res.output
    page = (tmp_path / "out" / "nested_explore.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'class="gad-explorer"' in page


def test_const_values_of_a_figure_get_no_gradient():
    from graphviz_ad.recipes.figspec import FigureError, parse_entry, trace_spec

    spec = parse_entry({"name": "ce", "expr": "-sum(t*log(softmax(x, dim=0)))", "at": {"x": [1, 2, 0.5]},
                        "const": {"t": [0, 1, 0]}}, ".")
    t = trace_spec(spec)
    assert t.node("t").grad is None and t.node("x").grad is not None
    with pytest.raises(FigureError, match="both at and const"):
        parse_entry({"name": "ce", "expr": "x*t", "at": {"x": 1}, "const": {"x": 2}}, ".")


@pytest.mark.slow
def test_a_train_entry_writes_the_run_page_and_figure(run, tmp_path: Path):
    toml = ('[[figure]]\nname = "fit"\nmodel = "tiny.py:build"\ninput = "8x2"\ntarget = "8x1"\nloss = "mse"\n'
            'outputs = ["html", "json", "png"]\ntrain = {epochs = 6, lr = 0.05, momentum = 0.9, compare = {lr = [0.01, 0.1]}}\n')
    res = run(toml, "--out", "out")
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["fit.json", "fit.png", "fit_run.html"]
    data = json.loads((out / "fit.json").read_text(encoding="utf-8"))
    assert len(data["runs"]) == 2 and all(len(r["scalars"]["loss"]) == 6 for r in data["runs"])
    assert (out / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lr=0.01" in (out / "fit_run.html").read_text(encoding="utf-8")
    again = run(toml, "--out", "out")
    assert "1 up to date" in again.output  # nothing changed: not trained again
    bad = run(toml.replace("epochs = 6", "epoch = 6"), "--out", "out")
    assert bad.exit_code == 1 and "train: unknown key 'epoch'" in bad.output
    assert "html, json, png, svg" in run(toml.replace('"png"]', '"pdf"]'), "--out", "out").output


LIBRARY_MODEL = '''
import networkx  # a third-party library: its version is part of the figure's key
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh())
'''


def test_the_libraries_a_model_file_imports_key_and_qualify_its_figure(run, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    import networkx

    from graphviz_ad.recipes import figures

    (tmp_path / "lib.py").write_text(LIBRARY_MODEL)
    text = figure("lib", model='"lib.py:build"', input='"4x2"', outputs='["dot"]')
    assert run(text, "--out", "out").exit_code == 0
    manifest = tmp_path / "out" / MANIFEST
    record = json.loads(manifest.read_text())["figures"]["lib"]
    assert record["libraries"] == {"networkx": networkx.__version__}  # torch, stdlib, the user's own: not listed
    assert "lib: up to date" in run(text, "--out", "out").stderr
    monkeypatch.setattr(figures, "_version_of", lambda module: "99.0")  # another release installed
    assert "lib: built" in run(text, "--out", "out").stderr
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert run(text, "--out", "out").exit_code == 0
    # a figure made with another release is not compared (another graph is no regression) and says so
    dot = tmp_path / "out" / "lib.dot"
    dot.write_text(dot.read_text().replace("tanh", "TANH"))
    stale = run(text, "--out", "out", "--check")
    assert stale.exit_code == 1 and "lib.dot: text differs" in stale.stderr
    data = json.loads(manifest.read_text())
    data["figures"]["lib"]["libraries"] = {"networkx": "0.1"}
    manifest.write_text(json.dumps(data))
    other = run(text, "--out", "out", "--check")
    assert other.exit_code == 0, other.output
    assert f"lib: not compared: made with networkx 0.1, this machine has networkx {networkx.__version__}" \
        in other.stderr


@needs_dot
def test_a_rebuild_keeps_files_that_differ_only_by_rounding_noise(run, tmp_path: Path):
    """Another CPU's last bits: the committed DOT and JSON stay (and the SVG drawn from that DOT), so a
    docs diff shows changes, not noise; a real change is still written."""
    import struct

    from graphviz_ad.output.backend import run_dot
    from graphviz_ad.recipes.figcheck import nudge_floats

    def ulp_up(x: float) -> float:
        bits = struct.unpack("<i", struct.pack("<f", x))[0]
        return struct.unpack("<f", struct.pack("<i", bits + 1))[0] if x and x == x else x

    text = figure("net", model='"tiny.py:build"', input='"4x2"', outputs='["dot", "svg", "json"]')
    assert run(text, "--out", "out").exit_code == 0
    out = tmp_path / "out"
    fresh = {name: (out / name).read_text() for name in ("net.dot", "net.json")}
    noisy = {name: nudge_floats(t, ulp_up) for name, t in fresh.items()}
    assert all(noisy[n] != fresh[n] for n in noisy)  # as another machine would have made them
    for name, t in noisy.items():
        (out / name).write_text(t)
    (out / "net.svg").write_bytes(run_dot(noisy["net.dot"], "svg"))
    svg = (out / "net.svg").read_bytes()
    res = run(text, "--out", "out", "--force")
    assert res.exit_code == 0 and "net: built (0 files written)" in res.stderr, res.stderr
    assert {n: (out / n).read_text() for n in noisy} == noisy and (out / "net.svg").read_bytes() == svg
    assert "net: up to date" in run(text, "--out", "out").stderr  # the manifest records the files kept
    # a real change is written: this build's DOT and the SVG drawn from it (the JSON stays)
    (out / "net.dot").write_text(noisy["net.dot"].replace("tanh", "TANH"))
    res = run(text, "--out", "out", "--force")
    assert "net: built (2 files written)" in res.stderr, res.stderr
    assert (out / "net.dot").read_text() == fresh["net.dot"]
    assert (out / "net.svg").read_bytes() == run_dot(fresh["net.dot"], "svg")
    assert (out / "net.json").read_text() == noisy["net.json"]
