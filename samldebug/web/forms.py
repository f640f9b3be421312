"""One request → (input bytes, Settings, now, notes): shared by the HTML views and the API.

Fields (form or JSON body): input | file, metadata (text) | metadata_file, cert (text) | cert_file,
sp_entity_id, acs_url, idp_entity_id, metadata_url, tenant, app_id, cloud, profile (a configured name or
"preset:<key>" with param_<name> / preset_param), sp_metadata_file, sp_cert, expected_name_id, skew, now,
required_claims, name_id_format; for sharing also share,
expires_in, redact, title (read by sharing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage

from .. import decrypt, fetch, profiles, trust
from ..certs import Anchor, CertError, load_certs
from ..config import AppConfig, Limits, Settings
from ..instants import parse_instant
from ..model import AnalysisStop, Finding, Report
from ..pipeline import analyze
from .context import clock, config, configured_profiles, metadata_ca_file, metadata_cache, sp_keys
from .context import fields as context_fields
from .errors import FormError


@dataclass(frozen=True)
class Analysis:
    data: bytes
    settings: Settings
    now: datetime
    notes: tuple[Finding, ...]
    fields: dict[str, str]  # what the user typed, to refill the form


def run_analysis(sharing: bool = False) -> tuple[Analysis, Report]:
    """This request's fields → Analysis → Report (raises FormError for an unusable request)."""
    a = parse(clock(), sharing=sharing)
    return a, analyze(a.data, a.settings, now=a.now, notes=a.notes)


def choices() -> dict[str, Any]:
    """What the form's SP-profile menu offers."""
    return {"configured": list(configured_profiles()), "presets": profiles.presets()}


def _fields() -> dict[str, Any]:
    return {k: v for k, v in context_fields().items() if isinstance(v, (str, int, float, list))}


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
    parsed = parse_instant(text)
    if parsed is None:
        raise FormError(f"'now' must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not {text!r}.")
    return parsed


def parse(clock: datetime, *, sharing: bool = False, input_field: str = "input") -> Analysis:
    """`sharing`: the share button re-sends the form; the report's own evaluation instant (share_now) is
    reused when the user gave none, so the stored report is the one they saw."""
    limits = config().limits()
    fields = _fields()
    upload = _file("file", config().max_upload_bytes) if input_field == "input" else None
    data = upload if upload is not None else _text(fields, input_field).encode("utf-8")
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
    profile, profile_notes = _profile(fields, limits)
    sources = []
    md_url = _text(fields, "metadata_url")
    if md_url:
        sources.append(fetch.MetadataSource(md_url, f"metadata {md_url}"))
    tenant = _text(fields, "tenant")
    if tenant:
        app_id = _text(fields, "app_id") or None
        cloud = _text(fields, "cloud") or "global"
        try:
            url = fetch.entra_metadata_url(tenant, app_id, cloud)
        except AnalysisStop as stop:
            raise FormError(stop.finding.title) from None
        sources.append(fetch.MetadataSource(url, f"Entra metadata ({tenant}{', app ' + app_id if app_id else ''})"))
    if profile is not None and profile.metadata and not (sources or metadata_docs):
        if profile.metadata.startswith(("http://", "https://")):
            sources.append(fetch.MetadataSource(profile.metadata, f"profile {profile.name} metadata"))
    fetch_notes: list[Finding] = []
    fetched: list[tuple[bytes, str, str | None]] = []
    if sources:
        fetched, fetch_notes = fetch.fetch_all(sources, _policy(config()), metadata_cache(), clock)
    docs: list[tuple[bytes, str, str | None]] = [(d, label, None) for d, label in metadata_docs] + fetched
    sp_anchors: list[Anchor] = []
    sp_cert_text = _text(fields, "sp_cert")
    if sp_cert_text:
        try:
            sp_anchors = [Anchor(c, "pasted SP certificate") for c in load_certs(sp_cert_text.encode())]
        except CertError as e:
            raise FormError(f"The SP certificate does not load: {e}") from None

    skew_text = str(fields.get("skew", "") or "").strip()
    try:
        skew = int(skew_text) if skew_text else config().default_skew
    except ValueError:
        raise FormError(f"'skew' must be a whole number of seconds, not {skew_text!r}.") from None
    if not 0 <= skew <= 86400:
        raise FormError("'skew' must be between 0 and 86400 seconds.")
    now_text = str(fields.get("now", "") or "").strip()
    if sharing and not now_text:
        now_text = str(fields.get("share_now", "") or "").strip()
    found_now = parse_now(now_text) if now_text else None
    claims_raw = fields.get("required_claims", "")
    if isinstance(claims_raw, list):
        if not all(isinstance(c, str) for c in claims_raw):
            raise FormError("'required_claims' must be a list of claim names (strings).")
        claims = claims_raw
    else:
        claims = str(claims_raw).replace(",", "\n").splitlines()
    now = found_now or clock
    found = trust.collect(docs, cert_docs, limits, now)
    settings = Settings(
        sp_entity_id=_text(fields, "sp_entity_id") or None,
        acs_url=_text(fields, "acs_url") or None,
        idp_entity_id=_text(fields, "idp_entity_id") or None,
        skew=skew,
        limits=limits,
        required_claims=tuple(c.strip() for c in claims if str(c).strip()),
        name_id_format=_text(fields, "name_id_format") or None,
        sp_anchors=tuple(sp_anchors),
        expected_name_id=_text(fields, "expected_name_id") or None,
    )
    settings = found.apply(settings)
    if profile is not None:
        settings = profile.apply(settings)
    keys = _decryption_keys(fields)
    if keys:
        settings = replace(settings, decryption_keys=keys)
    hidden = ("input", "csrf_token", "sp_key", "sp_key_password")  # keys are never echoed back into the page
    shown = {k: str(v) for k, v in fields.items() if k not in hidden and isinstance(v, (str, int))}
    return Analysis(data, settings, now, tuple(profile_notes + fetch_notes + found.notes), shown)


