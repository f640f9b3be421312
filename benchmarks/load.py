"""Load test: gunicorn with the production configuration on loopback, 16 concurrent clients for a fixed
duration, a mix of pasted responses, HAR uploads and permalink views. Bounded in time and count; only
127.0.0.1. Records p50/p99 latency, throughput and errors.

    python benchmarks/load.py [--clients 16] [--seconds 20] [--workers 2] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import urllib3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from factory import b64, metadata, signed_response  # noqa: E402

MAX_REQUESTS = 200_000  # a hard stop besides the duration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def har_bytes() -> bytes:
    import harfactory as hf

    return hf.dumps(hf.har(hf.sp_initiated(), "chrome"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests/s per client (think time, like people); 0 = as fast as possible (saturation)",
    )
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    port = free_port()
    instance = tempfile.mkdtemp(prefix="samldebug-load-")
    env = dict(
        os.environ,
        SAMLDEBUG_INSTANCE_PATH=instance,
        SAMLDEBUG_RATE_LIMIT_ANALYZE="1000000/minute",
        SAMLDEBUG_RATE_LIMIT_SHARE="1000000/minute",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--logger-class",
            "samldebug.web.logs.RedactingLogger",
            "--log-level",
            "warning",
            "samldebug.web:create_app()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    http = urllib3.PoolManager(maxsize=args.clients + 2, timeout=urllib3.Timeout(total=30))
    try:
        for _ in range(100):
            try:
                if http.request("GET", base + "/healthz", retries=False).status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                time.sleep(0.1)
        paste = json.dumps(
            {
                "input": b64(signed_response()),
                "metadata": metadata().decode(),
                "sp_entity_id": "https://sp.example.com/saml/metadata",
                "now": "2026-03-01T12:01:00Z",
            }
        ).encode()
        shared = json.loads(
            http.request(
                "POST",
                base + "/api/v1/analyze",
                body=json.dumps(
                    {"input": b64(signed_response()), "share": "1", "now": "2026-03-01T12:01:00Z"}
                ).encode(),
                headers={"content-type": "application/json"},
            ).data
        )
        permalink = shared["permalink"].split(str(port), 1)[1]
        har = har_bytes()
        mix = [("paste", 0.7), ("permalink", 0.15), ("har", 0.15)]
        results: dict[str, list[float]] = {k: [] for k, _ in mix}
        errors: dict[str, int] = {k: 0 for k, _ in mix}
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        counter = [0]

        def client(seed: int) -> None:
            rng = random.Random(seed)
            kinds, weights = zip(*mix, strict=True)
            next_at = time.monotonic()
            while time.monotonic() < stop_at:
                if args.rate > 0:
                    next_at += rng.expovariate(args.rate)  # Poisson arrivals per client
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                with lock:
                    counter[0] += 1
                    if counter[0] > MAX_REQUESTS:
                        return
                kind = rng.choices(kinds, weights)[0]
                t = time.perf_counter()
                try:
                    if kind == "paste":
                        r = http.request(
                            "POST",
                            base + "/api/v1/analyze",
                            body=paste,
                            headers={"content-type": "application/json"},
                            retries=False,
                        )
                    elif kind == "permalink":
                        r = http.request("GET", base + permalink, retries=False)
                    else:
                        r = http.request(
                            "POST", base + "/api/v1/analyze", fields={"file": ("capture.har", har)}, retries=False
                        )
                    ok = r.status == 200
                except urllib3.exceptions.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - t
                with lock:
                    results[kind].append(elapsed)
                    if not ok:
                        errors[kind] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(10)
    total = sum(len(v) for v in results.values())
    lines = [
        f"### load {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {os.cpu_count()} cores, {platform.machine()}, "
        f"gunicorn {args.workers} workers, {args.clients} clients, {wall:.0f} s, "
        + (f"paced at {args.rate:g} req/s per client" if args.rate > 0 else "closed loop (saturation)"),
        "",
        "| request | count | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, values in results.items():
        if values:
            lines.append(
                f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.1f} | "
                f"{percentile(values, 0.99) * 1000:.1f} | {errors[kind]} |"
            )
    lines.append(f"\nthroughput {total / wall:.0f} requests/s, errors {sum(errors.values())}")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
