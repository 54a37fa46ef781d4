#!/usr/bin/env python3
"""Install what graphviz_ad needs that is missing, then draw the demo or run the tests.

    python3 bootstrap.py demo [-o DIR]     # draws the nested-function example into DIR (default out/)
    python3 bootstrap.py test [PYTEST ARGS]  # installs the test tools too, runs the whole pytest suite

Standard library only, Python 3.9+. What "missing" means:

- Graphviz's ``dot`` (and, for ``test``, Debian's ``chromium``): installed with
  ``apt-get`` as root or through passwordless ``sudo``; otherwise the script stops
  and prints the command to run.
- Python: the current interpreter, unless it is "externally managed" (PEP 668),
  lacks pip, or its site-packages is not writable; then ``./.venv`` (created if
  needed) and the script runs again inside it. ``torch`` is installed first,
  pinned (``BOOTSTRAP_TORCH``, default ``torch==2.13.0``), when it is not there;
  then ``pip install -e .`` or ``-e .[dev]`` (the test tools: pytest, nbclient and
  ipykernel, JupyterLab, Playwright, ...). pip is skipped when a stamp of
  setup.cfg + pyproject.toml matches, every requirement is installed at a
  satisfying version and graphviz_ad is installed in editable mode from here.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "main", "Requirement", "parse_requirement", "version_satisfies", "marker_applies", "read_requirements",
    "missing_requirements", "python_decision", "apt_prefix", "apt_commands", "manual_apt_command",
    "system_packages_needed", "stamp_digest", "stamp_matches", "editable_from", "pip_plan", "pytest_exit_message",
]

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PACKAGE = "graphviz_ad"
DEFAULT_TORCH = "torch==2.13.0"  # the CPU build that lies on this project's machines; a bare "torch" fetches CUDA
STAMP_NAME = ".bootstrap-stamp"
EXTRAS = {"demo": (), "test": ("dev",)}
# command -> Debian package that provides it; "test" needs everything, "demo" only dot.
SYSTEM_TOOLS = {"demo": (("dot", "graphviz"),), "test": (("dot", "graphviz"), ("chromium", "chromium"))}

VersionGetter = Callable[[str], Optional[str]]


def say(msg: str) -> None:
    """Print one short progress line."""
    print(f"bootstrap: {msg}", flush=True)


class BootstrapError(Exception):
    """Something the user has to fix; the message says what to do."""


# -- requirements: a small parser for the forms setup.cfg uses ---------------------------------

class Requirement:
    """``name[extras] <specifiers> ; <marker>`` reduced to what the checks below need."""

    def __init__(self, name: str, specifiers: List[Tuple[str, str]], marker: str) -> None:
        self.name = name
        self.specifiers = specifiers
        self.marker = marker

    def __repr__(self) -> str:
        spec = ",".join(op + v for op, v in self.specifiers)
        return f"{self.name}{spec}" + (f"; {self.marker}" if self.marker else "")


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.*?))?\s*$")
_SPEC = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,]+)\s*$")


def parse_requirement(text: str) -> Requirement:
    """Parse ``torch>=2.1`` or ``tomli>=1.1; python_version<"3.11"``; raise ValueError otherwise."""
    m = _REQ.match(text)
    if not m:
        raise ValueError(f"cannot parse requirement {text!r}")
    name, specs, marker = m.group(1), m.group(2), m.group(3) or ""
    parsed = []
    for part in filter(None, (p.strip() for p in specs.split(","))):
        sm = _SPEC.match(part)
        if not sm:
            raise ValueError(f"cannot parse version specifier {part!r} in {text!r}")
        parsed.append((sm.group(1), sm.group(2)))
    return Requirement(name, parsed, marker.strip())


def _release(version: str) -> Tuple[int, ...]:
    """The numeric release part of a version: '2.13.0+cpu' -> (2, 13, 0), '1.0rc1' -> (1, 0)."""
    nums = []
    for piece in version.split("+")[0].split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        nums.append(int(m.group()))
        if m.end() != len(piece):
            break
    return tuple(nums)


def _cmp(a: Tuple[int, ...], b: Tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def version_satisfies(version: str, specifiers: Iterable[Tuple[str, str]]) -> bool:
    """Whether ``version`` meets every (operator, version) pair, comparing release numbers only."""
    v = _release(version)
    for op, want in specifiers:
        if want.endswith(".*") and op in ("==", "!="):
            prefix = _release(want[:-2])
            same = v[:len(prefix)] == prefix
            ok = same if op == "==" else not same
        else:
            w = _release(want)
            c = _cmp(v, w)
            if op in ("==", "==="):
                ok = c == 0
            elif op == "!=":
                ok = c != 0
            elif op == ">=":
                ok = c >= 0
            elif op == "<=":
                ok = c <= 0
            elif op == ">":
                ok = c > 0
            elif op == "<":
                ok = c < 0
            else:  # ~=: >= want, and the same up to the last given part
                ok = c >= 0 and v[:len(w) - 1] == w[:len(w) - 1]
        if not ok:
            return False
    return True


_MARKER = re.compile(r"""^\s*(python_version|python_full_version|sys_platform|platform_system|os_name)\s*"""
                     r"""(==|!=|<=|>=|<|>)\s*["']([^"']*)["']\s*$""")


def marker_applies(marker: str, env: Optional[Dict[str, str]] = None) -> bool:
    """Evaluate a simple marker (clauses joined by ``and``/``or``); an unknown form counts as applying."""
    if not marker:
        return True
    if env is None:
        env = {"python_version": "%d.%d" % sys.version_info[:2],
               "python_full_version": "%d.%d.%d" % sys.version_info[:3],
               "sys_platform": sys.platform, "platform_system": _platform_system(), "os_name": os.name}
    results = []
    for alternative in re.split(r"\s+or\s+", marker.strip()):
        ok = True
        for clause in re.split(r"\s+and\s+", alternative):
            m = _MARKER.match(clause.strip().strip("()"))
            if not m:
                return True
            key, op, value = m.groups()
            if key.startswith("python"):
                ok = ok and version_satisfies(env[key], [(op, value)])
            elif op in ("==", "!="):
                ok = ok and ((env[key] == value) == (op == "=="))
            else:
                return True
        results.append(ok)
    return any(results)


def _platform_system() -> str:
    import platform
    return platform.system()


def read_requirements(setup_cfg: Path, extras: Sequence[str] = ()) -> List[str]:
    """``install_requires`` plus the named extras, one requirement string each, from setup.cfg."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(setup_cfg, encoding="utf-8")
    lines = cfg.get("options", "install_requires", fallback="").splitlines()
    for extra in extras:
        lines += cfg.get("options.extras_require", extra, fallback="").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def installed_version(name: str) -> Optional[str]:
    """The installed distribution's version, or None."""
    for candidate in dict.fromkeys((name, name.replace("-", "_"), name.replace("_", "-"))):
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def missing_requirements(requirements: Iterable[str], get_version: VersionGetter = installed_version,
                         marker_env: Optional[Dict[str, str]] = None) -> List[str]:
    """The requirements (as written) that apply here and are not installed at a satisfying version."""
    missing = []
    for text in requirements:
        req = parse_requirement(text)
        if not marker_applies(req.marker, marker_env):
            continue
        version = get_version(req.name)
        if version is None or not version_satisfies(version, req.specifiers):
            missing.append(text)
    return missing


