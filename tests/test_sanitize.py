"""sanitize: no cookie, token or password survives anywhere; every copy of every SAML message still decodes to
the same values and digests but carries no SignatureValue; the Redirect binding loses its Signature parameter."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from functools import cache
from typing import Any
from urllib.parse import quote

import harfactory as hf
import pytest
from factory import ACS_URL, DS, NS, T0
from helpers import NOW, entra_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from samldebug import catalog
from samldebug.config import Limits
from samldebug.decode import decode
from samldebug.har import MALFORMED_CAPTURE, REDACTED, Capture, read_capture
from samldebug.model import AnalysisStop
from samldebug.pipeline import analyze
from samldebug.sanitize import sanitize_capture, sanitize_har

LIMITS = Limits()
MALFORMED = MALFORMED_CAPTURE if MALFORMED_CAPTURE in catalog.findings() else "not_saml"
# What a blanked SignatureValue may change in a report: the signature value check, nothing else.
SIGNATURE_VALUE_CODES = {"malformed_signature", "signed_by_unknown_key", "signature_value_removed"}

CASES: list[tuple[str, dict[str, bool]]] = [
    ("chrome", {}),
    ("chrome", {"html_base64": True}),
    ("chrome", {"params_only": True}),
    ("firefox", {}),
    ("firefox", {"upload_headers": True}),
    ("safari", {}),
    ("saml-tracer", {}),
    ("saml-tracer", {"legacy": True}),
]
IDS = [f"{shape}-{'-'.join(knobs) or 'plain'}" for shape, knobs in CASES]


@pytest.fixture(scope="module")
def flow() -> hf.Flow:
    return hf.concat(
        hf.sp_initiated(T0),
        hf.idp_initiated(T0 + timedelta(minutes=5)),
        hf.error_flow(T0 + timedelta(minutes=10)),
    )


def render(flow: hf.Flow, shape: str, knobs: dict[str, bool]) -> bytes:
    if shape == "saml-tracer":
        return hf.dumps(hf.saml_tracer(flow, legacy=knobs.get("legacy", False)))
    doc = hf.har(flow, shape, **knobs)
    return hf.dumps(doc)


@pytest.fixture(scope="module")
def sanitized(flow: hf.Flow) -> dict[str, tuple[bytes, bytes]]:
    out = {}
    for case_id, (shape, knobs) in zip(IDS, CASES, strict=True):
        raw = render(flow, shape, knobs)
        out[case_id] = (raw, sanitize_har(raw))
    return out


def facts(xml: bytes) -> dict[str, Any]:
    root = etree.fromstring(xml)
    return {
        "issuer": root.findtext("saml:Issuer", namespaces=NS),
        "name_id": root.findtext(".//saml:NameID", namespaces=NS),
        "audience": root.findtext(".//saml:Audience", namespaces=NS),
        "digests": [d.text for d in root.iter(f"{{{DS}}}DigestValue")],
        "certs": [c.text for c in root.iter(f"{{{DS}}}X509Certificate")],
        "signature_values": [s.text or "" for s in root.iter(f"{{{DS}}}SignatureValue")],
    }


def saml_entries(capture: Capture) -> list[Any]:
    return [e for e in capture.entries if e.kind == "saml"]


# --- nothing private survives ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", IDS)
def test_no_cookie_token_or_password_survives(
    flow: hf.Flow, sanitized: dict[str, tuple[bytes, bytes]], case_id: str
) -> None:
    raw, clean = sanitized[case_id]
    text = clean.decode("utf-8")
    json.loads(text)  # still JSON
    planted = [s for s in flow.secrets if s.encode() in raw or quote(s, safe="").encode() in raw]
    assert planted, "the capture holds the planted secrets"
    for secret in flow.secrets:
        for form in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}:
            assert form not in text, (case_id, secret)
        for part in secret.split("."):  # each part of a JWT, too
            assert len(part) < 12 or part not in text, (case_id, secret)


def test_what_stays_readable(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    text = sanitized["chrome-plain"][1].decode()
    assert f"Bearer {REDACTED}" in text  # the scheme stays
    assert f"sp_session={REDACTED}; Path=/; Secure; HttpOnly; SameSite=None" in text  # cookie name and attributes
    assert "loginfmt=alice%40contoso.example" in text  # the user name is not a credential
    assert "AADSTS50011" in text and "AADSTS900144" in text  # errors and their IDs stay
    assert "7a0b6c1d-2e3f-4a5b-8c9d-0e1f2a3b4c5d" in text  # the correlation ID Microsoft support asks for


def test_structure_is_kept(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    for case_id, (raw, clean) in sanitized.items():
        before, after = json.loads(raw), json.loads(clean)
        assert before.keys() == after.keys()
        if "log" in before:
            b_entries, a_entries = before["log"]["entries"], after["log"]["entries"]
            assert len(a_entries) == len(b_entries), case_id
            for b, a in zip(b_entries, a_entries, strict=True):
                assert a.keys() == b.keys() and a["request"].keys() == b["request"].keys()
                assert a["response"].keys() == b["response"].keys()
                assert len(a["request"]["headers"]) == len(b["request"]["headers"])
        else:
            assert len(after["requests"]) == len(before["requests"]), case_id


# --- SAML messages: diagnosable, unreplayable ------------------------------------------------------------------


@pytest.mark.parametrize("case_id", IDS)
def test_every_saml_copy_keeps_its_values_but_loses_its_signature_value(
    flow: hf.Flow, sanitized: dict[str, tuple[bytes, bytes]], case_id: str
) -> None:
    raw, clean = sanitized[case_id]
    before, after = read_capture(raw, LIMITS), read_capture(clean, LIMITS)
    b, a = saml_entries(before), saml_entries(after)
    assert [(e.index, e.parameter, e.binding, e.relay_state, e.sig_alg) for e in a] == [
        (e.index, e.parameter, e.binding, e.relay_state, e.sig_alg) for e in b
    ]
    if not case_id.startswith("saml-tracer"):
        assert {e.binding for e in a} == {"redirect", "location", "post", "form-in-response"}
    for old, new in zip(b, a, strict=True):
        assert new.signature is None  # the Redirect binding's detached signature is dropped
        old_xml = decode((old.value or "").encode(), LIMITS).xml
        new_decoded = decode((new.value or "").encode(), LIMITS)
        assert ("inflated" in new_decoded.steps) == (new.binding in ("redirect", "location"))  # same encoding
        f_old, f_new = facts(old_xml), facts(new_decoded.xml)
        assert all(not v.strip() for v in f_new.pop("signature_values")), new.where
        f_old.pop("signature_values")
        assert f_new == f_old, new.where
    # No copy of any original message survives, plain or URL-encoded (the auto-submit copy included).
    text = clean.decode()
    for m in flow.messages:
        if m.parameter == "SAMLResponse":
            b64 = base64.b64encode(m.xml).decode()
            assert b64 not in text and quote(b64, safe="") not in text


def test_the_auto_submit_copy_is_sanitized_even_when_stored_base64(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    _, clean = sanitized["chrome-html_base64"]
    doc = json.loads(clean)
    pages = [
        base64.b64decode(e["response"]["content"]["text"]).decode()
        for e in doc["log"]["entries"]
        if e["response"]["content"].get("encoding") == "base64" and "html" in e["response"]["content"]["mimeType"]
    ]
    forms = [p for p in pages if "SAMLResponse" in p]
    assert len(forms) == 2
    for page in forms:
        value = page.split('name="SAMLResponse" value="', 1)[1].split('"', 1)[0]
        assert not any(v.strip() for v in facts(base64.b64decode(value))["signature_values"])


def test_analyze_reports_the_same_findings_except_the_signature_value(
    sanitized: dict[str, tuple[bytes, bytes]],
) -> None:
    raw, clean = sanitized["firefox-plain"]
    for old, new in zip(
        saml_entries(read_capture(raw, LIMITS)), saml_entries(read_capture(clean, LIMITS)), strict=True
    ):
        r_old = analyze(old.value or "", entra_settings(), now=NOW)
        r_new = analyze(new.value or "", entra_settings(), now=NOW)
        old_codes, new_codes = {f.code for f in r_old.findings}, {f.code for f in r_new.findings}
        assert old_codes ^ new_codes <= SIGNATURE_VALUE_CODES, new.where
        assert "digest_mismatch" not in new_codes  # the digests still hold: nothing they cover changed
        assert [m.unverified for m in r_new.messages] == [m.unverified for m in r_old.messages]


def test_saml_tracer_decoded_copy_is_sanitized(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    doc = json.loads(sanitized["saml-tracer-plain"][1])
    copies = [r["saml"] for r in doc["requests"] if "saml" in r]
    assert copies
    for xml in copies:
        assert not any(v.strip() for v in facts(xml.encode())["signature_values"])
    assert not [p for r in doc["requests"] for p in r.get("get", []) if p[0] == "Signature"]


def test_redirect_signature_parameter_is_dropped_and_sigalg_kept(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    raw, clean = sanitized["chrome-plain"]
    assert b"&Signature=" in raw
    assert b"&Signature=" not in clean and b'"name": "Signature"' not in clean
    assert b"SigAlg=http%3A%2F%2Fwww.w3.org" in clean


def test_sanitize_is_idempotent(sanitized: dict[str, tuple[bytes, bytes]]) -> None:
    for case_id, (_, clean) in sanitized.items():
        again = sanitize_capture(clean)
        assert again.data == clean, case_id


def test_counts(flow: hf.Flow) -> None:
    result = sanitize_capture(render(flow, "chrome", {}))
    r = result.redacted
    assert r["authorization_headers"] == 2
    assert r["password_fields"] >= 1
    assert r["signature_values"] == 2  # two signed responses (each copy handled once)
    assert r["redirect_signatures"] >= 2
    assert r["cookies"] >= sum(len(x.request_cookies) for x in flow.exchanges)


# --- odd input --------------------------------------------------------------------------------------------------


def test_undecodable_saml_is_replaced_whole() -> None:
    x = hf.Exchange("POST", ACS_URL, form=[("SAMLResponse", "not base64 at all!"), ("RelayState", "r")])
    result = sanitize_capture(hf.dumps(hf.har([x], "chrome")))
    doc = json.loads(result.data)
    assert doc["log"]["entries"][0]["request"]["postData"]["text"] == "SAMLResponse=%5Bredacted%5D&RelayState=r"
    assert result.redacted["saml_replaced"] >= 1


def test_echoed_secrets_are_caught_by_the_safety_net() -> None:
    secret = "Zx9" + "q" * 30
    x = hf.Exchange(
        "GET",
        "https://sp.example.com/app.js",
        request_cookies=[("session", secret)],
        mime="application/javascript",
        body=f'var s = "{secret}"; fetch("/x?sid={secret}");',
    )
    result = sanitize_capture(hf.dumps(hf.har([x], "firefox")))
    assert secret not in result.data.decode() and result.redacted["echoed_secrets"] >= 1


def test_a_lone_surrogate_does_not_sink_the_capture() -> None:
    doc = hf.har(hf.idp_initiated(), "chrome")
    doc["log"]["entries"][0]["response"]["content"]["text"] = "var s = '\ud83d';"
    out = json.loads(sanitize_har(json.dumps(doc).encode()))
    assert out["log"]["entries"][0]["response"]["content"]["text"] == "var s = '\ufffd';"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_saml"),
        (b"<xml/>", "not_saml"),
        (b'{"foo": 1}', "not_saml"),
        (b'{"log": {"entries": [', MALFORMED),
        (b'{"log": {"entries": [}', MALFORMED),
    ],
)
def test_non_captures_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(AnalysisStop) as info:
        sanitize_har(data)
    assert info.value.finding.code == code


@cache
def small_har() -> bytes:
    return hf.dumps(hf.har(hf.idp_initiated(), "chrome"), indent=None)


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.binary(max_size=6)), max_size=4))
def test_mutated_input_only_ever_raises_analysis_stop(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(small_har())
    for pos, chunk in edits:
        at = pos % (len(data) + 1)
        data[at : at + len(chunk)] = chunk
    try:
        out = sanitize_har(bytes(data))
    except AnalysisStop:
        return
    json.loads(out)
