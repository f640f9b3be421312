"""Permalinks: share a report, open it by link, delete it. The key is a path segment that is never logged or
stored (see logs.py); the database holds only ciphertext and a hash of the key."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request, url_for

from .. import redact
from ..report import from_json, to_json, to_text
from ..store import Created, StoreError
from ..store.crypto import Unsealable
from ..ticket import ticket_text as report_ticket
from . import audit, errors, limits, present
from .context import clock, config, fields, store
from .errors import FormError, error_body, wants_json
from .forms import run_analysis
from .views import page_context

bp = Blueprint("share", __name__)

EXPIRY_CHOICES = {"1h": 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_EXPIRY = 7 * 86400
_ID = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def parse_expiry(value: object) -> int:
    if value is None or value == "":
        return min(DEFAULT_EXPIRY, config().share_max_expiry)
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise FormError(f"'expires_in' must be one of {', '.join(EXPIRY_CHOICES)} or a number of seconds")
    seconds = EXPIRY_CHOICES.get(value) if isinstance(value, str) else None
    if seconds is None:
        try:
            seconds = int(value)
        except (ValueError, OverflowError):
            raise FormError(f"'expires_in' must be one of {', '.join(EXPIRY_CHOICES)} or seconds") from None
    if seconds <= 0:
        raise FormError("'expires_in' must be positive")
    return min(seconds, config().share_max_expiry)


def share_report(doc: dict[str, Any], fields: dict[str, Any]) -> tuple[Created, dict[str, str], dict[str, Any]]:
    """Store the redacted report; returns the store's answer, the two links and what was stored."""
    level = fields.get("redact") or "identity"
    if not isinstance(level, str):
        raise FormError(f"'redact' must be one of {', '.join(redact.LEVELS)}")
    if level not in redact.LEVELS:
        raise FormError(f"'redact' must be one of {', '.join(redact.LEVELS)}")
    raw_title = fields.get("title") or ""
    title = raw_title[:200] if isinstance(raw_title, str) else ""
    stored = {"report": redact.redact(doc, level), "title": title}
    payload = json.dumps(stored).encode()
    now = clock()
    created = store().create(
        payload, now=now, expires_at=now + timedelta(seconds=parse_expiry(fields.get("expires_in"))), redaction=level
    )
    audit.record("share", created.id)
    links = {
        "permalink": url_for("share.permalink", report_id=created.id, key=created.key, _external=True),
        "delete_url": url_for("share.delete_confirm", report_id=created.id, token=created.delete_token, _external=True),
    }
    return created, links, stored


def ticket_text(doc: dict[str, Any], title: str, meta: Any, link: str) -> str:
    """The .txt (what /r/<id>/<key>.txt serves), built from the stored, redacted report: the ticket text first
    (diagnosis, steps, evidence, link), then the full text report."""
    head = f"{title or 'samldebug report'} (redaction: {meta.redaction}, expires {meta.expires_at:%Y-%m-%d %H:%M} UTC)"
    report = from_json(doc)
    return report_ticket(report, link, head) + "\n" + to_text(report)


@bp.post("/share")
@limits.share
@limits.analyze
def share() -> Any:
    a, report = run_analysis(sharing=True)
    ctx = page_context(report, a.fields, None, a.settings)
    try:
        created, links, stored = share_report(to_json(report), fields())
        text_url = url_for("share.permalink_text", report_id=created.id, key=created.key, _external=True)
        ctx["shared"] = {
            "created": created,
            "text_url": text_url,
            "ticket_text": ticket_text(stored["report"], stored["title"], created.meta, links["permalink"]),
            **links,
        }
        # "Copy for ticket" now carries the link; built from what was stored (redacted).
        ctx["ticket"] = report_ticket(from_json(stored["report"]), links["permalink"])
    except FormError as e:
        ctx["share_error"] = str(e)
    except StoreError:
        ctx["share_error"] = (
            "Sharing is unavailable right now: the report database cannot be reached. The analysis below is complete."
        )
    partial = request.headers.get("HX-Request") == "true"
    return render_template("_report.html" if partial else "index.html", **ctx)


