"""The test SP: what samldebug sends when it plays the service provider (pure: no Flask, no network, no DB).

- `TestSP` names a test SP's endpoints (entity ID, ACS, sign-on, single-logout and metadata URLs).
- `new_key_pair` makes its RSA key and self-signed certificate (cryptography).
- `authn_request` builds an AuthnRequest from `RequestOptions` (every knob Entra reads or ignores);
  `redirect_url` / `post_fields` put it on the wire (Redirect: DEFLATE + query signature; POST: enveloped
  signature by signxml).
- `sp_metadata` is the signed SP metadata to upload to Entra; `logout_request` / `logout_response` the SLO
  messages; `options_from` replays a customer SP's request shape (its metadata or one of its AuthnRequests).

What is received is never parsed here: the ACS hands it to the analysis pipeline like any paste.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets
import tomllib
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from .config import Limits
from .decode import decode
from .model import AnalysisStop
from .saml import DS, MD, NS, SAML, SAMLP, kind_of
from .xmlsafe import parse

POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
SIG_ALGS = {
    "rsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", hashes.SHA256),
    "rsa-sha512": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", hashes.SHA512),
    "rsa-sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", hashes.SHA1),
}
SIG_ALG_BY_URI = {uri: name for name, (uri, _h) in SIG_ALGS.items()}
NAMEID_FORMATS = {
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}
AC_PREFIX = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
AUTHN_CONTEXTS = (
    "Password",
    "PasswordProtectedTransport",
    "X509",
    "Kerberos",
    "Smartcard",
    "SmartcardPKI",
    "TLSClient",
    "Unspecified",
    "urn:federation:authentication:windows",
)
COMPARISONS = ("exact", "minimum", "maximum", "better")
ENTRA_SSO = "https://login.microsoftonline.com/{tenant}/saml2"
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
# A character XML 1.0 cannot hold (lxml refuses it): a single character class, linear on any input.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class SPError(ValueError):
    """Options or inputs the test SP cannot use (shown to the user as a form error)."""


def valid_name(name: str) -> bool:
    """Test SP names are URL path segments: lower-case letters, digits and dashes, 1-40 characters."""
    return 0 < len(name) <= 40 and set(name) <= _NAME_CHARS and not name.startswith("-")


@dataclass(frozen=True)
class TestSP:
    """A named test SP under `base` (the samldebug origin, e.g. https://samldebug.example.com)."""

    __test__ = False  # not a pytest test class

    name: str
    base: str

    @property
    def entity_id(self) -> str:
        return f"{self.base}/sp/{self.name}"

    @property
    def acs_url(self) -> str:
        return f"{self.entity_id}/acs"

    @property
    def login_url(self) -> str:
        return f"{self.entity_id}/login"

    @property
    def slo_url(self) -> str:
        return f"{self.entity_id}/slo"

    @property
    def metadata_url(self) -> str:
        return f"{self.entity_id}/metadata"

    def entra_fields(self) -> list[dict[str, str]]:
        """What to paste into Entra → Enterprise applications → your app → Single sign-on → Basic SAML
        Configuration, field by field."""
        return [
            {
                "field": "Identifier (Entity ID)",
                "value": self.entity_id,
                "why": "Entra compares it with the Issuer of each AuthnRequest (AADSTS700016 when they differ) and "
                "puts it in the assertion's Audience.",
            },
            {
                "field": "Reply URL (Assertion Consumer Service URL)",
                "value": self.acs_url,
                "why": "Where Entra posts the SAMLResponse; a request naming another URL gets AADSTS50011.",
            },
            {
                "field": "Sign on URL",
                "value": self.login_url,
                "why": "Optional. With it, 'Test' and My Apps start here (SP-initiated); without it, Entra posts "
                "an unsolicited response (IdP-initiated) to the Reply URL.",
            },
            {"field": "Relay State", "value": "", "why": "Leave empty (IdP-initiated RelayState is shown if sent)."},
            {
                "field": "Logout Url",
                "value": self.slo_url,
                "why": "Where Entra sends LogoutRequests and LogoutResponses (single logout).",
            },
        ]


# --- keys ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    key_pem: bytes  # PKCS#8, unencrypted: kept where the operator keeps the instance's secrets
    cert_pem: bytes

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SPError("the test SP key is not an RSA key")
        return key

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def cert_b64(self) -> str:
        return base64.b64encode(self.certificate().public_bytes(serialization.Encoding.DER)).decode()


def new_key_pair(name: str, now: datetime, *, days: int = 3 * 365, bits: int = 3072) -> KeyPair:
    """An RSA key and a self-signed certificate for signing requests/metadata and receiving encrypted
    assertions (Entra's token-encryption blade takes the certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"samldebug test SP {name}"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "samldebug"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(key_pem, cert.public_bytes(serialization.Encoding.PEM))


# --- AuthnRequest knobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestOptions:
    """Every AuthnRequest knob. The defaults are what a well-behaved SP sends to Entra."""

    binding: str = "redirect"  # redirect | post: how the request travels to the IdP
    sign: bool = False
    sig_alg: str = "rsa-sha256"
    name_id_format: str = ""  # "" → no NameIDPolicy Format; else a URI
    allow_create: str = ""  # "" (omitted) | "true" | "false"
    name_id_policy: bool = True  # send a NameIDPolicy element at all
    force_authn: bool = False
    is_passive: bool = False
    authn_contexts: tuple[str, ...] = ()  # AuthnContextClassRef values (full URIs)
    comparison: str = ""  # "" (omitted → exact) | exact | minimum | maximum | better
    acs: str = "url"  # url | index | none: how the request names where to answer
    acs_url: str = ""  # "" → the test SP's ACS URL (anything else: test a wrong Reply URL)
    acs_index: int = 0
    protocol_binding: bool = True  # ProtocolBinding="…HTTP-POST" (with acs=url)
    relay_state: str = ""

    def __post_init__(self) -> None:
        if self.binding not in ("redirect", "post"):
            raise SPError("binding must be redirect or post")
        if self.sig_alg not in SIG_ALGS:
            raise SPError(f"SigAlg must be one of {', '.join(SIG_ALGS)}")
        if self.allow_create not in ("", "true", "false"):
            raise SPError("AllowCreate must be empty, true or false")
        if self.comparison not in ("", *COMPARISONS):
            raise SPError(f"Comparison must be one of {', '.join(COMPARISONS)}")
        if self.acs not in ("url", "index", "none"):
            raise SPError("the ACS choice must be url, index or none")
        if not 0 <= self.acs_index <= 65535:
            raise SPError("AssertionConsumerServiceIndex must be between 0 and 65535")
        if len(self.relay_state.encode()) > 80:
            raise SPError("RelayState must be at most 80 bytes (SAML bindings §3.4.3)")
        if len(self.authn_contexts) > 8 or any(len(c) > 256 for c in self.authn_contexts):
            raise SPError("at most 8 AuthnContextClassRef values of at most 256 characters")
        if len(self.name_id_format) > 256 or len(self.acs_url) > 2048:
            raise SPError("NameID format or ACS URL too long")
        if any(_NOT_XML.search(v) for v in (self.name_id_format, self.acs_url, *self.authn_contexts)):
            raise SPError("NameID format, ACS URL and AuthnContextClassRef values cannot hold control characters")

    def summary(self) -> dict[str, str]:
        """The knobs as shown next to a report ("what this sign-in asked for")."""
        out = {
            "binding": "HTTP-Redirect" if self.binding == "redirect" else "HTTP-POST",
            "signed": f"yes ({self.sig_alg})" if self.sign else "no",
        }
        if self.name_id_policy:
            out["NameIDPolicy"] = (self.name_id_format or "(no Format)") + (
                f", AllowCreate={self.allow_create}" if self.allow_create else ""
            )
        if self.force_authn:
            out["ForceAuthn"] = "true"
        if self.is_passive:
            out["IsPassive"] = "true"
        if self.authn_contexts:
            out["RequestedAuthnContext"] = f"{self.comparison or 'exact'}: " + ", ".join(self.authn_contexts)
        out["ACS"] = {"url": self.acs_url or "(own ACS URL)", "index": f"index {self.acs_index}", "none": "omitted"}[
            self.acs
        ]
        if self.relay_state:
            out["RelayState"] = self.relay_state
        return out


def _bool(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def options_from_form(form: dict[str, Any]) -> RequestOptions:
    """RequestOptions from form fields (names = the dataclass fields). Raises SPError for bad values."""

    def text(name: str) -> str:
        value = form.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    contexts: list[str] = []
    raw_contexts = form.get("authn_contexts", "")
    items = raw_contexts if isinstance(raw_contexts, list) else str(raw_contexts).replace(",", "\n").splitlines()
    for item in items:
        value = str(item).strip()
        if value:
            contexts.append(value if ":" in value else AC_PREFIX + value)
    fmt = text("name_id_format")
    index_text = text("acs_index") or "0"
    try:
        index = int(index_text)
    except ValueError:
        raise SPError(f"AssertionConsumerServiceIndex must be a number, not {index_text!r}") from None
    return RequestOptions(
        binding=text("binding") or "redirect",
        sign=_bool(form.get("sign", "")),
        sig_alg=text("sig_alg") or "rsa-sha256",
        name_id_format=NAMEID_FORMATS.get(fmt, fmt),
        allow_create=text("allow_create"),
        name_id_policy=text("name_id_policy") != "omit",
        force_authn=_bool(form.get("force_authn", "")),
        is_passive=_bool(form.get("is_passive", "")),
        authn_contexts=tuple(dict.fromkeys(contexts)),
        comparison=text("comparison"),
        acs=text("acs") or "url",
        acs_url=text("acs_url"),
        acs_index=index,
        protocol_binding=text("protocol_binding") != "omit",
        relay_state=form.get("relay_state", "") if isinstance(form.get("relay_state"), str) else "",
    )


def options_to_form(opts: RequestOptions) -> dict[str, str]:
    """The inverse of options_from_form (to fill the form with replayed or remembered options)."""
    short = {v: k for k, v in NAMEID_FORMATS.items()}
    return {
        "binding": opts.binding,
        "sign": "1" if opts.sign else "",
        "sig_alg": opts.sig_alg,
        "name_id_format": short.get(opts.name_id_format, opts.name_id_format),
        "allow_create": opts.allow_create,
        "name_id_policy": "" if opts.name_id_policy else "omit",
        "force_authn": "1" if opts.force_authn else "",
        "is_passive": "1" if opts.is_passive else "",
        "authn_contexts": "\n".join(c.removeprefix(AC_PREFIX) for c in opts.authn_contexts),
        "comparison": opts.comparison,
        "acs": opts.acs,
        "acs_url": opts.acs_url,
        "acs_index": str(opts.acs_index),
        "protocol_binding": "" if opts.protocol_binding else "omit",
        "relay_state": opts.relay_state,
    }


@cache
def knobs() -> dict[str, dict[str, str]]:
    """What each knob does and how Entra treats it (data: catalog/sp_knobs.toml, with sources)."""
    text = resources.files("samldebug.catalog").joinpath("sp_knobs.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for key, entry in data.items():
        for field in ("label", "what", "entra", "source"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ValueError(f"sp_knobs.toml [{key}]: '{field}' must be a non-empty string")
    return {k: {f: str(v) for f, v in e.items()} for k, e in data.items()}


# --- building messages -----------------------------------------------------------------------------------------


def new_id() -> str:
    """A request ID: starts with a letter (Entra: AADSTS7500529 otherwise), 160 bits of randomness."""
    return "_" + secrets.token_hex(20)


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _issuer(parent: etree._Element, value: str) -> None:
    etree.SubElement(parent, f"{{{SAML}}}Issuer").text = value


def authn_request(sp: TestSP, opts: RequestOptions, destination: str, request_id: str, now: datetime) -> bytes:
    """The AuthnRequest XML (unsigned: POST signing happens in `post_fields`)."""
    root = etree.Element(f"{{{SAMLP}}}AuthnRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", _iso(now))
    if destination:
        root.set("Destination", destination)
    if opts.force_authn:
        root.set("ForceAuthn", "true")
    if opts.is_passive:
        root.set("IsPassive", "true")
    if opts.acs == "url":
        root.set("AssertionConsumerServiceURL", opts.acs_url or sp.acs_url)
        if opts.protocol_binding:
            root.set("ProtocolBinding", POST)
    elif opts.acs == "index":
        root.set("AssertionConsumerServiceIndex", str(opts.acs_index))
    _issuer(root, sp.entity_id)
    if opts.name_id_policy:
        policy = etree.SubElement(root, f"{{{SAMLP}}}NameIDPolicy")
        if opts.name_id_format:
            policy.set("Format", opts.name_id_format)
        if opts.allow_create:
            policy.set("AllowCreate", opts.allow_create)
    if opts.authn_contexts:
        rac = etree.SubElement(root, f"{{{SAMLP}}}RequestedAuthnContext")
        if opts.comparison:
            rac.set("Comparison", opts.comparison)
        for ref in opts.authn_contexts:
            etree.SubElement(rac, f"{{{SAML}}}AuthnContextClassRef").text = ref
    return etree.tostring(root, xml_declaration=False, encoding="utf-8")


def logout_request(
    sp: TestSP,
    destination: str,
    request_id: str,
    now: datetime,
    name_id: str,
    name_id_format: str | None = None,
    session_index: str | None = None,
) -> bytes:
    root = etree.Element(f"{{{SAMLP}}}LogoutRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", _iso(now))
    root.set("Destination", destination)
    _issuer(root, sp.entity_id)
    nid = etree.SubElement(root, f"{{{SAML}}}NameID")
    if name_id_format:
        nid.set("Format", name_id_format)
    nid.text = name_id
    if session_index:
        etree.SubElement(root, f"{{{SAMLP}}}SessionIndex").text = session_index
    return etree.tostring(root, encoding="utf-8")


def logout_response(
    sp: TestSP, destination: str, in_response_to: str | None, now: datetime, status: str = "Success"
) -> bytes:
    root = etree.Element(f"{{{SAMLP}}}LogoutResponse", nsmap={"samlp": SAMLP, "saml": SAML})
    root.set("ID", new_id())
    root.set("Version", "2.0")
    root.set("IssueInstant", _iso(now))
    root.set("Destination", destination)
    if in_response_to:
        root.set("InResponseTo", in_response_to)
    _issuer(root, sp.entity_id)
    st = etree.SubElement(root, f"{{{SAMLP}}}Status")
    etree.SubElement(st, f"{{{SAMLP}}}StatusCode").set("Value", f"urn:oasis:names:tc:SAML:2.0:status:{status}")
    return etree.tostring(root, encoding="utf-8")


def sign_enveloped(xml: bytes, keys: KeyPair, sig_alg: str = "rsa-sha256") -> bytes:
    """An enveloped signature right after the Issuer (SAML core §5.4.1: the Signature follows the Issuer),
    exclusive C14N, SHA-256 digest, with the certificate in KeyInfo. signxml does the signing."""
    from signxml import XMLSigner  # type: ignore[attr-defined]  # imported when signing only

    if sig_alg == "rsa-sha1":
        raise SPError(
            "signxml does not sign with SHA-1 (it is broken); send the request with the Redirect binding to test "
            "SigAlg rsa-sha1, or choose rsa-sha256"
        )
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    placeholder = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    issuer = root.find("saml:Issuer", NS)
    if issuer is not None:
        issuer.addnext(placeholder)
    else:
        root.insert(0, placeholder)
    signer = XMLSigner(
        signature_algorithm=sig_alg,
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(
        root,
        key=keys.private_key(),
        cert=[keys.certificate()],
        reference_uri="#" + (root.get("ID") or ""),
        id_attribute="ID",
    )
    return etree.tostring(signed, encoding="utf-8")


def deflate_b64(xml: bytes) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()


def redirect_url(
    destination: str,
    xml: bytes,
    *,
    parameter: str = "SAMLRequest",
    relay_state: str = "",
    keys: KeyPair | None = None,
    sig_alg: str = "rsa-sha256",
) -> str:
    """HTTP-Redirect binding (SAML bindings §3.4.4): DEFLATE, base64, URL-encode; signed over the exact query
    string SAMLRequest=…&RelayState=…&SigAlg=… when keys are given."""
    pairs = [(parameter, deflate_b64(xml))]
    if relay_state:
        pairs.append(("RelayState", relay_state))
    if keys is not None:
        uri, hash_cls = SIG_ALGS[sig_alg]
        pairs.append(("SigAlg", uri))
        signed = urlencode(pairs)
        signature = keys.private_key().sign(signed.encode("ascii"), padding.PKCS1v15(), hash_cls())
        query = signed + "&" + urlencode({"Signature": base64.b64encode(signature).decode()})
    else:
        query = urlencode(pairs)
    return destination + ("&" if "?" in destination else "?") + query


def post_fields(
    xml: bytes,
    *,
    parameter: str = "SAMLRequest",
    relay_state: str = "",
    keys: KeyPair | None = None,
    sig_alg: str = "rsa-sha256",
) -> dict[str, str]:
    """HTTP-POST binding (§3.5): the (enveloped-signed) XML, base64, as form fields."""
    if keys is not None:
        xml = sign_enveloped(xml, keys, sig_alg)
    fields = {parameter: base64.b64encode(xml).decode()}
    if relay_state:
        fields["RelayState"] = relay_state
    return fields


@dataclass(frozen=True)
class Outgoing:
    """A request ready to send: the XML as sent (signed for POST), and how to send it."""

    xml: bytes
    binding: str  # redirect | post
    url: str  # Redirect: the full URL; POST: the form's action
    fields: dict[str, str]  # POST form fields (empty for Redirect)


def prepare(
    xml: bytes, destination: str, binding: str, relay_state: str, keys: KeyPair | None, sig_alg: str, parameter: str
) -> Outgoing:
    if binding == "post":
        fields = post_fields(xml, parameter=parameter, relay_state=relay_state, keys=keys, sig_alg=sig_alg)
        return Outgoing(base64.b64decode(fields[parameter]), "post", destination, fields)
    url = redirect_url(destination, xml, parameter=parameter, relay_state=relay_state, keys=keys, sig_alg=sig_alg)
    return Outgoing(xml, "redirect", url, {})


# --- SP metadata -----------------------------------------------------------------------------------------------


def sp_metadata(sp: TestSP, keys: KeyPair, now: datetime, *, signed: bool = True) -> bytes:
    """SP metadata for Entra's "Upload metadata file": entity ID, ACS (POST, index 0), SLO (Redirect and POST),
    the certificate for signing and for encryption (Entra's Token encryption blade), signed by the test SP."""
    root = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={"md": MD, "ds": DS})
    root.set("entityID", sp.entity_id)
    root.set("ID", new_id())
    root.set("validUntil", _iso(now + timedelta(days=30)))
    sso = etree.SubElement(root, f"{{{MD}}}SPSSODescriptor")
    sso.set("AuthnRequestsSigned", "false")
    sso.set("WantAssertionsSigned", "true")
    sso.set("protocolSupportEnumeration", "urn:oasis:names:tc:SAML:2.0:protocol")
    for use in ("signing", "encryption"):
        kd = etree.SubElement(sso, f"{{{MD}}}KeyDescriptor")
        kd.set("use", use)
        ki = etree.SubElement(kd, f"{{{DS}}}KeyInfo")
        x509data = etree.SubElement(ki, f"{{{DS}}}X509Data")
        etree.SubElement(x509data, f"{{{DS}}}X509Certificate").text = keys.cert_b64()
    for binding in (REDIRECT, POST):
        slo = etree.SubElement(sso, f"{{{MD}}}SingleLogoutService")
        slo.set("Binding", binding)
        slo.set("Location", sp.slo_url)
    for fmt in NAMEID_FORMATS.values():
        etree.SubElement(sso, f"{{{MD}}}NameIDFormat").text = fmt
    acs = etree.SubElement(sso, f"{{{MD}}}AssertionConsumerService")
    acs.set("Binding", POST)
    acs.set("Location", sp.acs_url)
    acs.set("index", "0")
    acs.set("isDefault", "true")
    xml = etree.tostring(root, encoding="utf-8")
    if not signed:
        return xml
    from signxml import XMLSigner  # type: ignore[attr-defined]

    doc = etree.fromstring(xml)
    placeholder = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    doc.insert(0, placeholder)
    out = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#").sign(
        doc, key=keys.private_key(), cert=[keys.certificate()], reference_uri="#" + doc.get("ID", ""), id_attribute="ID"
    )
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(out, encoding="utf-8")


