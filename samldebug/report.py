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


def _plain(value: Any) -> Any:
    """Dataclasses and enums → builtin types (dicts, tuples, str…), in C: this runs for every request."""
    return msgspec.to_builtins(value)


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
    expired = bool(codes & {"expired", "not_yet_valid"})
    worst = report.worst
    if not report.messages:
        headline = next((f.title for f in report.findings), "Nothing to analyse")
    elif attack:
        first = next((f for f in report.findings if entry(f.code).attack), None)
        headline = "Attack detected: " + (first.title if first else "this message must be rejected")
    elif signature == SignatureStatus.INVALID.value:
        headline = "Signature invalid"
    elif worst is Severity.ERROR:
        headline = "Signature " + (signature or "n/a") + ", but the SP will reject this message"
    elif signature == SignatureStatus.VALID.value:
        headline = "Signature valid; no blocking problem found"
    else:
        headline = "Signature " + (signature or "n/a")
    d = report.diagnosis
    return {
        "headline": d.summary if d is not None else headline,
        "side": d.side if d is not None else None,
        "signature": signature,
        "attack": attack,
        "expired": expired,
        "worst": worst.value if worst else None,
        "counts": {s.value: sum(1 for f in report.findings if f.severity is s) for s in Severity},
    }


def _label_attributes(values: dict[str, Any] | None) -> None:
    """Add the catalog's friendly name to each attribute (the SAML FriendlyName stays as sent)."""
    if not values:
        return
    for attr in values["attributes"]:
        claim = claims().get(attr["name"])
        attr["label"] = claim.friendly if claim else None


def _message_json(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = _plain(m)
    _label_attributes(out["trusted"])
    _label_attributes(out["unverified"])
    return out


def to_json(report: Report) -> dict[str, Any]:
    return {
        "schema": report.schema,
        "diagnosis": _plain(report.diagnosis),
        "now": report.now,
        "time_basis": report.time_basis,
        "skew": report.skew,
        "verdict": verdict(report),
        "input": _plain(report.input),
        "messages": [_message_json(m) for m in report.messages],
        "findings": [_plain(f) for f in report.findings],
        "entra_errors": [_plain(e) for e in report.entra_errors],
        "checklist": [_plain(r) for r in report.checklist],
        "flows": [_plain(f) for f in report.flows],
        "timeline": [_plain(t) for t in report.timeline],
        "flow_diagnoses": [_plain(d) for d in report.flow_diagnoses],
        # Only when a sign-in log was given, so reports of other inputs keep their exact shape.
        **({"signins": _plain(report.signins)} if report.signins is not None else {}),
    }


def dumps(report: Report, indent: int | None = 2) -> str:
    """The report as JSON text (UTF-8, key order kept), encoded by msgspec: Python's pure-Python pretty
    printer cost more than the analysis itself."""
    data = msgspec.json.encode(to_json(report))
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
