"""What users expect of a 2026 assistant, over the real API: approval before booking,
regenerate and edit (the message tree), and what a message sent during a turn does."""

from __future__ import annotations

import json
from typing import Any

from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app.chat_helpers import TurnFrames, answer, replies, say
from tests.app.conftest import Api, recv_until, running_api
from tests.app.fake_providers import SlowProvider
from tests.app.skills_scenarios import state_of, wait_recorded

LONG = "Hello! Tell me everything you can help me with, in detail please."


async def _patch_preferences(api: Api, user: str, prefs: dict[str, Any]) -> None:
    async with api.client(user) as http:
        r = await http.patch("/api/v1/preferences", json=prefs)
        assert r.status_code == 200, r.text


async def _ask_to_book(api: Api, user: str, ws: Any) -> dict[str, Any]:
    """Search flights, then ask to book the first one: returns the approval asked for."""
    await _patch_preferences(api, user, {"home_airport": "SFO", "timezone": "America/New_York"})
    turn = await say(ws, "Find flights to Boston next Friday")
    assert turn.of("tool.result") and turn.of("tool.result")[0]["data"]["status"] == "success"
    turn = await say(ws, "Book the first one")
    [asked] = [f["data"] for f in turn.of("approval.requested")]
    assert turn.completed["status"] == "awaiting_approval"
    assert any(c.get("type") == "approval" for c in turn.completed["cards"])
    return asked


def _flight_tasks(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in state["tasks"] if t["source"] == "flight"]


