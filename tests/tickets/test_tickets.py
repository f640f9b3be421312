"""Each realistic ticket gets the right diagnosis, side and place, names the values, and
never gives a wrong fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factory import T0

from samldebug.model import Diagnosis, Report
from samldebug.pipeline import analyze
from tickets.tickets import TICKETS, Ticket

WALL = T0 + timedelta(days=272)  # the day the ticket is worked on: long after the sign-in


def diagnose(t: Ticket) -> tuple[Report, Diagnosis]:
    if t.now is None:  # no evaluation time given: judged where the SP judged it
        report = analyze(t.make(), t.settings(), now=WALL, at_message_time=True)
    else:
        report = analyze(t.make(), t.settings(), now=t.now)
    assert not report.has("internal_error"), report.findings
    assert report.diagnosis is not None
    return report, report.diagnosis


@pytest.mark.parametrize("t", TICKETS, ids=[t.name for t in TICKETS])
def test_ticket(t: Ticket) -> None:
    report, d = diagnose(t)
    shown = f"{d.code} / {d.side} / {d.where}\n{d.summary}\nfix: {d.fix}\nnotes: {d.notes}"
    assert d.code == t.code, shown
    assert d.side == t.side, shown
    assert t.where in d.where, shown
    for value in t.names:
        assert value in d.summary, f"summary must name {value!r}\n{shown}"
    said = [*d.fix, d.where]
    for wrong in t.never:
        assert not any(wrong.lower() in s.lower() for s in said), f"must never advise {wrong!r}\n{shown}"
    for step in t.fix_has:
        assert any(step in s for s in d.fix), f"a fix step must say {step!r}\n{shown}"
    for note in t.notes:
        assert any(note in n for n in d.notes), f"a note must say {note!r}\n{shown}"
    if t.flow_codes is not None:
        assert tuple(f.code for f in report.flow_diagnoses) == t.flow_codes


def test_at_least_thirty_tickets() -> None:
    assert len(TICKETS) >= 30
    kinds = {t.name.split(":")[0] for t in TICKETS}
    assert len(kinds) > 20
