"""Secrets the attack review found in stored reports, sanitized captures and signed Redirect queries."""

from __future__ import annotations

import json

from factory import SAML, ResponseSpec, b64, build_assertion, build_response, sign, signed_response, to_bytes
from helpers import run
from lxml import etree

from samldebug import redact
from samldebug.report import from_json, to_json

LANGUAGE = "http://schemas.microsoft.com/identity/claims/preferredlanguage"


def test_a_short_claim_value_never_breaks_the_stored_report() -> None:
    spec = ResponseSpec(attributes={LANGUAGE: ["ar"], "role": ["in", "error"]})
    doc = to_json(run(signed_response(spec=spec, algorithm="rsa-sha1", digest="sha1")))
    assert {"warning", "info"} <= {f["severity"] for f in doc["findings"]}
    for level in ("identity", "all"):
        out = redact.redact(doc, level)
        text = json.dumps(out)
        assert "w[redacted" not in text and "[redacted-" in text
        assert [f["severity"] for f in out["findings"]] == [f["severity"] for f in doc["findings"]]
        from_json(out)  # the stored report loads again (a permalink must never answer 500)


def _values_of(doc: dict) -> str:  # type: ignore[type-arg]
    return json.dumps(doc)


def test_identity_redaction_reaches_every_identity_value() -> None:
    # a second assertion with its own NameID and attributes; a NameID split by a comment; the UPN in a StatusMessage
    spec = ResponseSpec(
        name_id="alice@contoso.example",
        status_message="AADSTS50105: The signed in user 'carol@contoso.example' is not assigned to a role",
    )
    response = build_response(spec)
    second = build_assertion(ResponseSpec(name_id="bob-second@contoso.example", attributes={"dept": ["Finance-7"]}))
    second.set("ID", "_second")
    response.append(second)
    name_id = response.find(f".//{{{SAML}}}NameID")
    assert name_id is not None
    name_id.text = "dave"
    comment = etree.Comment("x")
    comment.tail = ".split@contoso.example"
    name_id.append(comment)
    doc = to_json(run(to_bytes(response)))
    text = json.dumps(redact.redact(doc, "identity"))
    for value in ("carol@contoso.example", "bob-second", "Finance-7", "dave.split", ".split@contoso"):
        assert value not in text, value


def test_identity_redaction_masks_the_request_subject() -> None:
    from test_requests import request_xml

    xml = request_xml(
        extra='<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">'
        "erin-request-subject</saml:NameID></saml:Subject>"
    )
    doc = to_json(run(xml))
    assert "erin-request-subject" not in json.dumps(redact.redact(doc, "identity"))


def test_url_userinfo_and_jsessionid_are_masked() -> None:
    from samldebug.redact import _Masker

    masker = _Masker([], "identity")
    out = masker.value("https://user:s3cret-pw@sp.example.com/acs;jsessionid=ABCDEF0123456789?x=1")
    assert "s3cret-pw" not in out and "ABCDEF0123456789" not in out and "sp.example.com/acs" in out


def test_redirect_relay_state_with_a_literal_question_mark_must_match_exactly() -> None:
    import base64 as b64mod
    from urllib.parse import quote_plus

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from test_requests import RSA_SHA256, SP, SSO, deflate_b64, request_xml
    from test_requests import settings as request_settings

    query = f"SAMLRequest={quote_plus(deflate_b64(request_xml()), safe='')}&RelayState=/app?tab=1"
    query += f"&SigAlg={quote_plus(RSA_SHA256, safe='')}"
    signature = SP.key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
    query += f"&Signature={quote_plus(b64mod.b64encode(signature).decode(), safe='')}"
    assert run(f"{SSO}?{query}", request_settings()).messages[0].signature.status.value == "valid"
    tampered = query.replace("/app?tab=1", "/app\u00e9tab=1")  # one character changed after signing
    report = run(f"{SSO}?{tampered}", request_settings())
    assert report.messages[0].signature.status.value == "invalid"


# --- sanitize: anything the analyser can read as SAML, sanitize sees; credentials wherever they travel --------


def _sanitize(entries: list[dict]) -> str:  # type: ignore[type-arg]
    from hostile import _har

    from samldebug.sanitize import sanitize_capture

    return sanitize_capture(_har(entries)).data.decode()


def _signed_value() -> tuple[str, str]:
    """A base64 SAMLResponse and the base64 of its SignatureValue (which must never survive sanitize)."""
    signed = sign(build_response(), "assertion")
    value = signed.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    assert value is not None and value.text
    return b64(to_bytes(signed)), "".join(value.text.split())[:40]


def test_sanitize_sees_every_saml_message_the_analyser_reads() -> None:
    from hostile import _entry

    response, signature = _signed_value()
    mixed_case = f'<FORM method="post" action="https://sp/acs"><Input type="hidden" name="SAMLResponse" value="{response}"></FORM>'
    json_body = json.dumps({"SAMLResponse": response, "RelayState": "r"})
    odd_mime = f'<form method="post"><input name="SAMLResponse" value="{response}"></form>'
    out = _sanitize(
        [
            _entry("https://idp.example/sso", body=mixed_case),
            _entry("https://idp.example/api", body=json_body, mime="application/json"),
            _entry("https://idp.example/odd", body=odd_mime, mime="application/x-unusual"),
        ]
    )
    assert response not in out  # the signed, replayable copy is gone from all three
    assert out.count("SAMLResponse") >= 3  # (each is still there, sanitized)
    assert signature not in out


def test_sanitize_removes_credentials_wherever_they_travel() -> None:
    from hostile import _entry

    entry = _entry("https://alice:hunter2-pw@sp.example.com/app")
    entry["request"]["headers"] = [  # type: ignore[index]
        {"name": "Ocp-Apim-Subscription-Key", "value": "apim-key-0123456789"},
        {"name": "X-Functions-Key", "value": "functions-key-0123456789"},
        {"name": "X-ZUMO-AUTH", "value": "zumo-token-0123456789"},
        {"name": "Accept", "value": "text/html"},
    ]
    entry["request"]["postData"] = {  # type: ignore[index]
        "mimeType": "application/json",
        "text": json.dumps({"clientSecret": "client-secret-0123456789", "apiKey": "api-key-0123456789"}),
    }
    entry["_webSocketMessages"] = [
        {"type": "send", "time": 1, "opcode": 1, "data": "Authorization: Bearer ws-bearer-0123456789"},
        {"type": "send", "time": 1, "opcode": 1, "data": json.dumps({"password": "ws-password-0123456789"})},
    ]
    out = _sanitize([entry])
    for secret in (
        "hunter2-pw",
        "apim-key-0123456789",
        "functions-key-0123456789",
        "zumo-token-0123456789",
        "client-secret-0123456789",
        "api-key-0123456789",
        "ws-bearer-0123456789",
        "ws-password-0123456789",
    ):
        assert secret not in out, secret
    assert "text/html" in out  # ordinary headers stay


def test_redaction_of_many_and_long_values_stays_linear_and_quiet(capfd) -> None:  # type: ignore[no-untyped-def]
    attributes = {f"attr{i}": [f"value-{i}-" * 3 for _ in range(5)] for i in range(1_000)}
    attributes["long"] = ["L" * 200_000]
    doc = to_json(run(signed_response(spec=ResponseSpec(attributes=attributes))))
    capfd.readouterr()
    out = json.dumps(redact.redact(doc, "identity"))
    assert "L" * 1_000 not in out and "value-999-" not in out
    assert "DFA out of memory" not in capfd.readouterr().err  # every RE2 alternation stays small
