"""Every input form the one text box must take, and the caps."""

from __future__ import annotations

import base64
import zlib
from urllib.parse import quote, urlencode

import pytest
from factory import signed_response
from helpers import codes, entra_settings, run

from samldebug.config import Limits
from samldebug.decode import decode
from samldebug.model import AnalysisStop

XML = signed_response("assertion")
B64 = base64.b64encode(XML).decode()


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    "text, steps",
    [
        (XML, ("xml",)),
        (b"\xef\xbb\xbf" + XML, ("xml",)),
        (XML.replace(b">", b">\r\n", 0), ("xml",)),
        (B64, ("base64",)),
        ("\n".join(B64[i : i + 76] for i in range(0, len(B64), 76)), ("base64",)),
        (B64.rstrip("="), ("base64",)),
        (base64.urlsafe_b64encode(XML).decode(), ("base64",)),
        (f'  "{B64}"  ', ("base64",)),
        (f"'{B64}'", ("base64",)),
        (quote(B64, safe=""), ("url-decoded", "base64")),
        (urlencode({"SAMLResponse": B64, "RelayState": "/dashboard"}), ("form-decoded", "SAMLResponse", "base64")),
    ],
    ids=["xml", "bom", "crlf", "b64", "wrapped", "unpadded", "urlsafe", "dquoted", "squoted", "urlenc", "form"],
)
def test_input_forms(text: str | bytes, steps: tuple[str, ...]) -> None:
    report = run(text)
    assert report.input.steps == steps
    assert report.messages[0].kind == "response"
    assert report.messages[0].signature.status.value == "valid", report.findings


def test_form_body_keeps_relay_state() -> None:
    report = run(urlencode({"SAMLResponse": B64, "RelayState": "/dashboard"}))
    assert report.input.relay_state == "/dashboard"
    assert report.input.parameter == "SAMLResponse"
    assert report.input.binding == "post"


def test_redirect_url_with_deflated_request() -> None:
    req = (
        b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id1" Version="2.0" '
        b'IssueInstant="2026-03-01T12:00:00Z" AssertionConsumerServiceURL="https://sp.example.com/saml/acs">'
        b"<saml:Issuer>https://sp.example.com/saml/metadata</saml:Issuer></samlp:AuthnRequest>"
    )
    q = urlencode(
        {
            "SAMLRequest": base64.b64encode(deflate(req)).decode(),
            "RelayState": "xyz",
            "SigAlg": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "Signature": "AAAA",
        }
    )
    report = run(f"https://login.microsoftonline.com/tenant/saml2?{q}")
    assert report.input.steps == ("url", "SAMLRequest", "base64", "inflated")
    assert report.input.binding == "redirect"
    assert report.input.sig_alg.endswith("rsa-sha256")
    assert report.messages[0].kind == "authn_request"
    assert {"deflated", "authn_request"} <= codes(report)
    assert report.messages[0].unverified.acs_url == "https://sp.example.com/saml/acs"


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "not_saml"),
        ("hello world, this is not saml", "invalid_base64"),
        ("SGVsbG8gd29ybGQ=", "not_saml"),
        (B64[:-7] + "!!", "invalid_base64"),
        ("https://sp.example.com/?foo=bar", "not_saml"),
        (base64.b64encode(b"<html><body>hi</body></html>").decode(), "not_saml"),
        ("<a><b></a>", "malformed_xml"),
        (B64[: len(B64) // 2 + 1], "invalid_base64"),
    ],
)
def test_bad_input_gives_a_clear_finding(text: str, code: str) -> None:
    report = run(text)
    assert code in codes(report)
    assert report.messages == ()
    assert all(f.title for f in report.findings)


def test_truncated_base64_of_xml_is_explained() -> None:
    report = run(B64[: len(B64) // 2])  # cut on a 4-char boundary: decodes, XML is cut off
    assert codes(report) & {"malformed_xml", "invalid_base64"}


def test_input_cap_checked_before_decoding() -> None:
    with pytest.raises(AnalysisStop) as e:
        decode(b"A" * 2048, Limits(max_input_bytes=1024))
    assert e.value.finding.code == "oversized_input"


def test_xml_cap() -> None:
    report = run(XML, entra_settings(limits=Limits(max_xml_bytes=1024)))
    assert "oversized_input" in codes(report)
    assert report.messages == ()


def test_inflate_bomb_is_capped() -> None:
    bomb = deflate(b"<" + b"a" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    with pytest.raises(AnalysisStop) as e:
        decode(base64.b64encode(bomb), Limits())
    assert e.value.finding.code == "oversized_input"