def _decryption_keys(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The SP private key for this analysis (pasted or uploaded), else the operator's configured one."""
    pasted = _text(fields, "sp_key").encode() or _file("sp_key_file", 1024 * 1024)
    password = _text(fields, "sp_key_password").encode() or None
    if pasted:
        try:
            return tuple(decrypt.load_private_keys(pasted, password))
        except decrypt.DecryptError as e:
            raise FormError(f"The SP private key does not load: {e}") from None
    return sp_keys()


def _policy(config: AppConfig) -> fetch.FetchPolicy:
    return fetch.FetchPolicy(
        allowed_hosts=tuple(h.strip() for h in config.metadata_allowed_hosts.split(",") if h.strip()),
        allow_http=config.metadata_allow_http,
        allow_private=config.metadata_allow_private,
        total_timeout=config.metadata_timeout,
        cache_ttl=config.metadata_cache_ttl,
        max_bytes=config.max_xml_bytes,
        ca_file=metadata_ca_file(),
    )


def _profile(fields: dict[str, Any], limits: Limits) -> tuple[profiles.Profile | None, list[Finding]]:
    """The SP profile for this analysis: a configured one, a preset with its parameter, or SP metadata."""
    choice = _text(fields, "profile")
    sp_md = _file("sp_metadata_file", limits.max_xml_bytes)
    try:
        if sp_md:
            return profiles.from_sp_metadata(sp_md, limits)
        if choice.startswith("preset:"):
            preset = profiles.presets().get(choice.removeprefix("preset:"))
            if preset is None:
                raise FormError(f"Unknown preset {choice!r}.")
            params = {p: _text(fields, f"param_{p}") or _text(fields, "preset_param") for p in preset.parameters}
            return preset.profile(**params), []
        if choice:
            known = configured_profiles()
            if choice not in known:
                raise FormError(f"Unknown SP profile {choice!r}.")
            return known[choice], []
    except profiles.ProfileError as e:
        raise FormError(str(e)) from None
    except AnalysisStop as stop:
        raise FormError(f"SP metadata: {stop.finding.title}") from None
    return None, []
