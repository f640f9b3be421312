"""One request → (input bytes, Settings, now, notes): shared by the HTML views and the API.

Fields (form or JSON body): input | file, metadata (text) | metadata_file, cert (text) | cert_file,
sp_entity_id, acs_url, idp_entity_id, metadata_url, tenant, app_id, cloud, profile (a configured name or
"preset:<key>" with param_<name> / preset_param), sp_metadata_file, sp_cert, expected_name_id, skew, now,
required_claims, name_id_format, signin_log | signin_log_file, signin_filter; for sharing also share,
expires_in, redact, title (read by sharing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import catalog, decrypt, fetch, profiles
from ..certs import Anchor, CertError, load_certs
from ..config import AppConfig, Limits, Settings
from ..inputs import SIGNING_CHOICES, Inputs, profile_metadata, resolve
from ..instants import parse_instant
from ..model import AnalysisStop, Finding, Report
from ..pipeline import analyze
from . import audit
from .context import clock, config, configured_profiles, metadata_ca_file, metadata_cache, sp_keys, upload
from .context import fields as context_fields
from .errors import FormError


@dataclass(frozen=True)
class Analysis:
    data: bytes
    settings: Settings
    now: datetime
    notes: tuple[Finding, ...]
    fields: dict[str, str]  # what the user typed, to refill the form
    # No "evaluate at" typed: judge a pasted message at its own IssueInstant and a capture at receipt; `now` is
    # then the wall clock (or, when sharing, the instant the user saw the report at).
    at_message_time: bool = False
    signin_log: bytes | None = None  # an Entra sign-in log given beside the input
    signin_filter: str | None = None


def run_analysis(sharing: bool = False) -> tuple[Analysis, Report]:
    """This request's fields → Analysis → Report (raises FormError for an unusable request)."""
    a = parse(clock(), sharing=sharing)
    report = analyze(
        a.data,
        a.settings,
        now=a.now,
        notes=a.notes,
        at_message_time=a.at_message_time,
        signin_log=a.signin_log,
        signin_filter=a.signin_filter,
    )
    audit.analysed()  # a count per user and address, never the input
    return a, report


def choices() -> dict[str, Any]:
    """What the form's SP-profile menu offers."""
    return {
        "configured": list(configured_profiles()),
        "presets": profiles.presets(),
        "nameid_formats": catalog.nameid_formats(),
    }


def _fields() -> dict[str, Any]:
    return {k: v for k, v in context_fields().items() if isinstance(v, (str, int, float, list))}


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_now(text: str, name: str = "now") -> datetime:
    parsed = parse_instant(text)
    if parsed is None:
        raise FormError(f"'{name}' must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not {text!r}.")
    return parsed


def parse(
    clock: datetime,
    *,
    sharing: bool = False,
    input_field: str = "input",
    file_field: str = "file",
    now_field: str = "now",
) -> Analysis:
    """`sharing`: the share button re-sends the form; the report's own evaluation instant (share_now) is
    reused when the user gave none, so the stored report is the one they saw. The compare page reads each side
    from its own fields (input_a, file_a, now_a, …)."""
    cfg = config()
    fields = _fields()
    uploaded = upload(file_field, cfg.max_upload_bytes)
    data = uploaded if uploaded is not None else _text(fields, input_field).encode("utf-8")
    if not data.strip():
        raise FormError("Nothing to analyse: paste a SAML message or choose a file.")
    profile, profile_notes = _profile(fields, cfg.limits())
    documents = _metadata_documents(fields, cfg)
    fetched, fetch_notes = _fetched_metadata(fields, cfg, profile, clock, given=bool(documents))
    now = _now(fields, sharing, now_field) or clock
    inputs = Inputs(
        sp_entity_id=_text(fields, "sp_entity_id"),
        acs_url=_text(fields, "acs_url"),
        idp_entity_id=_text(fields, "idp_entity_id"),
        skew=_skew(fields),
        metadata=tuple(documents + fetched),
        certs=tuple(_cert_documents(fields)),
        sp_anchors=_sp_anchors(fields),
        required_claims=_claims(fields),
        name_id_format=_text(fields, "name_id_format"),
        expected_name_id=_text(fields, "expected_name_id"),
        profile=profile,
        decryption_keys=_decryption_keys(fields),
        app_id=_text(fields, "app_id"),
        signing=_signing(fields),
    )
    settings, trust_notes = resolve(inputs, cfg, now, operator_keys=sp_keys())
    signin_log = upload("signin_log_file", cfg.max_upload_bytes) or _text(fields, "signin_log").encode() or None
    # Keys are never echoed back into the page (nor the possibly large sign-in log).
    hidden = ("input", "csrf_token", "sp_key", "sp_key_password", "signin_log")
    shown = {k: str(v) for k, v in fields.items() if k not in hidden and isinstance(v, (str, int))}
    # No "evaluate at" typed: judged where the SP judged it (a message at its IssueInstant, a capture at receipt).
    at_message_time = not str(fields.get(now_field, "") or "").strip()
    notes = tuple(profile_notes + fetch_notes) + trust_notes
    return Analysis(
        data, settings, now, notes, shown, at_message_time, signin_log, _text(fields, "signin_filter") or None
    )


