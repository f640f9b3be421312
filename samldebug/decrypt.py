"""Encrypted assertions: what is visible without a key, and decryption with the SP's private key.

XML Encryption is read here by hand (a small, strict EncryptedData reader) and the cryptography is done by
`cryptography` only: RSA key transport (RSA-OAEP, RSA PKCS#1 v1.5) and AES-CBC / AES-GCM / Triple-DES-CBC data
encryption. Nothing is fetched: a CipherReference or a RetrievalMethod pointing outside the message is refused.

Both shapes SAML peers produce are read:
- python3-saml / ruby-saml / xmlsec: the EncryptedKey sits inside EncryptedData/ds:KeyInfo;
- crewjam / Okta / Shibboleth: the EncryptedKey is a sibling of EncryptedData inside the EncryptedAssertion,
  referenced by ds:RetrievalMethod (or by its ReferenceList), or just present.

Key material and plaintext never reach a finding, an exception message or a log line: findings name algorithms,
sizes, certificate subjects and thumbprints (public facts), never bytes of a key or of the decrypted content.
Every size is bounded before any work is done (ciphertext, wrapped keys, number of keys and attempts).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from . import certs, xmlsafe
from .catalog import finding
from .config import Limits
from .model import AnalysisStop, Finding
from .saml import ASSERTION, DS, ENCRYPTED_ASSERTION, XENC, xpath_of

PrivateKey: TypeAlias = rsa.RSAPrivateKey  # key transport is RSA only (no ECDH-ES key agreement)

XENC11 = "http://www.w3.org/2009/xmlenc11#"
DSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"

RSA_1_5 = XENC + "rsa-1_5"
RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
RSA_OAEP = XENC11 + "rsa-oaep"
SHA1 = DS + "sha1"
ELEMENT_TYPE = XENC + "Element"
ENCRYPTED_KEY_TYPE = XENC + "EncryptedKey"

# Bounds. A wrapped key is one RSA block: 2048 bytes covers RSA-16384. 16 keys x 8 EncryptedKeys bounds the
# number of RSA private operations one analysis can cost (each is a few milliseconds).
MAX_KEY_FILE_BYTES = 1024 * 1024
MAX_KEYS = 16
MAX_ENCRYPTED_KEYS = 8
MAX_WRAPPED_KEY_BYTES = 2048
MAX_OAEP_LABEL_BYTES = 1024
# An RSA private operation costs ~n^3: a 16384-bit key takes seconds per attempt, 8192 bits tens of ms.
MAX_RSA_BITS = 8192
_CLIP = 256  # longest string copied from the message into EncryptionInfo

_E = "{%s}%s"
_ENCRYPTED_DATA, _ENCRYPTED_KEY = _E % (XENC, "EncryptedData"), _E % (XENC, "EncryptedKey")
_ENCRYPTION_METHOD, _CIPHER_DATA = _E % (XENC, "EncryptionMethod"), _E % (XENC, "CipherData")
_CIPHER_VALUE, _CIPHER_REFERENCE = _E % (XENC, "CipherValue"), _E % (XENC, "CipherReference")
_OAEP_PARAMS, _MGF = _E % (XENC, "OAEPparams"), _E % (XENC11, "MGF")
_REFERENCE_LIST, _DATA_REFERENCE = _E % (XENC, "ReferenceList"), _E % (XENC, "DataReference")
_AGREEMENT = _E % (XENC, "AgreementMethod")
_KEY_INFO, _KEY_NAME, _RETRIEVAL = _E % (DS, "KeyInfo"), _E % (DS, "KeyName"), _E % (DS, "RetrievalMethod")
_DIGEST_METHOD, _X509_DATA = _E % (DS, "DigestMethod"), _E % (DS, "X509Data")
_X509_CERT, _X509_SUBJECT = _E % (DS, "X509Certificate"), _E % (DS, "X509SubjectName")
_X509_ISSUER_SERIAL, _X509_SKI = _E % (DS, "X509IssuerSerial"), _E % (DS, "X509SKI")
_X509_ISSUER_NAME, _X509_SERIAL = _E % (DS, "X509IssuerName"), _E % (DS, "X509SerialNumber")

_WHERE_METHOD = "saml:EncryptedAssertion/xenc:EncryptedData/xenc:EncryptionMethod"
_WHERE_KEY_METHOD = "saml:EncryptedAssertion//xenc:EncryptedKey/xenc:EncryptionMethod"


@dataclass(frozen=True)
class _DataAlgorithm:
    name: str  # short name for messages, e.g. "aes256-cbc"
    mode: Literal["cbc", "gcm"]
    key_bytes: int
    block: int  # cipher block size (CBC IV length and padding bound); GCM uses a 12-byte IV regardless


DATA_ALGORITHMS: dict[str, _DataAlgorithm] = {
    XENC + "aes128-cbc": _DataAlgorithm("aes128-cbc", "cbc", 16, 16),
    XENC + "aes192-cbc": _DataAlgorithm("aes192-cbc", "cbc", 24, 16),
    XENC + "aes256-cbc": _DataAlgorithm("aes256-cbc", "cbc", 32, 16),
    XENC + "tripledes-cbc": _DataAlgorithm("tripledes-cbc", "cbc", 24, 8),
    XENC11 + "aes128-gcm": _DataAlgorithm("aes128-gcm", "gcm", 16, 16),
    XENC11 + "aes192-gcm": _DataAlgorithm("aes192-gcm", "gcm", 24, 16),
    XENC11 + "aes256-gcm": _DataAlgorithm("aes256-gcm", "gcm", 32, 16),
}
KEY_TRANSPORTS = frozenset({RSA_1_5, RSA_OAEP_MGF1P, RSA_OAEP})
_GCM_IV, _GCM_TAG = 12, 16

# OAEP digests as XML-Enc / XML-DSig name them (xmlenc-core1 §5.5.2 and RFC 6931).
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    SHA1: hashes.SHA1,
    DSIG_MORE + "sha224": hashes.SHA224,
    XENC + "sha256": hashes.SHA256,
    DSIG_MORE + "sha384": hashes.SHA384,
    XENC + "sha512": hashes.SHA512,
}
_MGFS: dict[str, type[hashes.HashAlgorithm]] = {
    XENC11 + "mgf1sha1": hashes.SHA1,
    XENC11 + "mgf1sha224": hashes.SHA224,
    XENC11 + "mgf1sha256": hashes.SHA256,
    XENC11 + "mgf1sha384": hashes.SHA384,
    XENC11 + "mgf1sha512": hashes.SHA512,
}

WEAK_CBC = "CBC mode (no integrity: padding-oracle risk)"
WEAK_3DES = "Triple-DES (64-bit blocks, deprecated)"
WEAK_RSA_1_5 = "RSA PKCS#1 v1.5 key transport"


class DecryptError(Exception):
    """Decryption (or loading the key) failed; carries the finding that explains why. The message is the
    finding's title: it never contains key material or plaintext."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.title)
        self.finding = finding


