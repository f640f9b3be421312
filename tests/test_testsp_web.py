"""The test SP pages with Flask's test client: what to paste into Entra, the app's metadata (recorded Entra
metadata, tenant + app ID), predicted AADSTS answers, the ACS with Entra-shaped responses (signed, error status,
unknown InResponseTo), who may see a result, CSRF, the access hook, and where the keys live."""

from __future__ import annotations

import base64
import io
import re
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from factory import ResponseSpec, metadata, signed_response
from flask import abort
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from webutil import csrf, make_app, post_form

from samldebug import fetch

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
APP_ID = "1b0e6ab4-5c6d-4bb0-8a0e-6a6b8c1d2e3f"
ENTITY = "http://localhost/sp/acme"
ACS = ENTITY + "/acs"


def new_app(tmp_path: Path, **kw: Any):  # type: ignore[no-untyped-def]
    # login.microsoftonline.com is not allowed here: a fetch is refused by policy before any socket is opened.
    kw.setdefault("metadata_allowed_hosts", "metadata.invalid")
    kw.setdefault("RATELIMIT_ENABLED", False)
    return make_app(tmp_path, **kw)


def with_sp(client: FlaskClient, md: bytes | None = None) -> None:
    assert post_form(client, "/sp", {"name": "acme"}).status_code == 303
    md = metadata() if md is None else md
    r = post_form(
        client, "/sp/acme/idp", {"metadata_file": (io.BytesIO(md), "app.xml")}, content_type="multipart/form-data"
    )
    assert r.status_code == 303


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    c = new_app(tmp_path).test_client()
    with_sp(c)
    return c


def codes_in(html: str) -> set[str]:
    return set(re.findall(r'<code class="code">([a-z0-9_]+)</code>', html))


def sent_request_id(location: str) -> str:
    xml = zlib.decompress(base64.b64decode(parse_qs(urlsplit(location).query)["SAMLRequest"][0]), -15)
    m = re.search(rb'ID="([^"]+)"', xml)
    assert m
    return m.group(1).decode()


def post_response(client: FlaskClient, xml: bytes, relay: str | None = None):  # type: ignore[no-untyped-def]
    data = {"SAMLResponse": base64.b64encode(xml).decode()}
    if relay:
        data["RelayState"] = relay
    return client.post("/sp/acme/acs", data=data)  # no CSRF token: the IdP posts cross-site


def test_page_shows_what_to_paste_into_entra(client: FlaskClient) -> None:
    html = client.get("/sp/acme").get_data(as_text=True)
    for field, value in (
        ("Identifier (Entity ID)", ENTITY),
        ("Reply URL (Assertion Consumer Service URL)", ACS),
        ("Sign on URL", ENTITY + "/login"),
        ("Logout Url", ENTITY + "/slo"),
    ):
        assert f'value="{value}" aria-label="{field}"' in html
    assert "/sp/acme/metadata?download=1" in html and "/sp/acme/cert.pem" in html
    assert f"https://login.microsoftonline.com/{TENANT}/saml2" in html  # from the app's metadata
    listing = client.get("/sp").get_data(as_text=True)
    assert ENTITY in listing


def test_tenant_and_app_id_become_the_app_federation_metadata_url(tmp_path: Path) -> None:
    c = new_app(tmp_path).test_client()
    post_form(c, "/sp", {"name": "acme"})
    r = post_form(c, "/sp/acme/idp", {"tenant": TENANT, "app_id": APP_ID})
    assert r.status_code == 303
    html = c.get("/sp/acme").get_data(as_text=True)
    url = fetch.entra_metadata_url(TENANT, APP_ID)
    assert (
        url
        == f"https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml?appid={APP_ID}"
    )
    assert f'value="{url}"' in html
    assert (
        "idp-notes" in html and "does not fetch metadata from" in html
    )  # the fetcher's policy said no (no network here)
    r = post_form(c, "/sp/acme/idp", {"tenant": "not a tenant!"})
    assert r.status_code == 400 and "tenant" in r.get_data(as_text=True).lower()


