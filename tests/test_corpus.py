"""Every corpus response with a verification cert gets the manifest's signature verdict."""

from __future__ import annotations

import base64
import warnings
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import CORPUS, codes, corpus_manifest, run

from samldebug.cli import build_settings
from samldebug.config import AppConfig, Limits
from samldebug.decrypt import load_private_keys

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MANIFEST = corpus_manifest()


def sp_key_for(file: str) -> Path | None:
    """The SP key that decrypts an entry's EncryptedAssertion: the one in the same folder (manifest notes)."""
    folder = CORPUS / file.rsplit("/", 1)[0]
    for name in ("sp_key.pem", "ruby-saml_sp_key.pem"):
        if (folder / name).is_file():
            return folder / name
    return None


def _settings_for(cert: str | None):  # type: ignore[no-untyped-def]
    md = (str(CORPUS / cert),) if cert and cert.endswith(".xml") else ()
    pem = (str(CORPUS / cert),) if cert and cert.endswith(".pem") else ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some upstream certs carry negative serials
        return build_settings(AppConfig(), NOW, metadata=md, cert=pem, skew=180)


def _cases(with_cert: bool) -> list:  # type: ignore[type-arg]
    out = []
    for e in MANIFEST:
        if e["kind"] != "response" or bool(e["expected"].get("verification_cert")) != with_cert:
            continue
        out.append(pytest.param(e, id=e["file"]))
    return out


