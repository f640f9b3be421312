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

REDIS_SERVER = "/usr/bin/redis-server"


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(f"REQUIRE_REDIS=1 but {reason}")
    pytest.skip(reason)


def _install() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], env=env, capture_output=True, timeout=900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        _install()
    if not os.path.exists(REDIS_SERVER):
        _unavailable("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401 - the client Flask-Limiter's redis storage needs
    except ImportError:
        _unavailable("the redis client package is not installed (pip install 'samldebug[redis]')")
    root = tempfile.mkdtemp(prefix="samldebug-redis-")
    port = _free_port()
    args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    args += ["--dir", root, "--protected-mode", "yes", "--logfile", os.path.join(root, "log")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            shutil.rmtree(root, ignore_errors=True)
            _unavailable(f"redis-server did not start (exit {proc.returncode})")
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
