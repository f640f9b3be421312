"""analyze(raw, settings, now) → Report: the only orchestration.

decode → xmlsafe.parse → saml.read (unverified) → signature.verify (trusted) → checks.run → Report.
A step that cannot go on raises AnalysisStop carrying a finding; the report records it and stops there.
"""

from __future__ import annotations

import dataclasses
import logging
import mmap
from datetime import datetime
from types import TracebackType

from . import budget, capture, checklist, diagnosis, explain, har, signinlog, signins
from .analysis import analyze_xml
from .catalog import finding
from .config import Settings
from .decode import Decoded, decode
from .instants import iso
from .model import AnalysisStop, EntraError, Finding, InputInfo, Message, Report, SignInLog

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
    signin_log: bytes | None = None,
    signin_filter: str | None = None,
) -> Report:
    """`now`: the evaluation instant (--now / "Evaluate at"), or with `at_message_time` the wall clock: no
    evaluation time was given, so a pasted message is judged at its own IssueInstant (with skew) and a capture at
    the moment the SP received each message; `now` then only says what has expired since.
    `notes`: findings about the trust sources (metadata, certificates) to show with the report.
    `entry`: for a capture, analyse only that entry (HAR index). A capture may be an mmap of the file (read in
    place, never copied whole into memory).
    `signin_log`: an Entra sign-in log given beside the evidence (a capture, an error page, a message): its events
    are matched to it and explain it. `signin_filter`: keep only the log events of one correlation ID, request ID
    or user."""
    settings = settings or Settings()
    with budget.running(settings.limits.time_budget):  # one CPU budget for everything below
        return _analyze(data, settings, now, notes, entry, at_message_time, signin_log, signin_filter)


def _analyze(
    data: bytes | str | mmap.mmap,
    settings: Settings,
    now: datetime,
    notes: tuple[Finding, ...],
    entry: int | None,
    at_message_time: bool = False,
    signin_log: bytes | None = None,
    signin_filter: str | None = None,
) -> Report:
    mapped = data.encode("utf-8", "replace") if isinstance(data, str) else data
    plain = mapped[:1] in _PLAIN_START
    if not plain and har.looks_like_capture(mapped):
        report = _analyze_capture(mapped, settings, now, notes, entry)
        return _with_signins(report, signin_log, settings, signin_filter) if signin_log is not None else report
    raw = mapped if isinstance(mapped, bytes) else bytes(mapped)  # a single message is small (capped by the caller)
    shape = None if plain and _commas_in_head(raw) < 2 else signinlog.sniff(raw)
    if shape in ("json", "csv"):
        return _analyze_signins(raw, settings, now, notes, signin_filter)
    if shape == "other-log":
        # JSON records or a CSV table that are not an Entra sign-in log: pasted text that still holds an Entra
        # error or an SP library's message is read as such; anything else gets the sign-in reader's verdict.
        report = _analyze_message(raw, settings, now, notes, at_message_time)
        if not report.has("error_text_recognised"):
            return _analyze_signins(raw, settings, now, notes, signin_filter)
    elif signin_log is None and (not plain or b"\n" in raw) and (pair := signinlog.split_paste(raw)) is not None:
        # An error page (or a message) and the sign-in log entry pasted together, one after the other.
        return _analyze(pair[0], settings, now, notes, entry, at_message_time, pair[1], signin_filter)
    else:
        report = _analyze_message(raw, settings, now, notes, at_message_time)
    if signin_log is not None:
        report = _with_signins(report, signin_log, settings, signin_filter)
    return report


