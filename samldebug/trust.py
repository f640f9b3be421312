"""Trust sources → anchors: metadata documents and certificates, from any shell (CLI, web, API).

Errors in a source become findings (the analysis still runs); nothing here does IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from . import metadata as md
from .catalog import finding
from .certs import Anchor, CertError, load_certs
from .config import Limits
from .model import AnalysisStop, Finding


@dataclass
class Trust:
    anchors: list[Anchor] = field(default_factory=list)
    idp_entity_id: str | None = None
    notes: list[Finding] = field(default_factory=list)
    metadata: list[md.IdpInfo] = field(default_factory=list)


def collect(
    metadata_docs: Iterable[tuple[bytes, str]],
    cert_docs: Iterable[tuple[bytes, str]],
    limits: Limits,
) -> Trust:
    """`metadata_docs` / `cert_docs`: (content, label for the report, e.g. 'metadata app.xml')."""
    trust = Trust()
    for data, source in metadata_docs:
        try:
            info = md.load(data, source, limits)
        except AnalysisStop as stop:
            trust.notes.append(stop.finding)
            continue
        trust.metadata.append(info)
        trust.anchors.extend(info.anchors())
        trust.notes.extend(md.findings_for(info))
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
