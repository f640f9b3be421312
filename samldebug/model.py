"""The report model: frozen dataclasses and enums, no IO.

One `Finding` type is used everywhere. `Report` is what `analyze()` returns and what the JSON schema
`samldebug.report/2` describes (see `report.py` for the JSON form; /1 documents are still read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .instants import parse_instant

SCHEMA_ID = "samldebug.report/2"
SCHEMA_V1 = "samldebug.report/1"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used to sort findings worst first."""
        return _RANKS[self]


_RANKS = {Severity.ERROR: 2, Severity.WARNING: 1, Severity.INFO: 0}


class SignatureStatus(StrEnum):
    VALID = "valid"  # every signature verified against a trust anchor, structure sound
    INVALID = "invalid"  # a signature failed, or the structure is an attack
    UNSIGNED = "unsigned"  # no signature at all
    # A signature is present but no trust anchor (metadata / certificate) was given, so nothing is trusted.
    # Not in the original three: calling such a message "invalid" would send people chasing a non-problem.
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    expected: str | None = None
    actual: str | None = None
    fix: str | None = None
    where: str | None = None
    message: int | None = None  # index into Report.messages; None for input-level findings

    def at(self, message: int) -> Finding:
        # Direct construction: dataclasses.replace re-reads every field's metadata on each call.
        return Finding(self.code, self.severity, self.title, self.expected, self.actual, self.fix, self.where, message)


class AnalysisStop(Exception):
    """Raised by a step that cannot go on; carries the finding that explains why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.title)
        self.finding = finding


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str
    not_before: str  # ISO 8601 UTC
    not_after: str
    key_type: str
    key_size: int | None
    sha1: str  # hex upper case, as the Entra portal shows thumbprints
    sha256: str
    source: str  # where this certificate came from, e.g. "metadata signing cert #2" or "--cert idp.pem"
    days_left: int | None = None  # at the evaluation time


@dataclass(frozen=True)
class SignatureInfo:
    """One ds:Signature element and what became of it."""

    where: str  # XPath of the Signature element
    on: str  # what carries it: "response", "assertion", "request", ... or "unexpected"
    reference_uri: str | None
    signature_method: str | None
    digest_method: str | None
    canonicalization: str | None
    transforms: tuple[str, ...]
    verified: bool
    key: CertInfo | None  # the anchor that verified it
    embedded_cert: CertInfo | None  # the certificate in ds:KeyInfo (never trusted; compared only)
    error: str | None  # why it did not verify


@dataclass(frozen=True)
class SignatureResult:
    status: SignatureStatus
    signed_elements: tuple[str, ...]  # "response" and/or "assertion" (what carries a verified signature)
    covers: str | None  # XPath of the widest element the verified signatures cover
    key: CertInfo | None  # the verifying key (first verified signature)
    signatures: tuple[SignatureInfo, ...]
    attack: bool  # a wrapping / transform / HMAC / key trick was found
    anchors: tuple[CertInfo, ...]  # the trust anchors the message was checked against


@dataclass(frozen=True)
class Attribute:
    name: str
    friendly_name: str | None
    name_format: str | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class SubjectConfirmation:
    method: str | None
    recipient: str | None
    not_before: str | None
    not_on_or_after: str | None
    in_response_to: str | None
    address: str | None


@dataclass(frozen=True)
class Values:
    """What a message says. The same shape serves `trusted` (read only from signed content) and
    `unverified` (read from the message as received)."""

    id: str | None = None
    issue_instant: str | None = None
    issuer: str | None = None
    destination: str | None = None
    in_response_to: str | None = None
    status_code: str | None = None
    status_sub_codes: tuple[str, ...] = ()
    status_message: str | None = None
    status_detail: str | None = None
    assertion_id: str | None = None
    assertion_issuer: str | None = None
    name_id: str | None = None
    name_id_format: str | None = None
    name_id_name_qualifier: str | None = None
    name_id_sp_name_qualifier: str | None = None
    subject_confirmations: tuple[SubjectConfirmation, ...] = ()
    not_before: str | None = None
    not_on_or_after: str | None = None
    audiences: tuple[str, ...] = ()
    authn_instant: str | None = None
    session_index: str | None = None
    session_not_on_or_after: str | None = None
    authn_context_class: str | None = None
    attributes: tuple[Attribute, ...] = ()
    # requests (AuthnRequest / LogoutRequest)
    acs_url: str | None = None
    protocol_binding: str | None = None
    name_id_policy_format: str | None = None
    force_authn: str | None = None
    is_passive: str | None = None
    requested_authn_contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Message:
    index: int
    kind: str  # response, assertion, authn_request, logout_request, logout_response, metadata, unknown
    root: str  # Clark name of the root element
    signature: SignatureResult | None
    trusted: Values | None  # None unless a signature verified against an anchor and the structure is sound
    unverified: Values
    xml: str  # the decoded XML exactly as received (text)
    source: str = "input"  # where it came from: "input", a HAR entry, ...
    evaluated_at: str | None = None  # the instant time checks used (ISO 8601 UTC)
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific facts (e.g. metadata summary)


@dataclass(frozen=True)
class EntraError:
    """An AADSTS error found in the evidence, with the IDs Microsoft support asks for."""

    code: str  # digits, without the AADSTS prefix
    message: str | None
    trace_id: str | None
    correlation_id: str | None
    timestamp: str | None
    source: str  # "StatusMessage", "error page", "error_description", "text", …

    def ids(self) -> str:
        """ "Trace ID …, Correlation ID …, Timestamp …" (those present), as support asks for them; "" when none."""
        labelled = (("Trace ID", self.trace_id), ("Correlation ID", self.correlation_id), ("Timestamp", self.timestamp))
        return ", ".join(f"{label} {value}" for label, value in labelled if value)


@dataclass(frozen=True)
class ChecklistRow:
    """One step of Entra's non-gallery SAML setup, judged from the evidence."""

    step: str  # "Basic SAML Configuration", "Attributes & Claims", "Users and groups", "SAML Certificates", …
    item: str  # what is checked, e.g. "Identifier (Entity ID)"
    state: str  # "ok" | "fail" | "unknown"
    seen: str | None  # the value in the evidence
    expected: str | None  # the value the SP expects
    field: str  # the exact Entra field to change
    note: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """One SAML-relevant entry of a capture (everything else in the capture is collapsed)."""

    entry: int  # index in the capture (HAR log.entries / SAML-tracer requests)
    time: str | None  # when the browser sent it (ISO 8601 UTC); None for SAML-tracer exports
    method: str
    host: str
    url: str
    binding: str | None
    kind: str  # message kind, or "error" for an Entra error page / error redirect
    status: int | None  # HTTP status
    message: int | None  # index into Report.messages (None for error entries)
    worst: str | None  # worst finding severity for that message / error
    where: str


