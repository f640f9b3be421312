"""Signature verdict: signxml for the cryptography, plus the structural rules signxml does not enforce.

The rules (the XML Signature Wrapping family): the element whose values we show must be the element the
verified Reference points to; a Signature may only sit on the root, on the root Response's single direct
Assertion, or on an Assertion inside saml:Advice (legal evidence, SAML Core 2.0 §2.6.1, checked but never read);
one Reference per Signature, pointing at `#` + its parent's ID (or "" for the whole document); no duplicate IDs;
no Assertion hidden anywhere else; only enveloped-signature and c14n transforms; no HMAC. A violation is reported
as an attack, and then nothing is trusted.

`verify` runs named steps a reviewer can check one at a time: the layout (what the document contains), the
document rules (what is structurally wrong), each signature's shape (where it sits, what it references, which
algorithms), its cryptography (what verified, with which anchor, or the message's own key for diagnosis), the
findings from those outcomes, and the verdict (status, trusted values, what is covered).

Trust comes only from anchors (metadata certificates, pasted certificates). The certificate in ds:KeyInfo
is compared with the anchors and used for diagnosis, never for trust. Values are trusted only when read
from the subtree signxml returns as signed (comments excised by c14n).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature
from signxml.util import namespaces as SIGNXML_NAMESPACES

from . import budget, certs
from .catalog import finding
from .certs import Anchor
from .config import Limits
from .instants import iso
from .lru import LRU
from .model import CertInfo, Finding, Severity, SignatureInfo, SignatureResult, SignatureStatus, Values
from .redact import REMOVED
from .saml import (
    ASSERTION,
    DS,
    ENCRYPTED_ASSERTION,
    ISSUER,
    SAML,
    XENC,
    child,
    children,
    kind_of,
    q,
    read,
    text,
    xpath_of,
)
from .xmlsafe import make_parser

ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
C14N_TRANSFORMS = frozenset(
    {
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/2006/12/xml-c14n11#WithComments",
    }
)
ALLOWED_TRANSFORMS = C14N_TRANSFORMS | {ENVELOPED}

# The algorithm policy: RSA / ECDSA with SHA-2 accepted; SHA-1 accepted but reported; HMAC refused (a
# verifier must never let the message choose a symmetric algorithm keyed with public material).
STRONG_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
        SignatureMethod.SHA256_RSA_MGF1,
        SignatureMethod.SHA384_RSA_MGF1,
        SignatureMethod.SHA512_RSA_MGF1,
    }
)
SHA1_METHODS = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1})
STRONG_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
SHA1_DIGESTS = frozenset({DigestAlgorithm.SHA1})
POLICY = SignatureConfiguration(
    expect_references=1,
    signature_methods=STRONG_METHODS | SHA1_METHODS,
    digest_algorithms=STRONG_DIGESTS | SHA1_DIGESTS,
)

ID_ATTRS = ("ID", "Id", "AssertionID")
_SIGNATURE = f"{{{DS}}}Signature"
_SIGNED_INFO, _REFERENCE, _SIGNATURE_METHOD = (f"{{{DS}}}{t}" for t in ("SignedInfo", "Reference", "SignatureMethod"))
_C14N_METHOD, _DIGEST_METHOD = f"{{{DS}}}CanonicalizationMethod", f"{{{DS}}}DigestMethod"
_TRANSFORMS, _TRANSFORM = f"{{{DS}}}Transforms", f"{{{DS}}}Transform"
_KEY_INFO, _KEY_VALUE = f"{{{DS}}}KeyInfo", f"{{{DS}}}KeyValue"
_SIGNATURE_VALUE = f"{{{DS}}}SignatureValue"
_STORED_MARKER = "".join(REMOVED.split())  # what a stored report puts in place of a SignatureValue
_ADVICE = q("saml", "Advice")
_X509_DATA, _X509_CERT = f"{{{DS}}}X509Data", f"{{{DS}}}X509Certificate"
_STRUCTURE_XPATH = etree.XPath(
    "//ds:Signature | //saml:Assertion | //saml:EncryptedAssertion", namespaces={"ds": DS, "saml": SAML}
)
_ID_XPATH = etree.XPath("//@ID | //@Id | //@AssertionID")


@dataclass
class Verification:
    result: SignatureResult
    findings: list[Finding]
    trusted: Values | None


@dataclass
class _Sig:
    el: etree._Element
    where: str
    on: str
    uri: str | None = None
    method: str | None = None
    digest: str | None = None
    c14n: str | None = None
    transforms: tuple[str, ...] = ()
    location: str = "./"
    structural_ok: bool = True
    algorithm_ok: bool = True
    embedded: x509.Certificate | None = None
    embedded_error: str | None = None
    has_key_value: bool = False
    verified_by: Anchor | None = None
    signed_xml: etree._Element | None = None
    error: str | None = None
    outcome: str | None = None  # verified | digest | value | keyvalue | malformed | unsupported | removed | ...
    notes: list[str] = field(default_factory=list)


def _short(uri: str | None) -> str:
    return (uri or "?").rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _in_encrypted(el: etree._Element) -> bool:
    return any(a.tag in (q("saml", "EncryptedAssertion"), f"{{{XENC}}}EncryptedData") for a in el.iterancestors())


def _location(root: etree._Element, parent: etree._Element) -> str:
    """A path from root to parent, usable as signxml's `location` (ElementPath: an index counts only
    siblings with the same tag, so each step names its tag)."""
    steps: list[str] = []
    node = parent
    while node is not root:
        up = node.getparent()
        if up is None:
            break
        same = [c for c in up if c.tag == node.tag]
        steps.append(f"{node.tag}[{same.index(node) + 1}]")
        node = up
    return "./" + "".join(f"{s}/" for s in reversed(steps))


def _embedded_cert(sig: etree._Element) -> tuple[x509.Certificate | None, str | None]:
    el = child(sig, _KEY_INFO, _X509_DATA, _X509_CERT)
    if el is None or not (el.text or "").strip():
        return None, None
    compact = "".join((el.text or "").split())
    return _load_embedded(compact) if len(compact) <= _CACHED_CERT_TEXT else _load_embedded.__wrapped__(compact)


_CACHED_CERT_TEXT = 16 * 1024  # longer texts are not certificates an IdP sends: parsed, never cached


@lru_cache(maxsize=256)
def _load_embedded(text: str) -> tuple[x509.Certificate | None, str | None]:
    """Parsed once per distinct certificate (an IdP sends the same one in every message)."""
    try:
        return certs.load_certs(text)[0], None  # base64 of DER, or ADFS's base64 of a PEM text
    except certs.CertError as e:
        return None, f"the certificate in KeyInfo does not parse ({e})"


def _key_fits(cert: x509.Certificate, method: str | None) -> bool:
    """An RSA signature cannot be verified with an EC key (and vice versa): such an anchor is skipped, never
    reported as a key trick."""
    key = cert.public_key()
    if method is None:
        return True
    if "ecdsa" in method:
        return isinstance(key, ec.EllipticCurvePublicKey)
    if "rsa" in method:
        return isinstance(key, rsa.RSAPublicKey)
    return True


def _same_cert(a: x509.Certificate, b: x509.Certificate) -> bool:
    return a == b or certs.same_key(a, b)


def _clamp(now: datetime, cert: x509.Certificate) -> datetime:
    # Certificate validity is reported separately (an expired anchor is a warning, not an invalid
    # signature), so the cryptographic check runs at an instant inside the anchor's validity.
    return min(max(now, cert.not_valid_before_utc), cert.not_valid_after_utc)


_ATTRIBUTE_EQUALS = etree.XPath("//@*[. = $uri]")  # every attribute of the document whose value is the URI
_CERT_DESCRIPTIONS: LRU[tuple[x509.Certificate, str], str] = LRU(256)


def _signxml_tag(query: str) -> str:
    """signxml's "prefix:Name" child query (ds: when no prefix) as a Clark tag."""
    prefix, _, local = query.rpartition(":")
    return f"{{{SIGNXML_NAMESPACES[prefix or 'ds']}}}{local}"


