"""Entra sign-in logs: every shape the issue names (Graph event, Graph page, admin center JSON and CSV downloads)
read into events and turned into findings; bad input becomes a clear finding."""

from __future__ import annotations

import json
import mmap
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signinfactory import CSV_COLUMNS, OFFICE_APP_ID, SAML_APP_ID, event, policy, to_csv

from samldebug.model import AnalysisStop, Severity
from samldebug.signinlog import MAX_KEPT, read_signins, sniff
from samldebug.signins import evidence

DATA = Path(__file__).parent / "data" / "signin"


def read(name: str, **kw: object):  # type: ignore[no-untyped-def]
    return read_signins((DATA / name).read_bytes(), **kw)  # type: ignore[arg-type]


def by_code(findings, code):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.code == code]


@pytest.mark.parametrize(
    ("name", "shape", "fmt", "total"),
    [
        ("graph_event_ca_failure.json", "json", "graph-event", 1),
        ("graph_event_guest.json", "json", "graph-event", 1),
        ("graph_page_mfa_interrupt.json", "json", "graph-page", 2),
        ("admin_download.json", "json", "admin-json", 10),
        ("admin_download.csv", "csv", "admin-csv", 10),
    ],
)
def test_each_shape_is_recognised_without_a_flag(name: str, shape: str, fmt: str, total: int) -> None:
    data = (DATA / name).read_bytes()
    assert sniff(data) == shape
    log, notes = read_signins(data)
    assert (log.format, log.total, notes) == (fmt, total, [])


