"""The Entra non-gallery SAML setup, step by step, marked ✓ / ✗ / unknown from the evidence.

Each row names the value seen, the value expected and the exact Entra field to change. Rows never claim a
✓ without evidence: no message, no expectation or no signature means "unknown".
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from . import catalog
from .checks.hints import name_id_source
from .config import Settings
from .diagnosis import quoted, quoted_url
from .model import ChecklistRow, EntraError, Finding, Message, SignatureResult, SignatureStatus, Values

BASIC = "Basic SAML Configuration"
CLAIMS = "Attributes & Claims"
USERS = "Users and groups"
CERTS = "SAML Certificates"
CA = "Conditional Access"
FIELD_IDENTIFIER = f"{BASIC} → Identifier (Entity ID)"
FIELD_REPLY = f"{BASIC} → Reply URL (Assertion Consumer Service URL)"
# Which AADSTS code marks which row ✗ is catalog data (aadsts.toml `checklist`); these are the row keys.
ROWS = (
    "basic.identifier",
    "basic.reply_url",
    "basic.sign_on_url",
    "basic.relay_state",
    "claims.name_id_format",
    "claims.name_id_source",
    "claims.required",
    "users.assignment",
    "users.in_tenant",
    "users.consent",
    "certs.signing_option",
    "certs.algorithm",
    "certs.current",
    "certs.request_signing",
    "ca.policies",
    "sp.authn_context",
    "properties.enabled",
)


def _flags(errors: Sequence[EntraError]) -> dict[str, list[EntraError]]:
    """Row key → the Entra errors whose catalog entry marks it ✗, in the errors' order: one pass over the errors
    for all rows."""
    out: dict[str, list[EntraError]] = {}
    if not errors:
        return out
    table = catalog.aadsts()
    for e in errors:
        entry = table.get(e.code)
        for row in dict.fromkeys(entry.checklist) if entry is not None else ():
            out.setdefault(row, []).append(e)
    return out


_row = ChecklistRow  # positional: step, item, state, seen, expected, field, note


@dataclass(slots=True)  # built once per checklist and only read (slots: cheaper to build than a frozen one)
class Evidence:
    """What the rows are judged from: the first response / assertion and AuthnRequest, the finding codes, the
    Entra errors, the SP's expectations."""

    codes: frozenset[str]
    response: Message | None
    request: Message | None
    values: Values | None  # the response's trusted values, else its unverified ones
    errors: Sequence[EntraError]
    settings: Settings
    relay_state: str | None
    flags: dict[str, list[EntraError]] = dataclasses.field(default_factory=dict)  # row key → the errors that mark it ✗
    issued: bool = False  # a sign-in happened: the IdP issued an assertion naming a subject (not an error status)

    @property
    def profile(self) -> object:
        return self.settings.profile

    @property
    def signature(self) -> SignatureResult | None:
        return self.response.signature if self.response else None

    def flagged(self, row: str) -> list[EntraError]:
        """The Entra errors whose catalog entry marks `row` ✗."""
        return self.flags.get(row, [])


def _evidence(
    messages: Sequence[Message],
    findings: Sequence[Finding],
    errors: Sequence[EntraError],
    settings: Settings,
    relay_state: str | None,
) -> Evidence:
    response = request = None
    for m in messages:  # the first response / assertion and the first AuthnRequest
        if response is None and m.kind in ("response", "assertion"):
            response = m
        elif request is None and m.kind == "authn_request":
            request = m
    codes = frozenset([f.code for f in findings])
    values = (response.trusted or response.unverified) if response else None
    return Evidence(
        codes=codes,
        response=response,
        request=request,
        values=values,
        errors=errors,
        settings=settings,
        relay_state=relay_state,
        flags=_flags(errors),
        issued=bool(values is not None and values.name_id and "idp_error_status" not in codes),
    )