class _Verifier(XMLVerifier):
    """signxml's verifier, taught that an RSA-PSS signature (sha256-rsa-MGF1 …) carries an RSAKeyValue like any
    RSA signature: signxml compares the KeyValue with the certificate only for RSA_* / ECDSA_* / DSA_* names and
    raises NotImplementedError for the PSS ones (an internal error for any IdP that sends both).

    Two lookups are answered the same way at a fraction of the cost (a message is verified on every paste;
    tests/test_signxml_lookups.py checks them against signxml's own on every sample): a child lookup without a
    location path (signxml builds an ElementPath with a prefix map for each of the ~10 per verification) and the
    Reference URI lookup (signxml compiles and runs one XPath per ID attribute name; here one compiled XPath finds
    the attributes holding the URI, and the same rule picks the elements: local name Id, then ID, then id,
    more than one element is ambiguous)."""

    def _find(self, element: Any, query: str, require: bool = True, xpath: str = "") -> Any:
        if xpath:  # the expected location of the Signature: signxml's own ElementPath
            return super()._find(element, query, require=require, xpath=xpath)  # type: ignore[no-untyped-call]
        result = next(element.iterchildren(_signxml_tag(query)), None)
        if require and result is None:
            super()._find(element, query, require=True)  # type: ignore[no-untyped-call]  # signxml's own InvalidInput
        return result

    def _findall(self, element: Any, query: str, xpath: str = "") -> Any:
        if xpath:
            return super()._findall(element, query, xpath=xpath)  # type: ignore[no-untyped-call]
        return list(element.iterchildren(_signxml_tag(query)))

    def _get_cert_description(self, cert: Any, cert_source: str) -> str:
        # signxml formats the subject DN for every verification, for an error message it rarely needs; the same
        # certificate gives the same text, so it is formatted once (bounded cache, certificates compare by DER).
        key = (cert, cert_source)
        text = _CERT_DESCRIPTIONS.get(key)
        if text is None:
            text = super()._get_cert_description(cert, cert_source)  # type: ignore[no-untyped-call]
            _CERT_DESCRIPTIONS.put(key, text)
        return text

    def _resolve_reference(self, doc_root: Any, reference: Any, uri_resolver: Any = None) -> Any:
        uri = reference.get("URI")
        if uri is None or not uri.startswith("#") or uri.startswith("#xpointer("):
            return super()._resolve_reference(doc_root, reference, uri_resolver=uri_resolver)  # type: ignore[no-untyped-call]
        holders = cast(list[Any], _ATTRIBUTE_EQUALS(doc_root, uri=uri.lstrip("#")))
        for id_attribute in self.id_attributes:
            found: list[etree._Element] = []
            for value in holders:
                if etree.QName(value.attrname).localname == id_attribute:
                    parent = value.getparent()
                    if not found or found[-1] is not parent:  # document order: an element's attributes are adjacent
                        found.append(parent)
            if len(found) > 1:
                raise InvalidInput(f"Ambiguous reference URI {uri} resolved to {len(found)} nodes")
            if len(found) == 1:
                return found[0]
        raise InvalidInput(f"Unable to resolve reference URI: {uri}")

    def _check_key_value_matches_cert_public_key(self, key_value: Any, public_key: Any, signature_alg: Any) -> Any:
        if str(signature_alg.name).endswith("_RSA_MGF1") and isinstance(public_key, rsa.RSAPublicKey):
            signature_alg = SignatureMethod.RSA_SHA256  # the same RSAKeyValue comparison
        return super()._check_key_value_matches_cert_public_key(key_value, public_key, signature_alg)


