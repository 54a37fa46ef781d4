"""Faults: dot crashing or hanging, unwritable or full disks, Ctrl-C; nothing partial, nothing left changed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import graphviz_ad as gad
from graphviz_ad.errors import DotFailed, OutputError
from graphviz_ad.frontends.cli import cli
from tests.helpers import leaves, nested_f
from tests.trace.test_recorder import no_global_state_left

ROOT = Path(__file__).resolve().parents[2]


def fake_dot(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "fake-dot"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


@pytest.mark.parametrize("body, message", [
    ("kill -SEGV $$", "killed by signal 11"),
    ("echo 'Error: syntax error in line 1' >&2; exit 1", "syntax error in line 1"),
    ("sleep 30", "did not finish within 1 s"),
])
def test_dot_crash_failure_and_timeout_are_clear_and_write_nothing(tmp_path, monkeypatch, body, message):
    monkeypatch.setenv("GRAPHVIZ_AD_DOT", fake_dot(tmp_path, body))
    monkeypatch.setenv("GRAPHVIZ_AD_DOT_TIMEOUT", "1")
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DotFailed, match=message):
        t.render(out / "f.svg")
    assert list(out.iterdir()) == []
    res = CliRunner().invoke(cli, ["render", "x*2", "--at", "x=1", "-o", str(out / "g.svg")])
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("body, message", [
    ("kill -SEGV $$", "killed by signal 11"),
    ("echo 'Error: syntax error in line 1' >&2; exit 1", "syntax error in line 1"),
    ("sleep 30", "did not finish within 1 s"),
])
def test_stepper_dot_failures_are_the_same_errors_and_leave_no_process_or_file(tmp_path, monkeypatch, body, message):
    """The stepper starts dot (files in and out) while it formats the steps: same errors as run_dot,
    the process stopped and its temporary folder removed."""
    import tempfile

    monkeypatch.setenv("GRAPHVIZ_AD_DOT", fake_dot(tmp_path, body))
    monkeypatch.setenv("GRAPHVIZ_AD_DOT_TIMEOUT", "1")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()
    with pytest.raises(DotFailed, match=message):
        t.stepper().frames()
    assert list(scratch.iterdir()) == []
    assert "x.grad = 0.058131" in t.stepper().text()  # the transcript needs no dot


def test_stepper_without_room_for_temporary_files_runs_dot_through_pipes(monkeypatch):
    import tempfile

    def no_room(*args, **kwargs):
        raise OSError(28, "No space left on device")

    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0)).backward()
    want = t.stepper().frames()
    monkeypatch.setattr(tempfile, "mkdtemp", no_room)
    assert t.stepper().frames() == want


def test_a_stepper_closed_before_dot_finishes_stops_it(tmp_path, monkeypatch):
    from graphviz_ad.output.backend import DotProcess

    monkeypatch.setenv("GRAPHVIZ_AD_DOT", fake_dot(tmp_path, "sleep 30"))
    run = DotProcess("digraph {}", "svg")
    proc = run._proc
    assert proc is not None and proc.poll() is None
    run.close()
    assert proc.poll() is not None


def test_unwritable_destination_is_an_output_error(tmp_path):
    t = gad.trace(nested_f, *leaves(1.0, 2.0, 3.0))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="does not exist"):
        t.render(blocker / "f.json")
    with pytest.raises(OutputError, match="cannot write"):
        t.render("/proc/graphviz_ad_test.json")


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE")
def test_full_disk_leaves_no_partial_file(tmp_path):
    """A real write error from the OS (a file-size limit, as on a full disk): no partial or temp file stays."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))\n"
        "from graphviz_ad.frontends.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", script, "render", "tanh(log(1 + z*(2*x/sin(y))))", "--at", "x=1",
                          "--at", "y=2", "--at", "z=3", "-o", str(tmp_path / "f.json")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert res.returncode == 1, res.stderr
    assert "cannot write" in res.stderr and "nothing was written" in res.stderr
    assert "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_tracing_leaves_nothing_installed():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    net.train()

    def interrupted(x):
        h = net(x)
        signal.raise_signal(signal.SIGINT)  # a real SIGINT: Python raises KeyboardInterrupt here
        return h

    with pytest.raises(KeyboardInterrupt):
        gad.trace(interrupted, torch.ones(1, 2))
    assert no_global_state_left() and net.training
    assert all(p.grad is None for p in net.parameters())
    assert len(gad.trace(lambda x: net(x).sum(), torch.ones(1, 2)).nodes) > 3


def test_ctrl_c_during_backward_restores_grads_and_removes_hooks():
    x = torch.ones(2, requires_grad=True)
    x.grad = torch.full((2,), 9.0)

    def f(x):
        y = x * 3
        y.register_hook(lambda g: signal.raise_signal(signal.SIGINT))
        return y.sum()

    t = gad.trace(f, x)
    with pytest.raises(KeyboardInterrupt):
        t.backward()
    assert torch.equal(x.grad, torch.full((2,), 9.0))
    t2 = gad.trace(lambda x: (x * 2).sum(), x).backward()
    assert [s.grad_fn for s in t2.steps] == ["SumBackward0", "MulBackward0", "AccumulateGrad"]
