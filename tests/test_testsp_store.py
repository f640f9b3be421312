"""Test SP state in the report database (schema v4) on SQLite and PostgreSQL: migration, request state by ID,
replay detection, sealed results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, text

from samldebug import store as store_module
from samldebug.store import Store
from samldebug.store.testsp import TestSPStore, owner_hash

T = datetime(2026, 3, 1, tzinfo=UTC)


def test_migration_from_version_2_adds_the_test_sp_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:  # a database as version 2 left it
        for table in ("reports", "schema_version", "metadata_cache"):
            store_module.metadata.tables[table].create(conn, checkfirst=True)
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(text("INSERT INTO schema_version (version) VALUES (2)"))
    assert "test_sps" not in inspect(engine).get_table_names()
    store = Store(database_url)
    store.migrate()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == 4 == store_module.SCHEMA_VERSION
    assert {"test_sps", "sp_requests", "sp_seen", "sp_results"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    store.dispose()


def test_requests_replays_and_results(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    db = TestSPStore(store)
    assert db.create("acme", T, b"key", b"cert")
    assert not db.create("acme", T, None, None)  # the name is taken
    db.update("acme", T, {"metadata_url": "https://login.microsoftonline.com/x"}, b"<md/>")
    rec = db.get("acme")
    assert rec is not None and rec.settings["metadata_url"].endswith("/x") and rec.idp_metadata == b"<md/>"
    assert rec.key_pem == b"key"
    owner = owner_hash("browser-1")
    db.save_request("_abc", "acme", "authn", owner, T, T + timedelta(minutes=30), {"binding": "redirect"})
    sent = db.get_request("_abc")
    assert sent is not None and sent.owner_hash == owner and sent.details == {"binding": "redirect"}
    assert db.consume_request("_abc", T) is True
    assert db.consume_request("_abc", T) is False  # a second answer to the same request
    assert db.get_request("_unknown") is None
    assert db.first_sighting("acme", "_resp1", T, T + timedelta(hours=1)) is True
    assert db.first_sighting("acme", "_resp1", T, T + timedelta(hours=1)) is False  # replayed
    assert db.first_sighting("other", "_resp1", T, T + timedelta(hours=1)) is True  # per test SP
    rid, key = db.put_result("acme", b'{"report": 1}', owner, T, T + timedelta(minutes=10))
    assert db.get_result(rid, key, T) == (owner, b'{"report": 1}')
    assert db.get_result(rid, "A" * 43, T) is None  # wrong key
    assert db.get_result(rid, key, T + timedelta(minutes=11)) is None  # expired
    with store.engine.connect() as conn:
        blob = conn.execute(text("SELECT ciphertext FROM sp_results")).scalar()
    assert b"report" not in bytes(blob)  # sealed, not stored in clear
    assert db.purge(T + timedelta(days=2)) == 4  # request, 2 sightings, result
    assert db.delete("acme") and db.get("acme") is None
    store.dispose()
