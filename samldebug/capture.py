"""Captures (HAR, SAML-tracer): every SAML message and Entra error, judged at the time the browser sent it,
paired into flows, with a timeline.

The reader (har.py) keeps only SAML-relevant entries; this module analyses each message once (the same value
often appears twice: a Location header and the GET that follows, an auto-post form and the POST it makes),
evaluates time checks at the entry's startedDateTime, and checks each request/response pair.
"""

from __future__ import annotations

import hashlib
import mmap
from dataclasses import dataclass, field, replace
from datetime import datetime

from . import budget, explain, har, saml, xmlsafe
from .analysis import analyze_xml
from .catalog import finding
from .config import Settings
from .decode import decode
from .instants import iso, parse_time
from .model import AnalysisStop, EntraError, Finding, Flow, Message, SignatureStatus, TimelineEntry


@dataclass
class CaptureResult:
    messages: list[Message] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[EntraError] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)
    relay_states: dict[int, str | None] = field(default_factory=dict)  # message index → RelayState seen
    settings: Settings = field(default_factory=Settings)  # the SP expectations every message was judged against


def _worst(found: list[Finding]) -> str | None:
    worst = max((f.severity for f in found), key=lambda s: s.rank, default=None)
    return worst.value if worst else None


def analyze_capture(
    data: bytes | memoryview | mmap.mmap, settings: Settings, now: datetime, entry: int | None = None
) -> CaptureResult:
    """Raises AnalysisStop for a capture that cannot be read at all (not HAR, truncated, too large)."""
    capture = har.read_capture(data, settings.limits, max_capture_bytes=settings.limits.max_capture_bytes)
    out = CaptureResult()
    out.info = {
        "format": capture.format,
        "producer": capture.producer,
        "entries": capture.total_entries,
        "saml_entries": sum(1 for e in capture.entries if e.kind == "saml"),
        "error_entries": sum(1 for e in capture.entries if e.kind == "error"),
        "dropped": dict(capture.dropped),
    }
    entries = [e for e in capture.entries if entry is None or e.index == entry]
    if entry is not None and not entries:
        raise AnalysisStop(
            finding(
                "not_saml",
                f"Capture entry {entry} carries no SAML message or Entra error",
                expected="one of: " + ", ".join(str(e.index) for e in capture.entries[:20]),
                actual=f"entry {entry}",
            )
        )
    if not capture.entries:
        out.findings.append(finding("capture_no_saml", actual=f"{capture.total_entries} entries, none SAML"))
    out.findings.extend(_truncated(capture))
    # Without per-request times (SAML-tracer), the export's own timestamp, written right after the last request,
    # is the capture time: far closer to the sign-in than today.
    fallback = capture.exported_at or now
    if capture.format == "saml-tracer":
        used = (
            f"time checks used the export's timestamp {iso(capture.exported_at)}"
            if capture.exported_at
            else f"the export has no timestamp: time checks used {iso(now)}"
        )
        out.findings.append(finding("capture_time_unknown", actual=used, where="SAML-tracer export"))
    settings = sp_expectations(entries, settings)
    out.settings = settings
    receipts = _receipts(entries)
    seen: dict[tuple[str, str], int] = {}
    xml_kept = 0
    for e in entries:
        if budget.expired():  # one CPU budget for the whole capture: stop here, keep what was analysed
            out.findings.append(_budget_cut(e, len(entries)))
            break
        if e.kind == "error":
            errors = explain.errors_in_input(e.text or "") if e.text else []
            found = explain.aadsts_findings(errors)
            out.errors.extend(errors)
            out.findings.extend(replace(f, where=e.where, message=None) for f in found)
            out.timeline.append(_timeline(e, "error", None, _worst(found)))
            continue
        key = (e.parameter or "", e.value or "")
        if key in seen:  # the same message again (Location + GET, auto-post form + POST)
            index = seen[key]
            out.timeline.append(_timeline(e, out.messages[index].kind, index, None))
            continue
        if len(out.messages) >= settings.limits.max_capture_messages:
            out.findings.append(
                finding(
                    "oversized_input",
                    "Too many SAML messages in the capture: the rest was skipped",
                    expected=f"at most {settings.limits.max_capture_messages}",
                    where=e.where,
                )
            )
            break
        index = len(out.messages)
        # Judged where the receiver judged it: a response at the POST to the ACS (not in the IdP's auto-post
        # page), a request at the GET/POST to the IdP (not in the SP's Location header).
        received = receipts.get(key, e)
        when = received.started or fallback
        try:
            decoded = decode((e.value or "").encode("utf-8", "replace"), settings.limits)
            result = analyze_xml(
                decoded.xml,
                settings,
                when,
                index=index,
                source=received.where,
                query=e.query if e.signature else None,
                message_value=e.value,
            )
        except AnalysisStop as stop:
            out.findings.append(replace(stop.finding, where=e.where, message=None))
            out.timeline.append(_timeline(e, "undecodable", None, stop.finding.severity.value))
            continue
        msg_findings = [f.at(index) for f in [*decoded.findings, *result.findings]]
        msg_findings += [f.at(index) for f in _expired_since(result.message, when, now)]
        msg_findings += [f.at(index) for f in _sp_answer(result.message, received)]
        seen[key] = index
        message = result.message
        xml_kept += len(message.xml)
        if xml_kept > settings.limits.max_report_xml_bytes:
            if xml_kept - len(message.xml) <= settings.limits.max_report_xml_bytes:
                out.findings.append(
                    finding(
                        "capture_truncated",
                        "The report keeps the XML of the first messages only: its size limit was reached",
                        expected=f"at most {settings.limits.max_report_xml_bytes // 1048576} MiB of XML per report",
                        actual=f"from message {index + 1} on, the XML is not kept (its findings are)",
                        where=e.where,
                    )
                )
            message = replace(message, xml="[XML not kept: the report's size limit was reached]")
        out.messages.append(message)
        out.relay_states[index] = received.relay_state if received.relay_state is not None else e.relay_state
        out.findings.extend(msg_findings)
        out.errors.extend(result.errors)
        out.timeline.append(_timeline(e, result.message.kind, index, _worst(msg_findings)))
    out.flows, flow_findings = pair(out.messages, out.relay_states)
    out.findings.extend(flow_findings)
    return out


