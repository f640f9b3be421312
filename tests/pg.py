"""A real, throw-away PostgreSQL cluster on loopback for the storage tests.

Installs Debian's `postgresql` with apt when missing and allowed (root), runs initdb as an unprivileged user in a
temporary folder, listens on 127.0.0.1 only, and removes everything afterwards. Without PostgreSQL the tests
skip, unless REQUIRE_POSTGRES=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from realparts import apt_install, free_port, unavailable


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        apt_install("postgresql")
        bindir = _bindir()
    if bindir is None:
        unavailable("POSTGRES", "PostgreSQL is not installed (apt-get install postgresql)")
    assert bindir is not None
    root = tempfile.mkdtemp(prefix="samldebug-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.makedirs(sock)
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use Debian's postgres account
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("POSTGRES", "no unprivileged 'postgres' user to run the cluster as")
        for path in (root, sock):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    try:
        subprocess.run(
            run_as + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off"
        subprocess.run(
            run_as
            + [
                f"{bindir}/pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                os.path.join(root, "log"),
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(root, ignore_errors=True)
        unavailable("POSTGRES", f"could not start a PostgreSQL cluster: {e}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            run_as + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)
