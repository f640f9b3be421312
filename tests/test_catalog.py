"""The catalog is data and complete: every code the engine can emit has an entry with a fix."""

from __future__ import annotations

import re
from pathlib import Path

from samldebug import catalog

SRC = Path(__file__).resolve().parent.parent / "samldebug"


def emitted_codes() -> set[str]:
    pattern = re.compile(r"""finding\(\s*["']([a-z0-9_]+)["']""")
    found: set[str] = set()
    for py in SRC.rglob("*.py"):
        found |= set(pattern.findall(py.read_text()))
    return found


def test_every_emitted_code_has_an_entry() -> None:
    codes = emitted_codes()
    assert len(codes) > 30
    missing = codes - set(catalog.findings())
    assert not missing


def test_entries_are_well_formed() -> None:
    for code, e in catalog.findings().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert e.title and e.cause and e.fix
        assert e.category in catalog.CATEGORIES


def test_issue_codes_exist() -> None:
    required = (
        "xsw signed_by_unknown_key keyinfo_cert_mismatch cert_rolled digest_mismatch sha1_signature "
        "hmac_signature disallowed_transform unsigned_assertion comment_in_nameid audience_mismatch expired "
        "not_yet_valid recipient_mismatch destination_mismatch issuer_mismatch in_response_to_present "
        "encrypted idp_error_status authn_request deflated xxe_blocked entity_expansion_blocked "
        "oversized_input invalid_base64 not_saml"
    ).split()
    assert set(required) <= set(catalog.findings())


def test_attacks_are_flagged_as_attacks() -> None:
    for code in (
        "xsw",
        "hmac_signature",
        "disallowed_transform",
        "xxe_blocked",
        "entity_expansion_blocked",
        "comment_in_nameid",
        "keyinfo_key_mismatch",
    ):
        assert catalog.entry(code).attack, code


def test_core_does_not_import_flask() -> None:
    import subprocess
    import sys

    code = "import sys, samldebug, samldebug.cli; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_file_entries_are_checked_by_their_schema() -> None:
    """The data files' shapes are msgspec Structs: a missing or empty text, an unknown category or an unknown key
    fails loading with the entry named."""
    import pytest

    from samldebug.catalog import CatalogError, _entry

    good = {"severity": "error", "category": "config", "title": "t", "cause": "c", "fix": "f"}
    assert _entry("x", good).severity.value == "error"
    for bad in ({**good, "fix": "  "}, {**good, "category": "nope"}, {**good, "extra": 1}, {"severity": "error"}):
        with pytest.raises(CatalogError, match=r"findings.toml \[x\]"):
            _entry("x", bad)
