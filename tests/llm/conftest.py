"""A local OpenAI-compatible streaming stand-in: real HTTP, real SSE, scripted per test."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Script:
    """What the stand-in answers next: an error status, or SSE chunks with pacing."""

    status: int = 200
    error_body: dict[str, Any] = field(default_factory=dict)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0  # between chunks
    stall_after: int | None = None  # stop sending (but keep the connection) after N chunks
    done: bool = True  # send data: [DONE]


class StandIn:
    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.base_url = ""

    def reset(self) -> None:
        self.script = Script()
        self.requests.clear()
        self.headers.clear()


def _app(stand_in: StandIn) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        stand_in.requests.append(await request.json())
        stand_in.headers.append(dict(request.headers))
        script = stand_in.script
        if script.status != 200:
            body = script.error_body or {"error": {"message": f"scripted {script.status}"}}
            return JSONResponse(body, status_code=script.status)

        async def events() -> AsyncIterator[bytes]:
            for index, chunk in enumerate(script.chunks):
                if script.stall_after is not None and index >= script.stall_after:
                    await asyncio.sleep(3600)
                if index and script.delay_s:
                    await asyncio.sleep(script.delay_s)
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            if script.stall_after is not None and script.stall_after >= len(script.chunks):
                await asyncio.sleep(3600)
            if script.done:
                yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
async def _stand_in_server() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    port = _free_port()
    config = uvicorn.Config(
        _app(stand_in), host="127.0.0.1", port=port, log_level="warning",
        timeout_graceful_shutdown=1, lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "stand-in server did not start"
    stand_in.base_url = f"http://127.0.0.1:{port}/v1"
    yield stand_in
    server.should_exit = True
    await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def stand_in(_stand_in_server: StandIn) -> StandIn:
    _stand_in_server.reset()
    return _stand_in_server
