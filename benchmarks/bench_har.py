"""Time `read_capture` on generated 10 MiB and 100 MiB HARs against plain `json.load` on the same files.

Each HAR (Chrome shape, written to a temporary directory) holds 5 SAML flows (SP-initiated signed and unsigned,
IdP-initiated, an Entra AADSTS error page, one auto-submit page stored base64) spread among thousands of unrelated
entries: JavaScript, CSS, HTML, JSON API calls, base64 images and fonts, beacons, redirects, and Entra sign-in pages
that are not errors. Every run checks that all 5 flows are found.

Reported: throughput (median of the runs, file in the page cache, read through a fresh read-only mmap each run as
the CLI reads it), Python heap peak during the call (tracemalloc, in a separate run) as a multiple of the file size,
the map's pages still resident in this process after the call (the reader gives back what the decoder has passed),
and the same for json.load. The mmap read runs twice, interleaved: pages given back (the default) and kept (as on a
platform without MADV_DONTNEED), so the cost of giving them back is measured in the same run. Targets: >= 250 MiB/s,
heap peak and resident map pages <= 0.15 x file size.

--bodiless writes the unrelated entries without bodies (a HAR saved without content: thousands of small entries, the
reader's slowest case per byte); the SAML flows keep theirs.

    python benchmarks/bench_har.py [--sizes 10,100] [--runs 5] [--bodiless] [--sanitize] [--write]

--write appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import json
import mmap
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

import harfactory as hf  # noqa: E402

from samldebug.config import Limits  # noqa: E402
from samldebug.har import Capture, read_capture  # noqa: E402
from samldebug.sanitize import sanitize_har  # noqa: E402

MiB = 1024 * 1024
COOKIES = [f"{random.Random(k).getrandbits(160):040x}" for k in range(6)]
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
HOSTS = ["cdn.contoso-apps.example", "www.contoso-apps.example", "api.contoso-apps.example", "fonts.example.net"]
WORDS = (
    "function return var const let this window document prototype length push call apply undefined null true "
    "false new typeof instanceof if else for while switch case break continue try catch finally throw error value "
    "props state render component module exports require async await Promise then resolve reject"
).split()


class Blobs:
    """Pre-generated text and binary material, sliced at random offsets (fast, and not trivially repetitive)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        parts: list[str] = []
        size = 0
        while size < 3 * MiB:
            w = rng.choice(WORDS)
            sep = rng.choice(" ;(){}.,=\n\t") if rng.random() < 0.5 else " "
            q = f'"{rng.choice(WORDS)}{rng.randrange(1000)}"' if rng.random() < 0.05 else ""
            parts.append(w + sep + q)
            size += len(w) + len(sep) + len(q)
        self.js = "".join(parts)
        self.b64 = base64.b64encode(rng.randbytes(3 * MiB)).decode()

    def text(self, n: int) -> str:
        start = self.rng.randrange(0, len(self.js) - n) if n < len(self.js) else 0
        return self.js[start : start + n]

    def base64(self, n: int) -> str:
        start = self.rng.randrange(0, len(self.b64) - n) if n < len(self.b64) else 0
        return self.b64[start : start + n - n % 4]