@dataclass(frozen=True)
class Flow:
    """Messages paired into one exchange."""

    kind: str  # "sp-initiated" | "idp-initiated" | "logout" | "request without answer"
    name: str
    request: int | None  # index into Report.messages
    response: int | None


@dataclass(frozen=True)
class InputInfo:
    size: int
    steps: tuple[str, ...]  # e.g. ("url-decoded", "base64", "inflated")
    parameter: str | None = None  # SAMLResponse / SAMLRequest when the input named one
    relay_state: str | None = None
    binding: str | None = None  # "redirect" | "post" when known
    sig_alg: str | None = None
    capture: dict[str, Any] | None = None  # format, producer, entry counts, what was dropped for privacy


# --- Entra sign-in logs (read by signinlog.py, explained by signins.py) ----------------------------------------


@dataclass(frozen=True)
class CaPolicy:
    """One entry of appliedConditionalAccessPolicies."""

    name: str
    id: str | None
    result: str  # success, failure, notApplied, notEnabled, reportOnlySuccess, reportOnlyFailure, …
    grant_controls: tuple[str, ...]  # enforcedGrantControls as logged (e.g. "Mfa", "RequireCompliantDevice")
    session_controls: tuple[str, ...]
    conditions_not_satisfied: str | None = None


@dataclass(frozen=True)
class AuthStep:
    """One entry of authenticationDetails (the CSV carries only the MFA columns)."""

    time: str | None
    method: str | None
    requirement: str | None  # "Primary authentication", "MFA", …
    succeeded: bool | None
    detail: str | None  # authenticationStepResultDetail


