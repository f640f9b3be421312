"""Real `samldebug serve` processes on loopback for the shared-service tests: each in its own session (process
group), so that "kill the instance" means the gunicorn master and its workers, as a crashed host would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import urllib3
from realparts import free_port

SAMLDEBUG = str(Path(sys.executable).with_name("samldebug"))


class Instance:
    def __init__(self, name: str, tmp: Path, env: dict[str, str], serve_args: list[str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        instance = tmp / name
        instance.mkdir(parents=True, exist_ok=True)
        self.log = tmp / f"{name}.log"
        full_env = dict(os.environ, SAMLDEBUG_INSTANCE_PATH=str(instance), **env)
        cmd = [SAMLDEBUG, "serve", "--host", "127.0.0.1", "--port", str(self.port), *serve_args]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        http = urllib3.PoolManager(retries=False, timeout=2.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.output()}")
            try:
                if http.request("GET", self.url + "/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the whole instance (master and workers), no chance to clean up."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass


@contextmanager
def instances(
    tmp: Path, env: dict[str, str], names: tuple[str, ...] = ("a", "b"), serve_args: list[str] | None = None
) -> Iterator[list[Instance]]:
    started: list[Instance] = []
    try:
        for name in names:
            started.append(Instance(name, tmp, env, serve_args or ["--workers", "1"]))
        for inst in started:
            inst.wait_ready()
        yield started
    finally:
        for inst in started:
            inst.stop()
