"""Notes that only hold for some values of a cause are shown only for those values."""

from __future__ import annotations

from helpers import run

from samldebug.config import Settings

HTTPS = (
    "AADSTS50011: The redirect URI 'https://app.example.com/saml/acs' specified in the request does not match the "
    "redirect URIs configured for the application '11111111-2222-3333-4444-555555555555'."
)


def test_the_http_reply_url_note_is_not_shown_for_an_https_url() -> None:
    report = run(HTTPS, Settings())
    assert report.diagnosis is not None
    assert report.diagnosis.code == "aadsts_error"
    assert not any("http://" in n and "localhost" in n for n in report.diagnosis.notes), report.diagnosis.notes


def test_the_http_reply_url_note_stays_for_an_http_url() -> None:
    report = run(HTTPS.replace("https://app", "http://app"), Settings())
    assert report.diagnosis is not None
    assert any("localhost" in n for n in report.diagnosis.notes), report.diagnosis.notes


def test_text_without_a_time_says_it_was_judged_at_the_time_of_the_analysis(tmp_path) -> None:
    from click.testing import CliRunner

    from samldebug.cli import main

    path = tmp_path / "ticket.txt"
    path.write_text(HTTPS)
    out = CliRunner().invoke(main, ["analyze", str(path), "--format", "ticket"]).output
    assert "at the evaluation time given" not in out
    assert "at the time of the analysis" in out
