"""axe-core in the browser tests: run it on the page as served (strict CSP untouched) and list what it finds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
BLOCKING = ("serious", "critical")


def run_axe(page: Any, context: str = "document") -> list[dict[str, Any]]:
    """Every violation axe reports (all rules of its default set: WCAG 2.0/2.1/2.2 A and AA plus best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # DevTools evaluation: not subject to the page's CSP
    result: dict[str, Any] = page.evaluate(f"async () => await axe.run({context}, {{resultTypes: ['violations']}})")
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def blocking(violations: list[dict[str, Any]]) -> list[str]:
    """Serious and critical violations, one line each with the elements they concern."""
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:5]}"
        for v in violations
        if v.get("impact") in BLOCKING
    ]


def assert_accessible(page: Any, name: str) -> list[dict[str, Any]]:
    violations = run_axe(page)
    found = blocking(violations)
    assert not found, f"axe on {name}: " + "\n".join(found)
    return violations
