"""Time `analyze` on an Entra-shaped ~6 KB signed response against the physical floor.

The floor is the work no verifier can skip: base64 decode + XML parse + exclusive c14n of the signed element
+ SHA-256 digest + c14n of SignedInfo + one RSA verify. All contenders run interleaved in the same process,
so machine noise hits them alike; the result is a ratio, not an absolute time.

    python benchmarks/bench_analyze.py [--iterations 2000] [--write]

--write appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from factory import ACS_URL, ISSUER, SP_ENTITY_ID, T0, ResponseSpec, build_response, idp_key, sign, to_bytes  # noqa: E402
from lxml import etree  # noqa: E402
from signxml import SignatureConfiguration, XMLVerifier  # noqa: E402

from samldebug.certs import Anchor  # noqa: E402
from samldebug.config import Settings  # noqa: E402
from samldebug.pipeline import analyze  # noqa: E402
from samldebug.signature import OUTCOMES  # noqa: E402

DS = "http://www.w3.org/2000/09/xmldsig#"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def entra_response() -> str:
    spec = ResponseSpec()
    spec.attributes.update(
        {
            "http://schemas.microsoft.com/identity/claims/displayname": ["Alice Example"],
            "http://schemas.microsoft.com/identity/claims/identityprovider": [ISSUER],
            "http://schemas.microsoft.com/claims/authnmethodsreferences": [
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
                "http://schemas.microsoft.com/claims/multipleauthn",
            ],
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": [
                f"{i:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b" for i in range(8)
            ],
        }
    )
    return base64.b64encode(to_bytes(sign(build_response(spec), "assertion"))).decode()


def make_floor(b64: str) -> Callable[[], None]:
    cert = idp_key().cert
    public_key = cert.public_key()

    def floor() -> None:
        xml = base64.b64decode(b64)
        root = etree.fromstring(xml)
        assertion = root.find(f"{{{SAML}}}Assertion")
        sig = assertion.find(f"{{{DS}}}Signature")
        signed_info = sig.find(f"{{{DS}}}SignedInfo")
        value = base64.b64decode(sig.findtext(f"{{{DS}}}SignatureValue"))
        assertion.remove(sig)  # enveloped-signature transform
        digest = hashlib.sha256(etree.tostring(assertion, method="c14n", exclusive=True)).digest()
        assert base64.b64encode(digest).decode() == signed_info.findtext(f".//{{{DS}}}DigestValue")
        si = etree.tostring(signed_info, method="c14n", exclusive=True)
        public_key.verify(value, si, padding.PKCS1v15(), hashes.SHA256())

    return floor


def make_signxml(b64: str) -> Callable[[], None]:
    cert = idp_key().cert
    cfg = SignatureConfiguration(location=f"./{{{SAML}}}Assertion/", verification_time=T0)

    def signxml_alone() -> None:
        XMLVerifier().verify(base64.b64decode(b64), x509_cert=cert, expect_config=cfg)

    return signxml_alone


def make_analyze(b64: str, warm: bool = False) -> Callable[[], None]:
    """cold: the signature-outcome cache is emptied first (a message seen for the first time);
    warm: the same message analysed again (other settings, evaluation time, a duplicate in a capture)."""
    settings = Settings(
        sp_entity_id=SP_ENTITY_ID,
        acs_url=ACS_URL,
        idp_entity_id=ISSUER,
        anchors=(Anchor(idp_key().cert, "metadata"),),
    )
    now = T0 + timedelta(minutes=1)

    def samldebug_analyze() -> None:
        if not warm:
            OUTCOMES.clear()
        report = analyze(b64, settings, now=now)
        assert report.messages[0].signature.status.value == "valid", report.findings

    return samldebug_analyze


def make_python3_saml(b64: str) -> Callable[[], None] | None:
    try:
        from onelogin.saml2.response import OneLogin_Saml2_Response
        from onelogin.saml2.settings import OneLogin_Saml2_Settings
        from onelogin.saml2.utils import OneLogin_Saml2_Utils
    except ImportError:
        return None
    cert_b64 = base64.b64encode(idp_key().cert.public_bytes(serialization.Encoding.DER)).decode()
    settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {"entityId": SP_ENTITY_ID, "assertionConsumerService": {"url": ACS_URL}},
            "idp": {
                "entityId": ISSUER,
                "singleSignOnService": {"url": "https://login.microsoftonline.com/x/saml2"},
                "x509cert": cert_b64,
            },
            "security": {"wantAssertionsSigned": True},
        },
        sp_validation_only=True,
    )
    OneLogin_Saml2_Utils.now = staticmethod(lambda: int((T0 + timedelta(minutes=1)).timestamp()))  # type: ignore[method-assign]

    def python3_saml() -> None:
        resp = OneLogin_Saml2_Response(settings, b64)
        request = {"https": "on", "http_host": "sp.example.com", "script_name": "/saml/acs", "server_port": "443"}
        assert resp.is_valid(request, request_id="id-4f1c2a3b5d6e7f8091a2b3c4d5e6f708", raise_exceptions=True)

    return python3_saml


def measure(contenders: dict[str, Callable[[], None]], iterations: int) -> dict[str, list[float]]:
    for fn in contenders.values():  # warm-up and sanity
        for _ in range(20):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(iterations):
        for name, fn in contenders.items():  # interleaved: noise is shared
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    b64 = entra_response()
    xml_size = len(base64.b64decode(b64))
    contenders: dict[str, Callable[[], None]] = {
        "floor": make_floor(b64),
        "signxml alone": make_signxml(b64),
        "samldebug analyze (cold)": make_analyze(b64),
        "samldebug analyze (warm)": make_analyze(b64, warm=True),
    }
    p3 = make_python3_saml(b64)
    if p3 is not None:
        contenders["python3-saml is_valid"] = p3
    times = measure(contenders, args.iterations)
    floor = statistics.median(times["floor"])
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {args.iterations} iterations, response {xml_size} bytes XML",
        "",
        "| contender | median µs | p99 µs | × floor (median) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in times.items():
        med = statistics.median(values)
        lines.append(f"| {name} | {med * 1e6:.0f} | {p99(values) * 1e6:.0f} | {med / floor:.2f} |")
    if p3 is None:
        lines.append("| python3-saml is_valid | not installed | | |")
    else:
        ratio = statistics.median(times["python3-saml is_valid"]) / statistics.median(times["samldebug analyze (cold)"])
        lines.append(f"\nsamldebug is {ratio:.1f}× faster than python3-saml (median).")
    table = "\n".join(lines) + "\n"
    print(table)
    for kind in ("cold", "warm"):
        ratio = statistics.median(times[f"samldebug analyze ({kind})"]) / floor
        print(f"RESULT analyze ({kind})/floor median ratio = {ratio:.2f} (target ≤ 5)")
    if args.write:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
