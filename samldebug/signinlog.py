"""Read Microsoft Entra sign-in logs: one event as Microsoft Graph returns it (`/auditLogs/signIns/{id}`), a Graph
list page (`{"value": [...]}`), the admin center's JSON download (an array; interactive and non-interactive) and its
CSV download (UTF-8 with a BOM). Pure: bytes in, `SignInLog` out; no IO beyond the buffer given.

Field names follow Microsoft's published resource documentation: signIn, signInStatus (errorCode, failureReason,
additionalDetails), appliedConditionalAccessPolicy (displayName, result, enforcedGrantControls,
conditionsNotSatisfied), authenticationDetail (authenticationMethod, authenticationStepRequirement, succeeded,
authenticationStepResultDetail), deviceDetail and signInLocation. The CSV column headers are those of the admin
center's "Download → CSV" files (InteractiveSignIns_*.csv / NonInteractiveSignIns_*.csv), including its quirks
("Application ID " with a trailing space, "Incoming token type" twice).

Streaming, not loading: a day's download can be tens of MB. JSON arrays are split by msgspec into `Raw` slices of
the input (zero copy; the input may be an mmap) and each event is decoded alone into a struct that declares only the
fields used, folded into the counts and groups, and dropped; only the failed and interrupted events (up to
MAX_KEPT) are kept whole. CSV goes through the csv module over a text stream on the buffer, one row at a time.
One event of an unexpected shape is counted as unreadable instead of failing the log.
"""

from __future__ import annotations

import csv
import io
import mmap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final, NamedTuple

import msgspec

from . import linear
from .catalog import _load, finding
from .decode import mib, oversized
from .instants import iso, parse_instant
from .model import AnalysisStop, AuthStep, CaPolicy, Finding, SignInEvent, SignInGroup, SignInLog

MAX_KEPT: Final = 200  # events kept whole (failures and interrupts first)
MAX_GROUPS: Final = 2000  # distinct (user, app, code) groups counted; the rest are counted as "other"
MAX_SUCCESS_IDS: Final = 100_000  # correlation IDs of successes remembered to resolve interrupts
RESOLVE_WINDOW: Final = timedelta(hours=1)  # an interrupt followed by a success of the same user and app within this
_UTF8_BOM: Final = b"\xef\xbb\xbf"
# Patterns over untrusted text: RE2 (linear time whatever the input).
_ARRAY_OF_OBJECTS: Final = linear.compile(rb"\A\[\s*\{")
_GRAPH_PAGE: Final = linear.compile(rb'\A\{\s*"(?:value|@odata\.context)"\s*:')
_NON_SPACE: Final = linear.compile(rb"\S")


# --- the public result ---------------------------------------------------------------------------------------


# --- data (catalog/signin.toml) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantControl:
    key: str
    label: str  # the Entra portal's wording
    fix: str
    codes: tuple[str, ...]  # AADSTS codes that mean this control was not met


@dataclass(frozen=True)
class SignInData:
    interrupts: frozenset[str]
    cross_tenant: frozenset[str]  # codes that say the user is not (allowed in as) a member or guest of the tenant
    grant_controls: dict[str, GrantControl]  # normalised logged name → control
    control_by_code: dict[str, GrantControl]


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isascii() and c.isalnum()).removeprefix("require")


@cache
def data() -> SignInData:
    raw = _load("signin.toml")
    interrupts = frozenset(str(c) for c in raw["interrupts"]["codes"])
    controls: dict[str, GrantControl] = {}
    by_code: dict[str, GrantControl] = {}
    for key, entry in raw["grant_control"].items():
        control = GrantControl(
            key, str(entry["label"]), str(entry["fix"]), tuple(str(c) for c in entry.get("codes", []))
        )
        for name in [key, *entry.get("logged", [])]:
            controls[_norm(str(name))] = control
        for code in control.codes:
            by_code[code] = control
    cross_tenant = frozenset(str(c) for c in raw["cross_tenant"]["codes"])
    return SignInData(interrupts, cross_tenant, controls, by_code)


def grant_control(logged: str) -> GrantControl | None:
    """The control a logged enforcedGrantControls value names ("Mfa", "RequireCompliantDevice", …)."""
    return data().grant_controls.get(_norm(logged))


