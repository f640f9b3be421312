"""Each check: expected beside actual, the fix names the setting and the near miss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import harfactory
import pytest
from factory import SP_ENTITY_ID, T0, ResponseSpec, build_response, signed_response, to_bytes
from helpers import codes, entra_settings, run
from hypothesis import given
from hypothesis import strategies as st

from samldebug import saml, xmlsafe
from samldebug.checks import Context
from samldebug.checks.hints import near_miss
from samldebug.checks.request import REQUEST_CHECKS, REQUEST_KINDS
from samldebug.entra import GUID
from samldebug.instants import EARLIEST, LATEST, duration, iso, parse_time

END = T0 + timedelta(hours=1)  # NotOnOrAfter of the default fixture
START = T0 - timedelta(minutes=5)  # NotBefore


def one(report, code):  # type: ignore[no-untyped-def]
    found = [f for f in report.findings if f.code == code]
    assert found, (code, [f.code for f in report.findings])
    return found[0]


def test_clean_response_has_no_error_or_warning() -> None:
    report = run(signed_response())
    assert {f.severity.value for f in report.findings} <= {"info"}, report.findings


@pytest.mark.parametrize(
    "expected, audience, hint",
    [
        ("https://sp.example.com/saml/metadata", "https://sp.example.com/saml/metadata/", "trailing slash"),
        ("https://sp.example.com/saml/metadata", "https://SP.example.com/saml/Metadata", "case"),
        ("https://sp.example.com/saml/metadata", "http://sp.example.com/saml/metadata", "scheme"),
        ("https://sp.example.com/saml/metadata", "https://sp.example.com:8443/saml/metadata", "port"),
        ("https://sp.example.com/saml/metadata", "urn:other", None),
    ],
)
def test_audience_mismatch_names_the_near_miss(expected: str, audience: str, hint: str | None) -> None:
    report = run(signed_response(spec=ResponseSpec(audience=audience)), entra_settings(sp_entity_id=expected))
    f = one(report, "audience_mismatch")
    assert f.severity.value == "error"
    assert f.expected == expected and f.actual == audience
    assert f"`{audience}`" in f.fix and f"`{expected}`" in f.fix and "Identifier (Entity ID)" in f.fix
    if hint:
        assert hint in f.fix
    assert "attack" not in f.title.lower()


def test_audience_trailing_slash_is_mismatch() -> None:
    report = run(signed_response(spec=ResponseSpec(audience="https://sp.example.com/saml/metadata/")))
    assert "audience_mismatch" in codes(report)


def test_recipient_and_destination_mismatch() -> None:
    spec = ResponseSpec(recipient="https://sp.example.com/saml/acs/", destination="https://sp.example.com/acs")
    report = run(signed_response("response", spec=spec))
    r = one(report, "recipient_mismatch")
    assert "trailing slash" in r.fix and "Reply URL" in r.fix
    d = one(report, "destination_mismatch")
    assert d.actual == "https://sp.example.com/acs" and d.expected == "https://sp.example.com/saml/acs"


def test_issuer_mismatch_other_tenant() -> None:
    spec = ResponseSpec(issuer="https://sts.windows.net/00000000-0000-0000-0000-000000000000/")
    report = run(signed_response(spec=spec))
    f = one(report, "issuer_mismatch")
    assert "00000000" in f.actual


@pytest.mark.parametrize(
    "offset, code",
    [
        (timedelta(seconds=179), "within_skew"),
        (timedelta(seconds=180), "expired"),
        (timedelta(seconds=-1), None),
    ],
)
def test_not_on_or_after_skew_boundary(offset: timedelta, code: str | None) -> None:
    report = run(signed_response(), now=END + offset)
    found = codes(report)
    assert ("expired" in found) == (code == "expired")
    if code == "within_skew":
        assert "within_skew" in found
    if code is None:
        assert not found & {"expired", "within_skew"}


@pytest.mark.parametrize(
    "offset, code",
    [(timedelta(seconds=-180), "within_skew"), (timedelta(seconds=-181), "not_yet_valid"), (timedelta(0), None)],
)
def test_not_before_skew_boundary(offset: timedelta, code: str | None) -> None:
    report = run(signed_response(), now=START + offset)
    found = codes(report)
    assert ("not_yet_valid" in found) == (code == "not_yet_valid")
    if code == "within_skew":
        assert "within_skew" in found


def test_expired_says_by_how_much() -> None:
    report = run(signed_response(), now=END + timedelta(hours=2, minutes=3))
    f = one(report, "expired")
    assert "2 h 3 min" in f.title
    assert "2 h" in f.actual


def test_skew_setting_is_used() -> None:
    report = run(signed_response(), entra_settings(skew=0), now=END)
    assert "expired" in codes(report)


@pytest.mark.parametrize(
    "instant",
    [
        EARLIEST,
        LATEST,
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=-14))),
        datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))),
        *(EARLIEST + timedelta(seconds=s) for s in range(0, 315_000_000_000, 7_654_321_987)),
    ],
)
def test_iso_prints_what_strftime_prints(instant: datetime) -> None:
    # iso() formats the fields itself (it runs several times per analysis); reports must not change.
    assert iso(instant) == instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_error_status_with_nested_code() -> None:
    spec = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        sub_status="urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported",
        status_message="AADSTS50105: The signed in user is not assigned to a role for the application.",
        with_assertion=False,
    )
    report = run(to_bytes(build_response(spec)))
    f = one(report, "idp_error_status")
    assert "Requester / RequestUnsupported" in f.actual and "AADSTS50105" in f.actual
    assert "no_assertion" not in codes(report) and "unsigned_assertion" not in codes(report)


def test_success_without_assertion() -> None:
    report = run(to_bytes(build_response(ResponseSpec(with_assertion=False))))
    assert "no_assertion" in codes(report)


def test_idp_initiated_and_in_response_to() -> None:
    assert "idp_initiated" in codes(run(signed_response(spec=ResponseSpec(in_response_to=None))))
    f = one(run(signed_response()), "in_response_to_present")
    assert f.severity.value == "info" and f.actual.startswith("id-")


def test_worst_first_ordering() -> None:
    report = run(signed_response(spec=ResponseSpec(audience="urn:x")), now=END + timedelta(days=1))
    ranks = [f.severity.rank for f in report.findings]
    assert ranks == sorted(ranks, reverse=True)


def test_helpers() -> None:
    assert near_miss("https://a/x", "https://a/x/") == "they differ only in trailing slash (present in `https://a/x/`)"
    # Every difference at once, so one edit fixes them all.
    both = near_miss("https://a.example/SAML/acs", "http://A.example:8080/saml/acs/")
    assert both is not None
    for part in ("scheme http vs https", "host name case", "port", "path case", "trailing slash"):
        assert part in both
    assert parse_time("2011-06-22T12:30:22.1234567Z") is not None  # ADFS: 7 fraction digits
    assert parse_time("yesterday") is None
    assert duration(timedelta(seconds=59)) == "59 s"
    assert duration(timedelta(days=3, hours=1)) == "3 d 1 h"


@pytest.mark.parametrize(
    ("audience", "warned"),
    [
        ("https://staging.other-app.example.net/saml", True),  # copied from another app / environment
        ("https://sp.example.com/saml/metadata", False),
        ("https://example.com/", False),  # the parent domain of the ACS host
        ("urn:amazon:webservices", False),  # not a URL: nothing to compare
        ("spn:00000000-0000-0000-0000-000000000000", False),
    ],
)
def test_audience_host_differs_without_sp_settings(audience: str, warned: bool) -> None:
    """With no SP settings the host comparison is the only audience check that can speak."""
    settings = entra_settings(sp_entity_id=None, acs_url=None)
    report = run(signed_response("response", spec=ResponseSpec(audience=audience)), settings)
    assert ("audience_host_differs" in codes(report)) is warned
    if warned:
        f = one(report, "audience_host_differs")
        assert f.severity.value == "warning"
        assert audience in (f.actual or "") and "sp.example.com" in (f.actual or "")
        assert "Identifier (Entity ID)" in (f.fix or "")


@pytest.mark.parametrize("sp_entity_id", ["https://id.other.example.net/", SP_ENTITY_ID])
def test_audience_host_differs_is_silent_when_the_sp_entity_id_is_known(sp_entity_id: str) -> None:
    """The exact comparison (audience_mismatch, or none when equal) says more than a host comparison."""
    audience = "https://id.other.example.net/"
    report = run(
        signed_response("response", spec=ResponseSpec(audience=audience)), entra_settings(sp_entity_id=sp_entity_id)
    )
    assert "audience_host_differs" not in codes(report)


@pytest.mark.parametrize("kind", ["response", "assertion"])
@pytest.mark.parametrize("which", ["request", "response"])
def test_request_checks_find_nothing_in_other_messages(kind: str, which: str) -> None:
    """checks.run calls the request checks only for REQUEST_KINDS: their own guards must agree, even for a message
    whose values would make them speak (an AuthnRequest read as if it were a response) and settings that differ
    from everything in it."""
    xml = harfactory.authn_request("1digit") if which == "request" else to_bytes(build_response(ResponseSpec()))
    root = xmlsafe.parse(xml, entra_settings().limits)
    settings = entra_settings(
        sp_entity_id="https://elsewhere.example/",
        acs_url="https://elsewhere.example/acs",
        reply_urls=("https://elsewhere.example/acs2",),
        idp_sso_urls=("https://elsewhere.example/sso",),
        idp_slo_urls=("https://elsewhere.example/slo",),
        require_signed_requests=True,
    )
    assert kind not in REQUEST_KINDS
    ctx = Context(kind, root, saml.read(root), False, settings, T0, None)
    assert [f for check in REQUEST_CHECKS for f in check(ctx)] == []
    # The same message as the request kind it is: the guards are what kept them silent.
    if which == "request":
        as_request = Context("authn_request", root, saml.read(root), False, settings, T0, None)
        assert [f for check in REQUEST_CHECKS for f in check(as_request)]


@given(st.from_regex(GUID))
def test_only_36_or_37_characters_can_be_a_guid(text: str) -> None:
    # name_id_source asks the GUID pattern only about NameIDs of that length (the regex engine is the costly part).
    assert 36 <= len(text) <= 37


def test_a_comment_in_the_nameid_of_a_second_subject_is_still_an_attack() -> None:
    """Every Subject is searched, as XPath-based SPs read them (found by review: the first Subject only was)."""
    from lxml import etree

    saml_ns = "urn:oasis:names:tc:SAML:2.0:assertion"
    root = build_response()
    subject = root.find(f"{{{saml_ns}}}Assertion/{{{saml_ns}}}Subject")
    assert subject is not None
    name_id = subject.find(f"{{{saml_ns}}}NameID")
    assert name_id is not None
    name_id.text = "admin@contoso.com"
    name_id.append(etree.Comment("x"))
    name_id[-1].tail = ".evil.example"
    subject.addprevious(etree.Element(f"{{{saml_ns}}}Subject"))
    assert "comment_in_nameid" in codes(run(to_bytes(root), entra_settings()))
