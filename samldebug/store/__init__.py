"""Permalink storage: one small interface, SQLAlchemy Core, SQLite by default and PostgreSQL by URL.

A write is one transaction (the whole report or nothing). Expired reports are never served, even before
`samldebug purge` removes them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from . import crypto

metadata = MetaData()

reports = Table(
    "reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("delete_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("redaction", String(16), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
metadata_cache = Table(
    "metadata_cache",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("final_url", String(2048), nullable=False),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

# Test SP state (schema v4), used through store/testsp.py.
test_sps = Table(
    "test_sps",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("settings", Text, nullable=False),  # JSON: IdP metadata source, last request options
    Column("idp_metadata", LargeBinary, nullable=True),  # an uploaded federation metadata file
    Column("key_pem", LargeBinary, nullable=True),  # shared key pair (non-SQLite databases); else instance folder
    Column("cert_pem", LargeBinary, nullable=True),
)
sp_requests = Table(
    "sp_requests",
    metadata,
    Column("id", String(128), primary_key=True),  # the request's ID attribute
    Column("sp_name", String(40), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # authn | logout
    Column("owner_hash", String(64), nullable=False),  # SHA-256 of the starting browser's flow cookie
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    Column("details", Text, nullable=False),  # JSON: the knobs, the destination, the binding
)
sp_seen = Table(
    "sp_seen",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 of (test SP, message ID)
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
sp_results = Table(
    "sp_results",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("sp_name", String(40), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("owner_hash", String(64), nullable=True),  # set for SP-initiated flows: only the starter may view
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("ciphertext", LargeBinary, nullable=False),
)

# The audit trail: who analysed (a count, never the input), shared, opened, revoked or deleted which report, when
# and from where. Never a payload, a permalink key, a delete token or anything read from a SAML message.
audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("action", String(16), nullable=False),  # analyze | share | open | delete | revoke | signin | refused
    Column("username", String(320), nullable=True),  # the signed-in user (proxy header or OIDC), None when auth is off
    Column("address", String(64), nullable=False),
    Column("report_id", String(32), nullable=True, index=True),
    Column("count", Integer, nullable=False, default=1),  # analyses are counted, never recorded one by one
)

SCHEMA_VERSION = 4
# Ordered migrations: version N upgrades N-1 → N. Version 1 is the initial schema; version 2 adds
# metadata_cache; version 3 the audit table (who shared, opened, deleted which report; web/audit.py); version 4
# the test SP tables (store/testsp.py: test_sps, sp_requests, sp_seen, sp_results). create_all() creates new
# tables on an existing database, so new tables need no statement here (and a database that reached version 4
# before the audit table existed gets it too).
MIGRATIONS: dict[int, list[str]] = {2: [], 3: [], 4: []}


class StoreError(RuntimeError):
    """The database cannot be used (down, full, locked): shown as a clear error, never a stack trace."""


@dataclass(frozen=True)
class Meta:
    id: str
    created_at: datetime
    expires_at: datetime
    redaction: str


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: str
    user: str | None
    address: str
    report_id: str | None
    count: int


@dataclass(frozen=True)
class Created:
    id: str
    key: str
    delete_token: str
    meta: Meta


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        kw: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"timeout": 10}
        self.engine: Engine = create_engine(url, **kw)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self) -> None:
        try:
            with self.engine.begin() as conn:
                metadata.create_all(conn)
                current = conn.execute(select(schema_version.c.version)).scalar()
                if current is None:
                    conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
                    return
                for version in range(int(current) + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS.get(version, []):
                        conn.execute(text(statement))
                    conn.execute(schema_version.update().values(version=version))
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None

    def create(self, plaintext: bytes, *, now: datetime, expires_at: datetime, redaction: str) -> Created:
        report_id, key, delete_token = crypto.new_id(), crypto.new_key(), secrets.token_urlsafe(24)
        blob = crypto.seal(plaintext, key, aad=report_id.encode())
        row = {
            "id": report_id,
            "key_hash": crypto.key_hash(key),
            "delete_hash": _hash(delete_token),
            "created_at": _utc(now),
            "expires_at": _utc(expires_at),
            "redaction": redaction,
            "ciphertext": blob,
        }
        try:
            with self.engine.begin() as conn:  # one transaction: the whole report or nothing
                conn.execute(insert(reports).values(**row))
        except SQLAlchemyError as e:
            raise StoreError(f"the report could not be stored ({type(e).__name__})") from None
        return Created(report_id, key, delete_token, Meta(report_id, _utc(now), _utc(expires_at), redaction))

    def _row(self, report_id: str, now: datetime) -> Any:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(reports).where(reports.c.id == report_id)).first()
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None
        if row is None or _utc(row.expires_at) <= _utc(now):
            return None  # expired reports are never served, even before they are purged
        return row

    def meta(self, report_id: str, now: datetime) -> Meta | None:
        row = self._row(report_id, now)
        if row is None:
            return None
        return Meta(row.id, _utc(row.created_at), _utc(row.expires_at), row.redaction)

    def open(self, report_id: str, key: str, now: datetime) -> tuple[Meta, bytes] | None:
        """(meta, plaintext); None when unknown or expired. Raises crypto.Unsealable for a wrong key."""
        row = self._row(report_id, now)
        if row is None:
            return None
        if not hmac.compare_digest(row.key_hash, crypto.key_hash(key)):
            raise crypto.Unsealable("wrong key")
        plaintext = crypto.unseal(row.ciphertext, key, aad=report_id.encode())
        return Meta(row.id, _utc(row.created_at), _utc(row.expires_at), row.redaction), plaintext

    def delete(self, report_id: str, delete_token: str) -> bool:
        try:
            with self.engine.begin() as conn:
                row = conn.execute(select(reports.c.delete_hash).where(reports.c.id == report_id)).first()
                if row is None or not hmac.compare_digest(row.delete_hash, _hash(delete_token)):
                    return False
                conn.execute(delete(reports).where(reports.c.id == report_id))
                return True
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None

    def purge(self, now: datetime) -> int:
        try:
            with self.engine.begin() as conn:
                result = conn.execute(delete(reports).where(reports.c.expires_at <= _utc(now)))
                return int(result.rowcount or 0)
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None

    def cache_get(self, url: str) -> tuple[str, datetime, bytes] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(metadata_cache).where(metadata_cache.c.url == url)).first()
        return (row.final_url, _utc(row.fetched_at), bytes(row.body)) if row is not None else None

    def cache_put(self, url: str, final_url: str, fetched_at: datetime, body: bytes) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(metadata_cache).where(metadata_cache.c.url == url))
            conn.execute(
                insert(metadata_cache).values(url=url, final_url=final_url, fetched_at=_utc(fetched_at), body=body)
            )

    def audit_add(self, rows: list[dict[str, Any]]) -> None:
        """rows: at, action, user, address, report_id, count (see the audit table)."""
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                values = [{**{k: v for k, v in r.items() if k != "user"}, "username": r["user"]} for r in rows]
                conn.execute(insert(audit), [{**v, "at": _utc(v["at"])} for v in values])
        except SQLAlchemyError as e:
            raise StoreError(f"the audit trail could not be written ({type(e).__name__})") from None

    def audit_since(self, since: datetime, limit: int = 100_000) -> list[AuditEntry]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(audit).where(audit.c.at >= _utc(since)).order_by(audit.c.at, audit.c.seq).limit(limit)
                ).all()
        except SQLAlchemyError as e:
            raise StoreError(f"the audit trail is unavailable ({type(e).__name__})") from None
        return [
            AuditEntry(_utc(r.at), r.action, r.username, r.address, r.report_id, int(r._mapping["count"])) for r in rows
        ]

    def shared_by(self, user: str, now: datetime) -> list[Meta]:
        """The user's live permalinks (shared by them, neither expired nor deleted), newest first."""
        shared = select(audit.c.report_id).where(audit.c.action == "share", audit.c.username == user)
        query = (
            select(reports.c.id, reports.c.created_at, reports.c.expires_at, reports.c.redaction)
            .where(reports.c.id.in_(shared), reports.c.expires_at > _utc(now))
            .order_by(reports.c.created_at.desc())
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None
        return [Meta(r.id, _utc(r.created_at), _utc(r.expires_at), r.redaction) for r in rows]

    def revoke(self, report_id: str, user: str) -> bool:
        """Delete a report without its delete token, for the user the audit trail says shared it."""
        owned = select(audit.c.seq).where(
            audit.c.action == "share", audit.c.username == user, audit.c.report_id == report_id
        )
        try:
            with self.engine.begin() as conn:
                if conn.execute(owned.limit(1)).first() is None:
                    return False
                return bool(conn.execute(delete(reports).where(reports.c.id == report_id)).rowcount)
        except SQLAlchemyError as e:
            raise StoreError(f"the report database is unavailable ({type(e).__name__})") from None

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets several gunicorn workers read while one writes; busy_timeout waits for the writer lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