# --- replaying a customer SP's request shape -------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    options: RequestOptions
    source: str  # "AuthnRequest" | "SP metadata"
    customer_entity_id: str | None
    notes: tuple[str, ...]  # what was copied, and what could not be (and why)


def options_from(text: str, limits: Limits, base: RequestOptions | None = None) -> Replayed:
    """Read a customer SP's metadata or one of its AuthnRequests (any encoding the paste box takes: XML, base64,
    DEFLATE, a Redirect URL) through the safe decoder and parser, and copy its request shape."""
    base = base or RequestOptions()
    raw = text.strip().encode("utf-8")
    if not raw:
        raise SPError("Paste the customer SP's metadata or one of its AuthnRequests.")
    try:
        decoded = decode(raw, limits)
        root = parse(decoded.xml, limits)
    except AnalysisStop as stop:
        raise SPError(f"That cannot be read: {stop.finding.title}") from None
    kind = kind_of(root)
    if kind == "authn_request":
        return _from_request(root, decoded.binding, decoded.sig_alg, base)
    if kind == "metadata":
        return _from_metadata(root, base)
    raise SPError(f"That is a {kind.replace('_', ' ')}, not an AuthnRequest or SP metadata.")


def _from_request(
    root: etree._Element, binding_seen: str | None, sig_alg_seen: str | None, base: RequestOptions
) -> Replayed:
    """A customer's AuthnRequest → the same knobs."""
    notes: list[str] = []
    policy = root.find("samlp:NameIDPolicy", NS)
    rac = root.find("samlp:RequestedAuthnContext", NS)
    signed_xml = root.find("ds:Signature", NS) is not None
    signed = signed_xml or sig_alg_seen is not None
    sig_alg = base.sig_alg
    if sig_alg_seen:
        sig_alg = SIG_ALG_BY_URI.get(sig_alg_seen, sig_alg)
    elif signed_xml:
        method = root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS)
        sig_alg = SIG_ALG_BY_URI.get(method.get("Algorithm", "") if method is not None else "", sig_alg)
    binding = base.binding
    if binding_seen in ("redirect", "post"):
        binding = binding_seen
    acs = "url" if root.get("AssertionConsumerServiceURL") else "index"
    if acs == "index" and root.get("AssertionConsumerServiceIndex") is None:
        acs = "none"
    try:
        index = int(root.get("AssertionConsumerServiceIndex") or "0")
    except ValueError:
        index = 0
        notes.append("AssertionConsumerServiceIndex is not a number: index 0 is used.")
    opts = dataclasses.replace(
        base,
        binding=binding,
        sign=signed,
        sig_alg=sig_alg,
        name_id_policy=policy is not None,
        name_id_format=(policy.get("Format") or "") if policy is not None else "",
        allow_create=((policy.get("AllowCreate") or "").lower() if policy is not None else ""),
        force_authn=(root.get("ForceAuthn") or "").lower() in ("true", "1"),
        is_passive=(root.get("IsPassive") or "").lower() in ("true", "1"),
        authn_contexts=tuple(
            (el.text or "").strip() for el in (rac.findall("saml:AuthnContextClassRef", NS) if rac is not None else [])
        )[:8],
        comparison=(rac.get("Comparison") or "") if rac is not None else "",
        acs=acs,
        acs_url="",
        acs_index=min(max(index, 0), 65535),
        protocol_binding=root.get("ProtocolBinding") is not None,
    )
    if opts.allow_create not in ("", "true", "false"):
        opts = dataclasses.replace(opts, allow_create="")
    if opts.comparison not in ("", *COMPARISONS):
        notes.append(f"Comparison={opts.comparison!r} is not a SAML value; it was left out.")
        opts = dataclasses.replace(opts, comparison="")
    if opts.sign and opts.binding == "post" and opts.sig_alg == "rsa-sha1":
        notes.append("The request was signed with RSA-SHA1 in the XML; the test SP signs POST requests with SHA-256.")
        opts = dataclasses.replace(opts, sig_alg="rsa-sha256")
    if root.get("AssertionConsumerServiceURL"):
        notes.append(
            f"The customer's ACS URL {root.get('AssertionConsumerServiceURL')} is replaced by the test SP's own."
        )
    if policy is not None and policy.get("SPNameQualifier"):
        notes.append(
            "NameIDPolicy SPNameQualifier is not copied (it names the customer's SP); Entra may refuse it "
            "(AADSTS90011): the analysis of the customer's request reports it."
        )
    for tag, label in (
        ("saml:Subject", "Subject"),
        ("samlp:Scoping", "Scoping"),
        ("samlp:Extensions", "Extensions"),
    ):
        if root.find(tag, NS) is not None:
            notes.append(f"{label} is not copied: analyse the customer's request itself for what Entra says about it.")
    issuer = root.find("saml:Issuer", NS)
    entity = (issuer.text or "").strip() if issuer is not None else None
    notes.insert(
        0,
        "Copied: binding, signing and SigAlg, NameIDPolicy, ForceAuthn, IsPassive, RequestedAuthnContext, "
        "ACS URL or index.",
    )
    return Replayed(opts, "AuthnRequest", entity, tuple(notes))


