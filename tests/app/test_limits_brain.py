"""Limits the brain enforces: the daily token budget (with its 80 % warning) and writes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable

from temporalio.client import Client

from mcos.brain.limits import BUDGET_MESSAGE_OFFLINE
from mcos.kernel.settings import Settings
from tests.app import skills_scenarios as flows
from tests.app.chat_helpers import say
from tests.app.conftest import recv_until, running_api
from tests.app.test_skills_openai import _ranking, answer
from tests.conftest import serving
from tests.llm.conftest import Script, StandIn, _app
from tests.llm.test_openai_provider import _chunk, text, usage


class _Model(StandIn):
    """An OpenAI-compatible stand-in answering each request with ``reply(request)``."""

    def __init__(self, reply: Callable[[dict], Script]) -> None:
        super().__init__()
        self.reply = reply

    @property
    def script(self) -> Script:
        return self.reply(self.requests[-1])

    @script.setter
    def script(self, value: Script) -> None:
        pass


@contextlib.asynccontextmanager
async def paid_model(reply: Callable[[dict], Script]) -> AsyncIterator[_Model]:
    model = _Model(reply)
    async with serving(_app(model)) as url:
        model.base_url = f"{url}/v1"
        yield model


def _openai(settings: Settings, model: _Model, **more: object) -> Settings:
    return settings.model_copy(
        update={
            "llm_provider": "openai",
            "llm_base_url": model.base_url,
            "llm_api_key": "k",
            "llm_model": "stand-in",
            **more,
        }
    )


async def test_the_offline_model_spends_no_budget(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    settings = settings.model_copy(update={"limit_tokens_per_day": 100})
    async with running_api(settings, temporal_client) as api:
        ws = await api.ws(user)
        for i in range(3):  # one offline turn's prompt alone is far over 100 tokens
            turn = await say(ws, f"Hello, what can you do? ({i})")
            assert not turn.of("limit.warning")
            assert not turn.text.startswith(BUDGET_MESSAGE_OFFLINE[:20]), turn.text
        await ws.close()
        async with api.client(user) as http:
            state = (await http.get("/api/v1/state")).json()
    assert state["counters"]["usage"]["tokens"] == 0
    assert all(m["tokens_prompt"] > 0 for m in state["messages"] if m["role"] == "assistant")


def _paid(body: dict) -> Script:
    """A model that answers every call with a short text and reports usage."""
    if body["messages"][0]["content"].startswith("Rank flight options"):
        return _ranking(body["messages"])
    return Script(chunks=[text("Sure."), _chunk({}, "stop"), usage(300, 50)])


async def test_billed_tokens_stop_at_the_budget_and_ranking_counts(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with (
        paid_model(_paid) as model,
        running_api(_openai(settings, model, limit_tokens_per_day=1000), temporal_client) as api,
    ):
        ws = await api.ws(user)
        first = await say(ws, "Hello")  # 350 tokens
        assert not first.of("limit.warning")
        second = await say(ws, "Hello again")  # 700
        assert not second.of("limit.warning")
        await say(ws, "And once more")  # 1,050: over 80 %, over the limit
        warned = await recv_until(ws, lambda f: f["type"] == "limit.warning")
        warning = warned[-1]["data"]
        assert warning["current"] == 1050 and warning["limit"] == 1000
        calls = len(model.requests)
        fourth = await say(ws, "Remind me to call Ana tomorrow at 9am")
        await ws.close()
        assert len(model.requests) == calls, "no paid call once the budget is spent"
        assert fourth.text.startswith(BUDGET_MESSAGE_OFFLINE.split(",")[0]), fourth.text
        assert [a["name"] for a in fourth.actions] == ["create_task"]  # tasks still work
        async with api.client(user) as http:
            state = (await http.get("/api/v1/state")).json()
        assert state["counters"]["usage"]["tokens"] == 1050
        assert [t["title"] for t in state["tasks"]] == ["Call Ana"]


async def test_flight_ranking_spends_the_budget_too(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with (
        paid_model(answer) as model,
        running_api(_openai(settings, model), temporal_client) as api,
    ):
        state = await flows.travel_flow(api, user, ranked_by_llm=True)
    replies = [m for m in state["messages"] if m["role"] == "assistant"]
    chat = sum(m["tokens_prompt"] + m["tokens_completion"] for m in replies)
    ranking = 200 + 80  # the stand-in's usage for the ranking call
    assert state["counters"]["usage"]["tokens"] == chat + ranking


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
