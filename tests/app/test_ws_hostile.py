"""Hostile WebSocket frames: each gets an ``error`` frame, the connection survives, the
state does not change."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import Api, recv_until

HOSTILE: list[str | bytes] = [
    "not json",
    "{",
    '{"type": "message.send", "text": "hi"',
    b"\x00\x01binary",
    b'{"type": "ping"}',  # even well-formed JSON is refused as a binary frame
    "x" * 100_000,
    json.dumps({"type": "message.send", "text": "a" * 200_000}),
    json.dumps({"type": "no.such.type"}),
    json.dumps({"type": ""}),
    json.dumps({"type": 5}),
    json.dumps({"type": None}),
    json.dumps({"type": ["message.send"]}),
    json.dumps({"text": "no type"}),
    json.dumps({"type": "message.send"}),
    json.dumps({"type": "message.send", "text": ""}),
    json.dumps({"type": "message.send", "text": "   "}),
    json.dumps({"type": "message.send", "text": 42}),
    json.dumps({"type": "message.send", "text": None}),
    json.dumps({"type": "message.send", "text": ["a", "b"]}),
    json.dumps({"type": "message.send", "text": {"nested": {"deep": [1, 2, {"x": None}]}}}),
    json.dumps({"type": "message.send", "text": "é" * 4500}),  # 9 KB of UTF-8
    json.dumps({"type": "message.send", "text": "a" * 9000}),
    json.dumps({"type": "message.send", "text": "hi", "client_action_id": "bad id!"}),
    json.dumps({"type": "message.send", "text": "hi", "client_action_id": 7}),
    json.dumps({"type": "message.send", "text": "hi", "channel": "sms", "extra": 1}),
    json.dumps({"type": "resume", "cursor": "not-a-cursor"}),
    json.dumps({"type": "resume", "cursor": {"$gt": ""}}),
    json.dumps({"type": "resume"}),
    "null",
    "[]",
    '[{"type": "ping"}]',
    "42",
    '"ping"',
    "true",
    json.dumps({"type": "message.send\u0000", "text": "hi"}),
    json.dumps({"type": "\ud7ff\ufffe\U0010ffff", "text": "\u202e\u0000"}),
    '{"type": "message.send", "text": "\\ud800"}',  # a lone surrogate
    "\x00\x1b[31m\x7f",
    json.dumps({"type": "ping", **{f"k{i}": i for i in range(2000)}}),
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
]


@pytest.mark.parametrize("subprotocol", [True])
async def test_hostile_frames_leave_the_connection_usable_and_state_unchanged(
    api: Api, user: str, subprotocol: bool
) -> None:
    async with api.client(user) as http:
        await http.post("/api/v1/tasks", json={"title": "keep"})
        before = (await http.get("/api/v1/state")).json()
    ws = await api.ws(user)
    for i, frame in enumerate(HOSTILE):
        await ws.send(frame)
        got = await recv_until(ws, lambda f: f["type"] in ("error", "rate_limited"), timeout=10)
        err = got[-1]
        assert err["type"] == "error", (i, frame if len(frame) < 200 else len(frame), err)
        assert err["data"]["code"] and err["data"]["message"]
        assert err["request_id"].startswith("req_")
        await ws.send('{"type": "ping"}')
        pong = await recv_until(ws, lambda f: f["type"] in ("pong", "error"), timeout=10)
        assert pong[-1]["type"] == "pong", (i, pong[-1])
    await ws.close()
    async with api.client(user) as http:
        after = (await http.get("/api/v1/state")).json()
    assert after["seq"] == before["seq"]
    assert after == before
