"""The capture reader: every SAML message and Entra error in HARs of each producer and in SAML-tracer exports, the
same whatever the producer; only AnalysisStop for anything else; nothing private kept."""

from __future__ import annotations

import base64
import json
import mmap
import random
from dataclasses import astuple, fields, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import harfactory as hf
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from factory import ACS_URL, T0
from hypothesis import given, settings
from hypothesis import strategies as st

from samldebug import catalog, explain
from samldebug.config import Limits
from samldebug.decode import decode
from samldebug.har import MALFORMED_CAPTURE, Capture, CaptureEntry, looks_like_capture, read_capture
from samldebug.model import AnalysisStop

LIMITS = Limits()
MALFORMED = MALFORMED_CAPTURE if MALFORMED_CAPTURE in catalog.findings() else "not_saml"


@pytest.fixture(scope="module")
def flow() -> hf.Flow:
    return hf.concat(
        hf.sp_initiated(T0),
        hf.idp_initiated(T0 + timedelta(minutes=5)),
        hf.error_flow(T0 + timedelta(minutes=10)),
    )


def read(doc: dict[str, Any], **kw: Any) -> Capture:
    return read_capture(hf.dumps(doc), LIMITS, **kw)


def keys(capture: Capture) -> list[tuple[object, ...]]:
    return [astuple(e) for e in capture.entries]


def keys_but_where(capture: Capture) -> list[tuple[object, ...]]:
    return [tuple(v for f, v in zip(fields(e), astuple(e), strict=True) if f.name != "where") for e in capture.entries]


def stop_code(data: bytes, **kw: Any) -> AnalysisStop:
    with pytest.raises(AnalysisStop) as info:
        read_capture(data, LIMITS, **kw)
    return info.value


# --- what is found -------------------------------------------------------------------------------------------


def test_the_sp_idp_and_error_flows_are_found_where_they_travel(flow: hf.Flow) -> None:
    cap = read(hf.har(flow, "chrome"))
    sp, idp, err = 0, 10, 13  # first exchange of each flow
    assert [(e.index, e.kind, e.parameter, e.binding) for e in cap.entries] == [
        (sp + 0, "saml", "SAMLRequest", "location"),  # 302 from the SP to Entra
        (sp + 1, "saml", "SAMLRequest", "redirect"),  # the GET to Entra
        (sp + 3, "saml", "SAMLResponse", "form-in-response"),  # Entra's auto-submit page
        (sp + 4, "saml", "SAMLResponse", "post"),  # the POST to the ACS
        (idp + 1, "saml", "SAMLResponse", "form-in-response"),
        (idp + 2, "saml", "SAMLResponse", "post"),
        (err + 0, "saml", "SAMLRequest", "location"),
        (err + 1, "saml", "SAMLRequest", "redirect"),
        (err + 1, "error", None, None),  # the AADSTS50011 page
        (err + 2, "error", None, "location"),  # error_description in a Location header
        (err + 3, "error", None, "redirect"),  # … and in the next request's URL
    ]
    assert cap.format == "har" and cap.producer == "WebInspector 537.36"
    assert cap.total_entries == len(flow.exchanges)
    assert cap.entries[3].where == "HAR entry 4: POST https://sp.example.com/saml/acs (form field SAMLResponse)"
    assert "auto-submit form → https://sp.example.com/saml/acs" in cap.entries[2].where


@pytest.mark.parametrize("shape", hf.SHAPES)
def test_every_har_shape_yields_the_same_entries(flow: hf.Flow, shape: str) -> None:
    cap = read(hf.har(flow, shape))
    assert keys(cap) == keys(read(hf.har(flow, "chrome")))
    assert cap.producer == " ".join(hf.CREATORS[shape].values())


