"""Realistic support tickets: what an engineer pastes, what the SP expects, and the diagnosis a senior Entra
support engineer would write: the root-cause code, the side, where to fix it, the values the sentence must name,
and the fixes it must never give.

Fixtures are built at test time by tests/factory.py and tests/harfactory.py (throw-away keys); nothing signed is
stored in the repository.
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import harfactory as hf
from factory import (
    ACS_URL,
    ISSUER,
    SP_ENTITY_ID,
    T0,
    TENANT,
    ResponseSpec,
    b64,
    build_response,
    other_key,
    sign,
    xsw,
)
from helpers import entra_settings as entra

from samldebug.config import Settings
from samldebug.profiles import Profile, presets

NOW = T0 + timedelta(minutes=1)
SSO = f"https://login.microsoftonline.com/{TENANT}/saml2"
TRACE = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
CORRELATION = "9f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19"


def bare(**kw: object) -> Settings:
    return Settings(**kw)  # type: ignore[arg-type]


@dataclass
class Ticket:
    name: str
    make: Callable[[], bytes | str]
    code: str
    side: str
    where: str  # a substring of diagnosis.where
    names: tuple[str, ...] = ()  # substrings the summary must contain (the actual values)
    never: tuple[str, ...] = ()  # substrings no fix step (nor `where`) may contain, case-insensitive
    settings: Callable[[], Settings] = field(default=entra)
    now: datetime | None = NOW  # None: no evaluation time given (judged at the message's own time)
    notes: tuple[str, ...] = ()  # substrings one of the notes must contain
    fix_has: tuple[str, ...] = ()  # substrings some fix step must contain
    flow_codes: tuple[str, ...] | None = None  # per-flow diagnosis codes of a capture, in flow order


def text(s: str) -> Callable[[], str]:
    return lambda: s


def ids(code: str, message: str) -> str:
    return f"AADSTS{code}: {message}\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}\r\nTimestamp: 2026-03-01 12:00:05Z"


def error_page(code: str, message: str) -> Callable[[], str]:
    return lambda: hf.entra_page(
        {"sErrorCode": code, "strServiceExceptionMessage": f"AADSTS{code}: {message}", "correlationId": CORRELATION},
        extra=f"<div>Request Id: {TRACE}</div><div>Correlation Id: {CORRELATION}</div>",
    )


def error_redirect(code: str, message: str) -> Callable[[], str]:
    from urllib.parse import quote

    return lambda: (
        "https://sp.example.com/oidc/callback?error=invalid_request&error_description="
        + quote(f"AADSTS{code}: {message}\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}")
        + "&state=st-9"
    )


def response(what: str = "assertion", **spec: object) -> Callable[[], str]:
    return lambda: b64(sign(build_response(ResponseSpec(**spec)), what))  # type: ignore[arg-type]


def unsigned(**spec: object) -> Callable[[], str]:
    return lambda: b64(build_response(ResponseSpec(**spec)))  # type: ignore[arg-type]


def error_response(message: str, status: str = "urn:oasis:names:tc:SAML:2.0:status:Requester") -> Callable[[], str]:
    return lambda: b64(
        sign(
            build_response(ResponseSpec(status=status, status_message=message, with_assertion=False)),
            "response",
        )
    )


def request(
    request_id: str = "id-7d1c0b7e2f",
    acs: str = ACS_URL,
    issuer: str = SP_ENTITY_ID,
    extra: str = "",
) -> Callable[[], str]:
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id}" Version="2.0" '
        f'IssueInstant="2026-03-01T12:00:00Z" Destination="{SSO}" AssertionConsumerServiceURL="{acs}" '
        f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{extra}</samlp:AuthnRequest>"
    ).encode()

    def make() -> str:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        from urllib.parse import quote_plus

        return f"{SSO}?SAMLRequest={quote_plus(base64.b64encode(c.compress(xml) + c.flush()).decode())}"

    return make


def reindented_signed_info() -> str:
    """A signed response whose SignedInfo was re-indented (a formatted copy from a ticket): the digests still match,
    the signature value no longer does, and no certificate was given to check it against."""
    el = sign(build_response(ResponseSpec()), "assertion")
    for si in el.iter("{http://www.w3.org/2000/09/xmldsig#}SignedInfo"):
        si.text = "\n    "
    return b64(el)


def balena(**kw: object) -> Callable[[], Settings]:
    def make() -> Settings:
        profile = presets()["balenacloud"].profile(sso_identifier="acme")
        return profile.apply(entra(sp_entity_id=None, acs_url=None, **kw))

    return make


BALENA_ID = "https://api.balena-cloud.com/auth/saml/acme"
BALENA_ACS = "https://api.balena-cloud.com/auth/saml/acme/callback"
BALENA_ATTRS = {
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["alice@contoso.example"],
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": ["alice@contoso.onmicrosoft.com"],
}


def profile(**kw: object) -> Callable[[], Settings]:
    return lambda: replace(entra(), profile=Profile(name="ticket", **kw))  # type: ignore[arg-type]


# --- captures ------------------------------------------------------------------------------------------------


def _acs_post(flow: hf.Flow) -> int:
    return next(i for i, x in enumerate(flow.exchanges) if x.method == "POST" and x.url == ACS_URL)


def late_post_har() -> bytes:
    """The response sits in the IdP's auto-post page on time; the browser posts it to the ACS 90 minutes after
    its window closed (a laptop lid, a tab restored the next morning)."""
    flow = hf.sp_initiated()
    i = _acs_post(flow)
    lifetime = timedelta(hours=1)
    flow.exchanges[i] = replace(
        flow.exchanges[i], started=T0 + timedelta(seconds=20) + lifetime + timedelta(minutes=90)
    )
    for j in range(i + 1, len(flow.exchanges)):
        flow.exchanges[j] = replace(flow.exchanges[j], started=flow.exchanges[i].started + timedelta(seconds=j - i))
    return hf.dumps(hf.har(flow))


def on_time_har() -> bytes:
    return hf.dumps(hf.har(hf.sp_initiated()))


def error_har() -> bytes:
    return hf.dumps(hf.har(hf.error_flow()))


def sp_rejects_valid_har() -> bytes:
    """python3-saml answers the ACS POST with its 'Signature validation failed' page, though the response
    verifies against the app's metadata: the SP has a stale IdP certificate."""
    flow = hf.sp_initiated()
    i = _acs_post(flow)
    flow.exchanges[i] = replace(
        flow.exchanges[i],
        status=500,
        response_headers=[],
        set_cookies=[],
        body="<html><body><h1>SAML error</h1><p>Signature validation failed. SAML Response rejected</p></body></html>",
    )
    return hf.dumps(hf.har(flow))


