"""Sign-in log events as evidence: findings per event group, and the match with a capture or an error page.

`evidence(log)` turns a SignInLog into findings (Entra's own reason for each failure, the Conditional Access policy
and grant control that failed, guests from other tenants, events of other apps, interrupts told apart from real
failures) and EntraErrors (so the catalog and the setup checklist see the codes). `correlate(...)` finds the events
that belong to the other evidence (by correlation ID, request ID, or user and time), puts them on the capture's
timeline and says in one sentence what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from . import catalog
from .catalog import finding
from .instants import parse_instant as parse_time
from .model import CaPolicy, EntraError, Finding, Message, Severity, SignInEvent, SignInLog, TimelineEntry
from .signinlog import data, grant_control

MAX_EVENT_FINDINGS: Final = 12  # failure / interrupt groups explained one by one
MATCH_WINDOW: Final = timedelta(minutes=10)  # user + time match between the log and a SAML message
FORMATS: Final = {
    "graph-event": "Microsoft Graph sign-in event",
    "graph-page": "Microsoft Graph sign-in list page",
    "admin-json": "Entra admin center JSON download",
    "admin-csv": "Entra admin center CSV download",
}
NOT_SAML_PROTOCOLS: Final = frozenset({"oauth2", "ropc", "wsfederation", "devicecode", "nativeauth"})


@dataclass
class Evidence:
    findings: list[Finding] = field(default_factory=list)
    errors: list[EntraError] = field(default_factory=list)


def _hms(value: str | None) -> str:
    t = parse_time(value)
    return t.strftime("%H:%M:%S") if t else (value or "an unknown time")


def _user(e: SignInEvent) -> str:
    return e.user or e.user_name or e.user_id or "an unknown user"


def _app(e: SignInEvent) -> str:
    return e.app_name or e.app_id or "an unknown app"


def _where(e: SignInEvent) -> str:
    ids = ", ".join(f"{k} {v}" for k, v in (("request ID", e.request_id), ("correlation ID", e.correlation_id)) if v)
    return f"sign-in log, {e.source}" + (f" ({ids})" if ids else "")


def entra_error(e: SignInEvent) -> EntraError:
    """The event as the EntraError the rest of the report uses (the request ID is the error page's Trace ID)."""
    return EntraError(str(e.error_code), e.failure_reason, e.request_id, e.correlation_id, e.time, "sign-in log")


def failed_policies(e: SignInEvent) -> list[CaPolicy]:
    return [p for p in e.policies if p.result == "failure"]


def unmet_controls(e: SignInEvent, p: CaPolicy) -> list[str]:
    """The grant controls of a failed policy that were not met, as the portal names them. The log lists the
    policy's controls; the error code says which of them failed (53000 → compliant device, 50076 → MFA, …)."""
    by_code = data().control_by_code.get(str(e.error_code))
    labels = []
    for logged in p.grant_controls:
        control = grant_control(logged)
        if by_code is not None and control is not None and control.key != by_code.key and len(p.grant_controls) > 1:
            continue
        labels.append(control.label if control else f"'{logged}' (terms of use or a custom control)")
    if not labels and by_code is not None:
        labels.append(by_code.label)
    return labels


def reason(e: SignInEvent) -> str:
    """Why Entra refused, in a few words: the failed policy and control, else the catalog's title."""
    for p in failed_policies(e):
        unmet = unmet_controls(e, p)
        if any((c := grant_control(g)) is not None and c.key == "block" for g in p.grant_controls):
            return f"policy '{p.name}' blocks it (grant: Block access)"
        return f"policy '{p.name}' was not satisfied" + (f" ({', '.join(unmet)})" if unmet else "")
    entry = catalog.aadsts().get(str(e.error_code))
    title = entry.title if entry else (e.failure_reason or "no reason logged")
    return f"AADSTS{e.error_code}: {title}"


def _counted(e: SignInEvent, count: int, first: str | None, last: str | None) -> str:
    if count <= 1:
        return f"at {e.time}" if e.time else ""
    return f"{count} times between {first} and {last}"


def _failure(e: SignInEvent, count: int, first: str | None, last: str | None) -> Finding:
    entry = catalog.aadsts().get(str(e.error_code))
    parts = [f"status.errorCode {e.error_code}"]
    if e.failure_reason:
        parts.append(f"failureReason '{e.failure_reason}'")
    if e.additional_details:
        parts.append(f"additionalDetails '{e.additional_details}'")
    parts.append(f"user {_user(e)}, app {_app(e)}")
    counted = _counted(e, count, first, last)
    if counted:
        parts.append(counted)
    fix = " ".join(f"{i + 1}. {s}" for i, s in enumerate(entry.fix)) if entry else None
    lookup = f"https://login.microsoftonline.com/error?code={e.error_code}"
    return finding(
        "signin_failure",
        f"Entra refused {_user(e)} at {_hms(e.time)}: {reason(e)}",
        expected=entry.cause if entry else None,
        actual="; ".join(parts),
        fix=fix or f"Look the code up at {lookup}; the sign-in log's Basic info tab gives the failure reason.",
        where=_where(e),
        severity=entry.severity if entry and entry.severity is not Severity.INFO else Severity.ERROR,
    )


def _device(e: SignInEvent) -> str:
    facts = [
        f"{k} {str(v).lower()}" for k, v in (("isCompliant", e.compliant), ("isManaged", e.managed)) if v is not None
    ]
    if e.trust_type:
        facts.append(f"trustType {e.trust_type}")
    return "device " + (e.device or "unknown") + (f" ({', '.join(facts)})" if facts else "")


def _policy_findings(e: SignInEvent) -> list[Finding]:
    out = []
    for p in e.policies:
        if p.result not in ("failure", "reportOnlyFailure"):
            continue
        unmet = unmet_controls(e, p)
        controls = ", ".join(p.grant_controls) or "none listed"
        actual = f"result {p.result}; enforcedGrantControls [{controls}]; {_device(e)}"
        if e.auth_requirement:
            actual += f"; authenticationRequirement {e.auth_requirement}"
        if p.conditions_not_satisfied and p.conditions_not_satisfied != "none":
            actual += f"; conditionsNotSatisfied {p.conditions_not_satisfied}"
        fixes = []
        for logged in p.grant_controls:
            control = grant_control(logged)
            if control is not None and control.label in unmet:
                fixes.append(control.fix)
        portal = f"Entra admin center → Protection → Conditional Access → Policies → '{p.name}'"
        blocked = any((c := grant_control(g)) is not None and c.key == "block" for g in p.grant_controls)
        portal += " → Assignments and Conditions (the policy blocks by design)" if blocked else " → Grant"
        if p.result == "reportOnlyFailure":
            out.append(
                finding(
                    "signin_ca_report_only",
                    f"Report-only policy '{p.name}' would have blocked this sign-in ({', '.join(unmet) or controls})",
                    expected=f"the sign-in meets: {', '.join(unmet) or controls}",
                    actual=actual,
                    fix=" ".join(fixes) + f" Review it before enabling: {portal}.",
                    where=_where(e),
                )
            )
            continue
        title = (
            f"Conditional Access policy '{p.name}' blocks this sign-in (grant: Block access)"
            if blocked
            else f"Conditional Access policy '{p.name}' was not satisfied: {', '.join(unmet) or 'its grant controls'}"
            " not met"
        )
        out.append(
            finding(
                "signin_ca_policy_failed",
                title,
                expected=f"the sign-in meets: {', '.join(unmet) or controls}",
                actual=actual,
                fix=(" ".join(fixes) + " " if fixes else "") + f"Or change the policy: {portal}.",
                where=_where(e),
            )
        )
    return out


def _cross_tenant(e: SignInEvent) -> Finding | None:
    other = bool(e.home_tenant_id and e.resource_tenant_id and e.home_tenant_id != e.resource_tenant_id)
    code = str(e.error_code)
    if not (other or (e.user_type or "").lower() == "guest" or code in data().cross_tenant):
        return None
    facts = [
        f"{k} {v}"
        for k, v in (
            ("userType", e.user_type),
            ("homeTenantId", e.home_tenant_id),
            ("resourceTenantId", e.resource_tenant_id),
            ("crossTenantAccessType", e.cross_tenant_access_type),
        )
        if v
    ]
    if code == "50020":
        title = f"{_user(e)} is from another tenant and is not a guest in the app's tenant (AADSTS50020)"
    elif code == "500213":
        title = f"{_user(e)}'s tenant is blocked by the resource tenant's inbound cross-tenant access settings"
    else:
        title = f"{_user(e)} signs in from another tenant" + (f" ({e.home_tenant_id})" if e.home_tenant_id else "")
    failed = e.outcome == "failure" and code in data().cross_tenant
    return finding(
        "signin_guest_cross_tenant",
        title,
        expected=f"a member or invited guest of tenant {e.resource_tenant_id}" if e.resource_tenant_id else None,
        actual="; ".join(facts) or f"AADSTS{code}",
        where=_where(e),
        severity=Severity.ERROR if failed else (Severity.WARNING if e.outcome != "success" else Severity.INFO),
    )


def _other_app(e: SignInEvent, saml_app_id: str | None) -> Finding | None:
    protocol = (e.protocol or "").lower()
    if saml_app_id and e.app_id and e.app_id.lower() != saml_app_id.lower():
        return finding(
            "signin_other_app",
            f"This event is for {_app(e)}, not the SAML app",
            expected=f"appId {saml_app_id}",
            actual=f"appId {e.app_id} ({_app(e)})" + (f", authenticationProtocol {e.protocol}" if e.protocol else ""),
            where=_where(e),
        )
    if protocol in NOT_SAML_PROTOCOLS:
        return finding(
            "signin_other_app",
            f"This event is an {e.protocol} sign-in to {_app(e)}, not a SAML sign-in",
            expected="authenticationProtocol saml20",
            actual=f"authenticationProtocol {e.protocol}",
            where=_where(e),
        )
    return None


def _interrupt(e: SignInEvent, count: int) -> Finding:
    entry = catalog.aadsts().get(str(e.error_code))
    what = f"AADSTS{e.error_code}" + (f" ({entry.title})" if entry else "")
    times = f" ({count} times)" if count > 1 else ""
    if e.resolved:
        return finding(
            "signin_interrupt_resolved",
            f"{what} for {_user(e)} at {_hms(e.time)} was an interrupt: the same sign-in then succeeded",
            actual=f"{what}{times}; a success of the same flow follows (correlation ID {e.correlation_id})",
            where=_where(e),
        )
    return finding(
        "signin_interrupt_unresolved",
        f"{what} for {_user(e)} at {_hms(e.time)}, and no success after it",
        expected="the interrupt followed by a success of the same flow",
        actual=f"{what}{times}; failureReason '{e.failure_reason or ''}'; no later success for this user and app",
        fix=(" ".join(entry.fix) + " " if entry else "") + catalog.entry("signin_interrupt_unresolved").fix,
        where=_where(e),
    )


def evidence(log: SignInLog, *, saml_app_id: str | None = None) -> Evidence:
    out = Evidence()
    counts = log.counts
    summary = (
        f"{FORMATS.get(log.format, log.format)}: {log.total} event{'s' if log.total != 1 else ''}"
        + (f", {log.matched} matching {log.only}" if log.only else "")
        + f" ({counts['failure']} failed, {counts['interrupt']} interrupted, {counts['success']} succeeded)"
    )
    if log.next_link:
        summary += "; the Graph page has @odata.nextLink: more events exist than this page holds"
    out.findings.append(finding("signin_log_read", actual=summary, where=FORMATS.get(log.format)))
    if log.total == 0 and log.format != "admin-csv":
        out.findings.append(finding("signin_log_empty", actual="no events"))
    # One representative (the latest kept event) per group; groups come failed first.
    latest: dict[tuple[str, str, int], SignInEvent] = {}
    for k in log.events:
        latest[(k.user or k.user_id or "(no user)", k.app_name or k.app_id or "(no app)", k.error_code)] = k
    explained = 0
    for g in log.groups:
        found = latest.get((g.user, g.app, g.error_code)) if g.outcome != "success" else None
        if found is None:
            continue
        if explained >= MAX_EVENT_FINDINGS:
            break
        explained += 1
        event_evidence(out, found, saml_app_id, g.count, g.first, g.last)
    if log.format == "graph-event" and log.events and log.events[0].outcome == "success":
        event_evidence(out, log.events[0], saml_app_id)
    unresolved = any(e.outcome == "interrupt" and not e.resolved for e in log.events)
    if counts["success"] and not counts["failure"] and not unresolved:
        last = max((e.time for e in log.events if e.outcome == "success" and e.time), default=None)
        out.findings.append(
            finding(
                "signin_succeeded",
                actual=f"{counts['success']} successful sign-in{'s' if counts['success'] != 1 else ''}"
                + (f", the last at {last}" if last else "")
                + (f"; {counts['interrupt']} interrupt(s) resolved" if counts["interrupt"] else ""),
            )
        )
    return out


def event_evidence(
    out: Evidence,
    e: SignInEvent,
    saml_app_id: str | None,
    count: int = 1,
    first: str | None = None,
    last: str | None = None,
) -> None:
    """The findings (and EntraError) of one event; `count`, `first`, `last` describe its group."""
    if e.outcome == "interrupt":
        out.findings.append(_interrupt(e, count))
        if not e.resolved:
            out.errors.append(entra_error(e))
        return
    if e.outcome == "failure":
        out.errors.append(entra_error(e))
        out.findings.append(_failure(e, count, first, last))
        out.findings += _policy_findings(e)
    for extra in (_cross_tenant(e), _other_app(e, saml_app_id)):
        if extra is not None:
            out.findings.append(extra)


# --- the other evidence ----------------------------------------------------------------------------------------


@dataclass
class Correlation:
    findings: list[Finding] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    matched: list[SignInEvent] = field(default_factory=list)
    how: str | None = None


def _users(messages: Sequence[Message]) -> set[str]:
    found: set[str] = set()
    for m in messages:
        v = m.trusted or m.unverified
        if v.name_id:
            found.add(v.name_id.lower())
        for a in v.attributes:
            if a.name.rsplit("/", 1)[-1].lower() in ("name", "upn", "emailaddress", "userprincipalname", "email"):
                found.update(x.lower() for x in a.values)
    return found


def _message_times(messages: Sequence[Message]) -> list[datetime]:
    out = []
    for m in messages:
        t = parse_time((m.trusted or m.unverified).issue_instant) or parse_time(m.evaluated_at)
        if t is not None:
            out.append(t)
    return out


def _match(
    log: SignInLog, errors: Sequence[EntraError], messages: Sequence[Message]
) -> tuple[list[SignInEvent], str | None, set[str]]:
    ids = {x.lower() for e in errors for x in (e.correlation_id, e.trace_id) if x}
    if ids:
        hits = [e for e in log.events if (e.correlation_id or "").lower() in ids or (e.request_id or "").lower() in ids]
        if hits:
            return hits, "correlation ID / request ID", ids
    users, times = _users(messages), _message_times(messages)
    if users and times:
        hits = [
            e
            for e in log.events
            if (e.user or "").lower() in users
            and (t := e.when) is not None
            and any(abs(t - m) <= MATCH_WINDOW for m in times)
        ]
        if hits:
            return hits, "user and time", ids
    stamps = [t for e in errors if (t := parse_time(e.timestamp)) is not None]
    if stamps:
        window = timedelta(minutes=2)
        hits = [
            e
            for e in log.events
            if e.outcome != "success" and (t := e.when) and any(abs(t - s) <= window for s in stamps)
        ]
        if len({e.user for e in hits}) == 1 and {e.error_code for e in hits} <= {
            int(x.code) for x in errors if x.code.isdigit()
        }:
            return hits, "error code and time", ids
    return [], None, ids


def _timeline_entry(e: SignInEvent) -> TimelineEntry:
    worst = {"failure": "error", "interrupt": "info" if e.resolved else "warning", "success": None}[e.outcome]
    status = "success" if e.outcome == "success" else f"AADSTS{e.error_code}"
    return TimelineEntry(
        entry=e.row,
        time=e.time,
        method="LOG",
        host=f"Entra sign-in log · {_app(e)} · {status}",
        url=f"{_app(e)}: {status} ({_user(e)})",
        binding=None,
        kind="sign-in log",
        status=None,
        message=None,
        worst=worst,
        where=_where(e),
    )


def correlate(
    log: SignInLog,
    errors: Sequence[EntraError],
    messages: Sequence[Message],
    *,
    capture: bool,
) -> Correlation:
    """The log events that belong to the other evidence (a capture, an error page, a pasted message), on one
    timeline, and the sentence that joins them."""
    out = Correlation()
    other_errors = [e for e in errors if e.source != "sign-in log"]
    if not other_errors and not messages:
        return out
    hits, how, ids = _match(log, other_errors, messages)
    if not hits:
        if ids or messages:
            wanted = ", ".join(sorted(ids)) if ids else "the user and time of the SAML messages"
            out.findings.append(
                finding("signin_no_match", actual=f"{wanted}: not among the {log.total} events of the log")
            )
        return out
    out.matched, out.how = hits, how
    out.timeline = [_timeline_entry(e) for e in hits]
    last = sorted(hits, key=lambda e: e.time or "")[-1]
    failures = [e for e in hits if e.outcome == "failure" or (e.outcome == "interrupt" and not e.resolved)]
    out.findings.append(
        finding(
            "signin_matches_evidence",
            f"The sign-in log entry matches this {'capture' if capture else 'evidence'} by {how}",
            actual="; ".join(
                f"{e.source}: {e.time} {'AADSTS' + str(e.error_code) if e.error_code else 'success'}" for e in hits[:5]
            ),
        )
    )
    responses = [m for m in messages if m.kind == "response"]
    if failures:
        e = failures[-1]
        refused_at = e.when
        after = [
            m
            for m in responses
            if refused_at is None or ((t := parse_time((m.trusted or m.unverified).issue_instant)) and t >= refused_at)
        ]
        if capture and not after:
            tail = "the SP never received a response"
        elif after:
            sent = (after[0].trusted or after[0].unverified).issue_instant
            tail = f"a SAML response still reached the SP at {_hms(sent)}"
        else:
            tail = f"the user saw the error page (correlation ID {e.correlation_id})" if e.correlation_id else ""
        sentence = f"Entra refused at {_hms(e.time)} because {reason(e)}" + (f"; {tail}" if tail else "")
        fixes = [f.fix for f in _policy_findings(e) if f.fix] or [
            " ".join(entry.fix) if (entry := catalog.aadsts().get(str(e.error_code))) else ""
        ]
        out.findings.append(
            finding(
                "signin_explains_failure",
                sentence,
                expected=(catalog.aadsts()[str(e.error_code)].cause if str(e.error_code) in catalog.aadsts() else None),
                actual=f"{e.source}: status.errorCode {e.error_code}"
                + (f", failureReason '{e.failure_reason}'" if e.failure_reason else "")
                + f"; matched by {how}",
                fix=fixes[0] or None,
                where=_where(e),
            )
        )
    elif last.outcome == "success":
        out.findings.append(
            finding(
                "signin_matches_evidence",
                f"Entra's sign-in log records a success at {_hms(last.time)}: Entra issued the response, so a "
                "failure after that is on the SP side",
                actual=f"{last.source}: status.errorCode 0, app {_app(last)}, user {_user(last)}",
                where=_where(last),
            )
        )
    return out


__all__ = ["Correlation", "Evidence", "correlate", "entra_error", "evidence", "reason"]
