"""The page's shipped files (the vendored Graphviz in WebAssembly, the script, the style), read once."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["asset", "VIZ_FILE"]

VIZ_FILE = "viz-standalone.js"  # @viz-js/viz's dist/viz-global.js (Graphviz compiled to WebAssembly), see VIZ_LICENSE


@cache
def asset(name: str) -> str:
    """The text of ``graphviz_ad/explore/assets/<name>``."""
    return resources.files(__package__).joinpath("assets").joinpath(name).read_text(encoding="utf-8")
