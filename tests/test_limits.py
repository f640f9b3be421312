"""Rate limits declared on the views (Flask-Limiter decorators): which requests count against which limit, and
the in-process storage's cost per request."""

from __future__ import annotations

import threading
from pathlib import Path

from factory import b64, signed_response
from webutil import make_app, post_form

from samldebug.web import limits


def test_every_analysis_counts_against_one_analyze_limit(tmp_path: Path) -> None:
    client = make_app(tmp_path, rate_limit_analyze="5/minute").test_client()
    message = b64(signed_response())
    assert client.post("/api/v1/analyze", json={"input": message}).status_code == 200  # 1
    assert post_form(client, "/analyze.json", {"input": message}).status_code == 200  # 2
    compare = post_form(client, "/compare", {"input_a": message, "input_b": message})
    assert compare.status_code == 200  # 4: a comparison is two analyses
    assert post_form(client, "/analyze", {"input": message}).status_code == 200  # 5
    assert client.post("/api/v1/analyze", json={"input": message}).status_code == 429
    assert post_form(client, "/analyze.xml", {"input": message}).status_code == 429
    assert post_form(client, "/compare", {"input_a": message, "input_b": message}).status_code == 429


def test_the_api_counts_shares_only_when_it_stores_one(tmp_path: Path) -> None:
    client = make_app(tmp_path, rate_limit_share="2/minute").test_client()
    message = b64(signed_response())
    for _ in range(3):  # analyses without share=1 do not use the share limit
        assert client.post("/api/v1/analyze", json={"input": message}).status_code == 200
    assert client.post("/api/v1/analyze", json={"input": message, "share": "1"}).status_code == 200
    assert client.post("/api/v1/analyze", json={"input": message, "share": "true"}).status_code == 200
    refused = client.post("/api/v1/analyze", json={"input": message, "share": "1"})
    assert refused.status_code == 429 and refused.get_json()["error"]["status"] == 429
    assert client.post("/api/v1/analyze", json={"input": message}).status_code == 200
    assert post_form(client, "/share", {"input": message}).status_code == 429  # the page's share: same limit


def test_memory_storage_starts_no_thread_per_request(tmp_path: Path) -> None:
    app = make_app(tmp_path, rate_limit_analyze="1000/minute")
    assert isinstance(limits.limiter.storage, limits.ProcessMemoryStorage)
    client = app.test_client()
    message = b64(signed_response())
    started: list[str] = []
    original = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        started.append(type(self).__name__)
        original(self)

    threading.Thread.start = counting_start  # type: ignore[method-assign]
    try:
        for _ in range(20):
            assert client.post("/api/v1/analyze", json={"input": message}).status_code == 200
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    assert started == []


def test_view_limits_and_their_headers_without_flask_limiters_per_request_hook(tmp_path: Path) -> None:
    """Every limit is declared on its view, so Flask-Limiter's before-request hook (default, application and meta
    limits: none here) is not run; the decorators still count, and the X-RateLimit headers are the same."""
    app = make_app(tmp_path, rate_limit_analyze="2/minute")
    assert limits.limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    client = app.test_client()
    message = b64(signed_response())
    first = client.post("/api/v1/analyze", json={"input": message})
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert int(first.headers["X-RateLimit-Reset"]) > 0 and 0 <= int(first.headers["Retry-After"]) <= 60
    assert client.post("/api/v1/analyze", json={"input": message}).headers["X-RateLimit-Remaining"] == "0"
    refused = client.post("/api/v1/analyze", json={"input": message})
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers  # no limit applies there


def test_the_per_request_hook_stays_when_default_limits_are_configured() -> None:
    from flask import Flask

    for name in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META"):
        app = Flask(__name__)
        app.config[name] = "2/minute"
        app.before_request(limits.limiter._check_request_limit)
        limits._drop_unused_middleware(app)
        assert limits.limiter._check_request_limit in app.before_request_funcs[None], name
    app = Flask(__name__)
    app.before_request(limits.limiter._check_request_limit)
    limits._drop_unused_middleware(app)
    assert limits.limiter._check_request_limit not in app.before_request_funcs[None]
