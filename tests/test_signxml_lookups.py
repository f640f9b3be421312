"""The verifier's two faster lookups (signature._Verifier: a child by name, and a Reference URI → element) give
exactly what signxml's own give, on every XML sample of the corpus and the fixtures, and on crafted documents
where the rule matters (ambiguous IDs, namespaced ID attributes, xml:id, an element holding the ID twice)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from factory import signed_response, xsw
from helpers import corpus_files
from lxml import etree
from signxml import XMLVerifier  # type: ignore[attr-defined]
from signxml.exceptions import InvalidInput

from samldebug.signature import _Verifier

DS = "http://www.w3.org/2000/09/xmldsig#"
FIXTURES = Path(__file__).parent / "data"
QUERIES = [
    "Signature",
    "SignedInfo",
    "SignatureValue",
    "CanonicalizationMethod",
    "SignatureMethod",
    "Reference",
    "Transforms",
    "Transform",
    "DigestMethod",
    "DigestValue",
    "KeyInfo",
    "KeyValue",
    "RSAKeyValue",
    "DSAKeyValue",
    "X509Certificate",
    "dsig11:ECKeyValue",
    "dsig11:NamedCurve",
    "dsig11:PublicKey",
]


def _documents() -> list[tuple[str, etree._Element]]:
    docs = []
    made = [signed_response(what) for what in ("assertion", "response", "both")] + [xsw(n) for n in range(1, 9)]
    for i, raw in enumerate(made):
        docs.append((f"factory-{i}", etree.fromstring(raw)))
    for path in corpus_files(".xml", ".base64", ".b64", ".txt") + sorted(FIXTURES.rglob("*.xml")):
        raw = path.read_bytes()
        if b"<" not in raw[:200]:
            try:
                raw = base64.b64decode(b"".join(raw.split()), validate=True)
            except (binascii.Error, ValueError):
                continue
        try:
            root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            continue
        if root is not None and any(True for _ in root.iter(f"{{{DS}}}Signature")):
            docs.append((path.name, root))
    return docs


DOCS = _documents()


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
    except InvalidInput as e:
        return ("raises", str(e))
    if isinstance(result, list):
        return [r.getroottree().getpath(r) for r in result]
    return result.getroottree().getpath(result) if result is not None else None


def test_the_samples_exercise_the_lookups() -> None:
    assert len(DOCS) >= 20, [name for name, _ in DOCS]


@pytest.mark.parametrize(("name", "root"), DOCS, ids=[name for name, _ in DOCS])
def test_child_lookups_match_signxml(name: str, root: etree._Element) -> None:
    ours, theirs = _Verifier(), XMLVerifier()
    for el in root.iter(etree.Element):
        for query in QUERIES:
            for require in (False, True):
                assert _outcome(lambda: ours._find(el, query, require=require)) == _outcome(
                    lambda: theirs._find(el, query, require=require)
                ), (name, el.tag, query)
            assert _outcome(lambda: ours._findall(el, query)) == _outcome(lambda: theirs._findall(el, query))


@pytest.mark.parametrize(("name", "root"), DOCS, ids=[name for name, _ in DOCS])
def test_reference_lookups_match_signxml(name: str, root: etree._Element) -> None:
    ours, theirs = _Verifier(), XMLVerifier()
    for ref in root.iter(f"{{{DS}}}Reference"):
        assert _outcome(lambda: ours._resolve_reference(root, ref)) == _outcome(
            lambda: theirs._resolve_reference(root, ref)
        ), name


CRAFTED = [
    '<r><a ID="x"/><b ID="x"/></r>',  # ambiguous
    '<r><a ID="x"/><b Id="x"/></r>',  # Id wins over ID
    '<r><a id="x"/><b ID="y"/></r>',
    '<r xmlns:w="urn:w"><a w:Id="x"/></r>',  # a namespaced Id counts (local name)
    '<r xmlns:w="urn:w"><a w:ID="x" ID="x"/></r>',  # one element holding it twice: not ambiguous
    '<r xmlns:w="urn:w"><a w:ID="x" ID="x"/><b ID="x"/></r>',
    '<r><a xml:id="x"/></r>',  # signxml's "xml:id" never matches by local name; "id" does
    '<r><a Name="x"/></r>',  # the value under another attribute: unresolved
    '<r><a ID="x "/></r>',
    '<r><a ID="#x"/></r>',
    "<r><a ID=''/></r>",
]


@pytest.mark.parametrize("doc", CRAFTED)
@pytest.mark.parametrize("uri", ["#x", "##x", "#", "#xpointer(/)", "", "http://example.org/x"])
def test_reference_rule_on_crafted_documents(doc: str, uri: str) -> None:
    root = etree.fromstring(doc)
    ref = etree.Element(f"{{{DS}}}Reference", URI=uri)
    expected = _outcome(lambda: XMLVerifier()._resolve_reference(root, ref))
    assert _outcome(lambda: _Verifier()._resolve_reference(root, ref)) == expected
