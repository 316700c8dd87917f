"""Export everything, erase everything; control characters and secrets."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import websockets
from structlog.testing import capture_logs
from temporalio.client import Client
from websockets.typing import Subprotocol

from mcos.infra import db
from mcos.kernel.frames import Frame
from mcos.kernel.settings import Settings
from tests.app.conftest import running_api
from tests.support.wait import eventually


async def test_export_delete_export(settings: Settings, temporal_client: Client, user: str) -> None:
    settings = settings.model_copy(update={"brain_message_limit": 2, "brain_chat_replies": False})
    async with running_api(settings, temporal_client) as api, api.client(user) as http:
        for i in range(4):
            r = await http.post("/api/v1/message", json={"text": f"note number {i}"})
            assert r.status_code == 202
        await http.post("/api/v1/tasks", json={"title": "Call John"})
        await http.patch("/api/v1/preferences", json={"seat": "aisle"})
        await http.post("/api/v1/memory/pin", json={"key": "home_airport", "value": "SFO"})
        await eventually(lambda: db.count_archived(api.app.state.ctx.engine, user) >= 2)
        await eventually(
            lambda: (
                (profile := db.load_profile(api.app.state.ctx.engine, user)) is not None
                and profile.memories
            )
        )
        await api.bus.publish(user, [Frame(type="state.updated")])

        export = (await http.get("/api/v1/me/export")).json()
        assert export["user_id"] == user
        assert [t["title"] for t in export["state"]["tasks"]] == ["Call John"]
        assert export["state"]["preferences"] == {"seat": "aisle"}
        assert export["state"]["memories"][0]["value"] == "SFO"
        archived = [m["text"] for m in export["archived_messages"]]
        live = [m["text"] for m in export["state"]["messages"]]
        assert archived[:2] == ["note number 0", "note number 1"]
        assert sorted(set(archived + live)) == [f"note number {i}" for i in range(4)]
        assert {e["type"] for e in export["events"]} >= {
            "user.message",
            "task.created",
            "preference.set",
            "memory.pinned",
            "messages.archived",
        }
        assert export["profile_backup"]["preferences"] == {"seat": "aisle"}
        assert export["calendar_schedule"] is None

        erased = await http.delete("/api/v1/me")
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"] is True and erased.json()["sql_rows_deleted"] >= 3

        # The brain's history is deleted (Temporal does it asynchronously), the SQL rows and
        # the realtime buffer are gone.
        assert erased.json()["runs_deleted"] >= 1
        assert db.count_archived(api.app.state.ctx.engine, user) == 0
        assert db.load_profile(api.app.state.ctx.engine, user) is None
        assert await api.bus.replay(user, None) == []

        empty = (await http.get("/api/v1/me/export")).json()
        assert empty["state"]["seq"] == 0
        assert empty["state"]["messages"] == [] and empty["state"]["tasks"] == []
        assert empty["state"]["preferences"] == {} and empty["state"]["memories"] == []
        assert empty["events"] == [] and empty["archived_messages"] == []
        assert empty["profile_backup"] is None
        assert (await http.get("/api/v1/history")).json()["messages"] == []

        # The next request starts a fresh brain.
        r = await http.post("/api/v1/tasks", json={"title": "A new start"})
        assert r.status_code == 201 and r.json()["seq"] == 1
        assert [t["title"] for t in (await http.get("/api/v1/tasks")).json()["tasks"]] == [
            "A new start"
        ]


async def test_erasing_a_user_without_a_brain_is_fine(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(settings, temporal_client) as api, api.client(user) as http:
        r = await http.delete("/api/v1/me")
        assert r.status_code == 200 and r.json()["runs_deleted"] == 0


def test_control_characters_are_stripped_from_llm_input() -> None:
    from mcos.kernel.contracts import Turn
    from mcos.kernel.models import BrainState
    from mcos.skills.core import build_prompt

    state = BrainState(user_id="u", preferences={"seat\x1b[2J": "ai\x00sle"})
    turn = Turn(
        message_id="msg_x",
        event_id="evt_x",
        request_id=None,
        text="hello\x00\x07 world\x1b[31m\r\nnext\tline\x9b",
    )
    messages = build_prompt(state, turn, "UTC")
    joined = json.dumps(messages)
    assert messages[-1]["content"] == "hello world[31m\nnext\tline"
    for ch in ("\\u0000", "\\u0007", "\\u001b", "\\u009b"):
        assert ch not in joined


async def test_tokens_never_reach_the_logs(
    settings: Settings, temporal_client: Client, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_api(settings, temporal_client) as api:
        token = api.token(user)
        bad = token[:-4] + "AAAA"
        with capture_logs() as logs:
            async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
                ok = await http.post(
                    "/api/v1/tasks",
                    json={"title": "t"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert ok.status_code == 201
                assert (
                    await http.get("/api/v1/state", headers={"Authorization": f"Bearer {bad}"})
                ).status_code == 401
                assert (
                    await http.get("/api/v1/state", headers={"Cf-Access-Jwt-Assertion": bad})
                ).status_code == 401
            ws = await websockets.connect(api.ws_url() + f"?access_token={token}")
            await ws.send('{"type": "ping"}')
            await ws.recv()
            await ws.close()
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(api.ws_url() + f"?access_token={bad}")
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(
                    api.ws_url(), subprotocols=[Subprotocol("bearer"), Subprotocol(bad)]
                )
    assert any(e.get("event") == "request" for e in logs)
    assert any(e.get("event") == "auth.token_rejected" for e in logs)
    server_side = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")
    )
    dumped = json.dumps(logs, default=str) + server_side
    signature = token.rsplit(".", 1)[1]
    for secret in (token, bad, signature, bad.rsplit(".", 1)[1]):
        assert secret not in dumped
