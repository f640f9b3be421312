"""Sign-in logs through analyze(), the CLI and the web page: alone, beside an error page or a capture (matched and
shown on one timeline), redacted on share; bad logs never become a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harfactory as hf
import pytest
from click.testing import CliRunner
from factory import ResponseSpec, b64, signed_response
from signinfactory import CORR, REQ, SAML_APP_ID, event
from test_report_schema import VALIDATOR
from webutil import make_app, post_form

from samldebug.cli import main
from samldebug.config import Settings
from samldebug.model import Report, Severity
from samldebug.pipeline import analyze
from samldebug.redact import redact
from samldebug.report import dumps, to_json, to_text

DATA = Path(__file__).parent / "data" / "signin"
NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
EVENT_AT = datetime(2026, 3, 2, 9, 29, 31, tzinfo=UTC)
ERROR_PAGE_TEXT = (
    "Sorry, but we're having trouble signing you in.\n"
    "AADSTS53000: Device is not in required device state: compliant. Conditional Access policy requires a "
    "compliant device, and the device is not compliant.\n"
    f"Request Id: {REQ}\nCorrelation Id: {CORR}\nTimestamp: 2026-03-02T09:29:31Z\n"
)


def report_of(data: bytes | str, **kw: object) -> Report:
    report = analyze(data, kw.pop("settings", None) or Settings(), now=NOW, **kw)  # type: ignore[arg-type]
    assert not report.has("internal_error"), report.findings
    VALIDATOR.validate(json.loads(dumps(report)))
    return report


def codes(report: Report) -> list[str]:
    return [f.code for f in report.findings]


@pytest.mark.parametrize(
    ("name", "code", "side", "headline"),
    [
        (
            "graph_event_ca_failure.json",
            "signin_ca_policy_failed",
            "entra",
            "Conditional Access policy 'Require compliant device' was not satisfied: Require device to be marked as "
            "compliant not met",
        ),
        (
            "graph_event_guest.json",
            "signin_guest_cross_tenant",
            "entra",
            "kim@fabrikam.com is from another tenant and is not a guest in the app's tenant (AADSTS50020)",
        ),
        ("graph_page_mfa_interrupt.json", "healthy", "sp", "Entra's sign-in log records success (1 successful"),
        ("graph_event_success.json", "healthy", "sp", "Entra's sign-in log records success (1 successful"),
        (
            "admin_download.json",
            "signin_ca_policy_failed",
            "entra",
            "Conditional Access policy 'Block access from outside the EU' blocks this sign-in",
        ),
        (
            "admin_download.csv",  # the CSV has no policy details: the biggest failing group leads
            "signin_failure",
            "entra",
            "Entra refused bianca@contoso.com at 08:12:02: AADSTS50105: User is not assigned to the application",
        ),
    ],
)
def test_a_log_alone_in_the_input_box_gets_a_diagnosis(name: str, code: str, side: str, headline: str) -> None:
    report = report_of((DATA / name).read_bytes())
    doc = to_json(report)
    assert report.diagnosis is not None
    assert (report.diagnosis.code, report.diagnosis.side) == (code, side)
    assert doc["verdict"]["headline"].startswith(headline), doc["verdict"]["headline"]
    assert report.input.steps[0] == "sign-in log"
    prefix = "_".join(name.split("_")[:2]).split(".")[0]
    formats = {"graph_event": "graph-event", "graph_page": "graph-page", "admin_download": "admin-json"}
    expected = "admin-csv" if name.endswith(".csv") else formats[prefix]
    assert doc["signins"]["format"] == expected
    assert "Sign-in log (" in to_text(report)


def test_the_diagnosis_names_the_portal_path_of_the_failed_policy() -> None:
    report = report_of((DATA / "graph_event_ca_failure.json").read_bytes())
    assert report.diagnosis is not None
    assert "Protection → Conditional Access → Policies" in report.diagnosis.where


def test_mfa_interrupt_then_success_is_no_error() -> None:
    report = report_of((DATA / "graph_page_mfa_interrupt.json").read_bytes())
    assert report.worst is Severity.INFO
    assert "signin_interrupt_resolved" in codes(report) and not report.entra_errors


def test_entra_errors_from_the_log_reach_the_checklist() -> None:
    report = report_of((DATA / "graph_event_ca_failure.json").read_bytes())
    assert [(e.code, e.trace_id, e.correlation_id) for e in report.entra_errors] == [("53000", REQ, CORR)]
    ca = [r for r in report.checklist if r.step == "Conditional Access"]
    assert ca and ca[0].state == "fail"


def test_error_page_and_log_entry_are_joined_in_one_sentence() -> None:
    report = report_of(ERROR_PAGE_TEXT, signin_log=(DATA / "graph_event_ca_failure.json").read_bytes())
    [first] = [f for f in report.findings if f.code == "signin_explains_failure"]
    assert report.diagnosis is not None and report.diagnosis.code == "signin_explains_failure"
    assert first.title == (
        "Entra refused at 09:29:31 because policy 'Require compliant device' was not satisfied (Require device to "
        f"be marked as compliant); the user saw the error page (correlation ID {CORR})"
    )
    assert "matched by correlation ID / request ID" in (first.actual or "")
    assert "signin_matches_evidence" in codes(report)
    assert "Protection → Conditional Access → Policies → 'Require compliant device' → Grant" in (first.fix or "")
    assert to_json(report)["verdict"]["headline"].startswith(first.title)


def _capture_with_error_page(code: str = "53000") -> bytes:
    request_id = "id-7c0e3f2a9b8d4c1e"
    req = hf.authn_request(request_id, EVENT_AT - timedelta(seconds=2))
    query = hf.redirect_query("SAMLRequest", req, None, signed=False)
    page = hf.entra_page(
        {
            "sErrorCode": code,
            "strServiceExceptionMessage": f"AADSTS{code}: Device is not in required device state.",
            "correlationId": CORR,
        }
    )
    flow = [
        hf.Exchange(
            "GET",
            f"{hf.SP}/login",
            302,
            EVENT_AT - timedelta(seconds=3),
            response_headers=[("Location", f"{hf.SSO_URL}?{query}")],
        ),
        hf.Exchange("GET", f"{hf.SSO_URL}?{query}", 200, EVENT_AT - timedelta(seconds=2), body=page),
    ]
    return hf.dumps(hf.har(flow))


def test_capture_and_log_share_one_timeline_and_the_sp_never_got_a_response() -> None:
    report = report_of(_capture_with_error_page(), signin_log=(DATA / "graph_event_ca_failure.json").read_bytes())
    first = report.findings[0]
    assert first.code == "signin_explains_failure"
    assert first.title.startswith(
        "Entra refused at 09:29:31 because policy 'Require compliant device' was not satisfied"
    )
    assert first.title.endswith("; the SP never received a response")
    kinds = [t.kind for t in report.timeline]
    assert kinds[-1] == "sign-in log" and len(kinds) >= 2
    times = [t.time for t in report.timeline if t.time]
    assert times == sorted(times)
    assert "AADSTS53000" in report.timeline[-1].host


def test_a_saml_success_and_a_logged_success_point_at_the_sp() -> None:
    user = "adelev@contoso.com"
    spec = ResponseSpec(name_id=user, issued=EVENT_AT, in_response_to=None)
    response = signed_response("assertion", spec)
    report = report_of(
        b64(response) if isinstance(response, bytes) else response, signin_log=json.dumps(event()).encode()
    )
    matched = [f for f in report.findings if f.code == "signin_matches_evidence"]
    assert any("by user and time" in f.title for f in matched)
    assert any("records a success at 09:29:31" in f.title and "SP side" in f.title for f in matched)


def test_no_match_is_said() -> None:
    other = ERROR_PAGE_TEXT.replace(CORR, "00000000-1111-4222-8333-444444444444").replace(
        REQ, "00000000-1111-4222-8333-555555555555"
    )
    report = report_of(other, signin_log=(DATA / "admin_download.json").read_bytes())
    assert "signin_no_match" in codes(report)
    assert "signin_explains_failure" not in codes(report)


def test_other_app_is_flagged_with_the_configured_app_id() -> None:
    e = event(appId="4765445b-32c6-49b0-83e6-1d93765276ca", appDisplayName="OfficeHome", error_code=53003)
    report = report_of(json.dumps(e), settings=Settings(app_id=SAML_APP_ID))
    assert "signin_other_app" in codes(report)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bad_truncated.json", "signin_log_malformed"),
        ("other_product.json", "signin_log_unrecognised"),
        ("other_product.csv", "signin_log_unrecognised"),
        ("unknown_columns.csv", "signin_csv_unknown_columns"),
    ],
)
def test_bad_logs_give_a_clear_finding(name: str, code: str) -> None:
    report = report_of((DATA / name).read_bytes())
    assert code in codes(report)
    # and beside a capture too: the capture's own report stands, with the finding added
    beside = report_of(ERROR_PAGE_TEXT, signin_log=(DATA / name).read_bytes())
    assert code in codes(beside) and "aadsts_error" in codes(beside)


def test_identity_values_are_redacted_on_share() -> None:
    report = report_of(ERROR_PAGE_TEXT, signin_log=(DATA / "graph_event_ca_failure.json").read_bytes())
    shared = json.dumps(redact(to_json(report), "identity"))
    for secret in ("adelev@contoso.com", "Adele Vance", "203.0.113.45", "Redmond, Washington, US", "ADELE-LAPTOP"):
        assert secret in json.dumps(to_json(report))
        assert secret not in shared, secret
    assert CORR in shared  # IDs stay: support needs them


def test_cli_takes_the_log_beside_the_input_and_filters(tmp_path: Path) -> None:
    page = tmp_path / "error.txt"
    page.write_text(ERROR_PAGE_TEXT)
    r = CliRunner().invoke(
        main,
        [
            "analyze",
            str(page),
            "--signin-log",
            str(DATA / "graph_event_ca_failure.json"),
            "--now",
            "2026-03-02T10:00:00Z",
        ],
    )
    assert r.exit_code == 1, r.output
    assert r.output.startswith("Entra refused at 09:29:31 because policy 'Require compliant device'")
    r = CliRunner().invoke(
        main,
        ["analyze", str(DATA / "admin_download.csv"), "--signin-filter", "diego@contoso.com", "--format", "json"],
    )
    doc = json.loads(r.output)
    assert doc["signins"]["matched"] == 1 and doc["signins"]["groups"][0]["user"] == "diego@contoso.com"


def test_web_form_and_api_take_the_log(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    client = app.test_client()
    page = post_form(
        client, "/analyze", {"input": ERROR_PAGE_TEXT, "signin_log": (DATA / "graph_event_ca_failure.json").read_text()}
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="signins"' in html and "Require compliant device" in html
    assert "Entra refused at 09:29:31 because policy" in html
    upload = post_form(
        client,
        "/analyze",
        {"input": "", "file": ((DATA / "admin_download.csv").open("rb"), "InteractiveSignIns_2026-03-02.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200 and "bianca@contoso.com" in upload.get_data(as_text=True)
    api = client.post("/api/v1/analyze", json={"input": (DATA / "bad_truncated.json").read_text()})
    assert api.status_code == 200 and "signin_log_malformed" in {f["code"] for f in api.get_json()["findings"]}


@pytest.mark.parametrize("log", ["graph_event_ca_failure.json", "admin_download.csv"])
def test_error_page_and_log_pasted_together_are_both_read(log: str) -> None:
    data = (DATA / log).read_bytes()
    if log.endswith(".csv"):  # the download's row for this sign-in, under its header
        header, *rows = data.decode("utf-8-sig").splitlines()
        data = "\n".join([header, *rows]).encode()
        page = ERROR_PAGE_TEXT.replace(CORR, "00000002-aaaa-4bbb-8ccc-000000000002").replace("53000", "53003")
    else:
        page = ERROR_PAGE_TEXT
    report = report_of(page.encode() + b"\n\n" + data)
    assert "signin_matches_evidence" in codes(report)
    assert report.findings[0].code == "signin_explains_failure"
    assert report.signins is not None and report.entra_errors[0].source != "sign-in log"


def test_the_matching_event_is_found_in_a_long_log() -> None:
    """More failures than are kept whole (a password spray in the same download): the log is read again for the
    error page's IDs."""
    noise = [
        event(
            id=f"{i:08x}-0000-4000-8000-{i:012x}",
            correlationId=f"{i:08x}-0000-4000-8000-{i:012x}",
            userPrincipalName=f"user{i}@contoso.com",
            error_code=50126,
            failure_reason="Error validating credentials due to invalid username or password.",
        )
        for i in range(300)
    ]
    target = json.loads((DATA / "graph_event_ca_failure.json").read_bytes())
    report = report_of(ERROR_PAGE_TEXT, signin_log=json.dumps([*noise, target]).encode())
    assert report.findings[0].code == "signin_explains_failure"
    assert "Require compliant device" in report.findings[0].title
    assert report.signins is not None and report.signins.only == CORR and report.signins.total == 301
    assert not any("50126" in f.title for f in report.findings)  # the rest of the log stays in its groups


