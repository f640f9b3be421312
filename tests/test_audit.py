"""The audit trail: schema version 3, rows on SQLite and PostgreSQL, ownership for “My shared reports”, the JSON
lines, and the web events (analysed as a count, shared, opened, deleted, revoked) that never carry a secret."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from samldebug.store import Store

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(action: str, user: str | None, report_id: str | None = None, at: datetime = T, count: int = 1) -> dict:
    return {"at": at, "action": action, "user": user, "address": "10.0.0.7", "report_id": report_id, "count": count}


def test_migration_from_version_2_adds_the_audit_table(database_url: str) -> None:
    from samldebug import store as store_module

    engine = create_engine(database_url)
    with engine.begin() as conn:  # a database as version 2 left it
        conn.execute(text("DROP TABLE IF EXISTS audit"))
        for table in (store_module.reports, store_module.schema_version, store_module.metadata_cache):
            table.create(conn, checkfirst=True)
        conn.execute(text("DELETE FROM schema_version"))
        conn.execute(text("INSERT INTO schema_version (version) VALUES (2)"))
    store = Store(database_url)
    store.migrate()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalar() == store_module.SCHEMA_VERSION >= 3
    assert "audit" in inspect(engine).get_table_names()
    store.audit_add([_row("share", "alice@contoso.example", "r1")])
    assert [e.action for e in store.audit_since(T - timedelta(days=1))] == ["share"]
    engine.dispose()
    store.dispose()


def test_audit_rows_ownership_and_revoke(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    mine = store.create(b"{}", now=T, expires_at=T + timedelta(days=1), redaction="identity")
    gone = store.create(b"{}", now=T, expires_at=T + timedelta(minutes=5), redaction="all")
    theirs = store.create(b"{}", now=T, expires_at=T + timedelta(days=1), redaction="identity")
    store.audit_add(
        [
            _row("analyze", "alice", count=7),
            _row("share", "alice", mine.id),
            _row("share", "alice", gone.id),
            _row("share", "bob", theirs.id),
            _row("open", None, theirs.id, at=T - timedelta(days=9)),
        ]
    )
    later = T + timedelta(hours=1)
    assert [m.id for m in store.shared_by("alice", later)] == [mine.id]  # the expired one is not listed
    assert [m.id for m in store.shared_by("bob", later)] == [theirs.id]
    assert not store.revoke(theirs.id, "alice")  # not hers
    assert store.open(theirs.id, theirs.key, later) is not None
    assert store.revoke(mine.id, "alice")
    assert store.open(mine.id, mine.key, later) is None and store.shared_by("alice", later) == []
    entries = store.audit_since(T - timedelta(days=7))
    assert [(e.action, e.user, e.count) for e in entries] == [
        ("analyze", "alice", 7),
        ("share", "alice", 1),
        ("share", "alice", 1),
        ("share", "bob", 1),
    ]  # the 9-day-old open is before --since
    store.dispose()


def audit_lines(instance: Path) -> list[dict]:
    path = instance / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def secrets_absent(text_: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in text_, s


def test_web_events_are_audited_without_secrets(tmp_path: Path) -> None:
    from factory import b64, signed_response
    from webutil import make_app, post_form

    app = make_app(tmp_path)
    client = app.test_client()
    response = b64(signed_response())
    for _ in range(3):
        assert post_form(client, "/analyze", {"input": response}).status_code == 200
    shared = client.post("/api/v1/analyze", json={"input": response, "share": "1", "redact": "none"}).get_json()
    permalink, delete_url = shared["permalink"], shared["delete_url"]
    report_id, key = re.search(r"/r/([^/]+)/([^/?#]+)$", permalink).groups()  # type: ignore[union-attr]
    token = delete_url.rsplit("/", 1)[1]
    assert client.get(permalink).status_code == 200
    assert client.delete(delete_url).status_code == 200
    app.extensions["samldebug.audit"].flush()
    lines = audit_lines(tmp_path / "instance")
    actions = [(line["action"], line["report_id"]) for line in lines]
    assert ("share", report_id) in actions and ("open", report_id) in actions and ("delete", report_id) in actions
    counted = sum(line["count"] for line in lines if line["action"] == "analyze")
    assert counted == 4  # three form analyses and the API one: a count, no per-analysis content
    assert all(set(line) == {"at", "action", "user", "address", "report_id", "count"} for line in lines)
    everything = (tmp_path / "instance" / "audit.jsonl").read_text()
    secrets_absent(everything, key, token, "PHNhbWxw", "alice", "SignatureValue")
    store = Store(app.config["SAMLDEBUG"].database_url)
    rows = store.audit_since(datetime(2000, 1, 1, tzinfo=UTC))
    assert sorted((e.action, e.report_id) for e in rows if e.action != "analyze") == sorted(
        (a, r) for a, r in actions if a != "analyze"
    )
    store.dispose()


def test_audit_command_prints_the_trail_since(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samldebug.cli import main

    url = f"sqlite:///{tmp_path / 'samldebug.db'}"
    store = Store(url)
    store.migrate()
    now = datetime.now(UTC)
    store.audit_add(
        [
            _row("analyze", "alice", at=now - timedelta(hours=2), count=5),
            _row("share", "alice", "rid-recent", at=now - timedelta(days=1)),
            _row("delete", None, "rid-recent", at=now - timedelta(hours=1)),
            _row("share", "bob", "rid-old", at=now - timedelta(days=10)),
        ]
    )
    store.dispose()
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "--since", "7d", "--database-url", url])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 3 and "rid-old" not in result.stdout
    assert "share" in lines[0] and "rid-recent" in lines[0]  # oldest first
    assert "analyze" in lines[1] and "×5" in lines[1] and "alice" in lines[1]
    assert "delete" in lines[2] and "10.0.0.7" in lines[2]
    as_json = runner.invoke(
        main, ["audit", "--since", "30d", "--format", "json", "--user", "bob", "--database-url", url]
    )
    (only,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert only["report_id"] == "rid-old" and only["user"] == "bob"
    bad = runner.invoke(main, ["audit", "--since", "soon", "--database-url", url])
    assert bad.exit_code == 2 and "7d" in bad.output


def test_scripts_delete_with_the_token_and_no_browser_session(tmp_path: Path) -> None:
    from factory import b64, signed_response
    from webutil import make_app

    client = make_app(tmp_path).test_client()

    def share() -> tuple[str, str, str]:
        doc = client.post("/api/v1/analyze", json={"input": b64(signed_response()), "share": "1"}).get_json()
        report_id = doc["permalink"].split("/r/")[1].split("/")[0]
        return report_id, doc["permalink"], doc["delete_url"]

    report_id, permalink, delete_url = share()
    token = delete_url.rsplit("/", 1)[1]
    assert client.delete(f"/api/v1/reports/{report_id}").status_code == 401  # no token
    wrong = client.delete(f"/api/v1/reports/{report_id}", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 404 and wrong.get_json()["error"]["status"] == 404
    assert client.get(permalink).status_code == 200
    ok = client.delete(f"/api/v1/reports/{report_id}", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json() == {"deleted": report_id}
    assert client.get(permalink).status_code == 404
    again = client.delete(f"/api/v1/reports/{report_id}", headers={"X-Delete-Token": token})
    assert again.status_code == 404
    # The delete_url itself: DELETE from a script (JSON), the browser's confirmation page and its form stay.
    report_id, permalink, delete_url = share()
    page = client.get(delete_url)
    assert page.status_code == 200 and "Delete this shared report?" in page.get_data(as_text=True)
    assert client.post(delete_url).status_code == 400  # the form still needs its CSRF token
    by_link = client.delete(delete_url)
    assert by_link.status_code == 200 and by_link.get_json() == {"deleted": report_id}
    assert client.delete(delete_url).status_code == 404
