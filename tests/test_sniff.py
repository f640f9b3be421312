"""sniff: a value in the wrong box is recognised and the right box named."""

from __future__ import annotations

import base64
import json
import zlib
from urllib.parse import quote

import pytest
from factory import TENANT, b64, idp_key, metadata, signed_response
from helpers import CORPUS

from samldebug.sniff import Box, Kind, misplaced, sniff

SP_METADATA = (
    b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.com/m">'
    b'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    b'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    b'Location="https://sp.example.com/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
)


def redirect_url() -> str:
    request = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"/>'
    c = zlib.compressobj(wbits=-15)
    raw = c.compress(request) + c.flush()
    return f"https://login.microsoftonline.com/{TENANT}/saml2?SAMLRequest={quote(base64.b64encode(raw))}"


@pytest.mark.parametrize(
    ("value", "kind", "words"),
    [
        (b64(signed_response()), Kind.MESSAGE, "SAML Response (base64)"),
        (signed_response().decode(), Kind.MESSAGE, "SAML Response"),
        (redirect_url(), Kind.MESSAGE, "AuthnRequest"),
        (metadata().decode(), Kind.IDP_METADATA, "IdP metadata for https://sts.windows.net/"),
        (SP_METADATA.decode(), Kind.SP_METADATA, "SP metadata for https://sp.example.com/m"),
        (idp_key().cert_pem.decode(), Kind.CERTIFICATE, "CN=Microsoft Azure Federated SSO Certificate"),
        (idp_key().cert_b64, Kind.CERTIFICATE, "valid until 2028-"),
        (idp_key().key_pem.decode(), Kind.PRIVATE_KEY, "private key"),
        (json.dumps({"log": {"version": "1.2", "entries": []}}), Kind.CAPTURE, "capture"),
        ("AADSTS50011: The redirect URI specified in the request does not match", Kind.ERROR_TEXT, "AADSTS"),
        (
            f"https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml?appid=x",
            Kind.METADATA_URL,
            "metadata URL",
        ),
        ("https://sp.example.com/saml/acs", Kind.URL, "URL"),
        (TENANT, Kind.GUID, "GUID"),
        ("   ", Kind.EMPTY, "nothing"),
        ("hello there", Kind.OTHER, "unrecognised"),
        ("<html><body>hi</body></html>", Kind.OTHER, "<html>"),
    ],
)
def test_sniff_recognises(value: str, kind: Kind, words: str) -> None:
    found = sniff(value)
    assert found.kind is kind, found
    assert words in found.what


def test_sniff_corpus_metadata_and_certificate() -> None:
    assert sniff((CORPUS / "entra/aad_common_federationmetadata.xml").read_bytes()).kind is Kind.IDP_METADATA
    # Microsoft Online's own metadata describes Entra as a service provider (federated domains)
    assert sniff((CORPUS / "entra/microsoftonline_federation_metadata.xml").read_bytes()).kind is Kind.SP_METADATA
    assert sniff((CORPUS / "entra/aad_signing_cert_2017.pem").read_bytes()).kind is Kind.CERTIFICATE
    assert sniff((CORPUS / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_bytes()).kind is Kind.MESSAGE


def test_response_in_metadata_box_is_named_with_its_box() -> None:
    found = misplaced(Box.IDP_METADATA, b64(signed_response()))
    assert found is not None and found.belongs is Box.MESSAGE and not found.soft
    assert found.message.startswith("The box for the IdP metadata holds a SAML Response (base64)")
    assert found.action == "Use it as the message to analyse"


def test_metadata_in_certificate_box_and_main_box() -> None:
    in_cert = misplaced(Box.IDP_CERT, metadata())
    assert in_cert is not None and in_cert.belongs is Box.IDP_METADATA
    assert in_cert.action == "Use it as the IdP metadata"
    in_main = misplaced(Box.MESSAGE, metadata())
    assert in_main is not None and in_main.soft and in_main.belongs is Box.IDP_METADATA
    assert "metadata report" in in_main.message


def test_certificate_and_key_in_main_box() -> None:
    cert = misplaced(Box.MESSAGE, idp_key().cert_pem)
    assert cert is not None and cert.action == "Use it as the IdP signing certificate"
    key = misplaced(Box.MESSAGE, idp_key().key_pem)
    assert key is not None and key.action == "Use it as the SP private key"
    assert "BEGIN" not in key.message  # the key itself is never repeated


def test_certificate_in_key_box_is_the_sp_certificate() -> None:
    found = misplaced(Box.SP_KEY, idp_key().cert_pem)
    assert found is not None and found.belongs is Box.SP_CERT


def test_sp_metadata_has_no_text_box() -> None:
    found = misplaced(Box.IDP_METADATA, SP_METADATA)
    assert found is not None and found.belongs is None and found.action is None
    assert "upload it as the SP's metadata" in found.message


@pytest.mark.parametrize(
    ("box", "value"),
    [
        (Box.MESSAGE, b64(signed_response())),
        (Box.MESSAGE, "AADSTS700016: Application not found"),
        (Box.IDP_METADATA, metadata().decode()),
        (Box.IDP_CERT, idp_key().cert_pem.decode()),
        (Box.SP_KEY, idp_key().key_pem.decode()),
        (Box.SP_ENTITY_ID, "https://sp.example.com/saml/metadata"),  # an entity ID may look like a metadata URL
        (Box.SP_ENTITY_ID, "urn:amazon:webservices"),
        (Box.TENANT, TENANT),
        (Box.MESSAGE, "not SAML at all"),  # the analysis itself explains unrecognised input
    ],
)
def test_values_in_their_box_are_not_flagged(box: Box, value: str) -> None:
    assert misplaced(box, value) is None


def test_metadata_url_in_tenant_box() -> None:
    url = f"https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml"
    found = misplaced(Box.TENANT, url)
    assert found is not None and found.belongs is Box.METADATA_URL


def test_sniff_is_bounded_on_huge_and_hostile_text() -> None:
    assert sniff("A" * (5 * 1024 * 1024)).kind is Kind.OTHER  # over the input cap: not decoded
    assert sniff("<" * 100000).kind is Kind.OTHER
    assert sniff("AADSTS" * 50000).kind is Kind.OTHER
