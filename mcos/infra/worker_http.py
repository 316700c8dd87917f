"""The standalone worker's HTTP port (``MCOS_WORKER_HEALTH_PORT``; off when unset), served
from start-up to exit:

- ``GET /health``: 200 while the worker polls, 503 while it starts (waiting for Temporal)
  or drains (SIGTERM), the reason in the JSON body (compose and orchestrators probe it);
- ``GET /metrics``: this process's Prometheus metrics plus the Temporal SDK's worker
  metrics. The SDK's come from its core runtime, which serves them on a loopback port of
  its own (:func:`sdk_runtime`); ``/metrics`` appends that text, so one scrape sees both.

A tiny HTTP/1.1 responder on asyncio streams, no framework: it installs no signal handlers
(the worker owns SIGTERM: it drains) and answers while the worker's loop runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from mcos.infra.tls import client_tls

REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


@dataclass
class WorkerHealth:
    status: str = "starting"  # starting | ok | draining
    reason: str = "connecting to Temporal"

    def body(self) -> tuple[int, bytes]:
        code = 200 if self.status == "ok" else 503
        return code, json.dumps({"status": self.status, "reason": self.reason}).encode()


def sdk_runtime() -> tuple[Runtime, str]:
    """A Temporal runtime exporting its metrics on a free loopback port, and that URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    return runtime, f"http://{address}/metrics"


async def _metrics(sdk_metrics_url: str | None) -> bytes:
    body = generate_latest()
    if sdk_metrics_url:
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=2, verify=client_tls()) as http:
                body += (await http.get(sdk_metrics_url)).content
    return body


async def _answer(method: str, path: str, health: WorkerHealth,
                  sdk_metrics_url: str | None) -> tuple[int, str, bytes]:  # fmt: skip
    if path not in ("/health", "/metrics"):
        return 404, "application/json", b'{"status":"not_found"}'
    if method not in ("GET", "HEAD"):
        return 405, "application/json", b'{"status":"method_not_allowed"}'
    if path == "/health":
        code, body = health.body()
        return code, "application/json", body
    return 200, CONTENT_TYPE_LATEST, await _metrics(sdk_metrics_url)


async def _serve(health: WorkerHealth, sdk_metrics_url: str | None,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # fmt: skip
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
            pass
        parts = line.decode("latin-1").split()
        if len(parts) < 2:
            return
        method, path = parts[0], parts[1].split("?")[0]
        code, ctype, body = await _answer(method, path, health, sdk_metrics_url)
        head = (f"HTTP/1.1 {code} {REASONS[code]}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        writer.write(head.encode() + (body if method != "HEAD" else b""))
        await writer.drain()
    except (TimeoutError, ConnectionError, UnicodeDecodeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    health: WorkerHealth,
    port: int | None,
    sdk_metrics_url: str | None = None,
    host: str = "0.0.0.0",
) -> AsyncIterator[None]:
    """Serve ``/health`` and ``/metrics`` on ``port`` for the duration (nothing when None)."""
    if port is None:
        yield
        return
    server = await asyncio.start_server(
        lambda r, w: _serve(health, sdk_metrics_url, r, w), host, port
    )
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