# --- recognising -----------------------------------------------------------------------------------------------

_EVENT_KEYS: Final = (b'"createdDateTime"', b'"correlationId"', b'"appDisplayName"', b'"userPrincipalName"')
_STATUS_KEYS: Final = (b'"status"', b'"errorCode"', b'"conditionalAccessStatus"')
_CSV_REQUIRED: Final = ("date (utc)",)
_CSV_ANY_ID: Final = ("request id", "correlation id")
_CSV_ANY_STATUS: Final = ("status", "sign-in error code")


SNIFF_HEAD: Final = 16384  # how much of the input `sniff` reads


def sniff(data: bytes | memoryview | mmap.mmap) -> str | None:
    """ "json" or "csv" when the head of `data` looks like an Entra sign-in log, "other-log" when it looks like a
    log of some other product (a JSON array of objects, a CSV with a header row), else None. Cheap: the first
    16 KiB only."""
    head = bytes(data[:SNIFF_HEAD]).removeprefix(_UTF8_BOM)
    stripped = head.lstrip()
    if stripped[:1] in (b"[", b"{"):
        events = sum(1 for k in _EVENT_KEYS if k in head)
        status = any(k in head for k in _STATUS_KEYS)
        if events >= 2 and status:
            return "json"
        if stripped[:1] == b"[" and _ARRAY_OF_OBJECTS.match(stripped[:4096]):
            return "other-log"
        if _GRAPH_PAGE.match(stripped[:4096]):
            return "other-log"
        return None
    first = stripped.split(b"\n", 1)[0].strip(b"\r")
    if first.count(b",") < 2 or b"<" in first or len(first) > 8192:
        return None
    columns = [c.strip().lower() for c in _csv_row(first)]
    if _is_signin_header(columns):
        return "csv"
    if len(columns) >= 3 and all(0 < len(c) <= 64 for c in columns) and b"\n" in stripped:
        second = stripped.split(b"\n", 2)[1].strip(b"\r")
        if len(_csv_row(second)) == len(columns) and b"AADSTS" not in first:
            return "other-log"
    return None


def _csv_row(line: bytes) -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8", "replace")]), [])
    except csv.Error:
        return []


def _is_signin_header(columns: list[str]) -> bool:
    names = {" ".join(c.split()) for c in columns}
    return (
        all(c in names for c in _CSV_REQUIRED)
        and any(c in names for c in _CSV_ANY_ID)
        and any(c in names for c in _CSV_ANY_STATUS)
    )


def split_paste(data: bytes, limit: int = 4 * 1024 * 1024) -> tuple[bytes, bytes] | None:
    """Two inputs in one paste: evidence (an error page's text, a SAML message, an error URL) followed by a sign-in
    log (a Graph event / page, or the CSV download with its header line). Returns (evidence, log), or None when the
    paste is not such a pair. Only the first `limit` bytes are searched."""
    head = data[:limit]
    cut = -1
    mark = head.find(b'"createdDateTime"')
    if mark > 0:
        cut = max(head.rfind(b"\n{", 0, mark), head.rfind(b"\n[", 0, mark))
    else:
        csv_mark = head.find(b"\nDate (UTC),")
        if csv_mark < 0:
            csv_mark = head.find(b"\n\xef\xbb\xbfDate (UTC),")
        cut = csv_mark
    if cut <= 0:
        return None
    evidence, log = data[:cut].strip(), data[cut + 1 :]
    if not evidence or sniff(log) not in ("json", "csv"):
        return None
    return evidence, log


# --- helpers ---------------------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """createdDateTime ("2026-03-01T09:29:31.6195833Z", seven fraction digits) or the CSV's "Date (UTC)"."""
    return parse_instant(value.strip()) if value else None


def _iso_or(value: str | None) -> str | None:
    t = parse_time(value)
    return iso(t) if t else (value.strip() or None if value else None)


