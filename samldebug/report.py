"""Report ↔ JSON (schema samldebug.report/2; /1 documents are still read) and the plain-text rendering (CLI).

/2 against /1: a `diagnosis` (and `flow_diagnoses` for captures) leads every report; `verdict.headline` is the
diagnosis summary (in /1 it was a signature/severity phrase); `time_basis` says how `now` was used ("given": the
evaluation instant; "issue": the wall clock, each message judged at its own IssueInstant; "capture": each message
judged when the SP received it). A /1 document gets its diagnosis computed from its findings when it is read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from .catalog import claims, entry
from .diagnosis import attach
from .model import SCHEMA_ID, SCHEMA_V1, Finding, Message, Report, Severity, SignatureStatus, SignInLog

_SEVERITY_VALUES = tuple(s.value for s in Severity)  # the order of `counts`
_WORST_FIRST = sorted(Severity, key=lambda s: s.rank, reverse=True)


def verdict(report: Report) -> dict[str, Any]:
    """The banner: the diagnosis summary, and the chips beside it."""
    codes = {f.code for f in report.findings}
    attack = any(entry(c).attack for c in codes) or any(
        m.signature is not None and m.signature.attack for m in report.messages
    )
    # The chip describes the response when there is one (a capture's first message is often the AuthnRequest).
    signed = sorted(
        (m for m in report.messages if m.signature is not None), key=lambda m: m.kind not in ("response", "assertion")
    )
    statuses = [m.signature.status.value for m in signed if m.signature is not None]
    signature = statuses[0] if statuses else None
    counts = dict.fromkeys(_SEVERITY_VALUES, 0)
    for f in report.findings:
        counts[f.severity] += 1  # a StrEnum member finds (and keeps) its value's key
    worst = next((s for s in _WORST_FIRST if counts[s]), None)  # report.worst, from the counts
    d = report.diagnosis
    return {
        "headline": d.summary if d is not None else _headline(report, attack, signature, worst),
        "side": d.side if d is not None else None,
        "signature": signature,
        "attack": attack,
        "expired": not codes.isdisjoint(("expired", "not_yet_valid")),
        "worst": worst.value if worst else None,
        "counts": counts,
    }


def _headline(report: Report, attack: bool, signature: str | None, worst: Severity | None) -> str:
    """The banner of a report without a diagnosis (one still being built, or read from an old document)."""
    if not report.messages:
        return next((f.title for f in report.findings), "Nothing to analyse")
    if attack:
        first = next((f for f in report.findings if entry(f.code).attack), None)
        return "Attack detected: " + (first.title if first else "this message must be rejected")
    if signature == SignatureStatus.INVALID.value:
        return "Signature invalid"
    if worst is Severity.ERROR:
        return "Signature " + (signature or "n/a") + ", but the SP will reject this message"
    if signature == SignatureStatus.VALID.value:
        return "Signature valid; no blocking problem found"
    return "Signature " + (signature or "n/a")


def _message_json(m: Message) -> dict[str, Any]:
    """A message as builtins, each attribute with the catalog's friendly name added (the SAML FriendlyName stays
    as sent)."""
    out: dict[str, Any] = msgspec.to_builtins(m)
    known = claims()
    for values in (out["trusted"], out["unverified"]):
        for attr in values["attributes"] if values else ():
            claim = known.get(attr["name"])
            attr["label"] = claim.friendly if claim else None
    return out


def _document(report: Report, messages: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The report's JSON document with its dataclasses (and enums, tuples) left in place: msgspec walks them in C,
    whether it encodes them (dumps) or turns them into builtins (to_json). The messages come from the caller
    (_message_json). Sequences are lists, as readers of to_json expect."""
    return {
        "schema": report.schema,
        "diagnosis": report.diagnosis,
        "now": report.now,
        "time_basis": report.time_basis,
        "skew": report.skew,
        "verdict": verdict(report),
        "input": report.input,
        "messages": messages,
        "findings": list(report.findings),
        "entra_errors": list(report.entra_errors),
        "checklist": list(report.checklist),
        "flows": list(report.flows),
        "timeline": list(report.timeline),
        "flow_diagnoses": list(report.flow_diagnoses),
        # Only when a sign-in log was given, so reports of other inputs keep their exact shape.
        **({"signins": report.signins} if report.signins is not None else {}),
    }


def to_json(report: Report) -> dict[str, Any]:
    """The report as builtin types (dicts, lists, tuples, str…), schema samldebug.report/2."""
    doc: dict[str, Any] = msgspec.to_builtins(_document(report, None))
    doc["messages"] = [_message_json(m) for m in report.messages]  # its key already holds its place in the order
    return doc


def dumps(report: Report, indent: int | None = 2) -> str:
    """The report as JSON text (UTF-8, key order kept), encoded by msgspec straight from the dataclasses: Python's
    pure-Python pretty printer cost more than the analysis itself, and making builtins first doubled the walk."""
    data = msgspec.json.encode(_document(report, [_message_json(m) for m in report.messages]))
    if indent:
        data = msgspec.json.format(data, indent=indent)
    return data.decode()


# -- text ---------------------------------------------------------------------------------------------


def signin_lines(log: SignInLog) -> list[str]:
    """The sign-in log summary: counts, then the groups (failed first) with their counts and time span."""
    c = log.counts
    head = f"Sign-in log ({log.format}): {log.total} events"
    if log.only:
        head += f", {log.matched} matching {log.only}"
    lines = ["", head + f"; {c['failure']} failed, {c['interrupt']} interrupted, {c['success']} succeeded"]
    for g in log.groups[:25]:
        what = "success" if g.outcome == "success" else f"AADSTS{g.error_code} ({g.outcome})"
        span = g.first if g.first == g.last else f"{g.first} – {g.last}"
        lines.append(f"  {g.count:>6} × {what:28} {g.user} → {g.app}   {span or ''}")
    if len(log.groups) > 25:
        lines.append(f"  … {len(log.groups) - 25} more groups")
    return lines


