"""The one module that runs a subprocess: Graphviz's ``dot``, on bytes in, bytes out."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import IO

from ..errors import DotFailed, ExecutableNotFound

__all__ = ["run_dot", "DotProcess", "dot_available", "normalise_pdf", "FORMATS", "DEFAULT_TIMEOUT"]

FORMATS = ("svg", "png", "pdf")
DEFAULT_TIMEOUT = 120.0


def _exe() -> str:
    return os.environ.get("GRAPHVIZ_AD_DOT", "dot")


def dot_available() -> bool:
    return shutil.which(_exe()) is not None


def _limit(timeout: float | None) -> float:
    return timeout if timeout is not None else float(os.environ.get("GRAPHVIZ_AD_DOT_TIMEOUT", DEFAULT_TIMEOUT))


def _env() -> dict[str, str]:
    return dict(os.environ, SOURCE_DATE_EPOCH="0", TZ="UTC")  # dates, where cairo writes any, in UTC


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; dot renders: {', '.join(FORMATS)}")


def _timed_out(limit: float) -> DotFailed:
    return DotFailed(f"Graphviz's dot did not finish within {limit:g} s; the graph may be too large to lay out: "
                     "collapse modules (depth=...), or raise the limit (GRAPHVIZ_AD_DOT_TIMEOUT, in seconds)")


def _result(returncode: int, stdout: bytes, stderr: bytes, fmt: str) -> bytes:
    if returncode != 0:
        err = stderr.decode("utf-8", "replace").strip().splitlines()
        if returncode < 0:
            detail = f"killed by signal {-returncode}"
        else:
            detail = err[-1] if err else f"exit status {returncode}"
        raise DotFailed(f"Graphviz's dot failed ({detail}); the DOT text is available from to_dot() for inspection")
    return normalise_pdf(stdout) if fmt == "pdf" else stdout


def run_dot(dot_text: str, fmt: str = "svg", *, timeout: float | None = None) -> bytes:
    """Lay out and render ``dot_text`` with the ``dot`` binary; raise a named error on any failure."""
    _check_format(fmt)
    exe = _exe()
    limit = _limit(timeout)
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=limit, env=_env(), check=False)
    except (FileNotFoundError, PermissionError) as e:
        raise ExecutableNotFound(exe) from e
    except subprocess.TimeoutExpired as e:
        raise _timed_out(limit) from e
    return _result(proc.returncode, proc.stdout, proc.stderr, fmt)


class DotProcess:
    """``dot`` started now and its result read later, so Python can work while it lays out.

    Files in and out, not pipes: nothing has to be drained meanwhile (a thread feeding a pipe
    would wait for the interpreter lock the caller holds). ``result()`` raises what ``run_dot``
    raises; ``close()`` (also called by ``result()``) stops the process and removes the files.
    Where no temporary file can be written, ``dot`` runs in ``result()`` through ``run_dot``.
    """

    def __init__(self, dot_text: str, fmt: str = "svg", *, timeout: float | None = None) -> None:
        _check_format(fmt)
        self._text, self._fmt, self._timeout = dot_text, fmt, timeout
        self._limit = _limit(timeout)
        self._start = time.monotonic()
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None
        self._out: IO[bytes] | None = None
        self._err: IO[bytes] | None = None
        exe = _exe()
        try:
            self._dir = tempfile.mkdtemp(prefix="graphviz_ad-dot-")
            src = os.path.join(self._dir, "graph.dot")
            with open(src, "wb") as f:
                f.write(dot_text.encode("utf-8"))
            self._out = open(os.path.join(self._dir, "out"), "w+b")
            self._err = open(os.path.join(self._dir, "err"), "w+b")
        except OSError:  # no room for temporary files: run it later through pipes
            self.close()
            return
        try:
            self._proc = subprocess.Popen([exe, f"-T{fmt}", src], stdin=subprocess.DEVNULL, stdout=self._out,
                                          stderr=self._err, env=_env())
        except (FileNotFoundError, PermissionError) as e:
            self.close()
            raise ExecutableNotFound(exe) from e

    def result(self) -> bytes:
        if self._proc is None:
            return run_dot(self._text, self._fmt, timeout=self._timeout)
        try:
            left = max(0.0, self._limit - (time.monotonic() - self._start))
            # wait(timeout=) polls with sleeps of up to 50 ms: a timer kills a late dot instead
            late: list[bool] = []
            proc = self._proc

            def stop() -> None:
                late.append(True)
                proc.kill()

            timer = threading.Timer(left, stop)
            timer.start()
            try:
                returncode = proc.wait()
            finally:
                timer.cancel()
                timer.join()
            if late and returncode != 0:  # (finishing as the timer fired is no failure)
                raise _timed_out(self._limit)
            assert self._out is not None and self._err is not None
            self._out.seek(0)
            self._err.seek(0)
            return _result(returncode, self._out.read(), self._err.read(), self._fmt)
        finally:
            self.close()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for f in (self._out, self._err):
            if f is not None:
                f.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def normalise_pdf(data: bytes) -> bytes:
    """Pin cairo's ``/CreationDate`` to 1970-01-01 (cairo 1.16 ignores SOURCE_DATE_EPOCH), so the same graph
    gives the same bytes. The text keeps its length, so the cross-reference offsets stay valid; in UTC cairo
    writes ``Z``, in other zones ``+HH'MM``, which becomes ``+00'00``."""
    def pin(m: re.Match[bytes]) -> bytes:
        tz = m.group(2) or b""
        return m.group(1) + b"19700101000000" + (tz if tz in (b"", b"Z") else b"+00'00")

    return re.sub(rb"(/(?:CreationDate|ModDate) \(D:)\d{14}(Z|[+-]\d\d'\d\d)?", pin, data)
