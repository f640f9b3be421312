"""The diagnosis: one root cause in one sentence, with the actual values, the side that fixes it, where, the steps,
and the evidence it rests on.

Pure: takes what a report holds (findings, messages, Entra errors, checklist rows) and what the SP expects
(`Facts`), returns a `Diagnosis`. The knowledge (which finding is a root cause of which symptom, which side and
portal path each code points to) is data in `catalog/diagnosis.toml` and `catalog/aadsts.toml`; this module is the
logic that applies it:

1. scope: on a non-Success response, or a message without an assertion, findings that need an assertion (claims,
   NameID, signing option, audience, ...) are not evidence of anything and are dropped;
2. symptoms: a finding another present finding `supersedes` is evidence, never the diagnosis;
3. rank: severity weight + tier (an SP requirement that is not met counts as an error); ties keep report order;
4. words: the summary names the values (both URLs and every difference, the AADSTS code and its IDs, the
   instants), refined by logic where the data cannot know (an http:// ACS URL is fixed at the SP, an `spn:`
   Audience, a python3-saml "received at http://…" line, a response posted after it expired).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from . import catalog, linear, urldiff
from .config import Settings
from .instants import duration, parse_time
from .model import ChecklistRow, Diagnosis, EntraError, Finding, Message, Report, Severity, SignatureStatus, Values

SIDES = catalog.SIDES
HEALTHY = "healthy"
NOTHING = "nothing_to_analyse"
ERROR_OUTCOMES = ("error", "warning")


@dataclass(frozen=True)
class Facts:
    """What the SP expects (from the settings, profile or preset) and how the report was judged."""

    sp_entity_id: str | None = None
    acs_url: str | None = None  # Entra's Reply URL as the engineer gave it (the SP's ACS URL)
    signing: str | None = None  # what the SP requires signed: assertion | response | both
    name_id_source: str | None = None
    name_id_note: str | None = None  # why the NameID must not change (e.g. balenaCloud links accounts by e-mail)
    profile: str | None = None
    time_basis: str = "given"  # "given" (--now / Evaluate at) | "issue" (the message's IssueInstant) | "capture"


# --- the data ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    code: str
    side: str
    tier: int
    where: str | None
    rows: tuple[str, ...]
    summary: str | None
    supersedes: tuple[str, ...]
    needs_assertion: bool
    sp_requirement: bool
    caveat: bool = False


@dataclass(frozen=True)
class Rules:
    weights: dict[str, int]
    rules: dict[str, Rule]
    rows: dict[str, str]  # checklist row key → where
    aadsts_side: dict[str, str]
    category: dict[str, tuple[str, int]]
    # Every catalog code's rule, its category's default filled in: built once with the rules, so ranking a report
    # looks each finding up instead of building a default Rule per finding per call.
    resolved: dict[str, Rule] = dataclasses.field(default_factory=dict)

    def rule(self, code: str) -> Rule:
        found = self.resolved.get(code) or self.rules.get(code)
        return found if found is not None else self._default(code)

    def _default(self, code: str) -> Rule:
        entry = catalog.findings().get(code)
        side, tier = self.category.get(entry.category if entry else "info", ("none", 10))
        return Rule(code, side, tier, None, (), None, (), False, False)


_RULE_KEYS = {
    "side",
    "tier",
    "where",
    "rows",
    "summary",
    "supersedes",
    "needs_assertion",
    "sp_requirement",
    "caveat",
}


@cache
def rules() -> Rules:
    """Load and validate catalog/diagnosis.toml (every code, side and row it names must exist)."""
    raw = tomllib.loads(resources.files("samldebug.catalog").joinpath("diagnosis.toml").read_text("utf-8"))
    known = catalog.findings()
    rows = {k: str(v["where"]) for k, v in raw.get("rows", {}).items()}
    category = {k: (str(v["side"]), int(v["tier"])) for k, v in raw.get("category", {}).items()}
    for name, (side, _) in category.items():
        if name not in catalog.CATEGORIES or side not in SIDES:
            raise catalog.CatalogError(f"diagnosis.toml [category] {name}: unknown category or side")
    out: dict[str, Rule] = {}
    for code, r in raw.get("finding", {}).items():
        where = f"diagnosis.toml [finding.{code}]"
        if code not in known:
            raise catalog.CatalogError(f"{where}: {code!r} is not a finding code")
        unknown = set(r) - _RULE_KEYS
        if unknown:
            raise catalog.CatalogError(f"{where}: unknown keys {sorted(unknown)}")
        default_side, default_tier = category[known[code].category]
        side = str(r.get("side", default_side))
        if side not in SIDES:
            raise catalog.CatalogError(f"{where}: side {side!r}")
        for target in r.get("supersedes", []):
            if target not in known:
                raise catalog.CatalogError(f"{where}: supersedes unknown code {target!r}")
        for row in r.get("rows", []):
            if row not in rows:
                raise catalog.CatalogError(f"{where}: unknown checklist row {row!r}")
        out[code] = Rule(
            code=code,
            side=side,
            tier=int(r.get("tier", default_tier)),
            where=r.get("where"),
            rows=tuple(r.get("rows", [])),
            summary=r.get("summary"),
            supersedes=tuple(r.get("supersedes", [])),
            needs_assertion=bool(r.get("needs_assertion", False)),
            sp_requirement=bool(r.get("sp_requirement", False)),
            caveat=bool(r.get("caveat", False)),
        )
    aadsts_side = {k: str(v) for k, v in raw.get("aadsts_side", {}).items()}
    for entry in catalog.aadsts().values():
        if entry.category not in aadsts_side:
            raise catalog.CatalogError(f"diagnosis.toml [aadsts_side]: no side for category {entry.category!r}")
        for row in entry.checklist:
            if row not in rows:
                raise catalog.CatalogError(f"aadsts.toml [{entry.code}]: unknown checklist row {row!r}")
    weights = {k: int(v) for k, v in raw["rank"].items()}
    table = Rules(weights, out, rows, aadsts_side, category)
    table.resolved.update((code, out.get(code) or table._default(code)) for code in known)
    return table


def aadsts_side(code: str) -> str:
    entry = catalog.aadsts().get(code)
    if entry is None:
        return "entra"
    return entry.side or rules().aadsts_side[entry.category]


def aadsts_rows(code: str) -> tuple[str, ...]:
    entry = catalog.aadsts().get(code)
    return entry.checklist if entry else ()


# --- the logic -----------------------------------------------------------------------------------------------

_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def _values(m: Message) -> Values:
    return m.trusted or m.unverified


def assertion_issued(messages: Sequence[Message]) -> bool:
    """A response (or bare assertion) with a Success status that carries an assertion: only then do claim,
    NameID, audience and signing findings mean anything."""
    for m in messages:
        v = _values(m)
        if m.kind == "assertion":
            return True
        if m.kind == "response" and v.status_code in (None, _SUCCESS):
            if v.assertion_id or v.name_id or "encryption" in m.extra:
                return True
    return False


def _severity(f: Finding, rule: Rule, facts: Facts) -> Severity:
    if rule.sp_requirement and f.code == "response_only_signed" and facts.signing in ("assertion", "both"):
        return Severity.ERROR
    if rule.sp_requirement and f.severity is not Severity.INFO:
        return Severity.ERROR
    return f.severity


def rank(findings: Sequence[Finding], messages: Sequence[Message], facts: Facts) -> list[tuple[int, Finding]]:
    """Candidates, best first, after scoping and removing symptoms."""
    r = rules()
    pool = list(findings)
    if not assertion_issued(messages):
        # Only a message's own findings: a pasted SP-library error (input-level) names the SP's check itself.
        pool = [f for f in pool if f.message is None or not r.rule(f.code).needs_assertion]
    present = {f.code for f in pool}
    superseded = {s for c in present for s in r.rule(c).supersedes if s != c}
    # A root cause is at least as severe as the symptom it explains: AADSTS50126 (a warning in the catalog: one typo
    # is normal) that ended the sign-in with an error Status is the error, never a "healthy" note.
    if superseded:
        failed = {f.code for f in pool if f.code in superseded and f.severity is Severity.ERROR}
        pool = [
            dataclasses.replace(f, severity=Severity.ERROR)
            if failed and f.severity is not Severity.ERROR and failed & set(r.rule(f.code).supersedes)
            else f
            for f in pool
            if f.code not in superseded
        ]
    scored = []
    for i, f in enumerate(pool):
        rule = r.rule(f.code)
        if f.code == "response_only_signed" and facts.signing not in ("assertion", "both"):
            continue  # the SP accepts it: a fact, not a problem
        if rule.caveat:
            continue  # what could not be checked is a note, never the cause
        sev = _severity(f, rule, facts)
        scored.append((r.weights[sev] + rule.tier, -i, f))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [(s, f) for s, _, f in scored]


def diagnose(
    findings: Sequence[Finding],
    messages: Sequence[Message] = (),
    errors: Sequence[EntraError] = (),
    checklist: Sequence[ChecklistRow] = (),
    facts: Facts | None = None,
    *,
    scope: str = "report",
    flow: int | None = None,
) -> Diagnosis:
    facts = facts or Facts()
    ranked = rank(findings, messages, facts)
    notes = tuple(_notes(findings, messages, facts))
    # The cause is an error (or an SP requirement that is not met). A warning is the diagnosis only when there is
    # no message to call healthy (e.g. an Entra warning code pasted alone); beside a message it is a note.
    best = None
    r = rules()
    for _, f in ranked:
        if _severity(f, r.rule(f.code), facts) is Severity.ERROR:
            best = f
            break
    if best is None and not messages:
        best = next((f for _, f in ranked if f.severity is Severity.WARNING), None)
    if best is None:
        d = _healthy(findings, messages, facts)
    elif best.code == "aadsts_error":
        d = _aadsts(best, errors, messages, facts)
    else:
        d = _from_finding(best, messages, facts)
    evidence = list(d.evidence)
    for _, f in ranked[1:6]:
        if f.severity is not Severity.INFO and f is not best:
            evidence.append(_evidence(f))
    for e in errors:
        ids = e.ids()
        if ids and not any(ids in x for x in evidence):
            evidence.append(f"AADSTS{e.code}: {ids}")
    key = _signing_key(messages)
    if key:
        evidence.append(key)
    fix = tuple(s for s in d.fix if not _forbidden(s, facts))
    if facts.name_id_note and d.code in _NAME_ID_CODES and not any(facts.name_id_note in s for s in fix):
        fix = (*fix, facts.name_id_note)
    return Diagnosis(
        d.code,
        d.summary,
        d.side,
        d.where,
        fix,
        tuple(dict.fromkeys(evidence))[:12],
        d.severity,
        scope,
        flow,
        tuple(dict.fromkeys((*d.notes, *notes))),
    )


def _is_requirement(f: Finding, facts: Facts) -> bool:
    return f.code == "response_only_signed" and facts.signing in ("assertion", "both")


_NAME_ID_CODES = {
    "name_id_missing",
    "name_id_value_mismatch",
    "name_id_unstable_jit",
    "name_id_format_mismatch",
    "name_id_source_mismatch",
}


def _forbidden(step: str, facts: Facts) -> bool:
    """A step that would break what the SP depends on (e.g. moving the NameID off user.mail for an SP that links
    accounts by e-mail) is never given."""
    if facts.name_id_note and facts.name_id_source:
        low = step.lower()
        return ("user.objectid" in low or "persistent" in low) and facts.name_id_source not in low
    return False


def _evidence(f: Finding) -> str:
    value = f.actual or f.title
    return f"{f.code}: {value}"[:300]


def _signing_key(messages: Sequence[Message]) -> str | None:
    for m in messages:
        s = m.signature
        if s is not None and s.key is not None:
            return f"signature {s.status.value}: verified by SHA-1 {s.key.sha1} ({s.key.source})"
        if s is not None and s.signatures and s.signatures[0].embedded_cert is not None:
            c = s.signatures[0].embedded_cert
            return f"signature {s.status.value}: KeyInfo certificate SHA-1 {c.sha1} (not trusted, compared only)"
    return None


def _where(rule: Rule, f: Finding | None = None) -> str:
    r = rules()
    if rule.where:
        return rule.where
    if rule.rows:
        return r.rows[rule.rows[0]]
    entry = catalog.findings().get(rule.code)
    if entry is not None and entry.settings:
        return _portal(entry.settings[0])
    return (f.where if f and f.where else None) or "—"


def _portal(setting: str) -> str:
    if setting.startswith(("Basic SAML Configuration", "Attributes & Claims", "SAML Certificates")):
        return f"Enterprise applications → <app> → Single sign-on → {setting}"
    if setting.startswith(("Users and groups", "Properties", "Permissions", "Token encryption")):
        return f"Enterprise applications → <app> → {setting}"
    return setting


def _steps(text: str | None) -> tuple[str, ...]:
    """'1. a 2. b' → ('a', 'b'); anything else is one step."""
    if not text:
        return ()
    bounds = [(m.start(), m.end()) for m in _NUMBERED.finditer(text)]
    if not bounds:
        return (text.strip(),)
    ends = [start for start, _ in bounds[1:]] + [len(text)]
    pieces = [text[: bounds[0][0]]] + [
        text[end_of_number:stop] for (_, end_of_number), stop in zip(bounds, ends, strict=True)
    ]
    return tuple(p.strip() for p in pieces if p.strip())


_NUMBERED = linear.compile(r"(?:^|\s)\d{1,2}\. ")  # fix texts quote values from the message


def _fill(template: str, f: Finding, where: str) -> str:
    diff = urldiff.phrase(f.expected, f.actual)
    return template.format(
        expected=f.expected or "?",
        actual=f.actual or "?",
        differences=diff,
        title=f.title,
        where=f.where or where,
        actual_suffix=f" ({f.actual})" if f.actual else "",
    )


def _from_finding(f: Finding, messages: Sequence[Message], facts: Facts) -> Diagnosis:
    rule = rules().rule(f.code)
    where = _where(rule, f)
    side = rule.side
    summary = _fill(rule.summary, f, where) if rule.summary else _default_summary(f)
    fix = _steps(f.fix)
    notes: tuple[str, ...] = ()
    library = _library(f)
    if library is not None:
        return _library_diagnosis(f, library, rule, where)
    if f.code in ("recipient_mismatch", "destination_mismatch", "flow_acs_mismatch", "acs_url_not_registered"):
        side, where, summary, fix = _reply_url(f, side, where, summary, fix)
    elif f.code in ("audience_mismatch", "flow_audience_mismatch") and (f.actual or "").startswith("spn:"):
        bare = (f.actual or "")[4:]
        summary = (
            f"The Audience is `{f.actual}`: Entra added `spn:` because the Identifier (Entity ID) `{bare}` is not a "
            f"URI. The SP expects `{f.expected}`: set the Identifier to exactly that value (the field itself never "
            "contains spn:)."
        )
    elif f.code == "expired":
        summary, side, where, notes = _expired(f, messages, facts, where)
    elif f.code in ("name_id_value_mismatch", "name_id_missing") and facts.name_id_source:
        summary = summary.rstrip(".") + f". The SP needs the NameID from `{facts.name_id_source}`."
    severity = _severity(f, rule, facts)
    if side == "attack" and not summary.startswith("Attack detected"):
        summary = "Attack detected: " + summary
    return Diagnosis(
        code=f.code,
        summary=summary,
        side=side,
        where=where,
        fix=fix,
        evidence=(_evidence(f),),
        severity=severity.value,
        notes=notes,
    )


def _default_summary(f: Finding) -> str:
    parts = [f.title.rstrip(".")]
    if f.expected and f.actual:
        parts.append(f"expected `{f.expected}`, got `{f.actual}`{urldiff.phrase(f.expected, f.actual)}")
    elif f.actual:
        parts.append(f"`{f.actual}`")
    return ": ".join(parts) + "."


def _reply_url(
    f: Finding, side: str, where: str, summary: str, fix: tuple[str, ...]
) -> tuple[str, str, str, tuple[str, ...]]:
    """Entra accepts only https Reply URLs (except localhost): an http:// ACS URL is the SP's to fix."""
    sp_url = f.expected if f.code != "acs_url_not_registered" else f.actual
    if urldiff.is_plain_http(sp_url):
        other = f.actual if f.code != "acs_url_not_registered" else f.expected
        summary = (
            f"The SP's ACS URL is `{sp_url}` (plain http), "
            + (f"Entra's Reply URL is `{other}`{urldiff.phrase(sp_url, other)}; " if other else "")
            + "Entra accepts only https Reply URLs, so the SP (or the TLS-terminating proxy in front of it) must "
            "build its ACS URL with https."
        )
        where = "SP: its base / ACS URL, or the reverse proxy (X-Forwarded-Proto: https, X-Forwarded-Host)"
        fix = (
            "Make the SP build https:// URLs: set its external base URL to https, or have the reverse proxy send "
            "X-Forwarded-Proto: https (and X-Forwarded-Host / Port) and let the SP trust it.",
            "Leave Entra's Reply URL at its https:// value; do not try to add an http:// Reply URL.",
        )
        return "sp", where, summary, fix
    return side, where, summary, fix


