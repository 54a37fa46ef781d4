"""Docs figures: build every figure a TOML file describes, in parallel processes, rebuilding only what changed.

Each entry's key is a hash of the entry as written, graphviz_ad's version and source, the bytes of a
model entry's source file and the environment (torch's version and a fingerprint of Graphviz's layout
and fonts). The keys and the SHA-256 of every file written live in a manifest in the out folder;
an entry whose key is unchanged and whose files are all present and intact is not rebuilt, and a
rebuilt entry rewrites only the files whose bytes changed. The same input gives the same bytes in
any process (PDF creation dates are pinned, torch runs on one thread).
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import functools
import hashlib
import json
import multiprocessing
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._version import __version__
from ..errors import ExecutableNotFound, ExpressionError, GraphvizADError, OutputError
from ..output.backend import normalise_pdf
from .figspec import FigureError, FigureSpec, output_names, parse_entry

__all__ = ["FiguresFileError", "Entry", "FigureResult", "BuildReport", "load_figures", "build_figures", "build_one",
           "check_figures", "figure_files", "figure_key", "environment", "normalise_pdf", "MANIFEST"]

MANIFEST = ".graphviz_ad-figures.json"
_SCHEMA = "graphviz_ad-figures/1"
_TOP_KEYS = ("out", "figure")
_PROBE = ('digraph probe { node [fontname="Helvetica", fontsize=11, shape=box]; '
          'a [label=<<B>tanh</B> 0.96595<BR/><FONT POINT-SIZE="9">∇ -0.058131 Ag (1x3x64x64)</FONT>>]; '
          'a -> b [fontname="Helvetica", fontsize=9, label="∇ 1.2e-05"]; }')
_FRAME = re.compile(r"frame_\d+\.svg")


class FiguresFileError(GraphvizADError, ValueError):
    """The figures file as a whole is unusable: not TOML, no [[figure]] list, an unknown top-level key."""


@dataclass
class FigureResult:
    """How one entry went: ``status`` is ``built``, ``up to date`` or ``failed`` (with the reason)."""

    name: str
    status: str
    reason: str = ""
    files: dict[str, str] = field(default_factory=dict)  # path relative to the out folder -> sha256
    written: int = 0


@dataclass(frozen=True)
class Entry:
    """One [[figure]] table: its name (or ``figure #N``), the checked spec or the reason it was refused."""

    name: str
    spec: FigureSpec | None
    reason: str
    raw: dict[str, Any]


@dataclass
class BuildReport:
    out: Path
    results: list[FigureResult]
    removed: list[str] = field(default_factory=list)  # stale files deleted (relative to ``out``)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> list[FigureResult]:
        return [r for r in self.results if r.status == "failed"]


# -- the file ---------------------------------------------------------------------------------------
def load_figures(path: str | os.PathLike[str]) -> tuple[list[Entry], str | None]:
    """Read the TOML file: its entries, checked, and the ``out`` folder it names (made relative to the
    file's folder), if any."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise FiguresFileError(f"cannot read {str(file)!r}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FiguresFileError(f"{str(file)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise FiguresFileError(f"{file}: not valid TOML: {e}") from None
    except RecursionError:
        raise FiguresFileError(f"{file}: nested too deeply to read") from None
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise FiguresFileError(f"{file}: unknown top-level key {unknown[0]!r}; a figures file has "
                               "out = \"DIR\" (optional) and [[figure]] tables")
    figures = data.get("figure")
    if not isinstance(figures, list) or not figures:
        raise FiguresFileError(f"{file}: no figures: add [[figure]] tables, e.g.\n  [[figure]]\n  name = \"nested\"\n"
                               "  expr = \"tanh(log(1 + z*(2*x/sin(y))))\"\n  at = {x = 1, y = 2, z = 3}")
    out = data.get("out")
    if out is not None and not isinstance(out, str):
        raise FiguresFileError(f"{file}: out must be a folder name (a string), got {out!r}")
    out = os.path.normpath(file.parent / out) if out is not None else None
    base = file.parent
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(figures, 1):
        raw = entry if isinstance(entry, dict) else {}
        name = raw.get("name") if isinstance(raw.get("name"), str) else f"figure #{i}"
        try:
            spec = parse_entry(entry, base)
            if spec.name in seen:
                raise FigureError(f"the name is already used by figure #{seen[spec.name]}; names must differ")
            seen[spec.name] = i
            entries.append(Entry(name, spec, "", raw))
        except FigureError as e:
            entries.append(Entry(name, None, str(e), raw))
    return entries, out


# -- keys and the manifest --------------------------------------------------------------------------
def environment() -> dict[str, str]:
    """What the bytes depend on besides the entry: torch's version, Graphviz's version and a hash of a
    small laid-out SVG (it changes with Graphviz's layout and the fonts' metrics)."""
    import torch

    from ..output.backend import run_dot

    try:
        svg = run_dot(_PROBE, "svg")
    except ExecutableNotFound:  # DOT and JSON outputs still build; SVG/PNG/PDF entries will say what is missing
        return {"torch": torch.__version__, "graphviz": "missing", "layout": "none"}
    m = re.search(rb"Generated by graphviz version ([^\s]+)", svg)
    return {"torch": torch.__version__, "graphviz": m.group(1).decode("ascii", "replace") if m else "unknown",
            "layout": hashlib.sha256(svg).hexdigest()[:16]}


def figure_key(raw: dict[str, Any], spec: FigureSpec, env: dict[str, str],
               libs: dict[str, str] | None = None) -> str:
    """A hash of everything an entry's output depends on that a build can see (``libs``: the entry's
    :func:`libraries`, where the caller has them already)."""
    source = None
    if spec.model_file is not None:
        try:
            source = hashlib.sha256(Path(spec.model_file).read_bytes()).hexdigest()
        except OSError:
            source = "missing"
    blob = json.dumps({"entry": raw, "graphviz_ad": __version__, "code": _code_hash(), "model_source": source,
                       "environment": env,
                       "libraries": libraries(spec) if libs is None else libs},
                      sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def libraries(spec: FigureSpec) -> dict[str, str]:
    """The installed versions of the third-party packages a model file imports (``transformers``: a new
    release may trace another graph): part of the key, and recorded, so that a check made with other
    versions says so instead of calling the figure stale. Read from the file's import statements, not
    by running it; torch is in :func:`environment` already."""
    if spec.model_file is None:
        return {}
    try:
        tree = ast.parse(Path(spec.model_file).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return {}
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            tops.add(node.module.partition(".")[0])
    tops -= set(sys.stdlib_module_names) | {"torch", "graphviz_ad", "__future__"}
    here = Path(spec.model_file).parent  # modules beside the model file are the user's own, not a library
    tops = {t for t in tops if not (here / f"{t}.py").exists() and not (here / t).is_dir()}
    return {name: _version_of(name) for name in sorted(tops)}


@functools.lru_cache(maxsize=None)
def _version_of(module: str) -> str:
    import importlib.metadata as md

    for dist in _distributions().get(module, [module]):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return "not installed"


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    import importlib.metadata as md

    return dict(md.packages_distributions())


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    """A hash of graphviz_ad's own source (so a change to the drawing code rebuilds, even at one version)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".css", ".js", ".html") and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _read_manifest(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    figures = data.get("figures") if isinstance(data, dict) and data.get("schema") == _SCHEMA else None
    return figures if isinstance(figures, dict) else {}