def sp_answers_acs(status: int, body: str) -> Callable[[], bytes]:
    """An on-time sign-in whose ACS POST the SP answers with its own rejection."""

    def make() -> bytes:
        flow = hf.sp_initiated()
        i = _acs_post(flow)
        flow.exchanges[i] = replace(flow.exchanges[i], status=status, response_headers=[], set_cookies=[], body=body)
        return hf.dumps(hf.har(flow))

    return make


def tracer_hashed() -> bytes:
    return hf.dumps(hf.saml_tracer(hf.sp_initiated(), export_filter="hash"))


def audience_mismatch_har() -> bytes:
    request_id = f"id-{random.Random(1).getrandbits(128):032x}"  # the ID sp_initiated(seed=1) gives its request
    spec = ResponseSpec(audience=SP_ENTITY_ID + "/", issued=T0 + timedelta(seconds=20), in_response_to=request_id)
    flow = hf.sp_initiated(response_spec=spec)
    return hf.dumps(hf.har(flow))


AADSTS50011_SLASH = (
    "The redirect URI 'https://sp.example.com/saml/acs/' specified in the request does not match the redirect URIs "
    "configured for the application '0d9c7a1e-52f4-4a4b-9f0e-3c6b2a1d9e77'. Make sure the redirect URI sent in the "
    "request matches one added to your application in the Azure portal."
)
AADSTS50011_HTTP = AADSTS50011_SLASH.replace("https://sp.example.com/saml/acs/", "http://sp.example.com/saml/acs")
AADSTS700016 = (
    "Application with identifier 'https://sp.example.com/saml/metadata/' was not found in the directory "
    f"'{TENANT}'. This can happen if the application has not been installed by the administrator of the tenant."
)
NO_ASSIGNMENT_FIXES = ("Users and groups → Add user/group: assign the user",)
NOT_CA = ("Conditional Access",)
NOT_PERSISTENT = ("user.objectid", "persistent", "just-in-time")