async def test_rejecting_a_booking_books_nothing_and_says_so(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        asked = await _ask_to_book(api, user, ws)
        turn = await answer(ws, asked["approval_id"], "reject")
    finally:
        await ws.close()
    [resolved] = [f["data"] for f in turn.of("approval.resolved")]
    assert resolved["decision"] == "reject" and resolved["status"] == "rejected"
    assert "declined" in turn.text and "did not" in turn.text, turn.text
    state = await state_of(api, user)
    assert _flight_tasks(state) == []
    assert state["flight_searches"][0]["selected_flight_id"] is None
    assert state["approvals"] == []  # none pending


async def test_an_approval_is_answered_once(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        asked = await _ask_to_book(api, user, ws)
        async with api.client(user) as http:
            first = await http.post(
                f"/api/v1/approvals/{asked['approval_id']}", json={"decision": "approve"}
            )
            assert first.status_code == 200, first.text
            done = await recv_until(
                ws,
                lambda f: f["type"] == "message.completed" and f["data"].get("role") == "assistant",
            )
            await wait_recorded(api, user, done[-1]["data"]["id"])  # the known race
            before = await state_of(api, user)
            again = await http.post(
                f"/api/v1/approvals/{asked['approval_id']}", json={"decision": "reject"}
            )
            unknown = await http.post(
                "/api/v1/approvals/apr_" + "0" * 32, json={"decision": "approve"}
            )
            bad = await http.post(
                f"/api/v1/approvals/{asked['approval_id']}", json={"decision": "maybe"}
            )
    finally:
        await ws.close()
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert unknown.status_code == 409
    assert bad.status_code == 422
    after = await state_of(api, user)
    assert after["seq"] == before["seq"]  # nothing changed
    assert len(_flight_tasks(after)) == 3


async def test_an_expired_approval_cannot_be_answered(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    short = settings.model_copy(update={"brain_approval_ttl_s": 1.0})
    async with running_api(short, temporal_client) as api:
        ws = await api.ws(user)
        try:
            asked = await _ask_to_book(api, user, ws)
            expired = await recv_until(ws, lambda f: f["type"] == "approval.resolved", timeout=10)
            assert expired[-1]["data"]["decision"] == "expired"
            async with api.client(user) as http:
                late = await http.post(
                    f"/api/v1/approvals/{asked['approval_id']}", json={"decision": "approve"}
                )
        finally:
            await ws.close()
        assert late.status_code == 409
        assert _flight_tasks(await state_of(api, user)) == []


async def test_a_worker_restart_between_request_and_answer_changes_nothing(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(settings, temporal_client) as api:
        ws = await api.ws(user)
        try:
            asked = await _ask_to_book(api, user, ws)
        finally:
            await ws.close()
    # the API and its embedded worker are gone; a new process answers
    async with running_api(settings, temporal_client) as api:
        ws = await api.ws(user)
        try:
            turn = await answer(ws, asked["approval_id"], "approve", timeout=60)
        finally:
            await ws.close()
        assert "follow-up tasks" in turn.text, turn.text
        assert len(_flight_tasks(await state_of(api, user))) == 3


async def test_always_allow_skips_the_next_question(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        asked = await _ask_to_book(api, user, ws)
        await ws.send(
            json.dumps(
                {
                    "type": "approval.respond",
                    "approval_id": asked["approval_id"],
                    "decision": "approve",
                    "always": True,
                }
            )
        )
        await recv_until(
            ws, lambda f: f["type"] == "message.completed" and f["data"].get("role") == "assistant"
        )
        turn = await say(ws, "Book the second one")
    finally:
        await ws.close()
    assert not turn.of("approval.requested")
    assert turn.completed["status"] == "completed"
    state = await state_of(api, user)
    assert state["preferences"]["approvals"] == {"select_flight": "never"}


# --- regenerate and edit --------------------------------------------------------------


async def _regenerate(api: Api, user: str, ws: Any, message_id: str) -> TurnFrames:
    await wait_recorded(api, user, message_id)  # the known race (wait_recorded)
    async with api.client(user) as http:
        r = await http.post(f"/api/v1/messages/{message_id}/regenerate")
        assert r.status_code == 202, r.text
    frames = await recv_until(
        ws, lambda f: f["type"] == "message.completed" and f["data"].get("role") == "assistant"
    )
    return TurnFrames(frames)


async def test_regenerate_gives_a_sibling_and_the_branch_picker_pages(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        first = await say(ws, "What's on my agenda today?")
        again = await _regenerate(api, user, ws, first.completed["id"])
    finally:
        await ws.close()
    second = again.completed
    assert second["id"] != first.completed["id"]
    assert second["parent_id"] == first.completed["parent_id"]  # siblings
    await wait_recorded(api, user, second["id"])  # the known race (wait_recorded)
    state = await state_of(api, user)
    user_msg, reply = state["messages"]
    assert reply["id"] == second["id"] and reply["branch"] == {"index": 1, "count": 2}
    assert user_msg["branch"] == {"index": 0, "count": 1}

    async with api.client(user) as http:
        r = await http.post(f"/api/v1/messages/{first.completed['id']}/activate")
        assert r.status_code == 200, r.text
    state = await state_of(api, user)  # a reload shows the branch chosen; both are kept
    assert state["messages"][1]["id"] == first.completed["id"]
    assert state["messages"][1]["branch"] == {"index": 0, "count": 2}
    async with api.client(user) as http:
        r = await http.get("/api/v1/history")
    ids = {m["id"] for m in r.json()["messages"]}
    assert {first.completed["id"], second["id"]} <= ids


async def test_an_edited_message_is_answered_from_the_edited_text(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        turn = await say(ws, "Remind me to buy milk")
        original = turn.of("message.created")[0]["data"]
        assert original["role"] == "user"
        async with api.client(user) as http:
            r = await http.post(
                f"/api/v1/messages/{original['id']}/edit", json={"text": "Remind me to buy bread"}
            )
            assert r.status_code == 202, r.text
        edited = TurnFrames(
            await recv_until(
                ws,
                lambda f: f["type"] == "message.completed" and f["data"].get("role") == "assistant",
            )
        )
    finally:
        await ws.close()
    assert "bread" in edited.text.lower(), edited.text
    await wait_recorded(api, user, edited.completed["id"])  # the known race (wait_recorded)
    state = await state_of(api, user)
    edit_msg, reply = state["messages"]
    assert edit_msg["text"] == "Remind me to buy bread"
    assert edit_msg["branch"] == {"index": 1, "count": 2}
    assert reply["reply_to"] == edit_msg["id"]
    assert {t["title"] for t in state["tasks"]} == {"Buy milk", "Buy bread"}


# --- messages sent while a turn runs ----------------------------------------------------


async def _two_messages(
    settings: Settings, temporal_client: Client, user: str, policy: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send a long message, then a second one while the first answer streams."""
    async with running_api(settings, temporal_client, provider=SlowProvider(20)) as api:
        await _patch_preferences(api, user, {"double_texting": policy})
        ws = await api.ws(user)
        try:
            await ws.send(
                json.dumps({"type": "message.send", "text": LONG, "client_action_id": "first"})
            )
            frames = await recv_until(ws, lambda f: f["type"] == "llm.token")
            await ws.send(
                json.dumps(
                    {
                        "type": "message.send",
                        "text": "And what time is it?",
                        "client_action_id": "second",
                    }
                )
            )
            seen = list(frames)

            def finished(frame: dict[str, Any]) -> bool:
                seen.append(frame)
                if policy == "reject":
                    return bool(_replies(seen)) and any(f["type"] == "busy" for f in seen)
                return len(_replies(seen)) == 2

            frames += await recv_until(ws, finished, timeout=40)
        finally:
            await ws.close()
        for reply in _replies(frames):  # the known race (wait_recorded)
            await wait_recorded(api, user, reply["data"]["id"])
        return frames, await state_of(api, user)


def _replies(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(replies(frames).values())


async def test_queue_answers_each_message_in_turn(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    frames, state = await _two_messages(settings, temporal_client, user, "queue")
    first, second = _replies(frames)
    users = [m for m in state["messages"] if m["role"] == "user"]
    assert [m["client_action_id"] for m in users] == ["first", "second"]
    assert first["data"]["reply_to"] == users[0]["id"] and first["type"] == "message.completed"
    assert second["data"]["reply_to"] == users[1]["id"]


async def test_interrupt_stops_the_running_answer(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    frames, state = await _two_messages(settings, temporal_client, user, "interrupt")
    first, second = _replies(frames)
    assert first["type"] == "llm.interrupted" and first["data"]["status"] == "interrupted"
    assert first["data"]["text"]  # the partial text is kept
    assert second["type"] == "message.completed" and second["data"]["status"] == "completed"


async def test_merge_answers_messages_close_together_once(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    async with running_api(settings, temporal_client) as api:
        await _patch_preferences(api, user, {"double_texting": "merge"})
        ws = await api.ws(user)
        try:
            for i, text in enumerate(["Remind me to call Ana", "tomorrow at 9am please"]):
                await ws.send(
                    json.dumps({"type": "message.send", "text": text, "client_action_id": f"m{i}"})
                )
            frames = await recv_until(
                ws,
                lambda f: f["type"] == "message.completed" and f["data"].get("role") == "assistant",
                timeout=30,
            )
            extra = []
            try:
                extra = await recv_until(
                    ws, lambda f: f["type"] == "message.completed", timeout=2.5
                )
            except TimeoutError:
                pass  # no second answer: the point
        finally:
            await ws.close()
        for reply in _replies(frames + extra):  # the known race (wait_recorded)
            await wait_recorded(api, user, reply["data"]["id"])
        state = await state_of(api, user)
    assert len(_replies(frames + extra)) == 1
    users = [m for m in state["messages"] if m["role"] == "user"]
    [reply] = [m for m in state["messages"] if m["role"] == "assistant"]
    assert len(users) == 2 and reply["reply_to"] == users[1]["id"]


async def test_reject_answers_busy_and_records_nothing(
    settings: Settings, temporal_client: Client, user: str
) -> None:
    frames, state = await _two_messages(settings, temporal_client, user, "reject")
    [busy] = [f for f in frames if f["type"] == "busy"]
    assert busy["data"]["client_action_id"] == "second"
    assert [m["client_action_id"] for m in state["messages"] if m["role"] == "user"] == ["first"]
    assert len(_replies(frames)) == 1
