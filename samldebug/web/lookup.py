"""POST /signins/lookup: the report's "Look up in sign-in logs" action (only when the operator configured it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .. import graph
from ..config import Settings
from ..model import AnalysisStop
from ..pipeline import analyze, stopped
from . import limits
from .context import clock, config, graph_resolver, graph_settings
from .context import fields as context_fields
from .errors import FormError
from .views import _page

bp = Blueprint("lookup", __name__)


@bp.post("/signins/lookup")
@limits.analyze
def lookup_page() -> Any:
    settings = graph_settings()
    if settings is None:
        raise FormError("The sign-in log lookup is not configured on this server (SAMLDEBUG_GRAPH_*).")
    given = context_fields()
    kind = "request" if str(given.get("kind", "")) == "request" else "correlation"
    value = str(given.get("id", "") or "").strip()
    analysis = Settings(limits=config().limits())
    now = clock()
    try:
        body = graph.lookup(settings, kind, value, resolver=graph_resolver())
        report = analyze(body, analysis, now=now)
    except AnalysisStop as stop:
        report = stopped(stop.finding, 0, analysis, now)
    return _page(report, {"signin_filter": value}, None)