def test_recorded_entra_metadata_and_the_common_endpoint(tmp_path: Path, corpus: Path) -> None:
    c = new_app(tmp_path).test_client()
    with_sp(c, (corpus / "entra/aad_common_federationmetadata.xml").read_bytes())
    html = c.get("/sp/acme").get_data(as_text=True)
    assert "https://login.microsoftonline.com/common/saml2" in html
    r = post_form(c, "/sp/acme/preview", {"binding": "redirect"})
    assert "request_destination_common" in codes_in(r.get_data(as_text=True))


@pytest.mark.parametrize(
    ("knobs", "code", "aadsts"),
    [
        ({"acs_url": "https://samldebug.example.com/sp/acme/acs"}, "acs_url_not_registered", "AADSTS50011"),
        ({"authn_contexts": "PasswordProtectedTransport", "comparison": "minimum"}, "requested_authn_context", ""),
        ({"name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"}, "name_id_policy_unsupported", ""),
        ({"entra_requires_signed": "1"}, "unsigned_request", ""),
        ({"is_passive": "1"}, "is_passive", ""),
    ],
)
def test_preview_predicts_entras_answer(client: FlaskClient, knobs: dict[str, str], code: str, aadsts: str) -> None:
    r = post_form(client, "/sp/acme/preview", {"binding": "redirect", **knobs}, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and code in codes_in(html)
    assert aadsts in html
    assert "request-preview" in html and "AuthnRequest" in html


def test_preview_of_a_clean_request_predicts_nothing_wrong(client: FlaskClient) -> None:
    r = post_form(client, "/sp/acme/preview", {"binding": "post", "sign": "1"}, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert "predictions-none" in html or not (codes_in(html) - {"authn_request", "request_signed", "sha256"})
    assert "signed rsa-sha256" in html


def test_sp_initiated_entra_error_response_is_explained(client: FlaskClient) -> None:
    r = post_form(client, "/sp/acme/start", {"binding": "redirect", "authn_contexts": "X509", "relay_state": "r1"})
    assert r.status_code == 303 and r.headers["Location"].startswith(
        f"https://login.microsoftonline.com/{TENANT}/saml2?"
    )
    request_id = sent_request_id(r.headers["Location"])
    message = (
        "AADSTS75011: Authentication method 'Password' by which the user authenticated with the service doesn't "
        "match requested authentication method 'X509'. Contact the application owner.\r\n"
        "Trace ID: 0b5c5f33-1c2d-4e5f-8a9b-0c1d2e3f4a5b\r\nCorrelation ID: 7e1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\r\n"
        "Timestamp: 2026-03-01 12:00:00Z"
    )
    spec = ResponseSpec(
        in_response_to=request_id,
        audience=ENTITY,
        recipient=ACS,
        destination=ACS,
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        sub_status="urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext",
        status_message=message,
        with_assertion=False,
    )
    r = post_response(client, signed_response("response", spec), relay="r1")
    assert r.status_code == 303
    page = client.get(r.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "SP-initiated" in html
    assert "AADSTS75011" in html and "0b5c5f33-1c2d-4e5f-8a9b-0c1d2e3f4a5b" in html
    assert request_id in html and "X509" in html  # the request this answers, with its knobs


def test_recorded_entra_assertion_verifies_with_recorded_entra_metadata(tmp_path: Path, corpus: Path) -> None:
    """A genuine Entra assertion (2017) posted to the ACS, checked against Entra's genuine federation metadata at the
    instant it was valid: signed by Entra's key from the metadata, IdP-initiated, and its audience (an spn:
    identifier) is not this test SP's Identifier."""
    from datetime import UTC, datetime

    c = new_app(tmp_path, CLOCK=lambda: datetime(2017, 3, 20, 16, 0, tzinfo=UTC)).test_client()
    with_sp(c, (corpus / "entra/aad_common_federationmetadata.xml").read_bytes())
    xml = (corpus / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_bytes()
    html = c.get(post_response(c, xml).headers["Location"]).get_data(as_text=True)
    assert "signature: valid" in html and "IdP-initiated" in html
    assert "audience_mismatch" in codes_in(html)
    pretty = (corpus / "entra/aad_saml2_assertion_pretty_printed_invalid.xml").read_bytes()
    html = c.get(post_response(c, pretty).headers["Location"]).get_data(as_text=True)
    assert "signature: invalid" in html and "response_replayed" in codes_in(html)  # same Assertion ID again


def test_signed_entra_response_for_a_request_never_sent(client: FlaskClient) -> None:
    spec = ResponseSpec(in_response_to="_never-sent", audience=ENTITY, recipient=ACS, destination=ACS)
    r = post_response(client, signed_response("assertion", spec))
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "did not send" in html and "in_response_to_mismatch" in codes_in(html)
    assert "signature: valid" in html


def test_idp_initiated_and_replay(client: FlaskClient) -> None:
    xml = signed_response(
        "assertion", ResponseSpec(in_response_to=None, audience=ENTITY, recipient=ACS, destination=ACS)
    )
    first = client.get(post_response(client, xml).headers["Location"]).get_data(as_text=True)
    assert "IdP-initiated" in first and "idp_initiated" in codes_in(first) and "response_replayed" not in first
    again = client.get(post_response(client, xml).headers["Location"]).get_data(as_text=True)
    assert "response_replayed" in codes_in(again) and "replayed" in again


def test_result_only_for_the_browser_that_started_or_posted(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    starter, other = app.test_client(), app.test_client()
    with_sp(starter)
    r = post_form(starter, "/sp/acme/start", {"binding": "redirect"})
    spec = ResponseSpec(
        in_response_to=sent_request_id(r.headers["Location"]), audience=ENTITY, recipient=ACS, destination=ACS
    )
    posted = post_response(other, signed_response("assertion", spec))  # another browser posts the answer
    assert posted.status_code == 303
    assert other.get(posted.headers["Location"]).status_code == 403  # it did not start the flow
    assert starter.get(posted.headers["Location"]).status_code == 404  # and the starter has no key for it
    idp_initiated = post_response(
        starter, signed_response("assertion", ResponseSpec(in_response_to=None, audience=ENTITY))
    )
    assert starter.get(idp_initiated.headers["Location"]).status_code == 200
    assert other.get(idp_initiated.headers["Location"]).status_code == 404


def test_nothing_received_is_stored_unless_shared(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    c = app.test_client()
    with_sp(c)
    spec = ResponseSpec(
        in_response_to=None, audience=ENTITY, recipient=ACS, destination=ACS, name_id="bob@contoso.example"
    )
    result = post_response(c, signed_response("assertion", spec)).headers["Location"]
    engine = create_engine(app.config["SAMLDEBUG"].database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM reports")).scalar() == 0
        blobs = [bytes(b) for (b,) in conn.execute(text("SELECT ciphertext FROM sp_results"))]
    assert blobs and all(b"bob@contoso" not in b for b in blobs)
    r = post_form(c, result + "/share", {"redact": "identity", "expires_in": "1d"})
    html = r.get_data(as_text=True)
    link = re.search(r'id="permalink" readonly value="([^"]+)"', html)
    assert r.status_code == 200 and link
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM reports")).scalar() == 1
    shared = c.get(urlsplit(link.group(1)).path).get_data(as_text=True)
    assert "bob@contoso.example" not in shared  # redacted like any permalink
    engine.dispose()


def test_csrf_only_the_acs_and_slo_of_a_configured_test_sp_take_cross_site_posts(client: FlaskClient) -> None:
    assert client.post("/sp/acme/start", data={"binding": "redirect"}).status_code == 400
    assert client.post("/sp/acme/delete").status_code == 400
    assert client.post("/sp", data={"name": "evil"}).status_code == 400
    assert client.post("/sp/acme/acs", data={"SAMLResponse": "PHg+"}).status_code == 303
    assert client.post("/sp/nobody/acs", data={"SAMLResponse": "PHg+"}).status_code in (400, 404)
    assert client.post("/sp/acme/acs", data={}).status_code == 400  # nothing to read: a clear page, not a 500
    garbage = client.get(client.post("/sp/acme/acs", data={"SAMLResponse": "%%%"}).headers["Location"])
    assert garbage.status_code == 200 and "Not a readable SAML answer" in garbage.get_data(as_text=True)


def test_access_hook_guards_create_edit_delete(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    c = app.test_client()
    with_sp(c)
    asked: list[tuple[str, str | None]] = []

    def deny(action: str, name: str | None) -> None:
        asked.append((action, name))
        abort(403)

    app.extensions["samldebug.authorize"] = deny
    token = csrf(c)
    assert c.post("/sp", data={"csrf_token": token, "name": "other"}).status_code == 403
    assert c.post("/sp/acme/idp", data={"csrf_token": token, "tenant": TENANT}).status_code == 403
    assert c.post("/sp/acme/delete", data={"csrf_token": token}).status_code == 403
    assert asked == [("testsp.create", None), ("testsp.edit", "acme"), ("testsp.delete", "acme")]
    assert c.post("/sp/acme/acs", data={"SAMLResponse": "PHg+"}).status_code == 303  # signing in is not managing


def test_sign_on_url_starts_with_the_last_knobs(client: FlaskClient) -> None:
    post_form(client, "/sp/acme/start", {"binding": "redirect", "force_authn": "1", "relay_state": "again"})
    r = client.get("/sp/acme/login")
    assert r.status_code == 303
    xml = zlib.decompress(base64.b64decode(parse_qs(urlsplit(r.headers["Location"]).query)["SAMLRequest"][0]), -15)
    assert b'ForceAuthn="true"' in xml and b"<saml:Issuer>http://localhost/sp/acme</saml:Issuer>" in xml


def test_post_binding_page_auto_submits_to_the_idp_only(client: FlaskClient) -> None:
    r = post_form(client, "/sp/acme/start", {"binding": "post", "sign": "1"})
    html = r.get_data(as_text=True)
    assert 'action="https://login.microsoftonline.com/' in html and 'name="SAMLRequest"' in html
    assert "form-action 'self' https://login.microsoftonline.com" in r.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script: the strict CSP stays


def test_replay_customer_request_fills_the_knobs(client: FlaskClient, corpus: Path) -> None:
    text_ = (corpus / "peers/python3-saml/authn_request.xml.base64").read_text()
    html = post_form(client, "/sp/acme/replay", {"customer": text_}).get_data(as_text=True)
    assert 'id="replayed"' in html and "http://idp.example.com/metadata" in html
    assert 'value="persistent"' in html and "SPNameQualifier" in html
    bad = post_form(client, "/sp/acme/replay", {"customer": "hello"})
    assert bad.status_code == 400 and "replay-error" in bad.get_data(as_text=True)


def test_unknown_test_sp_and_bad_names(client: FlaskClient) -> None:
    assert client.get("/sp/nobody").status_code == 404
    assert client.get("/sp/Bad..Name").status_code == 404
    r = post_form(client, "/sp", {"name": "Not OK"})
    assert r.status_code == 400
    assert post_form(client, "/sp", {"name": "acme"}).status_code == 400  # taken


def test_keys_in_the_instance_folder_on_sqlite(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    c = app.test_client()
    post_form(c, "/sp", {"name": "acme"})
    key = Path(app.instance_path) / "sp" / "acme" / "sp.key.pem"
    assert key.is_file() and (key.stat().st_mode & 0o077) == 0
    cert = c.get("/sp/acme/cert.pem").data
    assert cert == (key.parent / "sp.cert.pem").read_bytes()
    post_form(c, "/sp/acme/delete", {})
    assert not key.exists()


def test_keys_shared_through_postgresql(tmp_path: Path, postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS test_sps, sp_requests, sp_seen, sp_results"))
    engine.dispose()
    one = new_app(tmp_path / "one", database_url=postgres_url)
    two = new_app(tmp_path / "two", database_url=postgres_url)
    c1, c2 = one.test_client(), two.test_client()
    post_form(c1, "/sp", {"name": "shared"})
    assert not (Path(one.instance_path) / "sp").exists()  # in the database, not in one instance's folder
    assert c1.get("/sp/shared/cert.pem").data == c2.get("/sp/shared/cert.pem").data
    # A request sent by one instance is answered at the other (request state by ID in the database).
    post_form(
        c1, "/sp/shared/idp", {"metadata_file": (io.BytesIO(metadata()), "m.xml")}, content_type="multipart/form-data"
    )
    r = post_form(c1, "/sp/shared/start", {"binding": "redirect"})
    entity = "http://localhost/sp/shared"
    spec = ResponseSpec(
        in_response_to=sent_request_id(r.headers["Location"]),
        audience=entity,
        recipient=entity + "/acs",
        destination=entity + "/acs",
    )
    posted = c2.post(
        "/sp/shared/acs", data={"SAMLResponse": base64.b64encode(signed_response("assertion", spec)).decode()}
    )
    # c2 did not start it: the flow is recognised as SP-initiated, but the report is the starter's only.
    assert c2.get(posted.headers["Location"]).status_code == 403
    for app in (one, two):
        app.extensions["samldebug.store"].dispose()


def test_result_json_is_not_cached_by_browsers(client: FlaskClient) -> None:
    r = post_response(client, signed_response("assertion", ResponseSpec(in_response_to=None, audience=ENTITY)))
    assert r.headers["Cache-Control"] == "no-store"
    page = client.get(r.headers["Location"])
    assert page.headers["Cache-Control"] == "no-store"


def test_redirect_binding_payloads_never_reach_the_logs() -> None:
    """The test SP's logout URL takes SAML messages in the query string: the access logs cut them out."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from samldebug.web.logs import RedactingLogger, redact_path

    query = "SAMLResponse=fZFdS8MwFIb%2FSsn9lo%2FSpQ&RelayState=secret-state&SigAlg=x&Signature=AbC%2Bd"
    line = f'"GET /sp/acme/slo?{query} HTTP/1.1" 303'
    cleaned = redact_path(line)
    assert "fZFdS8" not in cleaned and "secret-state" not in cleaned and "AbC" not in cleaned
    assert "/sp/acme/slo?SAMLResponse=[redacted]&RelayState=[redacted]" in cleaned
    path = "/sp/acme/slo"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    req = SimpleNamespace(headers=[], method="GET", uri=f"{path}?{query}", path=path, query=query, version=(1, 1))
    resp = SimpleNamespace(status="303 See Other", headers=[], sent=0, response_length=0, status_code=303)
    atoms = RedactingLogger(Config()).atoms(resp, req, environ, timedelta(milliseconds=3))
    assert all("fZFdS8" not in str(v) and "secret-state" not in str(v) for v in atoms.values())


@pytest.mark.parametrize("location", ["https://idp.example/sso\nX-Injected: 1", "javascript:alert(1)"])
def test_hostile_idp_endpoint_in_metadata_is_refused_not_a_500(tmp_path: Path, location: str) -> None:
    """An endpoint Location from the IdP's metadata becomes a redirect and a form action: one that is not an
    http(s) URL, or holds a control character (a header injection), is not used; the page says why (400)."""
    app = new_app(tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    c = app.test_client()
    with_sp(c, metadata(sso=location))
    for binding in ("redirect", "post"):
        r = post_form(c, "/sp/acme/start", {"binding": binding})
        assert r.status_code == 400, (binding, r.status_code)
        assert "SingleSignOnService" in r.get_data(as_text=True)
        assert "X-Injected" not in str(r.headers) and "javascript:" not in r.headers.get("Location", "")


@pytest.mark.parametrize(
    "knob", [{"authn_contexts": "Password\x01"}, {"name_id_format": "urn:\x0bx"}, {"acs_url": "https://a/\ufffe"}]
)
def test_knobs_that_cannot_be_xml_are_a_form_error_not_a_500(tmp_path: Path, knob: dict[str, str]) -> None:
    """A control character in a knob made lxml raise (500) on preview and start; start had already saved the
    knobs, so the sign-on URL (Entra's Test button) answered 500 from then on."""
    app = new_app(tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    c = app.test_client()
    with_sp(c)
    for route in ("/sp/acme/preview", "/sp/acme/start"):
        assert post_form(c, route, {"binding": "redirect", **knob}).status_code == 400, route
    assert c.get("/sp/acme/login").status_code == 303


def test_pasted_federation_metadata_has_the_same_size_limit_as_the_file(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    c = app.test_client()
    assert post_form(c, "/sp", {"name": "acme"}).status_code == 303
    too_big = "<x>" + "a" * app.config["SAMLDEBUG"].max_xml_bytes + "</x>"
    r = post_form(c, "/sp/acme/idp", {"metadata": too_big})
    assert r.status_code == 400 and "larger than the limit" in r.get_data(as_text=True)
    engine = create_engine(app.config["SAMLDEBUG"].database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT idp_metadata FROM test_sps")).scalar() is None
    engine.dispose()