@pytest.mark.parametrize(
    ("shape", "knobs"),
    [
        ("chrome", {"params_only": True}),  # params only, URL-encoded (Chrome style)
        ("firefox", {"params_only": True}),  # params only, decoded (Firefox style)
        ("firefox", {"upload_headers": True}),  # upload stream headers ahead of the form body
        ("chrome", {"html_base64": True}),  # the auto-submit page stored base64
        ("chrome", {"location_header": False}),  # redirectURL only
        ("safari", {"redirect_url": False}),  # Location header only
    ],
)
def test_producer_variants_yield_the_same_entries(flow: hf.Flow, shape: str, knobs: dict[str, bool]) -> None:
    expected = keys_but_where(read(hf.har(flow, "chrome")))
    assert keys_but_where(read(hf.har(flow, shape, **knobs))) == expected


def test_values_are_the_messages_as_carried(flow: hf.Flow) -> None:
    cap = read(hf.har(flow, "firefox"))
    messages = {m.xml for m in flow.messages}
    for e in cap.entries:
        if e.kind != "saml":
            continue
        assert e.value is not None
        decoded = decode(e.value.encode(), LIMITS)
        assert decoded.xml in messages, e.where
        assert ("inflated" in decoded.steps) == (e.binding in ("redirect", "location"))
    sp_entries = [e for e in cap.entries if e.index < 10]
    # The same RelayState from the query, the form body and the auto-submit page (where it is written "&amp;").
    assert {e.relay_state for e in sp_entries} == {"https://sp.example.com/app?tab=1&x=2"}


