"""The chat message window at the gateway: 60 a minute, the 61st gets the documented 429."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app.conftest import running_api
from tests.conftest import REDIS_URL, require_service


def _quiet(settings: Settings, **extra: Any) -> Settings:
    # No chat replies: the test is about the gateway, not 60 LLM turns.
    return settings.model_copy(update={"brain_chat_replies": False, **extra})


def assert_rate_limited(r: httpx.Response, limit: int = 60) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert set(body) == {"error", "request_id"} and body["request_id"].startswith("req_")
    err = body["error"]
    assert err["code"] == "rate_limited" and err["message"]
    d = err["details"]
    assert d["limit_type"] == "messages_per_minute"
    assert d["limit"] == limit and d["current"] == limit + 1
    now = time.time()
    assert now < d["reset_at"] <= now + 61
    assert 1 <= d["retry_after"] <= 60
    assert r.headers["X-RateLimit-Limit"] == str(limit)
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.headers["X-RateLimit-Reset"] == str(d["reset_at"])
    assert r.headers["Retry-After"] == str(d["retry_after"])


async def _send(http: httpx.AsyncClient, i: int) -> httpx.Response:
    return await http.post("/api/v1/message", json={"text": f"message {i}"})


async def test_61st_message_in_a_minute_is_refused(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(_quiet(settings), temporal_client) as api, api.client(user) as http:
        results = await asyncio.gather(*(_send(http, i) for i in range(60)))
        assert [r.status_code for r in results] == [202] * 60
        assert_rate_limited(await _send(http, 60))
        # Another user has their own window.
        async with api.client(user + "-other") as other:
            assert (await _send(other, 0)).status_code == 202
        # The refused message never reached the brain.
        state = (await http.get("/api/v1/state")).json()
        assert len(state["messages"]) == 60
        assert "message 60" not in {m["text"] for m in state["messages"]}


async def test_two_api_processes_share_the_window_through_redis(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    shared = _quiet(settings, rate_limit_url=REDIS_URL)
    async with (
        running_api(shared, temporal_client) as a,
        running_api(shared, temporal_client, embedded_worker=False) as b,
        a.client(user) as http_a,
        b.client(user) as http_b,
    ):
        assert a.base_url != b.base_url
        results = await asyncio.gather(*(_send(http_a if i % 2 else http_b, i) for i in range(60)))
        assert [r.status_code for r in results] == [202] * 60
        assert_rate_limited(await _send(http_a, 60))
        assert_rate_limited(await _send(http_b, 61))


async def test_without_redis_each_process_would_count_alone(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    # The control for the test above: in-memory windows are per process.
    quiet = _quiet(settings, limit_messages_per_minute=3)
    async with (
        running_api(quiet, temporal_client) as a,
        running_api(quiet, temporal_client, embedded_worker=False) as b,
        a.client(user) as http_a,
        b.client(user) as http_b,
    ):
        assert [(await _send(http_a, i)).status_code for i in range(4)] == [202] * 3 + [429]
        assert (await _send(http_b, 9)).status_code == 202


async def test_websocket_gets_a_rate_limited_frame_with_the_same_body(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(_quiet(settings), temporal_client) as api:
        ws = await api.ws(user)
        for i in range(61):
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "text": f"m{i}",
                        "client_action_id": f"c-{uuid.uuid4().hex[:8]}",
                    }
                )
            )
        limited = None
        async with asyncio.timeout(20):
            while limited is None:
                frame = json.loads(await ws.recv())
                if frame["type"] == "rate_limited":
                    limited = frame
        body = limited["data"]
        assert body["error"]["code"] == "rate_limited"
        d = body["error"]["details"]
        assert d["limit_type"] == "messages_per_minute" and d["limit"] == 60
        assert d["current"] == 61 and d["retry_after"] >= 1 and d["reset_at"] > time.time()
        assert body["request_id"] == limited["request_id"]
        # The connection stays usable.
        await ws.send('{"type": "ping"}')
        async with asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "pong":
                pass
        await ws.close()
        # And REST agrees: the window is per user, whatever the channel.
        async with api.client(user) as http:
            assert (await _send(http, 99)).status_code == 429


async def test_the_message_size_setting_is_enforced_on_every_path(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    """``limit_message_bytes`` (here 100): REST send and edit get 413, the socket an error
    frame; nothing reaches the brain and the refused message spends no rate window."""
    quiet = _quiet(settings, limit_message_bytes=100, limit_messages_per_minute=2)
    async with running_api(quiet, temporal_client) as api, api.client(user) as http:
        big = "é" * 51  # 102 bytes, 51 characters: the limit counts bytes
        for _ in range(3):
            r = await http.post("/api/v1/message", json={"text": big})
            assert r.status_code == 413, r.text
            err = r.json()["error"]
            assert err["code"] == "message_too_large"
            assert err["details"] == {"bytes": 102, "limit": 100}
        ok = await http.post("/api/v1/message", json={"text": "x" * 100})
        assert ok.status_code == 202, ok.text
        mine = ok.json()["message_id"]
        r = await http.post(f"/api/v1/messages/{mine}/edit", json={"text": big})
        assert r.status_code == 413, r.text
        ws = await api.ws(user)
        await ws.send(json.dumps({"type": "message.send", "text": big}))
        async with asyncio.timeout(10):
            while (frame := json.loads(await ws.recv()))["type"] != "error":
                pass
        assert frame["data"]["code"] == "message_too_large"
        await ws.close()
        state = (await http.get("/api/v1/state")).json()
        assert [m["text"] for m in state["messages"]] == ["x" * 100]
        # The 413s spent nothing: one send of 2 is used, the second still goes through.
        assert (await http.post("/api/v1/message", json={"text": "y"})).status_code == 202