_RECEIVED_AT = linear.compile(r"received at (\S+) instead of (\S+)")


def _library(f: Finding) -> str | None:
    if f.where and f.where.endswith(" error message"):
        return f.where.removesuffix(" error message")
    return None


def _library_diagnosis(f: Finding, library: str, rule: Rule, where: str) -> Diagnosis:
    """An SP library's own error line: it tells what the SP checked, so the side is mostly the SP's."""
    actual = f.actual or ""
    summary = f"{library} says: “{actual[:200]}”. " + catalog.entry(f.code).title + "."
    side, fix = rule.side, _steps(f.fix)
    m = _RECEIVED_AT.search(actual)
    if m is not None and f.code in ("destination_mismatch", "sp_url_behind_proxy"):
        # python3-saml: the SP's reconstructed URL first, then the Destination; ruby-saml the other way round.
        sp_url, entra_url = (m.group(1), m.group(2)) if library == "python3-saml" else (m.group(2), m.group(1))
        if urldiff.is_plain_http(entra_url) and not urldiff.is_plain_http(sp_url):
            sp_url, entra_url = entra_url, sp_url  # Entra never posts to a plain-http Reply URL: that one is the SP's
        diff = urldiff.phrase(entra_url, sp_url)
        if urldiff.is_plain_http(sp_url) and not urldiff.is_plain_http(entra_url):
            summary = (
                f"{library} rebuilt its own URL as `{sp_url}` but Entra posted to `{entra_url}`{diff}: the SP runs "
                "behind a TLS-terminating proxy and does not know the request came in over https. Entra's Reply URL "
                "is right; fix the SP or its proxy."
            )
            where = (
                "SP: behind its reverse proxy (python3-saml: request_data https='on', the public http_host and "
                "server_port; or honour X-Forwarded-Proto / X-Forwarded-Host)"
            )
            fix = (
                "Pass the public scheme, host and port to the SAML library: python3-saml's request_data "
                "{'https': 'on', 'http_host': <public host>, 'server_port': 443}, or trust X-Forwarded-Proto / "
                "X-Forwarded-Host from the proxy.",
                "Do not change Entra's Reply URL: it already is the https URL the SP should be answering on.",
            )
            return Diagnosis(f.code, summary, "sp", where, fix, (_evidence(f),), Severity.ERROR.value)
        summary = (
            f"{library}: the SP's ACS URL is `{sp_url}`, Entra's Reply URL (the Destination) is `{entra_url}`{diff}: "
            "make them equal."
        )
        return Diagnosis(f.code, summary, "entra", where, fix, (_evidence(f),), Severity.ERROR.value)
    if f.code == "signed_by_unknown_key":
        side = "sp"
        summary = (
            f"{library} could not verify the response signature (“{actual[:120]}”): the SP holds an IdP certificate "
            "that is not the one this Entra app signs with (stale after a rollover, or another app's)."
        )
        where = rules().rows["certs.current"]
    elif f.code in ("expired", "not_yet_valid"):
        side = "sp" if f.code == "not_yet_valid" else side
    return Diagnosis(f.code, summary, side, where, fix, (_evidence(f),), f.severity.value)


