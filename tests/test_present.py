"""What the page shows, without a browser: chips, facts moved out of the findings list, the time bar's caption,
what could not be checked, values in the wrong box, and compare's differences."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from factory import SP_ENTITY_ID, T0, ResponseSpec, b64, idp_key, make_keypair, metadata, signed_response
from helpers import CORPUS, NOW, entra_settings, run
from webutil import make_app, post_form

from samldebug import trust
from samldebug.certs import Anchor
from samldebug.config import Limits, Settings
from samldebug.diff import compare
from samldebug.pipeline import analyze
from samldebug.web import present

END = T0 + timedelta(hours=1)  # the factory's NotOnOrAfter


def test_chips_name_every_setting_in_effect_and_what_x_clears() -> None:
    fields = {
        "profile": "preset:balenacloud",
        "preset_param": "acme",
        "sp_entity_id": "https://sp.example.com/saml/metadata",
        "required_claims": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress, department",
        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "tenant": "contoso.onmicrosoft.com",
        "app_id": "00000000-0000-0000-0000-000000000001",
        "cert": "-----BEGIN CERTIFICATE-----…",
        "now": "2026-03-01T12:01:00Z",
        "skew": "60",
        "cloud": "global",
        "title": "not a setting",
    }
    chips = present.chips(fields, {"metadata_file": "app.xml"}, key_given=True)
    shown = {c.label: (c.value, c.fields) for c in chips}
    assert shown["Preset"] == ("balenacloud (acme)", ("profile", "preset_param"))
    assert shown["Required claims"][0] == "emailaddress, department"
    assert shown["NameID format"][0] == "emailAddress"
    assert shown["Tenant"] == (
        "contoso.onmicrosoft.com, app 00000000-0000-0000-0000-000000000001",
        ("tenant", "app_id", "cloud"),
    )
    assert shown["IdP metadata"] == ("file app.xml", ("metadata", "metadata_file"))
    assert shown["IdP certificate"][0] == "pasted"  # never the certificate text itself
    assert shown["SP private key"][0] == "given (used for this analysis only)"
    assert shown["Evaluate at"][0] == "2026-03-01T12:01:00Z" and shown["Clock skew"][0] == "60"
    assert "Cloud" not in shown and all("not a setting" not in c.value for c in chips)
    assert present.chips({}) == []


def test_facts_move_to_their_section_and_decisions_stay() -> None:
    md = (CORPUS / "entra/aad_common_federationmetadata.xml").read_bytes()
    from datetime import UTC, datetime

    now = datetime(2017, 3, 20, 16, 0, tzinfo=UTC)
    found = trust.collect([(md, "pasted metadata", None)], [], Limits(), now)
    data = (CORPUS / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_bytes()
    report = analyze(data, found.apply(Settings()), now=now, notes=tuple(found.notes))
    decisions, facts = present.split_findings(report)
    codes = [f.code for f in decisions]
    assert "metadata_self_signed" not in codes and "cert_rollover" not in codes
    assert "metadata_common_endpoint" in codes  # a warning: it needs a decision
    assert {f.code for f in facts[0]["signature"]} >= {"metadata_self_signed", "cert_rollover"}
    assert len(decisions) + sum(len(v) for s in facts.values() for v in s.values()) == len(report.findings)


@pytest.mark.parametrize(
    ("late", "state", "words"),
    [
        (timedelta(minutes=-30), "inside", "Inside the validity window"),
        (timedelta(seconds=1), "within_skew", "only thanks to the 180 s clock-skew allowance"),
        (timedelta(seconds=179), "within_skew", "only thanks to the 180 s clock-skew allowance"),
        (timedelta(seconds=180), "outside", "Outside the validity window"),
    ],
)
def test_time_bar_caption_follows_the_findings_at_the_skew_edges(late: timedelta, state: str, words: str) -> None:
    report = run(signed_response(), now=END + late)
    bar = present.time_bar(report.messages[0], None, report.skew, report.findings)
    assert bar is not None and bar.state == state and words in bar.caption
    assert ("expired" in {f.code for f in report.findings}) == (state == "outside")
    assert bar.skew_x <= bar.band_x and bar.skew_x + bar.skew_w >= bar.band_x + bar.band_w
    assert [m.label for m in bar.marks] == ["NotBefore", "NotOnOrAfter", "Evaluated at"]


def test_not_checked_offers_one_field_each() -> None:
    report = run(signed_response(), Settings())
    offers = {n.field: n.offer for n in present.not_checked(report, Settings())}
    assert offers["sp_entity_id"] == "Add the SP's entity ID to check the Audience"
    assert set(offers) == {"sp_entity_id", "acs_url", "required_claims", "metadata_url"}
    full = entra_settings(required_claims=("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",))
    assert present.not_checked(run(signed_response(), full), full) == []
    assert present.not_checked(report, None) == []  # a permalink: the settings are not known


def test_uris_become_code_and_text_stays_escaped() -> None:
    out = str(present.uris("named http://x.example/a?b=<c> & urn:oasis:names:tc:SAML:2.0:x here"))
    assert out == (
        "named <code>http://x.example/a?b=</code>&lt;c&gt; &amp; <code>urn:oasis:names:tc:SAML:2.0:x</code> here"
    )


def test_wrong_box_named_in_the_page_without_javascript(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = make_app(tmp_path).test_client()
    r = post_form(client, "/analyze", {"input": "", "metadata": b64(signed_response()), "cert": metadata().decode()})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nothing to analyse" in html
    assert "The box for the IdP metadata holds a SAML Response (base64): it belongs in the message to analyse." in html
    assert "The box for the IdP signing certificate holds IdP metadata for" in html
    assert "Move it to the “Paste a SAMLResponse…” box." in html and 'data-move-to="metadata"' in html
    r = post_form(client, "/analyze", {"input": idp_key().key_pem.decode()})
    html = r.get_data(as_text=True)
    assert "holds a private key" in html and "BEGIN PRIVATE KEY" not in html  # the key is never echoed


def test_compare_has_no_false_differences_and_decisive_first() -> None:
    signed_assertion = run(signed_response("assertion"))
    signed_response_only = run(signed_response("response"))
    fields = [d.field for d in compare(signed_assertion, signed_response_only)]
    assert "status" not in fields and "issuer" not in fields and "audience" not in fields, fields
    a = run(signed_response())
    spec = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
    spec.attributes["http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"] = ["g1"]
    b = run(signed_response(spec=spec), entra_settings(anchors=(Anchor(make_keypair().cert, "x"),)))
    diffs = compare(a, b)
    decisive = [d.decisive for d in diffs]
    assert decisive == sorted(decisive, reverse=True)  # every decisive one before the rest
    assert diffs[0].decisive and any(d.field == "audience" for d in diffs if d.decisive)
    assert any(not d.decisive and "groups" in d.field for d in diffs)
    for d in diffs:
        assert d.a != d.b or d.a is None, d  # identical values are never a difference
        assert d.hint, d  # every difference this engine reports has a hint
    assert any(d.a is None and d.b == "g1" for d in diffs)  # absent on A, present on B


def test_compare_page_each_side_its_own_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = make_app(tmp_path).test_client()
    data = {
        "input_a": b64(signed_response()),
        "input_b": b64(signed_response()),
        "now_a": "2026-03-01T12:01:00Z",
        "now_b": "2026-03-02T12:00:00Z",  # B a day later: expired
        "sp_entity_id": SP_ENTITY_ID,
    }
    html = post_form(client, "/compare", data).get_data(as_text=True)
    assert "Judged at 2026-03-01T12:01:00Z (the time you gave)" in html
    assert "Judged at 2026-03-02T12:00:00Z (the time you gave)" in html
    decisive = html[
        html.index('id="h-differences"') : html.index("other-differences") if "other-differences" in html else None
    ]
    assert re.search(r"expired", decisive)
    r = post_form(client, "/compare", dict(data, now_b="yesterday"))
    assert r.status_code == 400 and "'now_b' must be an ISO 8601 time" in html_lib.unescape(r.get_data(as_text=True))
    assert NOW  # the app's clock is the fixtures' "now"
