"""A real API server (uvicorn on a free port) with the worker embedded, per test."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from temporalio.client import Client
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from app.main import create_app, server_options
from mcos.infra.auth import issue_dev_token
from mcos.infra.bus import MemoryBus, RealtimeBus
from mcos.infra.tls import client_tls
from mcos.kernel.settings import Settings
from tests.conftest import free_port, serving, user_id


@dataclass
class Api:
    settings: Settings
    base_url: str
    bus: RealtimeBus
    app: Any

    def token(self, user: str, **kw: Any) -> str:
        return issue_dev_token(user, self.settings, **kw)

    def client(self, user: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=30, verify=client_tls()
        )

    def ws_url(self, cursor: str | None = None) -> str:
        url = self.base_url.replace("http://", "ws://") + "/api/v1/ws"
        return url + (f"?cursor={cursor}" if cursor else "")

    async def ws(self, user: str, cursor: str | None = None) -> ClientConnection:
        return await websockets.connect(
            self.ws_url(cursor),
            subprotocols=[Subprotocol("bearer"), Subprotocol(self.token(user))],
            max_size=2**20,
        )


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings,
    client: Client | None,
    *,
    bus: RealtimeBus | None = None,
    provider: Any = None,
    embedded_worker: bool = True,
) -> AsyncIterator[Api]:
    port = free_port()
    settings = settings.model_copy(update={"port": port, "embedded_worker": embedded_worker})
    bus = bus or MemoryBus()
    app = create_app(settings, bus=bus, client=client, provider=provider)
    async with serving(
        app, port, log_config=None, lifespan="on", **server_options(settings)
    ) as url:
        yield Api(settings, url, bus, app)


@pytest.fixture
async def api(
    settings: Settings, temporal_client: Client, bundled_http_url: str
) -> AsyncIterator[Api]:
    """The API, its worker embedded. Its flight searches reach the session's bundled MCP
    server over HTTP: a stdio child per search cost ~1.3 s of CPU, mostly importing, and
    these tests are about the skills, not the transport. The stdio path keeps its own tests
    (tests/flights/test_mcp_client.py, tests/activities/test_flights.py, the broken servers
    of test_tool_hygiene.py) and the browser tests run the default configuration."""
    over_http = settings.model_copy(update={"flights_mcp_url": bundled_http_url})
    async with running_api(over_http, temporal_client) as a:
        yield a


@pytest.fixture
def user() -> str:
    return user_id()


async def recv_until(
    ws: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout: float = 20.0
) -> list[dict]:
    """Frames received until ``pred(frame)`` is true (inclusive)."""
    frames: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if pred(frame):
                return frames
