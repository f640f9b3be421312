"""The pipeline skips the capture and sign-in log sniffers for input that plainly is one message (base64, XML,
URL-encoded, an error text). Those shortcuts are necessary conditions of the readers' own tests: whatever the
input, when the pipeline skips a reader that reader would have said no, and the report is the one the full
sniffing gives."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import pytest
import signinfactory as sf
from factory import T0, build_response, sign, to_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samldebug import har, pipeline, signinlog
from samldebug.config import Settings
from samldebug.report import dumps

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def _skips(data: bytes) -> tuple[bool, bool, bool]:
    """Which readers the pipeline skips for `data`: (capture sniff, sign-in log sniff, split_paste)."""
    plain = data[:1] in pipeline._PLAIN_START
    few_commas = pipeline._commas_in_head(data) < 2
    assert few_commas == (data.count(b",", 0, signinlog.SNIFF_HEAD) < 2)
    return plain, plain and few_commas, plain and b"\n" not in data


def _assert_readers_agree(data: bytes) -> None:
    capture, log, paste = _skips(data)
    if capture:
        assert not har.looks_like_capture(data)
    if log:
        assert signinlog.sniff(data) is None
    if paste:
        assert signinlog.split_paste(data) is None


_MESSAGE_BYTES = st.sampled_from(
    [b"A", b"P", b"<", b"%", b"+", b"/", b"=", b"0", b",", b"\n", b"\r", b" ", b"{", b"[", b'"', b":"]
    + [b'"createdDateTime"', b'"correlationId"', b'"status"', b"Date (UTC),", b"Request ID,", b"\xef\xbb\xbf"]
    + [b'{"log":{"entries":[]}}', b'"errorCode"', b'"appDisplayName"', b'"userPrincipalName"', b"\n{", b"\n["]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MESSAGE_BYTES, max_size=40).map(b"".join))
def test_a_skipped_reader_would_have_said_no(data: bytes) -> None:
    _assert_readers_agree(data)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_a_skipped_reader_would_have_said_no_on_any_bytes(data: bytes) -> None:
    _assert_readers_agree(data)


def _log_csv() -> bytes:
    return sf.to_csv([sf.event(), sf.event(error_code=50105)])


def _log_json() -> bytes:
    return sf.dumps({"value": [sf.event(error_code=53003)]})


def _samples() -> list[tuple[str, bytes]]:
    response = to_bytes(sign(build_response(), "assertion"))
    b64 = base64.b64encode(response)
    samples = [
        ("base64", b64),
        ("base64 wrapped", base64.encodebytes(response)),
        ("xml", response),
        ("error text", b"AADSTS50105: The signed in user is not assigned to a role for the application."),
        ("error text with commas", b"AADSTS50011: reply URL, registered, mismatch"),
        ("base64 then a CSV log", b64 + b"\n" + _log_csv()),
        ("error text then a CSV log", b"AADSTS50105: not assigned\n" + _log_csv()),
        ("error text then a JSON log", b"AADSTS53003: blocked by Conditional Access\n" + _log_json()),
        ("CSV log", _log_csv()),
        ("JSON log", _log_json()),
        ("other CSV", b"time,level,message\n2026-03-02T09:29:31Z,ERROR,AADSTS50105: not assigned\n"),
        ("HAR", json.dumps({"log": {"version": "1.2", "entries": []}}).encode()),
    ]
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*")):
            if path.is_file() and path.suffix in (".xml", ".base64", ".txt"):
                samples.append((str(path.relative_to(CORPUS)), path.read_bytes()[: 256 * 1024]))
    return samples


@pytest.mark.parametrize(("name", "data"), _samples(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_report_is_the_one_full_sniffing_gives(name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_readers_agree(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some upstream certs carry negative serials
        fast = dumps(pipeline.analyze(data, Settings(), now=T0))
        monkeypatch.setattr(pipeline, "_PLAIN_START", frozenset())  # every input sniffed by every reader
        full = dumps(pipeline.analyze(data, Settings(), now=T0))
    assert fast == full, name
