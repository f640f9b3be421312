"""Load on the whole web path: `samldebug serve` (gunicorn, production flags) on loopback, 16 concurrent clients
in a closed loop (Debian's `wrk`, written in C, so the load generator takes little of the 2 cores), every request
`POST /api/v1/analyze` with an Entra-shaped signed response and its (signed) metadata pasted. Reports p50/p99,
throughput and errors (non-2xx and socket errors). Target: p99 ≤ 25 ms with 0 errors on 2 workers.

Latency on a shared 2-core machine moves with whatever else runs, so the run also reports what it costs: the
workers' CPU time (user + system, from /proc) per answered request, and how it was split between the workers (a
worker that took most of the connections does most of the work, and its clients wait longer).

    python benchmarks/load_api.py [--workers 2] [--threads N (default: serve's)] [--clients 16] [--seconds 20] [--write]

`apt-get install wrk` when it is missing (`make bench` does not install it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import urllib3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench_analyze import entra_response  # noqa: E402
from bench_paths import NOW, signed_metadata  # noqa: E402
from factory import ACS_URL, SP_ENTITY_ID  # noqa: E402

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def serve_default_threads() -> int:
    from samldebug.cli import serve_cmd

    return int(next(p.default for p in serve_cmd.params if p.name == "threads"))


def ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="gthread threads per worker (default: serve's)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if args.threads is None:
        args.threads = serve_default_threads()
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="samldebug-load-api-"))
    body = {
        "input": entra_response(),
        "metadata": signed_metadata().decode(),
        "now": NOW,
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
    }
    (tmp / "body.json").write_text(json.dumps(body))
    (tmp / "post.lua").write_text(LUA.format(body=tmp / "body.json"))
    port = free_port()
    env = dict(
        os.environ,
        SAMLDEBUG_INSTANCE_PATH=str(tmp / "instance"),
        SAMLDEBUG_RATE_LIMIT_ANALYZE="100000000/minute",
    )
    samldebug = str(Path(sys.executable).with_name("samldebug"))
    cmd = [samldebug, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)]
    cmd += ["--threads", str(args.threads)]
    server = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        http = urllib3.PoolManager(retries=False, timeout=5.0)
        for _ in range(300):
            try:
                if http.request("GET", base + "/healthz").status == 200:
                    break
            except urllib3.exceptions.HTTPError:
                time.sleep(0.1)
        check = http.request(
            "POST", base + "/api/v1/analyze", body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        assert check.status == 200 and check.json()["messages"][0]["signature"]["status"] == "valid"
        subprocess.run(
            [wrk, "-t2", "-c", str(args.clients), "-d2s", "-s", str(tmp / "post.lua"), base + "/api/v1/analyze"],
            capture_output=True,
        )  # warm-up
        workers = workers_of(server.pid)
        before = {pid: cpu_seconds(pid) for pid in workers}
        run = subprocess.run(
            [
                wrk,
                "-t2",
                "-c",
                str(args.clients),
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(tmp / "post.lua"),
                base + "/api/v1/analyze",
            ],
            capture_output=True,
            text=True,
            timeout=args.seconds + 60,
        )
        used = {pid: cpu_seconds(pid) - before[pid] for pid in workers}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    out = run.stdout
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    sock_errors = sum(int(x) for x in sock.groups()) if sock else 0
    total_cpu = sum(used.values())
    split = "/".join(f"{100 * u / total_cpu:.0f}" for u in sorted(used.values(), reverse=True)) if total_cpu else "-"
    lines = [
        f"### load_api {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {os.cpu_count()} cores, {platform.machine()}, "
        f"`samldebug serve` {args.workers} workers × {args.threads} thread(s), wrk {args.clients} connections closed "
        f"loop, {args.seconds} s, POST /api/v1/analyze with pasted signed metadata; load average before: {load:.1f}",
        "",
        "| requests | req/s | p50 ms | p90 ms | p99 ms | errors | worker CPU µs/request | CPU split % |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {total} | {rps:.0f} | {ms(pct['50']):.1f} | {ms(pct['90']):.1f} | {ms(pct['99']):.1f} | "
        f"{non2xx + sock_errors} | {1e6 * total_cpu / max(total, 1):.0f} | {split} |",
        "",
        "Target: p99 ≤ 25 ms, 0 errors.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
