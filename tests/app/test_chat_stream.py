"""Streaming chat over a real WebSocket against the real dev server and worker."""

from __future__ import annotations

import json

from tests.app.conftest import Api, recv_until
from tests.support.tokens import token_indexes


async def test_tokens_stream_in_order_and_final_message_is_their_concatenation(
    api: Api, user: str
) -> None:
    ws = await api.ws(user)
    await ws.send(
        json.dumps(
            {
                "type": "message.send",
                "text": "Hello there, what can you do?",
                "client_action_id": "c-1",
            }
        )
    )
    frames = await recv_until(ws, lambda f: f["type"] == "message.completed")
    await ws.close()
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "message.created" and frames[0]["data"]["role"] == "user"
    assert frames[0]["data"]["client_action_id"] == "c-1"
    tokens = [f for f in frames if f["type"] == "llm.token"]
    indexes = token_indexes(t["data"] for t in tokens)
    assert len(indexes) > 5
    assert indexes == list(range(len(indexes)))
    completed = frames[-1]["data"]
    assert completed["text"] == "".join(t["data"]["text"] for t in tokens)
    assert all(t["operation_id"] == completed["operation_id"] for t in tokens)
    cursors = [int(f["cursor"]) for f in frames]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)

    async with api.client(user) as http:
        state = (await http.get("/api/v1/state")).json()
    assert [m["role"] for m in state["messages"]] == ["user", "assistant"]
    assert state["messages"][1]["text"] == completed["text"]
