"""analyze(raw, settings, now) → Report: the only orchestration.

decode → xmlsafe.parse → saml.read (unverified) → signature.verify (trusted) → checks.run → Report.
A step that cannot go on raises AnalysisStop carrying a finding; the report records it and stops there.
"""

from __future__ import annotations

import logging
import mmap
from datetime import datetime

from . import budget, capture, checklist, diagnosis, explain, har
from .analysis import analyze_xml
from .catalog import finding
from .config import Settings
from .decode import Decoded, decode
from .instants import iso
from .model import AnalysisStop, EntraError, Finding, InputInfo, Message, Report

log = logging.getLogger(__name__)


def sort_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: -f.severity.rank))


def _input_info(raw: bytes, decoded: Decoded | None) -> InputInfo:
    if decoded is None:
        return InputInfo(size=len(raw), steps=())
    return InputInfo(
        size=len(raw),
        steps=decoded.steps,
        parameter=decoded.parameter,
        relay_state=decoded.relay_state,
        binding=decoded.binding,
        sig_alg=decoded.sig_alg,
    )


def stopped(stop: Finding, size: int, settings: Settings, now: datetime) -> Report:
    """A report for an input refused before decoding (e.g. too large to read)."""
    return diagnosis.attach(Report(InputInfo(size=size, steps=()), (), (stop,), iso(now), settings.skew), settings)


def analyze(
    data: bytes | str | mmap.mmap,
    settings: Settings | None = None,
    *,
    now: datetime,
    notes: tuple[Finding, ...] = (),
    entry: int | None = None,
    at_message_time: bool = False,
) -> Report:
    """`now`: the evaluation instant (--now / "Evaluate at"), or with `at_message_time` the wall clock: no
    evaluation time was given, so a pasted message is judged at its own IssueInstant (with skew) and a capture at
    the moment the SP received each message; `now` then only says what has expired since.
    `notes`: findings about the trust sources (metadata, certificates) to show with the report.
    `entry`: for a capture, analyse only that entry (HAR index). A capture may be an mmap of the file (read in
    place, never copied whole into memory)."""
    settings = settings or Settings()
    with budget.running(settings.limits.time_budget):  # one CPU budget for everything below
        return _analyze(data, settings, now, notes, entry, at_message_time)


def _analyze(
    data: bytes | str | mmap.mmap,
    settings: Settings,
    now: datetime,
    notes: tuple[Finding, ...],
    entry: int | None,
    at_message_time: bool = False,
) -> Report:
    mapped = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if har.looks_like_capture(mapped):
        return _analyze_capture(mapped, settings, now, notes, entry)
    raw = mapped if isinstance(mapped, bytes) else bytes(mapped)  # a single message is small (capped by the caller)
    decoded: Decoded | None = None
    messages: list[Message] = []
    found: list[Finding] = list(notes)
    errors: list[EntraError] = []
    try:
        decoded = decode(raw, settings.limits)
        found.extend(decoded.findings)
        result = analyze_xml(
            decoded.xml,
            settings,
            now,
            query=decoded.query if decoded.signature else None,
            at_issue=at_message_time,
        )
        messages.append(result.message)
        found.extend(f.at(result.message.index) for f in result.findings)
        errors.extend(result.errors)
    except AnalysisStop as stop:
        recognised = _not_a_message(raw, stop.finding) if stop.finding.code in _NOT_A_MESSAGE else None
        if recognised:
            errors.extend(recognised[0])
            found.extend(recognised[1])
        else:
            found.append(stop.finding)
    except RecursionError:
        found.append(_too_deep())
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("analysis failed")
        found.append(finding("internal_error"))
    rows = checklist.build(messages, found, errors, settings, decoded.relay_state if decoded else None)
    report = Report(
        input=_input_info(raw, decoded),
        checklist=rows,
        messages=tuple(messages),
        findings=sort_findings(found),
        now=iso(now),
        skew=settings.skew,
        entra_errors=tuple(errors),
        time_basis="issue" if at_message_time and messages else "given",
    )
    return diagnosis.attach(report, settings)


def _analyze_capture(
    raw: bytes | mmap.mmap, settings: Settings, now: datetime, notes: tuple[Finding, ...], entry: int | None
) -> Report:
    found: list[Finding] = list(notes)
    info: dict[str, object] | None = None
    result = None
    try:
        result = capture.analyze_capture(raw, settings, now, entry)
        found.extend(result.findings)
        info = result.info
    except AnalysisStop as stop:
        found.append(stop.finding)
    except RecursionError:
        found.append(_too_deep())
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("capture analysis failed")
        found.append(finding("internal_error"))
    messages = tuple(result.messages) if result else ()
    errors = tuple(result.errors) if result else ()
    relay = next((r for r in (result.relay_states.values() if result else ()) if r), None)
    if result is not None:
        settings = result.settings  # with the expectations the capture's own AuthnRequest supplied
    fmt = str(info.get("format")) if info else "capture"
    report = Report(
        input=InputInfo(size=len(raw), steps=("capture", fmt), capture=info),
        messages=messages,
        findings=sort_findings(found),
        now=iso(now),
        skew=settings.skew,
        entra_errors=errors,
        checklist=checklist.build(messages, found, errors, settings, relay),
        flows=tuple(result.flows) if result else (),
        timeline=tuple(result.timeline) if result else (),
        time_basis="capture",
    )
    return diagnosis.attach(report, settings)


def _too_deep() -> Finding:
    return finding(
        "oversized_input",
        "The input nests deeper than any reader allows (e.g. JSON nested thousands of levels deep)",
        expected="SAML, a capture or an error text of ordinary depth",
        actual="too deeply nested to read",
    )


_NOT_A_MESSAGE = {"not_saml", "invalid_base64", "malformed_xml", "dtd_forbidden"}


def _not_a_message(raw: bytes, stop: Finding) -> tuple[list[EntraError], list[Finding]] | None:
    """Input that is no SAML message may still be evidence: an Entra error page, an error redirect, a token
    error JSON, text pasted from a screenshot, or an SP library's error message."""
    text = raw[: 512 * 1024].decode("utf-8", "replace")
    errors = explain.errors_in_input(text)
    found = explain.aadsts_findings(errors) + explain.library_findings(text)
    if not found:
        return None
    what = "an Entra error" if errors else "an SP library error message"
    found.append(finding("error_text_recognised", f"No SAML message, but {what} was recognised", actual=stop.title))
    return errors, found
