"""Golden reports: the before/after proof for refactors.

Every corpus sample (MANIFEST.json, with its verification certificate / metadata and SP key as the corpus tests
use them) is analysed at the corpus tests' instant and at its own IssueInstant; every fixture built by the test
factories (tests/factory.py, tests/harfactory.py) is stored once under `fixtures/` (so keys and IDs are stable)
and analysed at its fixed instant. Each case's normalised report (verdict, finding code / severity / message /
where, checklist rows, per-message signature verdicts, flows and timeline) is written as JSON next to the
fixtures: captures in the mitmproxy style, each browser's HAR beside its expected report.

    make golden              # rewrite every expected/*.json from the current code (review the diff)
    make golden ARGS=--fixtures   # also rebuild the factory fixtures (new keys and IDs: commit both)

tests/test_golden.py compares the current output with the committed JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from samldebug.certs import Anchor, load_certs
from samldebug.config import Limits, Settings
from samldebug.decrypt import load_private_keys
from samldebug.model import Report
from samldebug.pipeline import analyze
from samldebug.report import verdict
from samldebug.trust import collect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = Path(os.environ.get("SAMLDEBUG_TEST_CORPUS") or ROOT / ".." / "shared" / "corpus").resolve()
FIXTURES = HERE / "fixtures"
CAPTURES = HERE / "captures"
EXPECTED = HERE / "expected"
CORPUS_NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIXTURE_T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # factory.T0
SP_ENTITY_ID = "https://sp.example.com/saml/metadata"
ACS_URL = "https://sp.example.com/saml/acs"


@dataclass(frozen=True)
class Case:
    name: str  # the golden file's stem
    data: Callable[[], bytes]
    settings: Callable[[], Settings]
    now: datetime
    expected: Path


def normalise(report: Report) -> dict[str, Any]:
    """What must not change across a refactor, in a stable order."""
    d = report.diagnosis
    return {
        "diagnosis": {"code": d.code, "side": d.side, "where": d.where, "summary": d.summary} if d else None,
        "flow_diagnoses": [{"code": x.code, "side": x.side} for x in report.flow_diagnoses],
        "time_basis": report.time_basis,
        "verdict": verdict(report),
        "input_steps": list(report.input.steps),
        "messages": [
            {
                "kind": m.kind,
                "signature": m.signature.status.value if m.signature else None,
                "signed_elements": list(m.signature.signed_elements) if m.signature else [],
                "attack": bool(m.signature and m.signature.attack),
                "trusted": m.trusted is not None,
                "evaluated_at": m.evaluated_at,
            }
            for m in report.messages
        ],
        "findings": sorted(
            (
                {"code": f.code, "severity": f.severity.value, "message": f.message, "where": f.where}
                for f in report.findings
            ),
            key=lambda f: (f["code"], f["severity"], -1 if f["message"] is None else f["message"], f["where"] or ""),
        ),
        "entra_errors": sorted(e.code for e in report.entra_errors),
        "checklist": [
            {"step": r.step, "item": r.item, "state": r.state, "seen": r.seen, "expected": r.expected, "field": r.field}
            for r in report.checklist
        ],
        "flows": [{"kind": f.kind, "request": f.request, "response": f.response} for f in report.flows],
        "timeline": [
            {"entry": t.entry, "kind": t.kind, "message": t.message, "worst": t.worst} for t in report.timeline
        ],
    }


def run(case: Case) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some upstream certs carry negative serials
        return normalise(analyze(case.data(), case.settings(), now=case.now))


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


# --- the shared corpus ------------------------------------------------------------------------------------------


def _manifest() -> list[dict[str, Any]]:
    path = CORPUS / "MANIFEST.json"
    if not path.is_file():
        raise FileNotFoundError(f"the shared corpus is missing at {CORPUS}")
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return entries


def _sp_key(file: str) -> Path | None:
    folder = CORPUS / file.rsplit("/", 1)[0]
    for name in ("sp_key.pem", "ruby-saml_sp_key.pem"):
        if (folder / name).is_file():
            return folder / name
    return None


def _corpus_settings(entry: dict[str, Any]) -> Callable[[], Settings]:
    def make() -> Settings:
        cert = entry["expected"].get("verification_cert")
        md = [((CORPUS / cert).read_bytes(), cert)] if cert and cert.endswith(".xml") else []
        pem = [((CORPUS / cert).read_bytes(), cert)] if cert and cert.endswith(".pem") else []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            settings = collect(md, pem, Limits(), CORPUS_NOW).apply(Settings(skew=180))
        key = _sp_key(entry["file"])
        data = (CORPUS / entry["file"]).read_bytes()
        xml = data if b"<" in data[:100] else base64.b64decode(data)
        if cert and key is not None and b"EncryptedAssertion" in xml:
            from dataclasses import replace

            settings = replace(settings, decryption_keys=tuple(load_private_keys(key.read_bytes())))
        return settings

    return make


_INSTANT = re.compile(rb'IssueInstant="([0-9T:.Z+-]{10,40})"')


def _own_instant(data: bytes) -> datetime | None:
    xml = data if b"<" in data[:100] else base64.b64decode(data)
    m = _INSTANT.search(xml)
    if m is None:
        return None
    text = m.group(1).decode()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00")[:19] + "+00:00")
    except ValueError:
        return None
    return when + timedelta(minutes=1)


def corpus_cases() -> Iterator[Case]:
    for entry in _manifest():
        if entry["kind"] not in ("response", "request", "metadata"):
            continue
        file = entry["file"]
        path = CORPUS / file
        stem = file.replace("/", "__")
        settings = _corpus_settings(entry) if entry["kind"] == "response" else Settings
        yield Case(f"corpus/{stem}", path.read_bytes, settings, CORPUS_NOW, EXPECTED / "corpus" / f"{stem}.json")
        own = _own_instant(path.read_bytes())
        if own is not None:
            yield Case(f"corpus/{stem}@own", path.read_bytes, settings, own, EXPECTED / "corpus" / f"{stem}@own.json")


# --- factory fixtures -------------------------------------------------------------------------------------------


def _fixture_settings() -> Settings:
    idp = load_certs((FIXTURES / "idp_cert.pem").read_bytes())
    return Settings(
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        idp_entity_id="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/",
        anchors=tuple(Anchor(c, "metadata signing cert #1") for c in idp),
    )


def _anchors_only_settings() -> Settings:
    return Settings(anchors=_fixture_settings().anchors)


def _no_anchor_settings() -> Settings:
    return Settings(sp_entity_id=SP_ENTITY_ID, acs_url=ACS_URL)


CAPTURE_SHAPES = ("chrome", "firefox", "safari")
LATER = FIXTURE_T0 + timedelta(days=30)


def fixture_cases() -> Iterator[Case]:
    for path in sorted(FIXTURES.glob("*.xml")) + sorted(FIXTURES.glob("*.b64")):
        for label, now in (("t0", FIXTURE_T0 + timedelta(minutes=1)), ("later", LATER)):
            for trust, settings in (("anchored", _fixture_settings), ("bare", _no_anchor_settings)):
                name = f"{path.stem}.{label}.{trust}"
                yield Case(f"fixtures/{name}", path.read_bytes, settings, now, EXPECTED / "fixtures" / f"{name}.json")
    for path in sorted(CAPTURES.glob("*.har")) + sorted(CAPTURES.glob("*.tracer.json")):
        stem = path.name.removesuffix(".har").removesuffix(".tracer.json")
        now = FIXTURE_T0 + timedelta(minutes=1) if path.name.endswith(".tracer.json") else LATER
        yield Case(f"captures/{stem}", path.read_bytes, _fixture_settings, now, CAPTURES / f"{stem}.expected.json")
        # No SP expectations given: the capture's own AuthnRequest supplies them.
        yield Case(
            f"captures/{stem}.bare",
            path.read_bytes,
            _anchors_only_settings,
            now,
            CAPTURES / f"{stem}.bare.expected.json",
        )


def all_cases() -> list[Case]:
    return [*corpus_cases(), *fixture_cases()]


# --- building the factory fixtures (only with --fixtures: new keys, new IDs) ------------------------------------


def build_fixtures() -> None:
    import factory as f  # tests/ is on the path when run as `make golden`
    import harfactory as hf

    FIXTURES.mkdir(exist_ok=True)
    CAPTURES.mkdir(exist_ok=True)
    for old in [*FIXTURES.glob("*"), *CAPTURES.glob("*.har"), *CAPTURES.glob("*.tracer.json")]:
        old.unlink()
    (FIXTURES / "idp_cert.pem").write_bytes(f.idp_key().cert_pem)
    spec = f.ResponseSpec
    xml: dict[str, bytes] = {
        "signed_assertion": f.signed_response("assertion"),
        "signed_response": f.signed_response("response"),
        "signed_both": f.signed_response("both"),
        "unsigned": f.to_bytes(f.build_response()),
        "signed_sha1": f.signed_response("assertion", algorithm="rsa-sha1", digest="sha1"),
        "other_key": f.signed_response("assertion", keypair=f.other_key()),
        "wrong_audience": f.signed_response("assertion", spec(audience="https://other.example.com/")),
        "trailing_slash_recipient": f.signed_response(
            "assertion", spec(recipient=ACS_URL + "/", destination=ACS_URL + "/")
        ),
        "wrong_issuer": f.signed_response("assertion", spec(issuer="https://sts.windows.net/other/")),
        "error_status": f.to_bytes(
            f.build_response(
                spec(
                    status="urn:oasis:names:tc:SAML:2.0:status:Responder",
                    sub_status="urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
                    status_message="AADSTS50105: The signed in user is not assigned to a role for the application.",
                    with_assertion=False,
                )
            )
        ),
        "idp_initiated": f.signed_response("assertion", spec(in_response_to=None)),
        "transient_name_id": f.signed_response(
            "assertion", spec(name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient", name_id="x1")
        ),
        "metadata": f.metadata(),
        "authn_request": hf.authn_request("id-0123456789abcdef0123456789abcdef"),
    }
    for n in range(1, 9):
        xml[f"xsw{n}"] = f.xsw(n)
    tampered = f.signed_response("assertion").replace(b"alice@contoso.example", b"bob@contoso.example", 1)
    xml["tampered"] = tampered
    for name, data in xml.items():
        (FIXTURES / f"{name}.xml").write_bytes(data)
    (FIXTURES / "signed_assertion_form.b64").write_bytes(
        b"SAMLResponse=" + base64.b64encode(xml["signed_assertion"]).replace(b"+", b"%2B") + b"&RelayState=x"
    )
    flows = {
        "sp_initiated": hf.sp_initiated(),
        "idp_initiated": hf.idp_initiated(),
        "error_flow": hf.error_flow(),
    }
    for flow_name, flow in flows.items():
        for shape in CAPTURE_SHAPES:
            (CAPTURES / f"{flow_name}.{shape}.har").write_bytes(hf.dumps(hf.har(flow, shape)))
        (CAPTURES / f"{flow_name}.saml-tracer.tracer.json").write_bytes(hf.dumps(hf.saml_tracer(flow)))
    import random

    request_id = f"id-{random.Random(1).getrandbits(128):032x}"  # sp_initiated(seed=1) draws its request ID first
    elsewhere = f.ResponseSpec(
        in_response_to=request_id,
        issued=hf.T0 + timedelta(seconds=20),
        recipient="https://other.example.com/acs",
        destination="https://other.example.com/acs",
        audience="urn:someone-else",
    )
    mismatch = hf.sp_initiated(seed=1, response_spec=elsewhere)
    (CAPTURES / "mismatch.chrome.har").write_bytes(hf.dumps(hf.har(mismatch, "chrome")))
    both = hf.concat(hf.sp_initiated(seed=5), hf.error_flow(hf.T0 + timedelta(minutes=5), seed=6))
    (CAPTURES / "two_flows.chrome.har").write_bytes(hf.dumps(hf.har(both, "chrome")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", action="store_true", help="rebuild the factory fixtures first (new keys)")
    args = parser.parse_args()
    if args.fixtures:
        build_fixtures()
    for old in EXPECTED.rglob("*.json"):
        old.unlink()
    for old in CAPTURES.glob("*.expected.json"):
        old.unlink()
    cases = all_cases()
    for case in cases:
        case.expected.parent.mkdir(parents=True, exist_ok=True)
        case.expected.write_text(dumps(run(case)))
    print(f"{len(cases)} golden reports written")


if __name__ == "__main__":
    main()
