"""Per-client rate limits (Flask-Limiter) for analysis, uploads and shares; configured in AppConfig."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter


def client_address() -> str:
    # With SAMLDEBUG_TRUST_PROXY_HEADERS, werkzeug's ProxyFix has already put the client address in remote_addr.
    return request.remote_addr or "unknown"


def init_app(app: Flask) -> None:
    config = app.config["SAMLDEBUG"]
    if config.trust_proxy_headers:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI", "memory://"),
        headers_enabled=True,
    )
    app.extensions["samldebug.limiter"] = limiter  # the decorators hold it weakly: keep it alive
    analyze = limiter.shared_limit(config.rate_limit_analyze, scope="analyze")
    share = limiter.shared_limit(config.rate_limit_share, scope="share")
    for endpoint in ("ui.analyze_page", "ui.analyze_json", "ui.analyze_xml", "api.api_analyze"):
        app.view_functions[endpoint] = analyze(app.view_functions[endpoint])  # type: ignore[assignment]
    # /compare runs two analyses: it draws two from the same allowance.
    compare = limiter.shared_limit(config.rate_limit_analyze, scope="analyze", cost=2)
    app.view_functions["ui.compare_post"] = compare(app.view_functions["ui.compare_post"])  # type: ignore[assignment]
    app.view_functions["share.share"] = share(analyze(app.view_functions["share.share"]))  # type: ignore[assignment]