def _signxml(xml: bytes, location: str, cert: x509.Certificate | None, now: datetime) -> tuple[etree._Element, bytes]:
    """signxml's verification: the signed subtree as signxml parsed it, and the canonical bytes it parsed it from."""
    verifier = _Verifier()
    if cert is not None:
        config = SignatureConfiguration(
            location=location,
            expect_references=1,
            signature_methods=POLICY.signature_methods,
            digest_algorithms=POLICY.digest_algorithms,
            verification_time=_clamp(now, cert),
        )
        result = verifier.verify(xml, x509_cert=cert, parser=make_parser(), expect_config=config)
    else:  # diagnosis only, with the key the message carries (RSAKeyValue); never trusted
        config = SignatureConfiguration(
            location=location,
            expect_references=1,
            require_x509=False,
            signature_methods=POLICY.signature_methods,
            digest_algorithms=POLICY.digest_algorithms,
        )
        result = verifier.verify(xml, parser=make_parser(), expect_config=config)
    if isinstance(result, list) or result.signed_xml is None or not isinstance(result.signed_data, bytes):
        raise InvalidInput("the signed content is not XML")
    return result.signed_xml, result.signed_data


class _OutcomeCache(LRU[tuple[bytes, str, bytes], tuple[str, str | None, bytes | None]]):
    """signxml's verdict is a pure function of (exact bytes, signature location, certificate): the
    verification instant is clamped into the certificate's validity, so `now` does not change it. Re-analysing
    the same message (other SP settings, another evaluation time, the same response twice in a capture) reuses
    the verdict. Bounded in entries and bytes; thread-safe. Trusted values are still read from the signed
    bytes signxml returned, re-parsed with the hardened parser."""

    def __init__(self, entries: int = 512, max_signed_bytes: int = 64 * 1024) -> None:
        super().__init__(entries)
        self.max_signed_bytes = max_signed_bytes

    def put(self, key: tuple[bytes, str, bytes], value: tuple[str, str | None, bytes | None]) -> None:
        if value[2] is not None and len(value[2]) > self.max_signed_bytes:
            return
        super().put(key, value)


OUTCOMES = _OutcomeCache()


def _attempt(
    xml: bytes, s: _Sig, cert: x509.Certificate | None, now: datetime
) -> tuple[str, str | None, etree._Element | None]:
    """(outcome, error, signed_xml). Outcome: verified | digest | value | keyvalue | malformed | unsupported."""
    key = (
        hashlib.sha256(xml).digest(),
        s.location,
        certs.fingerprint(cert) if cert is not None else b"message-key",
    )
    cached = OUTCOMES.get(key)
    if cached is not None:
        outcome, error, signed = cached
        return outcome, error, etree.fromstring(signed, make_parser()) if signed is not None else None
    outcome, error, signed_el, signed_bytes = _attempt_uncached(xml, s, cert, now)
    OUTCOMES.put(key, (outcome, error, signed_bytes))  # a hit re-parses the very bytes signxml parsed
    return outcome, error, signed_el


def _attempt_uncached(
    xml: bytes, s: _Sig, cert: x509.Certificate | None, now: datetime
) -> tuple[str, str | None, etree._Element | None, bytes | None]:
    try:
        return "verified", None, *_signxml(xml, s.location, cert, now)
    except InvalidDigest as e:
        return "digest", str(e), None, None
    except (InvalidSignature, cryptography.exceptions.InvalidSignature) as e:
        return "value", str(e) or "signature value does not match", None, None
    except InvalidInput as e:
        if "KeyValue" in str(e) or "key value" in str(e).lower():
            return "keyvalue", str(e), None, None
        return "malformed", str(e), None, None
    except etree.DocumentInvalid as e:
        return "malformed", f"the Signature element is not valid XML-DSig ({e})", None, None
    except NotImplementedError:
        return "unsupported", "this key and algorithm combination cannot be checked", None, None
    except (ValueError, TypeError, KeyError, etree.LxmlError) as e:
        return "malformed", f"{type(e).__name__}: {e}", None, None


def _looks_reformatted(el: etree._Element) -> bool:
    """Indentation between the elements of SignedInfo: typical of a pretty-printed copy."""
    signed_info = child(el, _SIGNED_INFO)
    if signed_info is None:
        return False
    return any((c.tail or "").strip() == "" and "\n" in (c.tail or "") for c in signed_info)


# --- the layout: what the document contains, before any signature is looked at ------------------------------


@dataclass
class _Layout:
    root: etree._Element
    kind: str
    signatures: list[etree._Element]  # outside any ciphertext
    assertions: list[etree._Element]
    encrypted: list[etree._Element]
    ids: dict[str, list[etree._Element]]
    advice: set[etree._Element]  # Assertions / EncryptedAssertions legally nested in saml:Advice
    places: dict[etree._Element, str]  # where a Signature may sit → what it then signs


def _legal_advice(root: etree._Element, tops: list[etree._Element]) -> set[etree._Element]:
    """Assertions (clear or encrypted) inside saml:Advice of a top-level assertion, at any depth of Advice
    nesting (SAML Core 2.0 §2.6.1): legal evidence, never the assertion a reader consumes."""
    legal: set[etree._Element] = set()
    todo = list(tops)
    while todo:
        owner = todo.pop()
        for advice in owner.iterchildren(_ADVICE):
            for nested in advice.iterchildren(ASSERTION, ENCRYPTED_ASSERTION):
                if nested not in legal:
                    legal.add(nested)
                    if nested.tag == ASSERTION:
                        todo.append(nested)
    return legal


