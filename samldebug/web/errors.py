"""Every error is one of our own pages (HTML) or one JSON shape (API, .json / .xml twins): `error_body`; never a
stack trace. A FormError (a request that cannot be analysed) is handled here too: JSON callers get the JSON
shape, HTML pages registered with `form_page` show themselves again with the message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from ..config import MiB
from .logs import redact_path

log = logging.getLogger("samldebug.web")

FRIENDLY = {
    400: "That request could not be used.",
    401: "Sign-in required.",
    403: "You may not do that here.",
    404: "There is nothing here (or it has expired).",
    405: "That is not how this page is used.",
    413: "That upload is larger than this server accepts.",
    429: "Too many requests from your address; wait a moment and try again.",
    500: "Something went wrong on our side. The input was not stored.",
    503: "A service this page needs is unavailable right now.",
}


class FormError(ValueError):
    """A request that cannot be analysed at all (400 with this message)."""


# endpoint → how that HTML page shows a FormError (the page again, with the message and what the user typed)
_FORM_PAGES: dict[str, Callable[[str], Any]] = {}


def form_page(endpoint: str, render: Callable[[str], Any]) -> None:
    _FORM_PAGES[endpoint] = render


def wants_json() -> bool:
    return request.method == "DELETE" or request.path.startswith("/api/") or request.path.endswith((".json", ".xml"))


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


def handle(error: HTTPException) -> Any:
    status = error.code or 500
    message = FRIENDLY.get(status, "Error")
    detail = error.description if status in (400, 401, 403, 404, 413, 429, 503) and error.description else None
    if status == 413:
        upload = request.max_content_length or 0
        paste = current_app.config.get("MAX_FORM_MEMORY_SIZE") or 0
        if upload and (request.content_length or 0) > upload:
            detail = f"The upload limit is {upload // MiB} MiB. Export a smaller capture, or ask the operator."
        else:
            detail = (
                f"A pasted field may hold {paste / MiB:g} MiB. Paste only the SAMLResponse, or upload the file "
                f"instead (up to {upload // MiB} MiB)."
            )
    if wants_json():
        return jsonify(error_body(status, detail or message)), status
    return render_template("error.html", status=status, message=message, detail=detail), status


def handle_unexpected(error: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, redact_path(request.path))  # never a key in a log
    return handle(InternalServerError())


def handle_form_error(error: FormError) -> Any:
    render = _FORM_PAGES.get(request.endpoint or "")
    if wants_json() or render is None:
        if wants_json():
            return jsonify(error_body(400, str(error))), 400
        return handle(BadRequest(str(error)))
    return render(str(error))


def init_app(app: Flask) -> None:
    app.register_error_handler(FormError, handle_form_error)
    app.register_error_handler(HTTPException, handle)
    app.register_error_handler(Exception, handle_unexpected)