def _instant(text: str | None) -> datetime | None:
    return parse_time(text)


def _duration(seconds: float) -> str:
    return duration(timedelta(seconds=abs(seconds)))


def _expired(
    f: Finding, messages: Sequence[Message], facts: Facts, where: str
) -> tuple[str, str, str, tuple[str, ...]]:
    m = messages[f.message] if f.message is not None and f.message < len(messages) else None
    if m is None:
        return _default_summary(f), "user", where, ()
    values = _values(m)
    end = _instant(values.not_on_or_after)
    judged = _instant(m.evaluated_at)
    if end is None or judged is None:
        return _default_summary(f), "user", where, ()
    late = _duration((judged - end).total_seconds())
    if facts.time_basis == "capture":
        summary = (
            f"The SP received the response {late} after it expired: NotOnOrAfter {values.not_on_or_after}, posted "
            f"to the ACS at {m.evaluated_at} ({m.source}). The browser held the response too long (an old tab, "
            "Back, or a replayed form), or the SP's clock is ahead."
        )
        where = (
            "The browser / the user: start the sign-in again from the SP; if fresh sign-ins fail too, the SP's clock"
        )
        return summary, "user", where, ()
    if facts.time_basis == "issue":
        summary = (
            f"The response had already expired when issued: NotOnOrAfter {values.not_on_or_after} is before its own "
            f"IssueInstant {values.issue_instant or m.evaluated_at}: Entra's token lifetime policy, or a tampered "
            "message."
        )
        return summary, "entra", "Entra: token lifetime policy for this app", ()
    summary = (
        f"Expired at the evaluation time {m.evaluated_at}: NotOnOrAfter {values.not_on_or_after}, {late} earlier. "
        "The evaluation time was given explicitly; without it the message is judged at its own IssueInstant."
    )
    return summary, "user", "The evaluation time (--now / Evaluate at), or a fresh sign-in", ()


