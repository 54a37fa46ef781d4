"""One figure's description (an expression or a model, with render options), checked, and its traced graph.

Shared by ``graphviz-ad figures`` (entries of a TOML file) and the Sphinx directive: both give
a plain dict of the keys below, :func:`parse_entry` checks it into a :class:`FigureSpec`, and
:func:`trace_spec` runs it (the model form imports and runs the user's code).

Keys: ``name``; an expression (``expr``, ``at``, ``dtype``) or a model (``model``, ``input``,
``input_dtype``, ``target``, ``loss``, ``seed``, ``optimizer``); what to write (``outputs``);
how to draw (``theme``, ``rankdir``, ``depth``, ``legend``, ``grads``, ``grad_color``,
``digits``); and ``backward`` (default true).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GraphvizADError
from ..render.options import RenderOptions

__all__ = ["FigureSpec", "FigureError", "parse_entry", "trace_spec", "OUTPUTS", "TRAIN_OUTPUTS", "KEYS",
           "output_names"]

OUTPUTS = ("svg", "png", "pdf", "dot", "json", "frames", "html", "explore")
TRAIN_OUTPUTS = ("html", "json", "png", "svg")  # a training run: its page, its record, its figure
_TRAIN_KEYS = ("epochs", "lr", "momentum", "optimizer", "every", "activations", "compare")
_COMMON = ("name", "outputs", "backward", "theme", "rankdir", "depth", "legend", "grads", "grad_color", "digits")
_EXPR = ("expr", "at", "const", "dtype")
_MODEL = ("model", "input", "input_dtype", "target", "loss", "seed", "optimizer", "train")
KEYS = _COMMON + _EXPR + _MODEL
_OPTIMIZER_KEYS = ("name", "lr", "momentum")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_DTYPES = ("float32", "float64", "float16", "bfloat16")


class FigureError(GraphvizADError, ValueError):
    """A figure entry was refused: an unknown key, a value of the wrong type, a missing key."""


@dataclass(frozen=True)
class FigureSpec:
    """A checked figure entry. ``model`` is ``path.py:attr`` with the path resolved, or ``pkg.mod:attr``."""

    name: str
    outputs: tuple[str, ...]
    options: RenderOptions
    backward: bool = True
    expr: str | None = None
    at: tuple[tuple[str, str], ...] = ()
    const: tuple[tuple[str, str], ...] = ()  # values that do not require grad (a target, a one-hot label)
    dtype: str = "float32"
    model: str | None = None
    model_file: str | None = None
    inputs: tuple[str, ...] = ()
    input_dtype: str = "float"
    target: str | None = None
    loss: str | None = None
    seed: int = 0
    optimizer: tuple[str, float, float] | None = None  # (name, lr, momentum)
    train: Any = None  # a recipes.train.TrainSettings: the figure is a training run, not one trace


def output_names(name: str, fmt: str, train: bool = False) -> str:
    """The file (or, for frames, the folder) an output is written to, relative to the out folder
    (``train``: a training run's, whose page is ``NAME_run.html``)."""
    if train and fmt == "html":
        return f"{name}_run.html"
    if fmt == "frames":
        return f"{name}_frames"
    if fmt == "html":
        return f"{name}_steps.html"
    if fmt == "explore":
        return f"{name}_explore.html"
    return f"{name}.{fmt}"


def _type(key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):  # TOML true is no number
        raise FigureError(f"{key} must be {what}, got {value!r}"[:200])
    return value


def _value_text(name: str, value: Any) -> str:
    """An ``at`` value as the text ``parse_value`` reads: a number, a nested list, or a string of one."""
    if isinstance(value, str):
        return value
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > 8:
            raise FigureError(f"at.{name} has more than 8 nested levels")
        if isinstance(v, list):
            stack.extend((e, depth + 1) for e in v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise FigureError(f"at.{name} must be a number or a nested list of numbers, got {value!r}"[:200])
    return _number_text(value)


def _number_text(value: Any) -> str:
    """Numbers as Python writes them; nan and inf by name (lists nest 8 levels at most: checked above)."""
    if isinstance(value, list):
        return "[" + ", ".join(_number_text(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value)


def _depth(value: Any) -> int | str | None:
    if value == "auto":
        return "auto"
    if value == "all":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise FigureError(f"depth must be a whole number >= 0, \"auto\" or \"all\", got {value!r}"[:200])


def _resolve_model(spec: str, base: Path) -> tuple[str, str | None]:
    """A ``path.py:attr`` spec with a relative path taken from ``base``; dotted modules stay as they are."""
    module, sep, attr = spec.rpartition(":")
    if not sep or not module or not attr:
        raise FigureError(f"model {spec!r}: write PATH.py:ATTR or pkg.module:ATTR, e.g. \"widenet.py:build\"")
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = Path(module)
        path = path if path.is_absolute() else base / path
        return f"{path}:{attr}", str(path)
    return spec, None


def parse_entry(entry: Any, base: Path | str = ".") -> FigureSpec:
    """Check one entry (a dict) into a :class:`FigureSpec`; relative model paths are taken from ``base``."""
    if not isinstance(entry, dict):
        raise FigureError(f"a figure is a table of keys, got {entry!r}"[:200])
    unknown = [k for k in entry if k not in KEYS]
    if unknown:
        raise FigureError(f"unknown key {unknown[0]!r}; known keys: {', '.join(KEYS)}")
    if "name" not in entry:
        raise FigureError("every figure needs a name = \"...\" (its files are NAME.svg, NAME_steps.html, ...)")
    name = _type("name", entry["name"], str, "a string")
    if not _NAME.fullmatch(name):
        raise FigureError(f"name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter or digit")
    has_expr, has_model = "expr" in entry, "model" in entry
    if has_expr == has_model:
        raise FigureError("give either expr = \"...\" (an expression) or model = \"file.py:factory\", not "
                          + ("both" if has_expr else "neither"))
    wrong = [k for k in (_MODEL if has_expr else _EXPR) if k in entry and k not in ("model", "expr")]
    if wrong:
        raise FigureError(f"{wrong[0]} belongs to {'model' if has_expr else 'expression'} figures, "
                          f"not to {'expression' if has_expr else 'model'} figures")
    outputs = entry.get("outputs", ["html"] if "train" in entry else ["svg"])
    if isinstance(outputs, str):
        outputs = [outputs]
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) for o in outputs):
        raise FigureError(f"outputs must be a list such as [\"svg\", \"html\"], got {outputs!r}"[:200])
    allowed = TRAIN_OUTPUTS if "train" in entry else OUTPUTS
    bad = [o for o in outputs if o not in allowed]
    if bad:
        raise FigureError(f"unknown output {bad[0]!r}{' for a training run' if 'train' in entry else ''}; "
                          f"choose from: {', '.join(allowed)}")
    outputs = list(dict.fromkeys(outputs))
    backward = _type("backward", entry.get("backward", True), bool, "true or false")
    if not backward and ("frames" in outputs or "html" in outputs):
        raise FigureError("the frames and html outputs step through the backward pass: drop backward = false")
    kw: dict[str, Any] = {}
    for key, kind, what in (("theme", str, "a string"), ("rankdir", str, "a string"), ("legend", bool, "true or false"),
                            ("grads", bool, "true or false"), ("grad_color", bool, "true or false"),
                            ("digits", int, "a whole number")):
        if key in entry:
            kw[key] = _type(key, entry[key], kind, what)
    if "depth" in entry:
        kw["depth"] = _depth(entry["depth"])
    try:
        options = RenderOptions(**kw)
    except ValueError as e:
        raise FigureError(str(e)) from None
    common = {"name": name, "outputs": tuple(outputs), "options": options, "backward": backward}
    if has_expr:
        return _expr_spec(entry, common)
    return _model_spec(entry, common, Path(base))


def _expr_spec(entry: dict[str, Any], common: dict[str, Any]) -> FigureSpec:
    expr = _type("expr", entry["expr"], str, "a string")
    at = entry.get("at", {})
    if not isinstance(at, dict):
        raise FigureError(f"at must be a table such as {{x = 1, y = 2}}, got {at!r}"[:200])
    values = tuple((str(k), _value_text(str(k), v)) for k, v in at.items())
    const = entry.get("const", {})
    if not isinstance(const, dict):
        raise FigureError(f"const must be a table such as {{t = [0, 1, 0]}}, got {const!r}"[:200])
    consts = tuple((str(k), _value_text(str(k), v)) for k, v in const.items())
    twice = sorted({n for n, _ in values} & {n for n, _ in consts})
    if twice:
        raise FigureError(f"{twice[0]} is in both at and const: give each name once")
    dtype = _type("dtype", entry.get("dtype", "float32"), str, "a string")
    if dtype not in _DTYPES:
        raise FigureError(f"dtype {dtype!r}: choose one of {', '.join(_DTYPES)}")
    _check_expr(expr, values + consts, dtype)
    return FigureSpec(expr=expr, at=values, const=consts, dtype=dtype, **common)


def _check_expr(expr: str, values: tuple[tuple[str, str], ...], dtype: str) -> None:
    """Refuse a bad expression or value now, before any process is started to trace it."""
    import torch

    from ..errors import ExpressionError
    from .expr import parse_expression, parse_value

    try:
        parse_expression(expr, {n for n, _ in values})
        for n, text in values:
            parse_value(n, text, getattr(torch, dtype))
    except ExpressionError as e:
        raise FigureError(e.pretty()) from None


def _shape_text(key: str, value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "x".join(str(v) for v in value)
    return _type(key, value, str, "a shape such as \"32x1\"")


def _model_spec(entry: dict[str, Any], common: dict[str, Any], base: Path) -> FigureSpec:
    from .models import LOSSES

    model, model_file = _resolve_model(_type("model", entry["model"], str, "a string"), base)
    if "train" in entry:
        return _train_spec(entry, common, model, model_file)
    if "input" not in entry:
        raise FigureError("a model figure needs input = \"32x1\" (or a list of shapes, one per input)")
    raw = entry["input"]
    items = raw if isinstance(raw, list) and raw and not all(isinstance(v, int) for v in raw) else [raw]
    inputs = tuple(_shape_text("input", v) for v in items)
    input_dtype = _type("input_dtype", entry.get("input_dtype", "float"), str, "a string")
    if input_dtype not in ("float", "long"):
        raise FigureError(f"input_dtype {input_dtype!r}: choose float or long")
    loss = entry.get("loss")
    if loss is not None and loss not in LOSSES:
        raise FigureError(f"loss {loss!r}: choose one of {', '.join(LOSSES)}")
    target = _shape_text("target", entry["target"]) if "target" in entry else None
    if target is not None and loss is None:
        raise FigureError("target is the loss's target: add loss = \"mse\" (or cross_entropy)")
    seed = _type("seed", entry.get("seed", 0), int, "a whole number")
    optimizer = None
    if "optimizer" in entry:
        optimizer = _optimizer(entry["optimizer"])
        if loss is None or not common["backward"]:
            raise FigureError("optimizer needs a loss to minimise and the backward pass: add loss = \"mse\"")
    return FigureSpec(model=model, model_file=model_file, inputs=inputs, input_dtype=input_dtype, target=target,
                      loss=loss, seed=seed, optimizer=optimizer, **common)


def _train_spec(entry: dict[str, Any], common: dict[str, Any], model: str, model_file: str | None) -> FigureSpec:
    """``train = {epochs = 300, lr = 0.003, momentum = 0.9, compare = {lr = [0.0003, 0.003]}}``: a run of
    the lesson's loop under watch (the factory returns a model, with input/target shapes, or (model,
    inputs, targets)); ``loss`` and ``seed`` are the entry's."""
    from ..errors import OptionError
    from .train import TrainSettings, check_compare

    value = entry["train"]
    if not isinstance(value, dict):
        raise FigureError(f"train must be a table such as {{epochs = 300, lr = 0.003}}, got {value!r}"[:200])
    unknown = [k for k in value if k not in _TRAIN_KEYS]
    if unknown:
        raise FigureError(f"train: unknown key {unknown[0]!r}; known keys: {', '.join(_TRAIN_KEYS)}")
    if "epochs" not in value:
        raise FigureError("train needs epochs = N (optimizer steps, one full batch each)")
    for key in ("optimizer",):
        if key in entry:
            raise FigureError(f"{key} belongs to one traced step; a training run sets it in train = {{...}}")
    kw: dict[str, Any] = {"epochs": _type("train.epochs", value["epochs"], int, "a whole number")}
    for key, kind, what in (("lr", (int, float), "a number"), ("momentum", (int, float), "a number"),
                            ("optimizer", str, "a string"), ("every", int, "a whole number"),
                            ("activations", bool, "true or false")):
        if key in value:
            kw[key] = _type(f"train.{key}", value[key], kind, what)
    compare = value.get("compare")
    try:
        if compare is not None:
            if not isinstance(compare, dict) or len(compare) != 1:
                raise FigureError("train.compare must be a table of one setting, e.g. {lr = [0.0003, 0.003, 0.03]}")
            (key, values), = compare.items()
            if not isinstance(values, list):
                raise FigureError(f"train.compare.{key} must be a list of values")
            kw["compare"] = check_compare(str(key), values)
        settings = TrainSettings(loss=entry.get("loss", "mse"), seed=_type("seed", entry.get("seed", 0), int,
                                                                          "a whole number"), **kw)
    except OptionError as e:
        raise FigureError(f"train: {e}") from None
    raw = entry.get("input", [])
    items = raw if isinstance(raw, list) and not all(isinstance(v, int) for v in raw) else [raw]
    inputs = tuple(_shape_text("input", v) for v in items) if raw != [] else ()
    target = _shape_text("target", entry["target"]) if "target" in entry else None
    return FigureSpec(model=model, model_file=model_file, inputs=inputs, target=target, loss=settings.loss,
                      seed=settings.seed, train=settings, **common)


def _optimizer(value: Any) -> tuple[str, float, float]:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise FigureError(f"optimizer must be a table such as {{name = \"sgd\", lr = 0.003, momentum = 0.9}}, "
                          f"got {value!r}"[:200])
    unknown = [k for k in value if k not in _OPTIMIZER_KEYS]
    if unknown:
        raise FigureError(f"optimizer: unknown key {unknown[0]!r}; known keys: {', '.join(_OPTIMIZER_KEYS)}")
    name = value.get("name")
    if name not in ("sgd", "adam"):
        raise FigureError(f"optimizer name {name!r}: choose sgd or adam")
    lr = _type("optimizer.lr", value.get("lr", 0.01), (int, float), "a number")
    momentum = _type("optimizer.momentum", value.get("momentum", 0.0), (int, float), "a number")
    if name == "adam" and "momentum" in value:
        raise FigureError("optimizer: momentum is for sgd; adam has none")
    return name, float(lr), float(momentum)


# -- tracing --------------------------------------------------------------------------------------
def trace_spec(spec: FigureSpec) -> Any:
    """Trace the figure (and run its backward unless ``backward = false``); returns a Trace."""
    from .models import trace_model

    if spec.model is None:
        return _trace_expr(spec)
    return trace_model(spec.model, spec.inputs, input_dtype=spec.input_dtype, target_shape=spec.target,
                       loss=spec.loss, seed=spec.seed, optimizer=spec.optimizer, backward=spec.backward)


def _trace_expr(spec: FigureSpec) -> Any:
    import torch

    from .expr import backward_from_ones, parse_value, trace_expression

    dtype = getattr(torch, spec.dtype)
    values = {n: parse_value(n, text, dtype) for n, text in spec.at}
    values.update((n, parse_value(n, text, dtype).detach()) for n, text in spec.const)
    t = trace_expression(spec.expr or "", values)
    return backward_from_ones(t) if spec.backward else t


