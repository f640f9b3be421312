"""Federation metadata: what a document says (IdpInfo: entity ID, signing certificates, endpoints, formats) and
what that means as a trust source (Entra hints, validUntil, certificate expiry and the rollover picture, the
document's own signature).

Tolerates a UTF-8 BOM, CRLF and ADFS's base64-of-PEM inside X509Certificate (see certs.load_certs). Reads
documents already in memory: fetching one from a URL is fetch.py's job. No function here reads the clock:
callers pass `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import cryptography.exceptions
from cryptography import x509
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature

from . import certs
from .catalog import clip, finding
from .certs import Anchor, CertError, load_certs
from .config import Limits
from .decode import strip_bom
from .entra import ENTRA_HOSTS, EXPIRY_NOTICE_DAYS, MICROSOFT_ONLINE, TENANT_INDEPENDENT
from .instants import iso, parse_time
from .model import AnalysisStop, CertInfo, Finding, Severity
from .saml import DS, MD, NS, kind_of
from .signature import ALLOWED_TRANSFORMS, POLICY
from .xmlsafe import make_parser, parse

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
        key_value = kd.find("ds:KeyInfo/ds:KeyValue", NS)
        if key_value is not None and kd.find(".//ds:X509Certificate", NS) is None:
            try:  # the IdP's key published without a certificate: a bare-key anchor (no subject, no validity)
                out.append(certs.key_value_cert(key_value))
            except certs.CertError:
                continue
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


def summary(info: IdpInfo, now: datetime | None) -> dict[str, object]:
    """A JSON-ready description (for a metadata report and the signature tab)."""
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


# --- what Entra metadata says -------------------------------------------------------------------------


def rollover(certs: Sequence[x509.Certificate], now: datetime) -> list[tuple[x509.Certificate, str]]:
    """Each certificate with its state at `now`, in the given order, judged from dates alone:

    - "active": currently valid and the newest such (latest notBefore; then latest notAfter; then listed first);
    - "old": currently valid but superseded by the active one;
    - "new": not valid yet while another certificate is valid (a rollover in preparation);
    - "not yet valid": not valid yet and no certificate is valid now;
    - "expired": past its notAfter.

    Entra signs with the certificate marked Active in the portal, which the metadata does not say: this is the
    best reading of the dates, and findings say so.
    """
    valid = [c for c in certs if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
    active = max(valid, key=lambda c: (c.not_valid_before_utc, c.not_valid_after_utc), default=None)
    out: list[tuple[x509.Certificate, str]] = []
    for c in certs:
        if c.not_valid_after_utc < now:
            state = "expired"
        elif c.not_valid_before_utc > now:
            state = "new" if active is not None else "not yet valid"
        else:
            state = "active" if c is active else "old"
        out.append((c, state))
    return out


def _cert_label(i: int, c: x509.Certificate) -> str:
    facts = certs.info(c, "")
    cns = c.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else facts.subject
    return f"#{i} {name} (SHA-1 {facts.sha1})"


def cert_findings(certs: Sequence[x509.Certificate], now: datetime, where: str | None = None) -> list[Finding]:
    """Expiry warnings at Entra's 60/30/7-day thresholds for every signing certificate, expired ones, and the
    rollover picture when there is more than one certificate or the only one is not active."""
    out: list[Finding] = []
    states = rollover(certs, now)
    for i, (c, state) in enumerate(states, 1):
        end = iso(c.not_valid_after_utc)
        if state == "expired":
            ago = (now - c.not_valid_after_utc).days
            out.append(
                finding(
                    "metadata_cert_expired",
                    f"Signing certificate #{i} expired {ago} day{'s' if ago != 1 else ''} ago",
                    expected="signing certificates within their validity",
                    actual=f"{_cert_label(i, c)}: valid until {end}",
                    where=where,
                )
            )
        elif state in ("active", "old"):
            days = (c.not_valid_after_utc - now).days
            notice = next((n for n in EXPIRY_NOTICE_DAYS if days < n), None)
            if notice is None:
                continue
            out.append(
                finding(
                    "cert_expiring",
                    f"Signing certificate #{i} expires in {days} day{'s' if days != 1 else ''}"
                    f" (within Entra's {notice}-day notice)",
                    expected=f"more than {EXPIRY_NOTICE_DAYS[-1]} days of validity left",
                    actual=f"{_cert_label(i, c)} ({state}): valid until {end}",
                    where=where,
                    severity=Severity.INFO if notice == EXPIRY_NOTICE_DAYS[-1] else Severity.WARNING,
                )
            )
    if len(states) > 1 or any(s != "active" for _, s in states):
        picture = "; ".join(
            f"{_cert_label(i, c)}: {s}, valid {iso(c.not_valid_before_utc)} → {iso(c.not_valid_after_utc)}"
            for i, (c, s) in enumerate(states, 1)
        )
        none_valid = not any(s in ("active", "old") for _, s in states)
        out.append(
            finding(
                "cert_rollover",
                "No signing certificate in the metadata is valid now"
                if none_valid
                else f"{len(states)} signing certificates: the rollover picture (from dates; Entra's portal shows "
                "which one is Active)",
                expected="one currently valid signing certificate that the SP trusts",
                actual=picture,
                where=where,
                severity=Severity.WARNING if none_valid else None,
            )
        )
    return out


def _entra_url(url: str) -> tuple[str | None, bool, bool]:
    """(tenant segment or None, has appid, is an Entra federation-metadata URL)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None, False, False
    host = (parts.hostname or "").rstrip(".")
    segments = [s for s in parts.path.split("/") if s]
    is_fedmeta = host in ENTRA_HOSTS and bool(segments) and segments[-1].lower() == "federationmetadata.xml"
    tenant = segments[0].lower() if segments and segments[0].lower() != "federationmetadata" else None
    has_appid = any(k.lower() == "appid" and v.strip() for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return tenant, has_appid, is_fedmeta


def classify(info: IdpInfo, url: str | None, *, now: datetime) -> list[Finding]:
    """Findings about a metadata document as a trust source, for Entra: what `metadata.findings_for` says
    (with Entra's own explanation for Microsoft Online's SP metadata, so call this instead of it), tenant
    instead of app metadata, the 'common' endpoint, validUntil, certificate expiry and rollover."""
    where = info.source
    out: list[Finding] = []
    for f in findings_for(info):
        if f.code == "not_idp_metadata" and info.entity_id == MICROSOFT_ONLINE:
            f = finding(
                "not_idp_metadata",
                "This is Microsoft Online's own metadata (urn:federation:MicrosoftOnline), not an app's IdP metadata",
                expected="the app's Federation Metadata (an IDPSSODescriptor with the app's signing certificate)",
                actual=f"entityID {MICROSOFT_ONLINE!r}, role {info.role}: Entra / Microsoft 365 as the service "
                "provider of a federated identity provider (e.g. ADFS)",
                fix="This document is for configuring a federated IdP (ADFS, Okta, …) in front of Entra. For a "
                "SAML app signed by Entra, use the App Federation Metadata Url from Entra → your app → Single "
                "sign-on → SAML Certificates (…/federationmetadata.xml?appid=<app ID>).",
                where=where,
            )
        out.append(f)
    tenant, has_appid, is_fedmeta = _entra_url(url) if url else (None, False, False)
    common_url = is_fedmeta and (tenant is None or tenant in TENANT_INDEPENDENT)
    template = "{" in info.entity_id
    if common_url or template:
        out.append(
            finding(
                "metadata_common_endpoint",
                expected="https://sts.windows.net/<your tenant ID>/ and the app's own certificate",
                actual=f"entityID {info.entity_id!r}"
                + (f" from the {tenant or 'tenant-less'} endpoint" if common_url else ""),
                where=where,
            )
        )
    elif is_fedmeta and not has_appid:
        out.append(
            finding(
                "metadata_tenant_wide",
                expected="…/federationmetadata.xml?appid=<Application ID>",
                actual=f"{clip(url or '', 160)} (no appid: tenant-wide certificates)",
                where=where,
            )
        )
    if info.valid_until is not None:
        until = parse_time(info.valid_until)
        if until is None:
            out.append(finding("bad_time_format", actual=f"validUntil={clip(info.valid_until, 60)!r}", where=where))
        elif until < now:
            out.append(
                finding(
                    "metadata_expired",
                    f"The metadata expired on {iso(until)} (validUntil)",
                    expected=f"validUntil after {iso(now)}",
                    actual=f"validUntil={info.valid_until}",
                    where=where,
                )
            )
    out.extend(cert_findings(info.signing_certs, now, where))
    return out


# --- the metadata's own signature ---------------------------------------------------------------------

_SIG = f"{{{DS}}}Signature"
_KEY_DESCRIPTOR = f"{{{MD}}}KeyDescriptor"
_X509_CERT = f"{{{DS}}}X509Certificate"
_ID_ATTRS = ("ID", "Id", "AssertionID")


def _own_certs(root: etree._Element) -> list[Anchor]:
    """Every signing certificate the document lists, in any role (Microsoft Online's metadata lists its keys in
    an SPSSODescriptor)."""
    out: list[Anchor] = []
    seen: list[x509.Certificate] = []
    for kd in root.iter(_KEY_DESCRIPTOR):
        if kd.get("use") not in (None, "signing"):
            continue
        role = kd.getparent()
        role_name = etree.QName(role).localname if role is not None else "?"
        for xc in kd.iter(_X509_CERT):
            try:
                found = load_certs("".join((xc.text or "").split()))
            except CertError:
                continue
            for c in found:
                if c not in seen:
                    seen.append(c)
                    out.append(Anchor(c, f"the metadata's own signing certificate #{len(seen)} ({role_name})"))
    return out


def _shape_problem(root: etree._Element, sigs: list[etree._Element]) -> str | None:
    """What signxml does not check: one Signature, one Reference, to the document element itself, with only
    enveloped-signature and c14n transforms, and an ID nobody else uses."""
    if len(sigs) > 1:
        return f"{len(sigs)} Signature elements under the document element (one expected)"
    refs = sigs[0].findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(refs) != 1:
        return f"{len(refs)} References in SignedInfo (one expected)"
    uri = refs[0].get("URI")
    root_id = next((root.get(a) for a in _ID_ATTRS if root.get(a)), None)
    if uri != "" and (root_id is None or uri != f"#{root_id}"):
        return f"the Reference URI {clip(uri or 'none', 80)!r} does not point at the document element (ID {root_id!r})"
    if root_id is not None:
        same = sum(1 for el in root.iter() if isinstance(el.tag, str) and any(el.get(a) == root_id for a in _ID_ATTRS))
        if same > 1:
            return f"the ID {root_id!r} is used by {same} elements"
    for t in refs[0].iterfind(f"{{{DS}}}Transforms/{{{DS}}}Transform"):
        if (t.get("Algorithm") or "") not in ALLOWED_TRANSFORMS:
            return f"a transform other than enveloped-signature and c14n: {clip(t.get('Algorithm') or '?', 100)}"
    return None


def _try_cert(xml: bytes, cert: x509.Certificate) -> str:
    """'verified', 'digest' (content changed), 'value' (not this key) or 'malformed: …'."""
    # Certificate dates are reported by classify, so the check runs at an instant inside the
    # certificate's validity (Entra's reference metadata is signed with keys long expired).
    instant = cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=POLICY.signature_methods,
        digest_algorithms=POLICY.digest_algorithms,
        verification_time=instant,
    )
    try:
        XMLVerifier().verify(xml, x509_cert=cert, parser=make_parser(), expect_config=config)
    except InvalidDigest:
        return "digest"
    except (InvalidSignature, cryptography.exceptions.InvalidSignature):
        return "value"
    except (InvalidInput, ValueError, TypeError, KeyError, etree.LxmlError) as e:
        return f"malformed: {clip(str(e), 160)}"
    return "verified"


