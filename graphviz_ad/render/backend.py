"""The one module that runs a subprocess: Graphviz's ``dot``, on bytes in, bytes out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ..errors import DotFailed, ExecutableNotFound

__all__ = ["run_dot", "dot_available", "normalise_pdf", "FORMATS", "DEFAULT_TIMEOUT"]

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
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", TZ="UTC")  # dates, where cairo writes any, in UTC
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
    return normalise_pdf(proc.stdout) if fmt == "pdf" else proc.stdout


def normalise_pdf(data: bytes) -> bytes:
    """Pin cairo's ``/CreationDate`` to 1970-01-01 (cairo 1.16 ignores SOURCE_DATE_EPOCH), so the same graph
    gives the same bytes. The text keeps its length, so the cross-reference offsets stay valid; in UTC cairo
    writes ``Z``, in other zones ``+HH'MM``, which becomes ``+00'00``."""
    def pin(m: re.Match[bytes]) -> bytes:
        tz = m.group(2) or b""
        return m.group(1) + b"19700101000000" + (tz if tz in (b"", b"Z") else b"+00'00")

    return re.sub(rb"(/(?:CreationDate|ModDate) \(D:)\d{14}(Z|[+-]\d\d'\d\d)?", pin, data)