def _from_metadata(root: etree._Element, base: RequestOptions) -> Replayed:
    """A customer SP's metadata → what it implies about its requests."""
    notes: list[str] = []
    sso = root.find("md:SPSSODescriptor", NS)
    if sso is None:
        raise SPError("That metadata has no SPSSODescriptor: paste the customer SP's metadata, not the IdP's.")
    signed = (sso.get("AuthnRequestsSigned") or "").lower() in ("true", "1")
    formats = [(el.text or "").strip() for el in sso.findall("md:NameIDFormat", NS) if (el.text or "").strip()]
    acs_bindings = [el.get("Binding") for el in sso.findall("md:AssertionConsumerService", NS)]
    opts = dataclasses.replace(
        base,
        sign=signed,
        name_id_policy=True,
        name_id_format=formats[0] if formats else "",
    )
    notes.append(
        "Copied from metadata: AuthnRequestsSigned="
        + ("true" if signed else "false")
        + (f", NameIDFormat {formats[0]}" if formats else ", no NameIDFormat (no Format is requested)")
        + ". Metadata does not say ForceAuthn, IsPassive or RequestedAuthnContext: paste one of the SP's "
        "AuthnRequests to copy those."
    )
    if len(formats) > 1:
        notes.append(f"The metadata lists {len(formats)} NameID formats; SPs usually request the first.")
    if acs_bindings and POST not in acs_bindings:
        notes.append("The customer's ACS does not take HTTP-POST, the only binding Entra answers with (AADSTS75003).")
    entity = root.get("entityID")
    return Replayed(opts, "SP metadata", entity, tuple(notes))