def _identifier_row(ev: Evidence) -> ChecklistRow:
    values, request = ev.values, ev.request
    seen = (values.audiences[0] if values and values.audiences else None) or (
        request.unverified.issuer if request else None
    )
    from_errors = ev.flagged("basic.identifier")
    seen = seen or next((quoted(e.message) for e in from_errors if quoted(e.message)), None)
    bad = not ev.codes.isdisjoint(("audience_mismatch", "request_issuer_mismatch")) or from_errors
    state = "fail" if bad else ("ok" if seen and ev.settings.sp_entity_id else "unknown")
    return _row(
        BASIC,
        "Identifier (Entity ID) = Audience / request Issuer",
        state,
        seen,
        ev.settings.sp_entity_id,
        FIELD_IDENTIFIER,
    )


def _reply_url_row(ev: Evidence) -> ChecklistRow:
    values, request = ev.values, ev.request
    recipient = next((sc.recipient for sc in values.subject_confirmations if sc.recipient), None) if values else None
    seen = recipient or (values.destination if values else None) or (request.unverified.acs_url if request else None)
    from_errors = ev.flagged("basic.reply_url")
    seen = seen or next((quoted_url(e.message) for e in from_errors if quoted_url(e.message)), None)
    bad = (
        not ev.codes.isdisjoint(("recipient_mismatch", "destination_mismatch", "acs_url_not_registered")) or from_errors
    )
    state = "fail" if bad else ("ok" if seen and ev.settings.acs_url else "unknown")
    return _row(
        BASIC, "Reply URL = Recipient / Destination / request ACS URL", state, seen, ev.settings.acs_url, FIELD_REPLY
    )


def _sign_on_row(ev: Evidence) -> ChecklistRow:
    idp_initiated = "idp_initiated" in ev.codes
    return _row(
        BASIC,
        "Sign on URL",
        "unknown",
        "IdP-initiated sign-in" if idp_initiated else None,
        getattr(ev.profile, "sign_on_url", None),
        f"{BASIC} → Sign on URL",
        "Set it to the SP's login URL when users must start at the SP." if idp_initiated else None,
    )


def _relay_state_row(ev: Evidence) -> ChecklistRow:
    expected = getattr(ev.profile, "relay_state", None)
    seen = ev.relay_state
    note = None
    if expected and seen and seen.startswith("{hash:"):
        # Masked by SAML-tracer's export filter: hidden, not lost; its hash still compares with the expected value.
        digest = seen[len("{hash:") : -1].lower()
        same = digest in (hashlib.sha256(expected.encode()).hexdigest(), hashlib.sha1(expected.encode()).hexdigest())  # noqa: S324
        note = "Hidden at export: " + ("its hash matches the expected Relay State." if same else "its hash differs.")
        return _row(BASIC, "Relay State", "ok" if same else "fail", seen, expected, f"{BASIC} → Relay State", note)
    state = "ok" if expected and seen == expected else ("fail" if expected and seen and seen != expected else "unknown")
    return _row(BASIC, "Relay State", state, seen, expected, f"{BASIC} → Relay State")


def basic_configuration(ev: Evidence) -> list[ChecklistRow]:
    return [_identifier_row(ev), _reply_url_row(ev), _sign_on_row(ev), _relay_state_row(ev)]


def _name_id_rows(ev: Evidence, values: Values) -> list[ChecklistRow]:
    fmt = values.name_id_format
    expected_fmt = ev.settings.name_id_format
    fmt_state = (
        "fail"
        if "name_id_format_mismatch" in ev.codes
        else ("ok" if expected_fmt and fmt == expected_fmt else "unknown")
    )
    source = name_id_source(values)
    expected_source = getattr(ev.profile, "name_id_source", None)
    source_state = "unknown"
    if expected_source and source:
        source_state = "ok" if expected_source in source else "fail"
    if "name_id_missing" in ev.codes:
        source_state = "fail"
    return [
        _row(
            CLAIMS,
            "Unique User Identifier (Name ID) format",
            fmt_state,
            fmt,
            expected_fmt,
            f"{CLAIMS} → Unique User Identifier (Name ID) → Choose name identifier format",
        ),
        _row(
            CLAIMS,
            "Unique User Identifier (Name ID) source",
            source_state,
            source,
            expected_source,
            f"{CLAIMS} → Unique User Identifier (Name ID) → Source attribute",
        ),
    ]


