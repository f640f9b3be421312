"""Property-based tests: whatever comes in, a report or a clear input finding comes out; never an exception,
never a stack trace or an internal path in the output."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime

from factory import b64, signed_response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samldebug.config import Limits, Settings
from samldebug.pipeline import analyze
from samldebug.report import dumps, to_text

NOW = datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
SETTINGS = Settings(limits=Limits(max_input_bytes=256 * 1024, max_xml_bytes=64 * 1024))
VALID = signed_response()
LEAKS = re.compile(r"Traceback|File \"/|site-packages|/work/|\.py\", line")
PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes | str) -> None:
    report = analyze(data, SETTINGS, now=NOW)
    assert not report.has("internal_error"), report.findings
    assert report.findings or report.messages, "every input gets at least one finding or a message"
    for out in (dumps(report), to_text(report)):
        assert not LEAKS.search(out), LEAKS.search(out)


@PROFILE
@given(st.binary(max_size=4096))
def test_any_bytes(data: bytes) -> None:
    check(data)


@PROFILE
@given(st.text(max_size=2048))
def test_any_text(text: str) -> None:
    check(text)


@PROFILE
@given(st.data())
def test_mutated_base64(data: st.DataObject) -> None:
    raw = bytearray(b64(VALID).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.sampled_from(list(b"ABCxyz019+/=-_%\n \x00\xff")))
    cut = data.draw(st.integers(0, len(raw)))
    check(bytes(raw[: cut or len(raw)]))


@PROFILE
@given(st.data())
def test_mutated_and_truncated_xml(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    check(bytes(raw[: data.draw(st.integers(1, len(raw)))]))


@PROFILE
@given(st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans())
def test_line_endings_bom_and_deflate(newline: str, bom: bool, deflate: bool) -> None:
    xml = VALID.replace(b"><", f">{newline}<".encode())
    if bom:
        xml = b"\xef\xbb\xbf" + xml
    if deflate:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        check(base64.b64encode(c.compress(xml) + c.flush()))
    else:
        check(xml)


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)


@st.composite
def xml_trees(draw: st.DrawFn, depth: int = 0) -> str:
    ns = draw(
        st.sampled_from(
            [
                "urn:oasis:names:tc:SAML:2.0:protocol",
                "urn:oasis:names:tc:SAML:2.0:assertion",
                "http://www.w3.org/2000/09/xmldsig#",
                "urn:x",
                "",
            ]
        )
    )
    tag = draw(st.sampled_from(["Response", "Assertion", "Signature", "NameID", "Issuer", "Status"]) | NAMES)
    attrs = draw(
        st.dictionaries(
            NAMES, st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300), max_size=5
        )
    )
    attr_text = "".join(
        f' {k}="{v.replace("&", "&amp;").replace("<", "&lt;").replace(chr(34), "&quot;")}"' for k, v in attrs.items()
    )
    xmlns = f' xmlns="{ns}"' if ns else ""
    children = draw(st.lists(xml_trees(depth + 1), max_size=3)) if depth < 5 else []
    text = (
        draw(st.text(alphabet="abc@.-<>&", max_size=20)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )
    return f"<{tag}{xmlns}{attr_text}>{text}{''.join(children)}</{tag}>"


@PROFILE
@given(xml_trees())
def test_random_namespaced_trees(xml: str) -> None:
    check(xml)
    check(base64.b64encode(xml.encode()).decode())


def test_web_never_500_for_random_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hypothesis import given as given_
    from webutil import csrf, make_app

    app = make_app(tmp_path)
    client = app.test_client()
    token = csrf(client)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given_(st.text(max_size=1024))
    def run(text: str) -> None:
        r = client.post("/analyze", data={"csrf_token": token, "input": text})
        assert r.status_code in (200, 400), r.status_code
        assert not LEAKS.search(r.get_data(as_text=True))

    run()