def test_a_logged_success_alone_points_at_the_sp() -> None:
    report = report_of((DATA / "graph_event_success.json").read_bytes())
    assert report.worst is Severity.INFO
    [ok] = [f for f in report.findings if f.code == "signin_succeeded"]
    assert "the last at 2026-03-02T09:29:31Z" in (ok.actual or "") and "SP" in (ok.fix or "")


def test_a_shared_sign_in_report_opens_redacted(tmp_path: Path) -> None:
    client = make_app(tmp_path).test_client()
    r = client.post(
        "/api/v1/analyze",
        json={
            "input": ERROR_PAGE_TEXT,
            "signin_log": (DATA / "graph_event_ca_failure.json").read_text(),
            "share": 1,
            "redact": "identity",
        },
    )
    doc = r.get_json()
    assert r.status_code == 200 and doc["signins"]["total"] == 1
    path = doc["permalink"].replace("http://localhost", "")
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="signins"' in html and "Require compliant device" in html
    for secret in ("adelev@contoso.com", "203.0.113.45", "ADELE-LAPTOP", "Redmond"):
        assert secret not in html, secret
    text = client.get(path + ".txt").get_data(as_text=True)
    assert "Sign-in log (graph-event)" in text and "adelev@contoso.com" not in text


def test_comma_separated_text_with_an_entra_error_is_still_read_as_such() -> None:
    text = "time,level,component,message\n2026-03-02T09:29:31Z,ERROR,saml,AADSTS50105: The signed in user is not assigned\n"
    report = report_of(text)
    assert "aadsts_error" in codes(report) and "signin_log_unrecognised" not in codes(report)
