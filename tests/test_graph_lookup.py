"""The optional sign-in log lookup: MSAL gets a token with a certificate credential and samldebug asks Microsoft Graph
for the event, both through the SSRF-safe transport, against recorded answers served on loopback over TLS under the
real host names (a test resolver maps them to 127.0.0.1). The token request and the Graph query are asserted."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from factory import make_keypair
from metaserver import make_ca
from signinfactory import CORR, REQ

from samldebug import graph
from samldebug.config import AppConfig
from samldebug.model import AnalysisStop
from samldebug.pipeline import analyze

TENANT = "7f1c0c5e-3b1d-4d8e-9a51-2c6f1e0b9a10"
CLIENT_ID = "2d6f0a9b-1c3e-4f5a-8b7c-9d0e1f2a3b4c"
DATA = Path(__file__).parent / "data" / "signin"
HOSTS = ("login.microsoftonline.com", "graph.microsoft.com")


@dataclass
class Seen:
    method: str
    host: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorded:
    """Recorded answers by (Host without port, path with query); every request is kept."""

    answers: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Recorded, int, str]]:
    ca = make_ca(tmp_path, HOSTS)
    rec = Recorded()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = (self.headers.get("Host") or "").split(":")[0]
            rec.seen.append(Seen(self.command, host, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, payload = rec.answers.get((host, self.path), (404, b'{"error": "not recorded"}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer  # noqa: N815

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca.cert_file, ca.key_file)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, httpd.server_address[1], ca.ca_file
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def loopback(host: str, port: int, *_: Any) -> list[tuple[Any, ...]]:
    if host not in HOSTS:
        raise OSError(f"{host}: not resolvable in this test")
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def app_credential() -> tuple[bytes, bytes, rsa.RSAPrivateKey]:
    kp = make_keypair("samldebug sign-in lookup", not_before=datetime.now(UTC) - timedelta(days=1), days=31)
    return kp.key_pem, kp.cert_pem, kp.key


def _b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def record_login(rec: Recorded, port: int) -> str:
    base = f"https://login.microsoftonline.com:{port}/{TENANT}"
    token_endpoint = f"{base}/oauth2/v2.0/token"
    discovery = {
        "token_endpoint": token_endpoint,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "jwks_uri": f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys",
        "tenant_region_scope": "EU",
    }
    rec.answers[("login.microsoftonline.com", f"/{TENANT}/v2.0/.well-known/openid-configuration")] = (
        200,
        json.dumps(discovery).encode(),
    )
    token = {
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6InRlc3QifQ.e30.c2ln",
    }
    rec.answers[("login.microsoftonline.com", f"/{TENANT}/oauth2/v2.0/token")] = (200, json.dumps(token).encode())
    return token_endpoint


def settings(port: int, ca_file: str, key_pem: bytes, cert_pem: bytes) -> graph.GraphSettings:
    return graph.GraphSettings(
        tenant=TENANT,
        client_id=CLIENT_ID,
        private_key_pem=key_pem,
        certificate_pem=cert_pem,
        ca_file=ca_file,
        allow_private=True,
        port=port,
        timeout=10,
    )


CORR_QUERY = f"/beta/auditLogs/signIns?%24filter=correlationId%20eq%20%27{CORR}%27&%24top=50"


def test_lookup_by_correlation_id_sends_the_exact_token_request_and_query(server: tuple[Recorded, int, str]) -> None:
    rec, port, ca_file = server
    graph._APPS.clear()
    token_endpoint = record_login(rec, port)
    event = json.loads((DATA / "graph_event_ca_failure.json").read_bytes())
    page = {"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "value": [event]}
    rec.answers[("graph.microsoft.com", CORR_QUERY)] = (200, json.dumps(page).encode())
    key_pem, cert_pem, key = app_credential()
    body = graph.lookup(settings(port, ca_file, key_pem, cert_pem), "correlation", CORR.upper(), resolver=loopback)

    # The token request: client credentials with a certificate (a JWT signed by the app's key), Graph's scope.
    [post] = [s for s in rec.seen if s.method == "POST"]
    assert (post.host, post.path) == ("login.microsoftonline.com", f"/{TENANT}/oauth2/v2.0/token")
    form = dict(parse_qsl(post.body.decode()))
    assertion = form.pop("client_assertion")
    form.pop("client_info", None)  # MSAL asks for client_info on every request; irrelevant here
    assert form == {
        "client_id": CLIENT_ID,
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    head, claims, signature = assertion.split(".")
    header = json.loads(_b64url(head))
    payload = json.loads(_b64url(claims))
    cert = x509.load_pem_x509_certificate(cert_pem)
    sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()  # noqa: S324 - x5t
    assert header["alg"] == "RS256" and _b64url(header["x5t"]) == sha1
    assert (payload["iss"], payload["sub"], payload["aud"]) == (CLIENT_ID, CLIENT_ID, token_endpoint)
    key.public_key().verify(_b64url(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())

    # The Graph query: the correlation ID filter, exactly, with the token.
    [get] = [s for s in rec.seen if s.host == "graph.microsoft.com"]
    assert get.path == CORR_QUERY
    assert get.headers["authorization"] == "Bearer eyJ0eXAiOiJKV1QiLCJub25jZSI6InRlc3QifQ.e30.c2ln"
    assert {s.host for s in rec.seen} == set(HOSTS)

    report = analyze(body, now=datetime(2026, 3, 2, 10, tzinfo=UTC))
    assert report.diagnosis is not None and report.diagnosis.code == "signin_ca_policy_failed"
    assert "Require compliant device" in report.diagnosis.summary

    # A second lookup reuses the cached token: one more Graph GET, no second token request.
    graph.lookup(settings(port, ca_file, key_pem, cert_pem), "correlation", CORR, resolver=loopback)
    assert sum(1 for s in rec.seen if s.method == "POST") == 1


def test_lookup_by_request_id_and_not_found(server: tuple[Recorded, int, str]) -> None:
    rec, port, ca_file = server
    graph._APPS.clear()
    record_login(rec, port)
    key_pem, cert_pem, _ = app_credential()
    cfg = settings(port, ca_file, key_pem, cert_pem)
    rec.answers[("graph.microsoft.com", f"/beta/auditLogs/signIns/{REQ}")] = (
        200,
        (DATA / "graph_event_guest.json").read_bytes(),
    )
    assert b"kim@fabrikam.com" in graph.lookup(cfg, "request", REQ, resolver=loopback)
    with pytest.raises(AnalysisStop) as stop:
        graph.lookup(cfg, "request", "00000000-0000-4000-8000-000000000000", resolver=loopback)
    assert stop.value.finding.code == "signin_lookup_not_found"
    rec.answers[("graph.microsoft.com", CORR_QUERY)] = (200, b'{"value": []}')
    with pytest.raises(AnalysisStop) as stop:
        graph.lookup(cfg, "correlation", CORR, resolver=loopback)
    assert stop.value.finding.code == "signin_lookup_not_found"


def test_refused_token_is_a_finding(server: tuple[Recorded, int, str]) -> None:
    rec, port, ca_file = server
    graph._APPS.clear()
    record_login(rec, port)
    rec.answers[("login.microsoftonline.com", f"/{TENANT}/oauth2/v2.0/token")] = (
        401,
        json.dumps(
            {
                "error": "invalid_client",
                "error_description": "AADSTS700027: Client assertion failed signature validation.",
            }
        ).encode(),
    )
    key_pem, cert_pem, _ = app_credential()
    with pytest.raises(AnalysisStop) as stop:
        graph.lookup(settings(port, ca_file, key_pem, cert_pem), "correlation", CORR, resolver=loopback)
    assert stop.value.finding.code == "signin_lookup_failed" and "AADSTS700027" in (stop.value.finding.actual or "")
    assert not any(s.host == "graph.microsoft.com" for s in rec.seen)


def test_only_the_configured_clouds_hosts_are_reachable(server: tuple[Recorded, int, str]) -> None:
    rec, port, ca_file = server
    key_pem, cert_pem, _ = app_credential()
    cfg = settings(port, ca_file, key_pem, cert_pem)
    assert cfg.policy().allowed_hosts == HOSTS
    from samldebug.fetch import http_request

    with pytest.raises(AnalysisStop) as stop:
        http_request("GET", f"https://evil.example:{port}/", cfg.policy(), resolver=loopback)
    assert stop.value.finding.code == "fetch_host_not_allowed"
    no_private = replace(cfg, allow_private=False)
    with pytest.raises(AnalysisStop) as stop:
        http_request("GET", f"https://graph.microsoft.com:{port}/", no_private.policy(), resolver=loopback)
    assert stop.value.finding.code == "fetch_address_refused"
    assert rec.seen == []


def test_ids_are_validated_before_anything_is_sent() -> None:
    for bad in ("' or 1 eq 1 or id eq '", "6d0b7a1e", ""):
        with pytest.raises(AnalysisStop) as stop:
            graph.query("correlation", bad)
        assert stop.value.finding.code == "signin_lookup_failed"
    assert graph.query("request", REQ.upper()) == f"/beta/auditLogs/signIns/{REQ}"


def test_nothing_is_configured_by_default() -> None:
    assert graph.from_config(AppConfig()) is None


def test_report_offers_the_lookup_and_shows_the_event(server: tuple[Recorded, int, str], tmp_path: Path) -> None:
    from test_signins_pipeline import ERROR_PAGE_TEXT
    from webutil import make_app, post_form

    rec, port, ca_file = server
    graph._APPS.clear()
    record_login(rec, port)
    page = {"value": [json.loads((DATA / "graph_event_ca_failure.json").read_bytes())]}
    rec.answers[("graph.microsoft.com", CORR_QUERY)] = (200, json.dumps(page).encode())
    key_pem, cert_pem, _ = app_credential()
    app = make_app(tmp_path, GRAPH_SETTINGS=settings(port, ca_file, key_pem, cert_pem), GRAPH_RESOLVER=loopback)
    client = app.test_client()
    html = post_form(client, "/analyze", {"input": ERROR_PAGE_TEXT}).get_data(as_text=True)
    assert "Look up in sign-in logs" in html and f'name="id" value="{CORR}"' in html
    answer = post_form(client, "/signins/lookup", {"kind": "correlation", "id": CORR})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'id="signins"' in text and "Require compliant device" in text
    assert [s.path for s in rec.seen if s.host == "graph.microsoft.com"] == [CORR_QUERY]


def test_without_configuration_there_is_no_lookup(tmp_path: Path) -> None:
    from test_signins_pipeline import ERROR_PAGE_TEXT
    from webutil import make_app, post_form

    client = make_app(tmp_path).test_client()
    html = post_form(client, "/analyze", {"input": ERROR_PAGE_TEXT}).get_data(as_text=True)
    assert "Look up in sign-in logs" not in html
    answer = post_form(client, "/signins/lookup", {"kind": "correlation", "id": CORR})
    assert answer.status_code == 400 and "not configured" in answer.get_data(as_text=True)


def test_cli_looks_the_error_pages_correlation_id_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's wiring (the lookup itself is tested against the loopback server above)."""
    from click.testing import CliRunner
    from test_signins_pipeline import ERROR_PAGE_TEXT

    from samldebug.cli import main

    asked: list[tuple[str, str]] = []

    def fake_lookup(settings: graph.GraphSettings, kind: str, value: str, **_: Any) -> bytes:
        asked.append((kind, value))
        return (DATA / "graph_event_ca_failure.json").read_bytes()

    monkeypatch.setattr(graph, "from_config", lambda config: graph.GraphSettings(TENANT, CLIENT_ID))
    monkeypatch.setattr(graph, "lookup", fake_lookup)
    monkeypatch.setenv("SAMLDEBUG_INSTANCE_PATH", str(tmp_path))
    page = tmp_path / "error.txt"
    page.write_text(ERROR_PAGE_TEXT)
    r = CliRunner().invoke(main, ["analyze", str(page), "--lookup-signins", "--now", "2026-03-02T10:00:00Z"])
    assert asked == [("correlation", CORR)]
    assert r.output.startswith("Entra refused at 09:29:31 because policy 'Require compliant device'"), r.output
    monkeypatch.setattr(graph, "from_config", lambda config: None)
    r = CliRunner().invoke(main, ["analyze", str(page), "--lookup-signins"])
    assert r.exit_code == 2 and "SAMLDEBUG_GRAPH_TENANT" in r.output
