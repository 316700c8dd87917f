"""Dependency outages seen through the API: Temporal or Redis down (real processes,
killed and restarted by the test), answered quickly and clearly, and streaming again after."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import websockets
from temporalio.client import Client

from mcos.infra.bus_redis import RedisBus
from mcos.infra.devserver import DevServer
from mcos.kernel.contracts import SEARCH_ATTRIBUTES
from mcos.kernel.settings import Settings
from tests.app.conftest import Api, recv_until, running_api
from tests.conftest import eventually, free_port
from tests.support.redis_proc import RedisProcess, throwaway_redis
from workflows.client import BrainClient

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    with throwaway_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def token_delay_ms() -> int:
    """The offline model's pace: no delay, unless a test needs a reply still streaming
    when it cuts Redis (it parametrizes this)."""
    return 0


@pytest.fixture
async def redis_api(
    settings: Settings,
    temporal_client: Client,
    redis_server: RedisProcess,
    token_delay_ms: int,
) -> AsyncIterator[Api]:
    s = settings.model_copy(
        update={"bus_url": redis_server.url, "offline_token_delay_ms": token_delay_ms}
    )
    bus = RedisBus(redis_server.url)
    try:
        async with running_api(s, temporal_client, bus=bus) as api:
            yield api
    finally:
        await bus.close()


def send(text: str, action: str) -> str:
    return json.dumps({"type": "message.send", "text": text, "client_action_id": action})


def completed(frame: dict) -> bool:
    return frame["type"] == "message.completed"


@pytest.mark.parametrize("token_delay_ms", [60])  # a reply of ~10 s, cut mid-stream
@pytest.mark.parametrize("down_s", [3.0, 10.0])
async def test_redis_down_mid_stream_brain_runs_on_turn_recorded_once_client_streams_again(
    redis_api: Api,
    redis_server: RedisProcess,
    temporal_client: Client,
    user: str,
    down_s: float,
) -> None:
    ws = await redis_api.ws(user)
    await ws.send(send("Hello! Tell me everything you can do for me.", "t1"))
    await recv_until(ws, lambda f: f["type"] == "llm.token" and f["data"]["index"] >= 3)
    redis_server.kill()
    started = time.monotonic()
    await asyncio.sleep(down_s)  # the outage under test
    redis_server.start()
    # the same socket: the reply's end arrives (caught up by cursor), or a resync
    after = await recv_until(ws, lambda f: completed(f) or f["type"] == "resync", timeout=90)
    recovered_s = time.monotonic() - started - down_s
    brain = BrainClient(temporal_client, redis_api.settings)
    assert await brain.is_running(user), "a Redis outage must never stop the brain"
    # the client streams again: a new turn's frames all arrive on the same socket
    await ws.send(send("And what is on my list?", "t2"))
    second = await recv_until(ws, completed, timeout=60)
    await ws.close()
    created = [f for f in second if f["type"] == "message.created"]
    assert any(f["data"].get("role") == "user" for f in created) or created
    async with redis_api.client(user) as http:
        state = (await http.get("/api/v1/state")).json()
    users = [m for m in state["messages"] if m["role"] == "user"]
    replies = [m for m in state["messages"] if m["role"] == "assistant"]
    assert [m["text"] for m in users] == [
        "Hello! Tell me everything you can do for me.",
        "And what is on my list?",
    ], "each turn recorded exactly once"
    assert len(replies) == 2 and all(m["status"] == "completed" for m in replies)
    seen_final = [f for f in after if completed(f)]
    if seen_final:  # caught up without resync: the final text is the recorded one
        assert seen_final[-1]["data"]["text"] == replies[0]["text"]
    print(f"redis down {down_s}s: socket caught up {recovered_s:.1f}s after restart")


async def test_a_socket_opened_while_redis_is_down_gets_an_error_and_a_close_frame(
    redis_api: Api, redis_server: RedisProcess, user: str
) -> None:
    redis_server.kill()
    ws = await redis_api.ws(user)
    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert frame["type"] == "error" and frame["data"]["code"] == "unavailable"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    redis_server.start()
    ws = await redis_api.ws(user)  # and a reconnect works once Redis is back
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv_until(ws, lambda f: f["type"] == "pong"))[-1]["type"] == "pong"
    await ws.close()


async def test_the_first_message_after_redis_returns_is_not_refused(
    redis_api: Api, redis_server: RedisProcess, user: str
) -> None:
    async with redis_api.client(user) as http:
        first = await http.post("/api/v1/message", json={"text": "one"})
        assert first.status_code == 202
        redis_server.kill()
        redis_server.start()
        again = await http.post("/api/v1/message", json={"text": "two"})
        assert again.status_code == 202, again.text

        async def answered() -> list[str] | None:  # both replies recorded, completed
            messages = (await http.get("/api/v1/state")).json()["messages"]
            replies = [m["status"] for m in messages if m["role"] == "assistant"]
            return replies if len(replies) == 2 else None

        # (and no turn is left running into the teardown)
        assert await eventually(answered, timeout=60) == ["completed", "completed"]


@pytest.mark.parametrize(
    "cursor", ["99999999999999999999999999999999-0", "18446744073709551616-1", "abc", "7"]
)
async def test_bad_cursors_get_resync_and_the_stream_goes_on(
    redis_api: Api, user: str, cursor: str
) -> None:
    ws = await redis_api.ws(user, cursor=cursor)  # ?cursor=
    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["type"] == "resync"
    if cursor[0].isdigit():  # resume frames take digit cursors (others: invalid_frame)
        await ws.send(json.dumps({"type": "resume", "cursor": cursor}))
        assert (await recv_until(ws, lambda f: f["type"] in ("resync", "error")))[-1][
            "type"
        ] == "resync"
    await ws.send(send("still streaming?", "after-resync"))
    assert (await recv_until(ws, completed, timeout=60))[-1]["type"] == "message.completed"
    await ws.close()


async def test_temporal_down_rest_answers_503_with_retry_after_quickly(
    settings: Settings, tmp_path: Path, user: str
) -> None:
    server = DevServer(
        db_file=None,
        port=free_port(),
        ui_port=None,
        search_attributes=SEARCH_ATTRIBUTES,
        log_file=tmp_path / "temporal.log",
    )
    server.start()
    try:
        await server.wait_healthy(90)
        s = settings.model_copy(update={"temporal_address": server.address})
        async with running_api(s, None, embedded_worker=False) as api:
            async with api.client(user) as http:
                assert (await http.get("/api/v1/state")).status_code == 200  # connected
                assert server.process is not None
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait()
                for method, path, body in [
                    ("GET", "/api/v1/state", None),
                    ("POST", "/api/v1/message", {"text": "hello?"}),
                    ("GET", "/api/v1/tasks", None),
                    ("POST", "/api/v1/tasks", {"title": "x"}),
                ]:
                    started = time.monotonic()
                    r = await http.request(method, path, json=body)
                    took = time.monotonic() - started
                    assert r.status_code == 503, (path, r.status_code, r.text)
                    assert r.json()["error"]["code"] == "unavailable"
                    assert int(r.headers["retry-after"]) >= 1
                    assert took < 3.0, (path, took)
                    print(f"temporal down: {method} {path} -> 503 in {took:.2f}s")
    finally:
        server.stop()