def _layout(root: etree._Element) -> _Layout:
    # One C-level pass finds every element the structural rules look at.
    found = cast(list[etree._Element], _STRUCTURE_XPATH(root))
    kind = kind_of(root)
    assertions = [e for e in found if e.tag == ASSERTION]
    if kind == "assertion":
        tops = [root]
    elif kind == "response":
        tops = [a for a in assertions if a.getparent() is root]
    else:
        tops = []
    advice = _legal_advice(root, tops) if tops else set()
    ids: dict[str, list[etree._Element]] = {}
    for value in cast(list[Any], _ID_XPATH(root)):
        ids.setdefault(str(value), []).append(value.getparent())
    places: dict[etree._Element, str] = {root: kind}
    if kind == "response" and len(tops) == 1:
        places[tops[0]] = "assertion"
    places.update((a, "advice") for a in advice if a.tag == ASSERTION)
    return _Layout(
        root=root,
        kind=kind,
        signatures=[e for e in found if e.tag == _SIGNATURE and not _in_encrypted(e)],
        assertions=assertions,
        encrypted=[e for e in found if e.tag == ENCRYPTED_ASSERTION],
        ids=ids,
        advice=advice,
        places=places,
    )


class _Run:
    """The findings of one verification, and whether any of them is an attack."""

    def __init__(self) -> None:
        self.out: list[Finding] = []
        self.attack = False
        self.sha1_reported = False
        self.weak_key_reported = False

    def add(self, f: Finding, *, attack: bool = False) -> None:
        self.out.append(f)
        self.attack = self.attack or attack

    def xsw(self, title: str, actual: str | None = None, where: str | None = None) -> None:
        self.add(finding("xsw", title, actual=actual, where=where), attack=True)


# --- what is structurally wrong with the document ----------------------------------------------------------

_DUPLICATES_SHOWN = 5  # one finding per duplicated ID up to this many, then one summary (each costs a path walk)


def _duplicate_ids(layout: _Layout, run: _Run) -> None:
    duplicated = [(value, els) for value, els in layout.ids.items() if len(els) > 1]
    for value, els in duplicated[:_DUPLICATES_SHOWN]:
        run.xsw(
            f"The ID {value!r} appears {len(els)} times: a reference to it is ambiguous",
            actual=", ".join(xpath_of(e) for e in els[:4]),
            where=xpath_of(els[1]),
        )
    if len(duplicated) > _DUPLICATES_SHOWN:
        run.xsw(
            f"{len(duplicated)} IDs appear more than once (the first {_DUPLICATES_SHOWN} are listed)",
            actual=", ".join(repr(v) for v, _ in duplicated[_DUPLICATES_SHOWN : _DUPLICATES_SHOWN + 5]) + ", …",
        )


def _response_assertions(layout: _Layout, run: _Run) -> None:
    root = layout.root
    advice = layout.advice
    direct = [a for a in layout.assertions if a.getparent() is root]
    misplaced = [a for a in layout.assertions if a.getparent() is not root and a not in advice]
    encrypted = [e for e in layout.encrypted if e not in advice]
    # A signature may hide inside ciphertext: with an EncryptedAssertion present, extra or misplaced
    # assertions are as suspicious as with a visible signature.
    suspicious = bool(layout.signatures or encrypted)
    if misplaced and suspicious:
        for a in misplaced:
            run.xsw(
                "An Assertion is hidden inside another element: a reader and the verifier may see different ones",
                actual=f"Assertion ID={a.get('ID')!r} at {xpath_of(a)}",
                where=xpath_of(a),
            )
    for e in encrypted:
        if e.getparent() is not root:
            run.xsw("An EncryptedAssertion is hidden inside another element", actual=xpath_of(e), where=xpath_of(e))
    total = len(direct) + len(encrypted)
    if total > 1 and suspicious:
        run.xsw(
            f"The Response carries {total} assertions (clear and encrypted); exactly one is allowed",
            actual=", ".join([f"ID={a.get('ID')!r}" for a in direct] + ["EncryptedAssertion"] * len(encrypted)),
        )
    elif total > 1:
        run.add(finding("multiple_assertions", expected="one Assertion", actual=f"{total} assertions"))


def _document_rules(layout: _Layout, run: _Run) -> None:
    """Duplicate IDs, hidden or extra assertions: what is wrong whatever the signatures say."""
    if layout.signatures:
        _duplicate_ids(layout, run)
    if layout.kind == "response":
        _response_assertions(layout, run)
    elif layout.kind == "assertion" and layout.signatures:
        nested = [a for a in layout.assertions[1:] if a not in layout.advice]
        if nested:
            run.xsw("Another Assertion is nested inside the Assertion", where=xpath_of(nested[0]))


# --- each signature: where it sits, what it references, which algorithms --------------------------------------


def _place(el: etree._Element, layout: _Layout, seen: dict[etree._Element, int], run: _Run) -> _Sig:
    parent = el.getparent()
    assert parent is not None
    on = layout.places.get(parent, "unexpected")
    s = _Sig(el=el, where=xpath_of(el), on=on, location=_location(layout.root, parent))
    seen[parent] = seen.get(parent, 0) + 1
    if on == "unexpected":
        s.structural_ok = False
        run.xsw("A Signature sits where no SAML signature belongs", actual=f"inside {xpath_of(parent)}", where=s.where)
    elif seen[parent] > 1:
        s.structural_ok = False
        run.xsw(f"The {on} carries more than one Signature", where=s.where)
    return s


def _reference(s: _Sig, refs: list[etree._Element], layout: _Layout, limits: Limits, run: _Run) -> None:
    """What the signature references: exactly one Reference, to its own parent (or "" for the whole document)."""
    parent = s.el.getparent()
    assert parent is not None
    if len(refs) > 1:
        s.structural_ok = False
        run.xsw(
            f"The Signature has {len(refs)} References; a SAML signature has exactly one",
            actual=", ".join(r.get("URI") or "''" for r in refs[: limits.max_references]),
            where=s.where,
        )
    s.uri = refs[0].get("URI")
    parent_id = next((parent.get(a) for a in ID_ATTRS if parent.get(a) is not None), None)
    if s.uri is None:
        s.structural_ok = False
        run.add(finding("malformed_signature", actual="Reference without a URI attribute", where=s.where))
    elif s.uri != "" and s.uri != f"#{parent_id}":  # "" is the whole document: it contains the parent
        s.structural_ok = False
        target = layout.ids.get(s.uri[1:], [])
        target_desc = xpath_of(target[0]) if target else "no element in this document"
        run.xsw(
            "The signature does not cover the element it sits on: it references another element",
            actual=f"Reference URI {s.uri!r} → {target_desc}; the signature sits on ID={parent_id!r}",
            where=s.where,
        )