# -- which Python ------------------------------------------------------------------------------

def python_decision(in_venv: bool, externally_managed: bool, site_writable: bool, has_pip: bool) -> str:
    """``"current"`` to install into this interpreter, ``"venv"`` to use ./.venv."""
    if in_venv:
        return "current"
    if externally_managed or not site_writable or not has_pip:
        return "venv"
    return "current"


def _current_python_facts() -> Dict[str, bool]:
    stdlib = Path(sysconfig.get_path("stdlib"))
    purelib = sysconfig.get_path("purelib")
    return {
        "in_venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        "externally_managed": (stdlib / "EXTERNALLY-MANAGED").is_file(),
        "site_writable": os.access(purelib, os.W_OK) if os.path.isdir(purelib) else os.access(
            os.path.dirname(purelib), os.W_OK),
        "has_pip": importlib.util.find_spec("pip") is not None,
    }


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _scripts_dir() -> Path:
    return Path(sysconfig.get_path("scripts"))


# -- system packages ---------------------------------------------------------------------------

def apt_prefix(euid: Optional[int], sudo_works: bool) -> Optional[List[str]]:
    """How to run apt-get: [] as root, ["sudo", "-n"] with passwordless sudo, None when neither works."""
    if euid == 0:
        return []
    if sudo_works:
        return ["sudo", "-n"]
    return None


