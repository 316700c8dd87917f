"""The worker's ``GET /health`` on its own port (compose and orchestrators probe it).

A tiny HTTP/1.1 responder on asyncio streams, no framework: 200 while the worker polls,
503 while it starts or drains (SIGTERM), with the reason in the JSON body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass
class WorkerHealth:
    status: str = "starting"  # starting | ok | draining
    reason: str = "connecting to Temporal"

    def body(self) -> tuple[int, bytes]:
        code = 200 if self.status == "ok" else 503
        return code, json.dumps({"status": self.status, "reason": self.reason}).encode()


async def _serve(health: WorkerHealth, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:  # fmt: skip
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
            pass
        parts = line.decode("latin-1").split()
        if len(parts) >= 2 and parts[0] in ("GET", "HEAD") and parts[1].split("?")[0] == "/health":
            code, body = health.body()
        else:
            code, body = 404, b'{"status":"not_found"}'
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
        head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        writer.write(head.encode() + (body if parts[:1] != ["HEAD"] else b""))
        await writer.drain()
    except (TimeoutError, ConnectionError, UnicodeDecodeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_health(
    health: WorkerHealth, port: int | None, host: str = "0.0.0.0"
) -> AsyncIterator[None]:
    """Serve ``/health`` on ``port`` for the duration (nothing when ``port`` is None)."""
    if port is None:
        yield
        return
    server = await asyncio.start_server(lambda r, w: _serve(health, r, w), host, port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
