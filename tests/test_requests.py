"""AuthnRequests predicted against the app's settings, Redirect-binding signatures, logout."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import quote, quote_plus

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from factory import ACS_URL, SP_ENTITY_ID, TENANT, make_keypair
from helpers import NOW, codes, entra_settings, run

from samldebug import catalog
from samldebug.certs import Anchor

SSO = f"https://login.microsoftonline.com/{TENANT}/saml2"
SP = make_keypair(cn="sp.example.com")
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def request_xml(
    issuer: str = SP_ENTITY_ID, acs: str = ACS_URL, request_id: str = "id-7d1c0b7e", extra: str = "", attrs: str = ""
) -> bytes:
    return (
        f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{request_id}" Version="2.0" '
        f'IssueInstant="2026-03-01T12:00:00Z" Destination="{SSO}" AssertionConsumerServiceURL="{acs}" '
        f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"{attrs}>'
        f"<saml:Issuer>{issuer}</saml:Issuer>{extra}</samlp:AuthnRequest>"
    ).encode()


def redirect_url(
    xml: bytes, sig_alg: str | None = RSA_SHA256, relay: str | None = "/app/home?x=1", key=SP.key, encode=quote_plus
) -> str:  # type: ignore[no-untyped-def]
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    value = base64.b64encode(c.compress(xml) + c.flush()).decode()
    query = f"SAMLRequest={encode(value, safe='')}"
    if relay is not None:
        query += f"&RelayState={encode(relay, safe='')}"
    if sig_alg is not None:
        query += f"&SigAlg={encode(sig_alg, safe='')}"
        digest = hashes.SHA1() if sig_alg == RSA_SHA1 else hashes.SHA256()
        signature = key.sign(query.encode(), padding.PKCS1v15(), digest)
        query += f"&Signature={quote_plus(base64.b64encode(signature).decode(), safe='')}"
    return f"{SSO}?{query}"


def settings(**kw):  # type: ignore[no-untyped-def]
    return entra_settings(sp_anchors=(Anchor(SP.cert, "SP metadata signing cert"),), **kw)


def test_valid_redirect_signature() -> None:
    report = run(redirect_url(request_xml()), settings())
    msg = report.messages[0]
    assert msg.kind == "authn_request"
    assert msg.signature.status.value == "valid"
    assert msg.signature.key.source == "SP metadata signing cert"
    assert msg.trusted is not None and msg.trusted.issuer == SP_ENTITY_ID
    assert not {f.code for f in report.findings if f.severity.value != "info"}


def test_reencoded_parameter_fails_and_is_explained() -> None:
    url = redirect_url(request_xml())
    base, query = url.split("?", 1)
    # A proxy decoded and re-encoded RelayState with quote() instead of quote_plus(): '/' and '?' now differ.
    parts = dict(p.split("=", 1) for p in query.split("&"))
    parts["RelayState"] = quote("/app/home?x=1", safe="/")
    tampered = base + "?" + "&".join(f"{k}={v}" for k, v in parts.items())
    report = run(tampered, settings())
    assert report.messages[0].signature.status.value == "invalid"
    f = next(f for f in report.findings if f.code == "redirect_reencoded")
    assert "RelayState" in f.expected and "%2Fapp%2Fhome" in f.expected and "/app/home%3Fx%3D1" in f.actual
    assert report.messages[0].trusted is None


def test_wrong_key_redirect_signature() -> None:
    other = make_keypair(cn="someone else")
    report = run(redirect_url(request_xml(), key=other.key), settings())
    assert report.messages[0].signature.status.value == "invalid"
    assert "redirect_signature_invalid" in codes(report)


def test_sha1_redirect_signature_is_reported() -> None:
    report = run(redirect_url(request_xml(), sig_alg=RSA_SHA1), settings())
    assert report.messages[0].signature.status.value == "valid"
    assert "sha1_signature" in codes(report)


def test_no_sp_cert_means_unverified() -> None:
    report = run(redirect_url(request_xml()), entra_settings())
    assert report.messages[0].signature.status.value == "unverified"
    assert "redirect_signature_unverified" in codes(report)


def test_unsigned_when_required_predicts_76021() -> None:
    report = run(redirect_url(request_xml(), sig_alg=None), settings(require_signed_requests=True))
    f = next(f for f in report.findings if f.code == "unsigned_request")
    assert "AADSTS76021" in f.title + (f.fix or "") + catalog.entry("unsigned_request").cause


def test_acs_trailing_slash_predicts_50011_with_both_strings() -> None:
    report = run(redirect_url(request_xml(acs=ACS_URL + "/")), settings())
    f = next(f for f in report.findings if f.code == "acs_url_not_registered")
    assert f"`{ACS_URL}/`" in f.fix and f"`{ACS_URL}`" in f.fix and "trailing slash" in f.fix
    assert "AADSTS50011" in f.title and f.severity.value == "error"


def test_issuer_mismatch_predicts_700016() -> None:
    report = run(redirect_url(request_xml(issuer="https://sp.example.com/saml/metadata/")), settings())
    f = next(f for f in report.findings if f.code == "request_issuer_mismatch")
    assert "AADSTS700016" in f.title and "trailing slash" in f.fix


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"request_id": "123abc"}, "request_id_starts_with_digit"),
        (
            {"extra": '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"/>'},
            "name_id_policy_unsupported",
        ),
        ({"extra": '<samlp:NameIDPolicy SPNameQualifier="urn:x"/>'}, "name_id_policy_sp_name_qualifier"),
        (
            {
                "extra": '<samlp:RequestedAuthnContext Comparison="exact"><saml:AuthnContextClassRef>'
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>"
                "</samlp:RequestedAuthnContext>"
            },
            "requested_authn_context",
        ),
        ({"extra": "<saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject>"}, "request_has_subject"),
        ({"extra": '<samlp:Scoping ProxyCount="1"/>'}, "request_scoping_unsupported"),
        ({"attrs": ' IsPassive="true"'}, "is_passive"),
    ],
)
def test_request_shape_predictions(kw: dict[str, str], code: str) -> None:
    report = run(redirect_url(request_xml(**kw)), settings())
    assert code in codes(report)


def test_common_endpoint_destination() -> None:
    xml = request_xml().replace(TENANT.encode(), b"common")
    assert "request_destination_common" in codes(run(xml, settings()))


def test_logout_request_destination() -> None:
    xml = (
        b'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-1" Version="2.0" '
        b'IssueInstant="2026-03-01T12:00:00Z" Destination="https://idp.example.com/slo">'
        b"<saml:Issuer>https://sp.example.com/saml/metadata</saml:Issuer><saml:NameID>alice</saml:NameID>"
        b"<samlp:SessionIndex>_abc</samlp:SessionIndex></samlp:LogoutRequest>"
    )
    report = run(xml, settings(idp_slo_urls=(SSO,)))
    assert report.messages[0].kind == "logout_request"
    assert "logout_destination_mismatch" in codes(report)
    assert report.messages[0].unverified.session_index == "_abc"


def test_post_binding_signed_request_is_verified() -> None:
    from factory import sign, to_bytes
    from lxml import etree

    root = etree.fromstring(request_xml())
    signed = sign(root, "response", keypair=SP)  # an enveloped signature on the root, after the Issuer
    report = run(to_bytes(signed), settings())
    assert report.messages[0].signature.status.value == "valid"
    assert report.messages[0].signature.signed_elements == ("authn_request",)
    assert report.messages[0].signature.key.source == "SP metadata signing cert"


def deflate_b64(xml: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode()


@pytest.mark.parametrize("name", ["SAMLRequest", "%53AMLRequest", "SAMLResponse"])
def test_smuggled_second_message_is_an_attack(name: str) -> None:
    """Review finding: a parameter appended to a validly signed URL must never be reported as signed."""
    evil = request_xml(issuer="https://evil.example/")
    report = run(redirect_url(request_xml()) + f"&{name}=" + quote_plus(deflate_b64(evil)), settings())
    assert "redirect_parameter_smuggling" in codes(report)
    assert all(m.trusted is None for m in report.messages)
    assert not any(m.signature and m.signature.status.value == "valid" for m in report.messages)


def test_smuggling_in_a_capture_entry() -> None:
    """The signature must cover the value the capture entry analyses."""
    from samldebug.redirect import verify

    url = redirect_url(request_xml())
    query = url.split("?", 1)[1]
    other = deflate_b64(request_xml(issuer="https://evil.example/"))
    result, found = verify(query, (Anchor(SP.cert, "sp"),), NOW, "authn_request", other)
    assert result is not None and result.status.value == "invalid" and result.attack
    assert [f.code for f in found] == ["redirect_parameter_smuggling"]


def test_unencoded_plus_in_signature_still_verifies() -> None:
    url = redirect_url(request_xml())
    base, query = url.split("?", 1)
    parts = query.split("&")
    parts = [p.replace("%2B", "+") if p.startswith("Signature=") else p for p in parts]
    report = run(base + "?" + "&".join(parts), settings())
    assert report.messages[0].signature.status.value == "valid"
