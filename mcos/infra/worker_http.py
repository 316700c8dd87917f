"""The worker's own HTTP endpoint: ``/metrics`` (this process's Prometheus metrics plus the
Temporal SDK's worker metrics) and ``/health``, on ``MCOS_WORKER_METRICS_PORT`` (off when
unset). The SDK's metrics come from its core runtime, which serves them on a loopback port
of its own; ``/metrics`` appends that text, so one scrape sees both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig


def sdk_runtime() -> tuple[Runtime, str]:
    """A Temporal runtime exporting its metrics on a free loopback port, and that URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    return runtime, f"http://{address}/metrics"


def metrics_app(sdk_metrics_url: str | None, healthy: Any = lambda: True) -> Any:
    """A bare ASGI app: ``/metrics`` and ``/health``."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/health":
            ok = bool(healthy())
            status, body, ctype = (
                (200 if ok else 503),
                b'{"status":"ok"}' if ok else (b'{"status":"unhealthy"}'),
                b"application/json",
            )
        elif path == "/metrics":
            body = generate_latest()
            if sdk_metrics_url:
                with contextlib.suppress(httpx.HTTPError):
                    async with httpx.AsyncClient(timeout=2) as http:
                        body += (await http.get(sdk_metrics_url)).content
            status, ctype = 200, CONTENT_TYPE_LATEST.encode()
        else:
            status, body, ctype = 404, b"not found", b"text/plain"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype)]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return app


def _no_signals_server() -> type:
    import uvicorn

    class NoSignals(uvicorn.Server):
        """The worker owns SIGTERM (it drains); uvicorn would take it for this side port."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return NoSignals


@contextlib.asynccontextmanager
async def serving_metrics(
    port: int | None, sdk_metrics_url: str | None, host: str = "0.0.0.0"
) -> AsyncIterator[None]:
    """Serve the app on ``port`` for the duration (nothing when ``port`` is None)."""
    if port is None:
        yield
        return
    import uvicorn

    _NoSignals = _no_signals_server()
    config = uvicorn.Config(
        metrics_app(sdk_metrics_url), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = _NoSignals(config)
    task = asyncio.create_task(server.serve())
    try:
        yield
    finally:
        server.should_exit = True
        await task
