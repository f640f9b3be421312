"""AADSTS codes wherever they appear, claims, NameID, SP-library messages, generated docs."""

from __future__ import annotations

import json

import pytest
from factory import ResponseSpec, build_response, signed_response, to_bytes
from helpers import codes, entra_settings, run

from samldebug import catalog, explain
from samldebug.catalog import docs

TRACE = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CORR = "11111111-2222-3333-4444-555555555555"


def aadsts(report, code):  # type: ignore[no-untyped-def]
    found = [f for f in report.findings if f.code == "aadsts_error" and f.title.startswith(f"AADSTS{code}:")]
    assert found, [f.title for f in report.findings]
    return found[0]


def test_catalog_loads_and_is_large_enough() -> None:
    catalog.load_all()
    assert len(catalog.aadsts()) >= 100
    required = (
        "50011 700016 650056 50105 75011 50076 50079 75005 750054 900236 50107 50008 50006 50000 90015 "
        "70001 7000215 50126 50034 53003"
    ).split()
    assert set(required) <= set(catalog.aadsts())
    for code, e in catalog.aadsts().items():
        assert e.title and e.cause and e.fix, code


def test_user_not_assigned_response_explained_with_ids() -> None:
    message = (
        f"AADSTS50105: Your administrator has configured the application to block users unless they are "
        f"specifically granted access.\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORR}\r\n"
        "Timestamp: 2026-03-01 12:00:00Z"
    )
    spec = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Requester", status_message=message, with_assertion=False
    )
    report = run(to_bytes(build_response(spec)))
    f = aadsts(report, "50105")
    assert "assign" in f.title.lower() or "assign" in f.fix.lower()
    assert "Users and groups" in f.fix
    assert TRACE in f.actual and CORR in f.actual
    (err,) = report.entra_errors
    assert (err.code, err.trace_id, err.correlation_id, err.source) == ("50105", TRACE, CORR, "StatusMessage")
    assert "idp_error_status" in codes(report)


def test_entra_error_page_html() -> None:
    page = (
        '<!DOCTYPE html><html><head><script>//<![CDATA[\n$Config={"pgid":"ConvergedError",'
        '"sErrorCode":"700016","strServiceExceptionMessage":"AADSTS700016: Application with identifier '
        '\\u0027https://sp.example.com/saml/metadata\\u0027 was not found in the directory \\u0027Contoso\\u0027.",'
        f'"correlationId":"{CORR}","sessionId":"{TRACE}"}};\n//]]></script></head><body></body></html>'
    )
    report = run(page)
    f = aadsts(report, "700016")
    assert "https://sp.example.com/saml/metadata" in f.actual
    assert report.entra_errors[0].correlation_id == CORR
    assert "error_text_recognised" in codes(report)
    assert "not_saml" not in codes(report) and "dtd_forbidden" not in codes(report)


def test_one_line_error_text() -> None:
    report = run(
        "AADSTS50011: The redirect URI 'https://sp.example.com/acs' specified in the request does not "
        "match the redirect URIs configured for the application 'a0b1c2'."
    )
    f = aadsts(report, "50011")
    assert "Reply URL" in f.fix


def test_error_redirect_and_json() -> None:
    desc = f"AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: {TRACE}"
    from urllib.parse import urlencode

    report = run("https://sp.example.com/callback?" + urlencode({"error": "access_denied", "error_description": desc}))
    assert aadsts(report, "53003")
    body = json.dumps(
        {
            "error": "invalid_grant",
            "error_description": "AADSTS70000: bad grant",
            "error_codes": [70000],
            "trace_id": TRACE,
            "correlation_id": CORR,
        }
    )
    report = run(body)
    assert aadsts(report, "70000")
    assert report.entra_errors[0].trace_id == TRACE


def test_unknown_code_still_reported() -> None:
    report = run("AADSTS9999999: something new")
    f = next(f for f in report.findings if f.code == "aadsts_error")
    assert "not in samldebug's catalog" in f.title and "error?code=9999999" in f.fix


def test_specific_fix_names_both_strings() -> None:
    fs = explain.aadsts_findings(
        explain.find_aadsts("AADSTS50011: mismatch"),
        facts={"acs_url": "https://sp/acs/", "reply_urls": "https://sp/acs"},
    )
    assert "`https://sp/acs/`" in fs[0].fix and "`https://sp/acs`" in fs[0].fix


@pytest.mark.parametrize(
    "text, code",
    [
        (
            "OneLogin_Saml2_ValidationError: https://sp.example.com is not a valid audience for this Response",
            "audience_mismatch",
        ),
        ("SAML assertion expired: clocks skewed too much", "expired"),
    ],
)
def test_sp_library_messages(text: str, code: str) -> None:
    report = run(text)
    assert code in codes(report)
    f = next(f for f in report.findings if f.code == code)
    assert f.where.endswith("error message")


def test_library_skew_is_mentioned_for_time_errors() -> None:
    report = run("SAML assertion expired: clocks skewed too much")
    f = next(f for f in report.findings if f.code == "expired")
    assert "clock skew by default" in f.fix


def test_required_claims() -> None:
    spec = ResponseSpec(
        attributes={
            "email": ["alice@contoso.example"],
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": [""],
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["a", "b"],
        }
    )
    settings = entra_settings(
        required_claims=(
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",  # absent: "email" is another name
            "email",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
        )
    )
    report = run(signed_response(spec=spec), settings)
    found = {(f.code, f.expected) for f in report.findings}
    assert ("claim_missing", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname") in found
    assert ("claim_empty", "a value for http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname") in found
    assert any(c == "claim_missing" and "emailaddress" in (e or "") for c, e in found)
    missing_surname = next(f for f in report.findings if f.code == "claim_missing" and "surname" in f.expected)
    assert "Name `surname` and Namespace `http://schemas.xmlsoap.org/ws/2005/05/identity/claims`" in missing_surname.fix
    assert "claim_multi_valued" not in codes(report)  # role is multi-valued by nature


def test_short_name_vs_uri_is_wrong_name() -> None:
    spec = ResponseSpec(attributes={"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": ["Alice"]})
    report = run(signed_response(spec=spec), entra_settings(required_claims=("givenName",)))
    f = next(f for f in report.findings if f.code == "claim_wrong_name")
    assert f.expected == "givenName" and f.actual.endswith("/givenname")
    assert "Name `givenName` and an empty Namespace" in f.fix


def test_groups_overage() -> None:
    spec = ResponseSpec(
        attributes={
            "http://schemas.microsoft.com/claims/groups.link": ["https://graph.windows.net/x/users/y/getMemberObjects"]
        }
    )
    assert "groups_overage" in codes(run(signed_response(spec=spec)))


def test_name_id_format_checks() -> None:
    transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    spec = ResponseSpec(name_id_format=transient, name_id="_a1b2c3")
    persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    report = run(signed_response(spec=spec), entra_settings(name_id_format=persistent))
    f = next(f for f in report.findings if f.code == "name_id_format_mismatch")
    assert f.expected == persistent and f.actual == transient
    assert "name_id_format" in codes(report)
    assert "name_id_missing" in codes(run(signed_response(spec=ResponseSpec(name_id=""))))


def test_findings_doc_is_generated_and_current() -> None:
    text = docs.render()
    for code in catalog.findings():
        assert f"`{code}`" in text
    assert docs.TARGET.read_text(encoding="utf-8") == text, "run: python -m samldebug.catalog.docs"