@dataclass(frozen=True)
class EncryptionInfo:
    """What an EncryptedAssertion shows without any key."""

    data_algorithm: str | None  # EncryptedData/EncryptionMethod/@Algorithm
    key_transport: str | None  # EncryptedKey/EncryptionMethod/@Algorithm (the first EncryptedKey)
    oaep_digest: str | None  # OAEP digest (DigestMethod; SHA-1 when OAEP is used and none is named)
    oaep_mgf: str | None  # xenc11:MGF/@Algorithm when given
    recipient: str | None  # EncryptedKey/@Recipient
    key_name: str | None  # the recipient key identity: KeyName, or the certificate's subject and thumbprint
    recipient_cert_sha1: str | None  # SHA-1 thumbprint (upper-case hex) of the certificate in EncryptedKey
    weak: tuple[str, ...]  # human reasons, e.g. "CBC mode (no integrity: padding-oracle risk)"


# --- reading the structure -------------------------------------------------------------------------------


def _clip(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if len(value) <= _CLIP else value[: _CLIP - 1] + "…"


def _child(el: etree._Element | None, tag: str) -> etree._Element | None:
    return None if el is None else next(el.iterchildren(tag), None)


def _method(el: etree._Element | None) -> str | None:
    method = _child(el, _ENCRYPTION_METHOD)
    return method.get("Algorithm") if method is not None else None


def _encrypted_data(ea: etree._Element) -> list[etree._Element]:
    return list(ea.iterchildren(_ENCRYPTED_DATA))


def _encrypted_keys(ea: etree._Element, data: etree._Element | None) -> list[etree._Element]:
    """Every EncryptedKey that may carry the data key, most specific first: inline in EncryptedData's KeyInfo,
    then those a RetrievalMethod names, then the EncryptedAssertion's own EncryptedKey children (SAML core
    §2.2.4 allows them there), which are tried even without a reference (the brief: try every one present)."""
    found: list[etree._Element] = []
    key_info = _child(data, _KEY_INFO)
    siblings = list(ea.iterchildren(_ENCRYPTED_KEY))
    if key_info is not None:
        found.extend(key_info.iterchildren(_ENCRYPTED_KEY))
        for rm in key_info.iterchildren(_RETRIEVAL):
            uri = rm.get("URI") or ""
            kind = rm.get("Type")
            # Only a same-document reference ("#id") is followed; anything else would mean fetching.
            if not uri.startswith("#") or (kind is not None and kind != ENCRYPTED_KEY_TYPE):
                continue
            found.extend(k for k in siblings if k.get("Id") == uri[1:])
    data_id = data.get("Id") if data is not None else None
    # Siblings whose ReferenceList names this EncryptedData come before the others.
    named = [k for k in siblings if data_id and _references(k, data_id)]
    found.extend(named)
    found.extend(siblings)
    unique: list[etree._Element] = []
    for k in found:
        if not any(k is u for u in unique):
            unique.append(k)
    return unique


def _references(ek: etree._Element, data_id: str) -> bool:
    refs = _child(ek, _REFERENCE_LIST)
    return refs is not None and any(r.get("URI") == "#" + data_id for r in refs.iterchildren(_DATA_REFERENCE))


def _oaep_params(ek: etree._Element) -> tuple[str | None, str | None]:
    """(digest URI, MGF URI) as written in the EncryptedKey's EncryptionMethod (None where absent)."""
    method = _child(ek, _ENCRYPTION_METHOD)
    digest = _child(method, _DIGEST_METHOD)
    mgf = _child(method, _MGF)
    return (
        digest.get("Algorithm") if digest is not None else None,
        mgf.get("Algorithm") if mgf is not None else None,
    )


def _recipient_cert(ek: etree._Element | None) -> x509.Certificate | None:
    cert_el = _child(_child(_child(ek, _KEY_INFO), _X509_DATA), _X509_CERT)
    if cert_el is None or not (cert_el.text or "").strip():
        return None
    text = "".join((cert_el.text or "").split())
    if len(text) > 64 * 1024:  # a certificate is a few KiB; do not decode anything bigger
        return None
    try:
        # load_certs also reads base64 of a PEM text (the ADFS quirk) and never raises anything but CertError.
        return certs.load_certs(text.encode("ascii", "replace"))[0]
    except certs.CertError:
        return None


def _subject(cert: x509.Certificate) -> str:
    try:  # names are decoded lazily; a malformed one must not make describe() raise
        return cert.subject.rfc4514_string()
    except ValueError:
        return "a certificate with an unreadable subject"


def _key_identity(ek: etree._Element | None, data: etree._Element | None) -> tuple[str | None, str | None]:
    """(key_name, recipient_cert_sha1): how the message names the key it was encrypted for."""
    key_info = _child(ek, _KEY_INFO)
    name = _child(key_info, _KEY_NAME)
    if name is not None and (name.text or "").strip():
        key_name: str | None = name.text
    else:
        key_name = None
    cert = _recipient_cert(ek)
    sha1 = certs.thumbprint(cert, hashes.SHA1()) if cert is not None else None  # noqa: S303 - display thumbprint
    if key_name is None and cert is not None:
        key_name = f"{_subject(cert)} (SHA-1 {sha1})"
    x509_data = _child(key_info, _X509_DATA)
    if key_name is None and x509_data is not None:
        issuer_serial = _child(x509_data, _X509_ISSUER_SERIAL)
        subject = _child(x509_data, _X509_SUBJECT)
        ski = _child(x509_data, _X509_SKI)
        if issuer_serial is not None:
            issuer = _child(issuer_serial, _X509_ISSUER_NAME)
            serial = _child(issuer_serial, _X509_SERIAL)
            key_name = (
                f"issuer {(issuer.text or '').strip() if issuer is not None else '?'}, "
                f"serial {(serial.text or '').strip() if serial is not None else '?'}"
            )
        elif subject is not None and (subject.text or "").strip():
            key_name = subject.text
        elif ski is not None and (ski.text or "").strip():
            key_name = f"subject key identifier {(ski.text or '').strip()}"
    if key_name is None:  # a KeyName on EncryptedData itself names the (wrapped or shared) key
        data_name = _child(_child(data, _KEY_INFO), _KEY_NAME)
        if data_name is not None and (data_name.text or "").strip():
            key_name = data_name.text
    return _clip(key_name), sha1


def _weak(data_algorithm: str | None, key_transport: str | None) -> tuple[str, ...]:
    reasons: list[str] = []
    spec = DATA_ALGORITHMS.get(data_algorithm or "")
    if spec is not None and spec.mode == "cbc":
        reasons.append(WEAK_CBC)
        if spec.name == "tripledes-cbc":
            reasons.append(WEAK_3DES)
    if key_transport == RSA_1_5:
        reasons.append(WEAK_RSA_1_5)
    return tuple(reasons)


def describe(encrypted_assertion: etree._Element) -> EncryptionInfo:
    """What is visible without a key. Never raises on a malformed structure: missing parts read as None."""
    datas = _encrypted_data(encrypted_assertion)
    data = datas[0] if datas else None
    keys = _encrypted_keys(encrypted_assertion, data)
    ek = keys[0] if keys else None
    data_algorithm = _method(data)
    key_transport = _method(ek)
    digest, mgf = _oaep_params(ek) if ek is not None else (None, None)
    if digest is None and key_transport in (RSA_OAEP_MGF1P, RSA_OAEP):
        digest = SHA1  # the XML-Enc default for both OAEP identifiers
    key_name, sha1 = _key_identity(ek, data)
    return EncryptionInfo(
        data_algorithm=_clip(data_algorithm),
        key_transport=_clip(key_transport),
        oaep_digest=_clip(digest),
        oaep_mgf=_clip(mgf),
        recipient=_clip(ek.get("Recipient")) if ek is not None else None,
        key_name=key_name,
        recipient_cert_sha1=sha1,
        weak=_weak(data_algorithm, key_transport),
    )


def decryption_findings(info: EncryptionInfo) -> list[Finding]:
    """Weak-algorithm warnings, from what is visible without a key."""
    out: list[Finding] = []
    spec = DATA_ALGORITHMS.get(info.data_algorithm or "")
    if spec is not None and spec.mode == "cbc":
        triple = spec.name == "tripledes-cbc"
        out.append(
            finding(
                "weak_data_encryption",
                f"The assertion is encrypted with {spec.name}: "
                + ("Triple-DES in CBC mode, deprecated and " if triple else "CBC mode, ")
                + "without integrity protection",
                expected="AES-GCM (http://www.w3.org/2009/xmlenc11#aes256-gcm or #aes128-gcm)",
                actual=f"{info.data_algorithm}: " + "; ".join(r for r in info.weak if r != WEAK_RSA_1_5),
                where=_WHERE_METHOD,
            )
        )
    if info.key_transport == RSA_1_5:
        out.append(
            finding(
                "weak_key_transport",
                "The assertion key is wrapped with RSA PKCS#1 v1.5",
                expected="RSA-OAEP (http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p or xmlenc11#rsa-oaep)",
                actual=f"{info.key_transport}: {WEAK_RSA_1_5} (Bleichenbacher padding-oracle risk)",
                where=_WHERE_KEY_METHOD,
            )
        )
    return out


# --- keys ------------------------------------------------------------------------------------------------

_PEM_BEGIN = re.compile(rb"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED |OPENSSH )?PRIVATE KEY)-----")
_WS = re.compile(rb"\s+")


_Loader: TypeAlias = Callable[[bytes, bytes | None], PrivateKeyTypes]


def _key_error(title: str, actual: str | None = None, fix: str | None = None) -> DecryptError:
    return DecryptError(finding("decrypt_key_invalid", title, actual=actual, fix=fix, where="SP private key"))


def _load_one(load: _Loader, blob: bytes, password: bytes | None, encrypted: bool | None) -> PrivateKeyTypes:
    """Call a cryptography loader with the password rules people expect: a password given for a key that is
    not encrypted is ignored (many tools ask for one regardless); a missing or wrong password is said plainly.
    `encrypted` is None when the form does not show it (DER). `from None` everywhere: the library's exception
    chain is not carried into our error."""
    try:
        return load(blob, password)
    except TypeError:
        if password is not None and encrypted is not True:
            try:
                return load(blob, None)
            except (TypeError, ValueError, UnsupportedAlgorithm):
                pass
        if password is None:
            raise _key_error("The private key is encrypted: give its password") from None
        raise _key_error("The private key could not be read") from None
    except ValueError:
        if password is not None and encrypted:
            raise _key_error("The password does not open the private key") from None
        if password is not None and encrypted is None:
            raise _key_error(
                "The private key could not be read, or the password does not open it",
                actual="not a DER RSA private key (PKCS#1, PKCS#8) this password opens, nor such a PKCS#12 file",
            ) from None
        raise _key_error(
            "The private key could not be read",
            actual="not a PEM or DER RSA private key (PKCS#1, PKCS#8) nor a PKCS#12 file",
        ) from None
    except UnsupportedAlgorithm:
        raise _key_error("The private key uses an algorithm this server cannot read") from None


def _only_rsa(found: Sequence[PrivateKeyTypes]) -> list[PrivateKey]:
    keys = [k for k in found if isinstance(k, rsa.RSAPrivateKey)]
    if any(k.key_size > MAX_RSA_BITS for k in keys):
        raise _key_error(
            f"The private key is larger than {MAX_RSA_BITS} bits, the limit of this server",
            actual=f"RSA-{max(k.key_size for k in keys)}",
        )
    if not keys:
        kinds = sorted({type(k).__name__.lstrip("_").replace("PrivateKey", "") for k in found})
        raise _key_error(
            "The private key is not an RSA key: XML Encryption key transport (what Entra uses) needs RSA",
            actual=f"{', '.join(kinds) or 'unknown'} key",
        )
    return keys[:MAX_KEYS]


def _pem_blocks(data: bytes) -> list[bytes]:
    """The private-key PEM blocks, at most MAX_KEYS. A linear scan (bytes.find per block), not a regex spanning
    BEGIN to END, whose cost on a megabyte of unterminated BEGIN lines would be quadratic."""
    blocks: list[bytes] = []
    pos = 0
    while len(blocks) < MAX_KEYS and (m := _PEM_BEGIN.search(data, pos)) is not None:
        end_line = b"-----END " + m.group(1) + b"-----"
        end = data.find(end_line, m.end())
        if end < 0:
            raise _key_error("The private key is cut off: its END line is missing", actual=m.group(1).decode())
        blocks.append(data[m.start() : end + len(end_line)])
        pos = end + len(end_line)
    return blocks


def load_private_keys(data: bytes, password: bytes | None = None) -> list[PrivateKey]:
    """Every RSA private key in `data`: PEM (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" and "ENCRYPTED
    PRIVATE KEY", several blocks and certificates mixed in are fine), DER (PKCS#1 / PKCS#8), bare base64 of DER
    (python3-saml settings style) or PKCS#12 (.pfx, what Windows exports). At most MAX_KEYS keys are kept."""
    if len(data) > MAX_KEY_FILE_BYTES:
        raise _key_error("The private key file is larger than the limit", actual=f"{len(data)} bytes")
    if not data.strip():
        raise _key_error("The private key is empty")
    blocks = _pem_blocks(data)
    if blocks:
        found: list[PrivateKeyTypes] = []
        for block in blocks:
            if b"OPENSSH PRIVATE KEY" in block[:40]:
                raise _key_error(
                    "OpenSSH private keys are not accepted",
                    fix="Give the SP's PEM key (e.g. `ssh-keygen -p -m PEM -f key`), PKCS#8 or PKCS#12.",
                )
            encrypted = block.startswith(b"-----BEGIN ENCRYPTED") or b"Proc-Type: 4,ENCRYPTED" in block
            found.append(_load_one(serialization.load_pem_private_key, block, password, encrypted))
        return _only_rsa(found)
    if b"-----BEGIN" in data:
        what = "a certificate (the public part)" if b"CERTIFICATE-----" in data else "a PEM block of another kind"
        raise _key_error(
            "No private key found: the file holds " + what,
            actual=what,
            fix="Give the SP's private key (the file the SP decrypts with, e.g. sp.key or sp_key.pem), "
            "not the certificate uploaded to Entra.",
        )
    der = data
    stripped = data.strip()
    if stripped[:1] != b"\x30":  # not DER: perhaps bare base64 of DER
        try:
            der = base64.b64decode(_WS.sub(b"", stripped), validate=True)
        except (ValueError, binascii.Error):
            raise _key_error(
                "The private key could not be read", actual="neither PEM, DER, base64 of DER nor PKCS#12"
            ) from None
    try:
        return _only_rsa([_load_one(serialization.load_der_private_key, der, password, None)])
    except DecryptError as der_error:
        try:
            key, _cert, _extra = pkcs12.load_key_and_certificates(der, password)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise der_error from None
        if key is None:
            raise _key_error("The PKCS#12 file holds no private key") from None
        return _only_rsa([key])


# --- decryption ------------------------------------------------------------------------------------------


class _DataError(Exception):
    """The data key was obtained but the content does not decrypt to an Assertion (carries the finding)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.title)
        self.finding = finding


def _b64(el: etree._Element | None, limit: int, what: str, where: str, overhead: int = 0) -> bytes:
    """The CipherValue bytes. `limit` bounds what they stand for: the bytes minus `overhead` (IV, tag, padding
    that decryption removes); checked before anything is decrypted."""
    value = _child(el, _CIPHER_VALUE)
    if value is None:
        if _child(el, _CIPHER_REFERENCE) is not None:
            raise DecryptError(
                finding(
                    "decrypt_unsupported_algorithm",
                    f"The {what} is given by CipherReference (a URI to fetch): not supported",
                    expected="CipherData/CipherValue",
                    actual="CipherData/CipherReference",
                    where=where,
                )
            )
        raise _malformed(f"The {what} has no CipherData/CipherValue", where)
    text = value.text or ""
    # Bound the text before decoding: base64 is 4/3 of the bytes; allow generous whitespace.
    if len(text) > 2 * (limit + overhead) + 4096:
        raise _too_large(f"The {what} is larger than the limit", f"at most {limit} bytes", where)
    try:
        raw = base64.b64decode(_WS.sub(b"", text.encode("ascii")), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise _malformed(f"The {what} (CipherValue) is not valid base64", where) from None
    if len(raw) - overhead > limit:
        actual = f"at least {len(raw) - overhead} bytes" if overhead else f"{len(raw)} bytes"
        raise _too_large(f"The {what} is larger than the limit", f"at most {limit} bytes", where, actual)
    return raw


def _malformed(title: str, where: str, actual: str | None = None) -> DecryptError:
    return DecryptError(finding("decrypt_malformed", title, actual=actual, where=where))


def _too_large(title: str, expected: str, where: str, actual: str | None = None) -> DecryptError:
    return DecryptError(finding("oversized_input", title, expected=expected, actual=actual, where=where))


def _unsupported(what: str, uri: str | None, supported: str, where: str) -> DecryptError:
    return DecryptError(
        finding(
            "decrypt_unsupported_algorithm",
            f"The {what} algorithm is not supported" if uri else f"The {what} algorithm is not given",
            expected=supported,
            actual=_clip(uri) or "no EncryptionMethod/@Algorithm",
            where=where,
        )
    )


@dataclass(frozen=True)
class _Transport:
    ek: etree._Element
    algorithm: str
    padding: padding.AsymmetricPadding
    wrapped: bytes


def _transport(ek: etree._Element, where: str) -> _Transport:
    algorithm = _method(ek)
    if algorithm not in KEY_TRANSPORTS:
        raise _unsupported(
            "key transport",
            algorithm,
            "rsa-oaep-mgf1p, xmlenc11#rsa-oaep or rsa-1_5",
            where + "/xenc:EncryptedKey/xenc:EncryptionMethod",
        )
    pad: padding.AsymmetricPadding
    if algorithm == RSA_1_5:
        pad = padding.PKCS1v15()
    else:
        digest_uri, mgf_uri = _oaep_params(ek)
        digest = _DIGESTS.get(digest_uri or SHA1)
        if digest is None:
            raise _unsupported("OAEP digest", digest_uri, "sha1, sha224, sha256, sha384, sha512", where)
        # rsa-oaep-mgf1p fixes MGF1 with SHA-1 whatever the DigestMethod (xmlenc-core §5.4.2); xmlenc11#rsa-oaep
        # names the MGF in xenc11:MGF, MGF1 with SHA-1 by default.
        mgf = hashes.SHA1 if algorithm == RSA_OAEP_MGF1P else _MGFS.get(mgf_uri or XENC11 + "mgf1sha1")
        if mgf is None:
            raise _unsupported("OAEP mask generation (MGF)", mgf_uri, "xmlenc11#mgf1sha1 … mgf1sha512", where)
        params = _child(_child(ek, _ENCRYPTION_METHOD), _OAEP_PARAMS)
        label: bytes | None = None
        if params is not None and (params.text or "").strip():
            try:
                label = base64.b64decode(_WS.sub(b"", (params.text or "").encode("ascii")), validate=True)
            except (ValueError, binascii.Error, UnicodeEncodeError):
                raise _malformed("The OAEPparams of the EncryptedKey are not valid base64", where) from None
            if len(label) > MAX_OAEP_LABEL_BYTES:
                raise _too_large("The OAEPparams are larger than the limit", f"{MAX_OAEP_LABEL_BYTES} bytes", where)
        pad = padding.OAEP(mgf=padding.MGF1(mgf()), algorithm=digest(), label=label or None)
    wrapped = _b64(_child(ek, _CIPHER_DATA), MAX_WRAPPED_KEY_BYTES, "encrypted key", where)
    return _Transport(ek, algorithm, pad, wrapped)


def _decrypt_data(spec: _DataAlgorithm, key: bytes, blob: bytes, where: str) -> bytes:
    """Raises _DataError when the content does not decrypt (GCM tag, CBC length or padding)."""
    if spec.mode == "gcm":
        if len(blob) < _GCM_IV + _GCM_TAG:
            raise _DataError(
                finding(
                    "decrypt_malformed",
                    "The encrypted assertion is too short for AES-GCM (12-byte IV and 16-byte tag)",
                    actual=f"{len(blob)} bytes",
                    where=where,
                )
            )
        try:
            # XML-Enc 1.1 §5.2.4: IV (12 bytes) || ciphertext || tag (16 bytes), which is what AESGCM expects
            # after the IV.
            return AESGCM(key).decrypt(blob[:_GCM_IV], blob[_GCM_IV:], None)
        except InvalidTag:
            raise _DataError(
                finding(
                    "decrypt_failed",
                    "The encrypted assertion fails its AES-GCM integrity check: the ciphertext or tag was altered",
                    expected="the GCM authentication tag matches",
                    actual="authentication tag mismatch",
                    where=where,
                )
            ) from None
    iv, body = blob[: spec.block], blob[spec.block :]
    if not body or len(body) % spec.block:
        raise _DataError(
            finding(
                "decrypt_malformed",
                f"The encrypted assertion is not a whole number of {spec.block}-byte blocks after the IV",
                actual=f"{len(blob)} bytes",
                where=where,
            )
        )
    cipher = algorithms.AES(key) if spec.block == 16 else TripleDES(key)
    decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    # XML-Enc §5.2 padding: the last byte is the pad length (1..block size); the other pad bytes are arbitrary
    # (ISO 10126 style), so only the length byte can be checked, not PKCS#7 content.
    n = padded[-1]
    if not 1 <= n <= spec.block:
        raise _DataError(
            finding(
                "decrypt_failed",
                "The decrypted assertion has invalid CBC padding: the ciphertext was altered or the key is wrong",
                expected=f"a final pad-length byte of 1..{spec.block}",
                actual="a pad-length byte outside that range",
                where=where,
            )
        )
    return padded[:-n]


# The in-scope namespace declarations of the EncryptedAssertion are re-declared on the decrypted root start
# tag (those the root does not declare itself), so the plaintext parses on its own.
#
# Why this does not change what a signature covers: decrypting in place (xmlsec replaces EncryptedData with the
# plaintext, parsed in the context of the EncryptedAssertion; python3-saml and ruby-saml then verify it there) puts
# the Assertion where exactly these declarations are in scope. Adding them on the root gives every element of the
# standalone document the same in-scope namespaces as in place, and canonicalization depends only on those:
# exclusive c14n (what SAML signs with) emits a namespace declaration on an element only when the element or one of
# its attributes uses the prefix (or it is in the InclusiveNamespaces PrefixList) and no output ancestor emitted it
# already; an unused declaration is dropped, a used one is emitted on the apex either way. Inclusive c14n renders
# every in-scope namespace on the apex, again the same set as in place. The bytes of the plaintext are otherwise
# untouched (no re-serialisation: attribute order, whitespace, comments and entity forms stay as the IdP wrote
# them).
_NAME = re.compile(rb"<([^\s/>!?]+)")
_ATTR = re.compile(rb"""\s+([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')""")


def _attr_escape(value: str) -> bytes:
    """Attribute text that survives any ASCII-compatible encoding: non-ASCII and the characters attribute
    normalisation would change become character references."""
    out = []
    for ch in value:
        if ch in "&<>\"'" or ord(ch) > 126 or ord(ch) < 32:
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out).encode("ascii")


def _root_start(plain: bytes) -> tuple[int, int, set[bytes]] | None:
    """(end of the root's name, end of its attributes, declared xmlns attribute names), or None."""
    pos = 3 if plain.startswith(b"\xef\xbb\xbf") else 0
    n = len(plain)
    for _ in range(64):  # prolog: XML declaration, PIs, comments, whitespace (bounded)
        while pos < n and plain[pos] in b" \t\r\n":
            pos += 1
        if plain.startswith(b"<?", pos):
            end = plain.find(b"?>", pos)
        elif plain.startswith(b"<!--", pos):
            end = plain.find(b"-->", pos)
        else:
            break
        if end < 0:
            return None
        pos = end + 2 if plain[end] == ord("?") else end + 3
    m = _NAME.match(plain, pos)
    if m is None:
        return None
    declared: set[bytes] = set()
    end = m.end()
    while (a := _ATTR.match(plain, end)) is not None:
        name = a.group(1)
        if name == b"xmlns" or name.startswith(b"xmlns:"):
            declared.add(name)
        end = a.end()
    return m.end(), end, declared


def _redeclare(plain: bytes, nsmap: dict[str | None, str]) -> bytes:
    start = _root_start(plain)
    if start is None:
        return plain  # not an element we can read; the parser will say what is wrong
    name_end, _attrs_end, declared = start
    extra = b""
    for prefix, uri in sorted(nsmap.items(), key=lambda kv: kv[0] or ""):
        attr = b"xmlns" if prefix is None else b"xmlns:" + prefix.encode("ascii", "replace")
        if attr in declared or (prefix is not None and not prefix.isascii()):
            continue
        extra += b" " + attr + b'="' + _attr_escape(uri) + b'"'
    return plain[:name_end] + extra + plain[name_end:] if extra else plain


def _finish(plain: bytes, ea: etree._Element, limits: Limits, where: str) -> bytes:
    """The plaintext, re-declaring ancestor namespaces, checked to be one well-formed saml:Assertion."""
    too_large = f"at most {limits.max_xml_bytes} bytes"
    if len(plain) > limits.max_xml_bytes:
        raise _too_large("The decrypted assertion is larger than the limit", too_large, where, f"{len(plain)} bytes")
    out = _redeclare(plain, dict(ea.nsmap))
    if len(out) > limits.max_xml_bytes:
        raise _too_large("The decrypted assertion is larger than the limit", too_large, where, f"{len(out)} bytes")
    try:
        root = xmlsafe.parse(out, limits)
    except AnalysisStop as stop:
        f = stop.finding
        if f.code == "malformed_xml":
            # Not XML: with CBC that is what a damaged ciphertext (or, with PKCS#1 v1.5, a wrong key) gives. The
            # parser's message would quote decrypted bytes, so it is not passed on.
            raise _DataError(
                finding(
                    "decrypt_failed",
                    "The decrypted content is not well-formed XML: the ciphertext was altered or the key is wrong",
                    expected="a saml:Assertion element",
                    actual="bytes that do not parse as XML",
                    where=where,
                )
            ) from None
        # A DOCTYPE, or a size / depth bound: keep the parser's code and title; drop `actual`, which may quote
        # decrypted content (a DOCTYPE's system identifier).
        raise _DataError(
            finding(f.code, "In the decrypted assertion: " + f.title, expected=f.expected, where=where)
        ) from None
    if root.tag != ASSERTION:
        # Only the element name is reported (structure, not content): the reason must be precise.
        raise _DataError(
            finding(
                "decrypt_not_assertion",
                "The EncryptedAssertion does not contain an Assertion",
                expected=f"<{ASSERTION}>",
                actual=f"<{_clip(str(root.tag))}>",
                where=where,
            )
        )
    return out


def _fits(key: PrivateKey, cert: x509.Certificate | None) -> bool | None:
    if cert is None:
        return None
    public = cert.public_key()
    return isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == key.public_key().public_numbers()


def _transports(ea: etree._Element, data: etree._Element, where: str) -> list[_Transport]:
    """Every readable EncryptedKey of the assertion (inline, by RetrievalMethod, or beside EncryptedData)."""
    eks = _encrypted_keys(ea, data)
    if not eks:
        agreement = _child(_child(data, _KEY_INFO), _AGREEMENT) is not None
        if agreement:
            raise _unsupported("key agreement", "xenc:AgreementMethod", "RSA key transport (xenc:EncryptedKey)", where)
        raise _malformed(
            "The EncryptedAssertion carries no xenc:EncryptedKey: the data key is not in the message",
            where,
            actual="no EncryptedKey inline, by RetrievalMethod, or beside EncryptedData",
        )
    if len(eks) > MAX_ENCRYPTED_KEYS:
        raise _malformed(
            "The EncryptedAssertion carries more EncryptedKey elements than the limit",
            where,
            actual=f"{len(eks)} (at most {MAX_ENCRYPTED_KEYS})",
        )
    transports: list[_Transport] = []
    unsupported: DecryptError | None = None
    for ek in eks:
        try:
            transports.append(_transport(ek, where))
        except DecryptError as e:
            # One unreadable EncryptedKey (e.g. addressed to another recipient with another algorithm) does not
            # stop the others from being tried.
            unsupported = unsupported or e
    if not transports:
        assert unsupported is not None
        raise unsupported
    return transports


def decrypt_assertion(encrypted_assertion: etree._Element, keys: Sequence[PrivateKey], limits: Limits) -> bytes:
    """The decrypted saml:Assertion as bytes that parse with `xmlsafe.parse` on their own, with the same
    canonical form as in place (see `_redeclare`). Raises DecryptError with a precise reason otherwise.

    Every EncryptedKey present is tried with every key given. An RSA-OAEP unwrap that succeeds proves the key
    right, so a later failure is reported as a content failure; RSA PKCS#1 v1.5 cannot prove it (OpenSSL's
    implicit rejection returns a synthetic key for a wrong private key), so its content failures also name the
    key as a possible cause."""
    ea = encrypted_assertion
    where = xpath_of(ea)
    if ea.tag != ENCRYPTED_ASSERTION:
        raise _malformed("Not a saml:EncryptedAssertion element", where, actual=f"<{_clip(str(ea.tag))}>")
    datas = _encrypted_data(ea)
    if len(datas) != 1:
        raise _malformed(
            "The EncryptedAssertion must hold exactly one xenc:EncryptedData",
            where,
            actual=f"{len(datas)} EncryptedData elements",
        )
    data = datas[0]
    data_where = where + "/xenc:EncryptedData"
    kind = data.get("Type")
    if kind is not None and kind != ELEMENT_TYPE:
        raise _malformed(
            "The EncryptedData is not an encrypted element",
            data_where,
            actual=f"Type={_clip(kind)}",
        )
    algorithm = _method(data)
    spec = DATA_ALGORITHMS.get(algorithm or "")
    if spec is None:
        raise _unsupported(
            "data encryption",
            algorithm,
            "aes128/192/256-cbc, xmlenc11#aes128/192/256-gcm, tripledes-cbc",
            data_where + "/xenc:EncryptionMethod",
        )
    if not keys:
        raise DecryptError(
            finding(
                "encrypted",
                "The assertion is encrypted and no SP private key was given",
                expected="the SP's private key (the one matching the certificate under Token encryption)",
                actual=f"{spec.name}; no key",
                where=where,
            )
        )
    keys = [k for k in keys if k.key_size <= MAX_RSA_BITS][:MAX_KEYS]  # bounded cost (load_private_keys says why)
    if not keys:
        raise _key_error(f"The private keys given are larger than {MAX_RSA_BITS} bits, the limit of this server")
    overhead = _GCM_IV + _GCM_TAG if spec.mode == "gcm" else 2 * spec.block
    blob = _b64(_child(data, _CIPHER_DATA), limits.max_xml_bytes, "encrypted assertion", data_where, overhead)
    transports = _transports(ea, data, where)
    certs_for = [_recipient_cert(t.ek) for t in transports]
    # Keys whose public half matches the certificate an EncryptedKey names go first (cheap, and exact).
    ordered = sorted(keys, key=lambda k: 0 if any(_fits(k, c) for c in certs_for) else 1)

    content_failure: _DataError | None = None  # after an unwrap proven right (OAEP)
    v15_failure: _DataError | None = None  # after an unwrap that may be a synthetic key (PKCS#1 v1.5)
    wrong_length: tuple[int, str] | None = None  # an OAEP-unwrapped key of the wrong size
    for t in transports:
        for key in ordered:
            if len(t.wrapped) > (key.key_size + 7) // 8:
                continue  # longer than this key's modulus: made for another (bigger) key, no RSA operation needed
            try:
                session = key.decrypt(t.wrapped, t.padding)
            except ValueError:
                continue  # wrong key for this EncryptedKey (or a damaged one): try the next
            if len(session) != spec.key_bytes:
                if t.algorithm != RSA_1_5:
                    wrong_length = (len(session), spec.name)
                continue  # for PKCS#1 v1.5 this is the implicit-rejection signature of a wrong key
            try:
                plain = _decrypt_data(spec, session, blob, data_where)
                return _finish(plain, ea, limits, data_where)
            except _DataError as e:
                if t.algorithm == RSA_1_5:
                    v15_failure = v15_failure or e
                else:
                    content_failure = content_failure or e
    if content_failure is not None:
        raise DecryptError(content_failure.finding)
    if v15_failure is not None:
        f = v15_failure.finding
        if f.code != "decrypt_failed":  # a well-formed result (DOCTYPE, not an Assertion) is no wrong-key symptom
            raise DecryptError(f)
        raise DecryptError(
            finding(
                f.code,
                f.title,
                expected=f.expected,
                actual=(f.actual or "")
                + " (with RSA PKCS#1 v1.5 key transport a wrong private key gives this same result)",
                where=f.where,
            )
        )
    if wrong_length is not None:
        got, name = wrong_length
        raise _malformed(
            f"The EncryptedKey holds a {got}-byte key, but {name} needs {spec.key_bytes} bytes",
            where,
            actual=f"{got}-byte key",
        )
    raise _wrong_key(transports, certs_for, keys, where)


def _wrong_key(
    transports: Sequence[_Transport],
    certs_for: Sequence[x509.Certificate | None],
    keys: Sequence[PrivateKey],
    where: str,
) -> DecryptError:
    sizes = ", ".join(sorted({f"RSA-{k.key_size}" for k in keys}))
    expected = "the private key matching the certificate Entra encrypts for (Enterprise app → Token encryption)"
    named = [c for c in certs_for if c is not None]
    if named:
        cert = named[0]
        expected = (
            f"the private key of {_subject(cert)} "
            f"(SHA-1 {certs.thumbprint(cert, hashes.SHA1())}), named in the EncryptedKey"  # noqa: S303 - display
        )
    wrapped_bits = {len(t.wrapped) * 8 for t in transports}
    mismatch = [b for b in wrapped_bits if all(abs(b - k.key_size) >= 8 for k in keys)]
    detail = f"RSA decryption of the EncryptedKey failed with each of the {len(keys)} key(s) given ({sizes})"
    if mismatch and len(mismatch) == len(wrapped_bits):
        detail += f"; the EncryptedKey was made for a {'/'.join(str(b) for b in sorted(mismatch))}-bit RSA key"
    return DecryptError(
        finding(
            "decrypt_wrong_key",
            "None of the private keys given decrypts the assertion",
            expected=expected,
            actual=detail,
            where=where,
        )
    )
