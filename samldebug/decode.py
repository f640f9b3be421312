"""Turn whatever was pasted into the XML bytes of one SAML message, recording each step.

Recognised, in this order: raw XML (BOM, CRLF); a URL carrying SAMLRequest / SAMLResponse (Redirect
binding, with RelayState / SigAlg / Signature); a form body `SAMLResponse=…&RelayState=…`; URL-encoded
base64; base64 (standard or URL-safe, wrapped, unpadded, quoted); raw DEFLATE inside the base64.
Size caps are checked before any work, and the inflater never produces more than the XML cap.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .catalog import finding
from .config import Limits
from .model import AnalysisStop, Finding

SAML_PARAMS = ("SAMLResponse", "SAMLRequest")
_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/=_\-]*$")
_WS = re.compile(rb"\s+")
_PCT = re.compile(rb"%[0-9A-Fa-f]{2}")
_BOMS = (b"\xef\xbb\xbf",)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Decoded:
    xml: bytes
    steps: tuple[str, ...]
    parameter: str | None = None
    relay_state: str | None = None
    binding: str | None = None
    sig_alg: str | None = None
    signature: str | None = None
    query: str | None = None  # the raw query string as received (Redirect-binding signatures cover it)
    findings: tuple[Finding, ...] = ()


def mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n / 1024:.0f} KiB"


def oversized(what: str, size: str, cap: int) -> Finding:
    return finding(
        "oversized_input",
        f"The {what} is larger than the limit, so nothing was decoded",
        expected=f"at most {mib(cap)}",
        actual=size,
    )


def _oversized(what: str, size: str, cap: int) -> AnalysisStop:
    return AnalysisStop(oversized(what, size, cap))


def looks_like_xml(data: bytes) -> bool:
    head = data[:64].lstrip()
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :].lstrip()
    return head.startswith(b"<") or head.startswith(_UTF16_BOMS) or head.startswith(b"<\x00")


def strip_bom(data: bytes) -> bytes:
    stripped = data.lstrip()
    for bom in _BOMS:
        if stripped.startswith(bom):
            return stripped[len(bom) :]
    return stripped


def _unquote_wrapping(text: bytes) -> bytes:
    text = text.strip()
    while len(text) >= 2 and text[:1] == text[-1:] and text[:1] in (b'"', b"'", b"`"):
        text = text[1:-1].strip()
    return text


_WHITESPACE = b" \t\r\n\v\f"


def b64decode_lenient(value: bytes) -> bytes:
    """Standard or URL-safe base64, with line breaks and missing padding. Raises ValueError."""
    compact = value.translate(None, _WHITESPACE)
    if len(compact) % 4 == 0:
        try:  # the common case, at C speed
            return base64.b64decode(compact, validate=True)
        except binascii.Error:
            pass
    if not compact or not _B64_CHARS.match(compact):
        bad = sorted({chr(c) for c in compact if not _B64_CHARS.match(bytes([c]))})[:5]
        raise ValueError(f"characters outside the base64 alphabet: {' '.join(repr(c) for c in bad)}")
    compact = compact.rstrip(b"=").translate(bytes.maketrans(b"-_", b"+/"))
    if len(compact) % 4 == 1:
        raise ValueError("the base64 text is truncated (its length is not possible for base64)")
    compact += b"=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as e:
        raise ValueError(str(e)) from None


def inflate(data: bytes, cap: int) -> bytes:
    """Raw DEFLATE (the Redirect binding), falling back to zlib/gzip framing. Never more than cap+1 bytes."""
    last: Exception | None = None
    for wbits in (-15, 47):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, cap + 1)
        except zlib.error as e:
            last = e
            continue
        if len(out) > cap:
            raise _oversized("inflated message", f"more than {mib(cap)} (compression bomb?)", cap)
        return out
    raise ValueError(f"not DEFLATE data ({last})")


def _params(text: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(text, keep_blank_values=True)}


def decode(raw: bytes, limits: Limits) -> Decoded:
    if len(raw) > limits.max_input_bytes:
        raise _oversized("input", mib(len(raw)), limits.max_input_bytes)
    text = _unquote_wrapping(raw)
    if not text:
        raise AnalysisStop(finding("not_saml", "The input is empty", expected="a SAML message", actual="nothing"))

    if looks_like_xml(text):
        return _finish(strip_bom(text), ("xml",), limits)

    steps: list[str] = []
    fields: dict[str, str] = {}
    query: str | None = None
    binding: str | None = None
    head = text[:16].lower()
    if head.startswith((b"http://", b"https://")):
        parts = urlsplit(text.decode("utf-8", "replace"))
        query = parts.query
        fields = _params(parts.query)
        if not any(p in fields for p in SAML_PARAMS) and parts.fragment:
            fields = _params(parts.fragment)
        steps.append("url")
        binding = "redirect"
    elif b"SAMLRe" in text and re.search(rb"(^|[?&])(SAMLResponse|SAMLRequest)=", text):
        query = text.decode("utf-8", "replace").lstrip("?")
        fields = _params(query)
        steps.append("form-decoded")
    parameter = next((p for p in SAML_PARAMS if p in fields), None)
    if fields and parameter is None:
        names = ", ".join(sorted(fields)[:8]) or "none"
        raise AnalysisStop(
            finding(
                "not_saml",
                "The URL or form carries no SAMLRequest or SAMLResponse parameter",
                expected="SAMLResponse=… or SAMLRequest=…",
                actual=f"parameters: {names}",
            )
        )
    value = fields[parameter].encode("ascii", "replace") if parameter else text
    if parameter:
        steps.append(parameter)
    elif b"%" in value and _PCT.search(value):
        value = unquote(value.decode("ascii", "replace")).encode("ascii", "replace")
        steps.append("url-decoded")

    try:
        data = b64decode_lenient(value)
    except ValueError as e:
        raise AnalysisStop(
            finding(
                "invalid_base64",
                "The input is neither XML nor valid base64",
                expected="XML, base64, a SAMLResponse form body or a Redirect URL",
                actual=str(e),
            )
        ) from None
    steps.append("base64")

    extra: list[Finding] = []
    if not looks_like_xml(data):
        try:
            data = inflate(data, limits.max_xml_bytes)
        except ValueError:
            raise AnalysisStop(
                finding(
                    "not_saml",
                    "The base64 decodes to something that is neither XML nor DEFLATE-compressed XML",
                    expected="XML after base64 (POST binding) or after inflating (Redirect binding)",
                    actual=_describe_bytes(data),
                )
            ) from None
        steps.append("inflated")
        binding = binding or "redirect"
        extra.append(
            finding(
                "deflated",
                "The message was DEFLATE-compressed: the HTTP-Redirect binding encoding",
                actual=" → ".join(steps),
            )
        )
        if not looks_like_xml(data):
            raise AnalysisStop(finding("not_saml", "The inflated data is not XML", actual=_describe_bytes(data)))
    elif parameter == "SAMLResponse" or (parameter and binding is None):
        binding = "post"

    return _finish(
        strip_bom(data),
        tuple(steps),
        limits,
        parameter=parameter,
        relay_state=fields.get("RelayState"),
        binding=binding,
        sig_alg=fields.get("SigAlg"),
        signature=fields.get("Signature"),
        query=query,
        findings=tuple(extra),
    )


def _describe_bytes(data: bytes) -> str:
    sample = data[:24]
    printable = all(32 <= b < 127 for b in sample)
    return f"{len(data)} bytes starting {sample!r}" if printable else f"{len(data)} bytes of binary data"


def _finish(xml: bytes, steps: tuple[str, ...], limits: Limits, **kw: object) -> Decoded:
    if len(xml) > limits.max_xml_bytes:
        raise _oversized("decoded XML", mib(len(xml)), limits.max_xml_bytes)
    return Decoded(xml=xml, steps=steps, **kw)  # type: ignore[arg-type]