def _notes(findings: Sequence[Finding], messages: Sequence[Message], facts: Facts) -> list[str]:
    out = []
    r = rules()
    for f in findings:
        if f.code in _NOTE_CODES or r.rule(f.code).caveat:
            out.append(f"{f.title}: {f.actual}" if f.actual else f.title)
    return out


_NOTE_CODES = {"expired_now", "valid_when_captured", "capture_time_unknown", "relay_state_hidden", "within_skew"}


def _aadsts(f: Finding, errors: Sequence[EntraError], messages: Sequence[Message], facts: Facts) -> Diagnosis:
    code = (f.actual or "")[6:].split(":", 1)[0].split(" ", 1)[0]
    error = next((e for e in errors if e.code == code), None)
    entry = catalog.aadsts().get(code)
    side = aadsts_side(code)
    rows = aadsts_rows(code)
    where = rules().rows[rows[0]] if rows else (_portal(entry.settings[0]) if entry and entry.settings else "—")
    title = entry.title if entry else "not in samldebug's catalog"
    summary = f"Entra refused the sign-in with AADSTS{code}: {title}."
    fix = tuple(entry.fix) if entry else _steps(f.fix)
    notes: tuple[str, ...] = (entry.note,) if entry and entry.note else ()
    request = next((m for m in messages if m.kind == "authn_request"), None)
    message = error.message if error else None
    if code == "50011":
        sent = (request.unverified.acs_url if request else None) or quoted_url(message)
        side, where, summary, fix = _reply_url_50011(
            sent, facts, side, where, summary, fix, message, error.source if error else None
        )
        if sent and sent.lower().startswith("https://"):
            notes = ()  # the catalog's note is about an http:// ACS URL; this one is https
    elif code in ("700016", "70001", "650056", "65005"):
        sent = (request.unverified.issuer if request else None) or quoted(message)
        if sent and facts.sp_entity_id == sent:
            summary = (
                f"Entra refused the sign-in with AADSTS{code}: the SP's entity ID (the request's Issuer) is `{sent}`, "
                "the SP's own entity ID, and the tenant the SP signs in to has no app with that Identifier: add it "
                "there; if the app you looked at already lists it, check the tenant ID in the SP's SSO URL."
            )
        elif sent:
            configured = facts.sp_entity_id
            fix = (
                f"Add `{sent}` as an Identifier (Entity ID) under Basic SAML Configuration"
                + (
                    f", or change the SP's entity ID to `{configured}`"
                    if configured
                    else ", or correct the SP's entity ID"
                )
                + ".",
                *fix,
            )
            summary = (
                f"Entra refused the sign-in with AADSTS{code}: the SP's entity ID (the request's Issuer) is `{sent}`"
                + (f"; the Identifier (Entity ID) configured is `{configured}`" if configured else "")
                + f"{urldiff.phrase(configured, sent)}: "
                + ("make them equal." if configured else "no app in this tenant has that Identifier.")
            )
    elif code == "75011":
        asked = ", ".join(request.unverified.requested_authn_contexts) if request else None
        summary = (
            "Entra refused the sign-in with AADSTS75011: the SP's AuthnRequest demands an authentication method "
            + (f"({asked}) " if asked else "")
            + "that differs from how the user's Entra session was established. The SP's RequestedAuthnContext is the "
            "cause, not a Conditional Access policy."
        )
    elif code == "50105" and quoted_account(message):
        summary = (
            f"Entra refused the sign-in with AADSTS50105: `{quoted_account(message)}` is not assigned to the app "
            "(directly, or as a direct member of an assigned group), and the app requires assignment."
        )
    elif code == "50034":
        who = quoted_account(message)
        summary = (
            f"Entra refused the sign-in with AADSTS50034: the account{f' `{who}`' if who else ''} does not exist in "
            "this directory: a mistyped user name, the wrong tenant in the SP's SSO URL, or a user who must be "
            "invited as a guest first."
        )
    elif code in ("50020", "90072", "16000", "51004"):
        who = quoted_account(message)
        summary = (
            f"Entra refused the sign-in with AADSTS{code}: the account{f' `{who}`' if who else ''} is not a member "
            "or guest of the tenant that owns the app. Invite it as a guest first, then assign it to the app if "
            "assignment is required."
        )
    elif code == "65001":
        summary = (
            "Entra refused the sign-in with AADSTS65001: nobody has consented to the app's permissions. Grant admin "
            "consent; assigning users does not fix consent."
        )
    ids = error.ids() if error else ""
    evidence = [f"AADSTS{code}" + (f": {message}" if message else "")]
    if ids:
        evidence.append(f"AADSTS{code}: {ids}")
    if entry and entry.sources:
        evidence.append("sources: " + ", ".join(entry.sources[:3]))
    return Diagnosis(
        code="aadsts_error",
        summary=summary,
        side=side,
        where=where,
        fix=fix,
        evidence=tuple(evidence),
        severity=(entry.severity.value if entry else f.severity.value),
        notes=notes,
    )