# What a plain message (base64, URL-encoded, XML, an error text) may start with. Such input is no capture (a JSON
# object), no JSON sign-in log (an object or array) and has no BOM; it is a CSV sign-in log only with two commas
# in its head, and a message pasted with a log only across a line break. These cheap necessary conditions skip the
# readers' own sniffing for the common single message (tests/test_pipeline_prefilter.py holds them to the readers).
_PLAIN_START = frozenset(bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=<%")


def _commas_in_head(raw: bytes) -> int:
    """0, 1 or 2 (two or more) commas in the head `signinlog.sniff` reads: memchr-speed finds, where bytes.count
    over a message costs microseconds."""
    first = raw.find(b",", 0, signinlog.SNIFF_HEAD)
    if first < 0:
        return 0
    return 1 if raw.find(b",", first + 1, signinlog.SNIFF_HEAD) < 0 else 2


def _analyze_message(
    raw: bytes, settings: Settings, now: datetime, notes: tuple[Finding, ...], at_message_time: bool
) -> Report:
    decoded: Decoded | None = None
    messages: list[Message] = []
    found: list[Finding] = list(notes)
    errors: list[EntraError] = []
    with _FailuresAsFindings(found, "analysis"):
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
            if not recognised:
                raise
            errors.extend(recognised[0])
            found.extend(recognised[1])
    rows = checklist.build(messages, found, errors, settings, decoded.relay_state if decoded else None)
    report = Report(
        input=_input_info(raw, decoded),
        checklist=rows,
        messages=tuple(messages),
        findings=sort_findings(found),
        now=iso(now),
        skew=settings.skew,
        entra_errors=tuple(errors),
        time_basis=("issue" if messages else "clock") if at_message_time else "given",
    )
    return diagnosis.attach(report, settings)


def _analyze_capture(
    raw: bytes | mmap.mmap, settings: Settings, now: datetime, notes: tuple[Finding, ...], entry: int | None
) -> Report:
    found: list[Finding] = list(notes)
    info: dict[str, object] | None = None
    result = None
    with _FailuresAsFindings(found, "capture analysis"):
        result = capture.analyze_capture(raw, settings, now, entry)
        found.extend(result.findings)
        info = result.info
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


class _FailuresAsFindings:
    """A step that cannot go on leaves its finding, input nested too deep to read leaves `oversized_input`, and a
    bug becomes `internal_error` (logged): never a stack trace for the user. What ran before stays in `found`.
    A class, not @contextmanager: it wraps every analysis, and a generator-based manager costs a few µs each time."""

    __slots__ = ("found", "what")

    def __init__(self, found: list[Finding], what: str) -> None:
        self.found = found
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if exc is None:
            return False
        if isinstance(exc, AnalysisStop):
            self.found.append(exc.finding)
        elif isinstance(exc, RecursionError):
            self.found.append(_too_deep())
        elif isinstance(exc, Exception):  # a bug must become a finding, never a stack trace for the user
            log.error("%s failed", self.what, exc_info=exc)
            self.found.append(finding("internal_error"))
        else:
            return False  # KeyboardInterrupt, SystemExit, GeneratorExit: not ours to swallow
        return True


def _too_deep() -> Finding:
    return finding(
        "oversized_input",
        "The input nests deeper than any reader allows (e.g. JSON nested thousands of levels deep)",
        expected="SAML, a capture or an error text of ordinary depth",
        actual="too deeply nested to read",
    )


def _read_signins(
    raw: bytes, settings: Settings, only: str | None
) -> tuple[SignInLog | None, list[Finding], list[EntraError]]:
    found: list[Finding] = []
    errors: list[EntraError] = []
    log_ = None
    with _FailuresAsFindings(found, "sign-in log analysis"):
        log_, notes = signinlog.read_signins(raw, only=only, max_bytes=settings.limits.max_capture_bytes)
        evidence = signins.evidence(log_, saml_app_id=settings.app_id)
        found += notes + evidence.findings
        errors += evidence.errors
    return log_, found, errors


def _analyze_signins(
    raw: bytes, settings: Settings, now: datetime, notes: tuple[Finding, ...], only: str | None
) -> Report:
    """An Entra sign-in log on its own: each event (group) is evidence; Entra's own reasons are the findings."""
    signin_log, found, errors = _read_signins(raw, settings, only)
    found = list(notes) + found
    report = Report(
        input=InputInfo(size=len(raw), steps=("sign-in log", signin_log.format if signin_log else "unreadable")),
        messages=(),
        findings=sort_findings(found),
        now=iso(now),
        skew=settings.skew,
        entra_errors=tuple(errors),
        checklist=checklist.build([], found, errors, settings, None),
        signins=signin_log,
    )
    return diagnosis.attach(report, settings)


def _with_signins(report: Report, raw: bytes, settings: Settings, only: str | None) -> Report:
    """The report of the other evidence with the sign-in log beside it: the matching events on its timeline, the
    log's reason joined to what the capture or error page showed."""
    signin_log, found, errors = _read_signins(raw, settings, only)
    if signin_log is None:
        return diagnosis.attach(
            dataclasses.replace(report, findings=sort_findings([*report.findings, *found])), settings
        )
    capture = report.input.capture is not None
    try:
        joined = signins.correlate(signin_log, report.entra_errors, report.messages, capture=capture)
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("sign-in log correlation failed")
        joined = signins.Correlation(findings=[finding("internal_error")])
    if not joined.matched and only is None and signin_log.total > len(signin_log.events):
        # A long log keeps only some events whole: read it again for the IDs the evidence names.
        wanted = [x for e in report.entra_errors for x in (e.correlation_id, e.trace_id) if x]
        for value in dict.fromkeys(wanted[:4]):
            try:
                narrowed, _ = signinlog.read_signins(raw, only=value, max_bytes=settings.limits.max_capture_bytes)
            except AnalysisStop:
                break
            if narrowed.matched:
                signin_log = narrowed
                joined = signins.correlate(narrowed, report.entra_errors, report.messages, capture=capture)
                break
    if joined.matched:
        # Only the events of this sign-in explain it; the rest of the log stays in its summary (the groups).
        matched = signins.Evidence()
        for e in joined.matched:
            signins.event_evidence(matched, e, settings.app_id)
        found = [f for f in found if f.code in _LOG_INPUT_CODES] + matched.findings
        errors = matched.errors
    else:
        errors = []
    known = {(e.code, e.correlation_id) for e in report.entra_errors}
    all_errors = [*report.entra_errors, *(e for e in errors if (e.code, e.correlation_id) not in known)]
    all_found = [*joined.findings, *report.findings, *found]
    timeline = sorted([*report.timeline, *joined.timeline], key=lambda t: t.time or "")
    joined_report = dataclasses.replace(
        report,
        findings=sort_findings(all_found),
        entra_errors=tuple(all_errors),
        timeline=tuple(timeline),
        checklist=checklist.build(list(report.messages), all_found, all_errors, settings, report.input.relay_state),
        signins=signin_log,
    )
    return diagnosis.attach(joined_report, settings)


# Findings about the sign-in log as input: kept beside a capture whatever the log's events say.
_LOG_INPUT_CODES = frozenset(
    {"signin_log_read", "signin_log_empty", "signin_events_unreadable", "signin_csv_unknown_columns", "internal_error"}
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
