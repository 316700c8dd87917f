"""Limits the brain enforces: the daily token budget (with its 80 % warning) and writes."""

from __future__ import annotations

import json
import time

from temporalio.client import Client

from mcos.brain.limits import BUDGET_MESSAGE
from mcos.kernel.settings import Settings
from tests.app.conftest import recv_until, running_api


async def test_token_budget_warns_then_answers_without_the_llm(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    settings = settings.model_copy(update={"limit_tokens_per_day": 200})
    async with running_api(settings, temporal_client) as api:
        ws = await api.ws(user)
        await ws.send(json.dumps({"type": "message.send", "text": "Hello, what can you do?"}))
        first = await recv_until(ws, lambda f: f["type"] == "limit.warning")
        assert any(f["type"] == "llm.token" for f in first)
        warning = first[-1]["data"]
        assert warning["limit_type"] == "tokens_per_day" and warning["limit"] == 200
        assert warning["current"] >= 160 and warning["message"]

        await ws.send(json.dumps({"type": "message.send", "text": "And now?"}))
        second = await recv_until(ws, lambda f: f["type"] == "message.completed")
        await ws.close()
        assert not any(f["type"] in ("llm.token", "limit.warning") for f in second)
        reply = second[-1]["data"]
        assert reply["text"].startswith(BUDGET_MESSAGE.split("(")[0])
        assert reply["tokens_prompt"] == 0 and reply["tokens_completion"] == 0

        async with api.client(user) as http:
            state = (await http.get("/api/v1/state")).json()
        assert [m["role"] for m in state["messages"]] == ["user", "assistant"] * 2
        assert state["counters"]["usage"]["tokens"] == warning["current"]


async def test_no_warning_below_80_percent(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(settings, temporal_client) as api:
        ws = await api.ws(user)
        await ws.send(json.dumps({"type": "message.send", "text": "Hello!"}))
        frames = await recv_until(ws, lambda f: f["type"] == "message.completed")
        await ws.send('{"type": "ping"}')
        frames += await recv_until(ws, lambda f: f["type"] == "pong")
        await ws.close()
        assert not any(f["type"] == "limit.warning" for f in frames)


async def test_write_limit_refuses_commands_with_429(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    settings = settings.model_copy(update={"limit_writes_per_day": 3})
    async with running_api(settings, temporal_client) as api, api.client(user) as http:
        for i in range(3):
            assert (await http.post("/api/v1/tasks", json={"title": f"t{i}"})).status_code == 201
        before = (await http.get("/api/v1/state")).json()
        r = await http.post("/api/v1/tasks", json={"title": "one too many"})
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "rate_limited"
        d = err["details"]
        assert d["limit_type"] == "writes_per_day" and d["limit"] == 3 and d["current"] == 4
        assert d["reset_at"] > time.time() and d["reset_at"] % 86400 == 0
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Remaining"] == "0"
        assert int(r.headers["Retry-After"]) == d["retry_after"] >= 1
        r = await http.patch("/api/v1/preferences", json={"seat": "aisle"})
        assert r.status_code == 429
        assert (await http.get("/api/v1/state")).json() == before