def _s(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "1"):
            return True
        if v in ("false", "no", "0"):
            return False
    return None


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def outcome_of(code: int, status_text: str | None = None) -> str:
    """success | interrupt | failure. Interrupts are expected steps of an interactive sign-in (the MFA prompt,
    'Keep me signed in', password registration): the admin center shows them as "Interrupted"."""
    text = (status_text or "").strip().lower()
    if code == 0 and text in ("", "success"):
        return "success"
    if text == "interrupted" or str(code) in data().interrupts:
        return "interrupt"
    return "failure" if code != 0 or text == "failure" else "success"


# --- msgspec shapes: only the fields read --------------------------------------------------------------------


class _Status(msgspec.Struct, rename="camel"):
    error_code: int | str | None = None
    failure_reason: str | None = None
    additional_details: str | None = None


class _Policy(msgspec.Struct, rename="camel"):
    id: str | None = None
    display_name: str | None = None
    result: str | None = None
    enforced_grant_controls: list[str | None] | None = None
    enforced_session_controls: list[str | None] | None = None
    conditions_not_satisfied: str | int | None = None


class _AuthDetail(msgspec.Struct, rename="camel"):
    authentication_step_date_time: str | None = None
    authentication_method: str | None = None
    authentication_step_requirement: str | None = None
    authentication_step_result_detail: str | None = None
    succeeded: bool | str | None = None


class _Device(msgspec.Struct, rename="camel"):
    device_id: str | None = None
    display_name: str | None = None
    operating_system: str | None = None
    browser: str | None = None
    is_compliant: bool | str | None = None
    is_managed: bool | str | None = None
    trust_type: str | None = None


class _Location(msgspec.Struct, rename="camel"):
    city: str | None = None
    state: str | None = None
    country_or_region: str | None = None


class _Event(msgspec.Struct, rename="camel"):
    id: str | None = None
    created_date_time: str | None = None
    user_display_name: str | None = None
    user_principal_name: str | None = None
    user_id: str | None = None
    user_type: str | None = None
    home_tenant_id: str | None = None
    resource_tenant_id: str | None = None
    cross_tenant_access_type: str | None = None
    app_id: str | None = None
    app_display_name: str | None = None
    resource_display_name: str | None = None
    resource_id: str | None = None
    authentication_protocol: str | None = None
    client_app_used: str | None = None
    is_interactive: bool | None = None
    ip_address: str | None = None
    location: _Location | None = None
    device_detail: _Device | None = None
    status: _Status | None = None
    conditional_access_status: str | None = None
    applied_conditional_access_policies: list[_Policy] | None = None
    authentication_requirement: str | None = None
    authentication_details: list[_AuthDetail] | None = None
    correlation_id: str | None = None


class _Top(msgspec.Struct):
    value: list[msgspec.Raw] | None = None
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")
    context: str | None = msgspec.field(default=None, name="@odata.context")


_EVENT: Final = msgspec.json.Decoder(_Event)
_TOP: Final = msgspec.json.Decoder(_Top)
_ARRAY: Final = msgspec.json.Decoder(list[msgspec.Raw])


def _location(loc: _Location | None) -> str | None:
    if loc is None:
        return None
    parts = [p for p in (loc.city, loc.state, loc.country_or_region) if p]
    return ", ".join(parts) or None


def _device(d: _Device | None) -> str | None:
    if d is None:
        return None
    parts = [p for p in (d.display_name, d.operating_system, d.browser) if p]
    return ", ".join(parts) or None