def apt_commands(packages: Sequence[str], prefix: List[str]) -> List[List[str]]:
    """apt-get update, then one quiet install of ``packages`` (DEBIAN_FRONTEND is set through env)."""
    env = ["env", "DEBIAN_FRONTEND=noninteractive"]
    return [prefix + env + ["apt-get", "update", "-qq"],
            prefix + env + ["apt-get", "install", "-y", "-qq", *packages]]


def manual_apt_command(packages: Sequence[str]) -> str:
    """The command a user without root or passwordless sudo should run."""
    return f"sudo apt-get update && sudo apt-get install -y {' '.join(packages)}"


def system_packages_needed(mode: str, which: Callable[[str], Optional[str]] = shutil.which) -> List[str]:
    """The Debian packages to install for ``mode`` because their command is not found."""
    return [package for command, package in SYSTEM_TOOLS[mode] if which(command) is None]


def _sudo_works() -> bool:
    if shutil.which("sudo") is None:
        return False
    try:
        return subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _geteuid() -> Optional[int]:
    return os.geteuid() if hasattr(os, "geteuid") else None


def install_system_packages(packages: Sequence[str]) -> None:
    """apt-get install ``packages`` as root or through sudo, or raise BootstrapError saying what to run."""
    if not packages:
        return
    if shutil.which("apt-get") is None:
        commands = sorted({c for tools in SYSTEM_TOOLS.values() for c, p in tools if p in packages})
        raise BootstrapError(f"not found: {', '.join(commands)}; there is no apt-get here: install "
                             f"{' and '.join(packages)} with your system's package manager, then run this again")
    prefix = apt_prefix(_geteuid(), _sudo_works())
    if prefix is None:
        raise BootstrapError(f"missing {', '.join(packages)}; run this, then run bootstrap again:\n"
                             f"    {manual_apt_command(packages)}")
    say(f"apt-get install {' '.join(packages)}" + (" (through sudo)" if prefix else ""))
    for cmd in apt_commands(packages, prefix):
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
            raise BootstrapError(f"{' '.join(cmd)} failed (exit {proc.returncode})")


# -- pip ---------------------------------------------------------------------------------------

def stamp_digest(root: Path, python: str, extras: Sequence[str]) -> str:
    """Hash of setup.cfg + pyproject.toml, the interpreter and the extras: what a finished install covered."""
    h = hashlib.sha256()
    for name in ("setup.cfg", "pyproject.toml"):
        path = root / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    h.update(python.encode() + b"\0" + ",".join(sorted(extras)).encode())
    return h.hexdigest()


def stamp_matches(stamp: Path, digests: Sequence[str]) -> bool:
    """Whether the stamp file records one of ``digests``."""
    try:
        return bool(set(stamp.read_text(encoding="utf-8").split()) & set(digests))
    except OSError:
        return False