def verify_signature(
    root: etree._Element, xml: bytes, anchors: Iterable[Anchor]
) -> tuple[str, CertInfo | None, list[Finding]]:
    """The metadata document's own ds:Signature: ("valid" | "self-signed" | "invalid" | "unsigned", the
    certificate that verified it, findings). `root` is `xml` parsed by samldebug.xmlsafe.parse (signxml re-parses
    `xml` with the same hardened parser). The given anchors are tried first, then the certificates the document
    lists: "self-signed" when only one of those verifies, which proves integrity, never who wrote it (so never
    "valid")."""
    where = f"{etree.QName(root).localname}/Signature"
    sigs = root.findall(_SIG)
    if not sigs:
        return (
            "unsigned",
            None,
            [finding("metadata_unsigned", actual="no Signature under the document element", where=where)],
        )
    method = sigs[0].find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    algorithm = (method.get("Algorithm") or "?") if method is not None else "?"
    weak = " (SHA-1: deprecated)" if "sha1" in algorithm.lower() else ""
    problem = _shape_problem(root, sigs)
    if problem is not None:
        return (
            "invalid",
            None,
            [
                finding(
                    "metadata_signature_invalid",
                    "The metadata's signature does not cover the document as read",
                    expected="one enveloped signature over the whole document",
                    actual=problem,
                    where=where,
                )
            ],
        )
    trusted = list(anchors)
    own = [a for a in _own_certs(root) if not any(a.cert == t.cert for t in trusted)]
    data = strip_bom(xml)
    outcomes: list[str] = []
    for n, anchor in enumerate(trusted + own):
        outcome = _try_cert(data, anchor.cert)
        if outcome != "verified":
            outcomes.append(outcome)
            continue
        key = certs.info(anchor.cert, anchor.source)
        signer = f"{key.subject} (SHA-1 {key.sha1}), {anchor.source}; {algorithm.rsplit('#', 1)[-1]}{weak}"
        if n < len(trusted):
            found = finding(
                "metadata_signature_valid",
                f"The metadata's signature verifies with {anchor.source}",
                actual=signer,
                where=where,
            )
        else:
            found = finding(
                "metadata_self_signed",
                actual=signer + ". Trust comes from how the document was obtained (HTTPS from an allowed Entra "
                "host, or a file downloaded from Entra), not from this signature.",
                where=where,
            )
        small_key = certs.weak_key(anchor, where)
        notes = [found] if small_key is None else [found, small_key]
        return ("valid" if n < len(trusted) else "self-signed"), key, notes
    tried = len(trusted) + len(own)
    if tried == 0:
        return (
            "invalid",
            None,
            [
                finding(
                    "metadata_signature_invalid",
                    "The metadata is signed, but no certificate was given or listed to check it with",
                    actual=f"signed ({algorithm.rsplit('#', 1)[-1]}); 0 certificates to try",
                    where=where,
                    severity=Severity.WARNING,
                )
            ],
        )
    if "digest" in outcomes:
        title, why = "The metadata was changed after it was signed", "the digest of the document does not match"
    elif all(o == "value" for o in outcomes):
        title, why = (
            f"The metadata's signature verifies with none of the {tried} certificates tried",
            "signed with another key",
        )
    else:
        title, why = "The metadata's signature could not be checked", next(o for o in outcomes if o.startswith("m"))
    return (
        "invalid",
        None,
        [
            finding(
                "metadata_signature_invalid",
                title,
                expected="a signature that verifies with a trusted or listed certificate",
                actual=f"{why}; {len(trusted)} trust anchor(s) and {len(own)} listed certificate(s) tried{weak}",
                where=where,
            )
        ],
    )