def _read_algorithms(s: _Sig, signed_info: etree._Element, ref: etree._Element) -> None:
    method = child(signed_info, _SIGNATURE_METHOD)
    c14n = child(signed_info, _C14N_METHOD)
    dm = child(ref, _DIGEST_METHOD)
    s.method = method.get("Algorithm") if method is not None else None
    s.c14n = c14n.get("Algorithm") if c14n is not None else None
    s.digest = dm.get("Algorithm") if dm is not None else None
    s.transforms = tuple(t.get("Algorithm") or "" for t in children(child(ref, _TRANSFORMS), _TRANSFORM))


def _algorithm_policy(s: _Sig, run: _Run) -> None:
    """Transforms allow-listed, HMAC refused, RSA/ECDSA with SHA-2 accepted, SHA-1 accepted and reported."""
    bad_transforms = [t for t in s.transforms if t not in ALLOWED_TRANSFORMS]
    if s.c14n is not None and s.c14n not in C14N_TRANSFORMS:
        bad_transforms.append(s.c14n)
    if bad_transforms:
        s.algorithm_ok = False
        expected = "enveloped-signature and (exclusive) c14n only"
        run.add(
            finding("disallowed_transform", expected=expected, actual=", ".join(bad_transforms), where=s.where),
            attack=True,
        )
    if s.method and "hmac" in s.method.lower():
        s.algorithm_ok = False
        expected = "an RSA or ECDSA signature from the IdP's key"
        run.add(finding("hmac_signature", expected=expected, actual=s.method, where=s.where), attack=True)
        return
    if s.method is None or s.digest is None:
        s.algorithm_ok = False
        run.add(finding("malformed_signature", actual="SignatureMethod or DigestMethod missing", where=s.where))
        return
    try:
        sm: SignatureMethod | None = SignatureMethod(s.method)
        da: DigestAlgorithm | None = DigestAlgorithm(s.digest)
    except ValueError:
        sm = da = None
    if sm not in POLICY.signature_methods or da not in POLICY.digest_algorithms:
        s.algorithm_ok = False
        run.add(
            finding(
                "unsupported_algorithm",
                expected="RSA or ECDSA with SHA-256/384/512 (SHA-1 tolerated)",
                actual=f"{s.method} / {s.digest}",
                where=s.where,
            )
        )
    elif (sm in SHA1_METHODS or da in SHA1_DIGESTS) and not run.sha1_reported:
        run.sha1_reported = True
        run.add(
            finding(
                "sha1_signature",
                expected="rsa-sha256 with a sha256 digest",
                actual=f"{_short(s.method)} / {_short(s.digest)}",
                where=s.where,
            )
        )


def _shape(el: etree._Element, layout: _Layout, seen: dict[etree._Element, int], limits: Limits, run: _Run) -> _Sig:
    """One Signature element read and judged before any cryptography."""
    s = _place(el, layout, seen, run)
    signed_info = child(el, _SIGNED_INFO)
    refs = children(signed_info, _REFERENCE)
    if signed_info is None or not refs:
        s.structural_ok = False
        s.error = "no SignedInfo/Reference"
        run.add(finding("malformed_signature", actual="Signature without SignedInfo/Reference", where=s.where))
        return s
    _reference(s, refs, layout, limits, run)
    _read_algorithms(s, signed_info, refs[0])
    s.has_key_value = child(el, _KEY_INFO, _KEY_VALUE) is not None
    s.embedded, s.embedded_error = _embedded_cert(el)
    _algorithm_policy(s, run)
    return s


# --- what verified, and with which anchor ----------------------------------------------------------------------


def _signature_value(s: _Sig, run: _Run) -> bool:
    """Whether there is a value to check. Only an empty value (or the marker a stored report carries) means a
    sanitizer removed it; anything else that is not base64 is a malformed signature, never "removed"."""
    value = child(s.el, _SIGNATURE_VALUE)
    text_value = "".join((value.text or "").split()) if value is not None else ""
    if not text_value or text_value == _STORED_MARKER:
        # `samldebug sanitize` (and other sanitizers) blank the value so that a capture cannot be replayed:
        # nothing cryptographic can be checked, everything else can.
        s.outcome, s.error = "removed", "SignatureValue removed"
        run.add(finding("signature_value_removed", actual="empty", where=s.where))
        return False
    try:
        base64.b64decode(text_value, validate=True)
    except (binascii.Error, ValueError):
        s.outcome, s.error = "malformed", f"the SignatureValue is not base64: {text_value[:40]!r}"
        return False
    return True


def _try_anchors(s: _Sig, xml: bytes, anchors: list[Anchor], now: datetime, deadline: float, run: _Run) -> None:
    """Every anchor whose key type fits, the one KeyInfo names first; the first that is not "wrong key" wins."""
    ordered = sorted(
        (a for a in anchors if _key_fits(a.cert, s.method)),
        key=lambda a: 0 if s.embedded is not None and _same_cert(a.cert, s.embedded) else 1,
    )
    for anchor in ordered:
        if time.monotonic() > deadline or budget.expired():
            run.add(_budget_finding(s.where))
            s.outcome, s.error = "malformed", "cut off: time budget exceeded"
            return
        outcome, error, signed = _attempt(xml, s, anchor.cert, now)
        if outcome == "keyvalue" and not s.has_key_value:
            outcome = "value"  # a key-type complaint without a KeyValue in the message: not this key
        if outcome == "value":
            continue  # not this key; try the next anchor (rollover lists several)
        s.outcome, s.error, s.signed_xml = outcome, error, signed
        s.verified_by = anchor if outcome == "verified" else None
        if outcome == "digest":
            s.notes.append(f"the signature value verifies with {anchor.source}")
        return
    s.outcome = "value"
    if s.embedded is not None and any(_same_cert(a.cert, s.embedded) for a in anchors):
        # The message names a trusted certificate and that key fails: not a wrong key, the signed SignedInfo
        # bytes changed (typically a pretty-printed copy).
        s.outcome = "signedinfo"


