"""The API inside a benchmark's own process: a free port, and uvicorn started with the
options the API is served with everywhere (``app.main.server_options``) until it listens."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from app.main import server_options
from mcos.kernel.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served(app: Any, settings: Settings, port: int, **extra: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1:``port`` in this event loop; yields its base URL. ``extra``
    adds or overrides uvicorn options (a benchmark's backlog, keep-alive pings off)."""
    options = {"log_level": "warning", "lifespan": "on", **server_options(settings), **extra}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # it failed to start: raise why
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
