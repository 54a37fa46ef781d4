"""Writing output files atomically: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import OutputError

__all__ = ["write_atomic", "format_from_path"]

_SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".json": "json",
             ".html": "html", ".htm": "html", ".txt": "text"}


def format_from_path(path: str | os.PathLike[str], allowed: tuple[str, ...]) -> str:
    suffix = Path(path).suffix.lower()
    fmt = _SUFFIXES.get(suffix)
    if fmt is None or fmt not in allowed:
        raise ValueError(f"cannot tell the output format from {str(path)!r}; use a file name ending in "
                         + ", ".join(sorted({s for s, f in _SUFFIXES.items() if f in allowed})))
    return fmt


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write all of ``data`` to ``path`` or nothing at all."""
    target = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"cannot write {str(target)!r}: the folder {str(directory)!r} does not exist; create it first")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise OutputError(f"cannot write {str(target)!r}: {e.strerror or e}; nothing was written") from e
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return target