def _reply_url_50011(
    sent: str | None,
    facts: Facts,
    side: str,
    where: str,
    summary: str,
    fix: tuple[str, ...],
    message: str | None,
    source: str | None,
) -> tuple[str, str, str, tuple[str, ...]]:
    oauth = source in ("error_description", "error JSON", "redirect")
    if oauth:
        where = "App registrations → <app> → Authentication → Redirect URIs"
        summary = (
            "Entra refused the sign-in with AADSTS50011: the redirect URI "
            + (f"`{sent}` " if sent else "")
            + "of this OAuth / OpenID Connect request is not registered for the app (App registrations, not the "
            "SAML Reply URLs)."
        )
        step = "Add the exact redirect URI under App registrations → <app> → Authentication → Redirect URIs."
        return "entra", where, summary, (step,)
    if sent and urldiff.is_plain_http(sent):
        summary = (
            f"Entra refused the sign-in with AADSTS50011: the SP asked for ACS URL `{sent}` (plain http)"
            + (f"; the Reply URL configured is `{facts.acs_url}`" if facts.acs_url else "")
            + f"{urldiff.phrase(facts.acs_url, sent)}. Entra accepts only https Reply URLs: the SP, or the "
            "TLS-terminating proxy in front of it, must build its ACS URL with https."
        )
        where = "SP: its base / ACS URL, or the reverse proxy (X-Forwarded-Proto: https)"
        fix = (
            "Make the SP send an https:// AssertionConsumerServiceURL: set its external base URL to https, or have "
            "the reverse proxy send X-Forwarded-Proto: https and let the SP trust it.",
            "Do not add an http:// Reply URL in Entra (it is accepted only for localhost).",
        )
        return "sp", where, summary, fix
    if sent and facts.acs_url == sent:
        # The SP's ACS URL (given, or read from the capture's own request) is exactly the one Entra refused: there
        # is no difference to point at; the app Entra checked lacks it, or it is another app or tenant.
        summary = (
            f"Entra refused the sign-in with AADSTS50011: the SP asked for ACS URL `{sent}`, the SP's own ACS URL, "
            "and the app Entra checked (the application ID in the error) has no such Reply URL: add it there; if "
            "the app you looked at already lists it, the SP signs in to another app or tenant."
        )
        step = (
            f"Add `{sent}` under Basic SAML Configuration → Reply URL of the enterprise application whose "
            "Application ID is the one in the error, then Save."
        )
        return side, where, summary, (step, *fix)
    if sent:
        configured = facts.acs_url
        summary = (
            f"Entra refused the sign-in with AADSTS50011: the SP asked for ACS URL `{sent}`"
            + (
                f"; the Reply URL configured is `{configured}`"
                if configured
                else ", which is not a Reply URL of the app"
            )
            + f"{urldiff.phrase(configured, sent)}: "
            + ("make them exactly equal." if configured else "add it to the Reply URLs, or correct the SP.")
        )
        step = (
            f"Add `{sent}` under Basic SAML Configuration → Reply URL, or change the SP to send one of the "
            "registered Reply URLs."
        )
        return side, where, summary, (step, *fix)
    return side, where, summary, fix


