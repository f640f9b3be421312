"""Certificates: loading every form people paste, and the facts support engineers compare.

Accepted forms: PEM (one or several certificates), DER, bare base64 of DER, and base64 of a PEM text
(ADFS writes that inside ds:X509Certificate).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .instants import iso as iso  # TODO(TRUST signature split): signature.py reads certs.iso; use instants.iso
from .model import CertInfo

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)
_WS = re.compile(rb"\s+")


class CertError(ValueError):
    pass


@dataclass(frozen=True)
class Anchor:
    """A certificate we were told to trust, and where it came from."""

    cert: x509.Certificate
    source: str


def _der_to_certs(der: bytes) -> list[x509.Certificate]:
    if der.lstrip().startswith(b"-----BEGIN"):
        # ADFS quirk: base64 of a PEM text inside X509Certificate.
        return load_certs(der)
    try:
        return [x509.load_der_x509_certificate(der)]
    except ValueError as e:
        raise CertError(f"not a DER certificate: {e}") from None


def load_certs(data: bytes | str) -> list[x509.Certificate]:
    """Every certificate in `data`; raises CertError when there is none."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    blocks = _PEM_RE.findall(raw)
    if blocks:
        certs = []
        for block in blocks:
            try:
                certs.append(x509.load_der_x509_certificate(base64.b64decode(_WS.sub(b"", block))))
            except (ValueError, binascii.Error) as e:
                raise CertError(f"a PEM certificate block does not decode: {e}") from None
        return certs
    stripped = raw.strip()
    if stripped[:1] == b"\x30":  # DER SEQUENCE
        return _der_to_certs(stripped)
    try:
        der = base64.b64decode(_WS.sub(b"", stripped), validate=True)
    except (ValueError, binascii.Error) as e:
        raise CertError(f"no certificate found (expected PEM, DER or base64: {e})") from None
    if not der:
        raise CertError("no certificate found (empty)")
    return _der_to_certs(der)


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
    """The facts that depend on the certificate alone (computed once per certificate)."""
    key_type, key_size = key_description(cert)
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


def fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the certificate, computed once per certificate."""
    return bytes.fromhex(_facts(cert).sha256)


def info(cert: x509.Certificate, source: str, now: datetime | None = None) -> CertInfo:
    days_left = (cert.not_valid_after_utc - now).days if now is not None else None
    facts = dict(vars(_facts(cert)))  # (dataclasses.replace is ten times slower; this runs per message)
    facts.update(source=source, days_left=days_left)
    return CertInfo(**facts)


def same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    fmt = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return a.public_key().public_bytes(*fmt) == b.public_key().public_bytes(*fmt)
