"""The text a support engineer pastes into a ticket: the diagnosis first (summary, side, where, the steps), then
the key evidence (values, thumbprints, trace / correlation IDs), then the permalink when there is one.

The same text is "Copy for ticket" on every report, `/analyze.txt`, a permalink's `.txt`, and
`samldebug analyze --format ticket`. Pure: Report → str.
"""

from __future__ import annotations

from .diagnosis import HEALTHY, attach
from .model import Diagnosis, Report

SIDE_LABELS = {
    "entra": "Microsoft Entra ID (the app's configuration in the tenant)",
    "sp": "the service provider (the application or its SAML settings)",
    "user": "the user, their account or browser",
    "network": "the path between browser, Entra and the SP (proxy, WAF, rewriting)",
    "attack": "nobody: this message is an attack and must be rejected",
    "none": "nothing to fix",
}

_TIME_BASIS = {
    "given": "at the evaluation time given",
    "issue": "at the message's own IssueInstant (no evaluation time was given)",
    "capture": "when the SP received each message (capture times)",
    "clock": "at the time of the analysis (no evaluation time was given and the input carries none)",
}


def side_label(d: Diagnosis) -> str:
    """Who fixes it. Side `none` is "nothing to fix" only for a healthy sign-in; for an input that could not be
    used (not well-formed, not SAML, nothing to analyse) the sign-in setup has nothing to fix, but the input has."""
    if d.side == "none" and d.code != HEALTHY:
        return "nothing in the sign-in setup: the input itself (see above)"
    return SIDE_LABELS.get(d.side, d.side)


def ticket_text(report: Report, permalink: str | None = None, title: str | None = None) -> str:
    if report.diagnosis is None:
        report = attach(report)
    d = report.diagnosis
    assert d is not None
    lines: list[str] = []
    if title:
        lines += [title, ""]
    lines.append(d.summary)
    lines.append("")
    lines.append(f"Fix on: {side_label(d)}")
    lines.append(f"Where: {d.where}")
    if d.fix:
        lines.append("Steps:")
        lines += [f"  {i}. {step}" for i, step in enumerate(d.fix, 1)]
    if report.flow_diagnoses:
        lines.append("Sign-in steps in the capture:")
        for fd in report.flow_diagnoses:
            flow = report.flows[fd.flow] if fd.flow is not None and fd.flow < len(report.flows) else None
            name = flow.name if flow else "flow"
            lines.append(f"  - {name}: {fd.summary}")
    evidence = list(d.evidence)
    for e in report.entra_errors:
        for label, value in (
            ("Trace ID", e.trace_id),
            ("Correlation ID", e.correlation_id),
            ("Timestamp", e.timestamp),
        ):
            if value and not any(value in x for x in evidence):
                evidence.append(f"AADSTS{e.code} {label}: {value}")
    if evidence:
        lines.append("Evidence:")
        lines += [f"  - {x}" for x in evidence]
    if d.notes:
        lines.append("Notes:")
        lines += [f"  - {x}" for x in d.notes]
    basis = _TIME_BASIS.get(report.time_basis, report.time_basis)
    lines.append(f"Judged {basis}: {judged_at(report)} (clock skew {report.skew} s). Diagnosis code: {d.code}.")
    if permalink:
        lines.append(f"Full report: {permalink}")
    return "\n".join(lines) + "\n"


def judged_at(report: Report) -> str:
    """The instant(s) the time checks used: the given time, or (no time given) each message's own IssueInstant or
    receipt time; `report.now` is then only the wall clock, never the instant a message was judged at."""
    if report.time_basis in ("issue", "capture"):
        instants = list(dict.fromkeys(m.evaluated_at for m in report.messages if m.evaluated_at))
        if instants:
            more = f" and {len(instants) - 3} more" if len(instants) > 3 else ""
            return ", ".join(instants[:3]) + more
    return report.now


__all__ = ["SIDE_LABELS", "judged_at", "side_label", "ticket_text"]
