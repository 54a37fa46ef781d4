"""A real JupyterLab for the tests: ``jupyter lab`` on a free localhost port (no browser, a token, a
temporary root, a kernel spec that runs this Python with this checkout), killed at the end; and the
notebook opened in Chromium with its cells run through JupyterLab's own commands."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Lab", "start_lab", "write_notebook"]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


class Lab:
    """A running server: ``url(name)`` opens a notebook under its root; ``open(page, name, cells)`` loads
    it and (unless ``run=False``) runs every cell, waiting for the kernel to finish."""

    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen) -> None:
        self.root, self.port, self.token, self.proc = root, port, token, proc

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{name}?token={self.token}&reset"

    def open(self, page: Any, name: str, cells: int, *, run: bool = True) -> None:
        page.goto(self.url(name))
        # the app (exposed by --LabApp.expose_app_in_browser), the notebook and its kernel, idle
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                               "window.jupyterapp.shell.currentWidget.sessionContext && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                               timeout=120000)
        if run:
            self.run_all(page, cells)

    def run_all(self, page: Any, cells: int) -> None:
        """Run every cell of the notebook in view (JupyterLab's own command), until the kernel is idle again."""
        # saved outputs go first (and their execution counts with them): a count then means this run
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.widgets"
                               ".every(c => c.model.executionCount === null)", timeout=30000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # every cell ran: each shows its execution count, and the kernel is idle again
        page.wait_for_function(
            "n => { const w = window.jupyterapp.shell.currentWidget; const cells = w.content.widgets;"
            " return cells.length === n && cells.every(c => c.model.executionCount !== null)"
            " && w.sessionContext.session.kernel.status === 'idle'; }", arg=cells, timeout=180000)


def _shutdown_kernels(port: int, token: str) -> None:
    """Ask the server to shut its kernels down (they run in sessions of their own)."""
    base, head = f"http://127.0.0.1:{port}/api/kernels", {"Authorization": f"token {token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(base, headers=head), timeout=10) as r:
            kernels = json.load(r)
        for k in kernels:
            req = urllib.request.Request(f"{base}/{k['id']}", headers=head, method="DELETE")
            urllib.request.urlopen(req, timeout=20).close()
    except OSError:
        pass  # the server is going anyway


def start_lab(tmp: Path) -> Iterator[Lab]:
    """For a fixture: ``yield from start_lab(tmp)``; skips where JupyterLab is not installed."""
    pytest.importorskip("jupyterlab", reason="the JupyterLab tests need: pip install jupyterlab")
    pytest.importorskip("ipykernel")
    root, home = tmp / "root", tmp / "home"
    root.mkdir()
    spec = home / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python", "env": {"PYTHONPATH": str(ROOT)}}), encoding="utf-8")
    env = dict(os.environ, JUPYTER_PATH=str(home / "jupyter"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               IPYTHONDIR=str(home / "ipython"), PYDEVD_DISABLE_FILE_VALIDATION="1", PYTHONPATH=str(ROOT))
    port, token = _free_port(), secrets.token_hex(16)
    log = (tmp / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate", "--allow-root",
         "--MappingKernelManager.cull_idle_timeout=0"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({proc.returncode}): {(tmp / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer: {(tmp / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield Lab(root, port, token, proc)
    finally:
        if proc.poll() is None:
            _shutdown_kernels(port, token)
            os.killpg(proc.pid, signal.SIGTERM)  # the server and the kernels it started (its own session)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
