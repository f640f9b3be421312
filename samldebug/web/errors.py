"""Every error is one of our own pages (HTML) or one JSON shape (API); never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("samldebug.web")

FRIENDLY = {
    400: "That request could not be used.",
    404: "There is nothing here (or it has expired).",
    405: "That is not how this page is used.",
    413: "That upload is larger than this server accepts.",
    429: "Too many requests from your address; wait a moment and try again.",
    500: "Something went wrong on our side. The input was not stored.",
    503: "A service this page needs is unavailable right now.",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json")


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


def handle(error: HTTPException) -> Any:
    status = error.code or 500
    message = FRIENDLY.get(status, "Error")
    detail = error.description if status in (400, 404, 413, 429, 503) and error.description else None
    if status == 413:
        limit = (request.max_content_length or 0) // (1024 * 1024)
        detail = f"The limit is {limit} MiB. Paste only the SAMLResponse, or ask the operator to raise the limit."
    if wants_json():
        return jsonify(error_body(status, detail or message)), status
    return render_template("error.html", status=status, message=message, detail=detail), status


def handle_unexpected(error: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle)
    app.register_error_handler(Exception, handle_unexpected)
