"""Helpers shared by the tests (imported as `from helpers import ...`; tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from factory import ACS_URL, ISSUER, SP_ENTITY_ID, T0, idp_key

from samldebug.certs import Anchor
from samldebug.config import Settings
from samldebug.model import Report
from samldebug.pipeline import analyze

ROOT = Path(__file__).resolve().parent.parent
# The shared corpus beside the repository (SAMLDEBUG_TEST_CORPUS points elsewhere, e.g. to prove that the
# corpus-driven tests fail when it is missing).
CORPUS = Path(os.environ.get("SAMLDEBUG_TEST_CORPUS") or ROOT / ".." / "shared" / "corpus").resolve()
NOW = T0 + timedelta(minutes=1)


class CorpusMissing(RuntimeError):
    """Raised at collection: corpus-driven tests must fail, never quietly run zero cases."""


def corpus_manifest() -> list[dict[str, Any]]:
    path = CORPUS / "MANIFEST.json"
    if not path.is_file():
        raise CorpusMissing(f"the shared corpus is missing at {CORPUS} (MANIFEST.json not found)")
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def corpus_files(*suffixes: str) -> list[Path]:
    corpus_manifest()  # fails when the corpus is missing
    return [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.suffix in suffixes]


def entra_settings(**kw: object) -> Settings:
    base: dict[str, object] = dict(
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        idp_entity_id=ISSUER,
        anchors=(Anchor(idp_key().cert, "metadata signing cert #1"),),
    )
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def run(data: bytes | str, settings: Settings | None = None, now: datetime = NOW) -> Report:
    report = analyze(data, settings if settings is not None else entra_settings(), now=now)
    assert not report.has("internal_error"), report.findings
    return report


def codes(report: Report) -> set[str]:
    return {f.code for f in report.findings}
