"""The one module that runs a subprocess: Graphviz's ``dot``, on bytes in, bytes out."""

from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import DotFailed, ExecutableNotFound

__all__ = ["run_dot", "dot_available", "FORMATS", "DEFAULT_TIMEOUT"]

FORMATS = ("svg", "png", "pdf")
DEFAULT_TIMEOUT = 120.0


def _exe() -> str:
    return os.environ.get("GRAPHVIZ_AD_DOT", "dot")


def dot_available() -> bool:
    return shutil.which(_exe()) is not None


def run_dot(dot_text: str, fmt: str = "svg", *, timeout: float | None = None) -> bytes:
    """Lay out and render ``dot_text`` with the ``dot`` binary; raise a named error on any failure."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; dot renders: {', '.join(FORMATS)}")
    exe = _exe()
    env = dict(os.environ, SOURCE_DATE_EPOCH="0")  # cairo's PDF writer puts no creation date then
    limit = timeout if timeout is not None else float(os.environ.get("GRAPHVIZ_AD_DOT_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=limit, env=env, check=False)
    except FileNotFoundError as e:
        raise ExecutableNotFound(exe) from e
    except PermissionError as e:
        raise ExecutableNotFound(exe) from e
    except subprocess.TimeoutExpired as e:
        raise DotFailed(f"Graphviz's dot did not finish within {limit:g} s; the graph may be too large to lay out: "
                        "collapse modules (depth=...), or raise the limit (GRAPHVIZ_AD_DOT_TIMEOUT, in seconds)") from e
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        if proc.returncode < 0:
            detail = f"killed by signal {-proc.returncode}"
        else:
            detail = err[-1] if err else f"exit status {proc.returncode}"
        raise DotFailed(f"Graphviz's dot failed ({detail}); the DOT text is available from to_dot() for inspection")
    return proc.stdout
