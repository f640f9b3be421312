"""Explanations as data: every finding code has an entry in `findings.toml`.

Entries are loaded and validated once. Code builds findings through `finding()`, which takes the default
severity, title and fix from the entry, so a code without an entry cannot be emitted (KeyError in tests).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..model import Finding, Severity

CATEGORIES = ("attack", "signature", "trust", "config", "time", "status", "input", "info")


@dataclass(frozen=True)
class Entry:
    code: str
    severity: Severity
    category: str
    title: str
    cause: str
    fix: str
    settings: tuple[str, ...] = ()  # names of the Entra / SP settings involved

    @property
    def attack(self) -> bool:
        return self.category == "attack"


class CatalogError(ValueError):
    pass


def _entry(code: str, raw: dict[str, object]) -> Entry:
    for key in ("severity", "category", "title", "cause", "fix"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"findings.toml [{code}]: '{key}' must be a non-empty string")
    if raw["category"] not in CATEGORIES:
        raise CatalogError(f"findings.toml [{code}]: unknown category {raw['category']!r}")
    settings = raw.get("settings", [])
    if not isinstance(settings, list) or not all(isinstance(s, str) for s in settings):
        raise CatalogError(f"findings.toml [{code}]: 'settings' must be a list of strings")
    unknown = set(raw) - {"severity", "category", "title", "cause", "fix", "settings"}
    if unknown:
        raise CatalogError(f"findings.toml [{code}]: unknown keys {sorted(unknown)}")
    return Entry(
        code=code,
        severity=Severity(str(raw["severity"])),
        category=str(raw["category"]),
        title=str(raw["title"]),
        cause=str(raw["cause"]),
        fix=str(raw["fix"]),
        settings=tuple(settings),
    )


@cache
def findings() -> dict[str, Entry]:
    text = resources.files(__package__).joinpath("findings.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {code: _entry(code, raw) for code, raw in data.items()}


def entry(code: str) -> Entry:
    return findings()[code]


def finding(
    code: str,
    title: str | None = None,
    *,
    expected: str | None = None,
    actual: str | None = None,
    fix: str | None = None,
    where: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """A Finding for `code`, with the catalog's defaults for what the caller leaves out."""
    e = entry(code)
    return Finding(
        code=code,
        severity=severity or e.severity,
        title=title or e.title,
        expected=expected,
        actual=actual,
        fix=fix or e.fix,
        where=where,
    )