TICKETS: list[Ticket] = [
    # -- Entra error pages and texts ------------------------------------------------------------------------
    Ticket(
        "50011 text, trailing slash, with the Reply URL given",
        text(ids("50011", AADSTS50011_SLASH)),
        "aadsts_error",
        "entra",
        "Reply URL (Assertion Consumer Service URL)",
        names=("https://sp.example.com/saml/acs/", "https://sp.example.com/saml/acs`", "trailing slash", "AADSTS50011"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
    ),
    Ticket(
        "50011 text whose URL is exactly the SP's ACS URL: add it or look at another app or tenant, not 'make them equal'",
        text(ids("50011", AADSTS50011_SLASH)),
        "aadsts_error",
        "entra",
        "Reply URL (Assertion Consumer Service URL)",
        names=("https://sp.example.com/saml/acs/", "the SP's own ACS URL", "application ID"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES + ("make them exactly equal",),
        settings=lambda: entra(acs_url="https://sp.example.com/saml/acs/"),
    ),
    Ticket(
        "700016 text whose identifier is exactly the SP's entity ID: the tenant, not 'make them equal'",
        text(ids("700016", AADSTS700016)),
        "aadsts_error",
        "entra",
        "Identifier (Entity ID)",
        names=("https://sp.example.com/saml/metadata/", "the SP's own entity ID", "tenant ID"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES + ("make them equal",),
        settings=lambda: entra(sp_entity_id="https://sp.example.com/saml/metadata/"),
    ),
    Ticket(
        "50011 error page, http ACS behind a TLS proxy",
        error_page("50011", AADSTS50011_HTTP),
        "aadsts_error",
        "sp",
        "X-Forwarded-Proto",
        names=("http://sp.example.com/saml/acs", "https"),
        never=("Add `http://", "add the exact URL there") + NOT_CA,
    ),
    Ticket(
        "50011 in an OAuth error redirect (App registrations branch)",
        error_redirect(
            "50011",
            "The redirect URI 'https://sp.example.com/oidc/callback' specified in the request "
            "does not match the redirect URIs configured for the application 'x'.",
        ),
        "aadsts_error",
        "entra",
        "App registrations → <app> → Authentication",
        names=("AADSTS50011", "https://sp.example.com/oidc/callback"),
        never=NOT_CA,
        settings=bare,
    ),
    Ticket(
        "700016 text, identifier with trailing slash",
        text(ids("700016", AADSTS700016)),
        "aadsts_error",
        "entra",
        "Identifier (Entity ID)",
        names=("https://sp.example.com/saml/metadata/", SP_ENTITY_ID + "`", "trailing slash"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
    ),
    Ticket(
        "75011 error page: the SP's RequestedAuthnContext, not Conditional Access",
        error_page(
            "75011",
            "Authentication method 'X509, MultiFactor' by which the user authenticated with the "
            "service doesn't match requested authentication method 'Password, ProtectedTransport'.",
        ),
        "aadsts_error",
        "sp",
        "RequestedAuthnContext",
        names=("AADSTS75011", "RequestedAuthnContext"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
    ),
    Ticket(
        "50020 guest from another tenant: invite first",
        text(
            ids(
                "50020",
                "User account 'bob@fabrikam.example' from identity provider "
                "'https://sts.windows.net/1111aaaa-2222-3333-4444-555566667777/' does not exist in tenant "
                "'Contoso' and cannot access the application 'x'(SP) in that tenant.",
            )
        ),
        "aadsts_error",
        "entra",
        "Invite external user",
        names=("bob@fabrikam.example", "guest"),
        never=NO_ASSIGNMENT_FIXES + NOT_CA,
        fix_has=("Invite",),
    ),
    Ticket(
        "50034 user not found",
        text(ids("50034", "The user account {EUII Hidden} does not exist in the contoso.example directory.")),
        "aadsts_error",
        "entra",
        "Invite external user",
        names=("AADSTS50034",),
        never=NO_ASSIGNMENT_FIXES,
    ),
    Ticket(
        "65001 consent in error JSON",
        lambda: json.dumps(
            {
                "error": "invalid_grant",
                "error_description": f"AADSTS65001: The user or administrator has not consented to use the application "
                f"with ID 'x' named 'SP'.\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}",
                "error_codes": [65001],
                "trace_id": TRACE,
                "correlation_id": CORRELATION,
            }
        ),
        "aadsts_error",
        "entra",
        "Grant admin consent",
        names=("AADSTS65001", "consent"),
        never=NO_ASSIGNMENT_FIXES + ("Add user/group",),
        settings=bare,
    ),
    Ticket(
        "50105 not assigned (error page)",
        error_page(
            "50105",
            "Your administrator has configured the application SP ('x') to block users unless they "
            "are specifically granted ('assigned') access to the application.",
        ),
        "aadsts_error",
        "entra",
        "Users and groups → Add user/group",
        names=("AADSTS50105",),
        never=NOT_CA,
    ),
    Ticket(
        "53003 blocked by Conditional Access",
        error_page("53003", "Access has been blocked by Conditional Access policies."),
        "aadsts_error",
        "entra",
        "Conditional Access",
        names=("AADSTS53003",),
        never=NO_ASSIGNMENT_FIXES,
    ),
    Ticket(
        "500121 MFA denied",
        text(ids("500121", "Authentication failed during strong authentication request.")),
        "aadsts_error",
        "user",
        "Sign-in logs",
        names=("AADSTS500121",),
        never=NO_ASSIGNMENT_FIXES + ("Reply URL",),
    ),
    Ticket(
        "530004 guest needs a compliant device trust",
        text(ids("530004", "AcceptCompliantDevice setting isn't configured for this organization.")),
        "aadsts_error",
        "entra",
        "Conditional Access",
        names=("AADSTS530004",),
        fix_has=("Cross-tenant access settings",),
    ),
    Ticket(
        "7000215 in a token error JSON: the application's client secret, not the user",
        lambda: json.dumps(
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                "the request is the client secret value, not the client secret ID, for a secret added to app "
                f"'0d9c7a1e-52f4-4a4b-9f0e-3c6b2a1d9e77'.\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}",
                "error_codes": [7000215],
            }
        ),
        "aadsts_error",
        "sp",
        "Certificates & secrets",
        names=("AADSTS7000215",),
        never=NO_ASSIGNMENT_FIXES + NOT_CA,
        fix_has=("New client secret",),
        settings=bare,
    ),
    Ticket(
        "53011 guest blocked by risk in the home tenant: remediated there, not in this tenant's Conditional Access",
        text(ids("53011", "User blocked due to risk on home tenant.")),
        "aadsts_error",
        "entra",
        "Identity Protection → Risky users (home tenant)",
        names=("AADSTS53011",),
        never=NO_ASSIGNMENT_FIXES + ("Conditional Access → Policies",),
        fix_has=("home tenant",),
    ),
    # -- SAML error responses -------------------------------------------------------------------------------
    Ticket(
        "signed error response carrying AADSTS50105: no claim checks, the code leads",
        error_response(
            ids(
                "50105",
                "The signed in user 'alice@contoso.example' is not assigned to a role for the application 'x'(SP).",
            )
        ),
        "aadsts_error",
        "entra",
        "Users and groups",
        names=("AADSTS50105", "alice@contoso.example"),
        never=("claim", "NameID", "Signing Option"),
        settings=lambda: entra(required_claims=("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",)),
    ),
    Ticket(
        "signed error response (Responder / AuthnFailed) carrying AADSTS50126: a failed sign-in, never healthy",
        lambda: b64(
            sign(
                build_response(
                    ResponseSpec(
                        status="urn:oasis:names:tc:SAML:2.0:status:Responder",
                        sub_status="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed",
                        status_message=ids(
                            "50126", "Error validating credentials due to invalid username or password."
                        ),
                        with_assertion=False,
                    )
                ),
                "response",
            )
        ),
        "aadsts_error",
        "user",
        "",
        names=("AADSTS50126",),
        never=NO_ASSIGNMENT_FIXES + NOT_CA + ("Reply URL",),
        fix_has=("reset the password",),
    ),
    Ticket(
        "error response without an AADSTS code",
        error_response("Something went wrong", status="urn:oasis:names:tc:SAML:2.0:status:Responder"),
        "idp_error_status",
        "entra",
        "Sign-in logs",
        names=("Responder", "Something went wrong"),
        never=("claim",),
    ),
    Ticket(
        "a Response with neither a Status nor an assertion is not a healthy sign-in",
        text(
            '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_8e8dc5f6" Version="2.0" '
            f'IssueInstant="2026-03-01T12:00:00Z" Destination="{ACS_URL}"><saml:Issuer '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{ISSUER}</saml:Issuer></samlp:Response>'
        ),
        "no_assertion",
        "entra",
        "Sign-in logs",
        names=("without an assertion",),
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
    ),
    # -- signed responses with each mismatch ----------------------------------------------------------------
    Ticket(
        "audience with a trailing slash",
        response(audience=SP_ENTITY_ID + "/"),
        "audience_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=(SP_ENTITY_ID + "/", SP_ENTITY_ID + "`", "trailing slash"),
        never=NOT_CA,
    ),
    Ticket(
        "spn: audience (Identifier is not a URI)",
        response(audience="spn:sp-example-app"),
        "audience_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=("spn:sp-example-app", "sp-example-app", "not a URI"),
    ),
    Ticket(
        "recipient differs in path case and host case",
        response(recipient="https://SP.example.com/SAML/acs", destination="https://SP.example.com/SAML/acs"),
        "recipient_mismatch",
        "entra",
        "Reply URL",
        names=("https://SP.example.com/SAML/acs", ACS_URL, "host name case", "path case"),
    ),
    Ticket(
        "SP expects an http ACS URL: fixed at the SP or its proxy",
        response(),
        "recipient_mismatch",
        "sp",
        "X-Forwarded-Proto",
        names=("http://sp.example.com/saml/acs", ACS_URL),
        never=("Add the exact URL", "Change it under"),
        settings=lambda: entra(acs_url="http://sp.example.com/saml/acs"),
    ),
    Ticket(
        "signed with a certificate the SP does not have",
        lambda: b64(sign(build_response(ResponseSpec()), "assertion", keypair=other_key())),
        "signed_by_unknown_key",
        "sp",
        "SAML Certificates",
        names=("certificate",),
        never=NOT_CA,
    ),
    Ticket(
        "required claim missing",
        response(attributes={"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": ["alice@contoso.example"]}),
        "claim_missing",
        "entra",
        "Attributes & Claims",
        names=("emailaddress",),
        settings=lambda: entra(required_claims=("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",)),
    ),
    Ticket(
        "NameID format differs: look at the request's NameIDPolicy first",
        response(name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", name_id="AbC123xyz"),
        "name_id_format_mismatch",
        "entra",
        "name identifier format",
        names=("persistent", "emailAddress", "NameIDPolicy"),
        settings=lambda: entra(name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
    ),
    Ticket(
        "SP requires a signed assertion, only the Response is signed",
        response("response"),
        "signing_requirement_unmet",
        "entra",
        "Signing Option",
        names=("requires the assertion signed", "only the response"),
        settings=profile(signing="assertion"),
    ),
    Ticket(
        "unsigned response",
        unsigned(),
        "unsigned_assertion",
        "entra",
        "Signing Option",
        never=NOT_CA,
    ),
    Ticket(
        "re-indented SignedInfo, no metadata given: the message changed, not the SP's certificate",
        reindented_signed_info,
        "digest_mismatch",
        "network",
        "re-indented",
        names=("digest mismatch",),
        never=("SAML Certificates", "give it to the SP") + NOT_CA,
        settings=bare,
    ),
    Ticket(
        "signature wrapping",
        lambda: b64(xsw(1)),
        "xsw",
        "attack",
        "SAML library",
    ),
    Ticket(
        "expired at an explicit evaluation time",
        response(),
        "expired",
        "user",
        "evaluation time",
        names=("2026-03-01T13:00:00", "2026-03-02T12:00:00Z"),
        now=T0 + timedelta(days=1),
    ),
    Ticket(
        "pasted days later without an evaluation time: judged at its IssueInstant, healthy",
        response(),
        "healthy",
        "none",
        "Nothing to change",
        names=("alice@contoso.example",),
        now=None,
        notes=("Expired now",),
    ),
    Ticket(
        "healthy signed response",
        response(),
        "healthy",
        "none",
        "Nothing to change",
        names=("alice@contoso.example", SP_ENTITY_ID),
        never=("Reply URL", "Conditional Access"),
    ),
    # -- SP-library messages --------------------------------------------------------------------------------
    Ticket(
        "python3-saml: received at http:// instead of https:// (TLS proxy)",
        text(
            "onelogin.saml2.errors.OneLogin_Saml2_ValidationError: The response was received at "
            "http://sp.example.com/saml/acs instead of https://sp.example.com/saml/acs"
        ),
        "sp_url_behind_proxy",
        "sp",
        "X-Forwarded-Proto",
        names=("http://sp.example.com/saml/acs", "https://sp.example.com/saml/acs"),
        never=("Add the exact URL", "Change it under", "Basic SAML Configuration → Reply URL"),
        settings=bare,
    ),
    Ticket(
        "ruby-saml word order: received at https://… instead of http://… (the http one is the SP's, behind a proxy)",
        text(
            "OneLogin::RubySaml::ValidationError: The response was received at https://sp.example.com/saml/acs "
            "instead of http://sp.example.com/saml/acs"
        ),
        "sp_url_behind_proxy",
        "sp",
        "X-Forwarded-Proto",
        names=("http://sp.example.com/saml/acs", "https://sp.example.com/saml/acs"),
        never=("Add the exact URL", "Change it under", "Basic SAML Configuration → Reply URL", "make them equal"),
        settings=bare,
    ),
    Ticket(
        "python3-saml: signature validation failed",
        text("Signature validation failed. SAML Response rejected"),
        "signed_by_unknown_key",
        "sp",
        "certificate",
        names=("python3-saml",),
        never=NOT_CA + ("Signing Option",),
        settings=bare,
    ),
    Ticket(
        "spring-security-saml2: none of the audiences matched (pasted alone, no message)",
        text(
            "org.springframework.security.saml2.core.Saml2AuthenticationException: None of the audiences within "
            "Assertion [_9c1e2f] matched the list of valid audiences [https://sp.example.com/saml/metadata]"
        ),
        "audience_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=("spring-security-saml2", "None of the audiences"),
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
        settings=bare,
    ),
    Ticket(
        "SimpleSAMLphp: Recipient does not match the current URL (pasted alone)",
        text(
            "SimpleSAML\\Error\\Exception: Recipient in SubjectConfirmationData does not match the current URL. "
            "Recipient is 'https://sp.example.com/simplesaml/module.php/saml/sp/saml2-acs.php/default-sp', "
            "current URL is 'https://sp.example.com/simplesaml/module.php/saml/sp/saml2-acs.php/entra'."
        ),
        "recipient_mismatch",
        "entra",
        "Reply URL",
        names=("simplesamlphp", "Recipient"),
        never=NOT_CA,
        settings=bare,
    ),
    Ticket(
        "node-saml: Invalid document signature (the Response must be signed, Entra signs the assertion)",
        text(
            "Error: Invalid document signature\n    at SAML.validatePostResponseAsync "
            "(/app/node_modules/@node-saml/node-saml/lib/saml.js:688:23)"
        ),
        "signing_requirement_unmet",
        "entra",
        "Signing Option",
        names=("node-saml", "Invalid document signature"),
        never=("Signing Option to 'Sign SAML assertion'",) + NOT_CA,
        fix_has=("Sign SAML response and assertion", "wantAuthnResponseSigned"),
        settings=bare,
    ),
    # -- presets --------------------------------------------------------------------------------------------
    Ticket(
        "balenaCloud: healthy sign-in, NameID is the mail",
        response(audience=BALENA_ID, recipient=BALENA_ACS, destination=BALENA_ACS, attributes=BALENA_ATTRS),
        "healthy",
        "none",
        "Nothing to change",
        names=("alice@contoso.example",),
        never=NOT_PERSISTENT,
        settings=balena(),
    ),
    Ticket(
        "balenaCloud: wrong SSO identifier in the Identifier",
        response(
            audience="https://api.balena-cloud.com/auth/saml/acme-corp",
            recipient=BALENA_ACS,
            destination=BALENA_ACS,
            attributes=BALENA_ATTRS,
        ),
        "audience_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=("https://api.balena-cloud.com/auth/saml/acme-corp", BALENA_ID),
        never=NOT_PERSISTENT,
        settings=balena(),
    ),
    Ticket(
        "balenaCloud: NameID from objectid breaks the e-mail link",
        response(
            audience=BALENA_ID,
            recipient=BALENA_ACS,
            destination=BALENA_ACS,
            attributes=BALENA_ATTRS,
            name_id="5b1a3c8e-0e0c-4a57-9d0e-2a1f1e8e3c11",
            name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        ),
        "name_id_source_mismatch",
        "entra",
        "Source attribute",
        names=("user.mail", "user.objectid"),
        never=("just-in-time", "Source attribute user.objectid"),
        settings=balena(),
        fix_has=("e-mail",),
    ),
    # -- requests -------------------------------------------------------------------------------------------
    Ticket(
        "AuthnRequest ID starts with a digit (7500529)",
        request(request_id="4f1c2a3b5d6e7f80"),
        "request_id_starts_with_digit",
        "sp",
        "ID generation",
        never=NOT_CA,
    ),
    Ticket(
        "AuthnRequest with an http ACS URL (50011 predicted, fixed at the SP)",
        request(acs="http://sp.example.com/saml/acs"),
        "acs_url_not_registered",
        "sp",
        "X-Forwarded-Proto",
        names=("http://sp.example.com/saml/acs",),
        never=("Add the exact URL",),
    ),
    Ticket(
        "AuthnRequest Issuer differs from the Identifier (700016 predicted)",
        request(issuer="https://sp.example.com/saml/metadata/"),
        "request_issuer_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=("https://sp.example.com/saml/metadata/", "trailing slash", "AADSTS700016"),
    ),
    Ticket(
        "healthy AuthnRequest",
        request(),
        "healthy",
        "none",
        "Nothing to change",
        names=(SP_ENTITY_ID, ACS_URL),
    ),
    # -- captures -------------------------------------------------------------------------------------------
    Ticket(
        "HAR: the response is posted to the ACS 90 minutes after it expired",
        late_post_har,
        "expired",
        "user",
        "start the sign-in again",
        names=("2026-03-01T13:00:20", "ACS"),
        now=None,
        never=("Reply URL", "Conditional Access"),
    ),
    Ticket(
        "HAR: the same sign-in posted on time (control)",
        on_time_har,
        "healthy",
        "none",
        "Nothing to change",
        names=("alice@contoso.example",),
        now=None,
        flow_codes=("healthy",),
    ),
    Ticket(
        "HAR: Entra error page AADSTS50011 in the capture",
        error_har,
        "aadsts_error",
        "entra",
        "Reply URL",
        names=("AADSTS50011", "https://sp.example.com/wrong/acs"),
        now=None,
    ),
    Ticket(
        "HAR: the SP rejects a response that verifies (stale IdP certificate at the SP)",
        sp_rejects_valid_har,
        "sp_rejected_valid_response",
        "sp",
        "certificate",
        names=("Signature validation failed",),
        now=None,
        never=NOT_CA + ("Signing Option",),
    ),
    Ticket(
        "HAR: node-saml rejects an on-time response as expired (the SP's clock), not a healthy sign-in",
        sp_answers_acs(500, "<html><body>Error: SAML assertion expired: clocks skewed too much</body></html>"),
        "sp_answer_error",
        "sp",
        "SP:",
        names=("SAML assertion expired: clocks skewed too much", "HTTP 500"),
        now=None,
        never=NOT_CA + ("Reply URL", "Identifier"),
        fix_has=("NTP",),
        flow_codes=("sp_answer_error",),
    ),
    Ticket(
        "HAR: node-saml 'InResponseTo is not valid' on an on-time response (the SP lost its request state)",
        sp_answers_acs(401, "<html><body>Error: InResponseTo is not valid</body></html>"),
        "sp_answer_error",
        "sp",
        "SP:",
        names=("InResponseTo is not valid",),
        now=None,
        never=NOT_CA + NO_ASSIGNMENT_FIXES,
        flow_codes=("sp_answer_error",),
    ),
    Ticket(
        "HAR: audience with a trailing slash in a real flow",
        audience_mismatch_har,
        "audience_mismatch",
        "entra",
        "Identifier (Entity ID)",
        names=(SP_ENTITY_ID + "/", "trailing slash", "SP-initiated sign-in:"),
        now=None,
        flow_codes=("audience_mismatch",),
    ),
    Ticket(
        "SAML-tracer export, values hashed at export: judged at the export's timestamp, RelayState hidden not lost",
        tracer_hashed,
        "healthy",
        "none",
        "Nothing to change",
        names=("2026-03-01T12:30:00Z",),  # the export's own timestamp, not today
        now=None,
        notes=("hidden at export",),
        never=("RelayState did not come back",),
    ),
]
