"""What every view needs from the running app, in one place: the operator's config, the clock, the report store,
the shared metadata cache, the configured SP profiles and keys, and the request's fields."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from werkzeug.datastructures import FileStorage

from .. import profiles
from ..config import AppConfig
from ..fetch import MetadataCache
from ..store import Store
from ..store.cache import SharedMetadataCache
from .errors import FormError


def config() -> AppConfig:
    value: AppConfig = current_app.config["SAMLDEBUG"]
    return value


def clock() -> datetime:
    """The wall clock (tests inject CLOCK); the core never reads it."""
    fn: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return fn() if fn is not None else datetime.now(UTC)


def store() -> Store:
    """The report store, opened on first use (StoreError when the database is down: sharing fails, analysis
    keeps working)."""
    existing: Store | None = current_app.extensions.get("samldebug.store")
    if existing is None:
        existing = Store(config().database_url)
        existing.migrate()
        current_app.extensions["samldebug.store"] = existing
    return existing


def metadata_cache() -> MetadataCache:
    """Fetched metadata shared by every worker and instance through the report database."""
    cache: MetadataCache | None = current_app.extensions.get("samldebug.metadata_cache")
    if cache is None:
        cache = SharedMetadataCache(store)
        current_app.extensions["samldebug.metadata_cache"] = cache
    return cache


def metadata_ca_file() -> str | None:
    """A CA bundle for metadata fetches (tests serve metadata over TLS from a local CA)."""
    value: str | None = current_app.config.get("METADATA_CA_FILE")
    return value


def configured_profiles() -> dict[str, profiles.Profile]:
    found: dict[str, profiles.Profile] = current_app.extensions.get("samldebug.profiles", {})
    return found


def sp_keys() -> tuple[Any, ...]:
    """The operator's SP private keys (SAMLDEBUG_SP_PRIVATE_KEY_FILE), loaded at start-up."""
    keys: tuple[Any, ...] = current_app.extensions.get("samldebug.sp_keys", ())
    return keys


def fields() -> dict[str, Any]:
    """The request's fields: a JSON object body, or the form. The one way views read a request body (with
    `upload` for files and `typed` to refill a page)."""
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # JSON nested 100,000 deep: a 400, never a 500
            raise FormError("The JSON body nests too deeply to read.") from None
        if not isinstance(body, dict):
            raise FormError("The JSON body must be an object with an 'input' field.")
        return body
    return dict(request.form.items())


def typed() -> dict[str, str]:
    """What the user typed into the page's form, to show it again with an error (never the CSRF token)."""
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


def upload(name: str, cap: int) -> bytes | None:
    """An uploaded file's first cap + 1 bytes (enough to tell it is too large), or None."""
    if request.mimetype != "multipart/form-data":
        # Only a multipart body carries files. Asking werkzeug anyway runs its form parser on a JSON body and pays
        # a KeyError (a BadRequestKeyError built and caught) per field looked up: six per analysis.
        return None
    f: FileStorage | None = request.files.get(name)
    if f is None or not f.filename:
        return None
    return f.stream.read(cap + 1)


def upload_names() -> dict[str, str]:
    """field → file name of every file the request uploaded (the page shows them as settings in effect)."""
    return {name: f.filename for name, f in request.files.items() if f is not None and f.filename}


def graph_settings() -> Any:
    """The sign-in log lookup's settings (graph.GraphSettings), or None when the operator has not configured it."""
    return current_app.extensions.get("samldebug.graph")


def graph_resolver() -> Any:
    """How the lookup resolves host names (tests map the cloud's hosts to a loopback server)."""
    return current_app.config.get("GRAPH_RESOLVER") or socket.getaddrinfo
