"""The only place that parses XML.

The defusedxml rules, applied to lxml: no DTD at all (SAML forbids them), no entity resolution, no network,
no external files, bounded size, depth and width. A DOCTYPE is classified by defusedxml itself before lxml parses
anything (its expat parser stops at the first DTD or entity declaration and names it: an external reference →
`xxe_blocked`, entity definitions → `entity_expansion_blocked`, anything else → `dtd_forbidden`), and the
document is refused. Nothing read from a file or URL can reach the output, because nothing is ever read: expat
does no IO, and lxml never sees a document with a DOCTYPE. Text expat cannot read (malformed, or a DOCTYPE lxml
found later) is classified from its bytes.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, cast
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
from lxml import etree

from . import linear
from .catalog import finding
from .config import Limits
from .model import AnalysisStop

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_EXTERNAL = re.compile(rb"\b(SYSTEM|PUBLIC)\b")
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_SYSTEM_ID = linear.compile(rb"""(?:SYSTEM|PUBLIC)\s+(?:"[^"]*"\s+)?["']([^"']{0,120})""")


def make_parser() -> etree.XMLParser:
    """A fresh hardened parser (lxml parsers must not be shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,  # comments matter: comment injection must be seen
        remove_pis=False,
        strip_cdata=False,
        # collect_ids stays on: libxml2 then refuses a duplicate or malformed xml:id as SP parsers built on it do
    )


def _xxe(ref: str) -> AnalysisStop:
    return AnalysisStop(
        finding(
            "xxe_blocked",
            "The XML declares a DOCTYPE with an external reference (XXE): refused, nothing was loaded",
            expected="no DOCTYPE (SAML messages must not contain one)",
            actual=f"DOCTYPE referencing {ref[:120]!r}",
        )
    )


def _entities(name: str | None) -> AnalysisStop:
    return AnalysisStop(
        finding(
            "entity_expansion_blocked",
            "The XML defines entities in a DOCTYPE (entity expansion, e.g. billion laughs): refused",
            expected="no DOCTYPE (SAML messages must not contain one)",
            actual=f"DOCTYPE with <!ENTITY {name or '…'} …> definitions",
        )
    )


def _dtd_forbidden() -> AnalysisStop:
    return AnalysisStop(
        finding(
            "dtd_forbidden",
            "The XML carries a DOCTYPE, which SAML forbids: refused",
            expected="no DOCTYPE",
            actual="<!DOCTYPE …>",
        )
    )


def classify_doctype(xml: bytes) -> AnalysisStop | None:
    """defusedxml's verdict on a document's DTD, or None when expat cannot read the text (the caller then
    classifies from the bytes). Two passes of defusedxml's expat parser, each stopping at the first declaration:
    the DOCTYPE itself (an external DTD subset names its system or public id), then the first entity."""
    try:
        defusedxml.ElementTree.fromstring(xml, forbid_dtd=True)
        return None  # no DOCTYPE at all
    except defusedxml.DTDForbidden as e:
        if e.sysid or e.pubid:
            return _xxe(str(e.sysid or e.pubid))
    except (ParseError, ValueError, defusedxml.DefusedXmlException):
        return None
    try:
        defusedxml.ElementTree.fromstring(xml, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden as e:
        if e.sysid or e.pubid:
            return _xxe(str(e.sysid or e.pubid))
        return _entities(str(e.name))
    except defusedxml.ExternalReferenceForbidden as e:
        return _xxe(str(e.sysid or e.pubid or "an external identifier"))
    except (ParseError, ValueError, defusedxml.DefusedXmlException):
        return None
    return _dtd_forbidden()


def _refuse_doctype(text: bytes) -> AnalysisStop:
    doctype = text[: 64 * 1024]
    external = _EXTERNAL.search(doctype)
    has_entity = _ENTITY.search(doctype) is not None
    if external:
        m = _SYSTEM_ID.search(doctype)
        ref = m.group(1).decode("utf-8", "replace") if m else "an external identifier"
        return AnalysisStop(
            finding(
                "xxe_blocked",
                "The XML declares a DOCTYPE with an external reference (XXE): refused, nothing was loaded",
                expected="no DOCTYPE (SAML messages must not contain one)",
                actual=f"DOCTYPE referencing {ref!r}",
            )
        )
    if has_entity:
        return AnalysisStop(
            finding(
                "entity_expansion_blocked",
                "The XML defines entities in a DOCTYPE (entity expansion, e.g. billion laughs): refused",
                expected="no DOCTYPE (SAML messages must not contain one)",
                actual="DOCTYPE with <!ENTITY …> definitions",
            )
        )
    return _dtd_forbidden()


def parse(xml: bytes, limits: Limits) -> etree._Element:
    """Parse one message. Raises AnalysisStop with the finding that explains a refusal."""
    if len(xml) > limits.max_xml_bytes:  # decode checks this too; keep the parser safe on its own
        raise AnalysisStop(finding("oversized_input", "The XML is larger than the limit"))
    if xml.find(b"<!DOCTYPE", 0, 64 * 1024) >= 0 or _DOCTYPE.search(xml[:1024]):
        raise classify_doctype(xml) or _refuse_doctype(xml)
    try:
        root = etree.fromstring(xml, parser=make_parser())
    except etree.XMLSyntaxError as e:
        raise AnalysisStop(
            finding(
                "malformed_xml",
                "The XML is not well-formed",
                actual=f"{e.msg} (line {e.lineno}, column {e.offset})" if e.lineno else str(e.msg),
            )
        ) from None
    if root is None:
        raise AnalysisStop(finding("malformed_xml", "The XML has no root element"))
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
        # A DOCTYPE the byte scan could not see (e.g. UTF-16 text).
        dtd = (docinfo.doctype or "").encode()
        if docinfo.system_url or docinfo.public_id:
            dtd += b" SYSTEM '" + (docinfo.system_url or docinfo.public_id or "").encode() + b"'"
        if docinfo.internalDTD is not None and list(docinfo.internalDTD.iterentities()):
            dtd += b" <!ENTITY"
        raise _refuse_doctype(dtd)
    check_shape(root, limits)
    return root


@cache
def _shape_xpaths(limits: Limits) -> tuple[etree.XPath, etree.XPath, etree.XPath]:
    return (
        etree.XPath("count(//*)"),
        etree.XPath("boolean(/" + "*/" * limits.max_depth + "*)"),
        etree.XPath(f"boolean(//*[count(@*) > {limits.max_attributes_per_element}])"),
    )


def check_shape(root: etree._Element, limits: Limits) -> None:
    """Width, depth and attribute bounds, checked by compiled XPath (C speed, no Python loop)."""
    count, too_deep, too_wide = _shape_xpaths(limits)
    if too_wide(root):
        raise AnalysisStop(
            finding(
                "oversized_input",
                "An element carries more attributes than the limit",
                expected=f"at most {limits.max_attributes_per_element}",
                actual=f"more than {limits.max_attributes_per_element}",
            )
        )
    if too_deep(root):
        raise AnalysisStop(
            finding(
                "oversized_input",
                "The XML nests deeper than the limit",
                expected=f"at most {limits.max_depth} levels",
                actual=f"more than {limits.max_depth}",
            )
        )
    n = int(cast(float, count(root)))
    if n > limits.max_elements:
        raise AnalysisStop(
            finding(
                "oversized_input",
                "The XML has more elements than the limit",
                expected=f"at most {limits.max_elements}",
                actual=str(n),
            )
        )
