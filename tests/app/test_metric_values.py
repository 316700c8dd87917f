"""The API's own share of the metrics, by value: a repeated message it answers itself, the
rate-limit refusals it sends over the socket, the frames it sends to clients."""

from __future__ import annotations

import asyncio
import json

from prometheus_client import REGISTRY
from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app.conftest import Api, running_api
from tests.support.wait import eventually


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_repeated_rest_message_is_a_duplicate_and_one_message_created(
    api: Api, user: str
) -> None:
    created = ("messages_created_total", {"role": "user"})
    dups, users = sample("duplicate_events_dropped_total"), sample(created[0], **created[1])
    async with api.client(user) as http:
        body = {"text": "Hello!", "client_action_id": "once"}
        first = await http.post("/api/v1/message", json=body)
        assert first.status_code == 202 and not first.json().get("duplicate")

        async def answered() -> bool:
            state = (await http.get("/api/v1/state")).json()
            return any(m["role"] == "assistant" for m in state["messages"])

        await eventually(answered, 30)
        again = await http.post("/api/v1/message", json=body)
        assert again.json()["duplicate"] is True
        assert again.json()["message_id"] == first.json()["message_id"]
    assert sample("duplicate_events_dropped_total") == dups + 1
    # the user's message was created once: counted when its frame went out, not per POST
    assert sample(created[0], **created[1]) == users + 1


async def test_the_sockets_rate_limit_refusal_is_counted(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    quiet = settings.model_copy(
        update={"brain_chat_replies": False, "limit_messages_per_minute": 2}
    )
    refused = sample("rate_limit_rejections_total", limit_type="messages_per_minute")
    sent = sample("realtime_frames_sent_total")
    async with running_api(quiet, temporal_client) as api:
        ws = await api.ws(user)
        for i in range(3):
            await ws.send(json.dumps({"type": "message.send", "text": f"m{i}"}))
        frames: list[dict] = []
        async with asyncio.timeout(20):
            while len([f for f in frames if f["type"] == "message.created"]) < 2 or not any(
                f["type"] == "rate_limited" for f in frames
            ):
                frames.append(json.loads(await ws.recv()))
        await ws.close()
    assert sample("rate_limit_rejections_total", limit_type="messages_per_minute") == refused + 1
    # the two messages' frames came through the bus (the refusal is the connection's own)
    assert sample("realtime_frames_sent_total") >= sent + 2
