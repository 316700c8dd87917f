"""Tool hygiene in chat: the daily quota, bad input answered without the tool, and a
flights MCP server that crashes or hangs — the turn always ends with a friendly answer."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from mcos.kernel.settings import Settings
from tests.app import skills_scenarios as flows
from tests.app.chat_helpers import TurnFrames, say
from tests.app.conftest import Api, running_api

BROKEN_SERVER = Path(__file__).resolve().parent.parent / "flights" / "broken_server.py"


def assert_no_search(turn: TurnFrames) -> None:
    """No MCP call happened: no successful tool result, no stored search, no card."""
    assert all(r["status"] != "success" for r in turn.tool_results), turn.tool_results
    assert not turn.completed["cards"]
    assert turn.streamed == turn.text


async def home_sfo(api: Api, user: str) -> None:
    async with api.client(user) as http:
        r = await http.patch("/api/v1/preferences", json={"home_airport": "SFO"})
        assert r.status_code == 200


async def test_eleventh_search_in_chat_is_refused_politely(api: Api, user: str) -> None:
    await home_sfo(api, user)
    day = (flows.local_today("UTC") + timedelta(days=12)).isoformat()
    async with api.client(user) as http:
        for _ in range(10):
            r = await http.post(
                "/api/v1/tools/search_flights", json={"destination": "LAX", "departure_date": day}
            )
            assert r.status_code == 200, r.text
    ws = await api.ws(user)
    try:
        turn = await say(ws, "Find flights to Boston next Friday")
    finally:
        await ws.close()
    assert_no_search(turn)
    summary = turn.tool_results[0].get("summary")
    assert summary is not None and summary.startswith("You've reached")
    assert "limit of 10 flight searches" in turn.text and turn.text.startswith("Sorry"), turn.text
    state = await flows.state_of(api, user)
    assert len(state["flight_searches"]) == 10
    assert state["counters"]["usage"]["flight_searches"] == 10


async def test_unknown_destination_and_bad_dates_get_clear_answers(api: Api, user: str) -> None:
    await home_sfo(api, user)
    ws = await api.ws(user)
    try:
        turn = await say(ws, "Find flights to Atlantis Springs next Friday")
        assert_no_search(turn)
        assert "Atlantis Springs" in turn.text and turn.text.rstrip().endswith("?"), turn.text

        turn = await say(ws, "Find flights to Boston")  # no date: a question, no tool call
        assert not turn.actions and "When would you like to fly" in turn.text, turn.text

        turn = await say(ws, "Find flights to Boston on January 5 2020")
        assert not turn.actions and "in the past" in turn.text, turn.text

        leave, back = (flows.local_today() + timedelta(days=d) for d in (10, 5))
        turn = await say(
            ws, f"Find flights to Boston on {leave:%B} {leave.day} returning {back:%B} {back.day}"
        )
        assert not turn.actions and "return date is before" in turn.text, turn.text
    finally:
        await ws.close()
    state = await flows.state_of(api, user)
    assert state["flight_searches"] == [] and state["counters"]["usage"]["flight_searches"] == 0


@pytest.mark.parametrize("mode", ["crash", "hang"])
async def test_broken_flights_server_gives_a_friendly_answer(
    settings: Settings, temporal_client: Client, user: str, mode: str
) -> None:
    broken = settings.model_copy(
        update={
            "flights_mcp_command": f"{sys.executable} {BROKEN_SERVER} {mode}",
            # A crash is seen when the child exits, whatever the budget: a roomy one keeps a
            # loaded machine's slow interpreter start from turning it into a timeout.
            "tool_timeout_s": 4.0 if mode == "hang" else 60.0,
        }
    )
    async with running_api(broken, temporal_client) as api:
        await home_sfo(api, user)
        ws = await api.ws(user)
        try:
            turn = await say(ws, "Find flights to Boston next Friday", timeout=90)
        finally:
            await ws.close()
        assert [a["name"] for a in turn.actions] == ["search_flights"]
        [result] = turn.tool_results
        assert result["status"] == "error" and result["card"] is None
        assert turn.completed["status"] == "completed"
        expected = "took too long" if mode == "hang" else "isn't answering"
        assert expected in turn.text and turn.text.startswith("Sorry"), turn.text
        state = await flows.state_of(api, user)
        assert [m["role"] for m in state["messages"]] == ["user", "assistant"]
        assert state["messages"][-1]["text"] == turn.text
        assert state["flight_searches"] == []
        # The brain is free for the next turn.
        ws = await api.ws(user)
        try:
            turn = await say(ws, "Remind me to call Mom tomorrow at 9am")
        finally:
            await ws.close()
        assert turn.of("task.created")
