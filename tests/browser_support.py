"""Headless Chromium for the notebook tests: launch (the flags of the stepper's browser test), a watched page,
and the stepper panel's expected text (backward steps and optimizer updates)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graphviz_ad.render.format import fmt_value

__all__ = ["CHROMIUM_ARGS", "launch_browser", "Watched", "fmt", "expected_terms", "texts", "check_panel",
           "check_update_panel"]

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    path = os.environ.get("GRAPHVIZ_AD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.exists(path) else None


def launch_browser() -> Iterator[Any]:
    """For a fixture: ``yield from launch_browser()``; skips with the reason when Playwright or Chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need: pip install playwright")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium executable (install Debian's chromium, or set GRAPHVIZ_AD_CHROMIUM)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page with every console error, page error, dialog and request recorded (``data:`` URLs are not
    network); dialogs (an injected ``alert``) are dismissed."""

    def __init__(self, browser: Any, width: int = 1100) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith("data:") else self.requests.append(r.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> str:
        url = path.as_uri()
        self.page.goto(url)
        return url


def fmt(v: Any) -> str:
    return fmt_value(v, 5).replace("\n", "; ")


def expected_terms(step: Any) -> list[tuple[str, str]]:
    """(local, contribution) of every term the panel shows, formatted as the stepper formats them."""
    out = []
    for loc, con in zip(step.local, step.contributions):
        if loc.to is None and con.value is None:
            continue
        out.append((fmt(loc.value) if loc.value is not None else "", fmt(con.value) if con.value is not None else ""))
    return out


def texts(page: Any, root: str, cls: str) -> list[str]:
    return page.eval_on_selector_all(f"{root} .{cls}", "els => els.map(e => e.textContent)")


def check_panel(page: Any, root: str, k: int, trace: Any) -> None:
    """The stepper at ``root`` shows frame ``k`` of ``trace``, with autograd's numbers in its panel."""
    steps = trace.steps
    assert page.get_attribute(root, "data-step") == str(k)
    current = page.eval_on_selector_all(f"{root} g[data-node].gad-current",
                                        "els => els.map(e => e.getAttribute('data-node'))")
    if k == 0 or k == len(steps) + 1:
        assert current == []
        if k:
            leaves = [n for n in trace.nodes if n.kind in ("input", "param") and n.grad is not None]
            assert texts(page, root, "gad-panel-leafgrad") == [f"{n.label}.grad = {fmt(n.grad)}" for n in leaves]
        return
    step = steps[k - 1]
    assert current == [step.node]
    assert texts(page, root, "gad-panel-title")[0].startswith(f"[{k}] ")
    assert texts(page, root, "gad-panel-upstream") == [fmt(step.upstream)]
    terms = expected_terms(step)
    assert texts(page, root, "gad-panel-local") == [t[0] for t in terms]
    assert texts(page, root, "gad-panel-contrib") == [t[1] for t in terms]


def check_update_panel(page: Any, root: str, j: int, trace: Any) -> None:
    """The stepper at ``root`` shows the optimizer's update ``j`` of ``trace``, with the record's numbers."""
    record = trace.update
    u = record.updates[j]
    assert page.get_attribute(root, "data-step") == str(len(trace.steps) + 2 + j)
    assert "gad-at-update" in page.get_attribute(root, "class").split()
    current = page.eval_on_selector_all(f"{root} g[data-node].gad-current",
                                        "els => els.map(e => e.getAttribute('data-node'))")
    assert current == [u.node]
    title = f"optimizer step ({record.optimizer}{', dry run' if record.dry_run else ''})"
    assert texts(page, root, "gad-panel-title") == [f"{title}: {u.name}"]
    assert texts(page, root, "gad-counter") == [f"{title}: {j + 1} of {len(record.updates)}"]
    assert texts(page, root, "gad-panel-old") == [fmt(u.old)]
    assert texts(page, root, "gad-panel-gradient") == [fmt(u.grad)]
    assert texts(page, root, "gad-panel-new") == [fmt(u.new)]
    keys = list(dict.fromkeys([*u.state_before, *u.state_after]))
    assert texts(page, root, "gad-panel-state-name") == keys
    assert texts(page, root, "gad-panel-before") == [fmt(u.state_before[k]) if k in u.state_before else "none"
                                                     for k in keys]
    assert texts(page, root, "gad-panel-after") == [fmt(u.state_after[k]) if k in u.state_after else "none"
                                                    for k in keys]
    assert texts(page, root, "gad-panel-rule") == [u.rule]