def _from_graph(e: _Event, row: int, source: str) -> SignInEvent | None:
    if e.created_date_time is None and e.status is None and e.correlation_id is None:
        return None  # not a sign-in event
    status = e.status or _Status()
    code = _code(status.error_code) or 0
    d = e.device_detail or _Device()
    policies = tuple(
        CaPolicy(
            name=p.display_name or p.id or "(unnamed policy)",
            id=p.id,
            result=p.result or "unknown",
            grant_controls=tuple(c for c in p.enforced_grant_controls or () if c),
            session_controls=tuple(c for c in p.enforced_session_controls or () if c),
            conditions_not_satisfied=_s(p.conditions_not_satisfied),
        )
        for p in e.applied_conditional_access_policies or ()
    )
    steps = tuple(
        AuthStep(
            _iso_or(a.authentication_step_date_time),
            a.authentication_method,
            a.authentication_step_requirement,
            _bool(a.succeeded),
            a.authentication_step_result_detail,
        )
        for a in e.authentication_details or ()
    )
    return SignInEvent(
        row=row,
        time=_iso_or(e.created_date_time),
        request_id=_s(e.id),
        correlation_id=_s(e.correlation_id),
        user=_s(e.user_principal_name),
        user_name=_s(e.user_display_name),
        user_id=_s(e.user_id),
        user_type=_s(e.user_type),
        home_tenant_id=_s(e.home_tenant_id),
        resource_tenant_id=_s(e.resource_tenant_id),
        cross_tenant_access_type=_s(e.cross_tenant_access_type),
        app_id=_s(e.app_id),
        app_name=_s(e.app_display_name),
        resource_name=_s(e.resource_display_name),
        resource_id=_s(e.resource_id),
        protocol=_s(e.authentication_protocol),
        client_app=_s(e.client_app_used),
        interactive=e.is_interactive,
        ip=_s(e.ip_address),
        location=_location(e.location),
        device=_device(d),
        device_id=_s(d.device_id),
        compliant=_bool(d.is_compliant),
        managed=_bool(d.is_managed),
        trust_type=_s(d.trust_type),
        error_code=code,
        failure_reason=_s(status.failure_reason),
        additional_details=_s(status.additional_details),
        conditional_access=_s(e.conditional_access_status),
        policies=policies,
        auth_requirement=_s(e.authentication_requirement),
        auth_steps=steps,
        outcome=outcome_of(code),
        source=source,
    )


# --- CSV columns (admin center download) -----------------------------------------------------------------------

# Column header (normalised: lower case, single spaces, trimmed) → SignInEvent field. Every other column the admin
# center writes is known but not used; anything else is reported as an unknown column.
CSV_FIELDS: Final = {
    "date (utc)": "time",
    "request id": "request_id",
    "correlation id": "correlation_id",
    "user id": "user_id",
    "user": "user_name",
    "username": "user",
    "user type": "user_type",
    "cross tenant access type": "cross_tenant_access_type",
    "authentication protocol": "protocol",
    "application": "app_name",
    "application id": "app_id",
    "resource": "resource_name",
    "resource id": "resource_id",
    "resource tenant id": "resource_tenant_id",
    "home tenant id": "home_tenant_id",
    "ip address": "ip",
    "location": "location",
    "status": "status",
    "sign-in error code": "error_code",
    "failure reason": "failure_reason",
    "client app": "client_app",
    "device id": "device_id",
    "browser": "browser",
    "operating system": "os",
    "compliant": "compliant",
    "managed": "managed",
    "join type": "trust_type",
    "multifactor authentication result": "mfa_result",
    "multifactor authentication auth method": "mfa_method",
    "multifactor authentication auth detail": "mfa_detail",
    "authentication requirement": "auth_requirement",
    "conditional access": "conditional_access",
    "additional details": "additional_details",
}
CSV_KNOWN_UNUSED: Final = frozenset(
    {
        "user agent",
        "incoming token type",
        "unique token identifier",
        "original transfer method",
        "client credential type",
        "token protection - sign in session",
        "token protection - sign in session statuscode",
        "app owner tenant id",
        "resource owner tenant id",
        "home tenant name",
        "sign-in identifier",
        "session id",
        "ip address (seen by resource)",
        "through global secure access",
        "global secure access ip address",
        "autonomous system number",
        "flagged for review",
        "token issuer type",
        "token issuer name",
        "latency",
        "managed identity type",
        "associated resource id",
        "federated token id",
        "federated token issuer",
        "service principal id",
        "service principal name",
        "credential key id",
        "credential thumbprint",
    }
)


def _header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).lower()


