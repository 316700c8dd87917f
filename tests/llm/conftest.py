"""A local OpenAI-compatible streaming stand-in: real HTTP, real SSE, scripted per test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.conftest import serving


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


@pytest.fixture(scope="session")
async def _stand_in_server() -> AsyncIterator[StandIn]:
    stand_in = StandIn()
    async with serving(_app(stand_in)) as url:
        stand_in.base_url = f"{url}/v1"
        yield stand_in


@pytest.fixture
async def stand_in(_stand_in_server: StandIn) -> StandIn:
    _stand_in_server.reset()
    return _stand_in_server
