"""bootstrap.py's decisions (what is missing, which Python, which apt command), without installing anything."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap_under_test", ROOT / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bs = _load_bootstrap()


# -- the script itself -------------------------------------------------------------------------

def test_uses_only_the_standard_library_and_python39_syntax():
    source = (ROOT / "bootstrap.py").read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    imported.discard("__future__")
    if sys.version_info >= (3, 10):
        assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line.startswith("python3 bootstrap.py test")]
    assert commands[0] == "python3 bootstrap.py test"  # the README's command as written, first
    # then the figure and golden checks on torch's portable kernels (other float32 last bits)
    assert "ATEN_CPU_CAPABILITY=default python3 bootstrap.py test tests/test_readme_figures.py" in ci
    assert "python3 bootstrap.py test" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 bootstrap.py demo" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- requirements ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, name, specs, marker", [
    ("torch>=2.1", "torch", [(">=", "2.1")], ""),
    ("pytest-timeout", "pytest-timeout", [], ""),
    ('tomli>=1.1; python_version<"3.11"', "tomli", [(">=", "1.1")], 'python_version<"3.11"'),
    ("graphviz >= 0.20, < 1", "graphviz", [(">=", "0.20"), ("<", "1")], ""),
    ("foo[bar,baz]==1.2.*", "foo", [("==", "1.2.*")], ""),
])
def test_parse_requirement(text, name, specs, marker):
    req = bs.parse_requirement(text)
    assert (req.name, req.specifiers, req.marker) == (name, specs, marker)


def test_parse_requirement_refuses_garbage():
    with pytest.raises(ValueError):
        bs.parse_requirement("torch >> 2")


@pytest.mark.parametrize("version, specs, expected", [
    ("2.13.0+cpu", [(">=", "2.1")], True),
    ("2.13.0+cpu", [("==", "2.13.0")], True),
    ("2.0.1", [(">=", "2.1")], False),
    ("0.21", [(">=", "0.20")], True),     # numeric, not string, comparison
    ("0.9", [(">=", "0.20")], False),
    ("3.6.1", [(">=", "2.8")], True),
    ("8.4.0", [(">=", "8.0"), ("<", "9")], True),
    ("9.0", [(">=", "8.0"), ("<", "9")], False),
    ("1.2.7", [("==", "1.2.*")], True),
    ("1.3", [("==", "1.2.*")], False),
    ("2.5", [("~=", "2.2")], True),
    ("3.0", [("~=", "2.2")], False),
    ("1.0", [("!=", "1.0.0")], False),
    ("7.0", [], True),
])
def test_version_satisfies(version, specs, expected):
    assert bs.version_satisfies(version, specs) is expected


@pytest.mark.parametrize("marker, python, expected", [
    ("", "3.11", True),
    ('python_version<"3.11"', "3.11", False),
    ('python_version<"3.11"', "3.9", True),
    ('python_version < "3.11"', "3.10", True),   # 3.10 > 3.9 numerically
    ('python_version>="3.10" and sys_platform=="linux"', "3.12", True),
    ('python_version>="3.10" and sys_platform=="win32"', "3.12", False),
    ('sys_platform=="win32" or python_version>="3.10"', "3.12", True),
    ('extra == "x" and implementation_name == "pypy"', "3.11", True),  # unknown form: counts as applying
])
def test_marker_applies(marker, python, expected):
    env = {"python_version": python, "python_full_version": python + ".0", "sys_platform": "linux",
           "platform_system": "Linux", "os_name": "posix"}
    assert bs.marker_applies(marker, env) is expected


def test_read_requirements_from_the_real_setup_cfg():
    base = bs.read_requirements(ROOT / "setup.cfg")
    names = [bs.parse_requirement(r).name for r in base]
    assert names == ["torch", "graphviz", "networkx", "click", "numpy", "tomli"]
    assert "torch>=2.1" in base
    dev = bs.read_requirements(ROOT / "setup.cfg", ["dev"])
    assert dev[:len(base)] == base
    assert {"pytest>=7", "pytest-timeout", "playwright", "ipykernel", "nbclient", "jupyterlab"} <= set(dev)


def test_missing_requirements():
    installed = {"torch": "2.13.0+cpu", "graphviz": "0.19", "click": "8.4.0", "tomli": None}
    reqs = ["torch>=2.1", "graphviz>=0.20", "networkx>=2.8", "click>=8.0", 'tomli>=1.1; python_version<"3.11"']
    env311 = {"python_version": "3.11"}
    assert bs.missing_requirements(reqs, installed.get, env311) == ["graphviz>=0.20", "networkx>=2.8"]
    env39 = {"python_version": "3.9"}
    assert bs.missing_requirements(reqs, installed.get, env39) == [
        "graphviz>=0.20", "networkx>=2.8", 'tomli>=1.1; python_version<"3.11"']


def test_torch_ok_without_importing_torch():
    def found(name):
        return object()

    def not_found(name):
        return None

    assert bs.torch_ok({"torch": "2.13.0+cpu"}.get, found)
    assert not bs.torch_ok({}.get, not_found)
    assert not bs.torch_ok({"torch": "2.0.1"}.get, found)          # too old: pin first, not `pip -e .`
    assert not bs.torch_ok({"torch": "2.13.0"}.get, not_found)     # metadata left behind, module gone


# -- which Python ------------------------------------------------------------------------------

@pytest.mark.parametrize("in_venv, managed, writable, has_pip, expected", [
    (False, False, True, True, "current"),    # e.g. pyenv, as root here
    (False, True, True, True, "venv"),        # Debian's /usr/bin/python3 (PEP 668)
    (False, False, False, True, "venv"),      # someone else's Python
    (False, False, True, False, "venv"),      # no pip
    (True, True, True, True, "current"),      # already in a venv: PEP 668 does not apply there
    (True, False, False, True, "current"),
])
def test_python_decision(in_venv, managed, writable, has_pip, expected):
    assert bs.python_decision(in_venv, managed, writable, has_pip) == expected


def test_venv_python_path():
    assert bs.venv_python(Path("/r/.venv")).parts[-2:] in (("bin", "python"), ("Scripts", "python.exe"))


# -- system packages ---------------------------------------------------------------------------

@pytest.mark.parametrize("euid, sudo_works, expected", [
    (0, False, []),
    (0, True, []),
    (1000, True, ["sudo", "-n"]),
    (1000, False, None),
    (None, False, None),   # no euid (Windows)
])
def test_apt_prefix(euid, sudo_works, expected):
    assert bs.apt_prefix(euid, sudo_works) == expected


def test_apt_commands_as_root():
    assert bs.apt_commands(["graphviz", "chromium"], []) == [
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-qq"],
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "graphviz", "chromium"],
    ]


def test_apt_commands_through_sudo_keep_the_frontend_setting():
    update, install = bs.apt_commands(["graphviz"], ["sudo", "-n"])
    assert update[:4] == ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    assert install == ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
                       "graphviz"]


def test_manual_apt_command():
    assert bs.manual_apt_command(["graphviz", "chromium"]) == \
        "sudo apt-get update && sudo apt-get install -y graphviz chromium"


@pytest.mark.parametrize("mode, present, expected", [
    ("demo", {"dot", "chromium"}, []),
    ("demo", {"chromium"}, ["graphviz"]),
    ("demo", set(), ["graphviz"]),           # demo needs no browser
    ("test", {"dot", "chromium"}, []),
    ("test", {"dot"}, ["chromium"]),
    ("test", set(), ["graphviz", "chromium"]),
])
def test_system_packages_needed(mode, present, expected):
    def which(cmd):
        return f"/usr/bin/{cmd}" if cmd in present else None

    assert bs.system_packages_needed(mode, which) == expected


def test_without_root_or_sudo_it_stops_with_the_command(monkeypatch):
    monkeypatch.setattr(bs.shutil, "which", lambda cmd: "/usr/bin/apt-get" if cmd == "apt-get" else None)
    monkeypatch.setattr(bs, "_geteuid", lambda: 1000)
    monkeypatch.setattr(bs, "_sudo_works", lambda: False)

    def no_subprocess(*a, **k):
        raise AssertionError("must not run anything")

    monkeypatch.setattr(bs.subprocess, "run", no_subprocess)
    with pytest.raises(bs.BootstrapError, match=r"sudo apt-get update && sudo apt-get install -y graphviz"):
        bs.install_system_packages(["graphviz"])


def test_nothing_missing_runs_nothing(monkeypatch):
    monkeypatch.setattr(bs.subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    bs.install_system_packages([])


# -- pip ---------------------------------------------------------------------------------------

def test_pip_plan_installs_torch_first_with_the_pin():
    plan = bs.pip_plan(("dev",), "torch==2.13.0", torch_ok=False, missing=["torch>=2.1"], stamp_ok=False,
                       editable_ok=False)
    assert plan == [["torch==2.13.0"], ["-e", ".[dev]"]]


@pytest.mark.parametrize("missing, stamp_ok, editable_ok, expected", [
    ([], True, True, []),                              # the fast path: pip skipped
    (["networkx>=2.8"], True, True, [["-e", "."]]),
    ([], False, True, [["-e", "."]]),                  # setup.cfg or pyproject.toml changed
    ([], True, False, [["-e", "."]]),                  # installed from another checkout
])
def test_pip_plan_for_demo(missing, stamp_ok, editable_ok, expected):
    assert bs.pip_plan((), "torch==2.13.0", True, missing, stamp_ok, editable_ok) == expected


def test_stamp_follows_setup_cfg_and_pyproject(tmp_path):
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = x\n")
    (tmp_path / "pyproject.toml").write_text("")
    first = bs.stamp_digest(tmp_path, "/py", ("dev",))
    assert first == bs.stamp_digest(tmp_path, "/py", ("dev",))
    assert first != bs.stamp_digest(tmp_path, "/py", ())
    assert first != bs.stamp_digest(tmp_path, "/other/py", ("dev",))
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    second = bs.stamp_digest(tmp_path, "/py", ("dev",))
    assert second != first

    stamp = tmp_path / ".bootstrap-stamp"
    assert not bs.stamp_matches(stamp, [second])       # no stamp yet
    stamp.write_text(second + "\n")
    assert bs.stamp_matches(stamp, [first, second])
    assert not bs.stamp_matches(stamp, [first])


@pytest.mark.parametrize("data, expected", [
    ({"url": "file://{root}", "dir_info": {"editable": True}}, True),
    ({"url": "file://{root}/", "dir_info": {"editable": True}}, True),
    ({"url": "file://{root}", "dir_info": {}}, False),                       # a plain (copied) install
    ({"url": "file:///elsewhere/clone", "dir_info": {"editable": True}}, False),
    ({"url": "https://example.org/x.whl", "archive_info": {}}, False),
])
def test_editable_from(tmp_path, data, expected):
    text = json.dumps(data).replace("{root}", tmp_path.as_posix())
    assert bs.editable_from(text, tmp_path) is expected


def test_editable_from_without_metadata(tmp_path):
    assert not bs.editable_from(None, tmp_path)
    assert not bs.editable_from("not json", tmp_path)


# -- pytest's exit codes -----------------------------------------------------------------------

def test_no_tests_is_reported_as_a_failure():
    assert "no test" in bs.pytest_exit_message(5)
    assert bs.pytest_exit_message(0) is None
    assert bs.pytest_exit_message(1) is None


def test_test_passes_everything_after_test_to_pytest(monkeypatch):
    seen = {}
    monkeypatch.setattr(bs, "install_system_packages", lambda pkgs: seen.setdefault("apt", list(pkgs)))
    monkeypatch.setattr(bs, "system_packages_needed", lambda mode: [])
    monkeypatch.setattr(bs, "choose_python", lambda argv: seen.setdefault("argv", list(argv)))
    monkeypatch.setattr(bs, "ensure_python_packages", lambda mode: seen.setdefault("mode", mode))
    monkeypatch.setattr(bs, "run_tests", lambda args: seen.setdefault("pytest", list(args)) and 5)
    assert bs.main(["test", "-x", "-m", "not browser", "--help"]) == 5
    assert seen == {"apt": [], "argv": ["test", "-x", "-m", "not browser", "--help"], "mode": "test",
                    "pytest": ["-x", "-m", "not browser", "--help"]}
