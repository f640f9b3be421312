"""Resource bounds: worst-case inputs finish within a fixed time budget and memory cap.

The budgets are generous on purpose (a noisy 2-core machine); what they prove is that nothing grows without
bound: no quadratic blow-up, no unbounded expansion, no input held in many copies.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from factory import DS, build_response, idp_key, make_keypair, sign, to_bytes
from helpers import entra_settings
from lxml import etree

from samldebug.certs import Anchor
from samldebug.config import Limits
from samldebug.pipeline import analyze

TIME_BUDGET = 5.0  # seconds per request (the per-request signature budget is Limits.time_budget)
MEMORY_CAP = 96 * 1024 * 1024  # bytes of Python heap per request
SAMLP = 'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'


def measure(data: bytes | str, settings=None):  # type: ignore[no-untyped-def]
    from webutil import CLOCK

    tracemalloc.start()
    start = time.perf_counter()
    report = analyze(data, settings or entra_settings(), now=CLOCK)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not report.has("internal_error")
    return report, elapsed, peak


def many_signatures() -> bytes:
    signed = sign(build_response(), "both")
    sig = signed.find(f"{{{DS}}}Signature")
    for _ in range(7):
        sig.addnext(etree.fromstring(etree.tostring(sig)))
    return to_bytes(signed)


def many_references() -> bytes:
    signed = sign(build_response(), "assertion")
    signed_info = signed.find(f".//{{{DS}}}SignedInfo")
    ref = signed_info.find(f"{{{DS}}}Reference")
    for _ in range(500):
        signed_info.append(etree.fromstring(etree.tostring(ref)))
    return to_bytes(signed)


def huge_base64() -> str:
    return base64.b64encode(
        b"<samlp:Response " + SAMLP.encode() + b">" + b"A" * (3 * 1024 * 1024) + b"</samlp:Response>"
    ).decode()


def one_mib_of_elements() -> bytes:
    body = b"<x a='1'/>" * 19000
    return b"<samlp:Response " + SAMLP.encode() + b">" + body + b"</samlp:Response>"


def deflate_bomb() -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(b"<" + b"a" * (200 * 1024 * 1024)) + c.flush()).decode()


CASES: dict[str, Callable[[], bytes | str]] = {
    "deep nesting": lambda: f"<samlp:Response {SAMLP}>" + "<a>" * 100_000 + "</a>" * 100_000 + "</samlp:Response>",
    "thousands of attributes": lambda: (
        f"<samlp:Response {SAMLP} " + " ".join(f'a{i}="{"v" * 50}"' for i in range(20_000)) + "/>"
    ),
    "many signatures": many_signatures,
    "many references": many_references,
    "huge base64": huge_base64,
    "1 MiB of elements": one_mib_of_elements,
    "deflate bomb": deflate_bomb,
    "huge attribute value": lambda: f'<samlp:Response {SAMLP} ID="{"x" * 900_000}"/>',
    "20 MiB paste": lambda: "A" * (20 * 1024 * 1024),
}


@pytest.mark.parametrize("name", list(CASES))
def test_worst_case_is_bounded(name: str) -> None:
    data = CASES[name]()
    report, elapsed, peak = measure(data)
    assert elapsed < TIME_BUDGET, f"{name}: {elapsed:.2f} s"
    assert peak < MEMORY_CAP + 3 * len(data), f"{name}: peak {peak / 1e6:.1f} MB"
    assert report.findings  # a clear finding, never silence


def test_many_anchors_and_signatures_are_cut_off_by_the_budget() -> None:
    anchors = tuple(Anchor(idp_key().cert, f"copy {i}") for i in range(40))
    settings = entra_settings(anchors=anchors, limits=Limits(time_budget=0.05))
    report, elapsed, _ = measure(many_signatures(), settings)
    assert elapsed < TIME_BUDGET
    assert report.messages[0].signature.status.value == "invalid"


def test_budget_finding_when_work_is_cut_off() -> None:
    other = [Anchor(make_keypair(cn=f"k{i}").cert, f"wrong {i}") for i in range(6)]
    settings = entra_settings(anchors=tuple(other), limits=Limits(time_budget=0.0))
    report, _, _ = measure(to_bytes(sign(build_response(), "assertion")), settings)
    assert report.has("analysis_budget_exceeded")
    assert report.messages[0].signature.status.value == "invalid"
