"""Checks for what the IdP sends: Responses and Assertions (status, issuer, audience, recipient, validity
window, subject confirmation, NameID, claims). One small function per check: Context → findings.

Checks read the trusted values when a signature verified, else the unverified ones (the verdict banner and
the signature findings already say that those are unproven). Every finding quotes expected and actual.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..catalog import claim_by_name, claims, finding, nameid_formats
from ..instants import duration, iso, parse_time
from ..model import Finding, Severity, SignatureStatus
from ..saml import ENCRYPTED_ASSERTION, NAME_ID, NS, SUCCESS, child, has_comment
from ..transform import hint as transform_hint
from .context import BASIC_CONFIG, Check, Context
from .hints import ATTRIBUTES_AND_CLAIMS, entra_name, local_name, mismatch_fix, name_id_source, near_miss

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
GROUPS_LINK = "http://schemas.microsoft.com/claims/groups.link"


def check_kind(ctx: Context) -> list[Finding]:
    if ctx.kind == "authn_request":
        v = ctx.values
        return [
            finding(
                "authn_request",
                actual=f"Issuer {v.issuer!r}, ACS URL {v.acs_url!r}",
            )
        ]
    if ctx.kind == "logout_request":
        return [finding("logout_message", "This is a LogoutRequest (single logout)", actual=ctx.values.issuer)]
    if ctx.kind == "logout_response":
        return [finding("logout_message", "This is a LogoutResponse (single logout)", actual=ctx.values.issuer)]
    return []


def check_status(ctx: Context) -> list[Finding]:
    v = ctx.values
    if ctx.kind not in ("response", "logout_response") or v.status_code in (None, SUCCESS):
        if ctx.kind in ("response", "logout_response") and v.status_code is None:
            return [finding("missing_status", where="samlp:Status")]
        return []
    codes = " / ".join(c.rsplit(":", 1)[-1] for c in (v.status_code, *v.status_sub_codes))
    message = v.status_message or v.status_detail
    return [
        finding(
            "idp_error_status",
            f"The IdP answered with an error status: {codes}",
            expected="urn:oasis:names:tc:SAML:2.0:status:Success",
            actual=f"{codes}" + (f": {message}" if message else ""),
            where="samlp:Status",
        )
    ]


def check_no_assertion(ctx: Context) -> list[Finding]:
    if ctx.kind != "response" or ctx.values.status_code not in (SUCCESS, None):
        return []
    if ctx.assertion is None and child(ctx.root, ENCRYPTED_ASSERTION) is None:
        if ctx.values.status_code is None:  # neither a Status nor an assertion: nothing to sign in with either
            return [
                finding("no_assertion", "A response without a Status and without an assertion", where="samlp:Response")
            ]
        return [finding("no_assertion", where="samlp:Response")]
    return []


def check_issuer(ctx: Context) -> list[Finding]:
    expected = ctx.settings.idp_entity_id
    v = ctx.values
    out = []
    seen = [("Response Issuer", v.issuer, "saml:Issuer")] if ctx.kind != "assertion" else []
    seen.append(("Assertion Issuer", v.assertion_issuer, "saml:Assertion/saml:Issuer"))
    if ctx.kind not in ("response", "assertion"):
        return []
    for label, actual, where in seen:
        if actual is None or expected is None or actual == expected:
            continue
        hint = near_miss(expected, actual)
        out.append(
            finding(
                "issuer_mismatch",
                f"{label} is not the IdP the SP trusts",
                expected=expected,
                actual=actual,
                fix=(
                    f"The message comes from `{actual}` but the SP is set up for `{expected}`"
                    + (f" ({hint})" if hint else "")
                    + ". Give the SP the metadata of the Entra app that actually signs in (tenant ID in "
                    "https://sts.windows.net/<tenant-id>/), or fix the IdP entity ID in the SP."
                ),
                where=where,
            )
        )
    return out


def check_audience(ctx: Context) -> list[Finding]:
    expected = ctx.settings.sp_entity_id
    v = ctx.values
    if ctx.kind not in ("response", "assertion") or expected is None or ctx.assertion is None:
        return []
    if not v.audiences:
        return [
            finding(
                "audience_mismatch",
                "The assertion names no Audience",
                expected=expected,
                actual="no AudienceRestriction",
                where="saml:Conditions",
                severity=Severity.WARNING,
            )
        ]
    if expected in v.audiences:
        return []
    actual = v.audiences[0]
    return [
        finding(
            "audience_mismatch",
            expected=expected,
            actual=", ".join(v.audiences),
            fix=mismatch_fix("Identifier (Entity ID)", actual, expected, f"Change it under {BASIC_CONFIG}."),
            where="saml:Conditions/saml:AudienceRestriction/saml:Audience",
        )
    ]


def check_recipient(ctx: Context) -> list[Finding]:
    expected = ctx.settings.acs_url
    out = []
    for i, sc in enumerate(ctx.values.subject_confirmations):
        if sc.recipient is None:
            continue
        if expected is not None and sc.recipient != expected:
            out.append(
                finding(
                    "recipient_mismatch",
                    expected=expected,
                    actual=sc.recipient,
                    fix=mismatch_fix(
                        "Reply URL (Assertion Consumer Service URL)",
                        sc.recipient,
                        expected,
                        f"Change it under {BASIC_CONFIG}.",
                    ),
                    where=f"saml:SubjectConfirmation[{i + 1}]/saml:SubjectConfirmationData/@Recipient",
                )
            )
    return out


def check_destination(ctx: Context) -> list[Finding]:
    expected = ctx.settings.acs_url
    actual = ctx.values.destination
    if ctx.kind != "response" or expected is None or actual is None or actual == expected:
        return []
    return [
        finding(
            "destination_mismatch",
            expected=expected,
            actual=actual,
            fix=mismatch_fix("Reply URL", actual, expected, f"Change it under {BASIC_CONFIG}."),
            where="samlp:Response/@Destination",
        )
    ]


def _host(url: str | None) -> str | None:
    if not url or not url.lower().startswith(("http://", "https://")):
        return None
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:
        return None


def _related(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def check_audience_host(ctx: Context) -> list[Finding]:
    """An http(s) Audience on another host than the Recipient / Destination: usually an Identifier copied from
    another app or environment. Needs no SP settings, so it also speaks when none were given."""
    v = ctx.values
    if ctx.settings.sp_entity_id:
        return []  # the SP's own entity ID is compared exactly (audience_mismatch); the host says nothing more
    if ctx.kind not in ("response", "assertion") or ctx.assertion is None:
        return []
    hosts = [h for h in (_host(a) for a in v.audiences) if h]
    targets = [(u, h) for u in [sc.recipient for sc in v.subject_confirmations] + [v.destination] if (h := _host(u))]
    if not hosts or not targets:
        return []
    if any(_related(h, t) for h in hosts for _, t in targets):
        return []
    url, _ = targets[0]
    return [
        finding(
            "audience_host_differs",
            expected=f"an Identifier on {targets[0][1]} (the host the response is sent to)",
            actual=f"Audience {', '.join(v.audiences)}; Recipient/Destination {url}",
            where="saml:Conditions/saml:AudienceRestriction/saml:Audience",
        )
    ]


def _window(ctx: Context, not_before: str | None, not_on_or_after: str | None, where: str) -> list[Finding]:
    out: list[Finding] = []
    now, skew = ctx.now, ctx.skew
    nb, na = parse_time(not_before), parse_time(not_on_or_after)
    for label, raw, parsed in (("NotBefore", not_before, nb), ("NotOnOrAfter", not_on_or_after, na)):
        if raw and parsed is None:
            out.append(finding("bad_time_format", actual=f"{label}={raw!r}", where=where))
    if nb is not None and now < nb - skew:
        out.append(
            finding(
                "not_yet_valid",
                f"Not yet valid: {where} starts {duration(nb - now)} after the evaluation time",
                expected=f"now ≥ NotBefore − skew ({iso(nb)} − {ctx.settings.skew} s)",
                actual=f"now = {iso(now)}, early by {duration(nb - skew - now)} beyond the allowed skew",
                where=where,
            )
        )
    elif nb is not None and now < nb:
        out.append(
            finding(
                "within_skew",
                f"{where} is valid only thanks to the clock-skew allowance",
                expected=f"now ≥ NotBefore ({iso(nb)})",
                actual=f"now = {iso(now)}, {duration(nb - now)} early (skew {ctx.settings.skew} s)",
                where=where,
            )
        )
    if na is not None and now >= na + skew:
        out.append(
            finding(
                "expired",
                f"Expired: {where} ended {duration(now - na)} before the evaluation time",
                expected=f"now < NotOnOrAfter + skew ({iso(na)} + {ctx.settings.skew} s)",
                actual=f"now = {iso(now)}, late by {duration(now - na - skew)} beyond the allowed skew",
                where=where,
            )
        )
    elif na is not None and now >= na:
        out.append(
            finding(
                "within_skew",
                f"{where} is valid only thanks to the clock-skew allowance",
                expected=f"now < NotOnOrAfter ({iso(na)})",
                actual=f"now = {iso(now)}, {duration(now - na)} late (skew {ctx.settings.skew} s)",
                where=where,
            )
        )
    return out


def check_conditions_window(ctx: Context) -> list[Finding]:
    if ctx.kind not in ("response", "assertion"):
        return []
    return _window(ctx, ctx.values.not_before, ctx.values.not_on_or_after, "saml:Conditions")


def check_subject_confirmation(ctx: Context) -> list[Finding]:
    if ctx.kind not in ("response", "assertion") or ctx.assertion is None:
        return []
    scs = ctx.values.subject_confirmations
    if not scs:
        return [finding("no_bearer_confirmation", actual="no SubjectConfirmation", where="saml:Subject")]
    out: list[Finding] = []
    bearer = [sc for sc in scs if sc.method == BEARER]
    if not bearer:
        out.append(
            finding(
                "no_bearer_confirmation",
                expected=BEARER,
                actual=", ".join(sc.method or "(no Method)" for sc in scs),
                where="saml:SubjectConfirmation/@Method",
            )
        )
    for i, sc in enumerate(scs):
        out += _window(
            ctx, sc.not_before, sc.not_on_or_after, f"saml:SubjectConfirmation[{i + 1}]/saml:SubjectConfirmationData"
        )
    return out


def check_session(ctx: Context) -> list[Finding]:
    end = parse_time(ctx.values.session_not_on_or_after)
    if end is None or ctx.now < end:
        return []
    return [
        finding(
            "session_expired",
            expected=f"now < SessionNotOnOrAfter ({iso(end)})",
            actual=f"now = {iso(ctx.now)}, {duration(ctx.now - end)} later",
            where="saml:AuthnStatement/@SessionNotOnOrAfter",
        )
    ]


def check_in_response_to(ctx: Context) -> list[Finding]:
    if ctx.kind != "response":
        return []
    value = ctx.values.in_response_to or next(
        (sc.in_response_to for sc in ctx.values.subject_confirmations if sc.in_response_to), None
    )
    if value is None:
        return [finding("idp_initiated", actual="no InResponseTo", where="samlp:Response")]
    return [finding("in_response_to_present", actual=value, where="samlp:Response/@InResponseTo")]


def check_encrypted(ctx: Context) -> list[Finding]:
    enc = next(ctx.root.iterdescendants(ENCRYPTED_ASSERTION), None)  # C-level tag filter, no ElementPath
    if enc is None:
        return []
    method = next(enc.iterdescendants("{http://www.w3.org/2001/04/xmlenc#}EncryptionMethod"), None)
    return [
        finding(
            "encrypted",
            actual=method.get("Algorithm") if method is not None else "EncryptedAssertion",
            where="saml:EncryptedAssertion",
        )
    ]


def check_comment_in_nameid(ctx: Context) -> list[Finding]:
    assertion = ctx.assertion
    # ElementPath, not child(): every Subject is searched (a NameID behind an empty first Subject is still read by
    # XPath-based SPs, so a comment inside it is still an attack to report).
    name_id = assertion.find("saml:Subject/saml:NameID", NS) if assertion is not None else None
    if name_id is None and ctx.kind == "logout_request":
        name_id = child(ctx.root, NAME_ID)
    if name_id is None or not has_comment(name_id):
        return []
    first = (name_id.text or "").strip()
    return [
        finding(
            "comment_in_nameid",
            expected=f"the full value {ctx.values.name_id!r}",
            actual=f"a comment splits it; naive readers see only {first!r}",
            where="saml:Subject/saml:NameID",
        )
    ]


_SIGNING = {"assertion": {"assertion"}, "response": {"response"}, "both": {"assertion", "response"}}


def check_unsigned(ctx: Context) -> list[Finding]:
    sig = ctx.signature
    if sig is None or not ctx.issued:
        return []
    required = getattr(ctx.settings.profile, "signing", None)
    if sig.status is SignatureStatus.UNSIGNED:
        return [finding("unsigned_assertion", where="saml:Assertion")]
    if sig.status is not SignatureStatus.VALID:
        return []
    signed = set(sig.signed_elements)
    if required in _SIGNING and not _SIGNING[required] <= signed:
        return [
            finding(
                "signing_requirement_unmet",
                expected=" and ".join(sorted(_SIGNING[required])),
                actual=" and ".join(sorted(signed)) or "nothing",
                where="ds:Signature",
            )
        ]
    if sig.signed_elements == ("response",):
        return [finding("response_only_signed", where="samlp:Response/ds:Signature")]
    return []


def check_name_id(ctx: Context) -> list[Finding]:
    if not ctx.issued:
        return []
    v = ctx.values
    out: list[Finding] = []
    if not v.name_id:
        out.append(finding("name_id_missing", actual="no NameID or an empty one", where="saml:Subject/saml:NameID"))
    wanted = getattr(ctx.settings.profile, "name_id_source", None)
    source = name_id_source(v) if wanted else None
    if wanted and source and wanted not in source and not source.startswith("user.mail or"):
        note = getattr(ctx.settings.profile, "name_id_note", None)
        out.append(
            finding(
                "name_id_source_mismatch",
                expected=wanted,
                actual=f"{v.name_id!r} (looks like {source})",
                fix=f"In {ATTRIBUTES_AND_CLAIMS} → Unique User Identifier (Name ID) → Source attribute, choose "
                f"`{wanted}`." + (f" {note}" if note else ""),
                where="saml:Subject/saml:NameID",
            )
        )
    fmt = v.name_id_format or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    known = nameid_formats().get(fmt)
    expected = ctx.settings.name_id_format
    if expected and fmt != expected:
        want = nameid_formats().get(expected)
        out.append(
            finding(
                "name_id_format_mismatch",
                expected=expected,
                actual=fmt,
                fix=f"In {ATTRIBUTES_AND_CLAIMS} → Unique User Identifier (Name ID) → Choose name identifier format, "
                f"select `{want.short if want else expected}` (now `{known.short if known else fmt}`).",
                where="saml:Subject/saml:NameID/@Format",
            )
        )
    if ctx.settings.expected_name_id and v.name_id and v.name_id != ctx.settings.expected_name_id:
        others = [x for a in v.attributes for x in a.values]
        how = transform_hint(ctx.settings.expected_name_id, v.name_id, others)
        out.append(
            finding(
                "name_id_value_mismatch",
                expected=ctx.settings.expected_name_id,
                actual=v.name_id,
                fix=(how + " " if how else "")
                + f"Set it under {ATTRIBUTES_AND_CLAIMS} → Unique User Identifier (Name ID) → Source attribute "
                "(and a transformation if needed).",
                where="saml:Subject/saml:NameID",
            )
        )
    jit = getattr(ctx.settings.profile, "jit_provisioning", False)
    if jit and v.name_id and (known is None or not known.stable or "@" in v.name_id):
        out.append(
            finding(
                "name_id_unstable_jit",
                actual=f"{v.name_id!r} ({fmt.rsplit(':', 1)[-1]})",
                where="saml:Subject/saml:NameID",
            )
        )
    if known is not None and not known.stable:
        out.append(
            finding(
                "name_id_format",
                f"NameID format {known.short}: the identifier is not stable",
                actual=f"{v.name_id!r} ({known.short})",
                fix=known.notes,
                where="saml:Subject/saml:NameID/@Format",
            )
        )
    return out


def check_claims(ctx: Context) -> list[Finding]:
    if not ctx.issued:
        return []
    attrs = {a.name: a for a in ctx.values.attributes}
    out: list[Finding] = []
    if GROUPS_LINK in attrs:
        out.append(finding("groups_overage", actual=f"{GROUPS_LINK} = {', '.join(attrs[GROUPS_LINK].values)}"))
    for required in ctx.settings.required_claims:
        attr = attrs.get(required)
        if attr is None:
            claim = claim_by_name(required)
            near = next(
                (n for n in attrs if local_name(n) == local_name(required) or (claim is not None and n == claim.uri)),
                None,
            )
            if near is not None:
                out.append(
                    finding(
                        "claim_wrong_name",
                        expected=required,
                        actual=near,
                        fix=f"In {ATTRIBUTES_AND_CLAIMS}, edit the claim `{near}`: set {entra_name(required)}.",
                        where="saml:AttributeStatement",
                    )
                )
            else:
                source = f" (usually from {claim.source})" if claim is not None and claim.source else ""
                out.append(
                    finding(
                        "claim_missing",
                        f"The SP requires the claim {required!r}, which is not in the assertion",
                        expected=required,
                        actual="claims sent: " + (", ".join(sorted(attrs)) or "none"),
                        fix=f"In {ATTRIBUTES_AND_CLAIMS} → Add new claim: {entra_name(required)}{source}.",
                        where="saml:AttributeStatement",
                    )
                )
            continue
        if not any(v.strip() for v in attr.values):
            out.append(finding("claim_empty", expected=f"a value for {required}", actual="empty", where=required))
        elif len(attr.values) > 1:
            claim = claims().get(attr.name)
            if claim is None or not claim.multi:
                out.append(
                    finding(
                        "claim_multi_valued",
                        expected=f"one value for {required}",
                        actual=f"{len(attr.values)} values: {', '.join(attr.values[:5])}",
                        where=required,
                    )
                )
    return out


RESPONSE_CHECKS: list[Check] = [
    check_kind,
    check_status,
    check_no_assertion,
    check_unsigned,
    check_issuer,
    check_audience,
    check_audience_host,
    check_recipient,
    check_destination,
    check_conditions_window,
    check_subject_confirmation,
    check_session,
    check_in_response_to,
    check_encrypted,
    check_comment_in_nameid,
    check_name_id,
    check_claims,
]
