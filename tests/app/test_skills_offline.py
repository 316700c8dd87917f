"""The chat skills end to end with the offline model: real API, WebSocket, Temporal worker,
and the bundled flights MCP server in a subprocess."""

from __future__ import annotations

from tests.app import skills_scenarios as flows
from tests.app.chat_helpers import say
from tests.app.conftest import Api


async def test_task_from_chat_agenda_and_completion(api: Api, user: str) -> None:
    await flows.tasks_flow(api, user)


async def test_preferences_flight_search_and_booking(api: Api, user: str) -> None:
    await flows.travel_flow(api, user)


async def test_memory_from_chat_is_listed_back(api: Api, user: str) -> None:
    ws = await api.ws(user)
    try:
        turn = await say(ws, "Remember that my passport expires in March 2027")
        assert [a["name"] for a in turn.actions] == ["pin_memory"], turn.actions
        turn = await say(ws, "What do you know about me?")
        assert "passport" in turn.text.lower(), turn.text
    finally:
        await ws.close()
    state = await flows.state_of(api, user)
    assert any("2027" in m["value"] for m in state["memories"])