def _from_csv(row: dict[str, str], line: int) -> SignInEvent | None:
    def g(key: str) -> str | None:
        return _s(row.get(key))

    code = _code(g("error_code") or "0")
    if code is None:
        return None
    status_text = g("status")
    device = ", ".join(p for p in (g("os"), g("browser")) if p) or None
    steps: tuple[AuthStep, ...] = ()
    if g("mfa_result") or g("mfa_method"):
        steps = (
            AuthStep(None, g("mfa_method"), "MFA", None, ", ".join(p for p in (g("mfa_result"), g("mfa_detail")) if p)),
        )
    ca = g("conditional_access")
    return SignInEvent(
        row=line,
        time=_iso_or(g("time")),
        request_id=g("request_id"),
        correlation_id=g("correlation_id"),
        user=g("user"),
        user_name=g("user_name"),
        user_id=g("user_id"),
        user_type=g("user_type"),
        home_tenant_id=g("home_tenant_id"),
        resource_tenant_id=g("resource_tenant_id"),
        cross_tenant_access_type=g("cross_tenant_access_type"),
        app_id=g("app_id"),
        app_name=g("app_name"),
        resource_name=g("resource_name"),
        resource_id=g("resource_id"),
        protocol=g("protocol"),
        client_app=g("client_app"),
        interactive=None,
        ip=g("ip"),
        location=g("location"),
        device=device,
        device_id=g("device_id"),
        compliant=_bool(g("compliant")),
        managed=_bool(g("managed")),
        trust_type=g("trust_type"),
        error_code=code,
        failure_reason=g("failure_reason"),
        additional_details=g("additional_details"),
        conditional_access=ca[:1].lower() + ca[1:].replace(" ", "") if ca else None,  # "Not Applied" → notApplied
        policies=(),
        auth_requirement=g("auth_requirement"),
        auth_steps=steps,
        outcome=outcome_of(code, status_text),
        source=f"CSV line {line}",
    )


