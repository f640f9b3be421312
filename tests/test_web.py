"""Every route through Flask's test client: status codes, the JSON twin, security headers, escaping."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from factory import ACS_URL, SP_ENTITY_ID, ResponseSpec, b64, build_response, metadata, signed_response, to_bytes
from webutil import csrf, make_app, post_form


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_app(tmp_path).test_client()


def headline(html: str) -> str:
    m = re.search(r'<div class="headline">(.*?)</div>', html, re.S)
    assert m, html[:500]
    return m.group(1).strip()


def test_index_has_form_and_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = r.get_data(as_text=True)
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers
    assert re.search(r"<script(?![^>]*src=)", html) is None  # no inline scripts at all
    assert 'name="csrf_token"' in html


def test_analyze_full_page_and_htmx_partial(client) -> None:  # type: ignore[no-untyped-def]
    data = {
        "input": b64(signed_response()),
        "metadata": metadata().decode(),
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
    }
    r = post_form(client, "/analyze", data)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<html" in html and headline(html).startswith("Healthy sign-in: Entra issued a signed assertion")
    assert "alice@contoso.example" in html and 'class="badge ok"' in html
    r = post_form(client, "/analyze", data, headers={"HX-Request": "true"})
    part = r.get_data(as_text=True)
    assert "<html" not in part and headline(part).startswith("Healthy sign-in")


def test_findings_first_with_expected_actual_fix(client) -> None:  # type: ignore[no-untyped-def]
    spec = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
    r = post_form(
        client,
        "/analyze",
        {"input": b64(signed_response(spec=spec)), "metadata": metadata().decode(), "sp_entity_id": SP_ENTITY_ID},
    )
    html = r.get_data(as_text=True)
    assert html.index("audience_mismatch") < html.index('id="summary-0"')
    assert "they differ only in trailing slash" in html


def test_unsigned_values_are_marked_unverified(client) -> None:  # type: ignore[no-untyped-def]
    html = post_form(client, "/analyze", {"input": b64(build_response())}).get_data(as_text=True)
    assert 'class="v-unverified"' in html and 'class="v-trusted"' not in html
    assert "unsigned_assertion" in html


def test_xss_payload_stays_text(client) -> None:  # type: ignore[no-untyped-def]
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    html = post_form(client, "/analyze", {"input": b64(to_bytes(build_response(ResponseSpec(name_id=evil))))}).get_data(
        as_text=True
    )
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html or "&lt;script&gt;" in html


def test_json_twin_and_xml_download(client) -> None:  # type: ignore[no-untyped-def]
    data = {"input": b64(signed_response()), "metadata": metadata().decode()}
    r = post_form(client, "/analyze.json", data)
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["schema"] == "samldebug.report/2" and doc["messages"][0]["signature"]["status"] == "valid"
    r = post_form(client, "/analyze.xml", data)
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.data.startswith(b"<samlp:Response")


def test_file_upload(client) -> None:  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(signed_response()), "resp.xml"), "metadata": metadata().decode()}
    r = post_form(client, "/analyze", data, content_type="multipart/form-data")
    assert headline(r.get_data(as_text=True)).startswith("Healthy sign-in")


def test_csrf_required_on_ui_posts(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/analyze", data={"input": "x"})
    assert r.status_code == 400
    assert "Reload the page" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "data, status, text",
    [
        ({"input": ""}, 400, "Nothing to analyse"),
        ({"input": "x", "skew": "abc"}, 400, "whole number"),
        ({"input": "x", "now": "yesterday"}, 400, "ISO 8601"),
    ],
)
def test_form_errors_are_friendly(client, data, status, text) -> None:  # type: ignore[no-untyped-def]
    r = post_form(client, "/analyze", data)
    assert r.status_code == status and text in r.get_data(as_text=True)
    r = post_form(client, "/analyze", data, headers={"HX-Request": "true"})
    assert r.status_code == 200 and text in r.get_data(as_text=True)  # htmx swaps 2xx only


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "%%%",
        "<a>",
        '{"log": 1}',
        "A" * 5000,
        "<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>",
        "\x00\x01\x02",
        "https://evil.example/?SAMLResponse=%ZZ",
    ],
)
def test_bad_input_never_500(client, payload: str) -> None:  # type: ignore[no-untyped-def]
    r = post_form(client, "/analyze", {"input": payload})
    assert r.status_code in (200, 400)
    html = r.get_data(as_text=True)
    assert "Traceback" not in html and "root:x:0" not in html


def test_too_large_is_413_page(tmp_path: Path) -> None:
    client = make_app(tmp_path, max_upload_bytes=10_000).test_client()
    token = csrf(client)
    r = client.post("/analyze", data={"csrf_token": token, "input": "A" * 20_000})
    assert r.status_code == 413
    assert "larger than this server accepts" in r.get_data(as_text=True)
    r = client.post("/api/v1/analyze", json={"input": "A" * 20_000})
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413


def test_404_page(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/nope")
    assert r.status_code == 404 and "nothing here" in r.get_data(as_text=True)
    assert client.get("/api/v1/nope").get_json()["error"]["status"] == 404


def test_api_json_and_form(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/analyze",
        json={
            "input": b64(signed_response()),
            "cert": "",
            "metadata": metadata().decode(),
            "sp_entity_id": "urn:wrong",
            "now": "2026-03-01T12:01:00Z",
        },
    )
    assert r.status_code == 200
    doc = r.get_json()
    assert any(f["code"] == "audience_mismatch" for f in doc["findings"])
    r = client.post("/api/v1/analyze", data={"input": b64(signed_response()), "skew": "0"})
    assert r.status_code == 200 and r.get_json()["skew"] == 0
    r = client.post("/api/v1/analyze", json=["not", "an", "object"])
    assert r.status_code == 400 and "JSON body" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/analyze", json={})
    assert r.status_code == 400


def test_health_and_findings_page(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").get_json()["status"] == "ok"
    html = client.get("/findings").get_data(as_text=True)
    assert "audience_mismatch" in html and "AADSTS50011" in html


def test_openapi_matches_routes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (re.sub(r"<(\w+)>", r"{\1}", str(rule.rule)), method)
        for rule in app.url_map.iter_rules()
        if str(rule.rule).startswith(("/api/", "/healthz")) or "DELETE" in rule.methods
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if method == "DELETE" or not str(rule.rule).startswith("/r/")
    }
    assert documented == served
    from samldebug.web.api import FIELDS
    from samldebug.web.forms import __doc__ as forms_doc

    for name in FIELDS:
        assert name in forms_doc, name


def test_every_setting_is_documented_in_readme() -> None:
    import dataclasses

    from samldebug.config import AppConfig

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for f in dataclasses.fields(AppConfig):
        assert f"SAMLDEBUG_{f.name.upper()}" in readme, f.name


def test_env_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMLDEBUG_DEFAULT_SKEW", "7")
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "samldebug.toml").write_text("max_xml_bytes = 2048\ndefault_skew = 99\n")
    app = make_app(tmp_path)
    cfg = app.config["SAMLDEBUG"]
    assert cfg.default_skew == 7 and cfg.max_xml_bytes == 2048  # the environment wins over the file
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SAMLDEBUG_DEFAULT_SKEW", "abc")
    with pytest.raises(ValueError, match="SAMLDEBUG_DEFAULT_SKEW"):
        make_app(tmp_path)


def test_json_is_schema_valid(client) -> None:  # type: ignore[no-untyped-def]
    import jsonschema
    from test_report_schema import SCHEMA

    doc = post_form(client, "/analyze.json", {"input": b64(signed_response())}).get_json()
    jsonschema.validate(doc, SCHEMA)
    assert json.dumps(doc)


def test_compare_page(client) -> None:  # type: ignore[no-untyped-def]
    from factory import ResponseSpec

    assert client.get("/compare").status_code == 200
    a, b = ResponseSpec(name_id="alice@contoso.example"), ResponseSpec(name_id="Alice@Contoso.example")
    r = post_form(
        client,
        "/compare",
        {
            "input_a": b64(signed_response(spec=a)),
            "input_b": b64(signed_response(spec=b)),
            "metadata": metadata().decode(),
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="side-1"' in html and 'id="side-2"' in html and "ToLowercase()" in html
    r = post_form(client, "/compare", {"input_a": "", "input_b": "x"})
    assert r.status_code == 400 and "Nothing to analyse" in r.get_data(as_text=True)


def test_preset_and_checklist_in_page(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/").get_data(as_text=True)
    assert 'value="preset:balenacloud"' in html
    r = post_form(
        client,
        "/analyze",
        {
            "input": b64(signed_response()),
            "profile": "preset:balenacloud",
            "preset_param": "acme",
            "metadata": metadata().decode(),
        },
    )
    html = r.get_data(as_text=True)
    assert "https://api.balena-cloud.com/auth/saml/acme/callback" in html and 'id="checklist"' in html
    assert "audience_mismatch" in html  # the fixture's audience is not balena's Identifier
    r = post_form(client, "/analyze", {"input": "x", "profile": "preset:balenacloud", "preset_param": "a/b"})
    assert r.status_code == 400


def test_request_log_has_no_payload_or_key(client, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    secret = b64(signed_response())
    with caplog.at_level(logging.INFO, logger="samldebug.access"):
        r = post_form(client, "/analyze", {"input": secret})
        client.get("/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8")
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "samldebug.access"]
    assert any(line["path"] == "/analyze" and line["status"] == 200 for line in lines)
    assert r.headers["X-Request-ID"]
    text = caplog.text
    assert secret[:40] not in text and "alice@contoso.example" not in text and "ZmFrZS1rZXkt" not in text


def test_request_log_line_has_its_fields_in_order_and_is_not_built_when_nobody_listens(client, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    with caplog.at_level(logging.INFO, logger="samldebug.access"):
        r = client.get("/healthz")
    [record] = [rec for rec in caplog.records if rec.name == "samldebug.access"]
    line = json.loads(record.getMessage())
    assert list(line) == ["request_id", "method", "path", "status", "ms", "bytes_in", "bytes_out"]
    assert line["request_id"] == r.headers["X-Request-ID"] and line["path"] == "/healthz" and line["status"] == 200
    assert line["bytes_out"] == len(r.data) and line["bytes_in"] == 0 and line["ms"] >= 0
    assert record.funcName == "_log" and record.pathname.endswith("logs.py")  # the record names its maker
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="samldebug.access"):
        r = client.get("/healthz")
    assert [rec for rec in caplog.records if rec.name == "samldebug.access"] == [] and r.headers["X-Request-ID"]


def test_request_log_goes_to_stderr_when_nothing_configured_logging(client, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import logging

    monkeypatch.setattr(logging.root, "handlers", [])  # plain gunicorn: no handler anywhere (pytest adds its own)
    monkeypatch.setattr(logging.getLogger("samldebug.access"), "level", logging.INFO)
    path = "/r/AbCdEfGhIjKlMnOpQrStUv/ZmFrZS1rZXktMTIzNDU2Nzg5MC1hYmNkZWZnaGlqa2xtbm8"
    r = client.get(path)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["request_id"] for line in lines] == [r.headers["X-Request-ID"]]
    assert lines[0]["path"] == "/r/AbCdEfGhIjKlMnOpQrStUv/[redacted]" and lines[0]["status"] == r.status_code


def test_har_upload_shows_flows_and_timeline(client) -> None:  # type: ignore[no-untyped-def]
    import harfactory as hf

    data = hf.dumps(hf.har(hf.sp_initiated(), "chrome"))
    r = post_form(client, "/analyze", {"file": (io.BytesIO(data), "capture.har")}, content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="flows"' in html and "SP-initiated sign-in" in html
    assert 'href="#message-1"' in html and "Dropped for privacy" in html
    for secret in hf.sp_initiated().secrets[:5]:
        assert secret not in html


def test_redirect_url_paste_renders(client) -> None:  # type: ignore[no-untyped-def]
    from test_requests import redirect_url, request_xml

    r = post_form(client, "/analyze", {"input": redirect_url(request_xml())})
    assert r.status_code == 200 and "AuthnRequest" in r.get_data(as_text=True)


def test_rate_limit_is_friendly(tmp_path: Path) -> None:
    client = make_app(tmp_path, rate_limit_analyze="2/minute").test_client()
    body = {"input": "PHg+"}
    statuses = [client.post("/api/v1/analyze", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = client.post("/api/v1/analyze", json=body)
    assert r.get_json()["error"]["status"] == 429
    token = csrf(client)
    page = client.post("/analyze", data={"csrf_token": token, "input": "x"})
    assert page.status_code == 429 and "Too many requests" in page.get_data(as_text=True)


def test_metadata_host_down_still_answers(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(
        tmp_path,
        metadata_allowed_hosts="127.0.0.1",
        metadata_allow_http=True,
        metadata_allow_private=True,
        metadata_timeout=2.0,
    )
    r = post_form(
        app.test_client(),
        "/analyze",
        {"input": b64(signed_response()), "metadata_url": f"http://127.0.0.1:{port}/md.xml"},
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="verdict"' in html and "fetch_connect_failed" in html


def test_disallowed_metadata_host_is_refused_clearly(client) -> None:  # type: ignore[no-untyped-def]
    r = post_form(client, "/analyze", {"input": b64(signed_response()), "metadata_url": "https://evil.example/md"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "fetch_host_not_allowed" in html


@pytest.mark.parametrize(
    "body",
    [
        {"share": "1", "expires_in": [1]},
        {"share": "1", "expires_in": {}},
        {"share": "1", "expires_in": "Infinity"},
        {"share": "1", "expires_in": "1e400"},
        {"share": "1", "redact": ["none"]},
        {"share": "1", "title": {"x": 1}},
        {"required_claims": [1]},
        {"skew": [1]},
        {"now": ["2026"]},
    ],
)
def test_hostile_api_fields_are_400_not_500(client, body) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/analyze", json={"input": b64(signed_response()), **body})
    assert r.status_code in (200, 400), (body, r.status_code)
    assert r.get_json()


def test_rate_limiting_disabled_does_not_break_routes(tmp_path: Path) -> None:
    app = make_app(tmp_path, RATELIMIT_ENABLED=False)
    import gc

    gc.collect()
    assert app.test_client().post("/api/v1/analyze", json={"input": "PHg+"}).status_code == 200


def test_share_keeps_the_evaluation_time_the_user_saw(tmp_path: Path) -> None:
    from datetime import timedelta

    from factory import T0

    now = {"t": T0 + timedelta(minutes=1)}
    app = make_app(tmp_path, CLOCK=lambda: now["t"])
    client = app.test_client()
    data = {"input": b64(signed_response()), "metadata": metadata().decode()}
    assert "expired" not in post_form(client, "/analyze", data).get_data(as_text=True)
    now["t"] = T0 + timedelta(hours=3)  # the user shares three hours later
    r = post_form(client, "/share", {**data, "share_now": "2026-03-01T12:01:00Z", "redact": "none"})
    link = re.search(r'id="permalink" readonly value="([^"]+)"', r.get_data(as_text=True)).group(1)
    doc = client.get(link.replace("http://localhost", "") + ".json").get_json()
    assert doc["now"] == "2026-03-01T12:01:00Z"
    assert "expired" not in {f["code"] for f in doc["findings"]}
    app.extensions["samldebug.store"].dispose()


@pytest.mark.parametrize(
    ("path", "json_answer", "status"),
    [
        ("/analyze", False, 400),
        ("/analyze.json", True, 400),
        ("/analyze.xml", True, 400),
        ("/api/v1/analyze", True, 400),
        ("/compare", False, 400),
        ("/share", False, 200),  # htmx swaps only 2xx: the share partial shows the message
    ],
)
def test_a_form_error_is_handled_once_for_every_endpoint(client, path: str, json_answer: bool, status: int) -> None:  # type: ignore[no-untyped-def]
    """errors.py turns a FormError into the JSON error shape for JSON callers and the page itself otherwise."""
    r = post_form(client, path, {"input": "", "input_a": "", "input_b": ""})
    assert r.status_code == status
    if json_answer:
        assert r.get_json() == {
            "error": {"status": 400, "message": "Nothing to analyse: paste a SAML message or choose a file."}
        }
    else:
        assert "Nothing to analyse" in r.get_data(as_text=True)


def test_the_sp_signing_requirement_is_a_field_and_a_chip(client) -> None:  # type: ignore[no-untyped-def]
    data = {
        "input": b64(signed_response("assertion")),
        "metadata": metadata().decode(),
        "sp_entity_id": SP_ENTITY_ID,
        "signing": "response",
    }
    html = post_form(client, "/analyze", data).get_data(as_text=True)
    assert 'id="f-signing"' in html
    assert "signing_requirement_unmet" in html
    assert "SP requires signed" in html  # the chip: the requirement stays visible for the next ticket
    html = post_form(client, "/analyze", dict(data, signing="assertion")).get_data(as_text=True)
    assert "signing_requirement_unmet" not in html
    r = post_form(client, "/analyze", dict(data, signing="everything"))
    assert r.status_code == 400 and "must be one of" in r.get_data(as_text=True)
