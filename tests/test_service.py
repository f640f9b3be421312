"""Several instances, one service: two real `samldebug serve` processes on two ports, sharing Debian's PostgreSQL
(permalinks) and Debian's redis-server (rate limits), both started on loopback by the fixtures."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import urllib3
from factory import b64, signed_response
from instances import instances

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET_KEY = "a-shared-secret-key-for-both-instances-0123456789"


def _env(postgres_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "SAMLDEBUG_DATABASE_URL": postgres_url,
        "SAMLDEBUG_RATE_LIMIT_STORAGE": redis_url,
        "SAMLDEBUG_SECRET_KEY": SECRET_KEY,
        **extra,
    }


def _fresh(postgres_url: str, redis_url: str) -> None:
    """Each test starts with no reports and no counted requests."""
    import redis
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS reports, schema_version, metadata_cache, audit"))
    engine.dispose()
    redis.Redis.from_url(redis_url).flushdb()


def _on(url: str, instance_url: str) -> str:
    """The same link on another instance (as a load balancer would route it)."""
    return re.sub(r"^http://127\.0\.0\.1:\d+", instance_url, url)


def share(http: urllib3.PoolManager, base: str, input_: str) -> urllib3.BaseHTTPResponse:
    body = json.dumps({"input": input_, "share": "1", "redact": "identity"})
    return http.request("POST", base + "/api/v1/analyze", body=body, headers={"Content-Type": "application/json"})


def test_share_on_a_open_and_delete_on_b_and_one_limit_for_both(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    _fresh(postgres_url, redis_url)
    env = _env(postgres_url, redis_url, SAMLDEBUG_RATE_LIMIT_SHARE="4/minute")
    http = urllib3.PoolManager(retries=False, timeout=30.0)
    message = b64(signed_response())
    with instances(tmp_path, env) as (a, b):
        first = share(http, a.url, message)
        assert first.status == 200, first.data[:300]
        links = first.json()
        permalink, delete_url = links["permalink"], links["delete_url"]
        assert permalink.startswith(a.url)
        opened = http.request("GET", _on(permalink, b.url) + ".json")
        assert opened.status == 200 and opened.json()["schema"].startswith("samldebug.report/")
        deleted = http.request("DELETE", _on(delete_url, b.url))
        assert deleted.status == 200, deleted.data[:300]
        assert http.request("GET", _on(permalink, a.url) + ".json").status == 404  # gone on A too
        # One limit across both: 4 shares per minute from this address, counted in Redis.
        statuses = [share(http, inst.url, message).status for inst in (b, a, b)]
        assert statuses == [200, 200, 200]
        refused_a, refused_b = share(http, a.url, message), share(http, b.url, message)
        assert (refused_a.status, refused_b.status) == (429, 429)
        assert refused_b.json()["error"]["status"] == 429
        # Analyses without share=1 are not counted against the share limit.
        plain = http.request(
            "POST",
            b.url + "/api/v1/analyze",
            body=json.dumps({"input": message}),
            headers={"Content-Type": "application/json"},
        )
        assert plain.status == 200
    # The audit trail: shared on A, opened and deleted on B, in each instance's JSON lines and in the one table.
    report_id, key = permalink.split("/r/")[1].split("/")
    token = delete_url.rsplit("/", 1)[1]
    lines = {name: (tmp_path / name / "audit.jsonl").read_text() for name in ("a", "b")}
    events = {
        name: [(e["action"], e["report_id"]) for e in map(json.loads, text.splitlines())]
        for name, text in lines.items()
    }
    assert ("share", report_id) in events["a"]
    assert ("open", report_id) in events["b"] and ("delete", report_id) in events["b"]
    for text in lines.values():
        assert key not in text and token not in text
    from samldebug.store import Store

    store = Store(postgres_url)
    table = [(e.action, e.report_id) for e in store.audit_since(datetime(2000, 1, 1, tzinfo=UTC))]
    store.dispose()
    assert {("share", report_id), ("open", report_id), ("delete", report_id)} <= set(table)


def test_sigkill_mid_burst_every_answered_share_is_readable_on_the_other(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    _fresh(postgres_url, redis_url)
    env = _env(
        postgres_url, redis_url, SAMLDEBUG_RATE_LIMIT_SHARE="10000/minute", SAMLDEBUG_RATE_LIMIT_ANALYZE="10000/minute"
    )
    message = b64(signed_response())
    with instances(tmp_path, env) as (a, b):
        answered: list[str] = []
        failures: list[str] = []
        lock = threading.Lock()
        enough = threading.Event()
        stop = threading.Event()

        def client() -> None:
            http = urllib3.PoolManager(retries=False, timeout=30.0)
            while not stop.is_set():
                try:
                    r = share(http, a.url, message)
                except urllib3.exceptions.HTTPError as e:
                    with lock:
                        failures.append(type(e).__name__)
                    if stop.is_set():
                        return
                    continue
                if r.status == 200:
                    with lock:
                        answered.append(r.json()["permalink"])
                        if len(answered) >= 12:
                            enough.set()

        threads = [threading.Thread(target=client) for _ in range(6)]
        for t in threads:
            t.start()
        assert enough.wait(120), f"too few shares answered: {len(answered)}; {a.output()[-2000:]}"
        a.kill()  # SIGKILL, mid-burst: requests are in flight
        stop.set()
        for t in threads:
            t.join(60)
        assert a.proc.returncode is not None
        http = urllib3.PoolManager(retries=False, timeout=30.0)
        with lock:
            links = list(answered)
        assert len(links) >= 12
        for link in links:
            r = http.request("GET", _on(link, b.url) + ".json")
            assert r.status == 200, (link, r.status)
            assert r.json()["schema"].startswith("samldebug.report/")