def _headers(rng: random.Random, n: int, extra: list[tuple[str, str]]) -> list[dict[str, str]]:
    base = [
        ("accept", "*/*"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("accept-language", "en-US,en;q=0.9"),
        ("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"),
        ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'),
        ("sec-fetch-dest", "script"),
        ("sec-fetch-mode", "no-cors"),
        ("cache-control", "max-age=31536000"),
        ("etag", f'"{rng.getrandbits(64):016x}"'),
        ("x-request-id", f"{rng.getrandbits(128):032x}"),
        ("server", "nginx"),
        ("date", "Sun, 01 Mar 2026 12:00:00 GMT"),
        ("vary", "Accept-Encoding"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("content-security-policy", "default-src 'self'; script-src 'self' https://cdn.contoso-apps.example"),
    ]
    return [{"name": k, "value": v} for k, v in (base[:n] + extra)]


def filler(i: int, rng: random.Random, blobs: Blobs, t: datetime, bodies: bool = True) -> dict[str, Any]:
    """One unrelated entry, of a kind drawn with browser-like frequencies (without its bodies unless `bodies`)."""
    r = rng.random()
    host = rng.choice(HOSTS)
    method, status, mime, text, encoding, rtype = "GET", 200, "", None, None, "other"
    extra_req: list[tuple[str, str]] = []
    extra_resp: list[tuple[str, str]] = []
    post: dict[str, Any] | None = None
    if r < 0.25:
        # Preflights, 304s, 204 beacons: no body.
        method, status, rtype = rng.choice([("OPTIONS", 204, "preflight"), ("GET", 304, "other"), ("GET", 204, "ping")])
    elif r < 0.37:
        size = rng.randint(10_000, 120_000) if rng.random() < 0.85 else rng.randint(120_000, 800_000)
        mime, text, rtype = "application/javascript", blobs.text(size), "script"
    elif r < 0.43:
        mime, text, rtype = "text/css", blobs.text(rng.randint(2_000, 60_000)), "stylesheet"
    elif r < 0.47:
        body = blobs.text(rng.randint(5_000, 120_000))
        form = '<form action="/search"><input type="text" name="q" value=""></form>'
        text, mime, rtype = f"<html><body>{form}{body}</body></html>", "text/html; charset=utf-8", "document"
    elif r < 0.72:
        items = [{"id": k, "name": blobs.text(24), "error": None, "ok": True} for k in range(rng.randint(1, 60))]
        mime, text, rtype = "application/json", json.dumps({"items": items}), "xhr"
        if rng.random() < 0.2:
            method = "POST"
            post = {"mimeType": "application/json", "text": json.dumps({"event": "view", "n": i})}
    elif r < 0.92:
        mime, text, encoding, rtype = "image/png", blobs.base64(rng.randint(500, 40_000)), "base64", "image"
    elif r < 0.94:
        mime, text, encoding, rtype = "font/woff2", blobs.base64(rng.randint(20_000, 100_000)), "base64", "font"
    elif r < 0.97:
        method, status, mime, rtype = "POST", 204, "text/plain", "ping"
        post = {"mimeType": "text/plain;charset=UTF-8", "text": json.dumps({"t": i, "v": blobs.text(200)})}
    elif r < 0.99:
        status, rtype = 302, "document"
        extra_resp.append(("location", f"https://{host}/next/{i}?from=home&lang=en"))
    else:
        # An Entra sign-in page that is not an error (sErrorCode empty): must not be reported.
        host, mime, rtype = "login.microsoftonline.com", "text/html; charset=utf-8", "document"
        config = {
            "sErrorCode": "",
            "sFT": blobs.base64(400),
            "canary": blobs.base64(200),
            "iMaxStackForKnockoutAsyncComponents": 10000,
        }
        text = hf.entra_page(config, extra=blobs.text(rng.randint(20_000, 60_000)))
    url = f"https://{host}/assets/{i}/{rng.getrandbits(32):08x}.bin?v={rng.randrange(100)}"
    # A browser sends the same few cookies again and again.
    cookies = [
        {"name": f"c{k}", "value": COOKIES[k], "path": "/", "domain": host, "httpOnly": True, "secure": True}
        for k in range(rng.randint(0, 6))
    ]
    if cookies:
        extra_req.append(("cookie", "; ".join(f"{c['name']}={c['value']}" for c in cookies)))
    if not bodies:
        text, post = None, None
    content: dict[str, Any] = {"size": len(text or ""), "mimeType": mime or "x-unknown"}
    if text is not None:
        content["text"] = text
    if encoding:
        content["encoding"] = encoding
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "http/2.0",
        "headers": _headers(rng, rng.randint(8, 15), extra_req),
        "queryString": [{"name": "v", "value": url.rsplit("=", 1)[1]}],
        "cookies": cookies,
        "headersSize": -1,
        "bodySize": len(post["text"]) if post else 0,
    }
    if post:
        request["postData"] = post
    return {
        "_initiator": {"type": "script", "url": f"https://{host}/app.js", "lineNumber": rng.randrange(9000)},
        "_priority": "High",
        "_resourceType": rtype,
        "cache": {},
        "connection": str(rng.randrange(1000, 9000)),
        "pageref": "page_1",
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": _headers(rng, rng.randint(6, 15), extra_resp),
            "cookies": [],
            "content": content,
            "redirectURL": extra_resp[0][1] if extra_resp else "",
            "headersSize": -1,
            "bodySize": -1,
            "_transferSize": len(text or "") // 3,
            "_error": None,
        },
        "serverIPAddress": "203.0.113.10",
        "startedDateTime": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
        "time": rng.random() * 300,
        "timings": {"blocked": 1.2, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1, "wait": 35.5, "receive": 2.3},
    }


@cache
def flows() -> list[tuple[hf.Flow, dict[str, bool]]]:
    """Built once: message IDs are random, and check() must look for the very messages generate() wrote."""
    sec = timedelta(minutes=3)
    return [
        (hf.sp_initiated(T0, seed=11), {}),
        (hf.idp_initiated(T0 + sec, seed=12), {}),
        (hf.error_flow(T0 + 2 * sec, seed=13), {}),
        (hf.sp_initiated(T0 + 3 * sec, seed=14, signed_request=False), {}),
        (hf.sp_initiated(T0 + 4 * sec, seed=15), {"html_base64": True}),
    ]


