"""A step that fails leaves a finding, never a stack trace for the user; what is not a failure of the analysis
(an interrupt) is not swallowed."""

from __future__ import annotations

import base64
import logging

import pytest
from factory import T0, build_response, to_bytes

from samldebug import pipeline
from samldebug.catalog import finding
from samldebug.config import Settings
from samldebug.model import AnalysisStop

MESSAGE = base64.b64encode(to_bytes(build_response()))


def _failing(error: BaseException):  # type: ignore[no-untyped-def]
    def analyze_xml(*_a: object, **_k: object) -> None:
        raise error

    return analyze_xml


def test_a_bug_becomes_internal_error_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pipeline, "analyze_xml", _failing(ValueError("boom")))
    with caplog.at_level(logging.ERROR, logger="samldebug.pipeline"):
        report = pipeline.analyze(MESSAGE, Settings(), now=T0)
    assert [f.code for f in report.findings] == ["internal_error"]
    assert report.diagnosis is not None
    record = next(r for r in caplog.records if r.getMessage() == "analysis failed")
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)


def test_a_stop_leaves_its_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = AnalysisStop(finding("oversized_input", actual="too big"))
    monkeypatch.setattr(pipeline, "analyze_xml", _failing(stop))
    report = pipeline.analyze(MESSAGE, Settings(), now=T0)
    assert [(f.code, f.actual) for f in report.findings] == [("oversized_input", "too big")]


def test_input_nested_too_deep_is_oversized_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "analyze_xml", _failing(RecursionError()))
    report = pipeline.analyze(MESSAGE, Settings(), now=T0)
    assert [f.code for f in report.findings] == ["oversized_input"]


def test_an_interrupt_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "analyze_xml", _failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        pipeline.analyze(MESSAGE, Settings(), now=T0)