def _diagnose(s: _Sig, xml: bytes, now: datetime) -> None:
    """With the message's own key: never trusted, but it tells tampering from a wrong key."""
    if s.outcome in (None, "value") and (s.embedded is not None or s.has_key_value):
        d_outcome, d_error, _ = _attempt(xml, s, s.embedded, now)
        if s.outcome is None:  # no anchors at all
            s.outcome = {"verified": "self"}.get(d_outcome, d_outcome)
            s.error = d_error
            return
        s.notes.append(
            {
                "verified": "the message is intact and verifies with the certificate in KeyInfo",
                "digest": "with the certificate in KeyInfo the signature value verifies, the content changed",
            }.get(d_outcome, "the certificate in KeyInfo does not verify it either")
        )
        s.error = s.error or d_error
        if d_outcome == "digest":
            s.outcome = "value+digest"
    elif s.outcome is None:
        s.outcome = "nokey"


def _cryptography(s: _Sig, xml: bytes, anchors: list[Anchor], now: datetime, deadline: float, run: _Run) -> None:
    if not s.algorithm_ok or s.error or not _signature_value(s, run):
        return
    if anchors:
        _try_anchors(s, xml, anchors, now, deadline, run)
    _diagnose(s, xml, now)


def _budget_finding(where: str | None = None) -> Finding:
    return dataclasses.replace(budget_finding_for("signature verification"), where=where)


def budget_finding_for(stage: str) -> Finding:
    """analysis_budget_exceeded for `stage`, with the open budget's numbers when there is one."""
    current = budget.current()
    if current is not None:
        return current.exceeded(stage)
    return finding("analysis_budget_exceeded", actual=f"cut off during {stage}; the results before that are shown")


# --- findings from the outcomes ---------------------------------------------------------------------------------


def _key_findings(s: _Sig, anchors: list[Anchor], anchor_infos: tuple[CertInfo, ...], now: datetime, run: _Run) -> None:
    """The certificate the message names, compared with the anchors (never trusted)."""
    if s.embedded_error:
        run.add(finding("malformed_signature", actual=s.embedded_error, where=s.where, severity=Severity.WARNING))
    if s.embedded is None or not anchors or any(_same_cert(a.cert, s.embedded) for a in anchors):
        return
    emb = certs.info(s.embedded, "KeyInfo", now)
    run.add(
        finding(
            "keyinfo_cert_mismatch",
            expected="one of: " + ", ".join(a.sha1 for a in anchor_infos),
            actual=f"SHA-1 {emb.sha1} ({emb.subject}, valid {emb.not_before} – {emb.not_after})",
            where=s.where,
        )
    )
    rolled = [a.cert for a in anchors if _same_subject_newer(a.cert, s.embedded)]
    if rolled and s.outcome != "verified":
        run.add(
            finding(
                "cert_rolled",
                expected=f"metadata that lists SHA-1 {emb.sha1} (valid from {emb.not_before})",
                actual="metadata has only older certificate(s) with the same subject: "
                + ", ".join(certs.thumbprint(c, hashes.SHA1()) for c in rolled),  # noqa: S303
                where=s.where,
            )
        )


def _same_subject_newer(anchor: x509.Certificate, embedded: x509.Certificate) -> bool:
    """A rollover: the same (non-empty, real) subject, a newer certificate, another key."""
    if certs.is_bare_key(anchor) or certs.is_bare_key(embedded) or len(embedded.subject) == 0:
        return False
    return (
        anchor.subject == embedded.subject
        and embedded.not_valid_before_utc > anchor.not_valid_before_utc
        and not certs.same_key(anchor, embedded)
    )


_REFORMATTED = " (the XML looks pretty-printed or re-encoded: paste the original bytes)"


def _outcome_finding(s: _Sig, anchor_infos: tuple[CertInfo, ...]) -> Finding | None:
    """What became of the cryptographic check, as one finding (None when it verified)."""
    where = s.where
    if s.outcome == "signedinfo":
        return finding(
            "digest_mismatch",
            "SignedInfo changed after signing: the trusted certificate no longer verifies it"
            + (_REFORMATTED if _looks_reformatted(s.el) else ""),
            expected="the SignedInfo bytes the IdP signed",
            actual=(s.error or "signature value mismatch")
            + "; the certificate in KeyInfo is the trusted one, so the key is right",
            where=where,
        )
    if s.outcome in ("digest", "value+digest"):
        return finding(
            "digest_mismatch",
            "The signed content changed after signing" + (_REFORMATTED if _looks_reformatted(s.el) else ""),
            expected="the DigestValue computed by the IdP",
            actual=(s.error or "digest differs") + ("; " + "; ".join(s.notes) if s.notes else ""),
            where=where,
        )
    if s.outcome == "value" and not anchor_infos:
        # No trusted certificate was given, and the message's own certificate fails: no certificate of the SP's is
        # involved, so this is not "a wrong certificate at the SP" but a signed part that changed.
        return finding(
            "digest_mismatch",
            "The signature does not verify even with the certificate the message carries"
            + (_REFORMATTED if _looks_reformatted(s.el) else ""),
            expected="a signature that verifies at least with the certificate in KeyInfo",
            actual=((s.error or "").rstrip(": ") or "signature value mismatch")
            + "; no trusted certificate was given: the signed SignedInfo changed after signing"
            " (or KeyInfo carries a certificate that did not sign it)",
            where=where,
        )
    if s.outcome == "value":
        expected = (
            "a signature by one of: " + ", ".join(f"{a.sha1} ({a.source})" for a in anchor_infos)
            if anchor_infos
            else "a signature that verifies at least with the certificate the message carries"
        )
        return finding("signed_by_unknown_key", expected=expected, actual="; ".join(s.notes) or s.error, where=where)
    if s.outcome == "keyvalue":
        return finding("keyinfo_key_mismatch", actual=s.error, where=where)
    if s.outcome == "unsupported":
        return finding("unsupported_algorithm", actual=f"{s.method}: {s.error}", where=where)
    if s.outcome == "malformed" and s.structural_ok:
        # (for a wrapped signature the xsw finding already says what is wrong)
        return finding("malformed_signature", actual=s.error, where=where)
    if s.outcome == "self":
        thumb = f" (SHA-1 {certs.thumbprint(s.embedded, hashes.SHA1())})" if s.embedded else ""  # noqa: S303
        return finding("no_trust_anchor", actual="consistent with the key the message carries" + thumb, where=where)
    if s.outcome == "nokey":
        return finding("no_trust_anchor", actual="the message carries no key either", where=where)
    return None


