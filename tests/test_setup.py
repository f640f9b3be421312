"""The setup checklist, SP presets and profiles, claim-transformation hints and the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from factory import (
    ACS_URL,
    SP_ENTITY_ID,
    ResponseSpec,
    build_response,
    make_keypair,
    signed_response,
    to_bytes,
)
from helpers import entra_settings, run

from samldebug import profiles, transform
from samldebug.certs import Anchor
from samldebug.cli import main
from samldebug.config import Limits

EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def row(report, item_start: str):  # type: ignore[no-untyped-def]
    found = [r for r in report.checklist if r.item.startswith(item_start)]
    assert found, [r.item for r in report.checklist]
    return found[0]


# -- checklist: every row in each state ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, settings, state",
    [
        (ResponseSpec(), {}, "ok"),
        (ResponseSpec(audience="urn:other"), {}, "fail"),
        (ResponseSpec(), {"sp_entity_id": None}, "unknown"),
    ],
)
def test_identifier_row(spec: ResponseSpec, settings: dict, state: str) -> None:  # type: ignore[type-arg]
    r = row(run(signed_response(spec=spec), entra_settings(**settings)), "Identifier")
    assert r.state == state
    assert "Identifier (Entity ID)" in r.field


@pytest.mark.parametrize(
    "spec, settings, state",
    [
        (ResponseSpec(), {}, "ok"),
        (ResponseSpec(recipient=ACS_URL + "/"), {}, "fail"),
        (ResponseSpec(), {"acs_url": None}, "unknown"),
    ],
)
def test_reply_url_row(spec: ResponseSpec, settings: dict, state: str) -> None:  # type: ignore[type-arg]
    r = row(run(signed_response(spec=spec), entra_settings(**settings)), "Reply URL")
    assert r.state == state and "Reply URL" in r.field


@pytest.mark.parametrize(
    "settings, state",
    [
        ({"name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}, "ok"),
        ({"name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}, "fail"),
        ({}, "unknown"),
    ],
)
def test_name_id_format_row(settings: dict, state: str) -> None:  # type: ignore[type-arg]
    assert (
        row(run(signed_response(), entra_settings(**settings)), "Unique User Identifier (Name ID) format").state
        == state
    )


@pytest.mark.parametrize(
    "spec, state",
    [
        (ResponseSpec(), "ok"),
        (ResponseSpec(attributes={EMAIL: ["alice@contoso.example"], SURNAME: [""]}), "fail"),
    ],
)
def test_required_claim_row(spec: ResponseSpec, state: str) -> None:
    report = run(signed_response(spec=spec), entra_settings(required_claims=(SURNAME,)))
    assert row(report, "Required claim Last name").state == state
    report = run(
        signed_response(spec=ResponseSpec(attributes={EMAIL: ["a@b.c"]})), entra_settings(required_claims=(SURNAME,))
    )
    assert row(report, "Required claim Last name").state == "fail"


def test_users_and_groups_row_states() -> None:
    assert row(run(signed_response()), "The user may use the app").state == "ok"
    error = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Requester",
        with_assertion=False,
        status_message="AADSTS50105: not assigned",
    )
    r = row(run(to_bytes(build_response(error))), "The user may use the app")
    assert r.state == "fail" and r.seen == "AADSTS50105" and "Add user/group" in r.field
    assert row(run("just some text AADSTS9999 x"), "The user may use the app").state == "unknown"


def test_certificate_rows() -> None:
    report = run(signed_response())
    assert row(report, "Signing Option").state == "ok"
    assert row(report, "Signing Algorithm").state == "ok"
    assert row(report, "The SP has Entra's current signing certificate").state == "ok"
    from samldebug.profiles import Profile

    strict = entra_settings(profile=Profile(name="needs both", signing="both"))
    assert row(run(signed_response("assertion"), strict), "Signing Option").state == "fail"
    assert row(run(signed_response("both"), strict), "Signing Option").state == "ok"
    sha1 = run(signed_response(algorithm="rsa-sha1", digest="sha1"))
    assert row(sha1, "Signing Algorithm").state == "fail"
    rolled = run(signed_response(keypair=make_keypair(cn="Microsoft Azure Federated SSO Certificate")))
    assert row(rolled, "The SP has Entra's current signing certificate").state == "fail"
    unsigned = run(to_bytes(build_response()), entra_settings(anchors=()))
    assert row(unsigned, "Signing Option").state == "unknown"
    assert row(unsigned, "The SP has Entra's current signing certificate").state == "unknown"


def test_conditional_access_row() -> None:
    spec = ResponseSpec(
        status="urn:oasis:names:tc:SAML:2.0:status:Responder",
        with_assertion=False,
        status_message="AADSTS53003: Access has been blocked by Conditional Access policies.",
    )
    r = row(run(to_bytes(build_response(spec))), "Sign-in meets the policies")
    assert r.state == "fail" and "Conditional Access" in r.field and "compliant device" in (r.note or "")
    assert row(run(signed_response()), "Sign-in meets the policies").state == "ok"


def test_unsigned_message_never_shows_a_plain_tick() -> None:
    report = run(to_bytes(build_response()))
    for r in report.checklist:
        if r.state == "ok":
            assert "unverified" in (r.note or ""), r


def test_checklist_in_json_and_text() -> None:
    from samldebug.report import dumps, to_text

    report = run(signed_response())
    assert json.loads(dumps(report))["checklist"][0]["step"] == "Basic SAML Configuration"
    assert "Entra setup checklist" in to_text(report) and "✓ Basic SAML Configuration" in to_text(report)


# -- presets and profiles -----------------------------------------------------------------------------------


def test_balena_preset_values() -> None:
    p = profiles.presets()["balenacloud"].profile(sso_identifier="acme")
    assert p.sp_entity_id == "https://api.balena-cloud.com/auth/saml/acme"
    assert p.acs_url == "https://api.balena-cloud.com/auth/saml/acme/callback"
    assert p.name_id_source == "user.mail"
    assert ("Identifier (Entity ID)", "https://api.balena-cloud.com/auth/saml/acme") in p.basic_saml_configuration()
    assert any("metadata" in s.lower() for s in p.steps_sp)
    with pytest.raises(profiles.ProfileError):
        profiles.presets()["balenacloud"].profile(sso_identifier="../evil")


def test_balena_preset_flags_audience_without_identifier() -> None:
    spec = ResponseSpec(
        audience="https://api.balena-cloud.com/auth/saml/",
        recipient="https://api.balena-cloud.com/auth/saml/acme/callback",
    )
    r = CliRunner().invoke(
        main,
        [
            "analyze",
            "-",
            "--preset",
            "balenacloud",
            "--param",
            "sso_identifier=acme",
            "--now",
            "2026-03-01T12:01:00Z",
            "--format",
            "json",
        ],
        input=signed_response(spec=spec),
    )
    doc = json.loads(r.output)
    f = next(f for f in doc["findings"] if f["code"] == "audience_mismatch")
    assert f["expected"] == "https://api.balena-cloud.com/auth/saml/acme"
    assert f["actual"] == "https://api.balena-cloud.com/auth/saml/"
    assert any(c["state"] == "fail" and c["item"].startswith("Identifier") for c in doc["checklist"])


def test_profiles_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(
        '[profiles.acme]\nsp_entity_id = "urn:acme"\nacs_url = "https://acme/acs"\n'
        'required_claims = ["email"]\nskew = 30\njit_provisioning = true\n'
    )
    p = profiles.load_profiles(path)["acme"]
    s = p.apply(entra_settings(sp_entity_id=None, acs_url=None))
    assert (s.sp_entity_id, s.acs_url, s.required_claims, s.skew) == ("urn:acme", "https://acme/acs", ("email",), 30)
    path.write_text('[profiles.bad]\nsigning = "sometimes"\n')
    with pytest.raises(profiles.ProfileError, match="signing"):
        profiles.load_profiles(path)
    path.write_text("[profiles.bad]\nunknown_key = 1\n")
    with pytest.raises(profiles.ProfileError, match="unknown keys"):
        profiles.load_profiles(path)


def test_profile_from_sp_metadata() -> None:
    sp = make_keypair(cn="sp")
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    der = base64.b64encode(sp.cert.public_bytes(Encoding.DER)).decode()
    xml = f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example.com/saml/metadata">
      <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
        <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
        <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
        <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{ACS_URL}" index="0" isDefault="true"/>
        <md:AttributeConsumingService index="0"><md:ServiceName xml:lang="en">x</md:ServiceName>
          <md:RequestedAttribute Name="{EMAIL}" isRequired="true"/></md:AttributeConsumingService>
      </md:SPSSODescriptor></md:EntityDescriptor>""".encode()
    p, notes = profiles.from_sp_metadata(xml, Limits())
    assert (p.sp_entity_id, p.acs_url, p.signing, p.require_signed_requests) == (
        SP_ENTITY_ID,
        ACS_URL,
        "assertion",
        True,
    )
    assert p.required_claims == (EMAIL,) and p.name_id_format.endswith("persistent") and notes == []
    s = p.apply(entra_settings())
    assert s.sp_anchors and s.sp_anchors[0].cert == sp.cert


