"""What a pasted value looks like, and whether it sits in the box it belongs in.

Support engineers paste fast: a SAMLResponse lands in the metadata box, metadata in the certificate box, a
certificate in the message box. `misplaced(box, text)` recognises the value (never trusting it: this is only a
label for the user) and names the box it belongs in, so a page or the CLI can say "this looks like X: use it
as Y". Pure: no IO, bounded work (the decoder's own size caps), no backtracking patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509

from . import har, signinlog
from .certs import CertError, load_certs
from .config import Limits
from .decode import decode
from .model import AnalysisStop


class Kind(StrEnum):
    EMPTY = "empty"
    MESSAGE = "message"  # a SAML protocol message or assertion, in any encoding the decoder reads
    IDP_METADATA = "idp_metadata"
    SP_METADATA = "sp_metadata"
    CERTIFICATE = "certificate"
    PRIVATE_KEY = "private_key"
    CAPTURE = "capture"  # HAR or SAML-tracer export
    SIGNIN_LOG = "signin_log"  # an Entra sign-in log: Graph event / page, admin center JSON or CSV download
    ERROR_TEXT = "error_text"  # an Entra error (AADSTS…) in text, a page or a URL
    METADATA_URL = "metadata_url"
    URL = "url"
    GUID = "guid"
    OTHER = "other"


class Box(StrEnum):
    """The inputs a user fills in (web form fields and CLI options have the same roles)."""

    MESSAGE = "message"
    IDP_METADATA = "idp_metadata"
    IDP_CERT = "idp_cert"
    SP_CERT = "sp_cert"
    SP_KEY = "sp_key"
    METADATA_URL = "metadata_url"
    SP_ENTITY_ID = "sp_entity_id"
    ACS_URL = "acs_url"
    TENANT = "tenant"
    APP_ID = "app_id"


BOX_NAMES = {
    Box.MESSAGE: "the message to analyse",
    Box.IDP_METADATA: "the IdP metadata",
    Box.IDP_CERT: "the IdP signing certificate",
    Box.SP_CERT: "the SP signing certificate",
    Box.SP_KEY: "the SP private key",
    Box.METADATA_URL: "the App Federation Metadata Url",
    Box.SP_ENTITY_ID: "the SP entity ID",
    Box.ACS_URL: "the ACS URL",
    Box.TENANT: "the tenant",
    Box.APP_ID: "the application ID",
}

# Where each kind of value belongs; None: no text box takes it (SP metadata is uploaded as a file).
BELONGS: dict[Kind, Box | None] = {
    Kind.MESSAGE: Box.MESSAGE,
    Kind.CAPTURE: Box.MESSAGE,
    Kind.SIGNIN_LOG: Box.MESSAGE,
    Kind.ERROR_TEXT: Box.MESSAGE,
    Kind.IDP_METADATA: Box.IDP_METADATA,
    Kind.SP_METADATA: None,
    Kind.CERTIFICATE: Box.IDP_CERT,
    Kind.PRIVATE_KEY: Box.SP_KEY,
    Kind.METADATA_URL: Box.METADATA_URL,
}

# What each box takes without comment. A kind missing here is named when found in that box.
_LARGE = {Kind.MESSAGE, Kind.CAPTURE, Kind.IDP_METADATA, Kind.SP_METADATA, Kind.CERTIFICATE, Kind.PRIVATE_KEY}
_LARGE |= {Kind.SIGNIN_LOG}
_REJECTS: dict[Box, set[Kind]] = {
    Box.MESSAGE: {Kind.CERTIFICATE, Kind.PRIVATE_KEY, Kind.METADATA_URL, Kind.IDP_METADATA},
    Box.IDP_METADATA: {Kind.MESSAGE, Kind.CAPTURE, Kind.ERROR_TEXT, Kind.CERTIFICATE, Kind.PRIVATE_KEY}
    | {Kind.SP_METADATA, Kind.METADATA_URL, Kind.SIGNIN_LOG},
    Box.IDP_CERT: {Kind.MESSAGE, Kind.CAPTURE, Kind.ERROR_TEXT, Kind.IDP_METADATA, Kind.SP_METADATA}
    | {Kind.PRIVATE_KEY, Kind.METADATA_URL, Kind.SIGNIN_LOG},
    Box.SP_CERT: {Kind.MESSAGE, Kind.CAPTURE, Kind.IDP_METADATA, Kind.SP_METADATA, Kind.PRIVATE_KEY, Kind.SIGNIN_LOG},
    Box.SP_KEY: {Kind.MESSAGE, Kind.CAPTURE, Kind.IDP_METADATA, Kind.SP_METADATA, Kind.CERTIFICATE, Kind.SIGNIN_LOG},
    Box.METADATA_URL: _LARGE | {Kind.ERROR_TEXT},
    Box.SP_ENTITY_ID: _LARGE | {Kind.ERROR_TEXT},
    Box.ACS_URL: _LARGE | {Kind.ERROR_TEXT},
    Box.TENANT: _LARGE | {Kind.METADATA_URL},
    Box.APP_ID: _LARGE | {Kind.METADATA_URL},
}

# A certificate next to a private key is the SP's own.
_CONTEXT: dict[tuple[Box, Kind], Box | None] = {(Box.SP_KEY, Kind.CERTIFICATE): Box.SP_CERT}

_MESSAGE_ROOTS = {
    "Response": "a SAML Response",
    "Assertion": "a SAML Assertion",
    "AuthnRequest": "an AuthnRequest",
    "LogoutRequest": "a LogoutRequest",
    "LogoutResponse": "a LogoutResponse",
    "ArtifactResolve": "an ArtifactResolve",
}
_HEX = set("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    what: str  # for people: "a SAML Response (base64)", "IdP metadata for https://sts.windows.net/…/"


@dataclass(frozen=True)
class Misplaced:
    box: Box
    found: Sniffed
    belongs: Box | None  # where the value goes; None when no text box takes it
    soft: bool = False  # the box can use it (metadata in the message box is shown as a metadata report)

    @property
    def message(self) -> str:
        here = BOX_NAMES[self.box]
        if self.soft:
            return (
                f"The box for {here} holds {self.found.what}: it is shown below as a metadata report. "
                f"To verify a message with it, use it as {BOX_NAMES[self.belongs or Box.IDP_METADATA]}."
            )
        where = f"it belongs in {BOX_NAMES[self.belongs]}" if self.belongs else self._elsewhere()
        return f"The box for {here} holds {self.found.what}: {where}."

    @property
    def action(self) -> str | None:
        return f"Use it as {BOX_NAMES[self.belongs]}" if self.belongs else None

    def _elsewhere(self) -> str:
        if self.found.kind is Kind.SP_METADATA:
            return "upload it as the SP's metadata (it describes the service provider, not the IdP)"
        return "it does not belong in this box"


def _first_element(xml: bytes) -> tuple[str, str]:
    """(local name, raw start tag) of the document element: skips the XML declaration, comments, DOCTYPE."""
    pos = 0
    while True:
        start = xml.find(b"<", pos)
        if start < 0 or start + 1 >= len(xml):
            return "", ""
        nxt = xml[start + 1 : start + 2]
        if nxt in (b"?", b"!"):
            end = xml.find(b">", start)
            if end < 0:
                return "", ""
            pos = end + 1
            continue
        end = xml.find(b">", start)
        tag = xml[start + 1 : end if end > 0 else start + 200]
        name = tag.split(None, 1)[0].rstrip(b"/") if tag.split() else b""
        local = name.rsplit(b":", 1)[-1].decode("utf-8", "replace")
        return local, tag.decode("utf-8", "replace")


def _attribute(tag: str, name: str) -> str | None:
    for quote in ('"', "'"):
        key = f" {name}={quote}"
        at = tag.find(key)
        if at >= 0:
            start = at + len(key)
            end = tag.find(quote, start)
            if end > start:
                return tag[start:end]
    return None


def _cert_label(certs: list[x509.Certificate]) -> str:
    cert = certs[0]
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else cert.subject.rfc4514_string() or "no subject"
    more = f" and {len(certs) - 1} more" if len(certs) > 1 else ""
    return f"a certificate (CN={cn}, valid until {cert.not_valid_after_utc:%Y-%m-%d}){more}"


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(c in _HEX for p in parts for c in p)


def _xml_kind(xml: bytes, steps: tuple[str, ...]) -> Sniffed:
    local, tag = _first_element(xml)
    how = f" ({steps[0]})" if steps and steps[0] not in ("xml", "raw xml") else ""
    if local in _MESSAGE_ROOTS:
        return Sniffed(Kind.MESSAGE, _MESSAGE_ROOTS[local] + how)
    if local in ("EntityDescriptor", "EntitiesDescriptor"):
        entity = _attribute(tag, "entityID")
        of = f" for {entity}" if entity else ""
        if b"IDPSSODescriptor" in xml:
            return Sniffed(Kind.IDP_METADATA, f"IdP metadata{of}")
        if b"SPSSODescriptor" in xml:
            return Sniffed(Kind.SP_METADATA, f"SP metadata{of}")
        return Sniffed(Kind.IDP_METADATA, f"SAML metadata{of}")
    return Sniffed(Kind.OTHER, f"an XML document (<{local or '?'}>)")


def sniff(data: bytes | str, limits: Limits | None = None) -> Sniffed:
    """Recognise a pasted value. Never raises; unknown text is Kind.OTHER."""
    limits = limits or Limits()
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    stripped = raw.strip()
    if not stripped:
        return Sniffed(Kind.EMPTY, "nothing")
    head = stripped[:4096]
    if b"-----BEGIN" in head and b"PRIVATE KEY-----" in head:
        return Sniffed(Kind.PRIVATE_KEY, "a private key")
    if b"-----BEGIN CERTIFICATE-----" in head:
        try:
            return Sniffed(Kind.CERTIFICATE, _cert_label(load_certs(stripped)))
        except CertError:
            return Sniffed(Kind.CERTIFICATE, "a certificate (PEM) that does not load")
    if har.looks_like_capture(stripped):
        return Sniffed(Kind.CAPTURE, "a browser capture (HAR or SAML-tracer export)")
    if signinlog.sniff(stripped) in ("json", "csv"):
        return Sniffed(Kind.SIGNIN_LOG, "an Entra sign-in log")
    try:
        decoded = decode(stripped, limits)
    except AnalysisStop:
        decoded = None
    except Exception:  # noqa: BLE001 - sniffing is a hint: any failure means "not recognised"
        decoded = None
    found = Sniffed(Kind.OTHER, "unrecognised text")
    if decoded is not None:
        found = _xml_kind(decoded.xml, decoded.steps)
        if found.kind is not Kind.OTHER:
            return found
    text = stripped[:65536].decode("utf-8", "replace")
    if "AADSTS" in text and any(text[i + 6 : i + 10].isdigit() for i in _all(text, "AADSTS")):
        return Sniffed(Kind.ERROR_TEXT, "an Entra error (AADSTS code)")
    single = len(text.split()) == 1
    lowered = text.lower()
    if single and lowered.startswith(("http://", "https://")):
        path = lowered.split("?", 1)[0]
        if "metadata" in path:
            return Sniffed(Kind.METADATA_URL, "a metadata URL")
        return Sniffed(Kind.URL, "a URL")
    if single and _is_guid(text):
        return Sniffed(Kind.GUID, "an ID (GUID)")
    if single and stripped.startswith(b"MII"):  # base64 of a DER SEQUENCE: a certificate without PEM lines
        try:
            return Sniffed(Kind.CERTIFICATE, _cert_label(load_certs(stripped)))
        except CertError:
            pass
    return found


def _all(text: str, needle: str, limit: int = 20) -> list[int]:
    out: list[int] = []
    pos = 0
    while len(out) < limit:
        pos = text.find(needle, pos)
        if pos < 0:
            break
        out.append(pos)
        pos += len(needle)
    return out


def misplaced(box: Box, data: bytes | str, limits: Limits | None = None) -> Misplaced | None:
    """The value in `box` when it plainly belongs elsewhere (or, for IdP metadata in the message box, when
    it may have been meant as trust); None when it fits or is not recognised."""
    found = sniff(data, limits)
    if found.kind is Kind.IDP_METADATA and box is Box.MESSAGE:
        return Misplaced(box, found, Box.IDP_METADATA, soft=True)
    if found.kind not in _REJECTS.get(box, set()):
        return None
    belongs = _CONTEXT.get((box, found.kind), BELONGS.get(found.kind))
    return Misplaced(box, found, belongs if belongs is not box else None)