def _intact(out: Path, record: Any, key: str) -> bool:
    if not isinstance(record, dict) or record.get("key") != key or not isinstance(record.get("files"), dict):
        return False
    for rel, digest in record["files"].items():
        try:
            if hashlib.sha256((out / rel).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return bool(record["files"])


def _manifest_text(env: dict[str, str], records: dict[str, Any]) -> str:
    data = {"schema": _SCHEMA, "graphviz_ad": __version__, "environment": env,
            "figures": {k: records[k] for k in sorted(records)}}
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# -- building one figure (in a worker process) ----------------------------------------------------
def _put(out: Path, rel: str, data: bytes | str, files: dict[str, str]) -> int:
    """Write ``data`` to ``out/rel`` unless the file already holds exactly these bytes; 1 if written."""
    from ..output.files import write_atomic

    blob = data.encode("utf-8") if isinstance(data, str) else data
    files[rel] = hashlib.sha256(blob).hexdigest()
    target = out / rel
    try:
        if target.is_file() and target.read_bytes() == blob:
            return 0
    except OSError:
        pass
    write_atomic(target, blob)
    return 1


def _kept(path: Path, text: str) -> str:
    """The text already at ``path`` where it is ``text`` up to float rounding noise (another CPU's last
    bits), else ``text``: rebuilding on another machine leaves the figures as they were, so that docs
    diffs show changes, not noise. The drawings are laid out from the DOT kept."""
    from .figcheck import compare_text

    try:
        old = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return text
    return old if compare_text(old, text) is None else text


def _write_outputs(t: Any, spec: FigureSpec, out: Path) -> tuple[dict[str, str], int]:
    from ..output.backend import run_dot
    from ..render.formats import graph_bytes
    from ..stepper.stepper import frame_name

    files: dict[str, str] = {}
    written = 0
    stepper = None  # laid out once for both the page and the frames
    dot: str | None = None  # what the drawings are laid out from
    for fmt in spec.outputs:
        rel = output_names(spec.name, fmt)
        if fmt in ("dot", "svg", "png", "pdf"):
            if dot is None:
                dot = str(graph_bytes(t.graph, "dot", spec.options))
                if "dot" in spec.outputs:
                    dot = _kept(out / output_names(spec.name, "dot"), dot)
            data = run_dot(dot, fmt) if fmt != "dot" else dot
            written += _put(out, rel, data.decode("utf-8") if fmt == "svg" else data, files)
        elif fmt == "json":
            written += _put(out, rel, _kept(out / rel, str(graph_bytes(t.graph, fmt, None, t.steps, t.update))), files)
        elif fmt == "explore":
            written += _put(out, rel, _kept(out / rel, t.explore(spec.options).to_html()), files)
        elif fmt == "html":
            stepper = stepper or t.stepper(spec.options)
            written += _put(out, rel, _kept(out / rel, stepper.to_html()), files)
        else:  # frames: <name>_frames/frame_000.svg ..., as Stepper.save(folder) names them
            stepper = stepper or t.stepper(spec.options)
            frames = stepper.frames()
            folder = out / rel
            if folder.exists() and not folder.is_dir():
                raise FigureError(f"{folder} exists and is not a folder; the frames go there")
            folder.mkdir(exist_ok=True)
            names = [frame_name(k, len(frames)) for k in range(len(frames))]
            for name, svg in zip(names, frames):
                written += _put(out, f"{rel}/{name}", svg, files)
            keep = set(names)
            for old in sorted(folder.iterdir()):  # frames left from a longer run
                if _FRAME.fullmatch(old.name) and old.name not in keep:
                    old.unlink()
                    written += 1
    return files, written


def _write_run(spec: FigureSpec, out: Path) -> tuple[dict[str, str], int]:
    """A ``train = {...}`` figure: train under watch, then each output as ``Run.save`` (or a
    comparison's) writes it: NAME_run.html, NAME.json, NAME.png, NAME.svg."""
    import tempfile

    from .train import train_runs

    assert spec.model is not None
    result = train_runs(spec.model, spec.train, input_shapes=spec.inputs, target_shape=spec.target)
    files: dict[str, str] = {}
    written = 0
    with tempfile.TemporaryDirectory(prefix="graphviz_ad-run-") as tmp:
        for fmt in spec.outputs:
            made = Path(tmp) / f"run.{fmt}"
            result.save(made)
            written += _put(out, output_names(spec.name, fmt, train=True), made.read_bytes(), files)
    return files, written


def build_one(spec: FigureSpec, out: str) -> FigureResult:
    """Trace ``spec`` and write its outputs into ``out``; a failure comes back as a result, never raised."""
    from .figspec import trace_spec

    try:
        if spec.train is not None:
            files, written = _write_run(spec, Path(out))
        else:
            files, written = _write_outputs(trace_spec(spec), spec, Path(out))
    except GraphvizADError as e:
        return FigureResult(spec.name, "failed", e.pretty() if isinstance(e, ExpressionError) else str(e))
    except RecursionError:
        return FigureResult(spec.name, "failed", "the input is nested too deeply to process")
    except MemoryError:
        return FigureResult(spec.name, "failed", "out of memory: use smaller inputs")
    except Exception as e:  # one figure's bug must not stop the others; say what it was
        return FigureResult(spec.name, "failed", f"unexpected {type(e).__name__}: {e} (please report this)")
    return FigureResult(spec.name, "built", files=files, written=written)


def _init_worker() -> None:
    """One torch thread (the numbers do not depend on the core count) and UTC (cairo's PDF date format)."""
    os.environ["TZ"] = "UTC"
    import torch

    torch.set_num_threads(1)


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["graphviz_ad.recipes.figures", "graphviz_ad.recipes.figspec", "torch"])
        return ctx
    return multiprocessing.get_context("spawn")


