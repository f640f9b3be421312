"""Permalinks through the web app: share, open, wrong key, expiry, delete, API, redaction, logs, DB down."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from factory import SP_ENTITY_ID, ResponseSpec, b64, metadata, signed_response
from sqlalchemy import create_engine, text
from webutil import CLOCK, make_app, post_form

from samldebug import redact
from samldebug.web.logs import RedactingFilter, redact_path

NAME = "alice@contoso.example"


@pytest.fixture
def app(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    now = {"t": CLOCK}
    application = make_app(tmp_path, database_url=database_url, CLOCK=lambda: now["t"])
    application.config["_now"] = now
    yield application
    store = application.extensions.get("samldebug.store")
    if store is not None:
        store.dispose()


def share_form(client, **extra):  # type: ignore[no-untyped-def]
    data = {
        "input": b64(signed_response(spec=ResponseSpec(audience="urn:wrong"))),
        "metadata": metadata().decode(),
        "sp_entity_id": SP_ENTITY_ID,
        "redact": "none",
        "expires_in": "1d",
        "title": "Ticket 4711",
    }
    data.update(extra)
    r = post_form(client, "/share", data)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    link = re.search(r'id="permalink" readonly value="([^"]+)"', html)
    delete = re.search(r'id="delete-link" readonly value="([^"]+/delete/[^"]+)"', html)
    assert link and delete, html[:3000]
    return link.group(1), delete.group(1)


def test_share_box_offers_the_ticket_text_and_explains_the_delete_link(app) -> None:  # type: ignore[no-untyped-def]
    """The .txt summary is offered where the link is created, and the ticket text is exactly that summary."""
    import html as html_lib

    client = app.test_client()
    data = {"input": b64(signed_response(spec=ResponseSpec(audience="urn:wrong"))), "title": "Ticket 4711"}
    page = post_form(client, "/share", data).get_data(as_text=True)
    link = re.search(r'id="permalink" readonly value="([^"]+)"', page)
    text = re.search(r'<textarea id="ticket-text" readonly rows="6">(.*?)</textarea>', page, re.S)
    txt_url = re.search(r'href="([^"]+\.txt)" download', page)
    assert link and text and txt_url
    served = client.get(txt_url.group(1).replace("http://localhost", "")).get_data(as_text=True)
    assert html_lib.unescape(text.group(1)) == served
    assert "Ticket 4711" in served and link.group(1) in served and "audience" in served.lower()
    assert "shown only now" in page and "anyone holding it can delete" in page


def test_share_and_open(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    link, _ = share_form(client)
    path = link.replace("http://localhost", "")
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ticket 4711" in html and "audience_mismatch" in html and NAME in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    doc = client.get(path + ".json").get_json()
    assert doc["schema"] == "samldebug.report/2" and doc["shared"]["redaction"] == "none"
    assert any(f["code"] == "audience_mismatch" for f in doc["findings"])
    assert doc["messages"][0]["signature"]["status"] == "valid"  # the verdict survives, the value does not
    assert "SignatureValue>" in doc["messages"][0]["xml"] and redact.REMOVED in doc["messages"][0]["xml"]
    txt = client.get(path + ".txt").get_data(as_text=True)
    assert "Ticket 4711" in txt and "audience_mismatch" in txt and "Full report:" in txt


def test_wrong_or_missing_key_reveals_only_metadata(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    link, _ = share_form(client)
    path = link.replace("http://localhost", "")
    report_id = path.split("/")[2]
    for bad in (f"/r/{report_id}/{'A' * 43}", f"/r/{report_id}"):
        r = client.get(bad)
        html = r.get_data(as_text=True)
        assert r.status_code == 403 and "exists" in html and "redaction: none" in html
        assert NAME not in html and "audience_mismatch" not in html
    r = client.get(f"/r/{report_id}/{'A' * 43}.json")
    assert r.status_code == 403 and set(r.get_json()["exists"]) == {"created", "expires", "redaction"}


def test_expired_and_deleted_are_404(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    link, delete = share_form(client, expires_in="1h")
    path = link.replace("http://localhost", "")
    app.config["_now"]["t"] = CLOCK + timedelta(hours=2)
    r = client.get(path)
    assert r.status_code == 404 and "expired" in r.get_data(as_text=True)
    app.config["_now"]["t"] = CLOCK
    link, delete = share_form(client)
    path, delete_path = link.replace("http://localhost", ""), delete.replace("http://localhost", "")
    assert client.get(delete_path).status_code == 200  # a confirmation page; GET never deletes
    assert client.get(path).status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(delete_path).get_data(as_text=True)).group(1)
    assert client.post(delete_path, data={"csrf_token": token}).status_code == 200
    assert client.get(path).status_code == 404


def test_expiry_capped_by_operator(tmp_path: Path, database_url: str) -> None:
    app = make_app(tmp_path, database_url=database_url, share_max_expiry=3600)
    r = app.test_client().post(
        "/api/v1/analyze", json={"input": b64(signed_response()), "share": "1", "expires_in": "30d"}
    )
    assert r.get_json()["expires"] == (CLOCK + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    app.extensions["samldebug.store"].dispose()


def test_api_share(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    r = client.post("/api/v1/analyze", json={"input": b64(signed_response()), "share": 1, "redact": "identity"})
    doc = r.get_json()
    assert (
        r.status_code == 200 and doc["permalink"].startswith("http://localhost/r/") and "/delete/" in doc["delete_url"]
    )
    shared = client.get(doc["permalink"].replace("http://localhost", "") + ".json").get_json()
    assert NAME not in str(shared) and "[redacted-" in str(shared)
    r = client.post("/api/v1/analyze", json={"input": b64(signed_response()), "share": 1, "redact": "bogus"})
    assert r.status_code == 400


def test_database_row_has_no_plaintext(app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    share_form(client, redact="none")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM reports"))]
    engine.dispose()
    blob = b"".join(
        bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in rows for v in r.values()
    )
    signature_value = re.search(rb"<ds:SignatureValue>([^<]{40,})", signed_response()).group(1)
    for needle in (NAME.encode(), b"Alice", signature_value[:40]):
        assert needle not in blob


def test_database_down_analysis_still_works(tmp_path: Path) -> None:
    app = make_app(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    client = app.test_client()
    r = post_form(client, "/share", {"input": b64(signed_response())})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Sharing is unavailable right now" in html and 'id="verdict"' in html
    r = client.get("/r/AAAAAAAAAAAAAAAAAAAAAA/BBBB")
    assert r.status_code == 503 and "analysing still work" in r.get_data(as_text=True)


def test_redaction_levels() -> None:
    from helpers import run

    from samldebug.report import to_json

    doc = to_json(run(signed_response()))
    for level, hidden in (("identity", [NAME, "Alice"]), ("all", [NAME, "Alice", "contoso.example"])):
        out = str(redact.redact(doc, level))
        for value in hidden:
            assert value not in out, (level, value)
    kept = str(redact.redact(doc, "none"))
    assert NAME in kept
    assert re.search(r"SignatureValue>[A-Za-z0-9+/]{20}", kept) is None


def test_keys_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    path = "/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8.json"
    assert "ZmFrZS1rZXkt" not in redact_path(f"GET {path} HTTP/1.1")
    assert "/r/AbCdEfGhIjKlMnOpQrStUv/[redacted]" in redact_path(path)
    assert "tok3n" not in redact_path("/r/AbCdEfGhIjKlMnOpQrStUv/delete/tok3ntok3ntok3ntok3ntok3n")
    logger = logging.getLogger("werkzeug.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="werkzeug.test"):
        logger.info('%s - - "%s" %s', "127.0.0.1", f"GET {path} HTTP/1.1", "200")
    assert "ZmFrZS1rZXkt" not in caplog.text and "[redacted]" in caplog.text


def _get_environ(path: str) -> dict[str, str]:
    """The WSGI environ gunicorn hands its access logger for a GET of `path`."""
    return {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }


def test_gunicorn_logger_redacts() -> None:
    from types import SimpleNamespace

    from gunicorn.config import Config

    from samldebug.web.logs import RedactingLogger

    logger = RedactingLogger(Config())
    path = "/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8"
    environ = _get_environ(path)
    req = SimpleNamespace(headers=[], method="GET", uri=path, path=path, query="", version=(1, 1))
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10, response_length=10, status_code=200)
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=3))
    assert all("ZmFrZS1rZXkt" not in str(v) for v in atoms.values())


def test_gunicorn_access_line_in_a_custom_format_is_written_and_redacted(tmp_path: Path) -> None:
    """A format naming a header the request did not send gets gunicorn's '-' (the handler's RedactingFilter once
    rebuilt the atoms as a plain dict: the line failed with a KeyError and was lost); a permalink in the Referer
    is cut out."""
    from types import SimpleNamespace

    from gunicorn.config import Config

    from samldebug.web.logs import RedactingLogger

    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s "%({referer}i)s" "%({x-not-sent}i)s" %(M)s')
    logger = RedactingLogger(cfg)
    path = "/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8"
    environ = _get_environ(path)
    req = SimpleNamespace(headers=[("REFERER", f"https://samldebug.example{path}")], method="GET", uri=path)
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10, response_length=10, status_code=200)
    logger.access(resp, req, environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert line.startswith('127.0.0.1 "GET /r/AbCdEfGhIjKlMnOpQrStUv/[redacted] HTTP/1.1" 200 '), line
    assert '"https://samldebug.example/r/AbCdEfGhIjKlMnOpQrStUv/[redacted]" "-" 3' in line
    assert "ZmFrZS1rZXkt" not in line


def test_filter_redacts_mapping_arguments_and_keeps_their_type() -> None:
    from gunicorn.glogging import SafeAtoms

    key_path = "/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8"
    args = SafeAtoms({"r": f"GET {key_path} HTTP/1.1", "s": 200})
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%(r)s %(s)s %(missing)s", (), None)
    record.args = args
    RedactingFilter().filter(record)
    assert isinstance(record.args, SafeAtoms) and record.args is not args  # the caller's mapping is left alone
    assert record.getMessage() == "GET /r/AbCdEfGhIjKlMnOpQrStUv/[redacted] HTTP/1.1 200 -"
    assert "ZmFrZS1rZXkt" in args["r"]


def test_decrypted_assertion_signature_values_are_stripped() -> None:
    doc = {
        "messages": [
            {
                "xml": "<a/>",
                "extra": {
                    "decrypted_xml": '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Signature><ds:SignatureValue>c2VjcmV0c2lnbmF0dXJl</ds:SignatureValue></ds:Signature></saml:Assertion>'
                },
            }
        ]
    }
    out = str(redact.redact(doc, "none"))
    assert "c2VjcmV0c2lnbmF0dXJl" not in out and redact.REMOVED in out


def test_metadata_cached_in_the_database_bridges_an_outage(tmp_path: Path, database_url: str) -> None:
    import http.server
    import threading

    body = metadata()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/federationmetadata.xml"
    now = {"t": CLOCK}
    app = make_app(
        tmp_path,
        database_url=database_url,
        metadata_allowed_hosts="127.0.0.1",
        metadata_allow_http=True,
        metadata_allow_private=True,
        metadata_cache_ttl=60,
        metadata_timeout=2.0,
        CLOCK=lambda: now["t"],
    )
    client = app.test_client()
    form = {"input": b64(signed_response()), "metadata_url": url, "now": "2026-03-01T12:01:00Z"}
    first = client.post("/api/v1/analyze", data=form).get_json()
    assert first["messages"][0]["signature"]["status"] == "valid"
    server.shutdown()
    server.server_close()
    now["t"] = CLOCK + timedelta(hours=2)  # the cached copy is stale and the host is down
    second = client.post("/api/v1/analyze", data=form).get_json()
    assert second["messages"][0]["signature"]["status"] == "valid"
    codes = {f["code"] for f in second["findings"]}
    assert "metadata_cached" in codes and codes & {"fetch_connect_failed", "fetch_timeout"}
    cached = next(f for f in second["findings"] if f["code"] == "metadata_cached")
    assert "2 hours" in cached["title"]
    app.extensions["samldebug.store"].dispose()


def test_redaction_reaches_xml_escaped_values() -> None:
    from helpers import run

    from samldebug.report import to_json

    spec = ResponseSpec(
        name_id="o'brien&sons@contoso.example",
        attributes={"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": ["R&D <Secret> Team"]},
    )
    doc = to_json(run(signed_response(spec=spec)))
    out = json.dumps(redact.redact(doc, "identity"))
    for value in ("R&D", "R&amp;D", "Secret", "o'brien", "brien&amp;sons", "brien&sons"):
        assert value not in out, value


def test_the_api_answers_the_same_report_whether_or_not_it_shares(tmp_path: Path) -> None:
    """Without share=1 the API encodes the report straight from its dataclasses; with it, from to_json (the links
    are added to that document): both carry the same report, as JSON, never cached."""
    client = make_app(tmp_path).test_client()
    body = {"input": b64(signed_response()), "metadata": metadata().decode(), "sp_entity_id": SP_ENTITY_ID}
    plain = client.post("/api/v1/analyze", json=body)
    shared = client.post("/api/v1/analyze", json={**body, "share": "1"})
    assert plain.status_code == shared.status_code == 200
    assert plain.mimetype == shared.mimetype == "application/json"
    assert plain.headers["Cache-Control"] == "no-store" and plain.headers["X-RateLimit-Limit"]
    doc = shared.get_json()
    assert {doc.pop("permalink"), doc.pop("delete_url"), doc.pop("expires")} and plain.get_json() == doc
