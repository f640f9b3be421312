"""The hostile inputs of the attack review, each built at the documented size limit. Used by tests/test_hostile.py
(loose bounds) and benchmarks/bench_hostile.py (precise CPU and RSS).

Each payload stays within the limits a visitor may use: a 4 MiB paste (1 MiB of XML), a HAR upload, a metadata
document; each once cost tens of seconds of CPU (or gigabytes) on one request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from factory import build_response, sign, to_bytes
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
XML_LIMIT = 1024 * 1024
PASTE_LIMIT = 4 * 1024 * 1024


def _har(entries: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, "entries": entries}},
        separators=(",", ":"),
    ).encode()


def _entry(url: str, status: int = 200, location: str | None = None, body: str = "", mime: str = "text/html") -> dict:  # type: ignore[type-arg]
    headers = [{"name": "Location", "value": location}] if location else []
    return {
        "startedDateTime": "2026-03-01T12:00:00.000Z",
        "time": 1,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/2", "headers": [], "queryString": [],
                    "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": status, "statusText": "", "httpVersion": "HTTP/2", "headers": headers,
                     "cookies": [], "content": {"size": len(body), "mimeType": mime, "text": body},
                     "redirectURL": location or "", "headersSize": -1, "bodySize": len(body)},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0},
    }  # fmt: skip


def cert_pem_lines() -> bytes:
    """A signed response whose KeyInfo certificate is base64 of ~700 KiB of PEM BEGIN lines (the ADFS
    base64-of-PEM path once re-ran a lazy PEM regex over it: quadratic)."""
    signed = sign(build_response(), "assertion")
    cert = signed.find(f".//{{{DS}}}X509Certificate")
    assert cert is not None
    line = b"-----BEGIN CERTIFICATE-----\n"
    cert.text = base64.b64encode(line * (520 * 1024 // len(line))).decode()
    xml = to_bytes(signed)
    assert len(xml) < XML_LIMIT
    return base64.b64encode(xml)


def cert_field() -> bytes:
    """The pasted `cert` field: PEM BEGIN lines, no END, at the paste limit."""
    line = b"-----BEGIN CERTIFICATE-----\n"
    return line * (PASTE_LIMIT // len(line) - 1)


def har_unclosed_forms() -> bytes:
    """A HAR body with SAMLResponse and many `<form` without `>` (html_forms once backtracked over each)."""
    body = "SAMLResponse " + "<form " * (512 * 1024 // 6) + "<input name=SAMLResponse "
    return _har([_entry("https://sp.example.com/acs", body=body)])


def splib_backtracking() -> bytes:
    """An SP-library "error message" built to backtrack `.*, got .*` (ruby-saml's issuer message)."""
    head = "Invalid issuer in the Assertion/Response (expected "
    return (head + ", got " * ((512 * 1024 - len(head)) // 6)).encode()


def duplicate_ids() -> bytes:
    """About 10,000 duplicated IDs beside one Signature, just under the element cap (one path walk each, once)."""
    signed = sign(build_response(), "assertion")
    extensions = etree.SubElement(signed, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions")
    for i in range(4_900):
        for _ in range(2):
            etree.SubElement(extensions, "x", ID=f"d{i}")
    xml = to_bytes(signed)
    assert len(xml) < XML_LIMIT
    return base64.b64encode(xml)


def error_redirects(n: int = 100_000) -> bytes:
    """A HAR of 100,000 tiny Entra error redirects, about 7 MiB (once: a timeline row, an Entra error and a finding
    each; 1.8 GiB of memory and a 94 MiB page)."""
    url = "https://sp.example.com/cb?error=access_denied&error_description=AADSTS50105"
    entry = '{"startedDateTime":"2026-03-01T12:00:00Z","request":{"method":"GET","url":"%s"},"response":{"status":302}}'
    entries = ",".join([entry % url] * n)
    return ('{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[' + entries + "]}}").encode()


def metadata_comments() -> bytes:
    """Fetched "metadata" opening with empty comments (the HTML sniffing pattern was exponential on it)."""
    return b"<!---->" * 27 + b"<x" * 600


def deep_json() -> bytes:
    """JSON nested 100,000 deep, pasted as input (RecursionError in json.loads)."""
    return b"[" * 100_000 + b"]" * 100_000


def far_future_offset() -> bytes:
    """A message whose instants are 9999-12-31T23:59:59-14:00 (past datetime's range once converted to UTC)."""
    xml = to_bytes(build_response()).replace(b"2026-03-01T", b"9999-12-31T").replace(b".000Z", b"-14:00")
    return base64.b64encode(xml)


def plain_response() -> bytes:
    """Not hostile: an Entra-shaped signed response, the floor the benchmark compares with."""
    return base64.b64encode(to_bytes(sign(build_response(), "assertion")))


PASTES: dict[str, Callable[[], bytes]] = {
    "cert_pem_lines": cert_pem_lines,
    "har_unclosed_forms": har_unclosed_forms,
    "splib_backtracking": splib_backtracking,
    "duplicate_ids": duplicate_ids,
    "error_redirects": error_redirects,
    "deep_json": deep_json,
    "far_future_offset": far_future_offset,
}


def _peak_rss() -> int:
    """This process's peak resident set (VmHWM: per address space, so not inherited from the forking parent the way
    getrusage's ru_maxrss is across fork + exec)."""
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(name: str) -> dict[str, object]:
    """Analyse one payload in this process: CPU seconds of the analysis, peak RSS of the process, finding codes."""
    import time
    from datetime import UTC, datetime

    from helpers import entra_settings

    from samldebug.pipeline import analyze

    data = plain_response() if name == "floor" else PASTES[name]()
    settings = entra_settings()
    started = time.process_time()
    report = analyze(data, settings, now=datetime(2026, 3, 1, 12, 1, tzinfo=UTC))
    cpu = time.process_time() - started
    rss = _peak_rss()
    return {
        "name": name,
        "bytes": len(data),
        "cpu": cpu,
        "rss": rss,
        "codes": sorted({f.code for f in report.findings}),
    }


if __name__ == "__main__":  # (run as a script, its own folder is first on sys.path: helpers and factory import)
    import sys

    print(json.dumps(measure(sys.argv[1])))
