"""A throwaway redis-server a test may kill and restart (never the shared one on 6379).

Ports come from ``MCOS_TEST_REDIS_PORTS`` (``7500-7599`` by default), the first free one.
Persistence is on (AOF, fsync always) so a restart keeps the streams, as a production
Redis with AOF would; pass ``persist=False`` for a Redis that comes back empty.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import env_range, port_in


def _free_port_in_range() -> int:
    return port_in(env_range("MCOS_TEST_REDIS_PORTS", "7500-7599"), "a throwaway Redis")


class RedisProcess:
    def __init__(self, workdir: Path, port: int | None = None, persist: bool = True) -> None:
        self.dir = workdir
        self.port = port or _free_port_in_range()
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.dir), "--save", "", "--protected-mode", "no"]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.dir / 'redis.log'}")
            if self._pong():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in time")

    def _pong(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
        ):
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    def kill(self) -> None:
        """SIGKILL, as a crash would (no goodbye to clients)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.kill()


@contextlib.contextmanager
def throwaway_redis(workdir: Path, persist: bool = True) -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("redis-server is required under CI")
        pytest.skip("redis-server is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    server = RedisProcess(workdir, persist=persist)
    server.start()
    try:
        yield server
    finally:
        server.stop()
