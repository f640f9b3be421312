"""HTML pages: the paste form and the report. The same URLs work without JavaScript (full pages) and with
htmx (the report partial swapped in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..config import AppConfig
from ..model import Report
from ..pipeline import analyze
from ..report import to_json
from . import forms, present

bp = Blueprint("ui", __name__)


def clock() -> datetime:
    fn: Callable[[], datetime] | None = current_app.config.get("CLOCK")
    return fn() if fn is not None else datetime.now(UTC)


def config() -> AppConfig:
    value: AppConfig = current_app.config["SAMLDEBUG"]
    return value


def run_analysis(sharing: bool = False) -> tuple[forms.Analysis, Report]:
    a = forms.parse(clock(), sharing=sharing)
    return a, analyze(a.data, a.settings, now=a.now, notes=a.notes)


def choices() -> dict[str, Any]:
    from .. import profiles

    return {"configured": list(forms.configured_profiles()), "presets": profiles.presets()}


def _page(
    report: Report | None, fields: dict[str, str], error: str | None, status: int = 200, profile: Any = None
) -> Any:
    ctx: dict[str, Any] = {"fields": fields, "error": error, "choices": choices(), "profile": profile}
    if report is not None:
        ctx.update(present.view(report, config().limits(), clock()))
    partial = request.headers.get("HX-Request") == "true"
    # htmx swaps only 2xx answers by default: a form error is shown in place with 200, the full page keeps 400.
    template = "_report.html" if partial else "index.html"
    return render_template(template, **ctx), (200 if partial else status)


@bp.get("/")
def index() -> Any:
    return _page(None, {}, None)


@bp.post("/analyze")
def analyze_page() -> Any:
    try:
        a, report = run_analysis()
    except forms.FormError as e:
        return _page(None, {k: v for k, v in request.form.items() if k != "csrf_token"}, str(e), 400)
    return _page(report, a.fields, None, profile=a.settings.profile)


@bp.post("/analyze.json")
def analyze_json() -> Any:
    try:
        _, report = run_analysis()
    except forms.FormError as e:
        return jsonify({"error": {"status": 400, "message": str(e)}}), 400
    return jsonify(to_json(report))


@bp.post("/analyze.xml")
def analyze_xml() -> Any:
    try:
        _, report = run_analysis()
    except forms.FormError as e:
        return jsonify({"error": {"status": 400, "message": str(e)}}), 400
    if not report.messages:
        return jsonify({"error": {"status": 400, "message": "No SAML message could be decoded."}}), 400
    return Response(
        report.messages[0].xml,
        mimetype="application/xml",
        headers={"Content-Disposition": 'attachment; filename="saml-message.xml"'},
    )


@bp.get("/findings")
def findings_page() -> Any:
    from .. import catalog

    return render_template(
        "findings.html",
        findings=sorted(catalog.findings().values(), key=lambda e: e.code),
        aadsts=sorted(catalog.aadsts().values(), key=lambda e: int(e.code)),
    )


@bp.get("/compare")
def compare_page() -> Any:
    return render_template("compare.html", fields={}, result=None, error=None)


@bp.post("/compare")
def compare_post() -> Any:
    from ..diff import compare
    from ..report import verdict

    fields = {k: v for k, v in request.form.items() if k != "csrf_token"}
    reports = []
    try:
        for side in ("a", "b"):
            a = forms.parse(clock(), input_field=f"input_{side}")
            reports.append(analyze(a.data, a.settings, now=a.now, notes=a.notes))
    except forms.FormError as e:
        return render_template("compare.html", fields=fields, result=None, error=str(e)), 400
    result = {
        "differences": compare(reports[0], reports[1]),
        "sides": [{"report": r, "verdict": verdict(r), **present.view(r, config().limits(), clock())} for r in reports],
    }
    return render_template("compare.html", fields=fields, result=result, error=None)
