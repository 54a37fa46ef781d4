"""A Sphinx extension: the ``autograd-graph`` directive draws a traced graph (and its stepper) at build time.

Add ``"graphviz_ad.sphinx"`` to ``extensions`` in ``conf.py`` (``pip install graphviz_ad[docs]``), then::

    .. autograd-graph:: tanh(log(1 + z*(2*x/sin(y))))
       :at: x=1, y=2, z=3
       :steps:

    .. autograd-graph:: ../examples/widenet.py:build
       :input: 32x1
       :target: 32x1
       :loss: mse

Options: ``:at:`` (``name=value`` pairs, values numbers or nested lists), ``:const:`` (the same, for
values that do not require grad), ``:steps:`` (the
interactive backward stepper instead of the still graph), ``:explore:`` (the interactive explorer:
expand and collapse modules in place, search, details, backward at any level), ``:theme:``, ``:rankdir:``, ``:depth:``
(a number, ``auto`` or ``all``), ``:grad-color:``, ``:no-backward:``, ``:dtype:``; for a model
(``PATH.py:ATTR``, relative to the document like ``literalinclude``, or ``pkg.module:ATTR``):
``:input:`` (shapes separated by spaces), ``:input-dtype:``, ``:target:``, ``:loss:``, ``:seed:``.

HTML builders get the graph as inline SVG (ids prefixed, so several graphs share a page) or the
stepper's page body inline: its ids carry a content-hash prefix, its CSS is scoped to
``.gad-stepper`` and its script finds its own root, so it runs in the page itself (no iframe to
size, and the page's search, theme and printing see it). Other builders get a one-line note.
A bad expression or a failing model is a Sphinx warning at the directive's line, not a crash.
"""

from __future__ import annotations

import html
import re
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ._version import __version__
from .errors import ExpressionError, GraphvizADError
from .output.embed import content_prefix, svg_for_html

__all__ = ["AutogradGraph", "AutogradGraphHTML", "AutogradGraphNote", "autograd_graph", "setup", "inline_svg",
           "split_at", "directive_words"]

logger = logging.getLogger(__name__)
_MODEL_ARG = re.compile(r"[^\s()]+:[A-Za-z_][\w.]*")


class autograd_graph(nodes.General, nodes.Element):
    """The rendered figure: ``html`` for HTML builders, ``note`` for the others (see the post-transform)."""


_CLI_WORDS = re.compile(r"--(at|const|dtype|input|target|loss|depth|seed)( |=|\b)")


def directive_words(message: str) -> str:
    """A message written in the CLI's words (``--at x=VALUE``) in the directive's (``:at: x=VALUE``)."""
    return _CLI_WORDS.sub(lambda m: f":{m.group(1)}: ", message).replace(":  ", ": ")


def split_at(text: str, option: str = "at") -> dict[str, str]:
    """``x=1, y=2, w=[[1, 2], [3, 4]]`` -> {"x": "1", ...}: commas inside brackets stay with their value."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    out: dict[str, str] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ExpressionError(f":{option}: {part!r}: write NAME=VALUE pairs, e.g. :{option}: x=1, y=2, z=3")
        if name.strip() in out:
            raise ExpressionError(f":{option}: {name.strip()} is given twice")
        out[name.strip()] = value.strip()
    return out


# page themes underline links; Graphviz wraps every node in an <a> (for its tooltip)
_STYLE = ("<style>.gad-graph svg a,.gad-stepper svg a{text-decoration:none!important;border:0!important;"
          "box-shadow:none!important}</style>\n")


def inline_svg(svg: str, label: str) -> str:
    """Graphviz's SVG for inlining in HTML: no XML prolog or comments, ids prefixed with a content hash,
    scaled down to the column's width."""
    body = svg_for_html(svg, content_prefix("gad-fig-", svg, 10) + "-", refs=True)
    body = body.replace("<svg", '<svg style="max-width:100%;height:auto"', 1)
    return (f'<div class="gad-graph" role="img" aria-label="{html.escape(label)}" '
            f'style="overflow-x:auto;margin:1em 0">\n{body}</div>\n')