def _anchor_findings(s: _Sig, now: datetime, run: _Run) -> None:
    """The anchor that verified: still valid at `now`, and strong enough."""
    if s.verified_by is None:
        return
    cert = s.verified_by.cert
    if not certs.is_bare_key(cert) and (now > cert.not_valid_after_utc or now < cert.not_valid_before_utc):
        run.add(
            finding(
                "anchor_cert_expired",
                expected=f"{iso(cert.not_valid_before_utc)} ≤ now ≤ {iso(cert.not_valid_after_utc)}",
                actual=f"now is {iso(now)}",
                where=s.verified_by.source,
            )
        )
    weak = certs.weak_key(s.verified_by, s.where) if not run.weak_key_reported else None
    if weak is not None:
        run.weak_key_reported = True
        run.add(weak)


def _findings(
    sigs: list[_Sig], anchors: list[Anchor], anchor_infos: tuple[CertInfo, ...], now: datetime, run: _Run
) -> None:
    for s in sigs:
        if s.on == "advice":
            continue  # nested evidence: summarised by _advice_findings
        _key_findings(s, anchors, anchor_infos, now, run)
        outcome = _outcome_finding(s, anchor_infos)
        if outcome is not None:
            run.add(outcome, attack=s.outcome == "keyvalue")
        _anchor_findings(s, now, run)


def _advice_findings(layout: _Layout, sigs: list[_Sig], run: _Run) -> None:
    """Each Assertion inside saml:Advice, shown as nested evidence (its values are never read)."""
    by_parent = {s.el.getparent(): s for s in sigs if s.on == "advice"}
    for a in layout.advice:
        if a.tag != ASSERTION:
            run.add(finding("advice_assertion", actual=f"an EncryptedAssertion at {xpath_of(a)}", where=xpath_of(a)))
            continue
        s = by_parent.get(a)
        if s is None:
            state = "unsigned"
        elif s.verified_by is not None and s.outcome == "verified":
            state = f"its signature verifies with {s.verified_by.source}"
        else:
            state = f"its signature does not verify ({s.error or s.outcome})"
        issuer = text(child(a, ISSUER))
        run.add(
            finding(
                "advice_assertion",
                actual=f"Assertion ID={a.get('ID')!r} issued by {issuer!r}: {state}",
                where=xpath_of(a),
            )
        )
    top_signed = any(s.on in ("response", "assertion") and s.structural_ok for s in sigs)
    if any(s.on == "advice" for s in sigs) and not top_signed:
        run.xsw(
            "The only signed Assertion sits inside Advice; the Assertion a reader consumes carries no signature",
            actual=", ".join(s.where for s in sigs if s.on == "advice"),
        )


# --- the verdict -----------------------------------------------------------------------------------------------

_UNANCHORED = ("self", "nokey", "removed")


def _status(sigs: list[_Sig], run: _Run) -> SignatureStatus:
    failed = [s for s in sigs if s.outcome not in ("verified", *_UNANCHORED)]
    if run.attack or failed or any(not s.structural_ok for s in sigs):
        return SignatureStatus.INVALID
    if any(s.outcome in _UNANCHORED for s in sigs):
        return SignatureStatus.UNVERIFIED
    return SignatureStatus.VALID


def _verified(s: _Sig) -> bool:
    return s.outcome == "verified" and s.structural_ok and s.verified_by is not None


def _response_covers_failed_assertion(sigs: list[_Sig], run: _Run) -> list[_Sig]:
    """The assertion signatures that failed beside a Response signature that verifies (and so covers the
    assertion): the Response verdict stands, and the report says exactly which signature failed. Empty when
    that is not the situation (an attack, or any other failure, keeps the verdict invalid)."""
    if run.attack or any(not s.structural_ok for s in sigs):
        return []
    covering = [s for s in sigs if s.on == "response" and _verified(s)]
    if not covering:
        return []
    failed = [s for s in sigs if not _verified(s)]
    if not failed or any(s.on != "assertion" for s in failed):
        return []
    return failed


def _trusted(verified: list[_Sig], layout: _Layout) -> tuple[Values | None, str | None, tuple[str, ...]]:
    """The values read from the widest signed subtree, what it covers, and which elements are signed."""
    root = layout.root
    widest = next((s for s in verified if s.uri == "" or s.el.getparent() is root), verified[0])
    assert widest.signed_xml is not None
    parent = widest.el.getparent()
    whole = widest.uri == "" or parent is root or parent is None
    covers = xpath_of(parent if not whole and parent is not None else root)
    # Only the Assertion is signed: the Response's own ID, IssueInstant and Issuer are not (read() fills issuer
    # from the Assertion when it reads an Assertion on its own, unless told it is part of a message).
    trusted = read(widest.signed_xml, part_of_message=not whole and layout.kind != "assertion")
    order = {"response": 0, "assertion": 1}
    covered = {s.on for s in verified}
    if any(s.uri == "" for s in verified):
        covered.add(layout.kind)  # a Reference URI="" signs the whole document, wherever the Signature sits
    return trusted, covers, tuple(sorted(covered, key=lambda k: order.get(k, 2)))


