"""One request → (input bytes, Settings, now, notes): shared by the HTML views and the API.

Fields (form or JSON body): input | file, metadata (text) | metadata_file, cert (text) | cert_file,
sp_entity_id, acs_url, idp_entity_id, skew, now, required_claims, name_id_format; for sharing also share,
expires_in, redact, title (read by sharing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from werkzeug.datastructures import FileStorage

from .. import trust
from ..checks import parse_time
from ..config import AppConfig, Settings
from ..model import Finding


class FormError(ValueError):
    """A request that cannot be analysed at all (400 with this message)."""


@dataclass(frozen=True)
class Analysis:
    data: bytes
    settings: Settings
    now: datetime
    notes: tuple[Finding, ...]
    fields: dict[str, str]  # what the user typed, to refill the form


def _config() -> AppConfig:
    config: AppConfig = current_app.config["SAMLDEBUG"]
    return config


def _fields() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise FormError("The JSON body must be an object with an 'input' field.")
        return {k: v for k, v in body.items() if isinstance(v, (str, int, float, list))}
    return {k: v for k, v in request.form.items()}


def _file(name: str, cap: int) -> bytes | None:
    f: FileStorage | None = request.files.get(name)
    if f is None or not f.filename:
        return None
    data = f.stream.read(cap + 1)
    return data


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_now(text: str) -> datetime:
    parsed = parse_time(text)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(text)  # the form's datetime-local (no zone: taken as UTC)
        except ValueError:
            raise FormError(f"'now' must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not {text!r}.") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse(clock: datetime, *, sharing: bool = False) -> Analysis:
    """`sharing`: the share button re-sends the form; the report's own evaluation instant (share_now) is
    reused when the user gave none, so the stored report is the one they saw."""
    config = _config()
    limits = config.limits()
    fields = _fields()
    upload = _file("file", config.max_upload_bytes)
    data = upload if upload is not None else _text(fields, "input").encode("utf-8")
    if not data.strip():
        raise FormError("Nothing to analyse: paste a SAML message or choose a file.")
    metadata_docs = []
    md_text = _text(fields, "metadata")
    if md_text:
        metadata_docs.append((md_text.encode("utf-8"), "pasted metadata"))
    md_file = _file("metadata_file", limits.max_xml_bytes * 2)
    if md_file:
        metadata_docs.append((md_file, "uploaded metadata"))
    cert_docs = []
    cert_text = _text(fields, "cert")
    if cert_text:
        cert_docs.append((cert_text.encode("utf-8"), "pasted certificate"))
    cert_file = _file("cert_file", 256 * 1024)
    if cert_file:
        cert_docs.append((cert_file, "uploaded certificate"))
    found = trust.collect(metadata_docs, cert_docs, limits)

    skew_text = str(fields.get("skew", "") or "").strip()
    try:
        skew = int(skew_text) if skew_text else config.default_skew
    except ValueError:
        raise FormError(f"'skew' must be a whole number of seconds, not {skew_text!r}.") from None
    if not 0 <= skew <= 86400:
        raise FormError("'skew' must be between 0 and 86400 seconds.")
    now_text = str(fields.get("now", "") or "").strip()
    if sharing and not now_text:
        now_text = str(fields.get("share_now", "") or "").strip()
    now = parse_now(now_text) if now_text else clock
    claims_raw = fields.get("required_claims", "")
    claims = claims_raw if isinstance(claims_raw, list) else str(claims_raw).replace(",", "\n").splitlines()
    settings = Settings(
        sp_entity_id=_text(fields, "sp_entity_id") or None,
        acs_url=_text(fields, "acs_url") or None,
        idp_entity_id=_text(fields, "idp_entity_id") or found.idp_entity_id,
        anchors=tuple(found.anchors),
        skew=skew,
        limits=limits,
        required_claims=tuple(c.strip() for c in claims if str(c).strip()),
        name_id_format=_text(fields, "name_id_format") or None,
    )
    shown = {k: str(v) for k, v in fields.items() if k not in ("input", "csrf_token") and isinstance(v, (str, int))}
    return Analysis(data, settings, now, tuple(found.notes), shown)