# -- the whole file -------------------------------------------------------------------------------
def build_figures(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                  jobs: int | None = None, force: bool = False,
                  report: Callable[[int, int, FigureResult], None] | None = None) -> BuildReport:
    """Build the figures of the TOML file ``path`` into ``out`` (default: the file's ``out`` key).

    ``report(done, total, result)`` is called as each figure finishes. Raises :class:`FiguresFileError`
    for an unusable file; a failing figure is a ``failed`` result and the others still build.
    """
    entries, toml_out = load_figures(path)
    target = out if out is not None else toml_out
    if target is None:
        raise FiguresFileError("where should the figures go? give --out DIR, or out = \"DIR\" in the figures file")
    folder = Path(target)
    if folder.exists() and not folder.is_dir():
        raise FiguresFileError(f"the out folder {str(folder)!r} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the out folder {str(folder)!r}: {e.strerror or e}") from None
    env = environment()
    old = _read_manifest(folder)
    total = len(entries)
    done = 0
    results: list[FigureResult] = []
    records: dict[str, Any] = {}
    todo: list[tuple[FigureSpec, str]] = []
    libs: dict[str, dict[str, str]] = {}  # per figure: the library versions its model file imports

    def finish(result: FigureResult) -> None:
        nonlocal done
        done += 1
        results.append(result)
        if report is not None:
            report(done, total, result)

    for entry in entries:
        spec = entry.spec
        if spec is None:
            finish(FigureResult(entry.name, "failed", entry.reason))
            continue
        libs[spec.name] = libraries(spec)
        key = figure_key(entry.raw, spec, env, libs[spec.name])
        if not force and _intact(folder, old.get(spec.name), key):
            records[spec.name] = old[spec.name]
            finish(FigureResult(spec.name, "up to date", files=dict(old[spec.name]["files"])))
        else:
            todo.append((spec, key))
    keys = {spec.name: key for spec, key in todo}
    for result in _run(todo, folder, jobs):
        if result.status == "built":
            records[result.name] = {"key": keys[result.name], "files": result.files}
            if libs[result.name]:
                records[result.name]["libraries"] = libs[result.name]
        elif isinstance(old.get(result.name), dict):  # keep the record of its files, but build it next time
            records[result.name] = {**old[result.name], "key": ""}
        finish(result)
    for entry in entries:
        if entry.spec is None and entry.name in old and entry.name not in records:
            records[entry.name] = {**old[entry.name], "key": ""}
    removed = _remove_stale(folder, old, records)
    text = _manifest_text(env, records)
    manifest = folder / MANIFEST
    try:
        unchanged = manifest.read_text(encoding="utf-8") == text
    except OSError:
        unchanged = False
    if not unchanged:
        from ..output.files import write_atomic

        write_atomic(manifest, text)
    order = {e.name: i for i, e in enumerate(entries)}
    results.sort(key=lambda r: order.get(r.name, len(order)))
    return BuildReport(folder, results, removed)