_KIND_NAMES = {"error": "Entra error entries", "saml": "entries carrying SAML messages"}


def _truncated(capture: har.Capture) -> list[Finding]:
    """Say so when the reader stopped keeping entries of a kind (per-capture caps)."""
    out = []
    for kind, label in _KIND_NAMES.items():
        over = capture.dropped.get(f"{kind}_entries_over_limit", 0)
        if over:
            kept = sum(1 for e in capture.entries if e.kind == kind)
            out.append(
                finding(
                    "capture_truncated",
                    f"Showing the first {kept:,} of {kept + over:,} {label}",
                    expected=f"at most {kept:,} {label} per report",
                    actual=f"{kept + over:,} in the capture; the other {over:,} were counted, not analysed",
                )
            )
    return out


def _budget_cut(e: har.CaptureEntry, total: int) -> Finding:
    current = budget.current()
    base = current.exceeded("the capture") if current is not None else finding("analysis_budget_exceeded")
    return replace(base, where=e.where, actual=f"{base.actual}; stopped before {e.where} ({total} entries in all)")


def sp_expectations(entries: list[har.CaptureEntry], settings: Settings) -> Settings:
    """The SP states its own entity ID and ACS URL in its AuthnRequest: when the user gave none, the first request
    in the capture supplies them, before any message is analysed (checks and checklist judge against the same)."""
    if settings.sp_entity_id and settings.acs_url:
        return settings
    for e in entries:
        if e.kind != "saml" or e.parameter != "SAMLRequest":
            continue
        try:
            root = xmlsafe.parse(
                decode((e.value or "").encode("utf-8", "replace"), settings.limits).xml, settings.limits
            )
        except AnalysisStop:
            continue
        if saml.kind_of(root) != "authn_request":
            continue
        request = saml.read(root)
        return replace(
            settings,
            sp_entity_id=settings.sp_entity_id or request.issuer,
            acs_url=settings.acs_url or request.acs_url,
        )
    return settings


def _timeline(e: har.CaptureEntry, kind: str, message: int | None, worst: str | None) -> TimelineEntry:
    return TimelineEntry(
        entry=e.index,
        time=iso(e.started) if e.started else None,
        method=e.method,
        host=e.host,
        # Scheme, host and path only: query strings can carry OAuth codes and tokens, and the SAML parameters
        # are analysed separately.
        url=e.url.split("?", 1)[0].split("#", 1)[0][:300],
        binding=e.binding,
        kind=kind,
        status=e.status,
        message=message,
        worst=worst,
        where=e.where,
    )


_RECEIVED = ("post", "redirect")  # bindings of a request the receiver got (not a Location header or a page)


def _receipts(entries: list[har.CaptureEntry]) -> dict[tuple[str, str], har.CaptureEntry]:
    """For each SAML value, the entry where its receiver got it: the last POST / Redirect-binding request that
    carried it (a replayed or re-posted response counts where it was last received)."""
    out: dict[tuple[str, str], har.CaptureEntry] = {}
    for e in entries:
        if e.kind == "saml" and e.binding in _RECEIVED:
            out[(e.parameter or "", e.value or "")] = e
    return out


def _sp_answer(message: Message, e: har.CaptureEntry) -> list[Finding]:
    """The SP's answer to the posted response: an HTTP error or an SP-library message the catalog knows."""
    if message.kind != "response" or e.binding != "post":
        return []
    said = explain.library_findings(e.answer) if e.answer else []
    failed = e.status is not None and e.status >= 400
    if not said and not failed:
        return []
    status = f"HTTP {e.status}" if e.status is not None else "no status"
    quote = said[0].actual if said else None
    actual = f"{status}: “{quote}”" if quote else status
    sig = message.signature
    verifies = sig is not None and sig.status is SignatureStatus.VALID
    if verifies and any(f.code == "signed_by_unknown_key" for f in said):
        return [finding("sp_rejected_valid_response", actual=actual, where=e.where)]
    return [
        finding(
            "sp_answer_error",
            f"The SP answered the posted response with {status}" + (f": {said[0].title}" if said else ""),
            actual=actual,
            fix=said[0].fix if said else None,
            where=e.where,
        )
    ]


