"""The diagnosis in the shells: "Copy for ticket" on every report, /analyze.txt, `--format ticket`, permalinks made
before schema /2 still open (with a diagnosis), and no evaluation time means "judged where the SP judged it"."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from factory import SP_ENTITY_ID, T0, ResponseSpec, b64, build_response, metadata, sign, signed_response
from webutil import CLOCK, make_app, post_form

from samldebug.cli import main

STORED_V1 = Path(__file__).parent / "data" / "stored-report-v1.json"


@pytest.fixture
def app(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    application = make_app(tmp_path, database_url=database_url, CLOCK=lambda: CLOCK)
    yield application
    store = application.extensions.get("samldebug.store")
    if store is not None:
        store.dispose()


def _audience_form() -> dict[str, str]:
    return {
        "input": b64(sign(build_response(ResponseSpec(audience=SP_ENTITY_ID + "/")))),
        "metadata": metadata().decode(),
        "sp_entity_id": SP_ENTITY_ID,
        "now": "2026-03-01T12:01:00Z",
    }


def test_every_report_has_copy_for_ticket_and_the_banner_is_the_summary(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = post_form(client, "/analyze", _audience_form()).get_data(as_text=True)
    headline = re.search(r'<div class="headline">(.*?)</div>', page, re.S)
    assert headline and "The Audience (Entra&#39;s Identifier (Entity ID)) is" in headline.group(1)
    assert 'id="copy-ticket"' in page and 'data-copy="#diagnosis-ticket"' in page
    ticket = re.search(r'<pre id="diagnosis-ticket">(.*?)</pre>', page, re.S)
    assert ticket is not None
    text = html_lib.unescape(ticket.group(1))
    assert text.startswith("The Audience (Entra's Identifier (Entity ID)) is `https://sp.example.com/saml/metadata/`")
    assert "Where: Enterprise applications → <app> → Single sign-on → Basic SAML Configuration" in text
    # The same text as /analyze.txt.
    plain = post_form(client, "/analyze.txt", _audience_form())
    assert plain.status_code == 200 and plain.mimetype == "text/plain"
    assert plain.get_data(as_text=True) == text


def test_json_leads_with_the_diagnosis(app) -> None:  # type: ignore[no-untyped-def]
    doc = post_form(app.test_client(), "/analyze.json", _audience_form()).get_json()
    assert list(doc)[:2] == ["schema", "diagnosis"] and doc["schema"] == "samldebug.report/2"
    assert doc["diagnosis"]["code"] == "audience_mismatch" and doc["diagnosis"]["side"] == "entra"
    assert doc["verdict"]["headline"] == doc["diagnosis"]["summary"]


def test_without_evaluation_time_the_page_judges_at_issue(tmp_path: Path) -> None:
    later = make_app(tmp_path, CLOCK=lambda: T0 + timedelta(days=272))  # the ticket is worked on months later
    form = {"input": b64(signed_response()), "metadata": metadata().decode(), "sp_entity_id": SP_ENTITY_ID}
    doc = post_form(later.test_client(), "/analyze.json", form).get_json()
    assert doc["time_basis"] == "issue" and doc["diagnosis"]["code"] == "healthy"
    assert not any(f["code"] == "expired" for f in doc["findings"])
    assert any(f["code"] == "expired_now" for f in doc["findings"])


def test_a_permalink_stored_as_v1_still_opens(app) -> None:  # type: ignore[no-untyped-def]
    """A /1 report stored before this release: the page, .json and .txt open, led by a diagnosis."""
    stored = json.loads(STORED_V1.read_text(encoding="utf-8"))
    assert stored["report"]["schema"] == "samldebug.report/1"
    store = app.extensions["samldebug.store"] if "samldebug.store" in app.extensions else None
    with app.app_context():
        from samldebug.web.context import store as get_store

        store = get_store()
        created = store.create(
            json.dumps(stored).encode(), now=CLOCK, expires_at=CLOCK + timedelta(days=1), redaction="identity"
        )
    client = app.test_client()
    base = f"/r/{created.id}/{created.key}"
    page = client.get(base)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Ticket 4711: audience" in body and 'id="copy-ticket"' in body
    assert "https://sp.example.com/saml/metadata/" in body
    doc = client.get(base + ".json").get_json()
    assert doc["schema"] == "samldebug.report/1"  # the stored document, as stored
    text = client.get(base + ".txt").get_data(as_text=True)
    lines = text.splitlines()
    assert lines[0].startswith("Ticket 4711: audience") and lines[2].startswith("The Audience")
    assert f"Full report: http://localhost{base}" in text


def test_cli_ticket_format_and_default_time_basis(tmp_path: Path) -> None:
    path = tmp_path / "r.b64"
    path.write_text(b64(sign(build_response(ResponseSpec(audience=SP_ENTITY_ID + "/")))))
    md = tmp_path / "md.xml"
    md.write_bytes(metadata())
    r = CliRunner().invoke(
        main, ["analyze", str(path), "--metadata", str(md), "--sp-entity-id", SP_ENTITY_ID, "--format", "ticket"]
    )
    assert r.exit_code == 1, r.output  # an error finding
    first = r.output.splitlines()[0]
    assert first.startswith("The Audience (Entra's Identifier (Entity ID)) is `https://sp.example.com/saml/metadata/`")
    assert "trailing slash" in first and "Judged at the message's own IssueInstant" in r.output
    # No --now: judged at its own IssueInstant, so a message from March is not "expired" today.
    r2 = CliRunner().invoke(main, ["analyze", b64(signed_response()), "--metadata", str(md), "--format", "json"])
    doc = json.loads(r2.output)
    assert r2.exit_code == 0 and doc["time_basis"] == "issue" and doc["diagnosis"]["code"] == "healthy"
    r3 = CliRunner().invoke(
        main,
        ["analyze", b64(signed_response()), "--metadata", str(md), "--format", "json", "--now", "2026-12-01T00:00:00Z"],
    )
    assert json.loads(r3.output)["diagnosis"]["code"] == "expired"


def test_a_redacted_permalink_keeps_no_identity_in_its_diagnosis(app) -> None:  # type: ignore[no-untyped-def]
    """The diagnosis names values (the NameID of a healthy sign-in): redaction masks them there too."""
    client = app.test_client()
    form = {
        "input": b64(signed_response()),
        "metadata": metadata().decode(),
        "sp_entity_id": SP_ENTITY_ID,
        "now": "2026-03-01T12:01:00Z",
        "redact": "identity",
        "expires_in": "1d",
    }
    html = post_form(client, "/share", form).get_data(as_text=True)
    link = re.search(r'id="permalink" readonly value="([^"]+)"', html)
    assert link is not None
    path = link.group(1).replace("http://localhost", "")
    doc = client.get(path + ".json").get_json()
    assert doc["diagnosis"]["code"] == "healthy" and "[redacted-" in doc["diagnosis"]["summary"]
    for part in (
        json.dumps(doc),
        client.get(path + ".txt").get_data(as_text=True),
        client.get(path).get_data(as_text=True),
    ):
        assert "alice@contoso.example" not in part


def test_the_ticket_names_the_instant_each_message_was_judged_at_not_the_wall_clock(tmp_path: Path) -> None:
    """No evaluation time: the ticket's 'Judged at …' line gives the message's IssueInstant (or, for a capture, the
    ACS POST's time), never the day the ticket was worked on."""
    import harfactory as hf

    from samldebug.config import Settings
    from samldebug.pipeline import analyze
    from samldebug.ticket import ticket_text

    path = tmp_path / "r.b64"
    path.write_text(b64(signed_response()))
    r = CliRunner().invoke(main, ["analyze", str(path), "--format", "ticket"])
    last = r.output.splitlines()[-1]
    assert "Judged at the message's own IssueInstant (no evaluation time was given): 2026-03-01T12:00:00Z" in last
    wall = T0 + timedelta(days=272)
    report = analyze(hf.dumps(hf.har(hf.sp_initiated())), Settings(), now=wall, at_message_time=True)
    last = ticket_text(report).splitlines()[-1]
    assert "(capture times): 2026-03-01T12:00:01Z, 2026-03-01T12:00:21Z " in last
    assert "2026-11-28" not in last


def test_compare_shows_the_issue_instant_a_pasted_message_was_judged_at(app) -> None:  # type: ignore[no-untyped-def]
    old = b64(sign(build_response(ResponseSpec(issued=T0 - timedelta(days=30)))))
    r = post_form(app.test_client(), "/compare", {"input_a": old, "input_b": old})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Judged at 2026-01-30T12:00:00Z (the message&#39;s own IssueInstant)" in page


def test_compare_says_a_capture_is_judged_at_receipt_even_with_a_time_given(app) -> None:  # type: ignore[no-untyped-def]
    """A capture is judged when the SP received each message (the pipeline ignores 'evaluate at' for it): the page
    must not claim it was judged at the time given."""
    import harfactory as hf

    capture = hf.dumps(hf.har(hf.sp_initiated())).decode()
    form = {"input_a": capture, "now_a": "2026-03-04T00:00:00Z", "input_b": capture}
    page = post_form(app.test_client(), "/compare", form).get_data(as_text=True)
    sides = re.findall(r'class="muted side-time">([^<]*)<', page)
    assert len(sides) == 2 and all("when the capture received it" in s for s in sides), sides
    assert "the time you gave" not in " ".join(sides)


def test_an_unusable_input_is_not_called_nothing_to_fix() -> None:
    from samldebug.pipeline import analyze
    from samldebug.ticket import ticket_text

    text = ticket_text(analyze(b"<samlp:Response garbage <<<", now=CLOCK))
    assert "Fix on: nothing to fix" not in text
    assert "Fix on: nothing in the sign-in setup: the input itself" in text
