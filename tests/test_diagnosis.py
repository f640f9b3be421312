"""The diagnosis as a model (root causes over symptoms, SP requirements as errors, scope on error
responses), the knowledge behind it as data that cannot drift, and the stored /1 reports that must still open."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from factory import T0, ResponseSpec, b64, build_response, other_key, sign, signed_response
from helpers import NOW, entra_settings, run

from samldebug import catalog, checklist, diagnosis
from samldebug.catalog import finding
from samldebug.diagnosis import Facts, diagnose, rank
from samldebug.model import SCHEMA_ID, Finding, Severity
from samldebug.pipeline import analyze
from samldebug.report import from_json, to_json, to_text
from samldebug.ticket import ticket_text

ROOT = Path(__file__).resolve().parent.parent
STORED_V1 = Path(__file__).parent / "data" / "stored-report-v1.json"


def codes_ranked(found: list[Finding]) -> list[str]:
    return [f.code for _, f in rank(found, (), Facts())]


# --- the knowledge is data, and it holds together ------------------------------------------------------------


def test_every_code_and_row_the_checklist_and_diagnosis_name_exists() -> None:
    """A code the checklist or the diagnosis names must be in the catalog; a row an AADSTS entry names must be a
    checklist row (and have a portal path)."""
    rules = diagnosis.rules()  # validates diagnosis.toml against findings.toml and aadsts.toml
    for entry in catalog.aadsts().values():
        for row in entry.checklist:
            assert row in checklist.ROWS and row in rules.rows, (entry.code, row)
    assert set(rules.rows) == set(checklist.ROWS)
    # Any AADSTS code written in the checklist or diagnosis source must exist in the catalog.
    for module in ("checklist.py", "diagnosis.py"):
        text = (ROOT / "samldebug" / module).read_text(encoding="utf-8")
        for code in re.findall(r'"(\d{5,7})"', text):
            assert code in catalog.aadsts(), f"{module} names AADSTS{code}, which the catalog lacks"


def test_issue_corrections_are_in_the_catalog_data() -> None:
    a = catalog.aadsts()
    assert a["75011"].checklist == ("sp.authn_context",) and diagnosis.aadsts_side("75011") == "sp"
    for code in ("50020", "50034", "90072"):
        assert a[code].checklist == ("users.in_tenant",)
    assert a["65001"].checklist == ("users.consent",)
    for code in ("50131", "50005", "50097", "530032", "530035"):
        assert "ca.policies" in a[code].checklist
    assert a["50011"].checklist == ("basic.reply_url",) and a["700016"].checklist == ("basic.identifier",)
    assert "newly created" not in a["50056"].cause
    assert a["7500529"].note and "digit" in a["7500529"].note
    assert a["75008"].note and "disagree" in a["75008"].note
    assert any("App registrations" in step for step in a["50011"].fix)
    for code in ("500121", "530004", "53011", "50187", "900561", "50177", "50178", "50180"):
        assert code in a and a[code].sources, code


def test_balena_preset_follows_balenas_docs() -> None:
    from samldebug.profiles import presets

    preset = presets()["balenacloud"]
    assert all(s.startswith("https://docs.balena.io/") for s in preset.sources) and preset.sources
    p = preset.profile(sso_identifier="acme")
    assert p.jit_provisioning is False and p.required_claims == ()
    assert p.name_id_source == "user.mail" and p.name_id_note and "e-mail" in p.name_id_note
    assert p.sign_on_url == "https://dashboard.balena-cloud.com/saml/acme"
    steps = " ".join(p.steps_sp)
    assert "Add Identity Provider" in steps and "Enterprise plan" in steps and "Enterprise SSO" in steps
    assert "just-in-time" not in steps and "objectid" not in " ".join(p.steps_entra)


# --- ranking as a model --------------------------------------------------------------------------------------


def test_root_causes_outrank_their_symptoms() -> None:
    aadsts = Finding("aadsts_error", Severity.ERROR, "AADSTS50105: …", actual="AADSTS50105")
    status = finding("idp_error_status", actual="Requester")
    assert codes_ranked([status, aadsts]) == ["aadsts_error"]  # the status is evidence, not a candidate
    enc, weak = finding("encrypted"), finding("weak_data_encryption")
    assert codes_ranked([weak, enc])[0] == "encrypted" and "weak_data_encryption" not in codes_ranked([weak, enc])
    rolled, unknown = finding("cert_rolled"), finding("signed_by_unknown_key")
    assert codes_ranked([unknown, rolled]) == ["cert_rolled"]


def test_an_unmet_sp_requirement_is_an_error() -> None:
    from samldebug.profiles import Profile

    only_response = finding("response_only_signed")  # info on its own
    assert codes_ranked([only_response]) == []  # without a requirement the SP accepts it: not a problem
    settings = replace(entra_settings(), profile=Profile(name="sp", signing="assertion"))
    report = run(signed_response("response"), settings)
    assert report.has("signing_requirement_unmet")
    d = report.diagnosis
    assert d is not None and d.code == "signing_requirement_unmet" and d.severity == "error"
    # A stored report holding only the older info finding is ranked the same way when the SP's rule is known.
    old = [f for f in report.findings if f.code != "signing_requirement_unmet"] + [only_response.at(0)]
    d1 = diagnose(old, report.messages, facts=Facts(signing="assertion"))
    assert d1.code == "response_only_signed" and d1.severity == "error"


def test_error_response_runs_no_claim_nameid_or_signing_checks() -> None:
    spec = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        status_message="AADSTS50105: The signed in user is not assigned to a role for the application.",
        with_assertion=False,
    )
    settings = entra_settings(
        required_claims=("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",),
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    report = run(b64(build_response(spec)), settings)  # unsigned, no assertion
    found = {f.code for f in report.findings}
    assert not found & {"claim_missing", "name_id_missing", "name_id_format_mismatch", "unsigned_assertion"}
    assert report.diagnosis is not None and report.diagnosis.code == "aadsts_error"
    assert report.findings[0].code == "aadsts_error" or report.diagnosis.summary.startswith("Entra refused")


def test_healthy_sign_in_says_so_and_invents_nothing() -> None:
    report = run(signed_response())
    d = report.diagnosis
    assert d is not None and d.code == "healthy" and d.side == "none" and d.fix == ()
    assert to_json(report)["verdict"]["headline"] == d.summary


# --- time judged where the SP judged it ----------------------------------------------------------------------


def test_pasted_message_without_evaluation_time_is_judged_at_its_issue_instant() -> None:
    later = T0 + timedelta(days=272)
    report = analyze(signed_response(), entra_settings(), now=later, at_message_time=True)
    assert not report.has("expired") and report.has("expired_now")
    assert report.time_basis == "issue" and report.messages[0].evaluated_at == "2026-03-01T12:00:00Z"
    assert report.diagnosis is not None and report.diagnosis.code == "healthy"
    assert any("Expired now" in n and "272 d" in n for n in report.diagnosis.notes)
    # An explicit evaluation time wins.
    explicit = analyze(signed_response(), entra_settings(), now=later)
    assert explicit.has("expired") and explicit.diagnosis is not None and explicit.diagnosis.code == "expired"


# --- the output leads with it --------------------------------------------------------------------------------


def test_json_text_and_ticket_lead_with_the_diagnosis() -> None:
    report = run(b64(sign(build_response(ResponseSpec(audience="https://sp.example.com/saml/metadata/")))))
    d = report.diagnosis
    assert d is not None and d.code == "audience_mismatch"
    doc = to_json(report)
    assert list(doc)[:2] == ["schema", "diagnosis"] and doc["schema"] == SCHEMA_ID
    assert doc["diagnosis"]["summary"] == d.summary == doc["verdict"]["headline"]
    assert to_text(report).splitlines()[0] == d.summary
    text = ticket_text(report, permalink="https://debug.example/r/abc/key")
    assert text.startswith(d.summary)
    assert "Where: Enterprise applications → <app> → Single sign-on → Basic SAML Configuration" in text
    assert "Full report: https://debug.example/r/abc/key" in text
    assert "verified by SHA-1" in text  # the thumbprint of the verifying certificate


def test_ticket_text_carries_trace_and_correlation_ids() -> None:
    page = (
        "AADSTS50105: Your administrator has configured the application to block users unless they are assigned.\n"
        "Trace ID: 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9\nCorrelation ID: 9f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19\n"
        "Timestamp: 2026-03-01 12:00:05Z"
    )
    report = analyze(page, entra_settings(), now=NOW)
    text = ticket_text(report)
    assert "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9" in text and "9f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19" in text
    assert text.splitlines()[0].startswith("Entra refused the sign-in with AADSTS50105")


# --- schema /2 and stored /1 reports -------------------------------------------------------------------------


def test_a_stored_v1_report_still_opens_with_a_diagnosis() -> None:
    stored = json.loads(STORED_V1.read_text(encoding="utf-8"))
    assert stored["report"]["schema"] == "samldebug.report/1" and "diagnosis" not in stored["report"]
    report = from_json(stored["report"])
    assert report.schema == SCHEMA_ID
    assert report.diagnosis is not None and report.diagnosis.code == "audience_mismatch"
    assert "https://sp.example.com/saml/metadata/" in report.diagnosis.summary
    again = from_json(to_json(report))  # and a /2 round trip keeps it
    assert again.diagnosis == report.diagnosis


def test_v2_round_trip_keeps_flow_diagnoses_and_time_basis() -> None:
    import harfactory as hf

    report = analyze(hf.dumps(hf.har(hf.sp_initiated())), entra_settings(), now=T0 + timedelta(days=3))
    assert report.time_basis == "capture" and len(report.flow_diagnoses) == len(report.flows) == 1
    again = from_json(json.loads(json.dumps(to_json(report))))
    assert again.flow_diagnoses == report.flow_diagnoses and again.time_basis == "capture"


def test_signed_by_an_unknown_key_is_the_sps_certificate() -> None:
    report = run(b64(sign(build_response(ResponseSpec()), "assertion", keypair=other_key())))
    d = report.diagnosis
    assert d is not None and d.code in ("signed_by_unknown_key", "cert_rolled") and d.side == "sp"


def test_sp_library_line_with_http_is_fixed_at_the_sp() -> None:
    line = "The response was received at http://app.example/acs instead of https://app.example/acs"
    report = analyze(line, None, now=NOW)
    d = report.diagnosis
    assert d is not None and d.code == "sp_url_behind_proxy" and d.side == "sp" and "X-Forwarded-Proto" in d.where
    assert not any("Add the exact URL" in s for s in d.fix)
    rows = {r.item: r.state for r in report.checklist}
    assert rows["Reply URL = Recipient / Destination / request ACS URL"] != "fail"  # Entra's Reply URL is right


def test_checklist_rows_follow_the_catalog_per_code() -> None:
    def rows(text: str) -> dict[str, str]:
        return {f"{r.step}: {r.item}": r.state for r in analyze(text, None, now=NOW).checklist}

    r75011 = rows("AADSTS75011: Authentication method 'X509' doesn't match requested authentication method.")
    assert r75011["SP request: RequestedAuthnContext fits how users sign in"] == "fail"
    assert r75011["Conditional Access: Sign-in meets the policies"] != "fail"
    r50020 = rows("AADSTS50020: User account 'bob@fabrikam.example' from identity provider 'x' does not exist.")
    assert r50020["Users and groups: The user is a member or an invited guest of the tenant"] == "fail"
    assert "Users and groups: The user may use the app" not in r50020
    r65001 = rows("AADSTS65001: The user or administrator has not consented to use the application.")
    assert r65001["Users and groups: Consent to the app's permissions"] == "fail"
    assert "Users and groups: The user may use the app" not in r65001
    r50131 = rows("AADSTS50131: Conditional Access failed.")
    assert r50131["Conditional Access: Sign-in meets the policies"] == "fail"
    r50011 = analyze(
        "AADSTS50011: The redirect URI 'https://app.example/acs/' specified in the request does not match.",
        None,
        now=NOW,
    ).checklist
    reply = next(r for r in r50011 if r.item.startswith("Reply URL"))
    assert reply.state == "fail" and reply.seen == "https://app.example/acs/"


def test_findings_list_follows_the_model() -> None:
    """The AADSTS code above the bare error status; encrypted above its algorithm warning."""
    spec = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        status_message="AADSTS50105: The signed in user is not assigned to a role for the application.",
        with_assertion=False,
    )
    report = run(b64(sign(build_response(spec), "response")))
    codes = [f.code for f in report.findings]
    assert codes.index("aadsts_error") < codes.index("idp_error_status")
    ordered = diagnosis.order([finding("weak_data_encryption"), finding("encrypted")])
    assert [f.code for f in ordered] == ["encrypted", "weak_data_encryption"]
    ranks = [f.severity.rank for f in report.findings]
    assert ranks == sorted(ranks, reverse=True)  # still worst severity first


def test_verdict_chip_describes_the_response_in_a_capture() -> None:
    import harfactory as hf

    from samldebug.report import verdict

    report = analyze(hf.dumps(hf.har(hf.sp_initiated())), entra_settings(), now=T0 + timedelta(days=3))
    assert report.messages[0].kind == "authn_request"
    assert verdict(report)["signature"] == "valid"


def test_a_relay_state_masked_at_export_compares_by_hash() -> None:
    """SAML-tracer's export filter hides the RelayState; its hash still compares with the expected one."""
    import harfactory as hf

    from samldebug.profiles import Profile

    flow = hf.sp_initiated()
    doc = hf.saml_tracer(flow, export_filter="hash")
    settings = replace(entra_settings(), profile=Profile(name="sp", relay_state=flow.relay_state))
    report = analyze(hf.dumps(doc), settings, now=T0 + timedelta(days=3), at_message_time=True)
    assert report.has("relay_state_hidden") and not report.has("relay_state_lost")
    assert report.diagnosis is not None and any("hidden at export" in n for n in report.diagnosis.notes)
    # The checklist's Relay State row compares a masked value by its hash.
    import hashlib

    masked = "{hash:" + hashlib.sha256(flow.relay_state.encode()).hexdigest() + "}"
    row = next(r for r in checklist.build([], [], [], settings, masked) if r.item == "Relay State")
    assert row.state == "ok" and row.note is not None and "hash matches" in row.note
    wrong = replace(settings, profile=Profile(name="sp", relay_state="https://sp.example.com/other"))
    row = next(r for r in checklist.build([], [], [], wrong, masked) if r.item == "Relay State")
    assert row.state == "fail"