def quoted(text: str | None) -> str | None:
    """The first value quoted with ' or ‘’ in an error message."""
    if not text:
        return None
    for open_q, close_q in (("'", "'"), ("‘", "’"), ('"', '"')):
        start = text.find(open_q)
        if start >= 0:
            end = text.find(close_q, start + 1)
            if end > start + 1:
                return text[start + 1 : end][:500]
    return None


def quoted_url(text: str | None) -> str | None:
    if not text:
        return None
    rest = text
    for _ in range(6):
        q = quoted(rest)
        if q is None:
            return None
        if q.startswith(("http://", "https://")):
            return q
        rest = rest[rest.find(q) + len(q) + 1 :]
    return None


def quoted_account(text: str | None) -> str | None:
    q = quoted(text)
    return q if q and "@" in q else None


def _healthy(findings: Sequence[Finding], messages: Sequence[Message], facts: Facts) -> Diagnosis:
    warnings = [f for f in findings if f.severity is Severity.WARNING]
    notes: tuple[str, ...] = ()
    look = ""
    if warnings:
        notes = tuple(f"{f.title}" + (f": {f.actual}" if f.actual else "") for f in warnings[:5])
        r = rules()
        advice = [f for f in warnings if not r.rule(f.code).caveat]
        look = f" Worth a look, not blocking: {advice[0].title.rstrip('.')}." if advice else ""
    response = next((m for m in messages if m.kind in ("response", "assertion")), None)
    if response is not None:
        v = _values(response)
        sig = response.signature
        signed = sig is not None and sig.status is SignatureStatus.VALID
        who = f" for `{v.name_id}`" if v.name_id else ""
        aud = f" (Audience `{v.audiences[0]}`)" if v.audiences else ""
        if signed and not look:
            summary = (
                f"Healthy sign-in: Entra issued a signed assertion{who}{aud}, and every check passed at "
                f"{response.evaluated_at}."
            )
        elif signed:
            summary = (
                f"Healthy sign-in: Entra issued a signed assertion{who}{aud}, and nothing blocks it at "
                f"{response.evaluated_at}.{look}"
            )
        else:
            why = sig.status.value if sig is not None else "not checked"
            summary = (
                f"Nothing blocks this sign-in{who}{aud} at {response.evaluated_at}; the signature is {why}: give the "
                f"app's metadata to verify it.{look}"
            )
        return Diagnosis(HEALTHY, summary, "none", "Nothing to change", (), (), None, notes=notes)
    request = next((m for m in messages if m.kind == "authn_request"), None)
    if request is not None:
        v = request.unverified
        summary = (
            f"The AuthnRequest is what Entra expects: Issuer `{v.issuer}`"
            + (f", ACS URL `{v.acs_url}`" if v.acs_url else "")
            + (f"; nothing Entra would refuse.{look}" if look else "; no problem found.")
        )
        return Diagnosis(HEALTHY, summary, "none", "Nothing to change", (), (), None, notes=notes)
    meta = next((m for m in messages if m.kind == "metadata"), None)
    if meta is not None:
        summary = f"IdP metadata for `{meta.unverified.issuer}`; nothing in it blocks a sign-in.{look}"
        return Diagnosis(HEALTHY, summary, "none", "Nothing to change", (), (), None, notes=notes)
    if messages:
        return Diagnosis(HEALTHY, "No problem found in this message.", "none", "Nothing to change", notes=notes)
    logged = next((f for f in findings if f.code == "signin_succeeded"), None)
    if logged is not None:  # an Entra sign-in log that records only successes: Entra issued the response
        summary = (
            f"Entra's sign-in log records success ({logged.actual}): if the user still cannot get in, the SP "
            "refused the response."
        )
        return Diagnosis(
            HEALTHY,
            summary,
            "sp",
            "The SP's own log and the SAML response it received",
            _steps(logged.fix or ""),
            (),
            None,
            notes=notes,
        )
    entry = catalog.entry(NOTHING)
    return Diagnosis(NOTHING, entry.title + ".", "none", "The input", _steps(entry.fix), (), None, notes=notes)


