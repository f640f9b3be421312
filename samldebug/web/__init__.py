"""The web shell: `create_app()` is the only wiring point (flask's tutorial pattern).

Production: `gunicorn 'samldebug.web:create_app()'`; development: `samldebug serve --debug`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from .. import catalog, decrypt, graph, profiles
from ..config import AppConfig
from . import api, audit, auth, context, errors, jsonio, limits, logs, lookup, mine, security, sharing, views
from .present import ticks, uris

log = logging.getLogger("samldebug.web")
PACKAGE = Path(__file__).resolve().parent.parent


def _asset_dir(name: str) -> str:
    """templates/ and static/ live at the repository root; an installed wheel carries them inside the
    package (see pyproject's package-dir mapping)."""
    for candidate in (PACKAGE.parent / name, PACKAGE / name):
        if candidate.is_dir():
            return str(candidate)
    raise RuntimeError(f"samldebug: cannot find the {name}/ folder")


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def create_app(config: dict[str, Any] | None = None) -> Flask:
    instance = os.environ.get("SAMLDEBUG_INSTANCE_PATH") or (config or {}).get("INSTANCE_PATH")
    app = Flask(
        __name__,
        template_folder=_asset_dir("templates"),
        static_folder=_asset_dir("static"),
        instance_path=str(Path(instance).resolve()) if instance else None,
        instance_relative_config=True,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # reports lead with their diagnosis: keep key order
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings, _folder = AppConfig.from_instance(os.environ, app.instance_path)
    overrides = {k.lower(): v for k, v in (config or {}).items() if k.lower() in AppConfig.__dataclass_fields__}
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    if not settings.secret_key:
        settings = dataclasses.replace(settings, secret_key=_secret_key(Path(app.instance_path)))
    if not settings.database_url:
        db = Path(app.instance_path) / "samldebug.db"
        settings = dataclasses.replace(settings, database_url=f"sqlite:///{db}")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        # A pasted (non-file) form field may hold the documented paste limit (werkzeug's default is 500 kB: a
        # 600 kB paste got a silent 413).
        MAX_FORM_MEMORY_SIZE=settings.max_input_bytes,
        SAMLDEBUG=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update({k: v for k, v in (config or {}).items() if k.isupper()})
    catalog.load_all()  # a broken data file fails at start-up, not on a user's request
    app.extensions["samldebug.profiles"] = profiles.load_profiles(settings.profiles_path(Path(app.instance_path)))
    profiles.presets()
    if settings.sp_private_key_file:
        key_data = Path(settings.sp_private_key_file).read_bytes()
        app.extensions["samldebug.sp_keys"] = tuple(decrypt.load_private_keys(key_data))

    # The optional sign-in log lookup (graph.py): nothing is ever fetched unless the operator configured it.
    app.extensions["samldebug.graph"] = app.config.get("GRAPH_SETTINGS") or graph.from_config(settings)

    app.jinja_env.filters["ticks"] = ticks
    app.jinja_env.filters["uris"] = uris
    jsonio.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    logs.install(app)
    logs.init_request_logging(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(lookup.bp)
    sharing.init_app(app)
    limits.init_app(app)
    from . import testsp

    testsp.init_app(app)  # after limits: its ACS/SLO/preview share the analysis rate limit
    audit.init_app(app, context.store, lambda: (app.config.get("CLOCK") or _utcnow)())
    mine.init_app(app)
    return app


def _utcnow() -> datetime:
    return datetime.now(UTC)
