"""“My shared reports”: the signed-in user's live permalinks with their expiry, and a revoke button.

Ownership comes from the audit trail (the `share` event names the user and the report id), so the reports table
holds no user name. Only with sign-in on: without it there is no user to list reports for.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for

from . import audit
from .auth import current_user

bp = Blueprint("mine", __name__)


def _user() -> str:
    user = current_user()
    if not user:
        abort(404, description="“My shared reports” needs sign-in (SAMLDEBUG_AUTH).")
    return user


def _store() -> Any:
    return current_app.extensions["samldebug.get_store"]()


def _now() -> Any:
    return current_app.extensions["samldebug.audit"].clock()


@bp.get("/my/reports")
def my_reports() -> Any:
    user = _user()
    reports = _store().shared_by(user, _now())
    return render_template("my_reports.html", reports=reports, revoked=request.args.get("revoked"))


@bp.post("/my/reports/<report_id>/revoke")
def revoke(report_id: str) -> Any:
    user = _user()
    if len(report_id) > 32 or not _store().revoke(report_id, user):
        abort(404, description="Nothing to revoke: the report is not yours, expired or already gone.")
    audit.record("revoke", report_id)
    return redirect(url_for("mine.my_reports", revoked=report_id), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
