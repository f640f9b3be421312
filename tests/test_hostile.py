"""Hostile inputs: every payload of the attack review, at the documented size limit, finishes with a report within
2 s of CPU and 256 MiB of peak RSS (each in a fresh process; the precise numbers come from
benchmarks/bench_hostile.py). And every pattern applied to untrusted text meets its own worst case in linear time.

Bounds here are loose on purpose (CPU seconds, not wall time; one run): the payloads used to take 8 s to minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import hostile
import pytest
from helpers import entra_settings, run

from samldebug import budget, certs, explain, har, linear, redact, sanitize, xmlsafe
from samldebug.catalog import library_messages
from samldebug.config import Limits
from samldebug.pipeline import analyze

TESTS = Path(__file__).resolve().parent
CPU_LIMIT = 2.0
RSS_LIMIT = 256 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(hostile.PASTES))
def test_each_hostile_payload_finishes_with_a_report_in_bounded_cpu_and_memory(name: str) -> None:
    out = subprocess.run(  # noqa: S603 - our own helper, in a fresh process so that RSS is this payload's
        [sys.executable, str(TESTS / "hostile.py"), name], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "internal_error" not in result["codes"], result
    assert result["cpu"] <= CPU_LIMIT, result
    assert result["rss"] <= RSS_LIMIT, result


def test_the_error_redirect_flood_is_capped_and_says_so() -> None:
    report = run(hostile.error_redirects(20_000), entra_settings())
    truncated = [f for f in report.findings if f.code == "capture_truncated"]
    assert truncated and "first 500 of 20,000" in truncated[0].title
    assert len(report.timeline) <= 500 and len(report.entra_errors) <= 500


def test_one_cpu_budget_cuts_a_capture_off_with_partial_results() -> None:
    """A clock that runs out after the first message: the capture stops there, keeps that message, says so."""
    from harfactory import concat, dumps, har, idp_initiated, sp_initiated
    from webutil import CLOCK

    calls = iter(range(1_000_000))
    data = dumps(har(concat(sp_initiated(), idp_initiated()), "chrome"))
    with budget.running(30.0, clock=lambda: 0.0 if next(calls) < 2 else 100.0):  # runs out after the first look
        report = analyze(data, entra_settings(), now=CLOCK)
    assert report.has("analysis_budget_exceeded")
    assert report.messages  # partial results: what was analysed before the cut-off


def test_the_budget_is_cpu_time_of_the_analysing_thread() -> None:
    with budget.running(0.0) as b:
        assert b.clock is time.thread_time
        with pytest.raises(budget.BudgetExceeded) as stop:
            sum(range(200_000))
            budget.check("a test step")
    assert stop.value.finding.code == "analysis_budget_exceeded" and "a test step" in (stop.value.finding.actual or "")
    budget.check("outside any analysis")  # no open budget: nothing to enforce


def test_far_future_instants_are_findings_and_refusals_not_errors(tmp_path: Path) -> None:
    report = run(hostile.far_future_offset(), entra_settings())
    assert report.has("bad_time_format")
    from click.testing import CliRunner

    from samldebug.cli import main

    result = CliRunner().invoke(main, ["analyze", "-", "--now", "9999-12-31T23:59:59-14:00"], input="x")
    assert result.exit_code == 2 and "ISO 8601" in result.output
    md = (TESTS / "factory.py").parent  # metadata whose validUntil is past datetime's range
    from factory import metadata

    doc = metadata().replace(b"<md:EntityDescriptor", b"<md:EntityDescriptor", 1)
    doc = doc.replace(b'entityID="', b'validUntil="9999-12-31T23:59:59-14:00" entityID="', 1)
    assert md.is_dir() and not run(doc, None, datetime(2026, 1, 1, tzinfo=UTC)).has("internal_error")


def test_fetched_metadata_of_empty_comments_is_classified_in_linear_time() -> None:
    from samldebug.fetch import looks_like_html

    assert _cpu(lambda: looks_like_html(hostile.metadata_comments())) < 0.1
    assert looks_like_html(b"<?xml version='1.0'?>" + b"<!---->" * 500 + b"<!DOCTYPE html><html>")
    assert not looks_like_html(b"<!---->" * 27 + b"<md:EntityDescriptor/>")


# --- every linear pattern against its worst case --------------------------------------------------------------

N = 256 * 1024  # characters of adversarial text per pattern


def _cpu(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


WORST: dict[str, tuple[linear.Pattern[str] | linear.Pattern[bytes], str | bytes]] = {
    "har.INPUT_TAG": (har.INPUT_TAG, "<input " * (N // 7)),
    "har._FORM_OPEN": (har._FORM_OPEN, "<form " * (N // 6)),
    "har._FORM_CLOSE": (har._FORM_CLOSE, "</form " * (N // 7)),
    "har.ATTRIBUTE": (har.ATTRIBUTE, 'a="' * (N // 3)),
    "har.JS_SECRET": (har.JS_SECRET, '"sFT":"\\\\' * (N // 10)),
    "har.URL_TOKEN": (har.URL_TOKEN, "?code=" + "x" * N),
    "har.JWT": (har.JWT, "eyJ" * (N // 3)),
    "har._URL_SECRET": (har._URL_SECRET, "?" + "a" * N),
    "har._MULTIPART_FIELD": (har._MULTIPART_FIELD, 'name="SAMLResponse"\r\nx\r\n' * (N // 24)),
    "har._CREDENTIAL_WORD": (har._CREDENTIAL_WORD, "secre" * (N // 5)),
    "sanitize._SECRET_HEADER_WORD": (sanitize._SECRET_HEADER_WORD, "toke" * (N // 4)),
    "sanitize._FORM_FIELD_HEAD": (sanitize._FORM_FIELD_HEAD, 'name="a"\r\nb\r\n' * (N // 14)),
    "sanitize._BEARER": (sanitize._BEARER, "Bearer " + "a" * N),
    "explain._AADSTS": (explain._AADSTS, "AADSTS50105 " * (N // 12)),
    "explain._TRACE": (explain._TRACE, "Trace ID: " * (N // 10)),
    "explain._CORRELATION": (explain._CORRELATION, "Correlation ID: " * (N // 16)),
    "explain._TIMESTAMP": (explain._TIMESTAMP, "Timestamp: 2026-01-01 " * (N // 22)),
    "explain._CONFIG_CODE": (explain._CONFIG_CODE, '"sErrorCode":"1' * (N // 15)),
    "explain._CONFIG_EXCEPTION": (explain._CONFIG_EXCEPTION, '"strServiceExceptionMessage":"\\' * (N // 31)),
    "explain._CONFIG_TEXT": (explain._CONFIG_TEXT, '"sErrTxt":"\\x' * (N // 12)),
    "explain._RECEIVED_AT": (explain._RECEIVED_AT, "received at x " * (N // 14)),
    "xmlsafe._SYSTEM_ID": (xmlsafe._SYSTEM_ID, b'SYSTEM "' * (N // 8)),
    "redact._EMAIL": (redact._EMAIL, "a" * (N // 2) + "@" + "b" * (N // 2)),
    "redact._USERINFO": (redact._USERINFO, "a://" + "b" * N),
    "redact._JSESSIONID": (redact._JSESSIONID, ";jsessionid=" * (N // 12)),
}


@pytest.mark.parametrize("name", sorted(WORST))
def test_each_linear_pattern_meets_its_worst_case(name: str) -> None:
    pattern, text = WORST[name]
    cost = _cpu(lambda: (list(pattern.finditer(text)), pattern.search(text)))  # type: ignore[arg-type]
    assert cost < 1.0, f"{name}: {cost:.2f} s of CPU on {len(text)} characters"


def test_every_sp_library_pattern_meets_a_backtracking_paste() -> None:
    text = "Invalid issuer in the Assertion/Response (expected " + ", got " * (N // 6)
    for message in library_messages():
        cost = _cpu(lambda message=message: message.pattern.search(text))  # type: ignore[misc]
        assert cost < 0.5, (message.library, message.pattern.source, cost)


def test_linear_patterns_cover_the_modules_that_read_untrusted_text() -> None:
    """Each module-level RE2 pattern of these modules has a worst case above (a new one needs one too)."""
    import samldebug.explain
    import samldebug.har
    import samldebug.redact
    import samldebug.sanitize
    import samldebug.xmlsafe

    modules = (samldebug.har, samldebug.sanitize, samldebug.explain, samldebug.xmlsafe, samldebug.redact)
    covered = {id(pattern) for pattern, _ in WORST.values()}
    missing = [
        f"{m.__name__}.{name}"
        for m in modules
        for name, value in vars(m).items()
        if isinstance(value, linear.Pattern) and id(value) not in covered
    ]
    assert not missing, missing


def test_certificate_text_with_many_pem_headers_is_linear() -> None:
    text = hostile.cert_field()
    cost = _cpu(lambda: pytest.raises(certs.CertError, certs.load_certs, text[: certs.MAX_TEXT - 1]))
    assert cost < 0.5
    with pytest.raises(certs.CertError, match="larger than"):
        certs.load_certs(text)


def test_duplicated_ids_give_a_bounded_number_of_findings() -> None:
    report = run(hostile.duplicate_ids(), entra_settings())
    assert 1 <= sum(1 for f in report.findings if f.code == "xsw") <= 7
    assert Limits().max_elements > 2 * 4_900  # the payload stays under the element cap
