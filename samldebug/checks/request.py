"""Checks for what the SP sends: AuthnRequests (predicting Entra's answer) and logout messages."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..catalog import finding
from ..entra import ENTRA_HOSTS
from ..model import Finding, SignatureStatus
from ..saml import NS
from .context import BASIC_CONFIG, Check, Context
from .hints import near_miss

ENTRA_NAMEID_FORMATS = {
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}


# The kinds these checks speak about (each check's own guard says which): for any other message they find nothing,
# so checks.run does not call them (tests/test_checks.py holds the guards to this).
REQUEST_KINDS = frozenset({"authn_request", "logout_request", "logout_response"})


def _is_request(ctx: Context) -> bool:
    return ctx.kind == "authn_request"


def check_request_issuer(ctx: Context) -> list[Finding]:
    expected, actual = ctx.settings.sp_entity_id, ctx.values.issuer
    if not _is_request(ctx) or expected is None or actual == expected:
        return []
    hint = near_miss(expected, actual or "")
    return [
        finding(
            "request_issuer_mismatch",
            expected=expected,
            actual=actual or "(no Issuer)",
            fix=f"Identifier (Entity ID) in Entra is `{expected}`, the SP sends `{actual}`: make them equal"
            + (f" ({hint})" if hint else "")
            + f". Change it under {BASIC_CONFIG}, or change the SP's entity ID. Entra would answer AADSTS700016.",
            where="samlp:AuthnRequest/saml:Issuer",
        )
    ]


def check_request_acs(ctx: Context) -> list[Finding]:
    actual = ctx.values.acs_url
    if not _is_request(ctx) or actual is None:
        return []
    registered = tuple(
        dict.fromkeys(ctx.settings.reply_urls + ((ctx.settings.acs_url,) if ctx.settings.acs_url else ()))
    )
    if not registered or actual in registered:
        return []
    closest = min(registered, key=lambda r: 0 if near_miss(r, actual) else 1)
    hint = near_miss(closest, actual)
    return [
        finding(
            "acs_url_not_registered",
            expected=" or ".join(registered),
            actual=actual,
            fix=f"The request asks Entra to post to `{actual}`; the Reply URL configured is `{closest}`"
            + (f" ({hint})" if hint else "")
            + f": make them exactly equal under {BASIC_CONFIG} → Reply URL, or fix the SP's ACS URL. "
            "Entra would answer AADSTS50011.",
            where="samlp:AuthnRequest/@AssertionConsumerServiceURL",
        )
    ]


def check_request_destination(ctx: Context) -> list[Finding]:
    destination = ctx.values.destination
    if ctx.kind not in ("authn_request", "logout_request", "logout_response") or not destination:
        return []
    parts = urlsplit(destination)
    if parts.hostname in ENTRA_HOSTS and parts.path.lower().startswith(("/common/", "/organizations/")):
        return [finding("request_destination_common", actual=destination, where="@Destination")]
    known = ctx.settings.idp_sso_urls if ctx.kind == "authn_request" else ctx.settings.idp_slo_urls
    if known and destination not in known:
        code = "request_destination_mismatch" if ctx.kind == "authn_request" else "logout_destination_mismatch"
        return [finding(code, expected=" or ".join(known), actual=destination, where="@Destination")]
    return []


def check_request_shape(ctx: Context) -> list[Finding]:
    if not _is_request(ctx):
        return []
    out: list[Finding] = []
    v, root = ctx.values, ctx.root
    request_id = root.get("ID") or ""
    if request_id[:1].isdigit():
        out.append(finding("request_id_starts_with_digit", actual=request_id, where="samlp:AuthnRequest/@ID"))
    if root.find("saml:Subject", NS) is not None:
        out.append(finding("request_has_subject", where="samlp:AuthnRequest/saml:Subject"))
    scoping = root.find("samlp:Scoping", NS)
    if scoping is not None:
        bad = [n for n in ("ProxyCount",) if scoping.get(n) is not None]
        bad += [t for t in ("IDPList", "RequesterID") if scoping.find(f"samlp:{t}", NS) is not None]
        if bad:
            out.append(finding("request_scoping_unsupported", actual=", ".join(bad), where="samlp:Scoping"))
    policy = root.find("samlp:NameIDPolicy", NS)
    if v.name_id_policy_format and v.name_id_policy_format not in ENTRA_NAMEID_FORMATS:
        out.append(
            finding(
                "name_id_policy_unsupported",
                expected="persistent, emailAddress, unspecified or transient",
                actual=v.name_id_policy_format,
                where="samlp:NameIDPolicy/@Format",
            )
        )
    if policy is not None and policy.get("SPNameQualifier"):
        out.append(
            finding(
                "name_id_policy_sp_name_qualifier", actual=policy.get("SPNameQualifier"), where="samlp:NameIDPolicy"
            )
        )
    rac = root.find("samlp:RequestedAuthnContext", NS)
    if rac is not None:
        comparison = rac.get("Comparison") or "exact"
        out.append(
            finding(
                "requested_authn_context",
                expected='no RequestedAuthnContext (or Comparison="exact" with a method the user really uses)',
                actual=f"Comparison={comparison}: "
                + ", ".join(c.rsplit(":", 1)[-1] for c in v.requested_authn_contexts),
                where="samlp:RequestedAuthnContext",
            )
        )
    if (v.is_passive or "").lower() == "true":
        out.append(finding("is_passive", actual='IsPassive="true"', where="samlp:AuthnRequest/@IsPassive"))
    return out


def check_request_signed(ctx: Context) -> list[Finding]:
    sig = ctx.signature
    if not _is_request(ctx) or not ctx.settings.require_signed_requests:
        return []
    if sig is None or sig.status is SignatureStatus.UNSIGNED:
        return [finding("unsigned_request", where="samlp:AuthnRequest")]
    return []


REQUEST_CHECKS: list[Check] = [
    check_request_issuer,
    check_request_acs,
    check_request_destination,
    check_request_shape,
    check_request_signed,
]
