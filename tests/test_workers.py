"""Workers: a metadata fetch that waits on a slow host holds one gthread thread, not the worker. A real
`samldebug serve` with one worker answers other analyses in their usual time while a fetch waits 5 s on an
event-driven local server (asyncio: the answer is scheduled, nothing sleeps in a handler)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3
from factory import b64, metadata, signed_response
from instances import instances

DELAY = 5.0


class SlowMetadataHost:
    """Answers every GET with the IdP metadata DELAY seconds after the request arrived."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.answered = threading.Event()
        self.port = 0
        self.body = metadata()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.arrived.set()
        await asyncio.sleep(DELAY)  # a timer on the event loop: the host is slow, the test is not blocked
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {len(self.body)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + self.body)
        await writer.drain()
        writer.close()
        self.answered.set()

    @contextmanager
    def running(self) -> Iterator[SlowMetadataHost]:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        server_box: list[asyncio.base_events.Server] = []

        async def start() -> None:
            server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            server_box.append(server)
            ready.set()

        thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
        thread.start()
        assert ready.wait(10)
        try:
            yield self
        finally:
            server_box[0].close()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)


def test_a_slow_metadata_host_does_not_block_other_analyses(tmp_path: Path) -> None:
    from factory import idp_key

    env = {
        "SAMLDEBUG_METADATA_ALLOWED_HOSTS": "127.0.0.1",
        "SAMLDEBUG_METADATA_ALLOW_HTTP": "1",
        "SAMLDEBUG_METADATA_ALLOW_PRIVATE": "1",
        "SAMLDEBUG_METADATA_TIMEOUT": "30",
    }
    message = b64(signed_response())
    cert = idp_key().cert_pem.decode()
    headers = {"Content-Type": "application/json"}
    with (
        SlowMetadataHost().running() as host,
        instances(tmp_path, env, ("a",), ["--workers", "1", "--threads", "4"]) as (a,),
    ):
        http = urllib3.PoolManager(retries=False, timeout=60.0, maxsize=8)
        slow_result: dict[str, object] = {}

        def slow() -> None:
            body = json.dumps(
                {"input": message, "metadata_url": f"http://127.0.0.1:{host.port}/federationmetadata.xml"}
            )
            r = http.request("POST", a.url + "/api/v1/analyze", body=body, headers=headers)
            slow_result["status"] = r.status
            slow_result["doc"] = r.json() if r.status == 200 else r.data[:500]

        slow_thread = threading.Thread(target=slow)
        slow_thread.start()
        assert host.arrived.wait(30), "the metadata fetch never reached the slow host"
        answered_while_waiting = 0
        for _ in range(5):
            start = time.monotonic()
            r = http.request(
                "POST", a.url + "/api/v1/analyze", body=json.dumps({"input": message, "cert": cert}), headers=headers
            )
            took = time.monotonic() - start
            assert r.status == 200
            assert r.json()["verdict"]
            assert took < 3.0, took  # loose: usually a few ms; the slow fetch holds its thread for 5 s
            if not host.answered.is_set():
                answered_while_waiting += 1
        assert answered_while_waiting >= 4  # answered while the fetch was still waiting on the slow host
        health = http.request("GET", a.url + "/healthz")
        assert health.status == 200
        slow_thread.join(60)
        assert host.answered.is_set()
        assert slow_result.get("status") == 200, slow_result
        doc = slow_result["doc"]
        assert isinstance(doc, dict)
        assert doc["messages"][0]["signature"]["status"] == "valid", doc["findings"]