def _metadata_documents(fields: dict[str, Any], cfg: AppConfig) -> list[tuple[bytes, str, str | None]]:
    """Metadata pasted or uploaded."""
    docs: list[tuple[bytes, str, str | None]] = []
    md_text = _text(fields, "metadata")
    if md_text:
        docs.append((md_text.encode("utf-8"), "pasted metadata", None))
    md_file = upload("metadata_file", cfg.limits().max_xml_bytes * 2)
    if md_file:
        docs.append((md_file, "uploaded metadata", None))
    return docs


def _fetched_metadata(
    fields: dict[str, Any], cfg: AppConfig, profile: profiles.Profile | None, clock: datetime, *, given: bool
) -> tuple[list[tuple[bytes, str, str | None]], list[Finding]]:
    """Metadata from a URL, from tenant + app ID, or from the profile's URL when nothing else was given."""
    sources = []
    md_url = _text(fields, "metadata_url")
    if md_url:
        sources.append(fetch.MetadataSource(md_url, f"metadata {md_url}"))
    tenant = _text(fields, "tenant")
    if tenant:
        app_id = _text(fields, "app_id") or None
        try:
            sources.append(fetch.entra_source(tenant, app_id, _text(fields, "cloud") or "global"))
        except AnalysisStop as stop:
            raise FormError(stop.finding.title) from None
    location = profile_metadata(profile, given=given or bool(sources))
    if profile is not None and location is not None and location.startswith(("http://", "https://")):
        sources.append(fetch.MetadataSource(location, f"profile {profile.name} metadata"))
    if not sources:
        return [], []
    return fetch.fetch_all(sources, cfg.fetch_policy(ca_file=metadata_ca_file()), metadata_cache(), clock)


def _cert_documents(fields: dict[str, Any]) -> list[tuple[bytes, str]]:
    docs = []
    cert_text = _text(fields, "cert")
    if cert_text:
        docs.append((cert_text.encode("utf-8"), "pasted certificate"))
    cert_file = upload("cert_file", 256 * 1024)
    if cert_file:
        docs.append((cert_file, "uploaded certificate"))
    return docs


def _sp_anchors(fields: dict[str, Any]) -> tuple[Anchor, ...]:
    sp_cert_text = _text(fields, "sp_cert")
    if not sp_cert_text:
        return ()
    try:
        return tuple(Anchor(c, "pasted SP certificate") for c in load_certs(sp_cert_text.encode()))
    except CertError as e:
        raise FormError(f"The SP certificate does not load: {e}") from None


def _signing(fields: dict[str, Any]) -> str | None:
    value = _text(fields, "signing")
    if value and value not in SIGNING_CHOICES:
        raise FormError(f"'signing' must be one of {', '.join(SIGNING_CHOICES)}")
    return value or None


def _skew(fields: dict[str, Any]) -> int | None:
    skew_text = str(fields.get("skew", "") or "").strip()
    if not skew_text:
        return None
    try:
        skew = int(skew_text)
    except ValueError:
        raise FormError(f"'skew' must be a whole number of seconds, not {skew_text!r}.") from None
    if not 0 <= skew <= 86400:
        raise FormError("'skew' must be between 0 and 86400 seconds.")
    return skew


def _now(fields: dict[str, Any], sharing: bool, name: str = "now") -> datetime | None:
    now_text = str(fields.get(name, "") or "").strip()
    if sharing and not now_text:
        now_text = str(fields.get("share_now", "") or "").strip()
    return parse_now(now_text, name) if now_text else None


def _claims(fields: dict[str, Any]) -> tuple[str, ...]:
    claims_raw = fields.get("required_claims", "")
    if isinstance(claims_raw, list):
        if not all(isinstance(c, str) for c in claims_raw):
            raise FormError("'required_claims' must be a list of claim names (strings).")
        return tuple(claims_raw)
    return tuple(str(claims_raw).replace(",", "\n").splitlines())


def _decryption_keys(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The SP private key for this analysis (pasted or uploaded); none: the operator's configured one."""
    pasted = _text(fields, "sp_key").encode() or upload("sp_key_file", decrypt.MAX_KEY_FILE_BYTES)
    password = _text(fields, "sp_key_password").encode() or None
    if not pasted:
        return ()
    try:
        return tuple(decrypt.load_private_keys(pasted, password))
    except decrypt.DecryptError as e:
        raise FormError(f"The SP private key does not load: {e}") from None


def _profile(fields: dict[str, Any], limits: Limits) -> tuple[profiles.Profile | None, list[Finding]]:
    """The SP profile for this analysis: a configured one, a preset with its parameter, or SP metadata."""
    choice = _text(fields, "profile")
    sp_md = upload("sp_metadata_file", limits.max_xml_bytes)
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
