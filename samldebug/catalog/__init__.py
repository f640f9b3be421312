"""Explanations as data: every finding code has an entry in `findings.toml`.

Entries are loaded and validated once. Code builds findings through `finding()`, which takes the default
severity, title and fix from the entry, so a code without an entry cannot be emitted (KeyError in tests).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

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


def clip(text: str, limit: int = 200) -> str:
    """A value fit for a finding: control characters replaced, length capped (URLs, attribute values)."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


# --- AADSTS codes, claims, NameID formats, SP-library messages (data files beside this module) ----------------

AADSTS_CATEGORIES = (
    "app-config user assignment conditional-access mfa credentials federation request token tenant service "
    "device consent"
).split()


@dataclass(frozen=True)
class AadstsEntry:
    code: str  # digits, without the AADSTS prefix
    title: str
    category: str
    severity: Severity
    saml: bool
    cause: str
    fix: tuple[str, ...]
    settings: tuple[str, ...]
    finding: str | None  # a related samldebug finding code


@dataclass(frozen=True)
class Claim:
    key: str
    uri: str
    friendly: str
    source: str
    multi: bool
    notes: str


@dataclass(frozen=True)
class NameIdFormat:
    uri: str
    short: str
    stable: bool
    notes: str


@dataclass(frozen=True)
class LibraryMessage:
    library: str
    pattern: re.Pattern[str]
    finding: str
    note: str


@dataclass(frozen=True)
class Library:
    name: str
    default_skew_seconds: int  # -1: unknown
    skew_setting: str
    notes: str


def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def _str(where: str, raw: dict[str, Any], key: str, empty_ok: bool = False) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise CatalogError(f"{where}: '{key}' must be a{'' if empty_ok else ' non-empty'} string")
    return value


def _strs(where: str, raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(value)


@cache
def aadsts() -> dict[str, AadstsEntry]:
    out = {}
    for code, raw in _load("aadsts.toml").items():
        where = f"aadsts.toml [{code}]"
        if not code.isdigit():
            raise CatalogError(f"{where}: the key must be the numeric code")
        category = _str(where, raw, "category")
        if category not in AADSTS_CATEGORIES:
            raise CatalogError(f"{where}: unknown category {category!r}")
        related = raw.get("finding")
        if related is not None and related not in findings():
            raise CatalogError(f"{where}: finding {related!r} is not a known finding code")
        if not isinstance(raw.get("saml"), bool):
            raise CatalogError(f"{where}: 'saml' must be true or false")
        fix = _strs(where, raw, "fix")
        if not fix:
            raise CatalogError(f"{where}: 'fix' needs at least one step")
        out[code] = AadstsEntry(
            code=code,
            title=_str(where, raw, "title"),
            category=category,
            severity=Severity(_str(where, raw, "severity")),
            saml=raw["saml"],
            cause=_str(where, raw, "cause"),
            fix=fix,
            settings=_strs(where, raw, "settings"),
            finding=related,
        )
    return out


@cache
def _claims_data() -> dict[str, Any]:
    return _load("claims.toml")


@cache
def claims() -> dict[str, Claim]:
    """Keyed by claim URI."""
    out = {}
    for key, raw in _claims_data().items():
        if key == "nameid":
            continue
        where = f"claims.toml [{key}]"
        if not isinstance(raw.get("multi"), bool):
            raise CatalogError(f"{where}: 'multi' must be true or false")
        claim = Claim(
            key=key,
            uri=_str(where, raw, "uri"),
            friendly=_str(where, raw, "friendly"),
            source=_str(where, raw, "source", empty_ok=True),
            multi=raw["multi"],
            notes=_str(where, raw, "notes"),
        )
        out[claim.uri] = claim
    return out


def claim_by_name(name: str) -> Claim | None:
    """A claim by URI, or by its short name (e.g. 'emailaddress')."""
    found = claims().get(name)
    if found is None:
        found = next((c for c in claims().values() if c.key.lower() == name.lower()), None)
    return found


@cache
def nameid_formats() -> dict[str, NameIdFormat]:
    out = {}
    for uri, raw in _claims_data().get("nameid", {}).items():
        where = f"claims.toml [nameid.{uri}]"
        if not isinstance(raw.get("stable"), bool):
            raise CatalogError(f"{where}: 'stable' must be true or false")
        out[uri] = NameIdFormat(uri, _str(where, raw, "short"), raw["stable"], _str(where, raw, "notes"))
    return out


@cache
def library_messages() -> tuple[LibraryMessage, ...]:
    out = []
    for i, raw in enumerate(_load("splib.toml").get("message", [])):
        where = f"splib.toml message #{i + 1}"
        code = _str(where, raw, "finding")
        if code not in findings():
            raise CatalogError(f"{where}: finding {code!r} is not a known finding code")
        try:
            pattern = re.compile(_str(where, raw, "pattern"), re.I)
        except re.error as e:
            raise CatalogError(f"{where}: bad pattern: {e}") from None
        out.append(LibraryMessage(_str(where, raw, "library"), pattern, code, _str(where, raw, "note")))
    return tuple(out)


@cache
def libraries() -> dict[str, Library]:
    out = {}
    for raw in _load("splib.toml").get("library", []):
        name = _str("splib.toml library", raw, "name")
        skew = raw.get("default_skew_seconds")
        if not isinstance(skew, int):
            raise CatalogError(f"splib.toml library {name}: 'default_skew_seconds' must be an integer")
        out[name] = Library(
            name, skew, str(raw.get("skew_setting", "")), _str(f"splib.toml library {name}", raw, "notes")
        )
    return out


def load_all() -> None:
    """Load and validate every data file (tests, and app start-up so a broken file fails early)."""
    findings()
    aadsts()
    claims()
    nameid_formats()
    library_messages()
    libraries()
