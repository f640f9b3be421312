"""What a stored report may keep. Pure functions over the report JSON (schema samldebug.report/2).

Always: every ds:SignatureValue is removed from the stored XML, so a permalink can never be replayed as a
sign-in; digests, references and the key identity stay, and the verification result is kept in the report.
Levels: "none" keeps values; "identity" masks NameIDs and attribute values (every one in the XML: a second
assertion's, a request's Subject, a NameID split by a comment), e-mail addresses (UPNs) in any text, URL userinfo
and `;jsessionid=` session IDs, and a sign-in log's UPNs, names, object IDs, IP addresses, devices and locations;
"all" also masks session indexes, addresses, RelayState and InResponseTo.
Masked values become stable tokens ([redacted-1], …) so equal values still look equal.

Values are masked where they occur as values: a field or an XML text equal to one, or the value standing as a
word of its own inside free text (a finding's text, a StatusMessage, a URL). Never inside another word, and never
in the report's structural fields (codes, severities, states: a claim value `ar` must not turn `warning` into
`w[redacted]ning` and break the stored report).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from lxml import etree

from . import linear, xmlsafe
from .config import Limits
from .saml import DS, SAML, SAMLP, text

LEVELS = ("none", "identity", "all")
REMOVED = "[removed: signature value not stored]"
# Sign-in log event fields masked at the "identity" level: UPN, display name, object ID, IP address, location,
# device name and ID.
_SIGNIN_IDENTITY = ("user", "user_name", "user_id", "ip", "location", "device", "device_id")


CIPHER_REMOVED = "[removed: ciphertext not stored]"
_XENC = "http://www.w3.org/2001/04/xmlenc#"

_EMAIL = linear.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_USERINFO = linear.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s?#\"'<>]+@")
_JSESSIONID = linear.compile(r"(;jsessionid=)[^/?#;\s\"'<>&]+", ignore_case=True)
# The report's structural fields: enums, codes, identifiers of our own making. Never masked.
_STRUCTURAL = frozenset(
    {
        "schema", "severity", "kind", "status", "state", "binding", "signed_elements", "code", "category",
        "redaction", "on", "parameter", "steps", "format", "signature_method", "digest_method", "canonicalization",
        "transforms", "name_format", "key_type", "sha1", "sha256", "serial", "now", "evaluated_at", "root",
        "where", "not_before", "not_after", "reference_uri", "worst", "counts",
    }
)  # fmt: skip
_PATTERN_FORM = 256  # forms up to this length go into RE2 alternations
_CHUNK = 4096  # characters of pattern per alternation
_LONG_FORMS = 256  # longer forms searched in free text (beyond: masked where they occur as whole values)
_IDENTITY_ELEMENTS = (f"{{{SAML}}}NameID", f"{{{SAML}}}AttributeValue", f"{{{SAML}}}EncryptedID")
_SESSION_ELEMENTS = (f"{{{SAMLP}}}SessionIndex",)
_SESSION_ATTRIBUTES = ("SessionIndex", "InResponseTo", "Address")


class _Masker:
    """The sensitive values of one report → tokens, matched as whole words in one linear pass per string."""

    def __init__(self, values: Iterable[str], level: str) -> None:
        ordered = sorted({v for v in values if _worth_masking(v)}, key=len, reverse=True)
        self.level = level
        self.table = {v: f"[redacted-{i + 1}]" for i, v in enumerate(ordered)}
        variants: dict[str, str] = {}
        for value, token in self.table.items():
            for form in (value, html.escape(value, quote=True), quote(value, safe=""), quote_plus(value, safe="")):
                variants.setdefault(form, token)
        self.variants = variants
        forms = sorted(variants, key=len, reverse=True)
        # One RE2 alternation per chunk of short forms (each chunk's automaton stays small: no DFA fallback);
        # long forms (a rare 300-character value) are searched with str.find, the same whole-word rule.
        short = [f for f in forms if len(f) <= _PATTERN_FORM]
        self.long = [f for f in forms if len(f) > _PATTERN_FORM][:_LONG_FORMS]
        self.patterns: list[linear.Pattern[str]] = []
        chunk: list[str] = []
        size = 0
        for form in short:
            escaped = linear.escape(form)
            if chunk and size + len(escaped) > _CHUNK:
                self.patterns.append(linear.compile("|".join(chunk)))
                chunk, size = [], 0
            chunk.append(escaped)
            size += len(escaped) + 1
        if chunk:
            self.patterns.append(linear.compile("|".join(chunk)))

    def value(self, s: str) -> str:
        """A string that is (or contains, as whole words) sensitive values."""
        exact = self.table.get(s.strip())
        if exact is not None:
            return exact
        for pattern in self.patterns:
            s = pattern.sub(lambda m, s=s: self._word(s, m), s)  # type: ignore[misc]
        for form in self.long:
            if form in s:
                s = self._long_form(s, form)
        if self.level != "none":
            s = _USERINFO.sub(lambda m: m.group(1) + "[redacted]@", s) if "@" in s else s
            s = _EMAIL.sub("[redacted-email]", s) if "@" in s else s
            s = _JSESSIONID.sub(lambda m: m.group(1) + "[redacted]", s) if ";" in s else s
        return s

    def _long_form(self, s: str, form: str) -> str:
        out, pos = [], 0
        while (at := s.find(form, pos)) >= 0:
            end = at + len(form)
            before = s[at - 1] if at > 0 else " "
            after = s[end] if end < len(s) else " "
            out.append(s[pos:at] + (form if _wordy(before) or _wordy(after) else self.variants[form]))
            pos = end
        return "".join(out) + s[pos:]

    def _word(self, s: str, m: linear.Match[str]) -> str:
        before = s[m.start() - 1] if m.start() > 0 else " "
        after = s[m.end()] if m.end() < len(s) else " "
        if _wordy(before) or _wordy(after):
            return m.group(0)  # inside another word: not this value
        return self.variants[m.group(0)]


def _wordy(c: str) -> bool:
    return c.isalnum() or c == "_"


def _worth_masking(v: str) -> bool:
    v = v.strip()
    return len(v) >= 2 and v.lower() not in ("true", "false")


def strip_signature_values(xml: str, masker: _Masker | None = None, level: str = "none") -> str:
    """The XML as it may be stored: every SignatureValue and every ciphertext (an EncryptedAssertion still
    decrypts with the SP's key and carries a signed assertion) removed, so it can never be replayed; with a
    masker, the sensitive values masked in the parsed text, where XML escaping cannot hide them."""
    try:
        root = xmlsafe.parse(xml.encode("utf-8"), Limits(max_xml_bytes=max(len(xml) * 4, 1024)))
    except Exception:  # noqa: BLE001 - unparseable text: keep nothing rather than risk keeping a signature
        return "[XML not stored: it could not be parsed to remove its signature values]"
    for el in root.iter(f"{{{DS}}}SignatureValue"):
        el.text = REMOVED
    for el in root.iter(f"{{{_XENC}}}CipherValue"):
        el.text = CIPHER_REMOVED
    if masker is not None and level != "none":
        _mask_tree(root, masker)
    return etree.tostring(root, encoding="unicode")


def _mask_tree(root: etree._Element, masker: _Masker) -> None:
    for el in root.iter(*_IDENTITY_ELEMENTS, *_SESSION_ELEMENTS):
        token = masker.table.get(text(el) or "")
        if token is not None:  # the whole value, even when a comment splits it into several text nodes
            for child in list(el):
                if isinstance(child, etree._Comment):
                    el.remove(child)
            el.text = token
    for el in root.iter():
        if isinstance(el, etree._Comment | etree._ProcessingInstruction):
            el.text = masker.value(el.text) if el.text else el.text
        elif isinstance(el.tag, str):
            el.text = masker.value(el.text) if el.text else el.text
            for name, value in el.attrib.items():
                el.set(name, masker.value(str(value)))
        if el.tail:
            el.tail = masker.value(el.tail)


def _xml_values(xml: str, level: str) -> list[str]:
    """Every identity value in a message's XML: NameIDs and attribute values anywhere (a second assertion, a
    request's Subject), read with all their text nodes; at "all", session indexes, InResponseTo and addresses."""
    try:
        root = xmlsafe.parse(xml.encode("utf-8"), Limits(max_xml_bytes=max(len(xml) * 4, 1024)))
    except Exception:  # noqa: BLE001 - nothing readable, nothing to collect (the XML is not stored either)
        return []
    found = [text(el) or "" for el in root.iter(*_IDENTITY_ELEMENTS)]
    if level == "all":
        found += [text(el) or "" for el in root.iter(*_SESSION_ELEMENTS)]
        for el in root.iter():
            if isinstance(el.tag, str):
                found += [el.get(a) or "" for a in _SESSION_ATTRIBUTES]
    return found


def _values(doc: dict[str, Any], level: str) -> list[str]:
    """The sensitive strings of a report."""
    found: list[str] = []
    for m in doc.get("messages", []):
        for part in (m.get("trusted"), m.get("unverified")):
            if not part:
                continue
            found.append(part.get("name_id") or "")
            for a in part.get("attributes", []):
                found.extend(a.get("values", []))
            if level == "all":
                found += [part.get("session_index") or "", part.get("in_response_to") or ""]
                found += [sc.get("address") or "" for sc in part.get("subject_confirmations", [])]
        found += _xml_values(m.get("xml") or "", level)
        decrypted = (m.get("extra") or {}).get("decrypted_xml")
        if decrypted:
            found += _xml_values(str(decrypted), level)
    # A sign-in log names people, their addresses, devices and whereabouts: identity values like the NameID.
    signins = doc.get("signins") or {}
    for e in signins.get("events", []):
        found.extend(str(e.get(k) or "") for k in _SIGNIN_IDENTITY)
    for g in signins.get("groups", []):
        found.append(str(g.get("user") or ""))
    if signins.get("only") and "@" in str(signins.get("only")):
        found.append(str(signins["only"]))
    if level == "all":
        found.append(doc.get("input", {}).get("relay_state") or "")
        for flow in doc.get("flows", []) or []:
            if isinstance(flow, dict):
                found.append(str(flow.get("relay_state") or ""))
    return found


_ALREADY_MASKED = frozenset({"xml", "decrypted_xml"})


def _mask(value: Any, masker: _Masker, key: str | None = None) -> Any:
    if key in _STRUCTURAL or key in _ALREADY_MASKED:
        return value
    if isinstance(value, dict):
        return {k: _mask(v, masker, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, masker, key) for v in value]
    if isinstance(value, str):
        return masker.value(value)
    return value


def _strip_message(m: dict[str, Any], masker: _Masker | None, level: str) -> dict[str, Any]:
    out = dict(m, xml=strip_signature_values(m.get("xml", ""), masker, level))
    extra = dict(out.get("extra") or {})
    if extra.get("decrypted_xml"):  # the decrypted assertion is a signed document of its own
        extra["decrypted_xml"] = strip_signature_values(str(extra["decrypted_xml"]), masker, level)
    out["extra"] = extra
    return out


def redact(doc: dict[str, Any], level: str) -> dict[str, Any]:
    """A copy of the report JSON fit for storage at the given level."""
    if level not in LEVELS:
        raise ValueError(f"redaction level must be one of {', '.join(LEVELS)}")
    out = dict(doc)
    masker = _Masker(_values(doc, level), level) if level != "none" else None
    out["messages"] = [_strip_message(m, masker, level) for m in doc.get("messages", [])]
    if masker is not None:
        out = _mask(out, masker)  # (the XML was masked in its parsed form above; _ALREADY_MASKED skips it)
    out["redaction"] = level
    return out