def _required_claim_row(claim: str, values: Values) -> ChecklistRow:
    attr = next((a for a in reversed(values.attributes) if a.name == claim), None)
    if attr is None:
        state, seen = "fail", "missing"
    elif not any(v.strip() for v in attr.values):
        state, seen = "fail", "empty"
    else:
        state, seen = "ok", ", ".join(attr.values)[:120]
    known = catalog.claim_by_name(claim)
    return _row(
        CLAIMS,
        f"Required claim {known.friendly if known else claim}",
        state,
        seen,
        claim,
        f"{CLAIMS} → Add new claim / edit the claim named {claim}",
    )


def attributes_and_claims(ev: Evidence) -> list[ChecklistRow]:
    values = ev.values
    if values is None:
        return [_row(CLAIMS, "Claims", "unknown", None, None, CLAIMS, "No assertion in the evidence.")]
    return _name_id_rows(ev, values) + [_required_claim_row(c, values) for c in ev.settings.required_claims]


def users_and_groups(ev: Evidence) -> list[ChecklistRow]:
    rows: list[ChecklistRow] = []
    outside = ev.flagged("users.in_tenant")
    if outside:
        rows.append(
            _row(
                USERS,
                "The user is a member or an invited guest of the tenant",
                "fail",
                f"AADSTS{outside[0].code}",
                "member or guest",
                "Users → All users → Invite external user",
                "Invite the user as a guest first; then assign them to the app if assignment is required.",
            )
        )
    consent = ev.flagged("users.consent")
    if consent:
        rows.append(
            _row(
                USERS,
                "Consent to the app's permissions",
                "fail",
                f"AADSTS{consent[0].code}",
                "consented",
                "Enterprise applications → <app> → Permissions → Grant admin consent",
                "Consent is not assignment: grant admin consent for the tenant.",
            )
        )
    assignment = ev.flagged("users.assignment")
    item = "The user may use the app"
    if assignment:
        rows.append(
            _row(
                USERS,
                item,
                "fail",
                f"AADSTS{assignment[0].code}",
                "assigned",
                f"{USERS} → Add user/group",
                "Assign the user, or a group they are in, to the app.",
            )
        )
    elif ev.issued:
        rows.append(_row(USERS, item, "ok", "Entra issued an assertion", "assigned", USERS))
    elif not rows:
        rows.append(_row(USERS, item, "unknown", None, "assigned", USERS))
    disabled = ev.flagged("properties.enabled")
    if disabled:
        rows.append(
            _row(
                "Properties",
                "Enabled for users to sign-in?",
                "fail",
                f"AADSTS{disabled[0].code}",
                "Yes",
                "Enterprise applications → <app> → Properties → Enabled for users to sign-in?",
            )
        )
    return rows


def _signing_option_row(ev: Evidence) -> ChecklistRow:
    sig = ev.signature
    required = getattr(ev.profile, "signing", None)
    field = f"{CERTS} → Edit → Signing Option"
    if sig is None or sig.status is not SignatureStatus.VALID:
        return _row(CERTS, "Signing Option", "unknown", sig.status.value if sig else None, required, field)
    signed = set(sig.signed_elements)
    ok = required is None or (required == "both" and signed >= {"response", "assertion"}) or required in signed
    return _row(CERTS, "Signing Option", "ok" if ok else "fail", " and ".join(sorted(signed)), required, field)


def _signing_algorithm_rows(ev: Evidence) -> list[ChecklistRow]:
    sig = ev.signature
    if sig is None or not sig.signatures:
        return []
    return [
        _row(
            CERTS,
            "Signing Algorithm SHA-256",
            "fail" if "sha1_signature" in ev.codes else "ok",
            (sig.signatures[0].signature_method or "?").rsplit("#", 1)[-1],
            "rsa-sha256",
            f"{CERTS} → Edit → Signing Algorithm",
        )
    ]