def test_redirect_query_is_kept_raw_so_its_signature_verifies(flow: hf.Flow) -> None:
    cap = read(hf.har(flow, "chrome"))
    signed = [e for e in cap.entries if e.binding in ("redirect", "location") and e.signature]
    assert len(signed) == 2
    for e in signed:
        assert e.sig_alg == hf.RSA_SHA256 and e.query is not None
        covered = "&".join(p for p in e.query.split("&") if not p.startswith("Signature="))
        hf.sp_key().key.public_key().verify(
            base64.b64decode(e.signature or ""), covered.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        assert e.query in e.url or "Location header" in e.where
    assert all(e.query is None for e in cap.entries if e.binding == "post")


def test_times_are_utc_whatever_the_producer(flow: hf.Flow) -> None:
    # Firefox writes local time with an offset; Chrome and Safari write UTC.
    for shape in hf.SHAPES:
        for e in read(hf.har(flow, shape)).entries:
            assert e.started == flow.exchanges[e.index].started
            assert e.started is not None and e.started.tzinfo == UTC


def test_saml_tracer_export_yields_the_same_messages(flow: hf.Flow) -> None:
    har = read(hf.har(flow, "chrome"))
    tracer = read(hf.saml_tracer(flow))
    assert tracer.format == "saml-tracer" and tracer.producer == "SAML-tracer"
    assert tracer.total_entries == har.total_entries

    def comparable(e: CaptureEntry) -> tuple[object, ...]:
        return (e.index, e.method, e.url, e.host, e.status, e.kind, e.parameter, e.value, e.binding, e.relay_state)

    # SAML-tracer sees no bodies: no auto-submit copies, no error pages; and no per-request time.
    expected = [comparable(e) for e in har.entries if e.binding in ("post", "redirect", "location")]
    assert [comparable(e) for e in tracer.entries] == expected
    assert all(e.started is None for e in tracer.entries)
    har_redirects = [(e.query, e.sig_alg, e.signature) for e in har.entries if e.binding in ("redirect", "location")]
    assert [(e.query, e.sig_alg, e.signature) for e in tracer.entries if e.binding in ("redirect", "location")] == (
        har_redirects
    )


def test_saml_tracer_legacy_layout_and_hash_filter(flow: hf.Flow) -> None:
    modern = read(hf.saml_tracer(flow))
    assert keys(read(hf.saml_tracer(flow, legacy=True))) == keys(modern)
    hashed = read(hf.saml_tracer(flow, export_filter="hash"))
    posts = [e for e in hashed.entries if e.binding == "post"]
    assert [e.value for e in posts] == [e.value for e in modern.entries if e.binding == "post"]
    # A RelayState masked by the export filter stays as its {hash:…} token: hidden at export, not lost.
    assert all("decoded copy" in e.where for e in posts)
    assert [e.relay_state[:6] for e in posts if e.relay_state] == ["{hash:"]


def test_entra_error_page_and_error_redirects_carry_their_codes(flow: hf.Flow) -> None:
    cap = read(hf.har(flow, "safari"))
    errors = [e for e in cap.entries if e.kind == "error"]
    assert len(errors) == 3
    page, location, url = errors
    assert page.text is not None and len(page.text) <= 64 * 1024
    assert [x.code for x in explain.find_aadsts(page.text)] == ["50011"]
    for e in (location, url):
        assert e.text is not None
        assert [x.code for x in explain.errors_in_input(e.text)] == ["900144"]
    # The sp flow's Entra login page ($Config with an empty sErrorCode) is no error.
    assert not [e for e in cap.entries if e.kind == "error" and e.index < 10]


def _exchange_doc(*exchanges: hf.Exchange, shape: str = "chrome") -> dict[str, Any]:
    return hf.har(list(exchanges), shape)


def test_error_detection_is_specific() -> None:
    aadsts_elsewhere = hf.Exchange("GET", "https://sp.example.com/help", body=f"<p>{hf.AADSTS50011}</p>")
    error_404 = hf.Exchange("GET", "https://sp.example.com/page?error=404")
    entra_error_param = hf.Exchange("GET", f"{hf.ENTRA}/oauth2/authorize?error=access_denied&state=1")
    cap = read(_exchange_doc(aadsts_elsewhere, error_404, entra_error_param))
    assert [(e.index, e.kind) for e in cap.entries] == [(2, "error")]


def test_large_pages_are_searched_in_windows() -> None:
    xml = hf.authn_request("id-large")
    form = hf.autopost_page("https://idp.example.com/sso", [("SAMLRequest", base64.b64encode(xml).decode())])
    filler = "<p>" + "x" * (3 * 1024 * 1024) + "</p>"
    error_page = hf.entra_page({"sErrorCode": "50011", "strServiceExceptionMessage": hf.AADSTS50011}, filler)
    cap = read(
        _exchange_doc(
            hf.Exchange("GET", "https://sp.example.com/login", body=f"<html>{filler}{form}{filler}</html>"),
            hf.Exchange("GET", f"{hf.ENTRA}/saml2", body=filler + error_page),
        )
    )
    assert [(e.index, e.kind, e.binding) for e in cap.entries] == [(0, "saml", "form-in-response"), (1, "error", None)]
    assert decode((cap.entries[0].value or "").encode(), LIMITS).xml == xml
    assert cap.entries[1].text is not None and "AADSTS50011" in cap.entries[1].text


def test_a_raw_plus_in_a_redirect_query_stays_a_plus() -> None:
    # Some SPs forget to encode '+' in the base64 of a Redirect URL; base64 has no spaces, so '+' is '+'.
    xml = hf.authn_request("id-plus" + "x" * 40)
    value = hf.deflate_b64(xml)
    cap = read(_exchange_doc(hf.Exchange("GET", f"{hf.SSO_URL}?SAMLRequest={value}&RelayState=a+b")))
    (e,) = cap.entries
    assert e.value == value and e.relay_state == "a b"
    assert decode(e.value.encode(), LIMITS).xml == xml


def test_multipart_and_oversized_values() -> None:
    xml = hf.authn_request("id-multipart")
    b64 = base64.b64encode(xml).decode()
    body = f'--B\r\nContent-Disposition: form-data; name="SAMLResponse"\r\n\r\n{b64}\r\n--B--\r\n'
    doc = _exchange_doc(hf.Exchange("POST", ACS_URL, request_json="x"))
    doc["log"]["entries"][0]["request"]["postData"] = {"mimeType": "multipart/form-data; boundary=B", "text": body}
    (e,) = read(doc).entries
    assert e.value == b64 and e.binding == "post"
    small = Limits(max_input_bytes=100)
    cap = read_capture(hf.dumps(doc), small)
    assert cap.dropped["oversized_values"] == 1 and len(cap.entries[0].value or "") == 101
    with pytest.raises(AnalysisStop) as info:
        decode((cap.entries[0].value or "").encode(), small)
    assert info.value.finding.code == "oversized_input"


# --- privacy ---------------------------------------------------------------------------------------------------


def test_dropped_counts(flow: hf.Flow) -> None:
    cap = read(hf.har(flow, "chrome"))
    cookies = sum(len(x.request_cookies) + len(x.set_cookies) for x in flow.exchanges)
    assert cap.dropped == {
        "cookies": cookies,
        "set_cookie_headers": sum(len(x.set_cookies) for x in flow.exchanges),
        "authorization_headers": 2,
        "password_fields": 1,  # passwd
        # flowToken, canary, code, client_secret (forms), code (callback URL), sFT (in the error page text kept)
        "tokens": 6,
        "non_saml_entries": len(flow.exchanges) - len({e.index for e in cap.entries}),
    }


@pytest.mark.parametrize("shape", [*hf.SHAPES, "saml-tracer"])
def test_no_secret_is_kept(flow: hf.Flow, shape: str) -> None:
    doc = hf.saml_tracer(flow) if shape == "saml-tracer" else hf.har(flow, shape)
    kept = repr(read(doc))
    assert flow.secrets and not [s for s in flow.secrets if s in kept]


# --- input that is not a capture ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"  \n ",
        b"{}",
        b"[]",
        b"[1, 2]",
        b'{"foo": 1}',
        b'"text"',
        b'{"log": "x"}',
        b'{"log": {}}',
        b'{"log": {"entries": 5}}',
        b'{"requests": {"a": 1}}',
        b"<samlp:Response/>",
        b"PHNhbWxwOlJlc3BvbnNlLz4=",
        b"https://sp.example.com/?SAMLResponse=abc",
        bytes(range(256)),
    ],
)
def test_other_input_is_refused_with_not_saml(data: bytes) -> None:
    stop = stop_code(data)
    assert stop.finding.code == "not_saml"
    assert "HAR" in stop.finding.title or "JSON" in stop.finding.title or "empty" in stop.finding.title


