"""Build signed SAML fixtures with throw-away keys: Entra-shaped responses, metadata, attack layouts.

Everything here is generated at test time; no key or signed message is stored in the repository.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import SignatureConstructionMethod

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"saml": SAML, "samlp": SAMLP, "ds": DS, "md": MD}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
ISSUER = f"https://sts.windows.net/{TENANT}/"
SP_ENTITY_ID = "https://sp.example.com/saml/metadata"
ACS_URL = "https://sp.example.com/saml/acs"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # the instant fixtures are "issued"


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_b64(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()


def make_keypair(
    cn: str = "Microsoft Azure Federated SSO Certificate",
    not_before: datetime = datetime(2025, 6, 1, tzinfo=UTC),
    days: int = 3 * 365,
    bits: int = 2048,
) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert)


@cache
def idp_key() -> KeyPair:
    return make_keypair()


@cache
def other_key() -> KeyPair:
    return make_keypair(cn="Some Other IdP")


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class ResponseSpec:
    issuer: str = ISSUER
    audience: str = SP_ENTITY_ID
    recipient: str = ACS_URL
    destination: str = ACS_URL
    name_id: str = "alice@contoso.example"
    name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    in_response_to: str | None = "id-4f1c2a3b5d6e7f8091a2b3c4d5e6f708"
    issued: datetime = T0
    lifetime: timedelta = timedelta(hours=1)
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"
    sub_status: str | None = None
    status_message: str | None = None
    with_assertion: bool = True
    attributes: dict[str, list[str]] = field(
        default_factory=lambda: {
            "http://schemas.microsoft.com/identity/claims/tenantid": [TENANT],
            "http://schemas.microsoft.com/identity/claims/objectidentifier": ["5b1a3c8e-0e0c-4a57-9d0e-2a1f1e8e3c11"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["alice@contoso.example"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": ["Alice"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": ["Example"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": ["alice@contoso.example"],
        }
    )
    response_id: str = field(default_factory=lambda: "_" + str(uuid.uuid4()))
    assertion_id: str = field(default_factory=lambda: "_" + str(uuid.uuid4()))


def _e(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def build_assertion(spec: ResponseSpec, parent: etree._Element | None = None) -> etree._Element:
    nsmap = {None: SAML}
    if parent is None:
        a = etree.Element(f"{{{SAML}}}Assertion", nsmap=nsmap)
    else:
        a = etree.SubElement(parent, f"{{{SAML}}}Assertion", nsmap=nsmap)
    a.set("ID", spec.assertion_id)
    a.set("IssueInstant", iso(spec.issued))
    a.set("Version", "2.0")
    _e(a, SAML, "Issuer", spec.issuer)
    subject = _e(a, SAML, "Subject")
    _e(subject, SAML, "NameID", spec.name_id, Format=spec.name_id_format)
    sc = _e(subject, SAML, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
    _e(
        sc,
        SAML,
        "SubjectConfirmationData",
        InResponseTo=spec.in_response_to,
        NotOnOrAfter=iso(spec.issued + spec.lifetime),
        Recipient=spec.recipient,
    )
    cond = _e(
        a,
        SAML,
        "Conditions",
        NotBefore=iso(spec.issued - timedelta(minutes=5)),
        NotOnOrAfter=iso(spec.issued + spec.lifetime),
    )
    _e(_e(cond, SAML, "AudienceRestriction"), SAML, "Audience", spec.audience)
    attrs = _e(a, SAML, "AttributeStatement")
    for name, values in spec.attributes.items():
        attr = _e(attrs, SAML, "Attribute", Name=name)
        for v in values:
            _e(attr, SAML, "AttributeValue", v)
    authn = _e(
        a,
        SAML,
        "AuthnStatement",
        AuthnInstant=iso(spec.issued - timedelta(seconds=2)),
        SessionIndex=spec.assertion_id,
    )
    _e(
        _e(authn, SAML, "AuthnContext"),
        SAML,
        "AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    )
    return a


def build_response(spec: ResponseSpec | None = None) -> etree._Element:
    """An Entra-shaped samlp:Response (unsigned), as an lxml element."""
    spec = spec or ResponseSpec()
    r = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP})
    r.set("ID", spec.response_id)
    r.set("Version", "2.0")
    r.set("IssueInstant", iso(spec.issued))
    r.set("Destination", spec.destination)
    if spec.in_response_to:
        r.set("InResponseTo", spec.in_response_to)
    issuer = etree.SubElement(r, f"{{{SAML}}}Issuer", nsmap={None: SAML})
    issuer.text = spec.issuer
    status = _e(r, SAMLP, "Status")
    code = _e(status, SAMLP, "StatusCode", Value=spec.status)
    if spec.sub_status:
        _e(code, SAMLP, "StatusCode", Value=spec.sub_status)
    if spec.status_message:
        _e(status, SAMLP, "StatusMessage", spec.status_message)
    if spec.with_assertion:
        build_assertion(spec, r)
    return r


class _LegacySigner(XMLSigner):
    """Lets tests produce SHA-1 signatures (signxml refuses them by default, rightly)."""

    def check_deprecated_methods(self) -> None:
        return None


def _signer(algorithm: str, digest: str) -> XMLSigner:
    cls = _LegacySigner if "sha1" in (algorithm + digest) else XMLSigner
    return cls(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=algorithm,
        digest_algorithm=digest,
        c14n_algorithm=EXC_C14N,
    )


def _placeholder_after_issuer(el: etree._Element) -> None:
    issuer = el.find(f"{{{SAML}}}Issuer")
    ph = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    ph.set("Id", "placeholder")
    if issuer is not None:
        issuer.addnext(ph)
    else:
        el.insert(0, ph)


def sign(
    root: etree._Element,
    what: str = "assertion",
    keypair: KeyPair | None = None,
    algorithm: str = "rsa-sha256",
    digest: str = "sha256",
    key: bytes | None = None,
) -> etree._Element:
    """Sign the assertion, the response or both ("both": assertion first, then response)."""
    kp = keypair or idp_key()
    signing_key = key if key is not None else kp.key_pem
    root = copy.deepcopy(root)
    if what in ("assertion", "both"):
        target = root if root.tag == f"{{{SAML}}}Assertion" else root.find(f"{{{SAML}}}Assertion")
        assert target is not None
        _placeholder_after_issuer(target)
        root = _signer(algorithm, digest).sign(
            root, key=signing_key, cert=kp.cert_pem.decode(), reference_uri="#" + target.get("ID")
        )
    if what in ("response", "both"):
        _placeholder_after_issuer(root)
        root = _signer(algorithm, digest).sign(
            root, key=signing_key, cert=kp.cert_pem.decode(), reference_uri="#" + root.get("ID")
        )
    return root


def to_bytes(el: etree._Element) -> bytes:
    return etree.tostring(el)


def b64(el: etree._Element | bytes) -> str:
    data = el if isinstance(el, bytes) else to_bytes(el)
    return base64.b64encode(data).decode()


def signed_response(what: str = "assertion", spec: ResponseSpec | None = None, **kw: object) -> bytes:
    return to_bytes(sign(build_response(spec), what, **kw))  # type: ignore[arg-type]


def metadata(
    certs: list[x509.Certificate] | None = None,
    entity_id: str = ISSUER,
    sso: str = f"https://login.microsoftonline.com/{TENANT}/saml2",
) -> bytes:
    """An Entra-shaped app federation metadata document listing the given signing certificates."""
    certs = certs if certs is not None else [idp_key().cert]
    md = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={None: MD, "ds": DS})
    md.set("entityID", entity_id)
    md.set("ID", "_" + str(uuid.uuid4()))
    idp = _e(md, MD, "IDPSSODescriptor", protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol")
    for c in certs:
        kd = _e(idp, MD, "KeyDescriptor", use="signing")
        der = c.public_bytes(serialization.Encoding.DER)
        _e(_e(_e(kd, DS, "KeyInfo"), DS, "X509Data"), DS, "X509Certificate", base64.b64encode(der).decode())
    _e(idp, MD, "SingleLogoutService", Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", Location=sso)
    _e(idp, MD, "SingleSignOnService", Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", Location=sso)
    _e(idp, MD, "SingleSignOnService", Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", Location=sso)
    return etree.tostring(md, xml_declaration=True, encoding="utf-8")


# --- XML signature wrapping layouts (SAML Raider's XSW1–XSW8) -------------------------------------------

EVIL = "mallory@evil.example"


def _evil(el: etree._Element, new_id: bool = True) -> etree._Element:
    for nid in el.iter(f"{{{SAML}}}NameID"):
        nid.text = EVIL
    if new_id:
        el.set("ID", "_evil_" + uuid.uuid4().hex)
    return el


def _strip_signature(el: etree._Element) -> etree._Element:
    for sig in el.findall(f"{{{DS}}}Signature"):
        el.remove(sig)
    return el


def xsw(n: int) -> bytes:
    """Return XSW layout n (1..8) built from a freshly signed Entra-shaped response."""
    if n in (1, 2):
        signed = sign(build_response(), "response")
        clean = _strip_signature(copy.deepcopy(signed))
        evil = _evil(copy.deepcopy(signed))  # outer: new ID, evil values, keeps the original Signature
        sig = evil.find(f"{{{DS}}}Signature")
        assert sig is not None
        if n == 1:
            sig.append(clean)
        else:
            sig.addprevious(clean)
        return to_bytes(evil)
    signed = sign(build_response(), "assertion")
    assertion = signed.find(f"{{{SAML}}}Assertion")
    assert assertion is not None
    if n == 3:
        evil = _evil(_strip_signature(copy.deepcopy(assertion)))
        assertion.addprevious(evil)
    elif n == 4:
        evil = _evil(_strip_signature(copy.deepcopy(assertion)))
        signed.remove(assertion)
        evil.append(assertion)
        signed.append(evil)
    elif n in (5, 6):
        clean = _strip_signature(copy.deepcopy(assertion))
        _evil(assertion)  # new ID, keeps its Signature (which still references the original ID)
        if n == 5:
            signed.append(clean)
        else:
            sig = assertion.find(f"{{{DS}}}Signature")
            assert sig is not None
            sig.append(clean)
    elif n == 7:
        ext = etree.Element(f"{{{SAMLP}}}Extensions")
        ext.append(copy.deepcopy(assertion))  # the clean signed copy, same ID, hidden
        _evil(assertion, new_id=False)
        assertion.addprevious(ext)
    elif n == 8:
        clean = _strip_signature(copy.deepcopy(assertion))
        _evil(assertion, new_id=False)
        sig = assertion.find(f"{{{DS}}}Signature")
        assert sig is not None
        obj = etree.SubElement(sig, f"{{{DS}}}Object")
        obj.append(clean)
    else:
        raise ValueError(n)
    return to_bytes(signed)