class _BufferReader(io.RawIOBase):
    """A read-only stream over a buffer (bytes, memoryview, mmap) that copies only what is read."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def release(self) -> None:
        self._view = memoryview(b"")

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), len(self._view) - self._pos)
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n


# --- the accumulator -------------------------------------------------------------------------------------------


class _Brief(NamedTuple):
    """What folding needs of an event; the whole SignInEvent is built only for the events kept."""

    user: str
    app: str
    code: int
    outcome: str
    time: str | None  # as logged
    correlation_id: str | None
    request_id: str | None
    upn: str | None
    reason: str | None


class _Fold:
    """Counts, groups and the events kept, one event at a time."""

    def __init__(self, only: str | None) -> None:
        self.only = only.strip().lower() if only else None
        self.total = 0
        self.matched = 0
        self.unreadable = 0
        self.counts = {"failure": 0, "interrupt": 0, "success": 0}
        self.kept: list[SignInEvent] = []
        self.groups: dict[tuple[str, str, int], list[Any]] = {}
        self.dropped_groups = 0
        self.success_ids: set[str] = set()
        self.success_times: dict[tuple[str, str], tuple[str, str]] = {}  # (user, app) → first, last (as logged)
        self.kept_successes = 0

    def match(self, b: _Brief) -> bool:
        if self.only is None:
            return True
        return any(v is not None and v.lower() == self.only for v in (b.correlation_id, b.request_id, b.upn))

    def add(self, e: SignInEvent | None) -> None:
        if e is None:
            self.skip()
            return
        brief = _Brief(
            e.user or e.user_id or "(no user)",
            e.app_name or e.app_id or "(no app)",
            e.error_code,
            e.outcome,
            e.time,
            e.correlation_id,
            e.request_id,
            e.user,
            e.failure_reason,
        )
        if self.fold(brief):
            self.keep(e)

    def skip(self) -> None:
        self.total += 1
        self.unreadable += 1

    def fold(self, b: _Brief) -> bool:
        """Count the event; True when the caller should build the whole event and `keep` it."""
        self.total += 1
        if not self.match(b):
            return False
        self.matched += 1
        self.counts[b.outcome] += 1
        key = (b.user, b.app, b.code)
        group = self.groups.get(key)
        t = b.time
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.dropped_groups += 1
            else:
                self.groups[key] = [b.outcome, 1, t, t, b.reason, b.request_id]
        else:
            group[1] += 1
            if t and (group[2] is None or t < group[2]):
                group[2] = t
            if t and (group[3] is None or t > group[3]):
                group[3] = t
        if b.outcome == "success":
            if b.correlation_id and len(self.success_ids) < MAX_SUCCESS_IDS:
                self.success_ids.add(b.correlation_id)
            if t:
                span = self.success_times.get((b.user, b.app))
                self.success_times[(b.user, b.app)] = (min(span[0], t), max(span[1], t)) if span else (t, t)
            if self.only is None and len(self.kept) >= MAX_KEPT // 2:
                return False  # successes are kept only while there is room (and always when filtered)
        elif len(self.kept) >= MAX_KEPT and not self.kept_successes:
            return False
        return True

    def keep(self, e: SignInEvent | None) -> None:
        if e is None:
            return
        if len(self.kept) < MAX_KEPT:
            self.kept.append(e)
            self.kept_successes += e.outcome == "success"
        elif e.outcome != "success":
            # Replace a kept success with this failure: failures are the evidence.
            for i, k in enumerate(self.kept):
                if k.outcome == "success":
                    self.kept[i] = e
                    self.kept_successes -= 1
                    break

    def resolved(self, e: SignInEvent) -> bool:
        if e.outcome != "interrupt":
            return False
        if e.correlation_id and e.correlation_id in self.success_ids:
            return True
        t = e.when
        span = self.success_times.get((e.user or e.user_id or "(no user)", e.app_name or e.app_id or "(no app)"))
        if t is None or span is None:
            return False
        first, last = parse_time(span[0]), parse_time(span[1])
        return first is not None and last is not None and last >= t and first <= t + RESOLVE_WINDOW

    def result(self, fmt: str, *, unknown: tuple[str, ...] = (), next_link: bool = False) -> SignInLog:
        events = [replace(e, resolved=True) if self.resolved(e) else e for e in self.kept]
        events.sort(key=lambda e: e.time or "")
        rank = {"failure": 0, "interrupt": 1, "success": 3}
        groups = []
        for (user, app, code), (outcome, count, first, last, reason, example) in self.groups.items():
            groups.append(SignInGroup(user, app, code, outcome, count, _iso_or(first), _iso_or(last), reason, example))
        # Interrupts whose flow went on to succeed rank after the real failures, before successes.
        resolved_codes = {
            (e.user or e.user_id or "(no user)", e.app_name or e.app_id or "(no app)", e.error_code)
            for e in events
            if e.resolved
        }
        groups = [replace(g, resolved=True) if (g.user, g.app, g.error_code) in resolved_codes else g for g in groups]
        groups.sort(key=lambda g: (rank[g.outcome] + (1 if g.resolved else 0), -g.count, g.user))
        return SignInLog(
            format=fmt,
            total=self.total,
            matched=self.matched,
            counts=dict(self.counts),
            events=tuple(events),
            groups=tuple(groups),
            unreadable=self.unreadable,
            unknown_columns=unknown,
            only=self.only,
            next_link=next_link,
            dropped_groups=self.dropped_groups,
        )


# --- findings about the input --------------------------------------------------------------------------------


def malformed(title: str, actual: str | None = None) -> Finding:
    return finding(
        "signin_log_malformed",
        title,
        expected='a complete sign-in log: one Graph signIn event, a Graph page {"value": [...]}, the admin center\'s '
        "JSON download (an array) or its CSV download",
        actual=actual,
    )


def unrecognised(title: str, actual: str | None) -> Finding:
    return finding(
        "signin_log_unrecognised",
        title,
        expected="Entra sign-in events (createdDateTime, status.errorCode, correlationId, appId …) or the admin "
        "center's CSV columns (Date (UTC), Request ID, Correlation ID, Status, Sign-in error code …)",
        actual=actual,
    )


# --- entry point -----------------------------------------------------------------------------------------------


def read_signins(
    data: bytes | memoryview | mmap.mmap, *, only: str | None = None, max_bytes: int = 256 * 1024 * 1024
) -> tuple[SignInLog, list[Finding]]:
    """Every event of a sign-in log, folded. Raises AnalysisStop (carrying a finding) for input that cannot be read
    as a sign-in log at all: cut off, not JSON / CSV, or another product's log. Returns the log and findings about
    the input itself (unreadable events, unknown CSV columns)."""
    with memoryview(data) as view:
        flat = view if view.format in ("B", "b", "c") and view.ndim == 1 else view.cast("B")
        try:
            if flat.nbytes > max_bytes:
                raise AnalysisStop(oversized("sign-in log", mib(flat.nbytes), max_bytes))
            buf = flat[3:] if bytes(flat[:3]) == _UTF8_BOM else flat
            stop: Finding | None = None
            try:
                first = _NON_SPACE.search(bytes(buf[:4096]))
                if first is not None and first.group(0) in (b"[", b"{"):
                    result = _read_json(buf, only)
                else:
                    result = _read_csv(buf, only)
            except AnalysisStop as e:
                stop = e.finding  # raised again once no slice of the buffer is alive
            except RecursionError:
                stop = malformed(
                    "The sign-in log nests deeper than any reader allows", "JSON nested thousands of levels deep"
                )
            finally:
                if buf is not flat:
                    buf.release()
        finally:
            if flat is not view:
                flat.release()
    if stop is not None:
        raise AnalysisStop(stop)
    return result


def _json_error(e: msgspec.DecodeError) -> AnalysisStop:
    if "truncated" in str(e):
        return AnalysisStop(malformed("The sign-in log is cut off: its JSON ends before the document closes", str(e)))
    return AnalysisStop(malformed("The sign-in log is not valid JSON", str(e)))


def _read_json(buf: memoryview, only: str | None) -> tuple[SignInLog, list[Finding]]:
    found: list[Finding] = []
    fold = _Fold(only)
    start = _NON_SPACE.search(bytes(buf[:4096]))
    assert start is not None
    try:
        if start.group(0) == b"[":
            raws: list[msgspec.Raw] = _ARRAY.decode(buf)
            fmt, label, next_link = "admin-json", "admin center JSON event", False
        else:
            top = _TOP.decode(buf)
            if top.value is None:
                event = _from_graph(_EVENT.decode(buf), 0, "Graph sign-in event")
                if event is None:
                    raise AnalysisStop(unrecognised("The JSON object is not an Entra sign-in event", None))
                fold.add(event)
                return fold.result("graph-event"), found
            raws, fmt, label, next_link = top.value, "graph-page", "Graph page event", top.next_link is not None
            del top
    except msgspec.ValidationError as e:
        raise AnalysisStop(unrecognised("The JSON is not an Entra sign-in log", str(e))) from None
    except msgspec.DecodeError as e:
        raise _json_error(e) from None
    except UnicodeDecodeError as e:
        raise AnalysisStop(malformed("The sign-in log is not valid UTF-8 text", str(e))) from None
    first_error: str | None = None
    recognised = 0
    for i, raw in enumerate(raws):
        try:
            ev: _Event | None = _EVENT.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as e:  # ValidationError included
            first_error = first_error or f"event {i}: {e}"
            ev = None
        if ev is None or (ev.created_date_time is None and ev.status is None and ev.correlation_id is None):
            if first_error is None:
                first_error = f"event {i} has the fields " + _keys(raw)
            fold.skip()
        else:
            recognised += 1
            if fold.fold(_brief(ev)):
                fold.keep(_from_graph(ev, i, f"{label} {i}"))
        raws[i] = _EMPTY  # let go of the slice: memory stays flat however long the log
    del raws
    if fold.total and not recognised:
        raise AnalysisStop(
            unrecognised(
                "The JSON holds objects, but none is an Entra sign-in event (another product's log?)", first_error
            )
        )
    if fold.unreadable:
        found.append(
            finding(
                "signin_events_unreadable",
                actual=f"{fold.unreadable} of {fold.total} events" + (f"; first: {first_error}" if first_error else ""),
            )
        )
    return fold.result(fmt, next_link=next_link), found


_EMPTY: Final = msgspec.Raw(b"")


def _keys(raw: msgspec.Raw) -> str:
    try:
        doc = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return "(unreadable)"
    if not isinstance(doc, dict):
        return f"(not an object: {type(doc).__name__})"
    names = list(doc)
    return ", ".join(names[:12]) + (" …" if len(names) > 12 else "")


def _brief(e: _Event) -> _Brief:
    code = (_code(e.status.error_code) or 0) if e.status is not None else 0
    upn = _s(e.user_principal_name)
    return _Brief(
        upn or _s(e.user_id) or "(no user)",
        _s(e.app_display_name) or _s(e.app_id) or "(no app)",
        code,
        outcome_of(code),
        e.created_date_time,
        _s(e.correlation_id),
        _s(e.id),
        upn,
        _s(e.status.failure_reason) if e.status is not None else None,
    )


def _cell(row: list[str], i: int | None) -> str | None:
    if i is None:
        return None
    value = row[i].strip()
    return value or None


def _read_csv(buf: memoryview, only: str | None) -> tuple[SignInLog, list[Finding]]:
    text = io.TextIOWrapper(
        io.BufferedReader(_BufferReader(buf), 256 * 1024), encoding="utf-8", errors="replace", newline=""
    )
    try:
        found: list[Finding] = []
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except csv.Error as e:
            raise AnalysisStop(malformed("The sign-in log is not a readable CSV file", str(e))) from None
        if not header:
            raise AnalysisStop(unrecognised("The file is empty", "no header row"))
        names = [_header(h) for h in header]
        if not _is_signin_header(names) and "authentication method" in names and "request id" in names:
            raise AnalysisStop(
                unrecognised(
                    "This is the download's authentication-details file; its sign-ins are in the other file",
                    "columns: " + ", ".join(h.strip() for h in header[:8]) + " … (no Status / Sign-in error code)",
                )
            )
        if not _is_signin_header(names):
            raise AnalysisStop(
                unrecognised(
                    "The CSV file is not an Entra sign-in log download (another product's log?)",
                    "columns: " + ", ".join(h.strip() for h in header[:12]) + (" …" if len(header) > 12 else ""),
                )
            )
        index: dict[str, int] = {}
        unknown: list[str] = []
        for i, name in enumerate(names):
            target = CSV_FIELDS.get(name)
            if target is not None:
                index.setdefault(target, i)
            elif name not in CSV_KNOWN_UNUSED and name:
                unknown.append(header[i].strip())
        fold = _Fold(only)
        width = len(names)
        ec, status, when = index.get("error_code"), index.get("status"), index.get("time")
        upn, uid, app_name, app_id = index.get("user"), index.get("user_id"), index.get("app_name"), index.get("app_id")
        corr, req, reason = index.get("correlation_id"), index.get("request_id"), index.get("failure_reason")
        for line, row in _rows(reader):
            if len(row) != width and not (len(row) == 1 and not row[0].strip()):
                fold.add(None)
                continue
            if len(row) == 1 and not row[0].strip():
                continue  # a blank line
            code = _code(row[ec].strip() or "0") if ec is not None else 0
            if code is None:
                fold.skip()
                continue
            user = _cell(row, upn) or _cell(row, uid) or "(no user)"
            app = _cell(row, app_name) or _cell(row, app_id) or "(no app)"
            brief = _Brief(
                user,
                app,
                code,
                outcome_of(code, _cell(row, status)),
                _cell(row, when),
                _cell(row, corr),
                _cell(row, req),
                _cell(row, upn),
                _cell(row, reason),
            )
            if fold.fold(brief):
                fold.keep(_from_csv({k: row[i] for k, i in index.items()}, line))
        if unknown:
            found.append(finding("signin_csv_unknown_columns", actual=", ".join(unknown[:20])))
        if fold.unreadable:
            found.append(
                finding(
                    "signin_events_unreadable", actual=f"{fold.unreadable} of {fold.total} rows (wrong column count)"
                )
            )
        if fold.total == 0:
            found.append(finding("signin_log_empty", actual="a header row and no events"))
        return fold.result("admin-csv", unknown=tuple(unknown)), found
    finally:
        text.detach().detach().release()  # type: ignore[attr-defined]


def _rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise AnalysisStop(malformed("The sign-in log CSV is damaged", f"line {line + 1}: {e}")) from None
        line += 1
        yield line, row


__all__ = [
    "AuthStep",
    "CaPolicy",
    "SignInEvent",
    "SignInGroup",
    "SignInLog",
    "grant_control",
    "outcome_of",
    "read_signins",
    "sniff",
]
