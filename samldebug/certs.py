"""Certificates: loading every form people paste, and the facts support engineers compare.

Accepted forms: PEM (one or several certificates), DER, bare base64 of DER, and base64 of a PEM text
(ADFS writes that inside ds:X509Certificate). A bare public key (PEM `PUBLIC KEY` / `RSA PUBLIC KEY`, or DER /
base64 of a SubjectPublicKeyInfo) is accepted too: it is wrapped in a stand-in certificate so that everything
downstream (signxml, anchors, comparisons) uses it like a certificate, and `info` shows it as what it is: a key,
with no subject and no validity period.

Every scan here is linear in the input: PEM blocks are found with bytes.find, never a backtracking pattern, and
the input is capped (MAX_TEXT, MAX_CERTS) before any work.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from .catalog import finding
from .instants import iso
from .model import CertInfo, Finding

MAX_TEXT = 1024 * 1024  # one certificate (bundle) text; a PEM chain of 64 certificates fits in a tenth of it
MAX_CERTS = 64  # certificates read from one text
_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
_KEY_BEGINS = (b"-----BEGIN PUBLIC KEY-----", b"-----BEGIN RSA PUBLIC KEY-----")
_WHITESPACE = b" \t\r\n\v\f"
_BARE_MARK = "samldebug bare public key without a certificate"


class CertError(ValueError):
    pass


@dataclass(frozen=True)
class Anchor:
    """A certificate we were told to trust, and where it came from."""

    cert: x509.Certificate
    source: str


def _pem_blocks(raw: bytes) -> list[bytes]:
    """The base64 between each BEGIN/END CERTIFICATE pair, found in one left-to-right pass."""
    blocks: list[bytes] = []
    pos = raw.find(_BEGIN)
    while pos >= 0:
        end = raw.find(_END, pos + len(_BEGIN))
        if end < 0:
            break  # no END after this BEGIN: none after any later BEGIN either
        inner = raw[pos + len(_BEGIN) : end]
        blocks.append(inner[inner.rfind(_BEGIN) + len(_BEGIN) :] if _BEGIN in inner else inner)
        if len(blocks) > MAX_CERTS:
            raise CertError(f"more than {MAX_CERTS} certificates in one text")
        pos = raw.find(_BEGIN, end + len(_END))
    return blocks


def _der_to_certs(der: bytes, depth: int) -> list[x509.Certificate]:
    if der.lstrip().startswith(b"-----BEGIN"):
        # ADFS quirk: base64 of a PEM text inside X509Certificate (one level of that, not more).
        if depth > 0:
            raise CertError("base64 of a PEM text nested more than once")
        return _load(der, depth + 1)
    try:
        return [x509.load_der_x509_certificate(der)]
    except ValueError as e:
        try:
            return [bare_key_cert(serialization.load_der_public_key(der))]
        except (ValueError, TypeError, CertError):
            raise CertError(f"not a DER certificate: {e}") from None


def load_certs(data: bytes | str) -> list[x509.Certificate]:
    """Every certificate in `data` (bare public keys as stand-in certificates); raises CertError when there is
    none, or when the text is larger than MAX_TEXT."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if len(raw) > MAX_TEXT:
        raise CertError(f"the certificate text is larger than {MAX_TEXT // 1024} KiB")
    return _load(raw, 0)


def _load(raw: bytes, depth: int) -> list[x509.Certificate]:
    blocks = _pem_blocks(raw)
    if blocks:
        certs = []
        for block in blocks:
            try:
                certs.append(x509.load_der_x509_certificate(base64.b64decode(block.translate(None, _WHITESPACE))))
            except (ValueError, binascii.Error) as e:
                raise CertError(f"a PEM certificate block does not decode: {e}") from None
        return certs
    if any(begin in raw for begin in _KEY_BEGINS):
        try:
            return [bare_key_cert(serialization.load_pem_public_key(raw.strip()))]
        except (ValueError, TypeError) as e:
            raise CertError(f"a PEM public key does not decode: {e}") from None
    stripped = raw.strip()
    if stripped[:1] == b"\x30":  # DER SEQUENCE
        return _der_to_certs(stripped, depth)
    try:
        der = base64.b64decode(stripped.translate(None, _WHITESPACE), validate=True)
    except (ValueError, binascii.Error) as e:
        raise CertError(f"no certificate found (expected PEM, DER or base64: {e})") from None
    if not der:
        raise CertError("no certificate found (empty)")
    return _der_to_certs(der, depth)


# --- bare public keys ---------------------------------------------------------------------------------------

_BARE: dict[bytes, x509.Certificate] = {}  # SubjectPublicKeyInfo DER → its stand-in certificate (bounded)
_BARE_IDS: dict[int, x509.Certificate] = {}  # id → the same stand-ins: `is_bare_key` in O(1), no DN formatting


@cache
def _stand_in_signer() -> ec.EllipticCurvePrivateKey:
    """Signs stand-in certificates. The signature means nothing (signxml never checks an anchor's issuer);
    the key only exists because a certificate must carry one."""
    return ec.generate_private_key(ec.SECP256R1())


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined, no-any-return]


