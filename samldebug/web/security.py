"""Security of the page itself: strict CSP (no inline script, no eval), framing refused, CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Flask, Response, abort, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # permalink keys live in URLs: never leak them to other sites
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Form posts of the UI must carry the session's token (double-submit through the signed session cookie).
    The JSON/form API under /api/ uses no cookies, so there is no ambient authority to forge."""
    if request.method != "POST" or request.path.startswith("/api/"):
        return
    # Endpoints that take cross-site POSTs by design (a test SP's ACS and SLO) register a predicate here.
    if any(exempt() for exempt in current_app.extensions.get("samldebug.csrf_exempt", ())):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="The form expired or did not come from this page. Reload the page and try again.")


_HEADERS_LOWER = tuple((key.lower(), key, value) for key, value in HEADERS.items())


def add_headers(response: Response) -> Response:
    """HEADERS, each unless the view set its own (e.g. a page's CSP). One pass over the response's headers instead of
    werkzeug's setdefault per header (a lookup that raises and catches KeyError for every missing one, then a scan):
    that cost more per API request than the rest of the security hooks together."""
    present = {key.lower() for key in response.headers.keys()}
    response.headers.extend([(key, value) for lower, key, value in _HEADERS_LOWER if lower not in present])
    if request.path.startswith(("/r/", "/api/", "/sp/")):
        response.headers["Cache-Control"] = "no-store"
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (it holds the CSRF token and the signed-in user), with its signing serializer
    built once per secret key: Flask builds one on every request, API calls included, and itsdangerous serializes
    an empty dict each time to learn the serializer's output type. The serializer keeps no per-request state."""

    def __init__(self) -> None:
        self._cached: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is None or cached[0] != key:  # a key rotated at run time (tests) is picked up
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
