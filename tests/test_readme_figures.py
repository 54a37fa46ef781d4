"""The committed README figures (docs/figures) are what examples/figures.toml builds today, byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphviz_ad.frontends.cli import cli
from graphviz_ad.recipes.figures import MANIFEST, environment
from tests.helpers import needs_dot

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
FIX = "rebuild them with: python3 -m graphviz_ad figures examples/figures.toml (then commit docs/figures)"


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


@pytest.mark.slow
@needs_dot
def test_readme_figures_are_up_to_date(tmp_path: Path):
    made_with = json.loads((FIGURES / MANIFEST).read_text(encoding="utf-8"))["environment"]
    here = environment()
    if here != made_with:  # other fonts, Graphviz or torch give other bytes: nothing to compare with
        pytest.skip(f"docs/figures were made with {made_with}, this machine has {here}")
    res = CliRunner().invoke(cli, ["figures", str(ROOT / "examples" / "figures.toml"), "--out", str(tmp_path), "-q"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    fresh, committed = files(tmp_path), files(FIGURES)
    assert sorted(fresh) == sorted(committed), f"docs/figures has other files than the build makes; {FIX}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"out of date in docs/figures: {', '.join(stale)}; {FIX}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [ref for ref in _figure_refs(readme) if ref not in committed]
    assert missing == [], f"the README shows figures that examples/figures.toml does not build: {missing}"


def _figure_refs(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"docs/figures/([\w.-]+)", text)]