def editable_from(direct_url_json: Optional[str], root: Path) -> bool:
    """Whether a PEP 610 direct_url.json says: installed in editable mode from ``root``."""
    if not direct_url_json:
        return False
    try:
        data = json.loads(direct_url_json)
    except ValueError:
        return False
    url = data.get("url", "")
    if not (data.get("dir_info") or {}).get("editable") or not url.startswith("file://"):
        return False
    from urllib.parse import unquote, urlparse
    path = unquote(urlparse(url).path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    try:
        return Path(path).resolve() == root.resolve()
    except OSError:
        return False


def _direct_urls(dist_name: str) -> List[Optional[str]]:
    """direct_url.json of every installed copy (setuptools also leaves an .egg-info in the checkout)."""
    return [dist.read_text("direct_url.json") for dist in metadata.distributions(name=dist_name)]


def pip_plan(extras: Sequence[str], torch_spec: str, torch_ok: bool, missing: Sequence[str],
             stamp_ok: bool, editable_ok: bool) -> List[List[str]]:
    """The pip install argument lists to run, in order (empty: nothing to do)."""
    plan: List[List[str]] = []
    if not torch_ok:
        plan.append([torch_spec])
    if plan or missing or not stamp_ok or not editable_ok:
        target = "." + (f"[{','.join(extras)}]" if extras else "")
        plan.append(["-e", target])
    return plan


def torch_ok(get_version: VersionGetter = installed_version, find_spec=importlib.util.find_spec,
             requirement: str = "torch>=2.1") -> bool:
    """torch is importable (found, without importing it: that takes seconds) at a satisfying version."""
    req = parse_requirement(requirement)
    version = get_version("torch")
    return version is not None and find_spec("torch") is not None and version_satisfies(version, req.specifiers)


def ensure_python_packages(mode: str) -> None:
    """pip install torch (when missing) and this project with the mode's extras, unless all is in place."""
    extras = EXTRAS[mode]
    requirements = read_requirements(ROOT / "setup.cfg", extras)
    torch_req = next((r for r in requirements if parse_requirement(r).name == "torch"), "torch")
    importlib.invalidate_caches()
    missing = missing_requirements(requirements)
    stamp = (VENV if _in_our_venv() else ROOT) / STAMP_NAME
    digest = stamp_digest(ROOT, sys.executable, extras)
    # A finished install with more extras ("test") covers one with fewer ("demo").
    covering = [stamp_digest(ROOT, sys.executable, e) for e in EXTRAS.values() if set(extras) <= set(e)]
    editable_ok = any(editable_from(u, ROOT) for u in _direct_urls(PACKAGE))
    plan = pip_plan(extras, os.environ.get("BOOTSTRAP_TORCH", DEFAULT_TORCH), torch_ok(requirement=torch_req),
                    missing, stamp_matches(stamp, covering), editable_ok)
    if not plan:
        say("Python packages in place (pip skipped)")
        return
    for args in plan:
        say("pip install " + " ".join(args) + (" (large, the first time)" if args[0].startswith("torch") else ""))
        cmd = [sys.executable, "-m", "pip", "install", "-qq", *args]
        rc = subprocess.call(cmd, cwd=str(ROOT))
        if rc != 0:
            raise BootstrapError(f"{' '.join(cmd)} failed (exit {rc})")
    importlib.invalidate_caches()
    try:
        stamp.write_text(digest + "\n", encoding="utf-8")
    except OSError as e:
        say(f"could not write {stamp} ({e}); the next run will run pip again")


def _in_our_venv() -> bool:
    try:
        return Path(sys.prefix).resolve() == VENV.resolve()
    except OSError:
        return False


def choose_python(argv: Sequence[str]) -> None:
    """Return if this interpreter is the one to install into; else run this script again in ./.venv."""
    if python_decision(**_current_python_facts()) == "current":
        return
    py = venv_python(VENV)
    if not _venv_works(py):
        why = "externally managed" if _current_python_facts()["externally_managed"] else "read-only or pip-less"
        say(f"creating {VENV.name} ({why} {sys.executable})")
        if not _make_venv():
            pkg = "python%d.%d-venv" % sys.version_info[:2]
            if shutil.which("apt-get") is None:
                raise BootstrapError(f"`{sys.executable} -m venv {VENV}` failed; install Python's venv module")
            install_system_packages([pkg])
            if not _make_venv():
                raise BootstrapError(f"`{sys.executable} -m venv {VENV}` failed even after installing {pkg}")
    say(f"running again inside {VENV.name}")
    cmd = [str(py), str(Path(__file__).resolve()), *argv]
    sys.stdout.flush()
    if os.name == "nt":
        sys.exit(subprocess.call(cmd))
    os.execv(str(py), cmd)


def _venv_works(py: Path) -> bool:
    if not py.exists():
        return False
    try:
        return subprocess.run([str(py), "-c", "import pip"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def _make_venv() -> bool:
    proc = subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:])
    return proc.returncode == 0 and venv_python(VENV).exists()


# -- the two commands --------------------------------------------------------------------------

def pytest_exit_message(rc: int) -> Optional[str]:
    """A line explaining a pytest exit code that needs one (5: no test ran, a failure here)."""
    return {5: "pytest ran no test: counted as a failure",
            2: "pytest was interrupted",
            3: "pytest hit an internal error",
            4: "pytest was called wrongly (usage error)"}.get(rc)


def command_hint(exe: Path, found: Optional[str], python: str) -> str:
    """Where the ``graphviz-ad`` command went: on PATH (``found``, what shutil.which gave), or its
    folder and how to reach it (add the folder to PATH, ``pyenv rehash``, or ``python -m graphviz_ad``)."""
    if found and (not exe.exists() or Path(found).resolve() == exe.resolve()):
        return f"the command is on your PATH: graphviz-ad (at {found}); or run {python} -m graphviz_ad"
    where = f"is at {exe}" if exe.exists() else "was not installed as a script"
    return (f"the graphviz-ad command {where} but not on your PATH (add {exe.parent} to PATH; with pyenv run "
            f"'pyenv rehash'); it also runs as: {python} -m graphviz_ad")


def run_demo(out: Path) -> int:
    exe = _scripts_dir() / ("graphviz-ad.exe" if os.name == "nt" else "graphviz-ad")
    cmd = [str(exe) if exe.exists() else "graphviz-ad", "demo", "-o", str(out)]
    say("running graphviz-ad demo -o " + _show(out))
    try:
        rc = subprocess.call(cmd, cwd=str(ROOT))
    except OSError as e:
        say(f"cannot run {cmd[0]}: {e}")
        return 1
    if rc != 0:
        say(f"graphviz-ad demo failed (exit {rc})")
        return rc
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) if out.is_dir() else []
    say(f"the demo's {len(files)} files are in {_show(out)}/: {', '.join(files)}")
    say(command_hint(exe, shutil.which("graphviz-ad"), sys.executable))
    return 0