errors.form_page("share.share", lambda message: (render_template("_report.html", error=message, fields={}), 200))


def _open(report_id: str, key: str) -> tuple[Any, dict[str, Any]]:
    if not _ID.match(report_id):
        abort(404)
    try:
        opened = store().open(report_id, key, clock())
    except Unsealable:
        meta = store().meta(report_id, clock())
        if meta is None:
            abort(404)
        return meta, {}
    if opened is None:
        abort(404, description="This report does not exist, has expired or was deleted.")
    meta, plaintext = opened
    audit.record("open", report_id)
    return meta, json.loads(plaintext)


def _wrong_key(meta: Any) -> Any:
    return render_template("locked.html", meta=meta), 403


@bp.get("/r/<report_id>/<key>")
def permalink(report_id: str, key: str) -> Any:
    meta, data = _open(report_id, key)
    if not data:
        return _wrong_key(meta)
    report = from_json(data["report"])
    link = url_for("share.permalink", report_id=report_id, key=key, _external=True)
    ctx = present.view(report, config().limits(), None, permalink=link)
    return render_template("permalink.html", meta=meta, title=data.get("title"), report_id=report_id, key=key, **ctx)


@bp.get("/r/<report_id>/<key>.json")
def permalink_json(report_id: str, key: str) -> Any:
    meta, data = _open(report_id, key)
    if not data:
        return jsonify(dict(error_body(403, "wrong key"), exists=_meta_json(meta))), 403
    doc = dict(data["report"])
    doc["shared"] = dict(_meta_json(meta), title=data.get("title"))
    return jsonify(doc)


@bp.get("/r/<report_id>/<key>.txt")
def permalink_text(report_id: str, key: str) -> Any:
    meta, data = _open(report_id, key)
    if not data:
        return Response("This report exists, but the key in the link is wrong.\n", 403, mimetype="text/plain")
    link = url_for("share.permalink", report_id=report_id, key=key, _external=True)
    return Response(ticket_text(data["report"], data.get("title") or "", meta, link), mimetype="text/plain")


@bp.get("/r/<report_id>")
def without_key(report_id: str) -> Any:
    meta = store().meta(report_id, clock()) if _ID.match(report_id) else None
    if meta is None:
        abort(404, description="This report does not exist, has expired or was deleted.")
    return _wrong_key(meta)


@bp.get("/r/<report_id>/delete/<token>")
def delete_confirm(report_id: str, token: str) -> Any:
    meta = store().meta(report_id, clock()) if _ID.match(report_id) else None
    if meta is None:
        abort(404, description="This report does not exist, has expired or was deleted.")
    return render_template("delete.html", meta=meta, report_id=report_id, token=token)


def delete_report(report_id: str, token: str) -> None:
    """Delete with the delete token (404 when the id or token is wrong or the report is gone)."""
    if not _ID.match(report_id) or not token or len(token) > 128 or not store().delete(report_id, token):
        abort(404, description="Nothing to delete: the link is wrong, or the report is already gone.")
    audit.record("delete", report_id)


@bp.route("/r/<report_id>/delete/<token>", methods=["POST", "DELETE"])
def delete(report_id: str, token: str) -> Any:
    """POST from the confirmation page (browser, CSRF token); DELETE from scripts on the API's delete_url (no
    browser session: the token in the link is the capability, and a cross-site DELETE needs a CORS preflight this
    server never grants)."""
    delete_report(report_id, token)
    if request.method == "DELETE":
        return jsonify({"deleted": report_id}), 200
    return render_template("deleted.html"), 200


def _meta_json(meta: Any) -> dict[str, str]:
    return {
        "created": meta.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": meta.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redaction": meta.redaction,
    }


def store_unavailable(error: StoreError) -> Any:
    message = (
        "Shared reports are unavailable right now (the report database cannot be reached). "
        "Pasting and analysing still work."
    )
    if wants_json():
        return jsonify(error_body(503, message)), 503
    return render_template("error.html", status=503, message="Service unavailable", detail=message), 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(StoreError, store_unavailable)