def test_every_preset_is_valid_data() -> None:
    for key, preset in profiles.presets().items():
        p = preset.profile(**{name: "example" for name in preset.parameters})
        assert p.sp_entity_id and p.acs_url, key


# -- transformations and JIT ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected, actual, word",
    [
        ("alice@contoso.example", "Alice@Contoso.example", "ToLowercase()"),
        ("ALICE", "alice", "ToUppercase()"),
        ("alice", "alice@contoso.example", "ExtractMailPrefix()"),
        ("Alice.Example", "x", None),
        ("alice-example", "alice.example", "RegexReplace()"),
    ],
)
def test_transformation_hints(expected: str, actual: str, word: str | None) -> None:
    found = transform.hint(expected, actual)
    assert (word in found) if word else found is None or "Join" not in found


def test_join_hint() -> None:
    assert "Join()" in transform.hint("Alice.Example", "x", ["Alice", "Example"])


def test_expected_name_id_mismatch_names_the_transformation() -> None:
    report = run(signed_response(), entra_settings(expected_name_id="alice"))
    f = next(f for f in report.findings if f.code == "name_id_value_mismatch")
    assert "ExtractMailPrefix()" in f.fix


def test_jit_with_email_name_id_warns() -> None:
    from samldebug.profiles import Profile

    report = run(signed_response(), entra_settings(profile=Profile(name="jit", jit_provisioning=True)))
    f = next(f for f in report.findings if f.code == "name_id_unstable_jit")
    assert "user.objectid" in f.fix and "Persistent" in f.fix