def _train_value(text: str) -> Any:
    """A ``:train:`` value: a whole number, a number, true/false, or a word (``optimizer=adam``)."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _depth(value: str) -> Any:
    value = value.strip()
    return int(value) if value.isdigit() else value


class AutogradGraph(SphinxDirective):
    """``.. autograd-graph:: EXPR`` or ``.. autograd-graph:: PATH.py:ATTR``: see the module docstring."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {
        "at": directives.unchanged,
        "const": directives.unchanged,
        "steps": directives.flag,
        "explore": directives.flag,
        "train": directives.unchanged_required,
        "theme": lambda a: directives.choice(a, ("light", "dark")),
        "rankdir": lambda a: directives.choice(a, ("tb", "lr", "bt", "rl")).upper(),
        "depth": directives.unchanged_required,
        "grad-color": directives.flag,
        "no-backward": directives.flag,
        "dtype": lambda a: directives.choice(a, ("float32", "float64", "float16", "bfloat16")),
        "input": directives.unchanged_required,
        "input-dtype": lambda a: directives.choice(a, ("float", "long")),
        "target": directives.unchanged_required,
        "loss": directives.unchanged_required,
        "seed": directives.nonnegative_int,
    }

    def run(self) -> list[nodes.Node]:
        arg = " ".join(self.arguments[0].split())
        try:
            entry = self._entry(arg)
            page = self._render(entry)
        except ExpressionError as e:
            return self._warn(directive_words(e.pretty()))
        except GraphvizADError as e:
            return self._warn(directive_words(str(e)))
        except (RecursionError, MemoryError) as e:
            return self._warn(f"the input is too large or nested too deeply ({type(e).__name__})")
        node = autograd_graph()
        node["html"] = page
        at = f" at {self.options['at']}" if "at" in self.options else ""
        what = "model " + arg if "model" in entry else arg + at
        node["note"] = f"[autograd graph of {what}: see the HTML version]"
        self.set_source_info(node)
        return [node]

    def _warn(self, message: str) -> list[nodes.Node]:
        logger.warning("autograd-graph: %s", message, location=self.get_location(), type="autograd-graph")
        return []

    def _entry(self, arg: str) -> dict[str, Any]:
        o = self.options
        entry: dict[str, Any] = {"name": "sphinx",
                                 "outputs": ["explore" if "explore" in o else "html" if "steps" in o else "svg"]}
        for opt, key in (("theme", "theme"), ("rankdir", "rankdir"), ("dtype", "dtype"), ("input-dtype", "input_dtype"),
                         ("target", "target"), ("loss", "loss"), ("seed", "seed")):
            if opt in o:
                entry[key] = o[opt]
        if "depth" in o:
            entry["depth"] = _depth(o["depth"])
        if "grad-color" in o:
            entry["grad_color"] = True
        if "no-backward" in o:
            entry["backward"] = False
        if "train" in o:  # a training run of a model: its page (loss, gradient norms, the graph per step)
            if not (_MODEL_ARG.fullmatch(arg) or "input" in o):
                raise ExpressionError(":train: trains a model: give PATH.py:FACTORY as the argument")
            entry["train"] = {k: _train_value(v) for k, v in split_at(o["train"], "train").items()}
            entry["outputs"] = ["html"]
        if "input" in o or _MODEL_ARG.fullmatch(arg):
            module, _, attr = arg.rpartition(":")
            if module.endswith(".py") or "/" in module:
                _rel, path = self.env.relfn2path(module, self.env.docname)
                self.env.note_dependency(path)
                module = str(path)
            entry["model"] = f"{module}:{attr}"
            if "input" in o:
                entry["input"] = o["input"].replace(",", " ").split()
        else:
            entry["expr"] = arg
            entry["at"] = split_at(o.get("at", ""))
            if "const" in o:
                entry["const"] = split_at(o["const"], "const")
        return entry

    def _render(self, entry: dict[str, Any]) -> str:
        from .recipes.figspec import parse_entry, trace_spec
        from .render.formats import graph_bytes

        spec = parse_entry(entry, self.env.srcdir)
        if spec.train is not None:
            from .recipes.train import train_runs

            assert spec.model is not None
            return train_runs(spec.model, spec.train, input_shapes=spec.inputs, target_shape=spec.target)._repr_html_()
        t = trace_spec(spec)
        if "explore" in spec.outputs:  # Graphviz comes with the page's first explorer (AutogradGraphHTML)
            return t.explore(spec.options).fragment(graphviz=False)
        if "html" in spec.outputs:
            return _STYLE + "\n" + t.stepper(spec.options).fragment()
        label = f"autograd graph of {entry.get('expr') or entry.get('model')}"
        svg = graph_bytes(t.graph, "svg", spec.options)
        return _STYLE + inline_svg(svg, label)  # type: ignore[arg-type]


class AutogradGraphHTML(SphinxPostTransform):
    """HTML builders (html, dirhtml, singlehtml, epub): the figure's HTML, inline."""

    default_priority = 400
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        from .explore.page import carrying_graphviz

        carried = False  # the page's explorers share the Graphviz its first one carries
        for node in list(self.document.findall(autograd_graph)):
            page = node["html"]
            if not carried and 'class="gad-explorer"' in page:
                page, carried = carrying_graphviz(page), True
            node.replace_self(nodes.raw("", page, format="html"))


class AutogradGraphNote(SphinxPostTransform):
    """Every other builder (runs after :class:`AutogradGraphHTML`, which leaves none behind): a short note."""

    default_priority = 401

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(autograd_graph)):
            node.replace_self(nodes.paragraph("", "", nodes.emphasis("", node["note"])))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(autograd_graph, override=True)  # a second build in the same process must not warn
    app.add_directive("autograd-graph", AutogradGraph)
    app.add_post_transform(AutogradGraphHTML)
    app.add_post_transform(AutogradGraphNote)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
