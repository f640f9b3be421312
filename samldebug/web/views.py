"""HTML pages: the paste form and the report. The same URLs work without JavaScript (full pages) and with
htmx (the report partial swapped in)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from .. import catalog, sniff
from ..config import Settings
from ..diff import compare
from ..instants import iso
from ..model import Report
from ..pipeline import analyze
from ..report import to_json, verdict
from ..sniff import Box
from ..ticket import judged_at, ticket_text
from . import audit, errors, forms, limits, present
from .context import clock, config, graph_settings, typed, upload_names
from .context import fields as request_fields
from .errors import error_body
from .forms import choices, run_analysis

bp = Blueprint("ui", __name__)


def page_context(
    report: Report | None, fields: dict[str, str], error: str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """Everything the paste page and its report partial show (also used by sharing)."""
    ctx: dict[str, Any] = {
        "fields": fields,
        "error": error,
        "choices": choices(),
        "profile": settings.profile if settings is not None else None,
        "default_skew": config().default_skew,
        "misplaced": misplaced(),
        "signin_lookup": graph_settings() is not None,  # the report's "Look up in sign-in logs" action
    }
    if report is not None:
        ctx.update(present.view(report, config().limits(), clock(), settings=settings))
        given = request_fields()
        key_given = isinstance(given.get("sp_key"), str) and bool(given["sp_key"].strip())
        ctx["chips"] = present.chips(fields, upload_names(), key_given=key_given)
    return ctx


# form field → (the role sniff knows it by, the label the form shows)
BOXES = {
    "input": (Box.MESSAGE, "Paste a SAMLResponse…"),
    "metadata": (Box.IDP_METADATA, "Federation Metadata XML"),
    "cert": (Box.IDP_CERT, "IdP signing certificate"),
    "sp_cert": (Box.SP_CERT, "SP signing certificate"),
    "sp_key": (Box.SP_KEY, "SP private key"),
    "metadata_url": (Box.METADATA_URL, "App Federation Metadata Url"),
    "sp_entity_id": (Box.SP_ENTITY_ID, "SP entity ID"),
    "acs_url": (Box.ACS_URL, "ACS URL"),
    "tenant": (Box.TENANT, "Tenant"),
    "app_id": (Box.APP_ID, "Application (client) ID"),
}
FIELD_OF = {box: (name, label) for name, (box, label) in BOXES.items()}


def misplaced() -> list[dict[str, str | None]]:
    """Values typed into the wrong box, with the box they belong in (sniff.misplaced on each form field)."""
    if request.method != "POST" or request.is_json:
        return []
    given = request_fields()
    out: list[dict[str, str | None]] = []
    limits = config().limits()
    for name, (box, _label) in BOXES.items():
        value = given.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        found = sniff.misplaced(box, value, limits)
        if found is None:
            continue
        target = FIELD_OF.get(found.belongs) if found.belongs else None
        out.append(
            {
                "field": name,
                "message": found.message,
                "action": found.action,
                "target": target[0] if target else None,
                "target_label": target[1] if target else None,
            }
        )
    return out


def _page(
    report: Report | None,
    fields: dict[str, str],
    error: str | None,
    status: int = 200,
    settings: Settings | None = None,
) -> Any:
    ctx = page_context(report, fields, error, settings)
    partial = request.headers.get("HX-Request") == "true"
    # htmx swaps only 2xx answers by default: a form error is shown in place with 200, the full page keeps 400.
    template = "_report.html" if partial else "index.html"
    return render_template(template, **ctx), (200 if partial else status)


@bp.get("/")
def index() -> Any:
    return _page(None, {}, None)


@bp.post("/analyze")
@limits.analyze
def analyze_page() -> Any:
    a, report = run_analysis()
    return _page(report, a.fields, None, settings=a.settings)


errors.form_page("ui.analyze_page", lambda message: _page(None, typed(), message, 400))


@bp.post("/analyze.json")
@limits.analyze
def analyze_json() -> Any:
    _, report = run_analysis()
    return jsonify(to_json(report))


@bp.post("/analyze.txt")
def analyze_text() -> Any:
    """The ticket text: the diagnosis, the steps, the key evidence (what "Copy for ticket" copies)."""
    _, report = run_analysis()
    return Response(ticket_text(report), mimetype="text/plain")


@bp.post("/analyze.xml")
@limits.analyze
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


def _time_source(side: str, report: Report) -> str:
    basis = getattr(report, "time_basis", None)  # set by the diagnosis work; absent before it lands
    if report.input.capture is not None or basis == "capture":
        return "each message when the capture received it"  # a capture is judged at receipt, a time given or not
    given = request_fields().get(f"now_{side}")
    if isinstance(given, str) and given.strip():
        return "the time you gave"
    if basis == "issue":
        return "the message's own IssueInstant"
    if report.now == iso(clock()):
        return "now"
    return "the message's own time"


@bp.post("/compare")
@limits.analyze_twice
def compare_post() -> Any:
    fields = typed()
    reports, sides = [], []
    for side in ("a", "b"):
        a = forms.parse(clock(), input_field=f"input_{side}", file_field=f"file_{side}", now_field=f"now_{side}")
        report = analyze(a.data, a.settings, now=a.now, notes=a.notes, at_message_time=a.at_message_time)
        audit.analysed()  # a count per user and address, never the input
        reports.append(report)
        sides.append(
            {
                "report": report,
                "verdict": verdict(report),
                "time_source": _time_source(side, report),
                "judged_at": judged_at(report),
                **present.view(report, config().limits(), clock(), settings=a.settings),
            }
        )
    differences = compare(reports[0], reports[1])
    result = {
        "decisive": [d for d in differences if d.decisive],
        "other": [d for d in differences if not d.decisive],
        "sides": sides,
    }
    return render_template("compare.html", fields=fields, result=result, error=None)


errors.form_page(
    "ui.compare_post",
    lambda message: (render_template("compare.html", fields=typed(), result=None, error=message), 400),
)