def _info(s: _Sig, verified: list[_Sig], now: datetime) -> SignatureInfo:
    return SignatureInfo(
        where=s.where,
        on=s.on,
        reference_uri=s.uri,
        signature_method=s.method,
        digest_method=s.digest,
        canonicalization=s.c14n,
        transforms=s.transforms,
        verified=s in verified or (s.on == "advice" and _verified(s)),
        key=certs.info(s.verified_by.cert, s.verified_by.source, now) if s.verified_by else None,
        embedded_cert=certs.info(s.embedded, "KeyInfo", now) if s.embedded is not None else None,
        error=None if s in verified or (s.on == "advice" and _verified(s)) else (s.error or s.outcome),
    )


def _verdict(
    sigs: list[_Sig], layout: _Layout, now: datetime, anchor_infos: tuple[CertInfo, ...], run: _Run
) -> Verification:
    top = [s for s in sigs if s.on != "advice"]
    if not top:
        return _unsigned(layout, anchor_infos, run, tuple(_info(s, [], now) for s in sigs))
    status = _status(top, run)
    verified = [s for s in top if _verified(s)]
    inner_failed = _response_covers_failed_assertion(top, run) if status is SignatureStatus.INVALID else []
    if inner_failed:
        status = SignatureStatus.VALID
        for s in inner_failed:
            run.add(
                finding(
                    "assertion_signature_invalid",
                    expected="the Assertion's own signature verifies too (SPs that require a signed assertion)",
                    actual=f"{s.error or s.outcome}; the Response signature verifies and covers the Assertion",
                    where=s.where,
                )
            )
    trusted: Values | None = None
    covers: str | None = None
    signed: tuple[str, ...] = ()
    if status is SignatureStatus.VALID and verified:
        trusted, covers, signed = _trusted(verified, layout)
    infos = tuple(_info(s, verified, now) for s in top + [s for s in sigs if s.on == "advice"])
    key = next((i.key for i in infos if i.key is not None and i.on != "advice"), None)
    result = SignatureResult(status, signed, covers, key, infos, run.attack, anchor_infos)
    return Verification(result, run.out, trusted)


def _unsigned(
    layout: _Layout, anchor_infos: tuple[CertInfo, ...], run: _Run, infos: tuple[SignatureInfo, ...] = ()
) -> Verification:
    status = SignatureStatus.UNVERIFIED if layout.encrypted else SignatureStatus.UNSIGNED
    if run.attack:
        status = SignatureStatus.INVALID
    return Verification(SignatureResult(status, (), None, None, infos, run.attack, anchor_infos), run.out, None)


def _request_signature_elsewhere(layout: _Layout, run: _Run) -> bool:
    """An AuthnRequest whose only signatures sit on (or reference) one of its children, e.g. the Issuer: the
    request itself is unsigned. Not an attack (nothing in a request is trusted); said plainly."""
    if layout.kind != "authn_request" or not layout.signatures:
        return False
    root = layout.root
    root_id = next((root.get(a) for a in ID_ATTRS if root.get(a) is not None), None)
    covered = []
    for el in layout.signatures:
        uris = [r.get("URI") for r in children(child(el, _SIGNED_INFO), _REFERENCE)]
        if not uris or any(u is None or u == "" or u == f"#{root_id}" for u in uris):
            return False  # a malformed signature, or one over the whole request: the ordinary rules judge it
        for uri in uris[:4]:
            target = layout.ids.get(str(uri)[1:]) if str(uri).startswith("#") else None
            covered.append(xpath_of(target[0]) if target else f"{uri!r} (no such element)")
    run.add(
        finding(
            "request_signature_partial",
            expected="a Signature on the AuthnRequest referencing its own ID (or a Redirect-binding signature)",
            actual="the signature covers only " + ", ".join(dict.fromkeys(covered)),
            where=xpath_of(layout.signatures[0]),
        )
    )
    return True


def verify(
    root: etree._Element,
    xml: bytes,
    anchors: Sequence[Anchor],
    now: datetime,
    limits: Limits,
    deadline: float | None = None,
) -> Verification:
    """The signature verdict of one parsed message. `deadline`: a time.monotonic() instant; signature work stops
    there (or when the analysis budget runs out) with a clear finding."""
    deadline = deadline if deadline is not None else time.monotonic() + limits.time_budget
    anchor_list = list(anchors)[: limits.max_anchors]
    anchor_infos = tuple(certs.info(a.cert, a.source, now) for a in anchor_list)
    layout = _layout(root)
    run = _Run()
    if _request_signature_elsewhere(layout, run):
        return Verification(
            SignatureResult(SignatureStatus.UNSIGNED, (), None, None, (), False, anchor_infos), run.out, None
        )
    _document_rules(layout, run)
    if not layout.signatures:
        return _unsigned(layout, anchor_infos, run)
    if len(layout.signatures) > limits.max_signatures:
        run.add(
            finding(
                "oversized_input",
                "More signatures than the limit: none was checked",
                expected=f"at most {limits.max_signatures}",
                actual=str(len(layout.signatures)),
            )
        )
        result = SignatureResult(SignatureStatus.INVALID, (), None, None, (), run.attack, anchor_infos)
        return Verification(result, run.out, None)
    seen: dict[etree._Element, int] = {}
    sigs = [_shape(el, layout, seen, limits, run) for el in layout.signatures]
    for s in sigs:
        _cryptography(s, xml, anchor_list, now, deadline, run)
    _findings(sigs, anchor_list, anchor_infos, now, run)
    _advice_findings(layout, sigs, run)
    return _verdict(sigs, layout, now, anchor_infos, run)
