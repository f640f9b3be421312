"""Storage on SQLite and PostgreSQL: encrypted, atomic, expiring, deletable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from samldebug.store import Store, StoreError
from samldebug.store.crypto import Unsealable

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b'{"name_id": "alice@contoso.example", "SignatureValue": "c2lnbmF0dXJl"}'


def raw_rows(url: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM reports"))]
    engine.dispose()
    return rows


def test_roundtrip_and_nothing_in_clear(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    store.migrate()  # idempotent
    created = store.create(SECRET, now=T, expires_at=T + timedelta(days=7), redaction="identity")
    assert len(created.id) >= 22 and len(created.key) >= 43  # 128-bit id, 256-bit key
    meta, plain = store.open(created.id, created.key, T + timedelta(hours=1))  # type: ignore[misc]
    assert plain == SECRET and meta.redaction == "identity"
    (row,) = raw_rows(database_url)
    blob = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row.values())
    for needle in (
        b"alice@contoso.example",
        b"c2lnbmF0dXJl",
        b"name_id",
        created.key.encode(),
        created.delete_token.encode(),
    ):
        assert needle not in blob
    store.dispose()


def test_wrong_key_reveals_only_existence(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    created = store.create(SECRET, now=T, expires_at=T + timedelta(days=1), redaction="all")
    with pytest.raises(Unsealable):
        store.open(created.id, "A" * 43, T)
    with pytest.raises(Unsealable):
        store.open(created.id, "short", T)
    meta = store.meta(created.id, T)
    assert meta is not None and meta.redaction == "all" and meta.expires_at == T + timedelta(days=1)
    assert store.open("unknown-id-0000000000", created.key, T) is None
    store.dispose()


def test_expiry_delete_and_purge(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    short = store.create(SECRET, now=T, expires_at=T + timedelta(hours=1), redaction="none")
    long = store.create(SECRET, now=T, expires_at=T + timedelta(days=30), redaction="none")
    later = T + timedelta(hours=2)
    assert store.open(short.id, short.key, later) is None  # never served after expiry, even before purge
    assert store.meta(short.id, later) is None
    assert store.purge(later) == 1
    assert not store.delete(long.id, "wrong-token")
    assert store.delete(long.id, long.delete_token)
    assert store.open(long.id, long.key, T) is None
    assert raw_rows(database_url) == []
    store.dispose()


def test_database_down_is_a_clear_error() -> None:
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match="unavailable"):
        store.migrate()
    with pytest.raises(StoreError):
        store.create(SECRET, now=T, expires_at=T + timedelta(days=1), redaction="none")


CHILD = """
import sys, json
from datetime import datetime, timedelta, timezone
from samldebug.store import Store
store = Store(sys.argv[1]); store.migrate()
now = datetime(2026, 3, 1, tzinfo=timezone.utc)
payload = json.dumps({"filler": "x" * 200000}).encode()
while True:
    c = store.create(payload, now=now, expires_at=now + timedelta(days=1), redaction="none")
    print(c.id, c.key, flush=True)
"""


def test_killed_writer_leaves_whole_reports_only(database_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, database_url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    printed: list[tuple[str, str]] = []
    deadline = time.monotonic() + 30
    while len(printed) < 15 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            rid, key = line.split()
            printed.append((rid, key))
    os.kill(proc.pid, signal.SIGKILL)  # mid-burst: likely inside a write
    proc.wait(10)
    # Lines the child printed before it died but this process had not read yet are still in the pipe.
    rest = [line.split() for line in proc.stdout.read().splitlines()]
    printed += [(parts[0], parts[1]) for parts in rest if len(parts) == 2]
    assert len(printed) >= 15
    store = Store(database_url)
    rows = raw_rows(database_url)
    assert len(printed) <= len(rows) <= len(printed) + 1  # at most the one committed before its line printed
    for row in rows:
        assert all(v is not None for v in row.values())
    for rid, key in printed:
        opened = store.open(rid, key, datetime(2026, 3, 1, 1, tzinfo=UTC))
        assert opened is not None and json.loads(opened[1])["filler"] == "x" * 200000
    store.dispose()


def test_migration_from_version_1(database_url: str) -> None:
    from sqlalchemy import inspect

    from samldebug import store as store_module

    engine = create_engine(database_url)
    with engine.begin() as conn:  # a database as version 1 left it
        conn.execute(text("DROP TABLE IF EXISTS metadata_cache"))
        store_module.reports.create(conn, checkfirst=True)
        store_module.schema_version.create(conn, checkfirst=True)
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(text("INSERT INTO schema_version (version) VALUES (1)"))
    store = Store(database_url)
    store.migrate()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == store_module.SCHEMA_VERSION
    assert "metadata_cache" in inspect(engine).get_table_names()
    store.cache_put("https://x/md", "https://x/md", T, b"<md/>")
    assert store.cache_get("https://x/md") == ("https://x/md", T, b"<md/>")
    engine.dispose()
    store.dispose()
