"""Playwright with Debian's Chromium. Missing browser → skip, or failure when REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realparts import unavailable

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        unavailable("BROWSER", f"{CHROMIUM} is not installed (make test installs it with apt)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("BROWSER", "playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class PageWatch:
    """Collects console errors, page errors and CSP violations; a test fails on any."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (self.problems.append(f"dialog opened: {d.message}"), d.dismiss()))

    def assert_clean(self) -> None:
        assert not self.problems, self.problems


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


DOCS = Path(__file__).resolve().parent.parent / "docs"


def docs_shot(page: Any, name: str, selector: str) -> None:
    """With SAMLDEBUG_UPDATE_SCREENSHOTS=1, a viewport-sized picture for the README in docs/."""
    if os.environ.get("SAMLDEBUG_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring in the picture
        page.evaluate(f"document.querySelector('{selector}').scrollIntoView()")
        page.screenshot(path=str(DOCS / f"{name}.png"))
