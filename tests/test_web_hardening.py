"""Web answers the attack review found wrong: paste size, refusals shown, cross-site posts, abuse by volume."""

from __future__ import annotations

import io
from pathlib import Path

from factory import b64, signed_response
from webutil import live_server, make_app, post_form

from samldebug.config import MiB


def test_a_paste_of_600_kb_is_analysed_not_a_silent_413(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    paste = b64(signed_response()) + " " * 600_000  # base64 with trailing whitespace: still one message
    empty = (io.BytesIO(b""), "")
    r = post_form(client, "/analyze", {"input": paste, "file": empty}, content_type="multipart/form-data")
    assert r.status_code == 200, r.status_code
    assert 'id="verdict"' in r.get_data(as_text=True)


def test_a_paste_over_4_mib_gets_a_413_naming_the_paste_limit(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    empty = (io.BytesIO(b""), "")  # the page posts multipart (a file field beside the paste)
    r = post_form(
        client, "/analyze", {"input": "A" * (4 * MiB + 10), "file": empty}, content_type="multipart/form-data"
    )
    assert r.status_code == 413
    text = r.get_data(as_text=True)
    assert "A pasted field may hold 4 MiB" in text and "128 MiB" in text


def test_cross_site_form_posts_to_the_api_are_refused(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    data = {"input": b64(signed_response())}
    r = client.post(
        "/api/v1/analyze", data=data, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403 and "Cross-site" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/analyze", data=data, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post(
        "/api/v1/analyze", data="input=x", headers={"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403
    assert client.post("/api/v1/analyze", data=data).status_code == 200  # a script (curl): no Origin
    assert client.post("/api/v1/analyze", json=data, headers={"Origin": "https://evil.example"}).status_code == 200
    assert client.post("/api/v1/analyze", data=data, headers={"Origin": "http://localhost"}).status_code == 200


def test_compare_is_rate_limited(tmp_path: Path) -> None:
    client = make_app(tmp_path, rate_limit_analyze="4/minute").test_client()
    statuses = []
    for _ in range(3):
        r = post_form(client, "/compare", {"input_a": b64(signed_response()), "input_b": b64(signed_response())})
        statuses.append(r.status_code)
    assert statuses[:2] == [200, 200] and statuses[2] == 429, statuses


def test_json_nested_100000_deep_is_a_400(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    body = '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = client.post("/api/v1/analyze", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "deeply" in r.get_json()["error"]["message"]
    r = client.post("/api/v1/analyze", json={"input": "[" * 100_000 + "]" * 100_000})
    assert r.status_code == 200 and not any(f["code"] == "internal_error" for f in r.get_json()["findings"])


def test_an_instant_past_datetime_range_is_a_400_not_a_500(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    r = client.post("/api/v1/analyze", json={"input": b64(signed_response()), "now": "9999-12-31T23:59:59-14:00"})
    assert r.status_code == 400


def test_the_page_shows_every_refusal_in_the_report_area(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, max_upload_bytes=2 * MiB)
    with live_server(app) as url:
        ctx = browser.new_context()
        page = ctx.new_page()
        page.goto(url + "/")
        page.evaluate("big => { document.getElementById('input').value = big; }", "A" * (3 * MiB))
        page.click("button.primary")
        page.wait_for_function("document.querySelector('#report').innerText.includes('larger than this server')")
        assert "The upload limit is 2 MiB" in page.inner_text("#report")
        ctx.close()


def test_the_session_signer_is_built_once_per_secret_key(tmp_path: Path) -> None:
    """Sessions (the CSRF token) sign with a serializer built once, not per request; rotating the key takes effect
    and a cookie signed with the old key no longer passes the CSRF check."""
    from webutil import csrf

    app = make_app(tmp_path)
    client = app.test_client()
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert serializer is not None and interface.get_signing_serializer(app) is serializer  # type: ignore[attr-defined]
    token = csrf(client)
    message = b64(signed_response())
    assert client.post("/analyze", data={"input": message, "csrf_token": token}).status_code == 200
    app.secret_key = "a-rotated-secret-key-" + "x" * 40
    assert interface.get_signing_serializer(app) is not serializer  # type: ignore[attr-defined]
    assert client.post("/analyze", data={"input": message, "csrf_token": token}).status_code == 400


def test_a_json_body_with_a_bom_or_in_utf16_is_read(tmp_path: Path) -> None:
    """PowerShell 5.1 writes a UTF-8 BOM; Python's json module reads it and UTF-16, and so does the API (found by
    review: msgspec alone answered a misleading 400)."""
    import json

    client = make_app(tmp_path).test_client()
    text = json.dumps({"input": b64(signed_response())})
    for body in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        r = client.post("/api/v1/analyze", data=body, content_type="application/json")
        assert r.status_code == 200, r.data[:200]
    r = client.post("/api/v1/analyze", data=b"\xef\xbb\xbf{not json", content_type="application/json")
    assert r.status_code == 400