def test_json_that_is_not_a_capture_says_so() -> None:
    stop = stop_code(b'{"name": "package.json", "version": "1.0"}')
    assert stop.finding.title == "The file is JSON, but not a HAR or SAML-tracer export"


def test_truncated_and_invalid_json(flow: hf.Flow) -> None:
    data = hf.dumps(hf.har(flow, "chrome"))
    for cut in (10, len(data) // 3, len(data) // 2, len(data) - 2):
        stop = stop_code(data[:cut])
        assert stop.finding.code == MALFORMED and "cut off" in stop.finding.title
    stop = stop_code(b'{"log": {"entries": [}')
    assert stop.finding.code == MALFORMED and stop.finding.title == "The capture file is not valid JSON"


def test_oversized_capture(flow: hf.Flow) -> None:
    stop = stop_code(hf.dumps(hf.har(flow, "chrome")), max_capture_bytes=1000)
    assert stop.finding.code == "oversized_input"


def test_bom_and_utf16(flow: hf.Flow) -> None:
    text = hf.dumps(hf.har(flow, "chrome")).decode()
    expected = keys(read(hf.har(flow, "chrome")))
    assert keys(read_capture(b"\xef\xbb\xbf" + text.encode(), LIMITS)) == expected
    assert keys(read_capture(text.encode("utf-16"), LIMITS)) == expected


def test_a_lone_surrogate_in_a_body_does_not_sink_the_capture(flow: hf.Flow) -> None:
    # JSON.stringify writes a lone UTF-16 surrogate as "\ud83d" alone; msgspec refuses that, the reader repairs it.
    doc = hf.har(flow, "chrome")
    doc["log"]["entries"][9]["response"]["content"]["text"] = "var s = '\ud83d';"
    doc["log"]["entries"][3]["response"]["content"]["text"] += "<p>\udc00</p>"
    data = json.dumps(doc).encode()
    assert b"\\ud83d" in data
    assert keys_but_where(read_capture(data, LIMITS)) == keys_but_where(read(hf.har(flow, "chrome")))


def test_malformed_entries_are_skipped_alone(flow: hf.Flow) -> None:
    doc = hf.har(flow, "chrome")
    doc["log"]["entries"][2]["request"] = "not an object"
    doc["log"]["entries"][5]["response"]["status"] = [200]
    cap = read(doc)
    assert cap.dropped["unreadable_entries"] == 2
    assert keys(cap) == keys(read(hf.har(flow, "chrome")))  # neither held SAML; indices unchanged


def test_mmap_and_memoryview_inputs_are_released(flow: hf.Flow, tmp_path: Path) -> None:
    data = hf.dumps(hf.har(flow, "chrome"))
    path = tmp_path / "c.har"
    path.write_bytes(data)
    with path.open("rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        assert keys(read_capture(mm, LIMITS)) == keys(read_capture(data, LIMITS))
        mm.close()  # no slice of the map outlives read_capture
    path.write_bytes(data[: len(data) // 2])
    with path.open("rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with pytest.raises(AnalysisStop):
            read_capture(mm, LIMITS)
        mm.close()
    view = memoryview(data)
    assert keys(read_capture(view, LIMITS)) == keys(read_capture(data, LIMITS))
    view.release()


def test_looks_like_capture(flow: hf.Flow) -> None:
    for shape in hf.SHAPES:
        assert looks_like_capture(hf.dumps(hf.har(flow, shape)))
        assert looks_like_capture(hf.dumps(hf.har(flow, shape), indent=None))
    assert looks_like_capture(hf.dumps(hf.saml_tracer(flow)))
    assert looks_like_capture(b'\xef\xbb\xbf{"log": {"version": "1.2"}}')
    assert looks_like_capture('{"log": {"entries": []}}'.encode("utf-16"))
    assert looks_like_capture(b'{"comment": "x", "log": {"creator": {}, "entries": []}}')
    for other in (b"", b"<xml/>", b"PHNhbWw+", b"https://x/?SAMLResponse=1", b'{"foo": {"log": 1}}', b"[1]"):
        assert not looks_like_capture(other)


def test_capture_finding_codes_are_in_the_catalog() -> None:
    for code in (MALFORMED_CAPTURE, "capture_no_saml", "signature_value_removed"):
        entry = catalog.entry(code)
        assert entry.title and entry.fix and entry.category in catalog.CATEGORIES


# --- fuzzing: only AnalysisStop, ever ---------------------------------------------------------------------------


@cache
def small_har() -> bytes:
    """An IdP-initiated flow as compact JSON (not a fixture: hypothesis would print it with every failure)."""
    return hf.dumps(hf.har(hf.idp_initiated(), "chrome"), indent=None)


def _read_or_stop(data: bytes) -> None:
    try:
        cap = read_capture(data, LIMITS)
    except AnalysisStop:
        return
    assert all(isinstance(e, CaptureEntry) for e in cap.entries)


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=1 << 20),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.binary(max_size=8)), max_size=6),
)
def test_mutated_bytes_only_ever_raise_analysis_stop(cut: int, edits: list[tuple[int, bytes]]) -> None:
    har = small_har()
    data = bytearray(har[: cut % (len(har) + 1)] if cut % 3 == 0 else har)
    for pos, chunk in edits:
        at = pos % (len(data) + 1)
        data[at : at + len(chunk)] = chunk
    _read_or_stop(bytes(data))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(path_seed=st.integers(min_value=0), value=_json)
def test_any_value_anywhere_in_an_entry_only_ever_raises_analysis_stop(path_seed: int, value: Any) -> None:
    doc = json.loads(small_har())
    node: Any = doc["log"]["entries"]
    rng = random.Random(path_seed)
    while True:  # walk down a random path, then replace what is there
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        k, child = rng.choice(children)
        if not isinstance(child, dict | list) or rng.random() < 0.3:
            node[k] = value
            break
        node = child
    _read_or_stop(json.dumps(doc).encode())


def test_the_sps_answer_to_the_acs_post_is_kept_scrubbed() -> None:
    """The SP's answer to the posted response is read (an SP-library error page says why it refused)."""
    flow = hf.sp_initiated()
    i = next(n for n, x in enumerate(flow.exchanges) if x.method == "POST" and x.url == hf.ACS_URL)
    page = "<p>Signature validation failed. SAML Response rejected</p><script>var t='access_token=eyJhbGciOiJSUzI1.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl'</script>"
    flow.exchanges[i] = replace(flow.exchanges[i], status=500, response_headers=[], body=page)
    for shape, knobs in (("chrome", {}), ("firefox", {}), ("chrome", {"html_base64": True})):
        cap = read(hf.har(flow, shape, **knobs))
        posted = [e for e in cap.entries if e.binding == "post" and e.parameter == "SAMLResponse"]
        assert len(posted) == 1 and posted[0].status == 500
        assert posted[0].answer is not None and "Signature validation failed" in posted[0].answer
        assert "eyJzdWIiOiJhbGljZSJ9" not in posted[0].answer
        # Only the POST carries the answer; Entra's auto-submit page is not an answer to anything.
        assert all(e.answer is None for e in cap.entries if e.binding != "post")


def test_saml_tracer_export_time_is_the_capture_time() -> None:
    cap = read(hf.saml_tracer(hf.sp_initiated()))
    assert cap.exported_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    doc = hf.saml_tracer(hf.sp_initiated())
    doc["timestamp"] = 1772368200000  # milliseconds since the epoch, as some exports write it
    assert read(doc).exported_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert read(hf.har(hf.sp_initiated())).exported_at is None


def test_a_saml_tracer_request_that_is_not_utf8_is_skipped_alone() -> None:
    """One request with invalid UTF-8 is counted as unreadable, the rest of the export is read (found by review:
    the fast path refused the whole export); a HAR with invalid UTF-8 is still refused whole, as before."""
    ok = {"method": "POST", "url": "https://sp.example.com/acs", "post": [["SAMLResponse", "PHNhbWxwOlJlc3BvbnNlLz4="]]}
    data = json.dumps({"requests": [{"method": "GET", "url": "https://a/XX"}, ok]}).encode().replace(b"XX", b"\xff")
    capture = read_capture(data, Limits())
    assert isinstance(capture, Capture)
    assert len(capture.entries) == 1 and capture.dropped["unreadable_entries"] == 1
    har = json.dumps({"log": {"entries": [{"request": {"method": "GET", "url": "https://a/XX"}}]}}).encode()
    with pytest.raises(AnalysisStop, match="not valid"):
        read_capture(har.replace(b"XX", b"\xff"), Limits())


def test_saml_tracer_urls_do_not_pile_up_while_the_export_is_decoded() -> None:
    """Each request lets go of its URL once the reader has it (found by review: every URL stayed alive until the
    end of the decode, about the size of a URL-heavy export)."""
    import tracemalloc

    requests = [{"method": "GET", "url": f"https://app.example.com/?q={'a' * 50_000}{i}"} for i in range(200)]
    data = json.dumps({"requests": requests}).encode()
    tracemalloc.start()
    try:
        read_capture(data, Limits())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(data) // 4