def run_tests(pytest_args: Sequence[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", *pytest_args]
    say("running python -m pytest -q" + ("" if not pytest_args else " " + " ".join(pytest_args)))
    sys.stdout.flush()
    rc = subprocess.call(cmd, cwd=str(ROOT))
    msg = pytest_exit_message(rc)
    if msg:
        say(msg)
    return rc


def _show(p: Path) -> str:
    try:
        return os.path.relpath(p)
    except ValueError:
        return str(p)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bootstrap.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", metavar="{demo,test}")
    sub.required = True
    demo = sub.add_parser("demo", help="install what is missing, then draw the demo figures")
    demo.add_argument("-o", "--out", default="out", help="folder for the figures (default: out)")
    sub.add_parser("test", help="install what is missing (test tools too), then run pytest; "
                                "further arguments go to pytest", add_help=False)
    return ap


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _parser()
    if argv and argv[0] == "test":  # everything after "test" belongs to pytest, options included
        mode, pytest_args, out = "test", argv[1:], Path("out")
    else:
        ns = ap.parse_args(argv)
        mode, pytest_args, out = ns.command, [], Path(ns.out).resolve()
    try:
        install_system_packages(system_packages_needed(mode))
        choose_python(argv)
        ensure_python_packages(mode)
    except BootstrapError as e:
        print(f"bootstrap: error: {e}", file=sys.stderr)
        return 1
    return run_demo(out) if mode == "demo" else run_tests(pytest_args)


if __name__ == "__main__":
    sys.exit(main())
