"""Per-client rate limits (Flask-Limiter), declared on the views with its decorators.

`limiter` is the application-factory form of Flask-Limiter: one object, bound to each app by `init_app`. Its
storage comes from `SAMLDEBUG_RATE_LIMIT_STORAGE`: `memory://` (the default, one instance) or `redis://…` so that
every instance behind a load balancer counts against the same limit. The limit values are read from the app's
config on each request, so one process can serve apps with different limits (tests do).

    @bp.post("/analyze")
    @limits.analyze
    def analyze_page(): ...

`analyze` (every analysis: form, JSON, XML download, API), `analyze_twice` (compare: two analyses), `share` (a
stored report) and `share_requested` (the API's `share=1`, which stores a report only when asked).
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits.storage import MemoryStorage

from .context import fields
from .errors import FormError


class ProcessMemoryStorage(MemoryStorage):
    """limits' memory storage (one process), sweeping expired windows at most once a second in the calling thread
    instead of starting a timer thread on every hit: on a busy 2-core host a thread start per request was most of
    the limiter's cost and a visible part of p99. Counting is unchanged (windows are judged against the clock on
    every hit; the sweep only frees memory). Selected for `memory://`."""

    STORAGE_SCHEME = ["samldebug-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the per-hit timer thread
        now = time.monotonic()
        if now - self._swept >= 1.0:
            self._swept = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def client_address() -> str:
    # With SAMLDEBUG_TRUST_PROXY_HEADERS, werkzeug's ProxyFix has already put the client address in remote_addr.
    return request.remote_addr or "unknown"


def limit_key() -> str:
    """Whose requests count together: the signed-in user when sign-in is on (colleagues behind one proxy or NAT
    do not share a limit), else the client address."""
    user: str | None = g.get("samldebug_user")
    return f"user:{user}" if user else client_address()


limiter = Limiter(
    limit_key,
    headers_enabled=True,
    strategy="moving-window",  # "N per minute" means any 60 s, not a calendar minute that resets mid-burst
    swallow_errors=True,  # a storage outage must not turn analyses into 500s…
    in_memory_fallback_enabled=True,  # …each instance keeps limiting on its own until the storage is back
    key_prefix="samldebug",
)


def _analyze_limit() -> str:
    value: str = current_app.config["SAMLDEBUG"].rate_limit_analyze
    return value


def _share_limit() -> str:
    value: str = current_app.config["SAMLDEBUG"].rate_limit_share
    return value


def share_wanted() -> bool:
    """The API stores a report only with share=1 (JSON body or form field)."""
    try:
        given = fields()
    except FormError:
        return False  # the view answers the unusable body; there is nothing to share
    return str(given.get("share", "")).lower() in ("1", "true", "yes", "on")


analyze = limiter.shared_limit(_analyze_limit, scope="analyze")
analyze_twice = limiter.shared_limit(_analyze_limit, scope="analyze", cost=2)  # /compare: two analyses
share = limiter.shared_limit(_share_limit, scope="share")
share_requested = limiter.shared_limit(_share_limit, scope="share", exempt_when=lambda: not share_wanted())


def init_app(app: Flask) -> None:
    config = app.config["SAMLDEBUG"]
    if config.trust_proxy_headers:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    uri = config.rate_limit_storage or "memory://"
    if uri.startswith("memory://"):
        uri = "samldebug-memory://"
    app.config.setdefault("RATELIMIT_STORAGE_URI", uri)
    # One limiter object serves every app in the process (Flask-Limiter's factory pattern), and it keeps the last
    # app's `enabled` unless told: each app states its own.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    limiter.init_app(app)
    _drop_unused_middleware(app)


def _drop_unused_middleware(app: Flask) -> None:
    """Flask-Limiter's before-request hook applies default, application-wide and meta limits, and resolves them on
    every request (endpoint, blueprint, exemptions) even when there are none. Every limit here is declared on its
    view with the decorators above, which check their own limits when the view is called, so with none of those
    configured the hook only costs time (about 40 µs a request). The after-request hook (the X-RateLimit headers)
    and the teardown stay."""
    if any(app.config.get(name) for name in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")):
        return
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
