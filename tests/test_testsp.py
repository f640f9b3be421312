"""The test SP's pure builder (samldebug/sp.py): requests, signatures, metadata, replay of a customer's shape.
Everything it sends is checked by samldebug's own analysis (the same code that judges what Entra receives)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from samldebug import sp
from samldebug.certs import Anchor, load_certs
from samldebug.config import Limits, Settings
from samldebug.pipeline import analyze

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
T = sp.TestSP("acme", "https://samldebug.example.com")
ENTRA_SSO = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/saml2"


@cache
def keys() -> sp.KeyPair:
    return sp.new_key_pair("acme", NOW, bits=2048)


def own_settings(**kw: object) -> Settings:
    anchors = tuple(Anchor(c, "test SP certificate") for c in load_certs(keys().cert_pem))
    base: dict[str, object] = dict(
        sp_entity_id=T.entity_id, acs_url=T.acs_url, reply_urls=(T.acs_url,), sp_anchors=anchors
    )
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def codes(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in report.findings}


def test_endpoints_and_entra_fields() -> None:
    assert T.entity_id == "https://samldebug.example.com/sp/acme"
    fields = {f["field"]: f["value"] for f in T.entra_fields()}
    assert fields["Identifier (Entity ID)"] == T.entity_id
    assert fields["Reply URL (Assertion Consumer Service URL)"] == "https://samldebug.example.com/sp/acme/acs"
    assert fields["Sign on URL"] == "https://samldebug.example.com/sp/acme/login"
    assert fields["Logout Url"] == "https://samldebug.example.com/sp/acme/slo"
    assert sp.valid_name("acme-2") and not sp.valid_name("Acme") and not sp.valid_name("a/b") and not sp.valid_name("")


def test_key_pair_is_rsa_with_a_self_signed_certificate() -> None:
    cert = keys().certificate()
    assert cert.subject == cert.issuer and "acme" in cert.subject.rfc4514_string()
    assert keys().private_key().key_size == 2048
    assert cert.not_valid_before_utc < NOW < cert.not_valid_after_utc


@pytest.mark.parametrize("binding", ["redirect", "post"])
@pytest.mark.parametrize("sig_alg", ["rsa-sha256", "rsa-sha512"])
def test_signed_requests_verify_with_the_test_sp_certificate(binding: str, sig_alg: str) -> None:
    opts = sp.RequestOptions(binding=binding, sign=True, sig_alg=sig_alg, relay_state="rs")
    xml = sp.authn_request(T, opts, ENTRA_SSO, sp.new_id(), NOW)
    out = sp.prepare(xml, ENTRA_SSO, binding, "rs", keys(), sig_alg, "SAMLRequest")
    evidence = out.url if binding == "redirect" else "&".join(f"{k}={v}" for k, v in out.fields.items())
    report = analyze(evidence if binding == "redirect" else out.fields["SAMLRequest"], own_settings(), now=NOW)
    assert report.messages[0].signature is not None
    assert report.messages[0].signature.status.value == "valid", report.findings
    assert not [f for f in report.findings if f.severity.value == "error"]
    if binding == "post":  # the enveloped signature follows the Issuer (SAML core §5.4.1)
        root = etree.fromstring(out.xml)
        assert etree.QName(root[1]).localname == "Signature" and etree.QName(root[0]).localname == "Issuer"
    else:
        query = parse_qs(urlsplit(out.url).query)
        assert query["SigAlg"] == [sp.SIG_ALGS[sig_alg][0]] and query["RelayState"] == ["rs"]


def test_unsigned_request_and_the_other_key() -> None:
    xml = sp.authn_request(T, sp.RequestOptions(), ENTRA_SSO, sp.new_id(), NOW)
    report = analyze(sp.redirect_url(ENTRA_SSO, xml), own_settings(require_signed_requests=True), now=NOW)
    assert "unsigned_request" in codes(report)  # Entra requiring verification certificates: AADSTS76021
    other = sp.new_key_pair("other", NOW, bits=2048)
    report = analyze(sp.redirect_url(ENTRA_SSO, xml, keys=other), own_settings(), now=NOW)
    assert report.messages[0].signature is not None and report.messages[0].signature.status.value != "valid"


def test_sha1_is_redirect_only() -> None:
    xml = sp.authn_request(T, sp.RequestOptions(), ENTRA_SSO, sp.new_id(), NOW)
    with pytest.raises(sp.SPError, match="SHA-1"):
        sp.post_fields(xml, keys=keys(), sig_alg="rsa-sha1")
    report = analyze(sp.redirect_url(ENTRA_SSO, xml, keys=keys(), sig_alg="rsa-sha1"), own_settings(), now=NOW)
    assert report.messages[0].signature is not None and report.messages[0].signature.status.value == "valid"
    assert "sha1_signature" in codes(report)


def test_every_knob_reaches_the_xml() -> None:
    opts = sp.RequestOptions(
        name_id_format=sp.NAMEID_FORMATS["emailAddress"],
        allow_create="true",
        force_authn=True,
        is_passive=True,
        authn_contexts=(sp.AC_PREFIX + "Password", sp.AC_PREFIX + "X509"),
        comparison="minimum",
        acs="index",
        acs_index=3,
    )
    root = etree.fromstring(sp.authn_request(T, opts, ENTRA_SSO, "_abc", NOW))
    assert root.get("ForceAuthn") == "true" and root.get("IsPassive") == "true"
    assert root.get("AssertionConsumerServiceIndex") == "3" and root.get("AssertionConsumerServiceURL") is None
    policy = root.find("samlp:NameIDPolicy", sp.NS)
    assert (
        policy is not None and policy.get("AllowCreate") == "true" and policy.get("Format", "").endswith("emailAddress")
    )
    rac = root.find("samlp:RequestedAuthnContext", sp.NS)
    assert rac is not None and rac.get("Comparison") == "minimum" and len(rac) == 2
    plain = etree.fromstring(sp.authn_request(T, sp.RequestOptions(name_id_policy=False, acs="none"), "", "_x", NOW))
    assert plain.find("samlp:NameIDPolicy", sp.NS) is None and plain.get("AssertionConsumerServiceURL") is None
    assert plain.get("Destination") is None


def test_options_validate_and_round_trip_through_the_form() -> None:
    with pytest.raises(sp.SPError):
        sp.RequestOptions(binding="artifact")
    with pytest.raises(sp.SPError):
        sp.RequestOptions(relay_state="x" * 81)
    with pytest.raises(sp.SPError):
        sp.options_from_form({"acs_index": "one"})
    opts = sp.options_from_form(
        {
            "binding": "post",
            "sign": "1",
            "name_id_format": "persistent",
            "authn_contexts": "Password\nX509",
            "comparison": "exact",
            "force_authn": "on",
            "relay_state": "r",
        }
    )
    assert opts.name_id_format == sp.NAMEID_FORMATS["persistent"]
    assert opts.authn_contexts == (sp.AC_PREFIX + "Password", sp.AC_PREFIX + "X509")
    assert sp.options_from_form(sp.options_to_form(opts)) == opts


def test_knob_explanations_are_data_with_sources() -> None:
    knobs = sp.knobs()
    for key in (
        "binding",
        "sign",
        "sig_alg",
        "name_id_policy",
        "allow_create",
        "force_authn",
        "is_passive",
        "authn_contexts",
        "comparison",
        "acs",
        "relay_state",
    ):
        assert knobs[key]["source"] and knobs[key]["entra"]
    assert "AADSTS75011" in knobs["authn_contexts"]["entra"] and "AADSTS50011" in knobs["acs"]["entra"]


def test_sp_metadata_is_signed_and_offers_the_encryption_certificate() -> None:
    xml = sp.sp_metadata(T, keys(), NOW)
    report = analyze(xml, Settings(anchors=tuple(Anchor(c, "sp") for c in load_certs(keys().cert_pem))), now=NOW)
    assert "metadata_signature_valid" in codes(report)
    root = etree.fromstring(xml)
    assert root.get("entityID") == T.entity_id
    uses = [kd.get("use") for kd in root.iterfind(".//md:KeyDescriptor", sp.NS)]
    assert uses == ["signing", "encryption"]
    acs = root.find(".//md:AssertionConsumerService", sp.NS)
    assert acs is not None and acs.get("Location") == T.acs_url and acs.get("Binding") == sp.POST
    assert {e.get("Location") for e in root.iterfind(".//md:SingleLogoutService", sp.NS)} == {T.slo_url}


def test_logout_messages() -> None:
    req = etree.fromstring(sp.logout_request(T, ENTRA_SSO, "_l1", NOW, "alice", sp.NAMEID_FORMATS["persistent"], "_s1"))
    assert req.findtext("saml:NameID", namespaces=sp.NS) == "alice"
    assert req.findtext("samlp:SessionIndex", namespaces=sp.NS) == "_s1"
    resp = sp.logout_response(T, ENTRA_SSO, "_l2", NOW)
    report = analyze(sp.redirect_url(ENTRA_SSO, resp, parameter="SAMLResponse", keys=keys()), own_settings(), now=NOW)
    assert report.messages[0].kind == "logout_response"
    assert report.messages[0].signature is not None and report.messages[0].signature.status.value == "valid"


def test_replay_a_customer_authn_request(corpus: Path) -> None:
    text = (corpus / "peers/python3-saml/authn_request.xml.base64").read_text()
    replayed = sp.options_from(text, Limits())
    o = replayed.options
    assert replayed.source == "AuthnRequest" and replayed.customer_entity_id == "http://idp.example.com/metadata"
    assert o.name_id_format == sp.NAMEID_FORMATS["persistent"] and o.allow_create == "true"
    assert o.authn_contexts == (sp.AC_PREFIX + "Password",) and o.comparison == "exact"
    assert not o.sign and not o.force_authn and o.acs == "url" and o.acs_url == ""
    assert any("SPNameQualifier" in n for n in replayed.notes)  # not copied, and said so
    assert any("http://example.com/acs" in n for n in replayed.notes)  # its ACS URL is replaced by ours
    # The same shape, from the test SP's entity ID:
    root = etree.fromstring(sp.authn_request(T, o, ENTRA_SSO, "_r", NOW))
    assert root.findtext("saml:Issuer", namespaces=sp.NS) == T.entity_id


def test_replay_a_redirect_url_and_sp_metadata(corpus: Path) -> None:
    url = (corpus / "peers/crewjam-saml/sp_authnrequest_redirect_url.txt").read_text()
    assert sp.options_from(url, Limits()).options.binding == "redirect"
    signed = sp.redirect_url(
        ENTRA_SSO, sp.authn_request(T, sp.RequestOptions(), ENTRA_SSO, "_q", NOW), keys=keys(), sig_alg="rsa-sha512"
    )
    o = sp.options_from(signed, Limits()).options
    assert o.sign and o.sig_alg == "rsa-sha512"
    md = sp.sp_metadata(sp.TestSP("customer", "https://app.example"), keys(), NOW).decode()
    replayed = sp.options_from(md, Limits())
    assert replayed.source == "SP metadata" and replayed.customer_entity_id == "https://app.example/sp/customer"
    with pytest.raises(sp.SPError, match="IdP"):
        sp.options_from((corpus / "entra/aad_common_federationmetadata.xml").read_text(), Limits())
    with pytest.raises(sp.SPError):
        sp.options_from("not saml at all", Limits())
    with pytest.raises(sp.SPError):
        sp.options_from(base64.b64encode(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").decode(), Limits())