def _expired_since(message: Message, captured: datetime, now: datetime) -> list[Finding]:
    """Valid when captured, expired now: say both (support engineers test old captures every day)."""
    values = message.trusted or message.unverified
    end = parse_time(values.not_on_or_after)
    if end is None or not (captured < end <= now):
        return []
    return [
        finding(
            "valid_when_captured",
            actual=f"captured {iso(captured)}, NotOnOrAfter {iso(end)}, now {iso(now)}",
            where=message.source,
        )
    ]


_MASKED = ("{hash:", "{obf:")


def _relay_hidden(sent: str | None, back: str | None, masked: str, where: str) -> Finding:
    """A RelayState masked by SAML-tracer's export filter is hidden, not lost; a {hash:…} can still be compared
    with the hash of the plain value on the other side."""
    plain = back if masked == sent else sent
    digest = masked[len("{hash:") : -1].lower() if masked.startswith("{hash:") else None
    if plain is not None and digest:
        candidates = {hashlib.sha256(plain.encode()).hexdigest(), hashlib.sha1(plain.encode()).hexdigest()}  # noqa: S324
        if digest not in candidates:
            return finding(
                "relay_state_lost", expected=sent, actual=f"{back} (hidden at export; its hash differs)", where=where
            )
        verdict = "its hash matches the request's RelayState"
    elif sent == back:
        verdict = "both sides carry the same masked value"
    else:
        verdict = "it cannot be compared"
    return finding("relay_state_hidden", actual=f"{masked[:60]}: hidden at export; {verdict}", where=where)


def pair(messages: list[Message], relay: dict[int, str | None]) -> tuple[list[Flow], list[Finding]]:
    """AuthnRequest ↔ Response by ID / InResponseTo, LogoutRequest ↔ LogoutResponse; unanswered requests and
    unsolicited (IdP-initiated) responses are flows of their own."""
    by_id = {(m.unverified.id or ""): m for m in messages if m.kind in ("authn_request", "logout_request")}
    answered: set[int] = set()
    flows: list[Flow] = []
    found: list[Finding] = []
    for m in messages:
        if m.kind not in ("response", "logout_response"):
            continue
        v = m.trusted or m.unverified
        irt = v.in_response_to or next((sc.in_response_to for sc in v.subject_confirmations if sc.in_response_to), None)
        request = by_id.get(irt or "") if irt else None
        if m.kind == "logout_response":
            flows.append(Flow("logout", "Single logout", request.index if request else None, m.index))
        elif irt is None:
            flows.append(Flow("idp-initiated", "IdP-initiated sign-in (My Apps / Test button)", None, m.index))
        elif request is None:
            flows.append(Flow("sp-initiated", "SP-initiated sign-in (request not in the capture)", None, m.index))
            found.append(finding("in_response_to_unmatched", actual=irt, where=m.source).at(m.index))
        else:
            flows.append(Flow("sp-initiated", "SP-initiated sign-in", request.index, m.index))
            found += [f.at(m.index) for f in _check_pair(request, m, relay)]
        if request is not None:
            answered.add(request.index)
    for m in messages:
        if m.kind in ("authn_request", "logout_request") and m.index not in answered:
            name = (
                "Sign-in request without a SAML answer in the capture"
                if m.kind == "authn_request"
                else "Logout request"
            )
            flows.append(Flow("request without answer", name, m.index, None))
    flows.sort(key=lambda f: min(x for x in (f.request, f.response) if x is not None))
    return flows, found


def _check_pair(request: Message, response: Message, relay: dict[int, str | None]) -> list[Finding]:
    req, res = request.unverified, response.trusted or response.unverified
    out: list[Finding] = []
    recipients = [sc.recipient for sc in res.subject_confirmations if sc.recipient]
    targets = [t for t in [res.destination, *recipients] if t]
    if req.acs_url and targets and any(t != req.acs_url for t in targets):
        out.append(
            finding(
                "flow_acs_mismatch",
                expected=req.acs_url,
                actual=", ".join(sorted(set(targets))),
                where=f"{request.source} → {response.source}",
            )
        )
    if req.issuer and res.audiences and req.issuer not in res.audiences:
        out.append(
            finding(
                "flow_audience_mismatch",
                expected=req.issuer,
                actual=", ".join(res.audiences),
                where=f"{request.source} → {response.source}",
            )
        )
    sent, back = relay.get(request.index), relay.get(response.index)
    masked = next((v for v in (sent, back) if v is not None and v.startswith(_MASKED)), None)
    if masked is not None:
        out.append(_relay_hidden(sent, back, masked, f"{request.source} → {response.source}"))
    elif sent is not None and sent != back:
        out.append(
            finding(
                "relay_state_lost",
                expected=sent,
                actual=back if back is not None else "no RelayState",
                where=f"{request.source} → {response.source}",
            )
        )
    return out
