"""Request logs without secrets: permalink keys and delete tokens are cut from every logged path, and no
SAML payload is ever logged. Used by the Flask dev server (werkzeug) and by gunicorn (RedactingLogger)."""

from __future__ import annotations

import copy
import logging
import re
import secrets
import sys
import threading
import time
from typing import Any

import msgspec
from flask import Flask, g, request
from gunicorn.glogging import Logger, SafeAtoms

# /r/<id>/<key>[.json|.txt] and /r/<id>/delete/<token>
_SECRET_PATH = re.compile(r"(/r/[A-Za-z0-9_-]+/)(delete/)?[A-Za-z0-9_-]{20,}")


# HTTP-Redirect binding parameters (the test SP's logout URL receives them in the query string)
_SAML_QUERY = re.compile(r"\b(SAMLRequest|SAMLResponse|Signature|SigAlg|RelayState)=[^&\s\"]*")


def redact_path(text: str) -> str:
    # Every text either pattern can match contains one of these; anything else (an ordinary path, nearly every
    # access-log atom) is returned as it is, without the two substitutions.
    if "/r/" not in text and "SAML" not in text and "Sig" not in text and "RelayState" not in text:
        return text
    text = _SECRET_PATH.sub(lambda m: m.group(1) + (m.group(2) or "") + "[redacted]", text)
    return _SAML_QUERY.sub(lambda m: m.group(1) + "=[redacted]", text)


class RedactingFilter(logging.Filter):
    """Cuts keys out of a record's message, its arguments and its formatted traceback (gunicorn's "Error handling
    request /r/<id>/<key>" carries the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if record.args and not isinstance(record.args, RedactedAtoms):
            if isinstance(record.args, dict):
                args = record.args
                changed = {k: cut for k, v in args.items() if isinstance(v, str) and (cut := redact_path(v)) != v}
                if changed:  # a copy of the same mapping type: gunicorn's atoms answer '-' for a missing key
                    record.args = copy.copy(record.args)
                    record.args.update(changed)
            else:
                record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_path(record.exc_text)
        return True


class RedactedAtoms(SafeAtoms):  # type: ignore[misc]
    """The atoms of one gunicorn access line, made only by RedactingLogger.access from RedactingLogger.atoms, which
    has cut every secret out of every text atom: RedactingFilter does not go over them a second time."""


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn logger class: `gunicorn --logger-class samldebug.web.logs.RedactingLogger …` (`samldebug serve`
    passes it). Access lines are built from redacted atoms; every error-log handler carries RedactingFilter."""

    atoms_wrapper_class = RedactedAtoms

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():  # every text atom: the request line, paths, query, headers, environ
            if isinstance(value, str):
                atoms[key] = redact_path(value)
        return atoms


def install(app: Flask | None = None) -> None:
    """The filter on werkzeug's request log, on the app's own logger and on every root handler (the error log
    of a failed permalink request names the path)."""
    loggers = [logging.getLogger("werkzeug"), logging.getLogger("samldebug")]
    if app is not None:
        loggers.append(app.logger)
    for logger in loggers:
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    for handler in [*logging.getLogger().handlers, *(app.logger.handlers if app is not None else [])]:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


access_log = logging.getLogger("samldebug.access")


class AccessLine(msgspec.Struct):
    """The fields of one request-log line, in their order. Nothing else can be put in it."""

    request_id: str
    method: str
    path: str  # redacted
    status: int
    ms: float
    bytes_in: int
    bytes_out: int


_encode_line = msgspec.json.Encoder().encode
_stderr_lock = threading.Lock()


def write_line(line: str) -> None:
    """One request-log line. Through logging when anything receives samldebug.access records (a handler on it or on
    an ancestor: dictConfig, gunicorn's --log-config, pytest's caplog); when nothing does (plain gunicorn, `samldebug
    serve`), straight to stderr as one line, which is what a StreamHandler with a '%(message)s' formatter wrote,
    without building a LogRecord and running the handler and formatter chain for every request."""
    if access_log.hasHandlers():
        # Logger.info would also walk the stack to find its caller (findCaller) for every request; the record names
        # the request-log hook instead and goes through the same filters and handlers.
        access_log.handle(access_log.makeRecord(access_log.name, logging.INFO, __file__, 0, line, (), None, "_log"))
        return
    with _stderr_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def init_request_logging(app: Flask) -> None:
    """One JSON line per request: method, path (keys cut out), status, duration, sizes, a request ID.
    Never a body, a SAML payload, a cookie or a header value."""

    def _start() -> None:
        g.samldebug_started = time.perf_counter()
        g.samldebug_request_id = secrets.token_hex(6)

    def _log(response: Any) -> Any:
        started = g.get("samldebug_started")
        request_id = g.get("samldebug_request_id", "-")
        response.headers["X-Request-ID"] = request_id
        if started is not None and access_log.isEnabledFor(logging.INFO):  # nothing is built when nobody listens
            line = AccessLine(
                request_id,
                request.method,
                redact_path(request.path),
                response.status_code,
                round((time.perf_counter() - started) * 1000, 1),
                request.content_length or 0,
                response.calculate_content_length() or 0,
            )
            write_line(_encode_line(line).decode())
        return response

    app.before_request(_start)
    app.after_request(_log)
    if not logging.getLogger().handlers and not access_log.handlers and access_log.level == logging.NOTSET:
        # Nothing configured logging (plain gunicorn): the lines go to stderr (write_line), where gunicorn's go.
        access_log.setLevel(logging.INFO)
