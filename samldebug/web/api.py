"""HTTP API for scripts and ticket systems: POST /api/v1/analyze; its OpenAPI document; health."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, jsonify, request

from .. import __version__
from ..report import dumps, to_json
from . import limits
from .context import fields
from .errors import error_body
from .forms import run_analysis
from .sharing import delete_report, share_report

bp = Blueprint("api", __name__)


@bp.before_request
def refuse_cross_site_forms() -> Any:
    """A form-encoded (or text/plain) POST needs no CORS preflight, so any web page a colleague visits could make
    their browser post one to an intranet instance. Browsers say where such a post comes from (Sec-Fetch-Site,
    Origin): a cross-site one is refused. JSON posts need a preflight this API never grants; scripts send neither
    header."""
    if request.method != "POST" or request.is_json:
        return None
    site = request.headers.get("Sec-Fetch-Site", "")
    origin = request.headers.get("Origin")
    foreign_origin = origin is not None and urlsplit(origin).netloc != request.host
    if site in ("cross-site", "same-site") or foreign_origin:
        message = "Cross-site form posts are refused: send JSON (Content-Type: application/json) from a script."
        return jsonify(error_body(403, message)), 403
    return None


@bp.post("/api/v1/analyze")
@limits.share_requested
@limits.analyze
def api_analyze() -> Any:
    _, report = run_analysis()
    if not limits.share_wanted():
        # The report encoded straight from its dataclasses: the same bytes as jsonify(to_json(report)), without
        # making builtins of it first.
        return Response(dumps(report, indent=None), mimetype="application/json")
    doc = to_json(report)
    created, links, _ = share_report(doc, fields())
    doc.update(links)
    doc["expires"] = created.meta.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return jsonify(doc)


@bp.delete("/api/v1/reports/<report_id>")
def api_delete(report_id: str) -> Any:
    """Delete a shared report with its delete token: `Authorization: Bearer <token>` (or `X-Delete-Token`).
    The token never travels in the URL here, so it cannot reach an access log."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("X-Delete-Token", "").strip()
    if not token:
        abort(401, description="Send the delete token as 'Authorization: Bearer <token>'.")
    delete_report(report_id, token)
    return jsonify({"deleted": report_id})


@bp.get("/healthz")
def health() -> Any:
    return jsonify({"status": "ok", "version": __version__})


FIELDS: dict[str, dict[str, Any]] = {
    "input": {"type": "string", "description": "The SAML message: XML, base64, a form body or a Redirect URL."},
    "sp_entity_id": {"type": "string", "description": "Expected Audience (Entra 'Identifier (Entity ID)')."},
    "acs_url": {"type": "string", "description": "Expected Recipient / Destination (Entra 'Reply URL')."},
    "idp_entity_id": {"type": "string", "description": "Expected Issuer (default: the metadata's entityID)."},
    "metadata": {"type": "string", "description": "IdP federation metadata XML (trust anchors)."},
    "cert": {"type": "string", "description": "IdP signing certificate, PEM or base64."},
    "skew": {"type": "integer", "minimum": 0, "maximum": 86400, "description": "Clock skew in seconds."},
    "now": {
        "type": "string",
        "format": "date-time",
        "description": "Evaluate time checks at this instant. Default: a message at its own IssueInstant, a capture "
        "at the time the SP received each message.",
    },
    "required_claims": {"type": "string", "description": "Claim names the SP requires, comma or newline separated."},
    "name_id_format": {"type": "string", "description": "The NameID format the SP expects."},
    "signin_log": {
        "type": "string",
        "description": "An Entra sign-in log beside the input (Graph JSON or the admin center's JSON / CSV download); "
        "its events are matched to the input by correlation ID, request ID, or user and time.",
    },
    "signin_filter": {
        "type": "string",
        "description": "Keep only log events of this correlation ID, request ID or UPN.",
    },
    "share": {"type": "string", "description": "1 to also store the report and return permalink and delete_url."},
    "expires_in": {"type": "string", "description": "Permalink lifetime: 1h, 1d, 7d (default), 30d or seconds."},
    "redact": {"type": "string", "enum": ["none", "identity", "all"], "description": "Redaction of the stored report."},
    "title": {"type": "string", "description": "A title shown on the permalink page."},
}


def openapi() -> dict[str, Any]:
    form_schema = {"type": "object", "properties": dict(FIELDS)}
    multipart = {
        "type": "object",
        "properties": {
            **FIELDS,
            "file": {"type": "string", "format": "binary"},
            "signin_log_file": {"type": "string", "format": "binary"},
        },
    }
    error = {
        "type": "object",
        "properties": {
            "error": {"type": "object", "properties": {"status": {"type": "integer"}, "message": {"type": "string"}}}
        },
    }
    deleted = {"type": "object", "properties": {"deleted": {"type": "string", "description": "The report id"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "samldebug",
            "version": __version__,
            "description": "Decode, verify and explain SAML messages.",
        },
        "paths": {
            "/api/v1/analyze": {
                "post": {
                    "summary": "Analyse one SAML message",
                    "operationId": "analyze",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {**form_schema, "required": ["input"]}},
                            "application/x-www-form-urlencoded": {"schema": form_schema},
                            "multipart/form-data": {"schema": multipart},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "A samldebug.report/2 document",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}},
                        },
                        "400": {"description": "Unusable request", "content": {"application/json": {"schema": error}}},
                        "413": {"description": "Request too large", "content": {"application/json": {"schema": error}}},
                    },
                }
            },
            "/api/v1/reports/{report_id}": {
                "delete": {
                    "summary": "Delete a shared report with its delete token (no browser session needed)",
                    "operationId": "deleteReport",
                    "parameters": [{"name": "report_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "security": [{"deleteToken": []}],
                    "responses": {
                        "200": {"description": "Deleted", "content": {"application/json": {"schema": deleted}}},
                        "401": {
                            "description": "No delete token sent",
                            "content": {"application/json": {"schema": error}},
                        },
                        "404": {
                            "description": "Unknown report, wrong token, or already gone",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            },
            "/r/{report_id}/delete/{token}": {
                "delete": {
                    "summary": "Delete a shared report through the delete_url returned by share=1",
                    "operationId": "deleteReportByLink",
                    "parameters": [
                        {"name": "report_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {"description": "Deleted", "content": {"application/json": {"schema": deleted}}},
                        "404": {
                            "description": "Unknown report, wrong token, or already gone",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health check",
                    "operationId": "health",
                    "responses": {"200": {"description": "The service is up"}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "deleteToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The delete token from the delete_url returned when the report was shared.",
                }
            },
            "schemas": {
                "Report": {
                    "type": "object",
                    "description": "See samldebug/schema/report-2.json",
                    "required": ["schema", "messages", "findings"],
                }
            },
        },
    }


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Any:
    return jsonify(openapi())
