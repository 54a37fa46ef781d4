"""The package's imports run one way: each layer imports only from the layers below it, and no two files
(nor two packages) import each other, directly or around a circle. Lazy imports inside functions count."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "graphviz_ad"

# bottom to top; a module may import from its own layer and the ones before it
LAYERS = [
    {"errors", "gcpause", "_version"},  # plain helpers, nothing of ours above them
    {"model"},  # the data model: values, graph, steps, updates, export
    {"trace"},  # records a forward into the model
    {"backward", "checks"},  # records the backward (and an optimizer step); checks it by other means
    {"output"},  # the dot subprocess, atomic files, SVG for HTML
    {"render"},  # static drawing: DOT text, views, notebook display, bytes by format
    {"stepper"},  # the backward stepper: frames, page, transcript
    {"explore"},  # the interactive page: expand/collapse in place, search, details, stepping
    {"api"},  # the Trace facade
    {"recipes", "training"},  # expressions, model loading, the figures build; training over time (watch)
    {"frontends", "sphinx"},  # thin callers
    {"__init__", "__main__"},  # the package root
]
RANK = {name: k for k, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts)] = path
    return out


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for type hints only run no code, as
    torch.fx's node.py imports Graph)."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that ``name`` imports (``from .x import y`` counts ``x.y`` when that is a module)."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".")[:-1] if not is_pkg else name.split(".")[:-1]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("graphviz_ad"):
                target = node.module[len("graphviz_ad"):].lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                if sub in known or f"{sub}.__init__" in known:
                    found.add(sub if sub in known else f"{sub}.__init__")
                elif target in known or f"{target}.__init__" in known or target == "":
                    found.add(target if target in known else f"{target}.__init__" if target else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "graphviz_ad":
                    found.add("__init__")  # the package root
                elif alias.name.startswith("graphviz_ad."):
                    found.add(alias.name[len("graphviz_ad."):])
    found.discard(name)
    return found


def _graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        for target in _imports(name, path, set(mods)):
            g.add_edge(name, target)
    return g


def _layer(module: str) -> str:
    return module.split(".")[0]


def test_every_module_has_a_layer():
    missing = sorted({_layer(m) for m in _modules()} - set(RANK))
    assert missing == [], f"add these to LAYERS in tests/test_layers.py: {missing}"


def upward(g: nx.DiGraph) -> list[str]:
    return [f"{a} -> {b}" for a, b in g.edges if RANK[_layer(b)] > RANK[_layer(a)]]


def package_graph(g: nx.DiGraph) -> nx.DiGraph:
    packages = nx.DiGraph()
    packages.add_edges_from((_layer(a), _layer(b)) for a, b in g.edges if _layer(a) != _layer(b))
    return packages


def test_no_upward_import():
    found = upward(_graph())
    assert found == [], "imports from a layer above:\n" + "\n".join(found)


def test_no_import_cycle_between_files():
    cycles = list(nx.simple_cycles(_graph()))
    assert cycles == [], f"files that import each other: {cycles[:5]}"


def test_no_import_cycle_between_packages():
    assert list(nx.simple_cycles(package_graph(_graph()))) == []


def test_the_checks_see_a_bad_import():
    """The checks above can fail: a model module importing the stepper is upward (and, with the stepper
    importing the model, a circle of packages); two files importing each other a circle."""
    g = _graph()
    g.add_edge("model.graph", "stepper.stepper")
    assert upward(g) == ["model.graph -> stepper.stepper"]
    assert list(nx.simple_cycles(package_graph(g)))
    g = _graph()
    g.add_edge("render.dot", "render.display")
    g.add_edge("render.display", "render.dot")
    assert ["render.display", "render.dot"] in [sorted(c) for c in nx.simple_cycles(g)]


def test_the_import_reader_finds_lazy_and_relative_imports():
    mods = set(_modules())
    found = _imports("api", _modules()["api"], mods)
    assert {"stepper.stepper", "model.graph", "render.formats"} <= found  # the stepper is imported in a method
    notebook = _imports("frontends.notebook", _modules()["frontends.notebook"], mods)
    assert "stepper.stepper" not in notebook  # imported for type hints only
