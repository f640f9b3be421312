"""Captures end to end: in every producer's shape give the same flows and verdicts, judged at the time
the browser sent each message; flows are paired and checked; sanitized captures stay diagnosable."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import harfactory as hf
import pytest
from click.testing import CliRunner
from factory import ResponseSpec
from helpers import codes, entra_settings

from samldebug.cli import main
from samldebug.pipeline import analyze
from samldebug.sanitize import sanitize_har

LATER = hf.T0 + timedelta(days=30)  # "now": long after the capture


def run_capture(data: bytes, settings=None, now=LATER, entry=None):  # type: ignore[no-untyped-def]
    report = analyze(data, settings or entra_settings(), now=now, entry=entry)
    assert not report.has("internal_error"), report.findings
    return report


def summary(report):  # type: ignore[no-untyped-def]
    flows = [
        (
            f.kind,
            report.messages[f.request].kind if f.request is not None else None,
            report.messages[f.response].kind if f.response is not None else None,
        )
        for f in report.flows
    ]
    verdicts = [m.signature.status.value for m in report.messages if m.signature]
    return flows, verdicts


@pytest.mark.parametrize("shape", ["chrome", "firefox", "safari", "saml-tracer"])
def test_every_shape_gives_the_same_flows_and_verdicts(shape: str) -> None:
    flow = hf.sp_initiated()
    data = hf.dumps(hf.saml_tracer(flow)) if shape == "saml-tracer" else hf.dumps(hf.har(flow, shape))
    report = run_capture(data, now=hf.T0 + timedelta(minutes=1) if shape == "saml-tracer" else LATER)
    flows, verdicts = summary(report)
    assert flows == [("sp-initiated", "authn_request", "response")]
    response = next(m for m in report.messages if m.kind == "response")
    assert response.signature.status.value == "valid" and response.trusted is not None
    assert report.input.steps[0] == "capture" and report.input.capture["dropped"]["cookies"] > 0
    assert len(report.timeline) >= 2
    if shape == "saml-tracer":
        assert "capture_time_unknown" in codes(report)
    else:
        assert response.evaluated_at != report.now  # judged when the browser posted it, not today
        assert "expired" not in {f.code for f in report.findings if f.message == response.index}
        assert "valid_when_captured" in codes(report)


def test_idp_initiated_flow_is_named() -> None:
    report = run_capture(hf.dumps(hf.har(hf.idp_initiated(), "chrome")))
    assert [f.kind for f in report.flows] == ["idp-initiated"]
    assert "idp_initiated" in codes(report)


def test_error_flow_shows_entra_errors_in_the_timeline() -> None:
    report = run_capture(hf.dumps(hf.har(hf.error_flow(), "chrome")))
    assert {e.code for e in report.entra_errors} >= {"50011"}
    assert any(t.kind == "error" for t in report.timeline)
    assert any(f.code == "aadsts_error" and f.title.startswith("AADSTS50011") for f in report.findings)


def test_pair_checks() -> None:
    import random

    # sp_initiated(seed=1) draws its request ID first from random.Random(1): answer exactly that request.
    request_id = f"id-{random.Random(1).getrandbits(128):032x}"
    spec = ResponseSpec(
        in_response_to=request_id,
        recipient="https://other.example.com/acs",
        destination="https://other.example.com/acs",
        audience="urn:someone-else",
    )
    flow = hf.sp_initiated(seed=1, response_spec=spec)
    report = run_capture(hf.dumps(hf.har(flow, "chrome")))
    assert [f.kind for f in report.flows] == ["sp-initiated"] and report.flows[0].request is not None
    assert {"flow_acs_mismatch", "flow_audience_mismatch", "relay_state_lost"} & codes(report) >= {
        "flow_acs_mismatch",
        "flow_audience_mismatch",
    }
    acs = next(f for f in report.findings if f.code == "flow_acs_mismatch")
    assert acs.actual == "https://other.example.com/acs"


def test_unanswered_request_and_unmatched_response() -> None:
    flow = hf.sp_initiated(response_spec=ResponseSpec(in_response_to="id-not-in-capture"))
    report = run_capture(hf.dumps(hf.har(flow, "chrome")))
    assert "in_response_to_unmatched" in codes(report)
    assert sorted(f.kind for f in report.flows) == ["request without answer", "sp-initiated"]


def test_entry_option_picks_one_message(tmp_path: Path) -> None:
    data = hf.dumps(hf.har(hf.sp_initiated(), "chrome"))
    whole = run_capture(data)
    response_entry = next(t.entry for t in whole.timeline if t.kind == "response")
    one = run_capture(data, entry=response_entry)
    assert [m.kind for m in one.messages] == ["response"]
    path = tmp_path / "capture.har"
    path.write_bytes(data)
    r = CliRunner().invoke(
        main,
        [
            "analyze",
            str(path),
            "--entry",
            str(response_entry),
            "--format",
            "json",
            "--now",
            LATER.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ],
    )
    doc = json.loads(r.output)
    assert [m["kind"] for m in doc["messages"]] == ["response"]
    assert doc["timeline"] and doc["flows"]


def test_cli_reads_large_captures_and_reports_all_flows(tmp_path: Path) -> None:
    flows = [hf.sp_initiated(seed=i) for i in range(1, 4)] + [hf.idp_initiated(seed=9)]
    exchanges = [x for f in flows for x in f.exchanges]
    data = hf.dumps(hf.har(exchanges, "firefox"))
    data = data.replace(
        b'"entries": [',
        b'"entries": ['
        + b"".join(
            json.dumps(
                {
                    "startedDateTime": "2026-03-01T12:00:00.000Z",
                    "time": 1,
                    "request": {
                        "method": "GET",
                        "url": f"https://cdn.example.com/{i}.js",
                        "httpVersion": "h2",
                        "headers": [],
                        "queryString": [],
                        "cookies": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "",
                        "httpVersion": "h2",
                        "headers": [],
                        "cookies": [],
                        "content": {"size": 5000, "mimeType": "application/javascript", "text": "x" * 5000},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 5000,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 1, "receive": 0},
                }
            ).encode()
            + b","
            for i in range(1200)
        ),
        1,
    )
    assert len(data) > 4 * 1024 * 1024  # larger than a single paste may be
    path = tmp_path / "big.har"
    path.write_bytes(data)
    r = CliRunner().invoke(
        main, ["analyze", str(path), "--format", "json", "--now", LATER.strftime("%Y-%m-%dT%H:%M:%SZ")]
    )
    doc = json.loads(r.output)
    assert sorted(f["kind"] for f in doc["flows"]) == ["idp-initiated", "sp-initiated", "sp-initiated", "sp-initiated"]
    assert doc["input"]["capture"]["entries"] > 1200


def test_sanitized_capture_keeps_findings_but_not_signatures(tmp_path: Path) -> None:
    flow = hf.sp_initiated()
    data = hf.dumps(hf.har(flow, "chrome"))
    clean = sanitize_har(data)
    for secret in flow.secrets:
        assert secret.encode() not in clean
    before, after = run_capture(data), run_capture(clean)
    # Signature-value checks are all that may change: the values themselves were removed.
    strip = {"signature_value_removed", "no_trust_anchor", "keyinfo_cert_mismatch", "redirect_signature_unverified"}
    assert codes(before) - strip == codes(after) - strip
    assert "signature_value_removed" in codes(after)
    for m_before, m_after in zip(before.messages, after.messages, strict=True):
        assert m_before.unverified == m_after.unverified
        assert m_after.signature.status.value in ("unverified", "unsigned")
    path = tmp_path / "c.har"
    path.write_bytes(data)
    r = CliRunner().invoke(main, ["sanitize", str(path)])
    assert r.exit_code == 0 and flow.secrets[0] not in r.output
    json.loads(r.stdout)
    assert "redacted" in r.stderr


def test_not_a_har_and_truncated_capture() -> None:
    report = run_capture(b'{"log": {"version": "1.2", "entries": [{"request": ')
    assert codes(report) & {"malformed_capture"}
    report = run_capture(b'{"hello": "world"}')
    assert report.findings and not report.has("internal_error")


def test_capture_report_matches_schema() -> None:
    import jsonschema
    from test_report_schema import SCHEMA

    from samldebug.report import dumps

    doc = json.loads(dumps(run_capture(hf.dumps(hf.har(hf.sp_initiated(), "chrome")))))
    jsonschema.validate(doc, SCHEMA)


def test_reports_from_captures_hold_no_secret() -> None:
    from samldebug.redact import redact
    from samldebug.report import dumps, to_json

    for flow in (hf.sp_initiated(), hf.error_flow(), hf.idp_initiated()):
        report = run_capture(hf.dumps(hf.har(flow, "chrome")))
        text = dumps(report)
        stored = str(redact(to_json(report), "none"))
        for secret in flow.secrets:
            assert secret not in text and secret not in stored, secret


def test_capture_checklist_uses_the_request_as_evidence() -> None:
    report = run_capture(hf.dumps(hf.har(hf.sp_initiated(), "chrome")), entra_settings(sp_entity_id=None, acs_url=None))
    rows = {r.item.split(" ")[0]: r for r in report.checklist}
    assert rows["Identifier"].state == "ok" and rows["Identifier"].expected
    assert rows["Reply"].state == "ok"


def test_request_expectations_reach_checks_and_checklist_alike() -> None:
    """No SP settings given: the capture's own AuthnRequest supplies entity ID and ACS URL before any message is
    analysed, so the checks and the checklist judge the response against the same expectations."""
    import random

    request_id = f"id-{random.Random(1).getrandbits(128):032x}"
    spec = ResponseSpec(in_response_to=request_id, audience="urn:someone-else")
    flow = hf.sp_initiated(seed=1, response_spec=spec)
    anchors_only = entra_settings(sp_entity_id=None, acs_url=None)
    report = run_capture(hf.dumps(hf.har(flow, "chrome")), settings=anchors_only)
    assert "audience_mismatch" in codes(report)
    row = next(r for r in report.checklist if r.item.startswith("Identifier (Entity ID)"))
    assert row.state == "fail" and row.expected == "https://sp.example.com/saml/metadata"