@pytest.mark.parametrize("entry", _cases(with_cert=True))
def test_manifest_verdict_with_cert(entry: dict) -> None:  # type: ignore[type-arg]
    settings, notes = _settings_for(entry["expected"]["verification_cert"])
    data = (CORPUS / entry["file"]).read_bytes()
    key = sp_key_for(entry["file"])
    if key is not None and b"EncryptedAssertion" in (data if b"<" in data[:100] else base64.b64decode(data)):
        settings = replace(settings, decryption_keys=tuple(load_private_keys(key.read_bytes())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run(data, settings, NOW)
    msg = report.messages[0]
    assert msg.signature is not None
    expected = entry["expected"]["signature"]
    assert msg.signature.status.value == expected, [f.title for f in report.findings]
    if "xsw" in entry["file"]:
        assert "xsw" in codes(report)
    if expected == "valid":
        assert msg.trusted is not None, "a valid signature must yield trusted values"
        assert msg.signature.key is not None
    else:
        assert msg.trusted is None, "nothing may be trusted from an invalid message"


@pytest.mark.parametrize("entry", _cases(with_cert=False))
def test_manifest_without_cert_never_valid(entry: dict) -> None:  # type: ignore[type-arg]
    """Without a trust anchor nothing is 'valid'; must-reject messages are still found invalid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run((CORPUS / entry["file"]).read_bytes(), None, NOW)
    msg = report.messages[0]
    assert msg.signature is not None
    assert msg.signature.status.value != "valid"
    assert msg.trusted is None
    if entry["expected"]["signature"] == "invalid":
        assert msg.signature.status.value == "invalid"
    if entry["expected"]["signature"] == "unsigned" and "encrypted" not in entry["file"]:
        assert msg.signature.status.value == "unsigned"


def test_signed_assertion_names_the_verifying_anchor() -> None:
    settings, _ = _settings_for("entra/aad_signing_cert_2017.pem")
    report = run(
        (CORPUS / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_bytes(),
        settings,
        datetime(2017, 3, 20, 16, 0, tzinfo=UTC),
    )
    msg = report.messages[0]
    assert msg.signature.signed_elements == ("assertion",)
    assert msg.signature.key.sha1 == "6B740DD01652EECE2737E05DAE36C5D18FCB74C3"
    assert msg.trusted.name_id == "RrX3SPSxDw6z4KHaKB2V_mnv0G-LbRZdYvo1RQa1L7s"
    assert codes(report) == set(), report.findings  # valid at its own time: nothing to report


def test_pretty_printed_copy_is_explained() -> None:
    settings, _ = _settings_for("entra/aad_signing_cert_2017.pem")
    report = run(
        (CORPUS / "entra/aad_saml2_assertion_pretty_printed_invalid.xml").read_bytes(),
        settings,
        datetime(2017, 3, 20, 16, 0, tzinfo=UTC),
    )
    (f,) = [f for f in report.findings if f.code == "digest_mismatch"]
    assert "pretty-printed" in f.title


def test_adfs_base64_of_pem_keyinfo_is_not_a_mismatch() -> None:
    settings, _ = _settings_for("peers/ruby-saml/adfs_signing_cert.pem")
    report = run((CORPUS / "peers/ruby-saml/adfs_response_sha256.xml").read_bytes(), settings, NOW)
    assert report.messages[0].signature.status.value == "valid"
    assert "keyinfo_cert_mismatch" not in codes(report)


def test_expired_signing_cert_is_a_warning_not_invalid() -> None:
    settings, _ = _settings_for("peers/python3-saml/idp_cert_settings1.pem")
    report = run((CORPUS / "peers/python3-saml/signed_message_response.xml.base64").read_bytes(), settings, NOW)
    assert report.messages[0].signature.status.value == "valid"
    assert "anchor_cert_expired" in codes(report)


def test_entra_metadata_has_three_certs_for_rollover() -> None:
    from samldebug import metadata

    info = metadata.load((CORPUS / "entra/aad_common_federationmetadata.xml").read_bytes(), "md", Limits())
    assert len(info.signing_certs) == 3
    assert info.role == "idp"


def test_corpus_requests_decode(corpus: Path) -> None:
    for name, kind in [
        ("peers/crewjam-saml/sp_authnrequest_redirect_url.txt", "authn_request"),
        ("peers/python3-saml/logout_request_deflated.xml.base64", "logout_request"),
        ("peers/python3-saml/authn_request.xml.base64", "authn_request"),
    ]:
        report = run((corpus / name).read_bytes(), None, NOW)
        assert report.messages[0].kind == kind, name


@pytest.mark.parametrize(
    "file, key, signed",
    [
        (
            "peers/python3-saml/signed_encrypted_assertion.xml.base64",
            "peers/python3-saml/idp_cert_settings1.pem",
            ("assertion",),
        ),
        (
            "peers/python3-saml/double_signed_encrypted_assertion.xml.base64",
            "peers/python3-saml/idp_cert_settings1.pem",
            ("response", "assertion"),
        ),
        (
            "peers/crewjam-saml/okta_signed_response_encrypted_assertion.xml.base64",
            "peers/crewjam-saml/okta_idp_metadata.xml",
            ("response",),
        ),
    ],
)
def test_encrypted_assertions_decrypt_and_verify(file: str, key: str, signed: tuple[str, ...]) -> None:
    settings, _ = _settings_for(key)
    sp_key = sp_key_for(file)
    assert sp_key is not None
    settings = replace(settings, decryption_keys=tuple(load_private_keys(sp_key.read_bytes())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run((CORPUS / file).read_bytes(), settings, NOW)
    msg = report.messages[0]
    assert msg.signature.status.value == "valid", [f.title for f in report.findings]
    assert msg.signature.signed_elements == signed
    assert msg.trusted is not None and msg.trusted.name_id
    assert "decrypted" in codes(report) and "decrypted_xml" in msg.extra
    if file.startswith("peers/crewjam"):
        assert msg.trusted.name_id == "testuser@testrsc.com"


def test_encrypted_without_key_reports_what_is_visible() -> None:
    settings, _ = _settings_for("peers/crewjam-saml/okta_idp_metadata.xml")
    report = run(
        (CORPUS / "peers/crewjam-saml/okta_signed_response_encrypted_assertion.xml.base64").read_bytes(), settings, NOW
    )
    msg = report.messages[0]
    assert msg.signature.status.value == "valid" and msg.signature.signed_elements == ("response",)
    enc = msg.extra["encryption"]
    assert enc["data_algorithm"].endswith("aes256-cbc") and enc["key_transport"].endswith("rsa-oaep-mgf1p")
    assert enc["recipient_cert_sha1"]
    assert {"encrypted", "weak_data_encryption"} <= codes(report)


def test_wrong_decryption_key_is_explained() -> None:
    settings, _ = _settings_for("peers/python3-saml/idp_cert_settings2.pem")
    wrong = load_private_keys((CORPUS / "peers/ruby-saml/ruby-saml_sp_key.pem").read_bytes())
    settings = replace(settings, decryption_keys=tuple(wrong))
    report = run((CORPUS / "peers/python3-saml/signed_message_response2.xml.base64").read_bytes(), settings, NOW)
    assert codes(report) & {"decrypt_wrong_key", "decrypt_failed"}
    assert report.messages[0].signature.status.value == "valid"  # the Response signature still holds
