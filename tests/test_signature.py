"""Own signed fixtures: every layout and trick the verdict must get right."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from factory import (
    DS,
    EVIL,
    SAML,
    ResponseSpec,
    b64,
    build_response,
    idp_key,
    make_keypair,
    other_key,
    sign,
    signed_response,
    to_bytes,
    xsw,
)
from helpers import codes, entra_settings, run
from lxml import etree

from samldebug.certs import Anchor
from samldebug.model import SignatureStatus


def status(report) -> str:  # type: ignore[no-untyped-def]
    return report.messages[0].signature.status.value


@pytest.mark.parametrize(
    "what, elements", [("assertion", ("assertion",)), ("response", ("response",)), ("both", ("response", "assertion"))]
)
def test_valid_signatures(what: str, elements: tuple[str, ...]) -> None:
    report = run(b64(signed_response(what)))
    msg = report.messages[0]
    assert status(report) == "valid"
    assert msg.signature.signed_elements == elements
    assert msg.trusted is not None and msg.trusted.name_id == "alice@contoso.example"
    assert msg.signature.key.sha256 and msg.signature.key.source == "metadata signing cert #1"
    assert report.worst is None or report.worst.value != "error", report.findings


def test_response_signature_trusts_response_level_values_too() -> None:
    msg = run(signed_response("response")).messages[0]
    assert msg.trusted.destination == "https://sp.example.com/saml/acs"
    msg = run(signed_response("assertion")).messages[0]
    assert msg.trusted.destination is None  # not covered by the assertion signature
    assert msg.unverified.destination == "https://sp.example.com/saml/acs"


@pytest.mark.parametrize("n", range(1, 9))
def test_xsw_layouts_are_attacks(n: int) -> None:
    report = run(xsw(n))
    msg = report.messages[0]
    assert status(report) == "invalid"
    assert "xsw" in codes(report)
    assert msg.signature.attack
    assert msg.trusted is None
    assert report.findings[0].severity.value == "error"
    from samldebug.report import verdict

    assert verdict(report)["attack"] and verdict(report)["headline"].startswith("Attack detected")


@pytest.mark.parametrize("n", range(1, 9))
def test_xsw_evil_name_id_never_trusted(n: int) -> None:
    from samldebug.report import dumps

    report = run(xsw(n))
    assert report.messages[0].trusted is None
    assert EVIL not in str(report.messages[0].signature)
    assert '"trusted": null' in dumps(report)


def test_comment_injection_keeps_full_signed_value() -> None:
    spec = ResponseSpec(name_id="admin@contoso.example.evil.example")
    signed = sign(build_response(spec), "assertion")
    name_id = signed.find(f".//{{{SAML}}}NameID")
    name_id.text = "admin@contoso.example"
    comment = etree.Comment("")
    name_id.append(comment)
    comment.tail = ".evil.example"
    report = run(to_bytes(signed))
    msg = report.messages[0]
    assert status(report) == "valid"  # comments are not signed: the signature really holds
    assert msg.trusted.name_id == "admin@contoso.example.evil.example"
    assert msg.unverified.name_id == "admin@contoso.example.evil.example"
    assert "comment_in_nameid" in codes(report)


def test_hmac_keyed_with_public_cert_is_an_attack() -> None:
    from signxml import XMLSigner
    from signxml.algorithms import SignatureConstructionMethod

    r = build_response()
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm="hmac-sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(r, key=idp_key().cert_pem)
    report = run(to_bytes(signed))
    assert status(report) == "invalid"
    assert "hmac_signature" in codes(report)
    assert report.messages[0].signature.attack


def test_xslt_transform_is_refused() -> None:
    signed = sign(build_response(), "assertion")
    transforms = signed.find(f".//{{{DS}}}Transforms")
    xslt = etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116")
    etree.SubElement(xslt, "{http://www.w3.org/1999/XSL/Transform}stylesheet", version="1.0")
    report = run(to_bytes(signed))
    assert status(report) == "invalid"
    assert "disallowed_transform" in codes(report)
    assert report.messages[0].signature.attack


def test_key_rollover_second_metadata_cert_verifies() -> None:
    new = make_keypair(cn="Microsoft Azure Federated SSO Certificate")
    settings = entra_settings(
        anchors=(Anchor(idp_key().cert, "metadata signing cert #1"), Anchor(new.cert, "metadata signing cert #2"))
    )
    report = run(signed_response("assertion", keypair=new), settings)
    assert status(report) == "valid"
    assert report.messages[0].signature.key.source == "metadata signing cert #2"


def test_stale_metadata_reports_cert_rolled() -> None:
    old = idp_key()
    new = make_keypair(
        cn="Microsoft Azure Federated SSO Certificate", not_before=old.cert.not_valid_before_utc + timedelta(days=300)
    )
    report = run(signed_response("assertion", keypair=new))  # anchors: only the old cert
    assert status(report) == "invalid"
    assert {"cert_rolled", "signed_by_unknown_key", "keyinfo_cert_mismatch"} <= codes(report)
    rolled = next(f for f in report.findings if f.code == "cert_rolled")
    assert new.cert.fingerprint(hashes.SHA1()).hex().upper() in rolled.expected


def test_signed_by_unknown_key() -> None:
    report = run(signed_response("assertion", keypair=other_key()))
    assert status(report) == "invalid"
    assert "signed_by_unknown_key" in codes(report)
    f = next(f for f in report.findings if f.code == "signed_by_unknown_key")
    assert "verifies with the certificate in KeyInfo" in f.actual


def test_sha1_is_accepted_but_reported() -> None:
    report = run(signed_response("assertion", algorithm="rsa-sha1", digest="sha1"))
    assert status(report) == "valid"
    assert "sha1_signature" in codes(report)


def test_tampered_content_is_digest_mismatch() -> None:
    signed = sign(build_response(), "assertion")
    signed.find(f".//{{{SAML}}}NameID").text = EVIL
    report = run(to_bytes(signed))
    assert status(report) == "invalid"
    assert "digest_mismatch" in codes(report)
    assert report.messages[0].trusted is None


def test_pretty_printed_copy_is_explained() -> None:
    signed = to_bytes(sign(build_response(), "assertion"))
    pretty = etree.tostring(etree.fromstring(signed, etree.XMLParser(remove_blank_text=True)), pretty_print=True)
    report = run(pretty)
    assert status(report) == "invalid"
    assert any(f.code == "digest_mismatch" and "pretty-printed" in f.title for f in report.findings)


def test_no_anchor_is_unverified_never_valid() -> None:
    report = run(signed_response("assertion"), entra_settings(anchors=()))
    assert status(report) == SignatureStatus.UNVERIFIED.value
    assert report.messages[0].trusted is None
    assert "no_trust_anchor" in codes(report)


def test_unsigned_response() -> None:
    report = run(to_bytes(build_response()))
    assert status(report) == "unsigned"
    assert "unsigned_assertion" in codes(report)
    assert report.messages[0].trusted is None


def test_anchor_expired_is_warning_only() -> None:
    report = run(signed_response("assertion"), now=idp_key().cert.not_valid_after_utc + timedelta(days=2))
    assert status(report) == "valid"
    f = next(f for f in report.findings if f.code == "anchor_cert_expired")
    assert f.severity.value == "warning"


def test_duplicate_signature_on_one_element_is_xsw() -> None:
    signed = sign(build_response(), "assertion")
    sig = signed.find(f".//{{{DS}}}Signature")
    sig.addnext(copy.deepcopy(sig))
    report = run(to_bytes(signed))
    assert status(report) == "invalid" and "xsw" in codes(report)


def test_keyvalue_contradicting_anchor_is_reported() -> None:
    """A KeyValue for another key inside a signature made by the anchor's key (key-in-message trick)."""
    from signxml import XMLSigner
    from signxml.algorithms import SignatureConstructionMethod

    r = build_response()
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped, c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    signed = signer.sign(r, key=idp_key().key_pem, always_add_key_value=True)  # KeyValue only, no cert
    mod = signed.find(f".//{{{DS}}}Modulus")
    evil = other_key().key.public_key().public_numbers().n
    import base64

    mod.text = base64.b64encode(evil.to_bytes((evil.bit_length() + 7) // 8, "big")).decode()
    report = run(to_bytes(signed))
    assert status(report) == "invalid"
    assert "keyinfo_key_mismatch" in codes(report)


def test_anchor_of_another_key_type_is_skipped_not_an_attack() -> None:
    """Review finding: an EC anchor listed before the RSA one must not turn a valid signature into an attack."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec anchor")])
    ec_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(idp_key().cert.not_valid_before_utc)
        .not_valid_after(idp_key().cert.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    signed = sign(build_response(), "assertion")
    for kinfo in signed.iter(f"{{{DS}}}KeyInfo"):  # no certificate in the message to order the anchors by
        kinfo.getparent().remove(kinfo)
    settings = entra_settings(anchors=(Anchor(ec_cert, "ec"), Anchor(idp_key().cert, "rsa")))
    report = run(to_bytes(signed), settings)
    assert status(report) == "valid" and not report.messages[0].signature.attack
    assert report.messages[0].signature.key.source == "rsa"


def test_assertion_only_signature_does_not_sign_the_response_issuer() -> None:
    report = run(signed_response("assertion"))
    msg = report.messages[0]
    assert msg.trusted.issuer is None and msg.trusted.assertion_issuer
    assert msg.unverified.issuer  # shown, but as unverified


def test_whole_document_reference_counts_as_response_signed() -> None:
    from helpers import CORPUS
    from test_corpus import NOW, _settings_for

    settings, _ = _settings_for("peers/python3-saml/idp_cert_fingerprint_657302a5.pem")
    data = (CORPUS / "peers/python3-saml/response_without_assertion_reference_uri.xml.base64").read_bytes()
    msg = run(data, settings, NOW).messages[0]
    assert msg.signature.status.value == "valid"
    assert msg.signature.signed_elements == ("response", "assertion")
    assert msg.trusted.destination  # the whole Response is covered
