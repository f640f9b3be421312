"""`samldebug serve` as operators run it: a real gunicorn on loopback, its real output read back.

Nothing the server writes may contain a permalink key or a delete token (access log, error log, the app's own
log), and the page keeps answering /healthz while hostile requests run.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from factory import b64, signed_response
from realparts import free_port

from samldebug.cli import serve_argv

ROOT = Path(__file__).resolve().parent.parent


def _get(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, base: str, process: subprocess.Popen[bytes], log: Path, instance: Path) -> None:
        self.base, self.process, self.log, self.instance = base, process, log, instance

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    instance = tmp_path_factory.mktemp("instance")
    log = instance / "server.log"
    port = free_port()
    env = dict(os.environ, SAMLDEBUG_INSTANCE_PATH=str(instance), PYTHONUNBUFFERED="1")
    env.pop("SAMLDEBUG_TRUST_PROXY_HEADERS", None)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "samldebug", "serve", "--port", str(port), "--workers", "2", "--threads", "4"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(base + "/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("samldebug serve did not start: " + log.read_text(errors="replace")[-2000:])
    try:
        yield Server(base, process, log, instance)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _share(server: Server) -> dict[str, str]:
    body = json.dumps({"input": b64(signed_response()), "share": "1"}).encode()
    status, data = _get(server.base + "/api/v1/analyze", body, {"Content-Type": "application/json"})
    assert status == 200, data[:300]
    return json.loads(data)  # type: ignore[no-any-return]


def test_serve_runs_threaded_workers_with_the_redacting_logger(server: Server) -> None:
    out = server.output()
    assert "Using worker: gthread" in out, out[-2000:]
    assert "samldebug.web.logs.RedactingLogger" in " ".join(serve_argv("127.0.0.1", 1, 1, 1, 30, ""))


def test_serve_answers_one_request_per_connection(server: Server) -> None:
    """A gthread worker keeps a kept-alive connection to itself whatever its load (persistent clients piled onto one
    of two workers): without keep-alive the next request is accepted by whichever worker is free."""
    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/healthz")  # HTTP/1.1: keep-alive unless the server says otherwise
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection", "").lower() == "close"
    finally:
        connection.close()
    argv = serve_argv("127.0.0.1", 1, 1, 1, 30, "")
    assert argv[argv.index("--keep-alive") + 1] == "0"
    if Path("/dev/shm").is_dir():  # the heartbeat file on tmpfs, not on a disk journal
        assert argv[argv.index("--worker-tmp-dir") + 1] == "/dev/shm"


def test_no_key_or_delete_token_reaches_the_server_output(server: Server) -> None:
    doc = _share(server)
    permalink, delete = doc["permalink"], doc["delete_url"]
    path = permalink.split("://", 1)[-1].split("/", 1)[-1]
    report_id, key = path.split("/")[1], path.split("/")[2]
    token = delete.rstrip("/").rsplit("/", 1)[-1]
    for suffix in ("", ".json", ".txt"):
        assert _get(f"{server.base}/r/{report_id}/{key}{suffix}")[0] == 200
    assert _get(f"{server.base}/r/{report_id}/{key[:-2]}xx")[0] in (403, 404)  # a wrong key
    assert _get(f"{server.base}/r/{report_id}/delete/{token}")[0] == 200
    # a failing permalink request: the storage breaks under the server (an error is logged with the path)
    database = server.instance / "samldebug.db"
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            db.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_moved"')
    status, _ = _get(f"{server.base}/r/{report_id}/{key}")
    assert status >= 400
    _get(f"{server.base}/r/{report_id}/delete/{token}", data=b"", headers={})
    deadline = time.monotonic() + 10  # the access line is written after the response: wait for it, bounded
    while server.output().count(f"/r/{report_id}/") < 7 and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the log file for the line, not a timing assumption
    out = server.output()
    assert out.count(f"/r/{report_id}/") >= 7, "the requests were not logged at all"
    assert f"/r/{report_id}/[redacted]" in out and f"/r/{report_id}/delete/[redacted]" in out
    assert key not in out and token not in out, [line for line in out.splitlines() if key in line or token in line]


def test_healthz_answers_while_two_hostile_requests_run(server: Server) -> None:
    import hostile

    payloads = [hostile.splib_backtracking(), hostile.har_unclosed_forms()]
    started = threading.Barrier(3)
    results: list[int] = []

    def post(data: bytes) -> None:
        started.wait()
        status, _ = _get(server.base + "/api/v1/analyze", data, {"Content-Type": "text/plain"}, timeout=120)
        results.append(status)

    threads = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    started.wait()
    status, body = _get(server.base + "/healthz", timeout=5)
    assert status == 200 and json.loads(body)["status"] == "ok"
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 2
