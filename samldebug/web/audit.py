"""The audit trail: who analysed (a count), shared, opened, revoked or deleted which report id, when, from where.

Each event is written twice: one JSON line (`SAMLDEBUG_AUDIT_LOG`, default `<instance>/audit.jsonl`, `-` for
stderr) and one row of the database's `audit` table (shared by every instance; `samldebug audit --since 7d`).
An event holds only: time, action, user (the signed-in name, None when sign-in is off), client address, report
id, count. Never a payload, a permalink key, a delete token, a NameID or anything read from a message: the
function signature below cannot carry one.

Analyses are counted, not recorded one by one: each process sums them per (user, address) and writes one row
with the count at most every FLUSH_SECONDS (and when it next records another event, and at exit), so the hot
path costs a dictionary increment.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context

from .limits import client_address

log = logging.getLogger("samldebug.audit")

ACTIONS = ("analyze", "share", "open", "delete", "revoke", "signin", "refused")
FLUSH_SECONDS = 10.0


class AuditTrail:
    def __init__(self, path: str, get_store: Callable[[], Any], clock: Callable[[], datetime]) -> None:
        self.path = path
        self._get_store = get_store
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str | None, str], int] = {}
        self._last_flush = clock()
        self._exiting = False
        atexit.register(self._flush_at_exit)

    def _write_lines(self, rows: list[dict[str, Any]]) -> None:
        text = "".join(
            json.dumps({**r, "at": r["at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}, sort_keys=True) + "\n"
            for r in rows
        )
        if self.path == "-":
            sys.stderr.write(text)
            sys.stderr.flush()
            return
        try:  # O_APPEND: lines from several workers do not interleave within a line
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as e:
            log.warning("audit log %s is not writable (%s)", self.path, e.strerror)

    def _persist(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._write_lines(rows)
        try:
            self._get_store().audit_add(rows)
        except Exception as e:  # noqa: BLE001 - the JSON line is written; the request must not fail for the table
            (log.info if self._exiting else log.warning)("audit rows not stored in the database (%s)", e)

    def _drain(self, now: datetime) -> list[dict[str, Any]]:
        with self._lock:
            counts, self._counts = self._counts, {}
            self._last_flush = now
        return [
            {"at": now, "action": "analyze", "user": u, "address": a, "report_id": None, "count": n}
            for (u, a), n in counts.items()
        ]

    def analysed(self, user: str | None, address: str) -> None:
        now = self.clock()
        with self._lock:
            key = (user, address)
            self._counts[key] = self._counts.get(key, 0) + 1
            due = (now - self._last_flush).total_seconds() >= FLUSH_SECONDS
        if due:
            self._persist(self._drain(now))

    def record(self, action: str, user: str | None, address: str, report_id: str | None = None) -> None:
        assert action in ACTIONS
        now = self.clock()
        rows = self._drain(now) if self._counts else []
        rows.append({"at": now, "action": action, "user": user, "address": address, "report_id": report_id, "count": 1})
        self._persist(rows)

    def _flush_at_exit(self) -> None:
        self._exiting = True  # the database may already be gone (tests, shutdown): the JSON lines have the counts
        self.flush()

    def flush(self) -> None:
        if self._counts:
            self._persist(self._drain(self.clock()))


def trail() -> AuditTrail:
    value: AuditTrail = current_app.extensions["samldebug.audit"]
    return value


def _who() -> tuple[str | None, str]:
    if not has_request_context():
        return None, "-"
    user: str | None = g.get("samldebug_user")  # set by auth.require_signin (None when sign-in is off)
    return user, client_address()


def record(action: str, report_id: str | None = None) -> None:
    """One event for this request's user and address."""
    user, address = _who()
    trail().record(action, user, address, report_id)


def analysed() -> None:
    user, address = _who()
    trail().analysed(user, address)


def init_app(app: Flask, get_store: Callable[[], Any], clock: Callable[[], datetime]) -> None:
    config = app.config["SAMLDEBUG"]
    path = config.audit_log or str(Path(app.instance_path) / "audit.jsonl")

    def store_in_app() -> Any:
        with app.app_context():
            return get_store()

    app.extensions["samldebug.get_store"] = get_store
    app.extensions["samldebug.audit"] = AuditTrail(path, store_in_app, clock)
