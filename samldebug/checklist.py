"""The Entra non-gallery SAML setup, step by step, marked ✓ / ✗ / unknown from the evidence.

Each row names the value seen, the value expected and the exact Entra field to change. Rows never claim a
✓ without evidence: no message, no expectation or no signature means "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import catalog
from .config import Settings
from .model import ChecklistRow, EntraError, Finding, Message, SignatureStatus, Values

BASIC = "Basic SAML Configuration"
CLAIMS = "Attributes & Claims"
USERS = "Users and groups"
CERTS = "SAML Certificates"
CA = "Conditional Access"
FIELD_IDENTIFIER = f"{BASIC} → Identifier (Entity ID)"
FIELD_REPLY = f"{BASIC} → Reply URL (Assertion Consumer Service URL)"
ASSIGNMENT_CODES = {"50105", "50177", "65001", "50020", "50034", "90072"}
CA_CODES = {"50076", "50079", "75011", "53003", "53000", "53001", "53002", "53004", "50074", "50158"}
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def name_id_source(values: Values) -> str | None:
    """Which Entra attribute the NameID value looks like it came from."""
    name_id = values.name_id
    if not name_id:
        return None
    # Mail addresses and UPNs compare case-insensitively: a NameID in another case is still that attribute.
    attrs = {a.name.rsplit("/", 1)[-1].lower(): {v.lower() for v in a.values} for a in values.attributes}
    folded = name_id.lower()
    if folded in attrs.get("objectidentifier", set()) or _GUID.match(name_id):
        return "user.objectid"
    if folded in attrs.get("emailaddress", set()):
        return "user.mail"
    if folded in attrs.get("name", set()) or folded in attrs.get("upn", set()):
        return "user.userprincipalname"
    if name_id.startswith("_") or (values.name_id_format or "").endswith(":transient"):
        return "transient (new every sign-in)"
    if "@" in name_id:
        return "user.mail or user.userprincipalname"
    if "\\" in name_id or (len(name_id) <= 20 and " " not in name_id):
        return "user.onpremisessamaccountname (looks like an account name)"
    return None


def _row(
    step: str, item: str, state: str, seen: str | None, expected: str | None, field: str, note: str | None = None
) -> ChecklistRow:
    return ChecklistRow(step, item, state, seen, expected, field, note)


def build(
    messages: Sequence[Message],
    findings: Sequence[Finding],
    errors: Sequence[EntraError],
    settings: Settings,
    relay_state: str | None = None,
) -> tuple[ChecklistRow, ...]:
    codes = {f.code for f in findings}
    response = next((m for m in messages if m.kind in ("response", "assertion")), None)
    request = next((m for m in messages if m.kind == "authn_request"), None)
    profile = settings.profile
    values = (response.trusted or response.unverified) if response else None
    rows: list[ChecklistRow] = []
    unverified = response is not None and response.trusted is None
    issued = bool(values is not None and values.name_id and "idp_error_status" not in codes)  # a sign-in happened

    # -- Basic SAML Configuration --------------------------------------------------------------------------
    seen_id = (values.audiences[0] if values and values.audiences else None) or (
        request.unverified.issuer if request else None
    )
    bad_id = codes & {"audience_mismatch", "request_issuer_mismatch"}
    state = "fail" if bad_id else ("ok" if seen_id and settings.sp_entity_id else "unknown")
    rows.append(
        _row(
            BASIC,
            "Identifier (Entity ID) = Audience / request Issuer",
            state,
            seen_id,
            settings.sp_entity_id,
            FIELD_IDENTIFIER,
        )
    )
    recipient = next((sc.recipient for sc in values.subject_confirmations if sc.recipient), None) if values else None
    seen_reply = (
        recipient or (values.destination if values else None) or (request.unverified.acs_url if request else None)
    )
    bad_reply = codes & {"recipient_mismatch", "destination_mismatch", "acs_url_not_registered"}
    state = "fail" if bad_reply else ("ok" if seen_reply and settings.acs_url else "unknown")
    rows.append(
        _row(
            BASIC,
            "Reply URL = Recipient / Destination / request ACS URL",
            state,
            seen_reply,
            settings.acs_url,
            FIELD_REPLY,
        )
    )
    sign_on = getattr(profile, "sign_on_url", None)
    idp_initiated = "idp_initiated" in codes
    rows.append(
        _row(
            BASIC,
            "Sign on URL",
            "unknown",
            "IdP-initiated sign-in" if idp_initiated else None,
            sign_on,
            f"{BASIC} → Sign on URL",
            "Set it to the SP's login URL when users must start at the SP." if idp_initiated else None,
        )
    )
    expected_relay = getattr(profile, "relay_state", None)
    relay_state_value = (
        "ok"
        if expected_relay and relay_state == expected_relay
        else ("fail" if expected_relay and relay_state and relay_state != expected_relay else "unknown")
    )
    rows.append(_row(BASIC, "Relay State", relay_state_value, relay_state, expected_relay, f"{BASIC} → Relay State"))

    # -- Attributes & Claims --------------------------------------------------------------------------------
    if values is not None:
        fmt = values.name_id_format
        expected_fmt = settings.name_id_format
        state = (
            "fail"
            if "name_id_format_mismatch" in codes
            else ("ok" if expected_fmt and fmt == expected_fmt else "unknown")
        )
        rows.append(
            _row(
                CLAIMS,
                "Unique User Identifier (Name ID) format",
                state,
                fmt,
                expected_fmt,
                f"{CLAIMS} → Unique User Identifier (Name ID) → Choose name identifier format",
            )
        )
        source = name_id_source(values)
        expected_source = getattr(profile, "name_id_source", None)
        state = "unknown"
        if expected_source and source:
            state = "ok" if expected_source in source else "fail"
        if "name_id_missing" in codes:
            state = "fail"
        rows.append(
            _row(
                CLAIMS,
                "Unique User Identifier (Name ID) source",
                state,
                source,
                expected_source,
                f"{CLAIMS} → Unique User Identifier (Name ID) → Source attribute",
            )
        )
        present = {a.name: a for a in values.attributes}
        for claim in settings.required_claims:
            attr = present.get(claim)
            if attr is None:
                state, seen = "fail", "missing"
            elif not any(v.strip() for v in attr.values):
                state, seen = "fail", "empty"
            else:
                state, seen = "ok", ", ".join(attr.values)[:120]
            known = catalog.claim_by_name(claim)
            rows.append(
                _row(
                    CLAIMS,
                    f"Required claim {known.friendly if known else claim}",
                    state,
                    seen,
                    claim,
                    f"{CLAIMS} → Add new claim / edit the claim named {claim}",
                )
            )
    else:
        rows.append(_row(CLAIMS, "Claims", "unknown", None, None, CLAIMS, "No assertion in the evidence."))

    # -- Users and groups -----------------------------------------------------------------------------------
    assignment = [e for e in errors if e.code in ASSIGNMENT_CODES]
    if assignment:
        rows.append(
            _row(
                USERS,
                "The user may use the app",
                "fail",
                f"AADSTS{assignment[0].code}",
                "assigned",
                f"{USERS} → Add user/group",
                "Assign the user, or a group they are in, to the app.",
            )
        )
    elif issued:
        rows.append(_row(USERS, "The user may use the app", "ok", "Entra issued an assertion", "assigned", USERS))
    else:
        rows.append(_row(USERS, "The user may use the app", "unknown", None, "assigned", USERS))

    # -- SAML Certificates ----------------------------------------------------------------------------------
    sig = response.signature if response else None
    required = getattr(profile, "signing", None)
    if sig is not None and sig.status is SignatureStatus.VALID:
        signed = set(sig.signed_elements)
        ok = required is None or (required == "both" and signed >= {"response", "assertion"}) or required in signed
        rows.append(
            _row(
                CERTS,
                "Signing Option",
                "ok" if ok else "fail",
                " and ".join(sorted(signed)),
                required,
                f"{CERTS} → Edit → Signing Option",
            )
        )
    else:
        rows.append(
            _row(
                CERTS,
                "Signing Option",
                "unknown",
                sig.status.value if sig else None,
                required,
                f"{CERTS} → Edit → Signing Option",
            )
        )
    if sig is not None and sig.signatures:
        sha1 = "sha1_signature" in codes
        rows.append(
            _row(
                CERTS,
                "Signing Algorithm SHA-256",
                "fail" if sha1 else "ok",
                (sig.signatures[0].signature_method or "?").rsplit("#", 1)[-1],
                "rsa-sha256",
                f"{CERTS} → Edit → Signing Algorithm",
            )
        )
    cert_state, note = "unknown", None
    if codes & {"cert_rolled", "signed_by_unknown_key"}:
        cert_state, note = "fail", "The SP's certificate is not the one Entra signs with: rollover done or pending."
    elif sig is not None and sig.key is not None:
        days = sig.key.days_left
        if days is not None and days < 60:
            cert_state, note = "fail", f"The signing certificate expires in {days} days: create and activate a new one."
        else:
            cert_state = "ok"
    rows.append(
        _row(
            CERTS,
            "The SP has Entra's current signing certificate",
            cert_state,
            sig.key.sha1 if sig is not None and sig.key is not None else None,
            None,
            f"{CERTS} → Federation Metadata XML / Certificate (Base64)",
            note,
        )
    )

    # -- Conditional Access ---------------------------------------------------------------------------------
    ca = [e for e in errors if e.code in CA_CODES]
    if ca:
        rows.append(
            _row(
                CA,
                "Sign-in meets the policies",
                "fail",
                f"AADSTS{ca[0].code}",
                "no policy failure",
                "Protection → Conditional Access → Policies (and Sign-in logs for the policy that applied)",
                "Scope the policy to exclude or fit this app, or let users satisfy MFA / a compliant device "
                "(embedded web views cannot always do interactive MFA).",
            )
        )
    elif issued:
        rows.append(_row(CA, "Sign-in meets the policies", "ok", "an assertion was issued", None, "Conditional Access"))
    else:
        rows.append(_row(CA, "Sign-in meets the policies", "unknown", None, None, "Conditional Access"))
    if unverified:
        # A ✓ read from an unsigned message says what the message claims, not what Entra is configured with.
        rows = [
            ChecklistRow(
                r.step,
                r.item,
                r.state,
                r.seen,
                r.expected,
                r.field,
                ((r.note + " ") if r.note else "") + "(seen in unverified values)",
            )
            if r.state == "ok"
            else r
            for r in rows
        ]
    return tuple(rows)
