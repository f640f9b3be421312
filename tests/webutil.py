"""Helpers for web tests: an app on a temp instance folder, CSRF-aware posting, a live server."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from factory import T0
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from samldebug.web import create_app

CLOCK = T0 + timedelta(minutes=1)


def make_app(tmp_path: Path, **config: Any) -> Flask:
    base = {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "CLOCK": lambda: CLOCK}
    base.update(config)
    return create_app(base)


def csrf(client: FlaskClient) -> str:
    html = client.get("/").get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the form must carry a CSRF token"
    return m.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf(client), **data}, **kw)


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
