"""Time `read_signins` on a generated 50 MiB Entra sign-in log download (admin center JSON and CSV) against a floor
timed in the same run, and measure its peak memory as a multiple of the file size.

The download holds realistic events (tests/signinfactory.py: Graph signIn shape, 4 CA policies, MFA details) for
400 users and 3 apps: mostly successes, 1 in 25 a failure (53000 / 50105 / 53003), 1 in 40 an MFA interrupt
followed by its success. Every run checks the counts.

Floors: JSON, `msgspec.json.decode` of the whole file into Python objects (what a naive reader does); CSV, the
csv module iterating the rows of the same file. Memory is measured in a child process per reader: the Python heap
peak (tracemalloc) and the peak anonymous RSS above the baseline (RssAnon sampled every 2 ms; an mmap of the file
is page cache, not anonymous memory, and is left out). Target: peak <= 0.15 x the file.

    python benchmarks/bench_signin.py [--size 50] [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import mmap
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

import msgspec  # noqa: E402
import signinfactory as sf  # noqa: E402

from samldebug.signinlog import read_signins  # noqa: E402

MiB = 1024 * 1024
T0 = datetime(2026, 3, 2, 0, 0, 0, tzinfo=UTC)
APPS = [
    (sf.SAML_APP_ID, sf.SAML_APP),
    (sf.OFFICE_APP_ID, "OfficeHome"),
    ("9b1c2d3e-0000-4000-8000-00000000abcd", "HR Portal"),
]
POLICIES = [
    sf.policy("Require compliant device", "success", ["RequireCompliantDevice"]),
    sf.policy("Require MFA for all users", "success", ["Mfa"]),
    sf.policy("Block legacy authentication", "notApplied", ["Block"]),
    sf.policy("Guests: terms of use", "notApplied", ["d3b0c1a2-Terms-of-use"]),
]


def events(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        app_id, app = APPS[i % 3]
        user = f"user{i % 400:03d}@contoso.com"
        t = T0 + timedelta(seconds=i * 3)
        kw: dict[str, Any] = dict(
            id=f"{i:08x}-1111-4222-8333-{i:012x}",
            correlationId=f"{i // 2:08x}-aaaa-4bbb-8ccc-{i // 2:012x}",
            createdDateTime=t.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
            userPrincipalName=user,
            userDisplayName=f"User {i % 400}",
            appId=app_id,
            appDisplayName=app,
            appliedConditionalAccessPolicies=POLICIES,
        )
        if i % 25 == 1:
            kw["error_code"] = (53000, 50105, 53003)[i % 3]
            kw["failure_reason"] = "Refused."
        elif i % 40 == 0:
            kw["error_code"] = 50074
            kw["failure_reason"] = "Strong Authentication is required."
        out.append(sf.event(**kw))
    return out


def write_download(path: Path, shape: str, size: int) -> tuple[int, dict[str, int]]:
    """Repeat a block of 1,000 events (with fresh IDs per block) until the file reaches `size` bytes."""
    block = events(1000)
    counts = {"failure": 0, "interrupt": 0, "success": 0}
    per_block = {
        "failure": sum(1 for e in block if e["status"]["errorCode"] not in (0, 50074)),
        "interrupt": sum(1 for e in block if e["status"]["errorCode"] == 50074),
    }
    per_block["success"] = 1000 - per_block["failure"] - per_block["interrupt"]
    written = 0
    n = 0
    with path.open("wb") as fh:
        if shape == "csv":
            body = sf.to_csv(block)
            header, rows = body.split(b"\r\n", 1)
            fh.write(header + b"\r\n")
            written = len(header) + 2
            while written < size:
                chunk = rows.replace(b"-1111-4222-", f"-{n:04x}-4222-".encode())
                fh.write(chunk)
                written += len(chunk)
                n += 1
        else:
            one = ",\n".join(json.dumps(e) for e in block).encode()
            fh.write(b"[\n")
            while written < size:
                chunk = (b",\n" if n else b"") + one.replace(b"-1111-4222-", f"-{n:04x}-4222-".encode())
                fh.write(chunk)
                written += len(chunk)
                n += 1
            fh.write(b"\n]")
    for k in counts:
        counts[k] = per_block[k] * n
    return n * 1000, counts


def _rss_anon() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def child(kind: str, path: str) -> dict[str, Any]:
    """One measurement in a fresh process: seconds, heap peak, anonymous RSS peak above the baseline."""
    base = _rss_anon()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_anon())
            time.sleep(0.002)

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        trace = "--trace" in sys.argv
        if trace:
            tracemalloc.start()
        t = time.perf_counter()
        if kind == "samldebug":
            log, _ = read_signins(m)
            result: Any = log.counts
        elif kind == "floor-json":
            doc = msgspec.json.decode(m)
            result = len(doc)
        else:
            text = io.TextIOWrapper(open(path, "rb"), encoding="utf-8-sig", newline="")  # noqa: SIM115
            result = sum(1 for _ in csv.reader(text)) - 1
            text.close()
        seconds = time.perf_counter() - t
        heap = tracemalloc.get_traced_memory()[1] if trace else None
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], _rss_anon())
        del result
    return {"seconds": seconds, "heap": heap, "rss": peak[0] - base}


def measure(kind: str, path: Path, trace: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", kind, str(path)] + (["--trace"] if trace else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        print(json.dumps(child(sys.argv[i + 1], sys.argv[i + 2])))
        return
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=50, help="MiB")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--write", action="store_true")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ("json", "csv"):
            path = Path(tmp) / f"signins.{shape}"
            total, expected = write_download(path, shape, a.size * MiB)
            size = path.stat().st_size
            with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
                log, _ = read_signins(m)
                assert log.total == total and log.counts == expected, (log.total, log.counts, expected)
                del log
            floor = "floor-json" if shape == "json" else "floor-csv"
            ours = [measure("samldebug", path, False)["seconds"] for _ in range(a.runs)]
            base = [measure(floor, path, False)["seconds"] for _ in range(a.runs)]
            mem = measure("samldebug", path, True)
            rss = measure("samldebug", path, False)["rss"]
            fmem = measure(floor, path, False)["rss"]
            s, f = statistics.median(ours), statistics.median(base)
            rows.append(
                f"| {shape} | {size / MiB:.1f} | {total} | {size / MiB / s:.0f} | {s / f:.2f} | "
                f"{mem['heap'] / size:.3f} | {rss / size:.3f} | {fmem / size:.2f} |"
            )
            print(rows[-1], flush=True)
    table = [
        f"### sign-in logs {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, median of {a.runs} runs",
        "",
        "| download | MiB | events | MiB/s | × floor time | heap peak × file | anon RSS peak × file "
        "| floor RSS × file |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Floor: JSON msgspec.json.decode of the whole file; CSV the csv module over the file.",
        "",
    ]
    print("\n".join(table))
    if a.write:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + "\n".join(table))


if __name__ == "__main__":
    main()
