"""Signature verdict: signxml for the cryptography, plus the structural rules signxml does not enforce.

The rules (see shared/reference/saml-attacks.md): the element whose values we show must be the element the
verified Reference points to; a Signature may only sit on the root or on the root Response's single direct
Assertion; one Reference per Signature, pointing at `#` + its parent's ID (or "" for the whole document);
no duplicate IDs; no Assertion hidden anywhere else; only enveloped-signature and c14n transforms; no HMAC.
A violation is reported as an attack, and then nothing is trusted.

Trust comes only from anchors (metadata certificates, pasted certificates). The certificate in ds:KeyInfo
is compared with the anchors and used for diagnosis, never for trust. Values are trusted only when read
from the subtree signxml returns as signed (comments excised by c14n).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
from collections import OrderedDict
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

from . import certs
from .catalog import finding
from .certs import Anchor
from .config import Limits
from .model import Finding, Severity, SignatureInfo, SignatureResult, SignatureStatus, Values
from .saml import ASSERTION, DS, ENCRYPTED_ASSERTION, SAML, XENC, _all, _c, kind_of, q, read, xpath_of
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
_B64ISH = re.compile(r"^[A-Za-z0-9+/=]{16,}$")
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
    outcome: str | None = None  # verified | digest | value | keyvalue | malformed
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
    el = _c(sig, _KEY_INFO, _X509_DATA, _X509_CERT)
    if el is None or not (el.text or "").strip():
        return None, None
    return _load_embedded("".join((el.text or "").split()))


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


def _signxml(xml: bytes, location: str, cert: x509.Certificate | None, now: datetime) -> etree._Element:
    verifier = XMLVerifier()
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
    signed = result.signed_xml if not isinstance(result, list) else None
    if signed is None:
        raise InvalidInput("the signed content is not XML")
    return signed


class _OutcomeCache:
    """signxml's verdict is a pure function of (exact bytes, signature location, certificate): the
    verification instant is clamped into the certificate's validity, so `now` does not change it. Re-analysing
    the same message (other SP settings, another evaluation time, the same response twice in a capture) reuses
    the verdict. Bounded in entries and bytes; thread-safe. Trusted values are still read from the signed
    bytes signxml returned, re-parsed with the hardened parser."""

    def __init__(self, entries: int = 512, max_signed_bytes: int = 64 * 1024) -> None:
        self._data: OrderedDict[tuple[bytes, str, bytes], tuple[str, str | None, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.entries = entries
        self.max_signed_bytes = max_signed_bytes

    def get(self, key: tuple[bytes, str, bytes]) -> tuple[str, str | None, bytes | None] | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[bytes, str, bytes], value: tuple[str, str | None, bytes | None]) -> None:
        if value[2] is not None and len(value[2]) > self.max_signed_bytes:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


OUTCOMES = _OutcomeCache()


def _attempt(
    xml: bytes, s: _Sig, cert: x509.Certificate | None, now: datetime
) -> tuple[str, str | None, etree._Element | None]:
    """(outcome, error, signed_xml). Outcome: verified | digest | value | keyvalue | malformed."""
    key = (
        hashlib.sha256(xml).digest(),
        s.location,
        certs.fingerprint(cert) if cert is not None else b"message-key",
    )
    cached = OUTCOMES.get(key)
    if cached is not None:
        outcome, error, signed = cached
        return outcome, error, etree.fromstring(signed, make_parser()) if signed is not None else None
    result = _attempt_uncached(xml, s, cert, now)
    signed_el = result[2]
    OUTCOMES.put(key, (result[0], result[1], etree.tostring(signed_el) if signed_el is not None else None))
    return result


def _attempt_uncached(
    xml: bytes, s: _Sig, cert: x509.Certificate | None, now: datetime
) -> tuple[str, str | None, etree._Element | None]:
    try:
        return "verified", None, _signxml(xml, s.location, cert, now)
    except InvalidDigest as e:
        return "digest", str(e), None
    except (InvalidSignature, cryptography.exceptions.InvalidSignature) as e:
        return "value", str(e) or "signature value does not match", None
    except InvalidInput as e:
        if "KeyValue" in str(e) or "key value" in str(e).lower():
            return "keyvalue", str(e), None
        return "malformed", str(e), None
    except etree.DocumentInvalid as e:
        return "malformed", f"the Signature element is not valid XML-DSig ({e})", None
    except (ValueError, TypeError, KeyError, etree.LxmlError) as e:
        return "malformed", f"{type(e).__name__}: {e}", None


def _looks_reformatted(el: etree._Element) -> bool:
    """Indentation between the elements of SignedInfo: typical of a pretty-printed copy."""
    signed_info = _c(el, _SIGNED_INFO)
    if signed_info is None:
        return False
    return any((c.tail or "").strip() == "" and "\n" in (c.tail or "") for c in signed_info)


def verify(
    root: etree._Element,
    xml: bytes,
    anchors: Sequence[Anchor],
    now: datetime,
    limits: Limits,
    deadline: float | None = None,
) -> Verification:
    """`deadline`: a time.monotonic() instant; signature work stops there with a clear finding."""
    deadline = deadline if deadline is not None else time.monotonic() + limits.time_budget
    anchors = list(anchors)[: limits.max_anchors]
    kind = kind_of(root)
    out: list[Finding] = []
    anchor_infos = tuple(certs.info(a.cert, a.source, now) for a in anchors)
    # One C-level pass finds every element the structural rules look at.
    found = cast(list[etree._Element], _STRUCTURE_XPATH(root))
    sig_els = [e for e in found if e.tag == _SIGNATURE and not _in_encrypted(e)]
    assertions = [e for e in found if e.tag == ASSERTION]
    encrypted_all = [e for e in found if e.tag == ENCRYPTED_ASSERTION]
    encrypted = bool(encrypted_all)
    attack = False

    def xsw(title: str, actual: str | None = None, where: str | None = None) -> None:
        nonlocal attack
        attack = True
        out.append(finding("xsw", title, actual=actual, where=where))

    # -- document-wide structure ------------------------------------------------------------------
    ids: dict[str, list[etree._Element]] = {}
    for value in cast(list[Any], _ID_XPATH(root)):
        ids.setdefault(str(value), []).append(value.getparent())
    for value, els in ids.items():
        if len(els) > 1 and sig_els:
            xsw(
                f"The ID {value!r} appears {len(els)} times: a reference to it is ambiguous",
                actual=", ".join(xpath_of(e) for e in els[:4]),
                where=xpath_of(els[1]),
            )

    allowed_parents: list[etree._Element] = [root]
    if kind == "response":
        direct = [a for a in assertions if a.getparent() is root]
        misplaced = [a for a in assertions if a.getparent() is not root]
        # A signature may hide inside ciphertext: with an EncryptedAssertion present, extra or misplaced
        # assertions are as suspicious as with a visible signature.
        suspicious = bool(sig_els or encrypted_all)
        if misplaced and suspicious:
            for a in misplaced:
                xsw(
                    "An Assertion is hidden inside another element: a reader and the verifier may see different ones",
                    actual=f"Assertion ID={a.get('ID')!r} at {xpath_of(a)}",
                    where=xpath_of(a),
                )
        for e in encrypted_all:
            if e.getparent() is not root:
                xsw(
                    "An EncryptedAssertion is hidden inside another element",
                    actual=xpath_of(e),
                    where=xpath_of(e),
                )
        total = len(direct) + len(encrypted_all)
        if total > 1:
            if suspicious:
                xsw(
                    f"The Response carries {total} assertions (clear and encrypted); exactly one is allowed",
                    actual=", ".join(
                        [f"ID={a.get('ID')!r}" for a in direct] + ["EncryptedAssertion"] * len(encrypted_all)
                    ),
                )
            else:
                out.append(
                    finding(
                        "multiple_assertions",
                        expected="one Assertion",
                        actual=f"{total} assertions",
                    )
                )
        if len(direct) == 1:
            allowed_parents.append(direct[0])
    elif kind == "assertion" and len(assertions) > 1 and sig_els:
        xsw("Another Assertion is nested inside the Assertion", where=xpath_of(assertions[1]))

    if not sig_els:
        status = SignatureStatus.UNVERIFIED if encrypted else SignatureStatus.UNSIGNED
        if attack:
            status = SignatureStatus.INVALID
        return Verification(SignatureResult(status, (), None, None, (), attack, anchor_infos), out, None)
    if len(sig_els) > limits.max_signatures:
        out.append(
            finding(
                "oversized_input",
                "More signatures than the limit: none was checked",
                expected=f"at most {limits.max_signatures}",
                actual=str(len(sig_els)),
            )
        )
        return Verification(
            SignatureResult(SignatureStatus.INVALID, (), None, None, (), attack, anchor_infos), out, None
        )

    # -- each signature's shape and algorithms -----------------------------------------------------
    sigs: list[_Sig] = []
    seen_parents: dict[int, int] = {}
    sha1_reported = False
    for el in sig_els:
        parent = el.getparent()
        assert parent is not None
        on = kind_of(parent) if any(parent is p for p in allowed_parents) else "unexpected"
        s = _Sig(el=el, where=xpath_of(el), on=on, location=_location(root, parent))
        sigs.append(s)
        seen_parents[id(parent)] = seen_parents.get(id(parent), 0) + 1
        if on == "unexpected":
            s.structural_ok = False
            xsw(
                "A Signature sits where no SAML signature belongs",
                actual=f"inside {xpath_of(parent)}",
                where=s.where,
            )
        elif seen_parents[id(parent)] > 1:
            s.structural_ok = False
            xsw(f"The {on} carries more than one Signature", where=s.where)
        signed_info = _c(el, _SIGNED_INFO)
        refs = _all(signed_info, _REFERENCE)
        if signed_info is None or not refs:
            s.structural_ok = False
            s.error = "no SignedInfo/Reference"
            out.append(finding("malformed_signature", actual="Signature without SignedInfo/Reference", where=s.where))
            continue
        if len(refs) > 1:
            s.structural_ok = False
            xsw(
                f"The Signature has {len(refs)} References; a SAML signature has exactly one",
                actual=", ".join(r.get("URI") or "''" for r in refs[: limits.max_references]),
                where=s.where,
            )
        ref = refs[0]
        s.uri = ref.get("URI")
        parent_id = next((parent.get(a) for a in ID_ATTRS if parent.get(a) is not None), None)
        if s.uri is None:
            s.structural_ok = False
            out.append(finding("malformed_signature", actual="Reference without a URI attribute", where=s.where))
        elif s.uri == "":
            pass  # the whole document: it contains the signature's parent
        elif s.uri != f"#{parent_id}":
            s.structural_ok = False
            target = ids.get(s.uri[1:], [])
            target_desc = xpath_of(target[0]) if target else "no element in this document"
            xsw(
                "The signature does not cover the element it sits on: it references another element",
                actual=f"Reference URI {s.uri!r} → {target_desc}; the signature sits on ID={parent_id!r}",
                where=s.where,
            )
        method = _c(signed_info, _SIGNATURE_METHOD)
        c14n = _c(signed_info, _C14N_METHOD)
        dm = _c(ref, _DIGEST_METHOD)
        s.method = method.get("Algorithm") if method is not None else None
        s.c14n = c14n.get("Algorithm") if c14n is not None else None
        s.digest = dm.get("Algorithm") if dm is not None else None
        s.transforms = tuple(t.get("Algorithm") or "" for t in _all(_c(ref, _TRANSFORMS), _TRANSFORM))
        s.has_key_value = _c(el, _KEY_INFO, _KEY_VALUE) is not None
        s.embedded, s.embedded_error = _embedded_cert(el)

        bad_transforms = [t for t in s.transforms if t not in ALLOWED_TRANSFORMS]
        if s.c14n is not None and s.c14n not in C14N_TRANSFORMS:
            bad_transforms.append(s.c14n)
        if bad_transforms:
            s.algorithm_ok = False
            attack = True
            out.append(
                finding(
                    "disallowed_transform",
                    expected="enveloped-signature and (exclusive) c14n only",
                    actual=", ".join(bad_transforms),
                    where=s.where,
                )
            )
        if s.method and "hmac" in s.method.lower():
            s.algorithm_ok = False
            attack = True
            out.append(
                finding(
                    "hmac_signature",
                    expected="an RSA or ECDSA signature from the IdP's key",
                    actual=s.method,
                    where=s.where,
                )
            )
        elif s.method is None or s.digest is None:
            s.algorithm_ok = False
            out.append(finding("malformed_signature", actual="SignatureMethod or DigestMethod missing", where=s.where))
        else:
            try:
                sm, da = SignatureMethod(s.method), DigestAlgorithm(s.digest)
            except ValueError:
                sm = da = None  # type: ignore[assignment]
            if sm not in POLICY.signature_methods or da not in POLICY.digest_algorithms:
                s.algorithm_ok = False
                out.append(
                    finding(
                        "unsupported_algorithm",
                        expected="RSA or ECDSA with SHA-256/384/512 (SHA-1 tolerated)",
                        actual=f"{s.method} / {s.digest}",
                        where=s.where,
                    )
                )
            elif (sm in SHA1_METHODS or da in SHA1_DIGESTS) and not sha1_reported:
                sha1_reported = True
                out.append(
                    finding(
                        "sha1_signature",
                        expected="rsa-sha256 with a sha256 digest",
                        actual=f"{_short(s.method)} / {_short(s.digest)}",
                        where=s.where,
                    )
                )

    # -- cryptography --------------------------------------------------------------------------------
    for s in sigs:
        if not s.algorithm_ok or s.error:
            continue
        value = _c(s.el, _SIGNATURE_VALUE)
        text_value = "".join((value.text or "").split()) if value is not None else ""
        if not text_value or not _B64ISH.match(text_value):
            # `samldebug sanitize` (and other sanitizers) blank the value so that a capture cannot be replayed:
            # nothing cryptographic can be checked, everything else can.
            s.outcome, s.error = "removed", "SignatureValue removed"
            out.append(finding("signature_value_removed", actual=(text_value or "empty")[:60], where=s.where))
            continue
        if anchors:
            ordered = sorted(
                (a for a in anchors if _key_fits(a.cert, s.method)),
                key=lambda a: 0 if s.embedded is not None and _same_cert(a.cert, s.embedded) else 1,
            )
            for anchor in ordered:
                if time.monotonic() > deadline:
                    out.append(finding("time_budget_exceeded", where=s.where))
                    s.outcome, s.error = "malformed", "cut off: time budget exceeded"
                    break
                outcome, error, signed = _attempt(xml, s, anchor.cert, now)
                if outcome == "keyvalue" and not s.has_key_value:
                    outcome = "value"  # a key-type complaint without a KeyValue in the message: not this key
                if outcome == "value":
                    continue  # not this key; try the next anchor (rollover lists several)
                s.outcome, s.error, s.signed_xml = outcome, error, signed
                if outcome in ("verified", "digest", "keyvalue"):
                    s.verified_by = anchor if outcome == "verified" else None
                    if outcome == "digest":
                        s.notes.append(f"the signature value verifies with {anchor.source}")
                break
            else:
                s.outcome = "value"
                if s.embedded is not None and any(_same_cert(a.cert, s.embedded) for a in anchors):
                    # The message names a trusted certificate and that key fails: not a wrong key, the
                    # signed SignedInfo bytes changed (typically a pretty-printed copy).
                    s.outcome = "signedinfo"
        # Diagnosis with the message's own key: never trusted, but it tells tampering from a wrong key.
        if s.outcome in (None, "value") and (s.embedded is not None or s.has_key_value):
            d_outcome, d_error, _ = _attempt(xml, s, s.embedded, now)
            if s.outcome is None:  # no anchors at all
                s.outcome = {"verified": "self"}.get(d_outcome, d_outcome)
                s.error = d_error
            else:
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

    # -- findings from the outcomes -----------------------------------------------------------------
    anchor_certs = [a.cert for a in anchors]
    for s in sigs:
        where = s.where
        if s.embedded_error:
            out.append(finding("malformed_signature", actual=s.embedded_error, where=where, severity=Severity.WARNING))
        if s.embedded is not None and anchors and not any(_same_cert(c, s.embedded) for c in anchor_certs):
            emb = certs.info(s.embedded, "KeyInfo", now)
            out.append(
                finding(
                    "keyinfo_cert_mismatch",
                    expected="one of: " + ", ".join(a.sha1 for a in anchor_infos),
                    actual=f"SHA-1 {emb.sha1} ({emb.subject}, valid {emb.not_before} – {emb.not_after})",
                    where=where,
                )
            )
            rolled = [
                c
                for c in anchor_certs
                if c.subject == s.embedded.subject and s.embedded.not_valid_before_utc > c.not_valid_before_utc
            ]
            if rolled and s.outcome != "verified":
                out.append(
                    finding(
                        "cert_rolled",
                        expected=f"metadata that lists SHA-1 {emb.sha1} (valid from {emb.not_before})",
                        actual="metadata has only older certificate(s) with the same subject: "
                        + ", ".join(certs.thumbprint(c, hashes.SHA1()) for c in rolled),  # noqa: S303
                        where=where,
                    )
                )
        if s.outcome == "signedinfo":
            reformatted = _looks_reformatted(s.el)
            out.append(
                finding(
                    "digest_mismatch",
                    "SignedInfo changed after signing: the trusted certificate no longer verifies it"
                    + (
                        " (the XML looks pretty-printed or re-encoded: paste the original bytes)" if reformatted else ""
                    ),
                    expected="the SignedInfo bytes the IdP signed",
                    actual=(s.error or "signature value mismatch")
                    + "; the certificate in KeyInfo is the trusted one, so the key is right",
                    where=where,
                )
            )
        elif s.outcome in ("digest", "value+digest"):
            reformatted = _looks_reformatted(s.el)
            out.append(
                finding(
                    "digest_mismatch",
                    "The signed content changed after signing"
                    + (
                        " (the XML looks pretty-printed or re-encoded: paste the original bytes)" if reformatted else ""
                    ),
                    expected="the DigestValue computed by the IdP",
                    actual=(s.error or "digest differs") + ("; " + "; ".join(s.notes) if s.notes else ""),
                    where=where,
                )
            )
        elif s.outcome == "value":
            out.append(
                finding(
                    "signed_by_unknown_key",
                    expected=(
                        "a signature by one of: " + ", ".join(f"{a.sha1} ({a.source})" for a in anchor_infos)
                        if anchor_infos
                        else "a signature that verifies at least with the certificate the message carries"
                    ),
                    actual="; ".join(s.notes) or s.error,
                    where=where,
                )
            )
        elif s.outcome == "keyvalue":
            attack = True
            out.append(
                finding(
                    "keyinfo_key_mismatch",
                    actual=s.error,
                    where=where,
                )
            )
        elif s.outcome == "malformed" and s.structural_ok:
            # (for a wrapped signature the xsw finding already says what is wrong)
            out.append(finding("malformed_signature", actual=s.error, where=where))
        elif s.outcome == "self":
            out.append(
                finding(
                    "no_trust_anchor",
                    actual="consistent with the key the message carries"
                    + (f" (SHA-1 {certs.thumbprint(s.embedded, hashes.SHA1())})" if s.embedded else ""),  # noqa: S303
                    where=where,
                )
            )
        elif s.outcome == "nokey":
            out.append(finding("no_trust_anchor", actual="the message carries no key either", where=where))
        if s.verified_by is not None:
            validity = s.verified_by.cert
            if now > validity.not_valid_after_utc or now < validity.not_valid_before_utc:
                out.append(
                    finding(
                        "anchor_cert_expired",
                        expected=(
                            f"{certs.iso(validity.not_valid_before_utc)} ≤ now ≤ "
                            f"{certs.iso(validity.not_valid_after_utc)}"
                        ),
                        actual=f"now is {certs.iso(now)}",
                        where=s.verified_by.source,
                    )
                )

    # -- the verdict -----------------------------------------------------------------------------------
    verified = [s for s in sigs if s.outcome == "verified" and s.structural_ok and s.verified_by is not None]
    failed = [s for s in sigs if s.outcome not in ("verified", "self", "nokey", "removed")]
    unanchored = [s for s in sigs if s.outcome in ("self", "nokey", "removed")]
    if attack or failed or any(not s.structural_ok for s in sigs):
        status = SignatureStatus.INVALID
    elif unanchored:
        status = SignatureStatus.UNVERIFIED
    else:
        status = SignatureStatus.VALID

    trusted: Values | None = None
    covers: str | None = None
    if status is SignatureStatus.VALID and verified:
        widest = next((s for s in verified if s.uri == "" or s.el.getparent() is root), verified[0])
        assert widest.signed_xml is not None
        parent = widest.el.getparent()
        whole = widest.uri == "" or parent is root or parent is None
        covers = xpath_of(parent if not whole and parent is not None else root)
        trusted = read(widest.signed_xml)
        if not whole and kind != "assertion":
            # Only the Assertion is signed: the Response's own ID, IssueInstant and Issuer are not (read() fills
            # issuer from the Assertion when it reads an Assertion on its own).
            trusted = dataclasses.replace(trusted, id=None, issue_instant=None, issuer=None)

    order = {"response": 0, "assertion": 1}
    covered = {s.on for s in verified}
    if any(s.uri == "" for s in verified):
        covered.add(kind)  # a Reference URI="" signs the whole document, wherever the Signature sits
    signed_elements = tuple(sorted(covered, key=lambda k: order.get(k, 2)))
    infos = tuple(
        SignatureInfo(
            where=s.where,
            on=s.on,
            reference_uri=s.uri,
            signature_method=s.method,
            digest_method=s.digest,
            canonicalization=s.c14n,
            transforms=s.transforms,
            verified=s in verified,
            key=certs.info(s.verified_by.cert, s.verified_by.source, now) if s.verified_by else None,
            embedded_cert=certs.info(s.embedded, "KeyInfo", now) if s.embedded is not None else None,
            error=None if s in verified else (s.error or s.outcome),
        )
        for s in sigs
    )
    key = next((i.key for i in infos if i.key is not None), None)
    return Verification(
        SignatureResult(
            status, signed_elements if status is SignatureStatus.VALID else (), covers, key, infos, attack, anchor_infos
        ),
        out,
        trusted,
    )
