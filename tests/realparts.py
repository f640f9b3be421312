"""What every real-part fixture needs (PostgreSQL, Redis, nginx, the SAML IdP, Chromium, served instances): a free
loopback port, an apt install when allowed, and the rule that a missing part skips locally but fails in CI
(REQUIRE_<PART>=1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import NoReturn

import pytest


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(part: str, reason: str) -> NoReturn:
    """Skip, or fail when REQUIRE_<part>=1 (CI: a skipped test of a real part is a failure)."""
    if os.environ.get(f"REQUIRE_{part}") == "1":
        pytest.fail(f"REQUIRE_{part}=1 but {reason}")
    pytest.skip(reason)


def apt_install(package: str) -> None:
    """Install a Debian package when running as root with apt-get (as `make test` and CI do); else nothing."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True, timeout=900)