def test_csv_download_starts_with_a_bom_and_reads_like_the_json() -> None:
    raw = (DATA / "admin_download.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    csv_log, _ = read("admin_download.csv")
    json_log, _ = read("admin_download.json")
    assert csv_log.counts == json_log.counts == {"failure": 6, "interrupt": 1, "success": 3}
    assert [(g.user, g.error_code, g.count) for g in csv_log.groups] == [
        (g.user, g.error_code, g.count) for g in json_log.groups
    ]
    first = next(e for e in csv_log.events if e.error_code == 53003)
    assert (first.app_id, first.location, first.conditional_access) == (SAML_APP_ID, "Toronto, Ontario, CA", "failure")


def test_ca_failure_names_the_policy_and_the_grant_control_not_met() -> None:
    log, _ = read("graph_event_ca_failure.json")
    ev = evidence(log, saml_app_id=SAML_APP_ID)
    [failure] = by_code(ev.findings, "signin_failure")
    assert failure.severity is Severity.ERROR
    assert (
        "policy 'Require compliant device' was not satisfied (Require device to be marked as compliant)"
        in failure.title
    )
    assert "status.errorCode 53000" in (failure.actual or "")
    [ca] = by_code(ev.findings, "signin_ca_policy_failed")
    assert "Require device to be marked as compliant not met" in ca.title
    assert "enforcedGrantControls [RequireCompliantDevice]" in (ca.actual or "")
    assert "isCompliant false" in (ca.actual or "")
    assert "Protection → Conditional Access → Policies → 'Require compliant device' → Grant" in (ca.fix or "")
    # The MFA policy succeeded and the legacy-auth block did not apply: neither is blamed.
    assert not any("Require MFA" in f.title or "legacy" in f.title for f in ev.findings)
    assert [(e.code, e.correlation_id) for e in ev.errors] == [("53000", log.events[0].correlation_id)]
    assert not by_code(ev.findings, "signin_other_app")


def test_guest_from_another_tenant_is_said_with_both_tenants() -> None:
    log, _ = read("graph_event_guest.json")
    ev = evidence(log)
    [guest] = by_code(ev.findings, "signin_guest_cross_tenant")
    assert guest.severity is Severity.ERROR
    assert "not a guest in the app's tenant (AADSTS50020)" in guest.title
    e = log.events[0]
    assert f"homeTenantId {e.home_tenant_id}" in (guest.actual or "")
    assert f"resourceTenantId {e.resource_tenant_id}" in (guest.actual or "")
    assert e.home_tenant_id != e.resource_tenant_id
    assert "Cross-tenant access settings" in (guest.fix or "")


def test_mfa_interrupt_followed_by_success_is_not_a_failure() -> None:
    log, _ = read("graph_page_mfa_interrupt.json")
    ev = evidence(log)
    [interrupt] = [e for e in log.events if e.outcome == "interrupt"]
    assert (interrupt.error_code, interrupt.resolved) == (50074, True)
    assert [f.code for f in ev.findings] == ["signin_log_read", "signin_interrupt_resolved", "signin_succeeded"]
    assert ev.errors == []
    assert all(f.severity is Severity.INFO for f in ev.findings)


def test_an_interrupt_without_a_later_success_is_a_warning_and_an_error_code() -> None:
    doc = json.loads((DATA / "graph_page_mfa_interrupt.json").read_bytes())
    doc["value"] = doc["value"][1:]  # drop the success
    log, _ = read_signins(json.dumps(doc).encode())
    ev = evidence(log)
    [f] = by_code(ev.findings, "signin_interrupt_unresolved")
    assert f.severity is Severity.WARNING and "no success after it" in f.title
    assert [e.code for e in ev.errors] == ["50074"]


def test_download_is_grouped_by_user_app_and_code_failed_first_with_counts() -> None:
    log, _ = read("admin_download.json")
    groups = [(g.user, g.app, g.error_code, g.outcome, g.count) for g in log.groups]
    assert groups[:3] == [
        ("bianca@contoso.com", "Contoso Wiki", 50105, "failure", 3),
        ("alex@contoso.com", "Contoso Wiki", 53003, "failure", 2),
        ("diego@contoso.com", "Contoso Wiki", 50126, "failure", 1),
    ]
    assert groups[3][2:4] == (50076, "interrupt")
    assert {g[3] for g in groups[4:]} == {"success"}
    bianca = log.groups[0]
    assert (bianca.first, bianca.last) == ("2026-03-02T08:10:00Z", "2026-03-02T08:12:02Z")
    ev = evidence(log)
    [block] = by_code(ev.findings, "signin_ca_policy_failed")
    assert "'Block access from outside the EU' blocks this sign-in" in block.title
    assert "3 times between 2026-03-02T08:10:00Z and 2026-03-02T08:12:02Z" in (
        by_code(ev.findings, "signin_failure")[0].actual or ""
    )


def test_filter_to_one_correlation_id_or_user() -> None:
    log, _ = read("admin_download.json", only="77777777-AAAA-4bbb-8ccc-777777777777")
    assert (log.total, log.matched, log.counts) == (10, 2, {"failure": 0, "interrupt": 1, "success": 1})
    log, _ = read("admin_download.csv", only="bianca@contoso.com")
    assert log.matched == 3 and {e.user for e in log.events} == {"bianca@contoso.com"}


def test_event_of_another_app_is_flagged_when_the_saml_app_id_is_known() -> None:
    e = event(appId=OFFICE_APP_ID, appDisplayName="OfficeHome", authenticationProtocol="oAuth2", error_code=50105)
    log, _ = read_signins(json.dumps(e).encode())
    [other] = by_code(evidence(log, saml_app_id=SAML_APP_ID).findings, "signin_other_app")
    assert "OfficeHome" in other.title and f"appId {SAML_APP_ID}" == other.expected
    [proto] = by_code(evidence(log).findings, "signin_other_app")
    assert "oAuth2 sign-in" in proto.title


def test_report_only_failure_is_information() -> None:
    e = event(
        appliedConditionalAccessPolicies=[
            policy("Require compliant device (pilot)", "reportOnlyFailure", ["RequireCompliantDevice"])
        ],
        error_code=50105,
    )
    log, _ = read_signins(json.dumps(e).encode())
    [f] = by_code(evidence(log).findings, "signin_ca_report_only")
    assert f.severity is Severity.INFO and "would have blocked" in f.title


# --- bad input ----------------------------------------------------------------------------------------------


def test_truncated_json_is_a_clear_finding() -> None:
    with pytest.raises(AnalysisStop) as stop:
        read("bad_truncated.json")
    assert stop.value.finding.code == "signin_log_malformed"
    assert "cut off" in stop.value.finding.title


def test_csv_with_unknown_columns_is_read_and_the_columns_are_named() -> None:
    log, notes = read("unknown_columns.csv")
    assert log.total == 3
    [note] = notes
    assert note.code == "signin_csv_unknown_columns" and note.actual == "Ticket, Reviewer"


@pytest.mark.parametrize("name", ["other_product.json", "other_product.csv"])
def test_another_products_log_is_a_clear_finding(name: str) -> None:
    data = (DATA / name).read_bytes()
    assert sniff(data) == "other-log"
    with pytest.raises(AnalysisStop) as stop:
        read_signins(data)
    f = stop.value.finding
    assert f.code == "signin_log_unrecognised" and "another product's log" in f.title
    assert f.actual and ("eventType" in f.actual or "eventName" in f.actual)


def test_one_malformed_event_is_skipped_not_fatal() -> None:
    good = event()
    bad = event(status={"errorCode": {"nested": True}})
    log, notes = read_signins(json.dumps([good, bad, good]).encode())
    assert (log.total, log.unreadable) == (3, 1)
    assert [n.code for n in notes] == ["signin_events_unreadable"]


def test_csv_row_with_a_wrong_column_count_is_counted() -> None:
    data = to_csv([event(), event()]) + b"only,three,cells\r\n"
    log, notes = read_signins(data)
    assert (log.total, log.unreadable) == (3, 1) and notes[0].code == "signin_events_unreadable"


def test_not_a_log_is_not_sniffed() -> None:
    assert sniff(b"PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46") is None
    assert sniff(b'{"log": {"entries": []}}') is None
    assert sniff(b'{"error": "invalid_grant", "error_description": "AADSTS50126: x"}') is None
    assert sniff(b"AADSTS50011: The reply URL, specified in the request, does not match, sorry") is None
    assert sniff(b"<samlp:Response/>") is None


# --- streaming ----------------------------------------------------------------------------------------------


def _big(tmp_path: Path, shape: str, target: int) -> Path:
    """A download of about `target` bytes (the tests use 50 MiB): mostly successes, a failure every 50 events."""
    template = [event(id=f"{i:08x}-0000-4000-8000-{i:012x}", error_code=0 if i % 50 else 53003) for i in range(100)]
    if shape == "csv":
        body = to_csv(template)
        header, rows = body.split(b"\r\n", 1)
        n = max(1, target // len(rows))
        path = tmp_path / "big.csv"
        with path.open("wb") as fh:
            fh.write(header + b"\r\n")
            for _ in range(n):
                fh.write(rows)
        return path
    one = ",".join(json.dumps(e) for e in template).encode()
    n = max(1, target // len(one))
    path = tmp_path / "big.json"
    with path.open("wb") as fh:
        fh.write(b"[")
        fh.write(b",".join([one] * n))
        fh.write(b"]")
    return path


@pytest.mark.parametrize("shape", ["json", "csv"])
def test_a_large_download_is_streamed_in_bounded_memory(tmp_path: Path, shape: str) -> None:
    path = _big(tmp_path, shape, 50 * 1024 * 1024)
    size = path.stat().st_size
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        tracemalloc.start()
        try:
            log, _ = read_signins(m)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del log
    assert peak <= 0.15 * size, f"peak heap {peak} bytes for a {size}-byte file"


def test_kept_events_are_capped_and_failures_win(tmp_path: Path) -> None:
    events = [event(id=f"{i:08x}-0000-4000-8000-{i:012x}", error_code=0) for i in range(MAX_KEPT * 2)]
    events.append(event(id="ffffffff-0000-4000-8000-000000000000", error_code=50105))
    log, _ = read_signins(json.dumps(events).encode())
    assert len(log.events) <= MAX_KEPT
    assert any(e.error_code == 50105 for e in log.events)
    assert log.counts["success"] == MAX_KEPT * 2


def test_csv_columns_match_the_admin_center_download() -> None:
    assert len(CSV_COLUMNS) == 57 and CSV_COLUMNS.count("Incoming token type") == 2


def test_the_auth_details_companion_csv_is_named_as_such() -> None:
    data = (
        "\ufeffDate (UTC),Request ID,User ID,Authentication method,Authentication method detail,Requirement,"
        "Succeeded,Result detail\r\n2026-03-02T09:29:30Z,b3f1c2d4-8e7a-4b6c-9d05-2a1e3f4b5c6d,26be570a,Password,"
        "Password in the cloud,Primary authentication,TRUE,Correct password\r\n"
    ).encode()
    with pytest.raises(AnalysisStop) as stop:
        read_signins(data)
    assert stop.value.finding.code == "signin_log_unrecognised"
    assert "authentication-details file" in stop.value.finding.title
    assert "AuthDetails" in (stop.value.finding.fix or "")


def test_signin_data_names_only_catalogued_codes() -> None:
    from samldebug import catalog
    from samldebug.signinlog import data

    known = catalog.aadsts()
    d = data()
    assert d.interrupts and d.interrupts <= set(known)
    assert d.cross_tenant and d.cross_tenant <= set(known)
    assert set(d.control_by_code) <= set(known)
    for control in d.grant_controls.values():
        assert control.label and control.fix


_SEEDS = [p.read_bytes() for p in sorted(DATA.glob("*.*")) if p.suffix in (".json", ".csv")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_SEEDS), st.integers(0, 10_000), st.binary(max_size=40), st.integers(0, 200))
def test_damaged_logs_never_escape_as_anything_but_a_finding(seed: bytes, at: int, junk: bytes, cut: int) -> None:
    pos = at % (len(seed) + 1)
    data = seed[:pos] + junk + seed[pos + cut :]
    try:
        log, notes = read_signins(data)
    except AnalysisStop as stop:
        assert stop.finding.code.startswith("signin_")
        return
    assert log.total >= 0 and all(n.code.startswith("signin_") for n in notes)


def test_a_sign_in_log_belongs_in_the_message_box() -> None:
    from samldebug.sniff import Box, Kind, misplaced
    from samldebug.sniff import sniff as sniff_box

    log = (DATA / "graph_event_ca_failure.json").read_text()
    assert sniff_box(log).kind is Kind.SIGNIN_LOG
    assert misplaced(Box.MESSAGE, log) is None
    found = misplaced(Box.IDP_METADATA, log)
    assert found is not None and found.belongs is Box.MESSAGE and "sign-in log" in found.message


def test_every_pattern_of_the_reader_is_linear_on_its_worst_case() -> None:
    """RE2 patterns only (samldebug/linear.py), each against text built to make a backtracking engine crawl."""
    import time

    from samldebug import linear, signinlog

    n = 256 * 1024
    worst = {
        "_ARRAY_OF_OBJECTS": b"[" + b" " * n,
        "_GRAPH_PAGE": b"{" + b" " * n + b'"value" ',
        "_NON_SPACE": b" " * n,
    }
    patterns = {k: v for k, v in vars(signinlog).items() if isinstance(v, linear.Pattern)}
    assert set(patterns) == set(worst)
    for name, text in worst.items():
        started = time.process_time()
        list(patterns[name].finditer(text))
        patterns[name].search(text)
        assert time.process_time() - started < 1.0, name


def test_json_nested_too_deep_is_a_finding() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    data = (
        b'[{"createdDateTime":"2026-03-02T09:29:31Z","status":{"errorCode":0},"correlationId":"c","x":' + deep + b"}]"
    )
    with pytest.raises(AnalysisStop) as stop:
        read_signins(data)
    assert stop.value.finding.code == "signin_log_malformed" and "nests deeper" in stop.value.finding.title
