"""A real, throw-away Redis on loopback (Debian's `redis-server`) for the shared rate-limit tests.

Installs `redis-server` with apt when missing and allowed (root), listens on 127.0.0.1 only with no persistence,
and stops it afterwards. Without it the tests skip, unless REQUIRE_REDIS=1 (CI), which turns the skip into a
failure. (Not named `redis.py`: tests/ is on sys.path and would shadow the redis client package.)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from realparts import apt_install, free_port, unavailable

REDIS_SERVER = "/usr/bin/redis-server"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if not os.path.exists(REDIS_SERVER):
        apt_install("redis-server")
    if not os.path.exists(REDIS_SERVER):
        unavailable("REDIS", "redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401 - the client Flask-Limiter's redis storage needs
    except ImportError:
        unavailable("REDIS", "the redis client package is not installed (pip install 'samldebug[redis]')")
    root = tempfile.mkdtemp(prefix="samldebug-redis-")
    port = free_port()
    args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    args += ["--dir", root, "--protected-mode", "yes", "--logfile", os.path.join(root, "log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            shutil.rmtree(root, ignore_errors=True)
            unavailable("REDIS", f"redis-server did not start (exit {proc.returncode})")
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