@dataclass(frozen=True)
class SignInEvent:
    row: int  # position in the log (0-based)
    time: str | None  # createdDateTime, ISO 8601 UTC
    request_id: str | None  # id ("Request ID"; the error page's Request Id / Trace ID)
    correlation_id: str | None
    user: str | None  # userPrincipalName ("Username")
    user_name: str | None  # userDisplayName ("User")
    user_id: str | None
    user_type: str | None  # member | guest
    home_tenant_id: str | None
    resource_tenant_id: str | None
    cross_tenant_access_type: str | None  # none, b2bCollaboration, b2bDirectConnect, …
    app_id: str | None
    app_name: str | None
    resource_name: str | None
    resource_id: str | None
    protocol: str | None  # authenticationProtocol (saml20, oAuth2, …) when logged
    client_app: str | None
    interactive: bool | None
    ip: str | None
    location: str | None
    device: str | None  # display name, OS, browser
    device_id: str | None
    compliant: bool | None
    managed: bool | None
    trust_type: str | None
    error_code: int  # status.errorCode; 0 = success
    failure_reason: str | None
    additional_details: str | None
    conditional_access: str | None  # conditionalAccessStatus: success, failure, notApplied
    policies: tuple[CaPolicy, ...]
    auth_requirement: str | None
    auth_steps: tuple[AuthStep, ...]
    outcome: str  # success | interrupt | failure
    source: str  # "Graph sign-in event", "admin center JSON event 17", "CSV line 42"
    resolved: bool = False  # an interrupt followed by a success of the same flow

    @property
    def when(self) -> datetime | None:
        return parse_instant(self.time)


@dataclass(frozen=True)
class SignInGroup:
    user: str
    app: str
    error_code: int
    outcome: str
    count: int
    first: str | None
    last: str | None
    failure_reason: str | None
    example: str | None  # a request ID of the group
    resolved: bool = False  # interrupts only: the same flow then succeeded (not a failure)


@dataclass(frozen=True)
class SignInLog:
    format: str  # graph-event | graph-page | admin-json | admin-csv
    total: int  # events in the log
    matched: int  # events that passed the filter (== total without one)
    counts: dict[str, int]  # outcome → events (after the filter)
    events: tuple[SignInEvent, ...]  # kept whole: failures and interrupts first, in time order, at most MAX_KEPT
    groups: tuple[SignInGroup, ...]  # failed first, then by count
    unreadable: int = 0
    unknown_columns: tuple[str, ...] = ()
    only: str | None = None  # the filter (correlation ID, request ID or UPN)
    next_link: bool = False  # a Graph page with @odata.nextLink: more events exist than this page holds
    dropped_groups: int = 0  # events in groups past MAX_GROUPS


@dataclass(frozen=True)
class Diagnosis:
    """One root cause in one sentence (the banner), the side that fixes it, where, the steps, the evidence."""

    code: str  # the root-cause finding code ("healthy" when nothing blocks the sign-in)
    summary: str  # one sentence with the actual values
    side: str  # entra | sp | user | network | attack | none
    where: str  # the Entra portal path or the SP setting to change
    fix: tuple[str, ...] = ()  # ordered steps
    evidence: tuple[str, ...] = ()  # the findings and values it rests on (IDs, thumbprints, values)
    severity: str | None = None  # of the root cause: error | warning | info; None when healthy
    scope: str = "report"  # "report" | "capture" | "flow"
    flow: int | None = None  # index into Report.flows when scope == "flow"
    notes: tuple[str, ...] = ()  # worth knowing, not the cause (e.g. "expired now", what could not be checked)


@dataclass(frozen=True)
class Report:
    input: InputInfo
    messages: tuple[Message, ...]
    findings: tuple[Finding, ...]  # worst first
    now: str  # the evaluation instant (ISO 8601 UTC)
    skew: int  # seconds
    entra_errors: tuple[EntraError, ...] = ()
    checklist: tuple[ChecklistRow, ...] = ()
    flows: tuple[Flow, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    signins: SignInLog | None = None  # an Entra sign-in log given as (or with) the evidence
    schema: str = SCHEMA_ID
    diagnosis: Diagnosis | None = None  # always set by analyze(); None only while a report is being built
    flow_diagnoses: tuple[Diagnosis, ...] = ()  # a capture: one per flow, in flow order
    # How time checks were judged: "given" (the evaluation instant `now`), "issue" (each message at its own
    # IssueInstant; `now` is the wall clock) or "capture" (each message when the SP received it).
    time_basis: str = "given"  # given | issue | capture | clock (no time given, none in the input)

    @property
    def worst(self) -> Severity | None:
        present = {f.severity for f in self.findings}
        return max(present, key=_RANKS.__getitem__, default=None)

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)
