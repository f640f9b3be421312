"""Trust sources → anchors: metadata documents and certificates, from any shell (CLI, web, API).

Errors in a source become findings (the analysis still runs); nothing here does IO.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from . import fetch
from . import metadata as md
from .catalog import finding
from .certs import Anchor, CertError, load_certs
from .config import Limits, Settings
from .decode import strip_bom
from .model import AnalysisStop, Finding, Severity


@dataclass
class Trust:
    anchors: list[Anchor] = field(default_factory=list)
    idp_entity_id: str | None = None
    notes: list[Finding] = field(default_factory=list)
    metadata: list[md.IdpInfo] = field(default_factory=list)
    sso_urls: list[str] = field(default_factory=list)
    slo_urls: list[str] = field(default_factory=list)

    def apply(self, settings: Settings) -> Settings:
        return replace(
            settings,
            anchors=settings.anchors + tuple(self.anchors),
            idp_entity_id=settings.idp_entity_id or self.idp_entity_id,
            idp_sso_urls=settings.idp_sso_urls or tuple(self.sso_urls),
            idp_slo_urls=settings.idp_slo_urls or tuple(self.slo_urls),
        )


# A refusal by policy must never be worked around with an older copy.
_POLICY_REFUSALS = {
    "fetch_host_not_allowed",
    "fetch_scheme_refused",
    "fetch_address_refused",
    "fetch_bad_url",
    "fetch_redirect_refused",
}


@dataclass(frozen=True)
class MetadataSource:
    """Where metadata comes from: a URL to fetch (or tenant + app ID), given to `fetch_all`."""

    url: str
    label: str


def fetch_all(
    sources: Iterable[MetadataSource],
    policy: fetch.FetchPolicy,
    cache: fetch.MetadataCache | None,
    wall_clock: datetime,
) -> tuple[list[tuple[bytes, str, str | None]], list[Finding]]:
    """Fetch each source. Returns (documents as (bytes, label, url)), findings). A failed fetch is a finding;
    the analysis goes on without that source. `wall_clock` is the real time (cache ages), not `--now`."""
    docs: list[tuple[bytes, str, str | None]] = []
    notes: list[Finding] = []
    for src in sources:
        try:
            got = fetch.fetch_metadata(src.url, policy, now=wall_clock, cache=cache)
        except AnalysisStop as stop:
            stale = cache.get(src.url) if cache is not None and stop.finding.code != "fetch_host_not_allowed" else None
            if stale is None or stop.finding.code in _POLICY_REFUSALS:
                notes.append(stop.finding)
                continue
            # The host is slow or down: the last good copy beats no verification at all; say how old it is.
            age = int((wall_clock - stale.fetched_at).total_seconds())
            got = dataclasses.replace(stale, from_cache=True, age_seconds=max(age, 0))
            notes.append(
                dataclasses.replace(
                    stop.finding,
                    severity=Severity.WARNING,
                    fix=(stop.finding.fix or "") + " The last good copy was used instead.",
                )
            )
        note = fetch.cache_note(got)
        if note is not None:
            notes.append(note)
        docs.append((got.body, src.label, src.url))
    return docs, notes


def collect(
    metadata_docs: Iterable[tuple[bytes, str] | tuple[bytes, str, str | None]],
    cert_docs: Iterable[tuple[bytes, str]],
    limits: Limits,
    now: datetime | None = None,
) -> Trust:
    """`metadata_docs`: (content, label for the report[, the URL it came from]); `cert_docs`: (content, label).
    `now` is the evaluation instant for certificate expiry and validUntil."""
    trust = Trust()
    for doc in metadata_docs:
        data, source = doc[0], doc[1]
        url = doc[2] if len(doc) > 2 else None
        try:
            root = md.parse_document(data, source, limits)
            info = md.read(root, source)
        except AnalysisStop as stop:
            trust.notes.append(stop.finding)
            continue
        trust.metadata.append(info)
        trust.anchors.extend(info.anchors())
        if now is not None:
            trust.notes.extend(fetch.classify_metadata(info, url, now=now))
        else:
            trust.notes.extend(md.findings_for(info))
        if info.signed:
            _status, _cert, sig_notes = fetch.verify_metadata_signature(root, strip_bom(data), [])
            trust.notes.extend(sig_notes)
        trust.sso_urls += [e.location for e in info.endpoints if e.kind == "SingleSignOnService"]
        trust.slo_urls += [e.location for e in info.endpoints if e.kind == "SingleLogoutService"]
        # Entra's tenant-independent metadata names the issuer as a template ({tenantid}): no issuer to expect.
        if trust.idp_entity_id is None and info.role == "idp" and "{" not in info.entity_id:
            trust.idp_entity_id = info.entity_id
    for data, source in cert_docs:
        try:
            found = load_certs(data)
        except CertError as e:
            trust.notes.append(finding("bad_certificate", actual=str(e), where=source))
            continue
        trust.anchors.extend(Anchor(c, source + (f" #{i + 1}" if len(found) > 1 else "")) for i, c in enumerate(found))
    return trust
