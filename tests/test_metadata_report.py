"""Pasting metadata alone gives a metadata report: entity, endpoints, certificates with expiry, findings."""

from __future__ import annotations

from datetime import UTC, datetime

from factory import make_keypair, metadata
from helpers import CORPUS, codes, run


def test_pasted_entra_metadata_report() -> None:
    report = run(
        (CORPUS / "entra/aad_common_federationmetadata.xml").read_bytes(), None, datetime(2017, 6, 1, tzinfo=UTC)
    )
    (msg,) = report.messages
    md = msg.extra["metadata"]
    assert msg.kind == "metadata" and len(md["certificates"]) == 3
    # signed with a certificate it lists itself: intact, but that proves nothing about who wrote it
    assert md["signature"]["status"] == "self-signed" and md["signature"]["signer"]["sha1"]
    assert md["endpoints"] and "metadata_pasted" in codes(report)


def test_expiring_certificate_in_pasted_metadata() -> None:
    soon = make_keypair(not_before=datetime(2025, 1, 1, tzinfo=UTC), days=400)  # ends 2026-02-05
    report = run(metadata([soon.cert]), None, datetime(2026, 1, 20, tzinfo=UTC))
    assert codes(report) & {"cert_expiring"}
    cert = report.messages[0].extra["metadata"]["certificates"][0]
    assert cert["days_left"] == 16


def test_not_idp_metadata_is_recognised() -> None:
    report = run(
        (CORPUS / "entra/microsoftonline_federation_metadata.xml").read_bytes(), None, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert codes(report) & {"not_idp_metadata"}
