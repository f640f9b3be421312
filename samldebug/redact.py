"""What a stored report may keep. Pure functions over the report JSON (schema samldebug.report/1).

Always: every ds:SignatureValue is removed from the stored XML, so a permalink can never be replayed as a
sign-in; digests, references and the key identity stay, and the verification result is kept in the report.
Levels: "none" keeps values; "identity" masks NameID and attribute values; "all" also masks session index,
addresses, RelayState, InResponseTo and anything that looks like an e-mail address or a person's name.
Masked values become stable tokens ([redacted-1], …) so equal values still look equal.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from . import xmlsafe
from .config import Limits
from .saml import DS

LEVELS = ("none", "identity", "all")
_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REMOVED = "[removed: signature value not stored]"


CIPHER_REMOVED = "[removed: ciphertext not stored]"
_XENC = "http://www.w3.org/2001/04/xmlenc#"


def strip_signature_values(xml: str, table: dict[str, str] | None = None, level: str = "none") -> str:
    """The XML as it may be stored: every SignatureValue and every ciphertext (an EncryptedAssertion still
    decrypts with the SP's key and carries a signed assertion) removed, so it can never be replayed; with a
    redaction table, the sensitive values masked in the parsed text, where XML escaping cannot hide them."""
    try:
        root = xmlsafe.parse(xml.encode("utf-8"), Limits(max_xml_bytes=max(len(xml) * 4, 1024)))
    except Exception:  # noqa: BLE001 - unparseable text: keep nothing rather than risk keeping a signature
        return "[XML not stored: it could not be parsed to remove its signature values]"
    for el in root.iter(f"{{{DS}}}SignatureValue"):
        el.text = REMOVED
    for el in root.iter(f"{{{_XENC}}}CipherValue"):
        el.text = CIPHER_REMOVED
    if table:
        for el in root.iter():
            if isinstance(el.tag, str):
                el.text = _mask(el.text, table, level) if el.text else el.text
                for name, value in el.attrib.items():
                    el.set(name, _mask(value, table, level))
            if el.tail:
                el.tail = _mask(el.tail, table, level)
            if isinstance(el, etree._Comment) and el.text:
                el.text = _mask(el.text, table, level)
    return etree.tostring(root, encoding="unicode")


def _values(doc: dict[str, Any], level: str) -> list[str]:
    """The sensitive strings of a report, longest first (so a value containing another is masked whole)."""
    found: set[str] = set()
    for m in doc.get("messages", []):
        for part in (m.get("trusted"), m.get("unverified")):
            if not part:
                continue
            found.add(part.get("name_id") or "")
            for a in part.get("attributes", []):
                found.update(a.get("values", []))
            if level == "all":
                found.add(part.get("session_index") or "")
                found.add(part.get("in_response_to") or "")
                for sc in part.get("subject_confirmations", []):
                    found.add(sc.get("address") or "")
    if level == "all":
        relay = doc.get("input", {}).get("relay_state")
        found.add(relay or "")
    found = {v for v in found if v and len(v.strip()) >= 2 and v.strip().lower() not in ("true", "false")}
    return sorted(found, key=len, reverse=True)


def _mask(value: Any, table: dict[str, str], level: str) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, table, level) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v, table, level) for v in value]
    if isinstance(value, str):
        for secret, token in table.items():
            if secret in value:
                value = value.replace(secret, token)
        if level == "all":
            value = _EMAIL.sub("[redacted-email]", value)
        return value
    return value


def _strip_message(m: dict[str, Any], table: dict[str, str], level: str) -> dict[str, Any]:
    out = dict(m, xml=strip_signature_values(m.get("xml", ""), table, level))
    extra = dict(out.get("extra") or {})
    if extra.get("decrypted_xml"):  # the decrypted assertion is a signed document of its own
        extra["decrypted_xml"] = strip_signature_values(str(extra["decrypted_xml"]), table, level)
    out["extra"] = extra
    return out


def redact(doc: dict[str, Any], level: str) -> dict[str, Any]:
    """A copy of the report JSON fit for storage at the given level."""
    if level not in LEVELS:
        raise ValueError(f"redaction level must be one of {', '.join(LEVELS)}")
    out = dict(doc)
    table = {v: f"[redacted-{i + 1}]" for i, v in enumerate(_values(doc, level))} if level != "none" else {}
    out["messages"] = [_strip_message(m, table, level) for m in doc.get("messages", [])]
    if level != "none":
        out = _mask(out, table, level)
    out["redaction"] = level
    return out