def for_report(report: Report, facts: Facts | None = None) -> tuple[Diagnosis, tuple[Diagnosis, ...]]:
    """The report's diagnosis and, for a capture, one per flow. A capture's own diagnosis names the flow (the
    sign-in step) its root cause belongs to."""
    facts = facts or Facts()
    if not report.flows:
        return diagnose(report.findings, report.messages, report.entra_errors, report.checklist, facts), ()
    per_flow = []
    for i, fl in enumerate(report.flows):
        members = {x for x in (fl.request, fl.response) if x is not None}
        scoped = [f for f in report.findings if f.message in members]
        msgs = [m for m in report.messages if m.index in members]
        per_flow.append(diagnose(scoped, msgs, (), report.checklist, facts, scope="flow", flow=i))
    overall = diagnose(report.findings, report.messages, report.entra_errors, report.checklist, facts, scope="capture")
    step = next((d for d in per_flow if d.code == overall.code and d.code != HEALTHY), None)
    if step is not None and step.flow is not None:
        # Which sign-in step failed: the capture's diagnosis names the flow its root cause belongs to.
        name = report.flows[step.flow].name
        overall = dataclasses.replace(overall, summary=f"{name}: {overall.summary}", flow=step.flow)
    return overall, tuple(per_flow)


def facts_of(settings: Settings, time_basis: str = "given") -> Facts:
    profile = settings.profile
    return Facts(
        sp_entity_id=settings.sp_entity_id,
        acs_url=settings.acs_url,
        signing=getattr(profile, "signing", None),
        name_id_source=getattr(profile, "name_id_source", None),
        name_id_note=getattr(profile, "name_id_note", None),
        profile=getattr(profile, "name", None),
        time_basis=time_basis,
    )


