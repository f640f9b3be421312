from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from browser import browser  # noqa: E402, F401 - the Chromium fixture, shared by browser tests
from factory import ACS_URL, ISSUER, SP_ENTITY_ID, T0, idp_key  # noqa: E402
from pg import postgres_url  # noqa: E402, F401 - the PostgreSQL fixture

from samldebug.certs import Anchor  # noqa: E402
from samldebug.config import Settings  # noqa: E402
from samldebug.model import Report  # noqa: E402
from samldebug.pipeline import analyze  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT / ".." / "shared" / "corpus").resolve()
NOW = T0 + timedelta(minutes=1)


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


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.json").is_file():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'samldebug.db'}"
    url: str = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:  # each test starts from an empty schema
        conn.execute(text("DROP TABLE IF EXISTS reports, schema_version, metadata_cache"))
    engine.dispose()
    return url
