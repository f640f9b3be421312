"""Fixtures only (helpers live in helpers.py): the browser, PostgreSQL and database fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import browser  # noqa: F401 - the Chromium fixture, shared by browser tests
from helpers import CORPUS
from pg import postgres_url  # noqa: F401 - the PostgreSQL fixture
from redis_server import redis_url  # noqa: F401 - the Redis fixture


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
        conn.execute(
            text(
                "DROP TABLE IF EXISTS reports, schema_version, metadata_cache, test_sps, sp_requests, sp_seen, "
                "sp_results, audit"
            )
        )
    engine.dispose()
    return url