def figure_files(folder: Path) -> list[str]:
    """The files of a figures folder (relative paths, sorted), without the build's manifest."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def check_figures(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                  jobs: int | None = None, notes: list[str] | None = None) -> list[str]:
    """What is stale in the built figures of ``path`` (in ``out``, default: the file's ``out``): each
    problem as one line, none when every file is what a fresh build makes up to float rounding noise
    (:mod:`graphviz_ad.recipes.figcheck`); another CPU's last bits are not a change. A figure made with
    other versions of the libraries its model file imports (:func:`libraries`) is not compared: a line
    saying so goes to ``notes``."""
    import tempfile

    from ..output.backend import run_dot
    from .figcheck import compare_folders

    entries, toml_out = load_figures(path)
    target = out if out is not None else toml_out
    if target is None:
        raise FiguresFileError("which folder should be checked? give --out DIR, or out = \"DIR\" in the figures file")
    committed = Path(target)
    old = _read_manifest(committed)
    skip: set[str] = set()
    for entry in entries:
        record = old.get(entry.name)
        made_with = record.get("libraries") if isinstance(record, dict) else None
        now = libraries(entry.spec) if entry.spec is not None else {}
        if isinstance(made_with, dict) and made_with != now:
            skip.update(record.get("files") or ())
            if notes is not None:
                notes.append(f"{entry.name}: not compared: made with {_named(made_with)}, "
                             f"this machine has {_named(now)}")
    with tempfile.TemporaryDirectory(prefix="graphviz_ad-check-") as tmp:
        fresh = Path(tmp)
        report = build_figures(path, fresh, jobs=jobs, force=True)
        problems = [f"{r.name}: failed to build: {r.reason}" for r in report.results if r.status == "failed"]
        made = [n for n in figure_files(fresh) if n not in skip]
        have = [n for n in figure_files(committed) if n not in skip] if committed.is_dir() else []
        problems += [f"{name}: missing (the build makes it)" for name in made if name not in have]
        problems += [f"{name}: no figure makes it" for name in have if name not in made]
        problems += compare_folders(committed, fresh, [n for n in made if n in have],
                                    lambda dot: run_dot(dot, "svg"))
    return problems


def _named(versions: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or "none"


def _remove_stale(out: Path, old: dict[str, Any], records: dict[str, Any]) -> list[str]:
    """Delete the files an earlier run recorded that no figure makes now (a renamed or removed figure,
    an output taken off a list, frames of a longer run)."""
    keep = {rel for r in records.values() for rel in r.get("files", {})}
    removed = []
    for record in old.values():
        files = record.get("files") if isinstance(record, dict) else None
        for rel in sorted(files or ()):
            path = out / rel
            if rel in keep or ".." in Path(rel).parts or Path(rel).is_absolute() or not path.is_file():
                continue
            path.unlink()
            removed.append(rel)
            if path.parent != out and not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed


def _run(todo: list[tuple[FigureSpec, str]], out: Path, jobs: int | None) -> Any:
    """Yield each figure's result as it finishes, built in worker processes (torch traces one at a time
    per process; a process also keeps the user's model code, and any crash in it, away from us)."""
    if not todo:
        return
    workers = max(1, min(jobs or _cpus(), len(todo)))
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_init_worker)
    try:
        futures = {pool.submit(build_one, spec, str(out)): spec.name for spec, _key in todo}
        for fut in cf.as_completed(futures):
            try:
                yield fut.result()
            except cf.process.BrokenProcessPool:
                yield FigureResult(futures[fut], "failed", "the worker process died (crashed, or was killed "
                                   "for lack of memory) while building this or another figure")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return os.cpu_count() or 1