# -- diff ------------------------------------------------------------------------------------------------------


def test_diff_names_exactly_the_two_differences(tmp_path: Path) -> None:
    a = ResponseSpec(name_id="alice@contoso.example")
    a.attributes[ROLE] = ["Reader"]
    b = ResponseSpec(name_id="Alice@Contoso.example")
    b.attributes[ROLE] = ["Admin"]
    (tmp_path / "a.xml").write_bytes(signed_response(spec=a))
    (tmp_path / "b.xml").write_bytes(signed_response(spec=b))
    r = CliRunner().invoke(
        main,
        ["diff", str(tmp_path / "a.xml"), str(tmp_path / "b.xml"), "--now", "2026-03-01T12:01:00Z", "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    diffs = json.loads(r.output)["differences"]
    assert [d["field"] for d in diffs] == ["NameID", f"claim Role (app roles) ({ROLE})"], diffs
    assert "ToLowercase()" in diffs[0]["hint"]
    assert "last matching row wins" in diffs[1]["hint"] or "matches last" in diffs[1]["hint"]
    text = (
        CliRunner()
        .invoke(main, ["diff", str(tmp_path / "a.xml"), str(tmp_path / "b.xml"), "--now", "2026-03-01T12:01:00Z"])
        .output
    )
    assert "ToLowercase()" in text


def test_diff_signing_and_claims_added() -> None:
    from samldebug.diff import compare

    a = run(signed_response("assertion"))
    spec = ResponseSpec()
    spec.attributes["http://schemas.microsoft.com/claims/groups.link"] = ["https://graph/x"]
    b = run(signed_response("both", spec=spec), entra_settings(anchors=(Anchor(make_keypair().cert, "x"),)))
    fields = {d.field for d in compare(a, b)}
    assert "signed element" in fields and "signature verdict" in fields
    assert any(f.startswith("claim") and f.endswith("added") for f in fields)
    assert any(f.startswith("error: ") for f in fields)
