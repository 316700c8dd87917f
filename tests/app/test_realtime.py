"""The realtime protocol end to end: resume, fan-out, cancel, retries, queueing."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import Client
from websockets.asyncio.client import ClientConnection

from mcos.kernel.settings import Settings
from tests.app.chat_helpers import replies, until_replies
from tests.app.conftest import Api, recv_until, running_api
from tests.app.fake_providers import FlakyProvider, SlowProvider
from tests.support.tokens import token_indexes
from tests.support.wait import eventually

LONG = "Hello! Tell me everything you can help me with, in detail please."


def is_done(frame: dict) -> bool:
    return frame["type"] in ("message.completed", "llm.interrupted")


async def send(ws: ClientConnection, text: str, action: str | None = None) -> None:
    await ws.send(json.dumps({"type": "message.send", "text": text, "client_action_id": action}))


async def test_client_that_drops_mid_stream_resumes_without_gap_or_duplicate(
    settings: Settings,
    temporal_client: Client,
    user: str,
) -> None:
    async with running_api(settings, temporal_client, provider=SlowProvider(30)) as api:
        ws = await api.ws(user)
        await send(ws, LONG)
        first = await recv_until(ws, lambda f: f["type"] == "llm.token" and f["data"]["index"] >= 4)
        await ws.close()  # drop mid-stream

        async def streamed_on() -> bool:  # tokens keep flowing meanwhile
            return any(
                f.type == "llm.token" and f.data["index"] >= 10
                for f in await api.bus.replay(user, first[-1]["cursor"])
            )

        await eventually(streamed_on, what="tokens after the drop")
        ws = await api.ws(user)
        await ws.send(json.dumps({"type": "resume", "cursor": first[-1]["cursor"]}))
        rest = await recv_until(ws, is_done)
        await ws.close()
    frames = first + rest
    cursors = [int(f["cursor"]) for f in frames]
    assert cursors == list(range(cursors[0], cursors[0] + len(cursors))), "gap or duplicate"
    tokens = [f["data"] for f in frames if f["type"] == "llm.token"]
    assert token_indexes(tokens) == list(range(len(token_indexes(tokens))))
    assert frames[-1]["data"]["text"] == "".join(t["text"] for t in tokens)


async def test_two_clients_of_one_user_see_identical_streams(api: Api, user: str) -> None:
    a, b = await api.ws(user), await api.ws(user)
    await asyncio.sleep(0.1)
    await send(a, "Hi, what's up?")
    got_a, got_b = await asyncio.gather(recv_until(a, is_done), recv_until(b, is_done))
    await a.close()
    await b.close()
    assert got_a == got_b and any(f["type"] == "llm.token" for f in got_a)


async def test_another_users_stream_is_not_seen(api: Api, user: str) -> None:
    mine, theirs = await api.ws(user), await api.ws(user + "-other")
    await send(mine, "hello")
    await recv_until(mine, is_done)
    await theirs.send(json.dumps({"type": "ping"}))
    frames = await recv_until(theirs, lambda f: f["type"] == "pong")
    assert [f["type"] for f in frames] == ["pong"]
    await mine.close()
    await theirs.close()


async def test_cancel_keeps_partial_text_as_interrupted(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(settings, temporal_client, provider=SlowProvider(60)) as api:
        ws = await api.ws(user)
        await send(ws, LONG)
        await recv_until(ws, lambda f: f["type"] == "llm.token" and f["data"]["index"] >= 2)
        await ws.send(json.dumps({"type": "generation.cancel"}))
        frames = await recv_until(ws, is_done, timeout=15)
        await ws.close()
        end = frames[-1]
        assert end["type"] == "llm.interrupted"
        assert end["data"]["status"] == "interrupted" and end["data"]["text"]
        async with api.client(user) as http:
            messages = (await http.get("/api/v1/state")).json()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "completed"),
        ("assistant", "interrupted"),
    ]
    assert messages[1]["text"] == end["data"]["text"]
    assert len(messages[1]["text"]) < 120  # stopped early, not the whole answer


async def test_retried_attempt_restarts_the_stream_without_doubled_text(
    settings: Settings,
    temporal_client: Client,
    user: str,
) -> None:
    provider = FlakyProvider(failures=1, fail_after=3)
    async with running_api(settings, temporal_client, provider=provider) as api:
        ws = await api.ws(user)
        await send(ws, "Hello there")
        frames = await recv_until(ws, is_done, timeout=30)
        await ws.close()

        async def recorded() -> list | None:  # the reply is out a moment before it is recorded
            async with api.client(user) as http:
                messages = (await http.get("/api/v1/state")).json()["messages"]
            return messages if len(messages) == 2 else None

        messages = await eventually(recorded)
    kinds = [f["type"] for f in frames]
    restart = kinds.index("llm.restarted")
    assert frames[restart]["data"]["attempt"] == 2
    before = [f for f in frames[:restart] if f["type"] == "llm.token"]
    after = [f["data"] for f in frames[restart:] if f["type"] == "llm.token"]
    assert len(token_indexes(f["data"] for f in before)) == 3
    assert all(f["data"]["attempt"] == 1 for f in before)
    assert all(t["attempt"] == 2 for t in after)
    final = frames[-1]["data"]["text"]
    assert final == "".join(t["text"] for t in after)
    assert [m["text"] for m in messages if m["role"] == "assistant"] == [final]


async def test_after_the_last_retry_the_user_gets_an_apology(
    settings: Settings,
    temporal_client: Client,
    user: str,
) -> None:
    provider = FlakyProvider(failures=99, fail_after=0)
    s = settings.model_copy(update={"llm_max_attempts": 2})
    async with running_api(s, temporal_client, provider=provider) as api:
        ws = await api.ws(user)
        await send(ws, "Hello")
        frames = await recv_until(ws, is_done, timeout=30)
        await ws.close()
    assert provider.calls == 2
    assert frames[-1]["data"]["status"] == "failed"
    assert "sorry" in frames[-1]["data"]["text"].lower()


async def test_messages_during_a_turn_are_queued_and_answered_in_order(
    settings: Settings,
    temporal_client: Client,
    user: str,
) -> None:
    async with running_api(settings, temporal_client, provider=SlowProvider(10)) as api:
        ws = await api.ws(user)
        await send(ws, LONG, "first")
        await recv_until(ws, lambda f: f["type"] == "llm.token")
        await send(ws, "And one more thing?", "second")
        await recv_until(ws, until_replies(2))
        await ws.close()
        async with api.client(user) as http:
            messages = (await http.get("/api/v1/state")).json()["messages"]
            history = (await http.get("/api/v1/history")).json()["messages"]
    # the second message lands mid-turn; each answer sits right after its question (the
    # user saw the first answer start before they sent the second message)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["reply_to"] == messages[0]["id"]
    assert messages[3]["reply_to"] == messages[2]["id"]
    assert all(m["status"] == "completed" for m in messages)
    # the first answer was recorded after the second question (seq), yet /history (newest
    # first) lists the conversation as /state does
    assert messages[1]["seq"] > messages[2]["seq"]
    assert [m["id"] for m in history] == [m["id"] for m in reversed(messages)]


async def test_interrupt_policy_cancels_the_running_turn(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    s = settings.model_copy(update={"brain_interrupt_on_new_message": True})
    async with running_api(s, temporal_client, provider=SlowProvider(60)) as api:
        ws = await api.ws(user)
        await send(ws, LONG)
        await recv_until(ws, lambda f: f["type"] == "llm.token" and f["data"]["index"] >= 2)
        await send(ws, "Actually, never mind.")
        frames = await recv_until(ws, until_replies(2), timeout=30)
        await ws.close()
    first, second = replies(frames).values()
    assert first["type"] == "llm.interrupted"
    assert second["type"] == "message.completed"


async def test_bad_client_frames_get_error_frames_and_the_socket_survives(
    api: Api, user: str
) -> None:
    ws = await api.ws(user)
    for raw in [
        "{nope",
        "[]",
        json.dumps({"type": "dance"}),
        json.dumps({"type": "message.send", "text": ""}),
        json.dumps({"type": "resume", "cursor": "DROP TABLE"}),
    ]:
        await ws.send(raw)
        frames = await recv_until(ws, lambda f: f["type"] == "error")
        assert frames[-1]["data"]["code"] in (
            "bad_json",
            "bad_frame",
            "unknown_type",
            "invalid_frame",
        )
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv_until(ws, lambda f: f["type"] == "pong"))[-1]["type"] == "pong"
    await ws.close()


async def test_a_message_over_the_daily_write_limit_is_refused_on_the_socket(
    settings: Settings,
    temporal_client: Client,
    user: str,
) -> None:
    s = settings.model_copy(update={"limit_writes_per_day": 1, "brain_chat_replies": False})
    async with running_api(s, temporal_client) as api:
        ws = await api.ws(user)
        await send(ws, "first", "w1")
        await recv_until(ws, lambda f: f["type"] == "message.created")
        await send(ws, "second", "w2")
        frames = await recv_until(ws, lambda f: f["type"] == "rate_limited")
        await ws.close()
        async with api.client(user) as http:
            state = (await http.get("/api/v1/state")).json()
    details = frames[-1]["data"]["error"]["details"]
    assert details["limit_type"] == "writes_per_day" and details["limit"] == 1
    assert details["client_action_id"] == "w2" and details["retry_after"] > 0
    assert [m["text"] for m in state["messages"]] == ["first"]
