"""Federation metadata → IdpInfo: entity ID, signing certificates, endpoints, formats.

Tolerates a UTF-8 BOM, CRLF and ADFS's base64-of-PEM inside X509Certificate (see certs.load_certs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from lxml import etree

from . import certs
from .catalog import finding
from .certs import Anchor
from .config import Limits
from .decode import strip_bom
from .model import AnalysisStop, CertInfo, Finding
from .saml import DS, MD, NS, kind_of
from .xmlsafe import parse

FED = "http://docs.oasis-open.org/wsfed/federation/200706"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass(frozen=True)
class Endpoint:
    kind: str  # SingleSignOnService | SingleLogoutService
    binding: str
    location: str


@dataclass(frozen=True)
class IdpInfo:
    entity_id: str
    role: str  # "idp" (IDPSSODescriptor) or "wsfed" (RoleDescriptor only) or "sp" or "none"
    signing_certs: tuple[x509.Certificate, ...]
    cert_roles: tuple[str, ...]  # where each signing cert was listed
    endpoints: tuple[Endpoint, ...]
    name_id_formats: tuple[str, ...]
    claim_types: tuple[str, ...]
    valid_until: str | None
    signed: bool
    source: str

    def anchors(self) -> tuple[Anchor, ...]:
        return tuple(Anchor(c, f"{self.source} signing cert #{i + 1}") for i, c in enumerate(self.signing_certs))

    def cert_infos(self, now: datetime | None) -> tuple[CertInfo, ...]:
        return tuple(certs.info(a.cert, a.source, now) for a in self.anchors())


def _certs_under(el: etree._Element) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for kd in el.iterfind("md:KeyDescriptor", NS):
        if kd.get("use") not in (None, "signing"):
            continue
        for xc in kd.iterfind(".//ds:X509Certificate", NS):
            try:
                found = certs.load_certs(xc.text or "")  # base64 of DER, or ADFS's base64 of a PEM text
            except certs.CertError:
                continue
            for c in found:
                if c not in out:
                    out.append(c)
    return out


def read(root: etree._Element, source: str) -> IdpInfo:
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        candidates = root.findall(".//md:EntityDescriptor", NS)
        chosen = next((e for e in candidates if e.find("md:IDPSSODescriptor", NS) is not None), None)
        root = chosen if chosen is not None else (candidates[0] if candidates else root)
    idp = root.find("md:IDPSSODescriptor", NS)
    sp = root.find("md:SPSSODescriptor", NS)
    roles = root.findall("md:RoleDescriptor", NS)
    signing: list[x509.Certificate] = []
    where: list[str] = []
    for label, el in [("IDPSSODescriptor", idp)] + [(f"RoleDescriptor {r.get(XSI_TYPE, '')}", r) for r in roles]:
        if el is None:
            continue
        for c in _certs_under(el):
            if c not in signing:
                signing.append(c)
                where.append(label)
    endpoints = []
    if idp is not None:
        for tag in ("SingleSignOnService", "SingleLogoutService"):
            for ep in idp.iterfind(f"md:{tag}", NS):
                endpoints.append(Endpoint(tag, ep.get("Binding") or "", ep.get("Location") or ""))
    role_el = idp if idp is not None else root
    formats = tuple("".join(str(t) for t in f.itertext()).strip() for f in role_el.iterfind("md:NameIDFormat", NS))
    claims = tuple(
        ct.get("Uri") or ""
        for ct in root.iterfind(".//{http://docs.oasis-open.org/wsfed/authorization/200706}ClaimType")
    )
    role = "idp" if idp is not None else "wsfed" if roles else "sp" if sp is not None else "none"
    return IdpInfo(
        entity_id=root.get("entityID") or "",
        role=role,
        signing_certs=tuple(signing),
        cert_roles=tuple(where),
        endpoints=tuple(endpoints),
        name_id_formats=formats,
        claim_types=claims,
        valid_until=root.get("validUntil"),
        signed=root.find("ds:Signature", NS) is not None,
        source=source,
    )


def parse_document(data: bytes, source: str, limits: Limits) -> etree._Element:
    """The metadata document's root; raises AnalysisStop when it is not metadata."""
    root = parse(strip_bom(data), limits)
    if kind_of(root) != "metadata":
        raise AnalysisStop(
            finding(
                "not_metadata",
                expected="an md:EntityDescriptor document",
                actual=f"root element {etree.QName(root).localname}",
                where=source,
            )
        )
    return root


def load(data: bytes, source: str, limits: Limits) -> IdpInfo:
    """Parse and read a metadata document; raises AnalysisStop when it is not metadata."""
    return read(parse_document(data, source, limits), source)


def findings_for(info: IdpInfo) -> list[Finding]:
    out: list[Finding] = []
    if info.role != "idp":
        out.append(
            finding(
                "not_idp_metadata",
                expected="metadata with an IDPSSODescriptor (the app's Federation Metadata)",
                actual=f"entityID {info.entity_id!r}: "
                + {"wsfed": "WS-Federation roles only", "sp": "an SP's metadata", "none": "no IdP role"}[info.role],
                where=info.source,
            )
        )
    if not info.signing_certs:
        out.append(finding("no_signing_cert", where=info.source))
    return out


__all__ = ["DS", "Endpoint", "IdpInfo", "findings_for", "load", "read"]


def summary(info: IdpInfo, now: datetime | None) -> dict[str, object]:
    """A JSON-ready description (for a metadata report and the signature tab)."""
    from dataclasses import asdict

    return {
        "entity_id": info.entity_id,
        "role": info.role,
        "signed": info.signed,
        "valid_until": info.valid_until,
        "certificates": [
            dict(asdict(c), listed_in=role) for c, role in zip(info.cert_infos(now), info.cert_roles, strict=True)
        ],
        "endpoints": [asdict(e) for e in info.endpoints],
        "name_id_formats": list(info.name_id_formats),
        "claim_types": list(info.claim_types),
    }
