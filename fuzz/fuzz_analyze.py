"""Coverage-guided fuzzing of analyze() with atheris (libFuzzer). `make fuzz` runs it for a bounded time.

    python fuzz/fuzz_analyze.py build/fuzz/analyze -max_total_time=60

A crash (an exception, or a report with `internal_error`) is saved by libFuzzer as crash-<hash>; turn it into a
regression test in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports():
    from samldebug.certs import Anchor, load_certs
    from samldebug.config import Limits, Settings
    from samldebug.pipeline import analyze
    from samldebug.report import dumps, to_text

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
NOW = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)


def _settings() -> Settings:
    anchors = []
    for pem in ("entra/aad_signing_cert_2017.pem", "peers/python3-saml/idp_cert_settings1.pem"):
        path = CORPUS / pem
        if path.is_file():
            anchors += [Anchor(c, pem) for c in load_certs(path.read_bytes())]
    from factory import idp_key

    anchors.append(Anchor(idp_key().cert, "fixture"))
    return Settings(
        sp_entity_id="https://sp.example.com/saml/metadata",
        acs_url="https://sp.example.com/saml/acs",
        anchors=tuple(anchors),
        limits=Limits(max_input_bytes=512 * 1024, max_xml_bytes=256 * 1024, time_budget=2.0),
    )


SETTINGS = _settings()


def test_one_input(data: bytes) -> None:
    report = analyze(data, SETTINGS, now=NOW)
    if report.has("internal_error"):
        raise RuntimeError("analyze reported internal_error")
    dumps(report)
    to_text(report)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
