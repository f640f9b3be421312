"""Test SP state in the report database (schema version 4): the test SPs, the requests they sent (by request
ID, server side: SameSite cookies do not survive the IdP's cross-site POST), the message IDs already received
(replays), and the short-lived sealed hand-off of an ACS result to the browser that may see it.

Results are sealed like permalinks (AES-256-GCM, the key only in the viewing browser's cookie) and expire
after minutes; nothing the ACS receives is kept longer unless the user shares it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import Store, StoreError, crypto, sp_requests, sp_results, sp_seen, test_sps


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def owner_hash(token: str) -> str:
    return hashlib.sha256(b"samldebug-sp-owner\0" + token.encode()).hexdigest()


@dataclass(frozen=True)
class SPRecord:
    name: str
    created_at: datetime
    settings: dict[str, Any]
    idp_metadata: bytes | None
    key_pem: bytes | None
    cert_pem: bytes | None


@dataclass(frozen=True)
class SentRequest:
    id: str
    sp_name: str
    kind: str
    owner_hash: str
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    details: dict[str, Any]


class TestSPStore:
    """Test SP persistence on the report database's engine (SQLite or PostgreSQL)."""

    __test__ = False

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def _run(self, fn: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except IntegrityError:
            raise
        except SQLAlchemyError as e:
            raise StoreError(f"the test SP database is unavailable ({type(e).__name__})") from None

    # test SPs
    def list(self) -> list[SPRecord]:
        rows = self._run(lambda c: c.execute(select(test_sps).order_by(test_sps.c.name)).all())
        return [_record(r) for r in rows]

    def get(self, name: str) -> SPRecord | None:
        row = self._run(lambda c: c.execute(select(test_sps).where(test_sps.c.name == name)).first())
        return _record(row) if row is not None else None

    def create(self, name: str, now: datetime, key_pem: bytes | None, cert_pem: bytes | None) -> bool:
        """False when the name is taken."""
        values = {
            "name": name,
            "created_at": _utc(now),
            "updated_at": _utc(now),
            "settings": "{}",
            "key_pem": key_pem,
            "cert_pem": cert_pem,
        }
        try:
            self._run(lambda c: c.execute(insert(test_sps).values(**values)))
        except IntegrityError:
            return False
        return True

    def update(self, name: str, now: datetime, settings: dict[str, Any], idp_metadata: bytes | None = None) -> None:
        values: dict[str, Any] = {"settings": json.dumps(settings), "updated_at": _utc(now)}
        if idp_metadata is not None:
            values["idp_metadata"] = idp_metadata or None
        self._run(lambda c: c.execute(update(test_sps).where(test_sps.c.name == name).values(**values)))

    def delete(self, name: str) -> bool:
        def go(c: Any) -> bool:
            c.execute(delete(sp_requests).where(sp_requests.c.sp_name == name))
            c.execute(delete(sp_results).where(sp_results.c.sp_name == name))
            return bool(c.execute(delete(test_sps).where(test_sps.c.name == name)).rowcount)

        return bool(self._run(go))

    # requests sent
    def save_request(
        self,
        request_id: str,
        sp_name: str,
        kind: str,
        owner: str,
        now: datetime,
        expires_at: datetime,
        details: dict[str, Any],
    ) -> None:
        values = {
            "id": request_id,
            "sp_name": sp_name,
            "kind": kind,
            "owner_hash": owner,
            "created_at": _utc(now),
            "expires_at": _utc(expires_at),
            "details": json.dumps(details),
        }
        self._run(lambda c: c.execute(insert(sp_requests).values(**values)))

    def get_request(self, request_id: str) -> SentRequest | None:
        row = self._run(lambda c: c.execute(select(sp_requests).where(sp_requests.c.id == request_id[:128])).first())
        if row is None:
            return None
        return SentRequest(
            row.id,
            row.sp_name,
            row.kind,
            row.owner_hash,
            _utc(row.created_at),
            _utc(row.expires_at),
            _utc(row.consumed_at) if row.consumed_at is not None else None,
            json.loads(row.details),
        )

    def consume_request(self, request_id: str, now: datetime) -> bool:
        """Marks the request answered; False when it already was (a second answer to one request)."""
        stmt = (
            update(sp_requests)
            .where(sp_requests.c.id == request_id[:128], sp_requests.c.consumed_at.is_(None))
            .values(consumed_at=_utc(now))
        )
        return bool(self._run(lambda c: c.execute(stmt).rowcount))

    # replay detection
    def first_sighting(self, sp_name: str, message_id: str, now: datetime, keep_until: datetime) -> bool:
        """Records a received message ID; False when this test SP has seen it before (a replay)."""
        key = hashlib.sha256(f"{sp_name}\0{message_id}".encode()).hexdigest()
        values = {"key": key, "seen_at": _utc(now), "expires_at": _utc(keep_until)}
        try:
            self._run(lambda c: c.execute(insert(sp_seen).values(**values)))
        except IntegrityError:
            return False
        return True

    # sealed results
    def put_result(
        self, sp_name: str, plaintext: bytes, owner: str | None, now: datetime, expires_at: datetime
    ) -> tuple[str, str]:
        result_id, key = crypto.new_id(), crypto.new_key()
        values = {
            "id": result_id,
            "sp_name": sp_name,
            "key_hash": crypto.key_hash(key),
            "owner_hash": owner,
            "created_at": _utc(now),
            "expires_at": _utc(expires_at),
            "ciphertext": crypto.seal(plaintext, key, aad=result_id.encode()),
        }
        self._run(lambda c: c.execute(insert(sp_results).values(**values)))
        return result_id, key

    def get_result(self, result_id: str, key: str, now: datetime) -> tuple[str | None, bytes] | None:
        """(owner hash, plaintext), or None when unknown, expired or the key is wrong."""
        row = self._run(lambda c: c.execute(select(sp_results).where(sp_results.c.id == result_id[:32])).first())
        if row is None or _utc(row.expires_at) <= _utc(now) or crypto.key_hash(key) != row.key_hash:
            return None
        try:
            return row.owner_hash, crypto.unseal(row.ciphertext, key, aad=result_id.encode())
        except crypto.Unsealable:
            return None

    def purge(self, now: datetime) -> int:
        def go(c: Any) -> int:
            n = 0
            for table in (sp_requests, sp_seen, sp_results):
                n += int(c.execute(delete(table).where(table.c.expires_at <= _utc(now))).rowcount or 0)
            return n

        return int(self._run(go))


def _record(row: Any) -> SPRecord:
    return SPRecord(
        row.name,
        _utc(row.created_at),
        json.loads(row.settings or "{}"),
        bytes(row.idp_metadata) if row.idp_metadata is not None else None,
        bytes(row.key_pem) if row.key_pem is not None else None,
        bytes(row.cert_pem) if row.cert_pem is not None else None,
    )