def bare_key_cert(key: object) -> x509.Certificate:
    """A stand-in certificate carrying `key` (RSA or EC), valid for all time; `is_bare_key` tells it apart."""
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise CertError(f"a {type(key).__name__} cannot verify SAML signatures (RSA or EC keys only)")
    spki = _spki(key)
    known = _BARE.get(spki)
    if known is not None:
        return known
    name = x509.Name([x509.NameAttribute(NameOID.PSEUDONYM, _BARE_MARK)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key)
        .serial_number(1)
        .not_valid_before(datetime(1970, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
        .sign(_stand_in_signer(), hashes.SHA256())
    )
    if len(_BARE) >= 1024:
        _BARE.clear()
        _BARE_IDS.clear()
    _BARE_IDS[id(cert)] = cert  # first: a thread that finds it in _BARE must already see it as a bare key
    _BARE[spki] = cert  # (holds the object, so its id cannot be reused while it is listed)
    return cert


def is_bare_key(cert: x509.Certificate) -> bool:
    """True for a stand-in certificate made by `bare_key_cert` in this process (that very object: a certificate
    parsed from the same bytes elsewhere is not one)."""
    return _BARE_IDS.get(id(cert)) is cert


def key_value_cert(key_value: object) -> x509.Certificate:
    """A ds:KeyValue element (RSAKeyValue with Modulus / Exponent) as a stand-in certificate: metadata that
    publishes the IdP's key without a certificate."""
    from lxml import etree

    el = key_value if isinstance(key_value, etree._Element) else None
    if el is None:
        raise CertError("no KeyValue element")
    ds = "http://www.w3.org/2000/09/xmldsig#"
    rsa_value = el.find(f"{{{ds}}}RSAKeyValue")
    if rsa_value is None:
        raise CertError("only an RSAKeyValue is read from a KeyValue")
    try:
        n = int.from_bytes(base64.b64decode("".join(rsa_value.findtext(f"{{{ds}}}Modulus", "").split())))
        e = int.from_bytes(base64.b64decode("".join(rsa_value.findtext(f"{{{ds}}}Exponent", "").split())))
        return bare_key_cert(rsa.RSAPublicNumbers(e, n).public_key())
    except (ValueError, binascii.Error) as exc:
        raise CertError(f"the RSAKeyValue does not decode: {exc}") from None


def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    return type(key).__name__, None


def thumbprint(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    return cert.fingerprint(algorithm).hex().upper()


@lru_cache(maxsize=512)
def _facts(cert: x509.Certificate) -> CertInfo:
    """The facts that depend on the certificate alone (computed once per certificate). A bare key has no
    subject, issuer, serial or validity: its thumbprints are those of its SubjectPublicKeyInfo."""
    key_type, key_size = key_description(cert)
    if is_bare_key(cert):
        spki = _spki(cert.public_key())
        return CertInfo(
            subject="(a bare public key: no certificate, so no subject and no validity period)",
            issuer="",
            serial="",
            not_before="",
            not_after="",
            key_type=key_type,
            key_size=key_size,
            sha1=hashes_hex(spki, hashes.SHA1()),  # noqa: S303 - a thumbprint for display
            sha256=hashes_hex(spki, hashes.SHA256()),
            source="",
        )
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "X"),
        not_before=iso(cert.not_valid_before_utc),
        not_after=iso(cert.not_valid_after_utc),
        key_type=key_type,
        key_size=key_size,
        sha1=thumbprint(cert, hashes.SHA1()),  # noqa: S303 - a thumbprint for display, as Entra shows it
        sha256=thumbprint(cert, hashes.SHA256()),
        source="",
    )


def hashes_hex(data: bytes, algorithm: hashes.HashAlgorithm) -> str:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize().hex().upper()


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the certificate, computed once per certificate."""
    return bytes.fromhex(_facts(cert).sha256)


def info(cert: x509.Certificate, source: str, now: datetime | None = None) -> CertInfo:
    days_left = (cert.not_valid_after_utc - now).days if now is not None and not is_bare_key(cert) else None
    facts = dict(vars(_facts(cert)))  # (dataclasses.replace is ten times slower; this runs per message)
    facts.update(source=source, days_left=days_left)
    return CertInfo(**facts)


def same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    return _spki(a.public_key()) == _spki(b.public_key())


MIN_RSA_BITS = 2048  # below this an RSA signing key is reported even when the signature verifies


def weak_key(anchor: Anchor, where: str) -> Finding | None:
    """`weak_signing_key` when the anchor that verified a signature (message, Redirect query or metadata) is an RSA
    key under MIN_RSA_BITS."""
    key = anchor.cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size >= MIN_RSA_BITS:
        return None
    return finding(
        "weak_signing_key",
        expected=f"an RSA key of at least {MIN_RSA_BITS} bits",
        actual=f"RSA {key.key_size} bits ({anchor.source})",
        where=where,
    )
