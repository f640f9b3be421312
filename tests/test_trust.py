"""Verdicts an independent review of other IdPs' messages found wrong (each test fails on the code before the fix)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from factory import (
    DS,
    EVIL,
    EXC_C14N,
    SAML,
    ResponseSpec,
    _placeholder_after_issuer,
    b64,
    build_assertion,
    build_response,
    idp_key,
    make_keypair,
    sign,
    to_bytes,
)
from helpers import NOW, codes, entra_settings, run
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import SignatureConstructionMethod, SignatureMethod
from test_requests import SP, request_xml
from test_requests import settings as request_settings

from samldebug import certs
from samldebug.certs import Anchor
from samldebug.model import Severity


def _advice_response(top_signed: bool = True) -> bytes:
    """A Response whose Assertion carries, inside saml:Advice, another (separately signed) Assertion."""
    evidence = sign(build_assertion(ResponseSpec(name_id="evidence@contoso.example")), "assertion")
    response = build_response()
    assertion = response.find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    advice = etree.Element(f"{{{SAML}}}Advice")
    advice.append(evidence)
    assertion.find(f"{{{SAML}}}Conditions").addnext(advice)  # type: ignore[union-attr]
    return to_bytes(sign(response, "both") if top_signed else response)


def test_assertion_inside_advice_is_legal_and_shown_as_evidence() -> None:
    report = run(_advice_response())
    msg = report.messages[0]
    assert "xsw" not in codes(report), [f.title for f in report.findings]
    assert msg.signature.status.value == "valid" and not msg.signature.attack
    assert msg.trusted.name_id == "alice@contoso.example"  # the top-level assertion's value, not the Advice's
    advice = [f for f in report.findings if f.code == "advice_assertion"]
    assert len(advice) == 1 and "verifies with metadata signing cert #1" in (advice[0].actual or "")
    assert any(s.on == "advice" and s.verified for s in msg.signature.signatures)


def test_signed_assertion_moved_into_advice_of_an_unsigned_one_is_an_attack() -> None:
    signed = sign(build_response(), "assertion")
    original = signed.find(f"{{{SAML}}}Assertion")
    assert original is not None
    evil = copy.deepcopy(original)
    for sig in evil.findall(f"{{{DS}}}Signature"):
        evil.remove(sig)
    evil.set("ID", "_evil")
    evil.find(f".//{{{SAML}}}NameID").text = EVIL  # type: ignore[union-attr]
    signed.remove(original)
    advice = etree.SubElement(evil, f"{{{SAML}}}Advice")
    advice.append(original)
    signed.append(evil)
    report = run(to_bytes(signed))
    assert "xsw" in codes(report) and report.messages[0].trusted is None
    assert report.messages[0].signature.status.value == "invalid"


def _with_signature_value(xml: bytes, value: str) -> bytes:
    root = etree.fromstring(xml)
    for sv in root.iter(f"{{{DS}}}SignatureValue"):
        sv.text = value
    return etree.tostring(root)


def test_signature_value_that_is_not_base64_is_malformed_not_removed() -> None:
    xml = to_bytes(sign(build_response(), "assertion"))
    report = run(_with_signature_value(xml, "INVALID-c2lnbmF0dXJlIGJsYW5rZWQgYnkgYW4gYXR0YWNrZXI="))
    assert "signature_value_removed" not in codes(report)
    assert "malformed_signature" in codes(report)
    assert report.messages[0].signature.status.value == "invalid"
    assert report.worst is Severity.ERROR


def test_only_an_empty_signature_value_means_removed() -> None:
    xml = to_bytes(sign(build_response(), "assertion"))
    report = run(_with_signature_value(xml, ""))
    assert "signature_value_removed" in codes(report)
    assert report.messages[0].signature.status.value == "unverified"


def test_response_signature_verifies_while_the_assertion_signature_does_not() -> None:
    signed = sign(build_response(), "assertion")
    value = signed.find(f".//{{{SAML}}}AttributeValue")
    assert value is not None
    value.text = "changed after the assertion was signed"  # breaks the assertion's digest only
    both = sign(signed, "response")
    report = run(to_bytes(both))
    msg = report.messages[0]
    assert msg.signature.status.value == "valid"
    assert msg.signature.signed_elements == ("response",)
    assert msg.trusted is not None and msg.trusted.name_id == "alice@contoso.example"
    inner = [f for f in report.findings if f.code == "assertion_signature_invalid"]
    assert inner and inner[0].severity is Severity.ERROR and "Assertion" in (inner[0].where or "")


def _pss_signed(with_cert: bool) -> bytes:
    response = build_response()
    assertion = response.find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    _placeholder_after_issuer(assertion)
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.SHA256_RSA_MGF1,
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )
    cert = idp_key().cert_pem.decode() if with_cert else None
    signed = signer.sign(response, key=idp_key().key_pem, cert=cert, reference_uri="#" + assertion.get("ID"))
    return to_bytes(signed)


def test_rsa_pss_with_key_value_verifies_instead_of_crashing() -> None:
    report = run(_pss_signed(with_cert=False))  # KeyValue only, anchor from metadata
    assert report.messages[0].signature.status.value == "valid", [f.actual for f in report.findings]
    report = run(_pss_signed(with_cert=False), entra_settings(anchors=()))
    assert report.messages[0].signature.status.value == "unverified"


def _public_key_pem(kp) -> bytes:  # type: ignore[no-untyped-def]
    return kp.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_bare_public_key_is_an_anchor_shown_as_a_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "idp-key.pem"
    key_file.write_bytes(_public_key_pem(idp_key()))
    from samldebug.cli import build_settings
    from samldebug.config import AppConfig

    settings, _ = build_settings(AppConfig(), NOW, cert=(str(key_file),), skew=180)
    report = run(to_bytes(sign(build_response(), "assertion")), settings)
    key = report.messages[0].signature.key
    assert report.messages[0].signature.status.value == "valid"
    assert key is not None and key.not_before == "" and key.not_after == "" and "bare public key" in key.subject
    assert key.key_type == "RSA" and key.days_left is None
    spki = base64.b64encode(
        idp_key()
        .cert.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (anchor,) = certs.load_certs(spki)  # base64 of a SubjectPublicKeyInfo, as pasted into the form
    assert certs.is_bare_key(anchor) and certs.same_key(anchor, idp_key().cert)


def test_key_value_of_metadata_becomes_a_bare_key_anchor() -> None:
    numbers = idp_key().cert.public_key().public_numbers()  # type: ignore[union-attr]

    def b64int(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8)).decode()

    key_value = etree.fromstring(
        f'<ds:KeyValue xmlns:ds="{DS}"><ds:RSAKeyValue><ds:Modulus>{b64int(numbers.n)}</ds:Modulus>'
        f"<ds:Exponent>{b64int(numbers.e)}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>"
    )
    anchor = certs.key_value_cert(key_value)
    report = run(to_bytes(sign(build_response(), "assertion")), entra_settings(anchors=(Anchor(anchor, "KeyValue"),)))
    assert report.messages[0].signature.status.value == "valid"


def _request_signed_on_issuer() -> bytes:
    root = etree.fromstring(request_xml())
    issuer = root.find(f"{{{SAML}}}Issuer")
    assert issuer is not None
    issuer.set("ID", "_issuer1")
    ph = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    ph.set("Id", "placeholder")
    issuer.addnext(ph)
    signer = XMLSigner(method=SignatureConstructionMethod.enveloped, digest_algorithm="sha256", c14n_algorithm=EXC_C14N)
    return to_bytes(signer.sign(root, key=SP.key_pem, cert=SP.cert_pem.decode(), reference_uri="#_issuer1"))


def test_request_signature_covering_only_the_issuer_is_unsigned_not_an_attack() -> None:
    report = run(_request_signed_on_issuer(), request_settings())
    msg = report.messages[0]
    assert "xsw" not in codes(report)
    assert "request_signature_partial" in codes(report)
    assert msg.signature.status.value == "unsigned" and not msg.signature.attack


def _cert(subject: x509.Name, not_before: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "issuer")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=3650))
    )
    return key, builder.sign(key, hashes.SHA256())


def test_cert_rolled_only_when_the_subject_really_matches() -> None:
    from factory import KeyPair

    old_key, old = _cert(x509.Name([]), datetime(2024, 1, 1, tzinfo=UTC))
    new_key, new = _cert(x509.Name([]), datetime(2025, 1, 1, tzinfo=UTC))
    xml = to_bytes(sign(build_response(), "assertion", keypair=KeyPair(new_key, new)))
    report = run(xml, entra_settings(anchors=(Anchor(old, "metadata signing cert #1"),)))
    assert "cert_rolled" not in codes(report)  # two empty subjects are no evidence of a rollover
    assert "signed_by_unknown_key" in codes(report)


def test_rsa_key_under_2048_bits_is_a_warning_even_when_it_verifies() -> None:
    weak = make_keypair(cn="weak", bits=1024)
    report = run(
        to_bytes(sign(build_response(), "assertion", keypair=weak)), entra_settings(anchors=(Anchor(weak.cert, "md"),))
    )
    assert report.messages[0].signature.status.value == "valid"
    assert [f.severity for f in report.findings if f.code == "weak_signing_key"] == [Severity.WARNING]


def test_response_signature_over_an_encrypted_assertion_whose_own_signature_fails() -> None:
    from dataclasses import replace

    from test_decrypt import encrypt, sp

    signed = sign(build_assertion(ResponseSpec()), "assertion")
    signed.find(f".//{{{SAML}}}AttributeValue").text = "changed after signing"  # type: ignore[union-attr]
    response = encrypt(to_bytes(signed)).getparent()
    assert response is not None
    response.set("ID", "_r-encrypted")
    response.set("Version", "2.0")
    response.set("IssueInstant", "2026-03-01T12:00:00Z")
    settings = replace(entra_settings(), decryption_keys=(sp().key,))
    report = run(to_bytes(sign(response, "response")), settings)
    msg = report.messages[0]
    assert msg.signature.status.value == "valid" and "response" in msg.signature.signed_elements
    assert "assertion_signature_invalid" in codes(report)


def test_redirect_signature_with_a_short_rsa_key_is_a_warning() -> None:
    from test_requests import redirect_url

    weak = make_keypair(cn="weak sp", bits=1024)
    report = run(redirect_url(request_xml(), key=weak.key), entra_settings(sp_anchors=(Anchor(weak.cert, "sp"),)))
    assert report.messages[0].signature.status.value == "valid" and "weak_signing_key" in codes(report)


def test_metadata_that_publishes_a_key_value_only_gives_a_bare_key_anchor() -> None:
    from factory import metadata

    numbers = idp_key().cert.public_key().public_numbers()  # type: ignore[union-attr]

    def b64int(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8)).decode()

    md = etree.fromstring(metadata())
    for x509_data in md.iter(f"{{{DS}}}X509Data"):
        key_info = x509_data.getparent()
        key_info.remove(x509_data)  # type: ignore[union-attr]
        key_info.append(  # type: ignore[union-attr]
            etree.fromstring(
                f'<ds:KeyValue xmlns:ds="{DS}"><ds:RSAKeyValue><ds:Modulus>{b64int(numbers.n)}</ds:Modulus>'
                f"<ds:Exponent>{b64int(numbers.e)}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>"
            )
        )
    from samldebug import metadata as md_module

    info = md_module.read(md, "metadata")
    assert len(info.signing_certs) == 1 and certs.is_bare_key(info.signing_certs[0])
    report = run(to_bytes(sign(build_response(), "assertion")), entra_settings(anchors=info.anchors()))
    assert report.messages[0].signature.status.value == "valid"


def test_the_page_shows_a_bare_key_as_a_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from webutil import make_app, post_form

    client = make_app(tmp_path).test_client()
    pem = _public_key_pem(idp_key()).decode()
    html = post_form(client, "/analyze", {"input": b64(to_bytes(sign(build_response(), "assertion"))), "cert": pem})
    text = html.get_data(as_text=True)
    assert "bare public key" in text and "days left" not in text.split("Verified by", 1)[1].split("</tr>", 1)[0]
