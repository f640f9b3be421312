"""HTML pages: the paste form and the report. The same URLs work without JavaScript (full pages) and with
htmx (the report partial swapped in)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from .. import catalog
from ..diff import compare
from ..model import Report
from ..pipeline import analyze
from ..report import to_json, verdict
from . import errors, forms, present
from .context import clock, config, typed
from .errors import error_body
from .forms import choices, run_analysis

bp = Blueprint("ui", __name__)


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
    a, report = run_analysis()
    return _page(report, a.fields, None, profile=a.settings.profile)


errors.form_page("ui.analyze_page", lambda message: _page(None, typed(), message, 400))


@bp.post("/analyze.json")
def analyze_json() -> Any:
    _, report = run_analysis()
    return jsonify(to_json(report))


@bp.post("/analyze.xml")
def analyze_xml() -> Any:
    _, report = run_analysis()
    if not report.messages:
        return jsonify(error_body(400, "No SAML message could be decoded.")), 400
    return Response(
        report.messages[0].xml,
        mimetype="application/xml",
        headers={"Content-Disposition": 'attachment; filename="saml-message.xml"'},
    )


@bp.get("/findings")
def findings_page() -> Any:
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
    fields = typed()
    reports = []
    for side in ("a", "b"):
        a = forms.parse(clock(), input_field=f"input_{side}")
        reports.append(analyze(a.data, a.settings, now=a.now, notes=a.notes))
    result = {
        "differences": compare(reports[0], reports[1]),
        "sides": [{"report": r, "verdict": verdict(r), **present.view(r, config().limits(), clock())} for r in reports],
    }
    return render_template("compare.html", fields=fields, result=result, error=None)


errors.form_page(
    "ui.compare_post",
    lambda message: (render_template("compare.html", fields=typed(), result=None, error=message), 400),
)