def _current_certificate_row(ev: Evidence) -> ChecklistRow:
    sig = ev.signature
    state, note = "unknown", None
    if not ev.codes.isdisjoint(("cert_rolled", "signed_by_unknown_key")):
        state, note = "fail", "The SP's certificate is not the one Entra signs with: rollover done or pending."
    elif sig is not None and sig.key is not None:
        days = sig.key.days_left
        if days is not None and days < 60:
            state, note = "fail", f"The signing certificate expires in {days} days: create and activate a new one."
        else:
            state = "ok"
    return _row(
        CERTS,
        "The SP has Entra's current signing certificate",
        state,
        sig.key.sha1 if sig is not None and sig.key is not None else None,
        None,
        f"{CERTS} → Federation Metadata XML / Certificate (Base64)",
        note,
    )


def _request_signing_rows(ev: Evidence) -> list[ChecklistRow]:
    errors = ev.flagged("certs.request_signing")
    if not errors:
        return []
    return [
        _row(
            CERTS,
            "Signed requests (Verification certificates)",
            "fail",
            f"AADSTS{errors[0].code}",
            "the SP signs its AuthnRequest with the uploaded certificate",
            f"{CERTS} → Verification certificates",
        )
    ]


def saml_certificates(ev: Evidence) -> list[ChecklistRow]:
    return [
        _signing_option_row(ev),
        *_signing_algorithm_rows(ev),
        _current_certificate_row(ev),
        *_request_signing_rows(ev),
    ]


def sp_request(ev: Evidence) -> list[ChecklistRow]:
    """What the SP's own AuthnRequest demands (not an Entra setting): RequestedAuthnContext → AADSTS75011."""
    errors = ev.flagged("sp.authn_context")
    if not errors:
        return []
    asked = ", ".join(ev.request.unverified.requested_authn_contexts) if ev.request else None
    return [
        _row(
            "SP request",
            "RequestedAuthnContext fits how users sign in",
            "fail",
            asked or f"AADSTS{errors[0].code}",
            "no RequestedAuthnContext (or ForceAuthn=true)",
            "SP: its SAML settings → RequestedAuthnContext / ForceAuthn",
            "The SP's request demands an authentication method; this is not a Conditional Access policy.",
        )
    ]


def conditional_access(ev: Evidence) -> list[ChecklistRow]:
    item = "Sign-in meets the policies"
    ca = ev.flagged("ca.policies")
    if ca:
        return [
            _row(
                CA,
                item,
                "fail",
                f"AADSTS{ca[0].code}",
                "no policy failure",
                "Protection → Conditional Access → Policies (and Sign-in logs for the policy that applied)",
                "Scope the policy to exclude or fit this app, or let users satisfy MFA / a compliant device "
                "(embedded web views cannot always do interactive MFA).",
            )
        ]
    if ev.issued:
        return [_row(CA, item, "ok", "an assertion was issued", None, "Conditional Access")]
    return [_row(CA, item, "unknown", None, None, "Conditional Access")]


def _mark_unverified(rows: list[ChecklistRow]) -> list[ChecklistRow]:
    """A ✓ read from an unsigned message says what the message claims, not what Entra is configured with."""
    return [
        replace(r, note=((r.note + " ") if r.note else "") + "(seen in unverified values)") if r.state == "ok" else r
        for r in rows
    ]


STEPS = (
    basic_configuration,
    attributes_and_claims,
    users_and_groups,
    saml_certificates,
    conditional_access,
    sp_request,
)


def build(
    messages: Sequence[Message],
    findings: Sequence[Finding],
    errors: Sequence[EntraError],
    settings: Settings,
    relay_state: str | None = None,
) -> tuple[ChecklistRow, ...]:
    """The setup steps in Entra's order, each judged from the same evidence."""
    ev = _evidence(messages, findings, errors, settings, relay_state)
    rows = [row for step in STEPS for row in step(ev)]
    if ev.response is not None and ev.response.trusted is None:
        rows = _mark_unverified(rows)
    return tuple(rows)
