"""Trust sources → anchors: metadata documents and certificates, from any shell (CLI, web, API).

Errors in a source become findings (the analysis still runs); nothing here does IO: documents fetched from a
URL come in through fetch.fetch_all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from . import metadata as md
from .catalog import finding
from .certs import Anchor, CertError, load_certs
from .config import Limits, Settings
from .decode import strip_bom
from .lru import LRU
from .model import AnalysisStop, Finding


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


class _DocumentCache(LRU[tuple[bytes, str, Limits], tuple[md.IdpInfo, tuple[Finding, ...]] | Finding]):
    """What a metadata document says and whether its own signature verifies, by content hash (and label and
    limits): Entra's metadata is the same bytes on every request of a tenant, and parsing it and verifying its
    signature costs more than analysing the response. Only time-independent results are kept (the document's
    facts and its signature outcome, checked at an instant inside the signing certificate's validity); expiry
    and validUntil are judged afresh at each evaluation instant. Bounded LRU, shared by threads."""

    def __init__(self, entries: int = 64) -> None:
        super().__init__(entries)


DOCUMENTS = _DocumentCache()


def read_document(data: bytes, source: str, limits: Limits) -> tuple[md.IdpInfo, tuple[Finding, ...]]:
    """(what the document says, findings about its own signature); raises AnalysisStop for an unusable one."""
    key = (hashlib.sha256(data).digest(), source, limits)
    cached = DOCUMENTS.get(key)
    if isinstance(cached, Finding):
        raise AnalysisStop(cached)
    if cached is not None:
        return cached
    try:
        root = md.parse_document(data, source, limits)
        info = md.read(root, source)
    except AnalysisStop as stop:
        DOCUMENTS.put(key, stop.finding)
        raise
    sig_notes: tuple[Finding, ...] = ()
    if info.signed:
        _status, _cert, found = md.verify_signature(root, strip_bom(data), [])
        sig_notes = tuple(found)
    DOCUMENTS.put(key, (info, sig_notes))
    return info, sig_notes


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
            info, sig_notes = read_document(data, source, limits)
        except AnalysisStop as stop:
            trust.notes.append(stop.finding)
            continue
        trust.metadata.append(info)
        trust.anchors.extend(info.anchors())
        if now is not None:
            trust.notes.extend(md.classify(info, url, now=now))
        else:
            trust.notes.extend(md.findings_for(info))
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