def generate(path: Path, size: int, seed: int = 7, bodies: bool = True) -> int:
    """Write a Chrome-shaped HAR of about `size` bytes; return the number of entries."""
    rng = random.Random(seed)
    blobs = Blobs(rng)
    planted = flows()
    slots = [int(size * (k + 0.5) / len(planted)) for k in range(len(planted))]
    n = 0
    t = T0
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n  "log": {\n    "version": "1.2",\n    "creator": {"name": "WebInspector", "version": "537.36"},\n')
        page = {"startedDateTime": "2026-03-01T12:00:00.000Z", "id": "page_1", "title": f"https://{HOSTS[1]}/"}
        f.write(f'    "pages": [{json.dumps(page)}],\n')
        f.write('    "entries": [\n')

        def write(entry: dict[str, Any]) -> None:
            nonlocal n
            if n:
                f.write(",\n")
            f.write(json.dumps(entry, indent=2, ensure_ascii=False))
            n += 1

        def entries_until(limit: int) -> Iterator[None]:
            nonlocal t
            i = 0
            while f.tell() < limit:
                t += timedelta(milliseconds=rng.randrange(1, 400))
                write(filler(n + i, rng, blobs, t, bodies))
                yield None

        for slot, (flow, knobs) in zip(slots, planted, strict=True):
            for _ in entries_until(slot):
                pass
            for entry in hf.har_entries(flow.exchanges, "chrome", **knobs):
                write(entry)
        for _ in entries_until(size):
            pass
        f.write("\n    ]\n  }\n}\n")
    return n


def check(capture: Capture) -> None:
    """All 5 planted flows are found: their SAML messages (POST and auto-submit copies) and the error page."""
    values = {e.value for e in capture.entries if e.kind == "saml"}
    for flow, _ in flows():
        for m in flow.messages:
            encoded = base64.b64encode(m.xml).decode()
            if m.parameter == "SAMLResponse":
                assert encoded in values, f"{flow.name}: SAMLResponse not found"
        if flow.errors:
            assert any(e.kind == "error" and e.text and "AADSTS50011" in e.text for e in capture.entries), flow.name
    sp = [e for e in capture.entries if e.parameter == "SAMLRequest" and e.binding == "redirect"]
    assert len(sp) == 4, f"expected 4 Redirect-binding AuthnRequests, found {len(sp)}"
    assert len([e for e in capture.entries if e.binding == "form-in-response"]) == 4


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def peak(fn: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return top


@contextlib.contextmanager
def pages_kept() -> Iterator[None]:
    """Read as on a platform without MADV_DONTNEED: the reader then keeps every page of the map it touched."""
    advice = mmap.MADV_DONTNEED
    delattr(mmap, "MADV_DONTNEED")
    try:
        yield
    finally:
        setattr(mmap, "MADV_DONTNEED", advice)  # noqa: B010 - restores a module constant


def mapped_kib(path: Path) -> int | None:
    """Resident KiB of this process's mappings of `path` (Linux /proc/self/smaps), None elsewhere."""
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return None
    total, inside = 0, False
    for line in lines:
        first = line.split(maxsplit=1)[0] if line else ""
        if "-" in first and not first.endswith(":"):  # a mapping's header: "start-end perms offset dev inode path"
            inside = line.endswith(" " + str(path))
        elif inside and first == "Rss:":
            total += int(line.split()[1])
    return total


def interleaved(path: Path, runs: int, limits: Limits) -> dict[str, Any]:
    """read_capture on a fresh read-only map of `path` (as the CLI reads a file), pages given back and kept,
    alternating which goes first; medians, and the map's resident KiB right after the last run of each."""
    out: dict[str, Any] = {"release": [], "keep": [], "release_cpu": [], "keep_cpu": []}
    with path.open("rb") as fh:
        for i in range(runs):
            for mode in ("release", "keep") if i % 2 else ("keep", "release"):
                gc.collect()
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    with pages_kept() if mode == "keep" else contextlib.nullcontext():
                        t, cpu = time.perf_counter(), time.process_time()
                        capture = read_capture(mm, limits)
                        out[mode].append(time.perf_counter() - t)
                        out[f"{mode}_cpu"].append(time.process_time() - cpu)  # user + system: faults, madvise
                    out[f"{mode}_resident"] = mapped_kib(path)
                check(capture)
                del capture
    # The cost of giving pages back: the median of the CPU-time ratios of back-to-back pairs (other work on the
    # machine stretches wall time, much less the CPU time the read itself takes).
    pairs = zip(out["release_cpu"], out["keep_cpu"], strict=True)
    out["cost"] = statistics.median(r / k for r, k in pairs) - 1
    out["release"], out["keep"] = statistics.median(out["release"]), statistics.median(out["keep"])
    return out


def bench(path: Path, runs: int, with_sanitize: bool) -> dict[str, Any]:
    size = path.stat().st_size
    limits = Limits()
    path.read_bytes()  # warm the page cache
    mapped = interleaved(path, runs, limits)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        heap = peak(lambda: read_capture(mm, limits))
    data = path.read_bytes()
    bytes_seconds, _ = timed(lambda: read_capture(data, limits), runs)

    def load() -> Any:
        with path.open("rb") as f:
            return json.load(f)

    json_seconds, _ = timed(load, max(1, runs // 2))
    json_heap = peak(load)
    out = {
        "size": size,
        "read": mapped["release"],
        "read_kept": mapped["keep"],
        "release_cost": mapped["cost"],
        "resident": mapped["release_resident"],
        "resident_kept": mapped["keep_resident"],
        "read_bytes": bytes_seconds,
        "heap": heap,
        "json": json_seconds,
        "json_heap": json_heap,
    }
    if with_sanitize:
        raw = path.read_bytes()
        out["sanitize"], _ = timed(lambda: sanitize_har(raw), 1)
    return out


def _resident(kib: int | None, size: int) -> Iterable[str]:
    return ("n/a", "") if kib is None else (f"{kib / 1024:.1f} MiB", f"{kib * 1024 / size:.3f}")


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| file | entries | contender | time | MiB/s | heap peak | × file size | map resident after | × file size |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mib = r["size"] / MiB
        label = f"{mib:.0f} MiB"
        lines.append(
            f"| {label} | {r['entries']} | read_capture (mmap, pages given back) | {r['read'] * 1000:.0f} ms "
            f"| {mib / r['read']:.0f} | {r['heap'] / MiB:.1f} MiB | {r['heap'] / r['size']:.3f} "
            f"| {' | '.join(_resident(r['resident'], r['size']))} |"
        )
        lines.append(
            f"| {label} | | read_capture (mmap, pages kept) | {r['read_kept'] * 1000:.0f} ms "
            f"| {mib / r['read_kept']:.0f} | | | {' | '.join(_resident(r['resident_kept'], r['size']))} |"
        )
        lines.append(
            f"| {label} | | read_capture (bytes) | {r['read_bytes'] * 1000:.0f} ms | {mib / r['read_bytes']:.0f} "
            "| | | | |"
        )
        lines.append(
            f"| {label} | | json.load | {r['json'] * 1000:.0f} ms | {mib / r['json']:.0f} "
            f"| {r['json_heap'] / MiB:.1f} MiB | {r['json_heap'] / r['size']:.2f} | | |"
        )
        if "sanitize" in r:
            lines.append(
                f"| {label} | | sanitize_har (whole file, offline) | {r['sanitize'] * 1000:.0f} ms "
                f"| {mib / r['sanitize']:.0f} | | | | |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100", help="HAR sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bodiless", action="store_true", help="unrelated entries without bodies (worst case per byte)")
    ap.add_argument("--sanitize", action="store_true", help="also time sanitize_har (whole-file, offline)")
    ap.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_har_") as tmp:
        for mib in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"capture_{mib}MiB.har"
            entries = generate(path, mib * MiB, bodies=not args.bodiless)
            row = bench(path, args.runs, args.sanitize)
            row["entries"] = entries
            rows.append(row)
            path.unlink()
    header = (
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — HAR reader, {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, median of "
        f"{args.runs} runs; 5 SAML flows found in each"
        + ("; unrelated entries without bodies" if args.bodiless else "")
    )
    big = rows[-1]
    speed, ratio = big["size"] / MiB / big["read"], big["heap"] / big["size"]
    verdict = (
        f"Targets on the {big['size'] / MiB:.0f} MiB file: ≥ 250 MiB/s ({'met' if speed >= 250 else 'MISSED'}: "
        f"{speed:.0f}), heap peak ≤ 0.15 × file size ({'met' if ratio <= 0.15 else 'MISSED'}: {ratio:.3f})"
    )
    if big["resident"] is not None:
        resident = big["resident"] * 1024 / big["size"]
        verdict += f", map resident after ≤ 0.15 × ({'met' if resident <= 0.15 else 'MISSED'}: {resident:.3f})"
    verdict += (
        f". Giving pages back costs {big['release_cost'] * 100:+.1f} % of the read's CPU time (median of "
        f"{args.runs} back-to-back pairs)."
    )
    text = f"{header}\n\n{table(rows)}\n\n{verdict}\n"
    print(text)
    if args.write:
        results = HERE / "RESULTS.md"
        with results.open("a", encoding="utf-8") as f:
            f.write("\n" + text)
        print(f"appended to {results}")


if __name__ == "__main__":
    main()