_SYMPTOM = 200  # a symptom sorts after its root cause, never below the next severity (weights differ by 500)


def order(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """The findings list in the same model: worst severity first, and within it root causes before the symptoms
    they explain and specific findings before generic ones (the AADSTS code above the bare error status)."""
    if len(findings) < 2:
        return tuple(findings)
    r = rules()
    present = {f.code for f in findings}
    superseded = {s for c in present for s in r.rule(c).supersedes if s != c}

    def score(f: Finding) -> int:
        return r.weights[f.severity] + r.rule(f.code).tier - (_SYMPTOM if f.code in superseded else 0)

    return tuple(sorted(findings, key=score, reverse=True))


def attach(report: Report, settings: Settings | None = None) -> Report:
    """The report with its diagnosis (and, for a capture, one per flow), its findings in the model's order."""
    facts = facts_of(settings or Settings(), report.time_basis)
    overall, flows = for_report(report, facts)
    # A plain constructor call: dataclasses.replace re-reads every field's metadata, on every analysis.
    return Report(**{**vars(report), "findings": order(report.findings), "diagnosis": overall, "flow_diagnoses": flows})


__all__ = ["Diagnosis", "Facts", "assertion_issued", "attach", "diagnose", "facts_of", "for_report", "rank", "rules"]
