"""Every corpus response with a verification cert gets the manifest's signature verdict."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CORPUS, codes, run

from samldebug.cli import build_settings
from samldebug.config import Limits

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text()) if (CORPUS / "MANIFEST.json").is_file() else []

# Their only signature sits inside an EncryptedAssertion: decryption comes with the encrypted-assertion issue.
NEEDS_DECRYPTION = {"peers/python3-saml/signed_encrypted_assertion.xml.base64"}


def _settings_for(cert: str | None):  # type: ignore[no-untyped-def]
    md = (str(CORPUS / cert),) if cert and cert.endswith(".xml") else ()
    pem = (str(CORPUS / cert),) if cert and cert.endswith(".pem") else ()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some upstream certs carry negative serials
        return build_settings(md, pem, None, None, None, 180, Limits(), NOW)


def _cases(with_cert: bool) -> list:  # type: ignore[type-arg]
    out = []
    for e in MANIFEST:
        if e["kind"] != "response" or bool(e["expected"].get("verification_cert")) != with_cert:
            continue
        marks = []
        if e["file"] in NEEDS_DECRYPTION:
            marks.append(
                pytest.mark.xfail(
                    strict=True, reason="signature is inside the EncryptedAssertion; needs decryption (issue 10)"
                )
            )
        out.append(pytest.param(e, id=e["file"], marks=marks))
    return out


@pytest.mark.parametrize("entry", _cases(with_cert=True))
def test_manifest_verdict_with_cert(entry: dict) -> None:  # type: ignore[type-arg]
    settings, notes = _settings_for(entry["expected"]["verification_cert"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run((CORPUS / entry["file"]).read_bytes(), settings, NOW)
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
