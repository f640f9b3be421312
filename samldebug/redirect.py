"""HTTP-Redirect binding signatures: SigAlg + Signature over the query string exactly as received.

The signed octets are `SAMLRequest=<v>[&RelayState=<v>]&SigAlg=<v>` (or SAMLResponse) with each value in the
URL-encoded form it had on the wire (SAML bindings §3.4.4.1). Re-encoding a parameter after signing (a proxy,
a copy-paste through a tool) breaks the signature even though the decoded values are equal: when the decoded
values verify under another encoding, the report says so.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import certs
from .catalog import finding
from .certs import Anchor
from .model import Finding, SignatureInfo, SignatureResult, SignatureStatus

ALGORITHMS: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", hashes.SHA1()),  # noqa: S303 - verified, reported
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", hashes.SHA256()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", hashes.SHA384()),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", hashes.SHA512()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("ec", hashes.SHA1()),  # noqa: S303
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", hashes.SHA256()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", hashes.SHA384()),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", hashes.SHA512()),
}
WHERE = "query string (SigAlg + Signature)"


@dataclass(frozen=True)
class RawQuery:
    message_param: str  # SAMLRequest | SAMLResponse
    message: str  # raw (still URL-encoded) values
    relay_state: str | None
    sig_alg: str | None
    signature: str | None


PROTOCOL_PARAMS = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")


def smuggled(query: str) -> str | None:
    """Why a query is ambiguous, or None. The decoder and the signature check must read the very same
    parameter: a repeated SAML parameter (also when its name is percent-encoded) or both SAMLRequest and
    SAMLResponse let one of them read another value than the other — an attack, never a valid signature."""
    counts: dict[str, int] = {}
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        if sep:
            decoded = unquote_plus(name)
            counts[decoded] = counts.get(decoded, 0) + 1
            if decoded in PROTOCOL_PARAMS and decoded != name:
                return f"the parameter name {name!r} is percent-encoded"
    repeated = [p for p in PROTOCOL_PARAMS if counts.get(p, 0) > 1]
    if repeated:
        return f"{', '.join(repeated)} appears more than once"
    if counts.get("SAMLRequest") and counts.get("SAMLResponse"):
        return "both SAMLRequest and SAMLResponse are present"
    return None


def parse_raw(query: str) -> RawQuery | None:
    """The parameters with their encodings untouched. Callers refuse ambiguous queries first (smuggled())."""
    raw: dict[str, str] = {}
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and name not in raw:
            raw[name] = value
    param = next((p for p in ("SAMLRequest", "SAMLResponse") if p in raw), None)
    if param is None:
        return None
    return RawQuery(param, raw[param], raw.get("RelayState"), raw.get("SigAlg"), raw.get("Signature"))


def octets(q: RawQuery, message: str, relay: str | None, alg: str) -> bytes:
    parts = [f"{q.message_param}={message}"]
    if relay is not None:
        parts.append(f"RelayState={relay}")
    parts.append(f"SigAlg={alg}")
    # The octets exactly as received: never a lossy encoding ("ascii", "replace" turned any non-ASCII character
    # into the '?' a signer may have sent, so a changed RelayState still verified).
    return "&".join(parts).encode("utf-8", "surrogatepass")


def _check(key: object, kind: str, algorithm: hashes.HashAlgorithm, signature: bytes, data: bytes) -> bool:
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            try:
                key.verify(signature, data, ec.ECDSA(algorithm))
                return True
            except InvalidSignature:
                # XML-DSig ECDSA values are r||s, not DER: convert and try once more.
                half = len(signature) // 2
                der = encode_dss_signature(int.from_bytes(signature[:half]), int.from_bytes(signature[half:]))
                key.verify(der, data, ec.ECDSA(algorithm))
                return True
    except (InvalidSignature, ValueError):
        return False
    return False


def _encodings(value: str) -> list[str]:
    """Other spellings of the same decoded value that a signer could have used."""
    decoded = unquote_plus(value)
    variants = [
        quote_plus(decoded, safe=""),
        quote(decoded, safe=""),
        quote(decoded, safe="/"),
        quote_plus(decoded, safe="/"),
    ]
    lower = [v for v in variants if "%" in v]
    variants += [_lower_hex(v) for v in lower]
    return [v for v in dict.fromkeys(variants) if v != value]


def _lower_hex(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "%" and i + 2 < len(value) + 1:
            out.append(value[i : i + 3].lower())
            i += 3
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def verify(
    query: str, anchors: Sequence[Anchor], now: datetime, on: str, message_value: str | None = None
) -> tuple[SignatureResult | None, list[Finding]]:
    """None when the query carries no Signature (the caller decides whether one was required)."""
    q = parse_raw(query)
    if q is None or q.signature is None:
        return None, []
    ambiguity = smuggled(query)
    if ambiguity is not None:
        finding_ = finding("redirect_parameter_smuggling", actual=ambiguity, where=WHERE)
        info = SignatureInfo(WHERE, on, None, None, None, None, (), False, None, None, ambiguity)
        anchors_info = tuple(certs.info(a.cert, a.source, now) for a in anchors)
        return SignatureResult(SignatureStatus.INVALID, (), None, None, (info,), True, anchors_info), [finding_]
    if message_value is not None and unquote_plus(q.message) != message_value and unquote(q.message) != message_value:
        # The signature covers another message than the one analysed (e.g. a capture entry's value).
        finding_ = finding(
            "redirect_parameter_smuggling", actual="the signed message is not the analysed one", where=WHERE
        )
        info = SignatureInfo(WHERE, on, None, None, None, None, (), False, None, None, "another message is signed")
        anchors_info = tuple(certs.info(a.cert, a.source, now) for a in anchors)
        return SignatureResult(SignatureStatus.INVALID, (), None, None, (info,), True, anchors_info), [finding_]
    out: list[Finding] = []
    alg_uri = unquote(q.sig_alg or "")
    anchor_infos = tuple(certs.info(a.cert, a.source, now) for a in anchors)

    def result(status: SignatureStatus, key: Anchor | None, error: str | None) -> SignatureResult:
        info = SignatureInfo(
            WHERE,
            on,
            None,
            alg_uri or None,
            None,
            None,
            (),
            key is not None,
            certs.info(key.cert, key.source, now) if key else None,
            None,
            error,
        )
        signed = (on,) if key is not None else ()
        return SignatureResult(status, signed, "/*" if key else None, info.key, (info,), False, anchor_infos)

    spec = ALGORITHMS.get(alg_uri)
    if spec is None:
        out.append(
            finding(
                "unsupported_algorithm",
                expected="RSA or ECDSA with SHA-256/384/512 (SHA-1 tolerated)",
                actual=alg_uri or "no SigAlg",
                where=WHERE,
            )
        )
        return result(SignatureStatus.INVALID, None, "unsupported SigAlg"), out
    kind, algorithm = spec
    if algorithm.name == "sha1":
        out.append(finding("sha1_signature", expected="rsa-sha256", actual=alg_uri.rsplit("#", 1)[-1], where=WHERE))
    try:
        # unquote, not unquote_plus: a '+' some SPs leave unencoded in the base64 is a '+', not a space.
        signature = base64.b64decode(unquote(q.signature), validate=False)
    except (binascii.Error, ValueError):
        out.append(finding("malformed_signature", actual="the Signature parameter is not base64", where=WHERE))
        return result(SignatureStatus.INVALID, None, "Signature is not base64"), out
    if not anchors:
        out.append(finding("redirect_signature_unverified", where=WHERE))
        return result(SignatureStatus.UNVERIFIED, None, "no certificate of the signer was given"), out
    data = octets(q, q.message, q.relay_state, q.sig_alg or "")
    for anchor in anchors:
        if _check(anchor.cert.public_key(), kind, algorithm, signature, data):
            weak = certs.weak_key(anchor, WHERE)
            if weak is not None:
                out.append(weak)
            return result(SignatureStatus.VALID, anchor, None), out
    # Did the signer sign another encoding of the same values? Then the query was re-encoded after signing.
    fields = [("message", q.message), ("RelayState", q.relay_state), ("SigAlg", q.sig_alg)]
    for index, (name, value) in enumerate(fields):
        if value is None:
            continue
        for variant in _encodings(value):
            values = [f[1] for f in fields]
            values[index] = variant
            data = octets(q, values[0] or "", values[1], values[2] or "")
            for anchor in anchors:
                if _check(anchor.cert.public_key(), kind, algorithm, signature, data):
                    label = q.message_param if name == "message" else name
                    out.append(
                        finding(
                            "redirect_reencoded",
                            expected=f"{label} encoded as the signer sent it: {variant[:80]}",
                            actual=f"as received: {value[:80]}",
                            where=WHERE,
                        )
                    )
                    return result(SignatureStatus.INVALID, None, f"{label} was re-encoded after signing"), out
    out.append(
        finding(
            "redirect_signature_invalid",
            expected="a signature by one of: " + ", ".join(f"{a.sha1} ({a.source})" for a in anchor_infos),
            actual=f"{alg_uri.rsplit('#', 1)[-1]} signature over the query as received does not verify",
            where=WHERE,
        )
    )
    return result(SignatureStatus.INVALID, None, "signature does not verify"), out