# ANSI SGR codes (what a terminal understands; the same sequences click.style writes): the core stays free of
# terminal libraries.
_COLOURS = {Severity.ERROR: 31, Severity.WARNING: 33, Severity.INFO: 36}


def _style(text: str, colour: bool, *, fg: int | None = None, bold: bool = False) -> str:
    if not colour:
        return text
    codes = ([f"\x1b[{fg}m"] if fg is not None else []) + (["\x1b[1m"] if bold else [])
    return "".join(codes) + text + "\x1b[0m"


def _finding_lines(f: Finding, colour: bool) -> list[str]:
    tag = _style(f"{f.severity.value.upper():7}", colour, fg=_COLOURS[f.severity], bold=True)
    lines = [f"{tag} [{f.code}] {f.title}"]
    for label, value in (("expected", f.expected), ("actual", f.actual), ("where", f.where), ("fix", f.fix)):
        if value:
            lines.append(f"        {label + ':':9} {value}")
    return lines


def to_text(report: Report, colour: bool = False) -> str:
    v = verdict(report)
    lines = [_style(v["headline"], colour, bold=True)]
    d = report.diagnosis
    if d is not None:
        lines.append(f"fix on: {d.side}; where: {d.where}")
        lines += [f"  {i}. {step}" for i, step in enumerate(d.fix, 1)]
        lines += [f"  note: {n}" for n in d.notes]
        for fd in report.flow_diagnoses:
            flow = report.flows[fd.flow] if fd.flow is not None and fd.flow < len(report.flows) else None
            lines.append(f"  flow {flow.name if flow else fd.flow}: {fd.summary}")
    basis = {"issue": "each message at its own IssueInstant", "capture": "each message when the SP received it"}
    when = basis.get(report.time_basis, f"at {report.now}")
    lines.append(f"judged {when} (skew {report.skew} s); decoding: {' → '.join(report.input.steps) or 'none'}")
    lines.append("")
    if report.findings:
        lines.append("Findings (worst first)")
        for f in report.findings:
            lines += _finding_lines(f, colour)
    else:
        lines.append("No findings.")
    if report.flows:
        lines.append("")
        lines.append("Flows")
        for flow in report.flows:
            parts = [
                f"request = message {flow.request + 1}" if flow.request is not None else "",
                f"response = message {flow.response + 1}" if flow.response is not None else "",
            ]
            lines.append(f"  {flow.name}: " + ", ".join(p for p in parts if p))
    if report.timeline:
        lines.append("")
        lines.append("Timeline")
        for t in report.timeline:
            when = t.time or "time unknown"
            lines.append(
                f"  #{t.entry} {when} {t.method} {t.host} {t.kind} ({t.binding or '-'}) "
                f"HTTP {t.status or '-'} worst: {t.worst or '-'}"
            )
    if report.signins is not None:
        lines += signin_lines(report.signins)
    if report.checklist:
        lines.append("")
        lines.append("Entra setup checklist")
        marks = {"ok": "✓", "fail": "✗", "unknown": "?"}
        for r in report.checklist:
            detail = f"seen {r.seen!r}" if r.seen else "no evidence"
            if r.expected:
                detail += f", expected {r.expected!r}"
            lines.append(f"  {marks[r.state]} {r.step}: {r.item} ({detail}) → {r.field}")
    for e in report.entra_errors:
        ids = ", ".join(
            f"{k} {v}"
            for k, v in (("Trace ID", e.trace_id), ("Correlation ID", e.correlation_id), ("Timestamp", e.timestamp))
            if v
        )
        lines.append(f"AADSTS{e.code} ({e.source})" + (f": {ids}" if ids else ""))
    for m in report.messages:
        lines.append("")
        lines.append(f"Message {m.index + 1}: {m.kind}")
        if m.signature is not None:
            s = m.signature
            signed = ", ".join(s.signed_elements) or "nothing verified"
            lines.append(f"  signature: {s.status.value} ({signed})")
            if s.key is not None:
                lines.append(f"  verified by: {s.key.source}, SHA-1 {s.key.sha1}, {s.key.subject}")
        values, label = (m.trusted, "trusted") if m.trusted is not None else (m.unverified, "UNVERIFIED")
        for name in (
            "issuer",
            "name_id",
            "name_id_format",
            "destination",
            "in_response_to",
            "not_before",
            "not_on_or_after",
        ):
            value = getattr(values, name)
            if value:
                lines.append(f"  {name:16} {value}   [{label}]")
        if values.audiences:
            lines.append(f"  {'audience':16} {', '.join(values.audiences)}   [{label}]")
        for a in values.attributes:
            claim = claims().get(a.name)
            name = claim.friendly if claim else a.friendly_name or a.name
            lines.append(f"  attribute        {name} = {', '.join(a.values)}   [{label}]")
    return "\n".join(lines) + "\n"


# -- JSON → Report (stored permalinks are re-rendered from their JSON) ----------------------------------------


def from_json(doc: dict[str, Any]) -> Report:
    """The inverse of to_json (derived keys such as 'verdict' or attribute labels are ignored). Reads /2 and /1
    documents (stored permalinks outlive a release): a /1 report gets its diagnosis from what it stored."""
    report = msgspec.convert(doc, Report)
    if report.schema == SCHEMA_V1 or report.diagnosis is None:
        basis = doc.get("time_basis") or ("capture" if report.flows else "given")
        report = attach(dataclasses.replace(report, schema=SCHEMA_ID, time_basis=str(basis)))
    return report
