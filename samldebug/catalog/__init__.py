"""Explanations as data: every finding code has an entry in `findings.toml`.

Entries are loaded and validated once. Code builds findings through `finding()`, which takes the default
severity, title and fix from the entry, so a code without an entry cannot be emitted (KeyError in tests).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, TypeVar, get_args

import msgspec

from .. import linear
from ..model import Finding, Severity

Category = Literal["attack", "signature", "trust", "config", "time", "status", "input", "info"]
CATEGORIES: tuple[str, ...] = get_args(Category)
AadstsCategory = Literal[
    "app-config",
    "user",
    "assignment",
    "conditional-access",
    "mfa",
    "credentials",
    "federation",
    "request",
    "token",
    "tenant",
    "service",
    "device",
    "consent",
]
AADSTS_CATEGORIES: tuple[str, ...] = get_args(AadstsCategory)
Side = Literal["entra", "sp", "user", "network", "attack", "none"]
SIDES: tuple[str, ...] = get_args(Side)
Text = Annotated[str, msgspec.Meta(pattern=r"\S")]  # a string with something in it
AnyText = str


# The shape of each data-file entry, checked by msgspec: types, required keys, no unknown keys.
class _FindingRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    severity: Severity
    category: Category
    title: Text
    cause: Text
    fix: Text
    settings: tuple[str, ...] = ()


class _AadstsRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Text
    category: AadstsCategory
    severity: Severity
    saml: bool
    cause: Text
    fix: Annotated[tuple[Text, ...], msgspec.Meta(min_length=1)]
    settings: tuple[Text, ...] = ()
    finding: str | None = None
    side: Side | None = None  # where the fix is made; None: the category's default (diagnosis.toml)
    checklist: tuple[Text, ...] = ()  # setup-checklist rows this code marks ✗ (keys of checklist.ROWS)
    sources: tuple[Text, ...] = ()  # the pages the entry rests on, besides Microsoft's AADSTS table
    note: Text | None = None  # where Microsoft's pages disagree, and what is observed


class _ClaimRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    uri: Text
    friendly: Text
    source: AnyText
    multi: bool
    notes: Text


class _NameIdRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    short: Text
    stable: bool
    notes: Text


class _MessageRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    library: Text
    pattern: Text
    finding: Text
    note: Text


class _LibraryRaw(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Text
    default_skew_seconds: int  # -1: unknown
    notes: Text
    skew_setting: AnyText = ""


_R = TypeVar("_R", bound=msgspec.Struct)


def _check(raw: object, shape: type[_R], where: str) -> _R:
    try:
        return msgspec.convert(raw, shape)
    except msgspec.ValidationError as e:
        raise CatalogError(f"{where}: {e}") from None


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
    r = _check(raw, _FindingRaw, f"findings.toml [{code}]")
    return Entry(code, r.severity, r.category, r.title, r.cause, r.fix, r.settings)


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
    e = findings()[code]
    return Finding(code, severity or e.severity, title or e.title, expected, actual, fix or e.fix, where)


def clip(text: str, limit: int = 200) -> str:
    """A value fit for a finding: control characters replaced, length capped (URLs, attribute values)."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


# --- AADSTS codes, claims, NameID formats, SP-library messages (data files beside this module) ----------------


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
    side: str | None = None  # where the fix is made (entra | sp | user | network | attack); None: the category's
    checklist: tuple[str, ...] = ()  # setup-checklist rows this code marks ✗ (keys of checklist.ROWS)
    sources: tuple[str, ...] = ()  # pages the entry rests on (besides Microsoft's AADSTS table)
    note: str | None = None  # where Microsoft's pages disagree, and what is observed


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
    pattern: linear.Pattern[str]
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


@cache
def aadsts() -> dict[str, AadstsEntry]:
    out = {}
    for code, raw in _load("aadsts.toml").items():
        where = f"aadsts.toml [{code}]"
        if not code.isdigit():
            raise CatalogError(f"{where}: the key must be the numeric code")
        r = _check(raw, _AadstsRaw, where)
        if r.finding is not None and r.finding not in findings():
            raise CatalogError(f"{where}: finding {r.finding!r} is not a known finding code")
        out[code] = AadstsEntry(
            code,
            r.title,
            r.category,
            r.severity,
            r.saml,
            r.cause,
            r.fix,
            r.settings,
            r.finding,
            side=r.side,
            checklist=r.checklist,
            sources=r.sources,
            note=r.note,
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
        r = _check(raw, _ClaimRaw, f"claims.toml [{key}]")
        claim = Claim(key, r.uri, r.friendly, r.source, r.multi, r.notes)
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
        r = _check(raw, _NameIdRaw, f"claims.toml [nameid.{uri}]")
        out[uri] = NameIdFormat(uri, r.short, r.stable, r.notes)
    return out


@cache
def library_messages() -> tuple[LibraryMessage, ...]:
    out = []
    for i, raw in enumerate(_load("splib.toml").get("message", [])):
        where = f"splib.toml message #{i + 1}"
        r = _check(raw, _MessageRaw, where)
        if r.finding not in findings():
            raise CatalogError(f"{where}: finding {r.finding!r} is not a known finding code")
        try:  # SP-library messages are matched against pasted text: RE2, linear whatever the paste
            pattern = linear.compile(r.pattern, ignore_case=True)
        except linear.error as e:
            raise CatalogError(f"{where}: bad pattern: {e}") from None
        out.append(LibraryMessage(r.library, pattern, r.finding, r.note))
    return tuple(out)


@cache
def libraries() -> dict[str, Library]:
    out = {}
    for i, raw in enumerate(_load("splib.toml").get("library", [])):
        r = _check(raw, _LibraryRaw, f"splib.toml library #{i + 1}")
        out[r.name] = Library(r.name, r.default_skew_seconds, r.skew_setting, r.notes)
    return out


def load_all() -> None:
    """Load and validate every data file (tests, and app start-up so a broken file fails early)."""
    findings()
    aadsts()
    claims()
    nameid_formats()
    library_messages()
    libraries()
