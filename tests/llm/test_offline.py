"""The offline provider: tool calls for skills, answers from tool results, word-piece streaming."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from mcos.kernel.settings import Settings
from mcos.llm.base import LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.offline import OfflineProvider, split_pieces
from mcos.llm.providers import make_provider
from mcos.llm.tools import TOOL_SCHEMAS

CONTEXT: dict[str, Any] = {
    "now": "2026-11-25T10:00:00-08:00",  # a Wednesday
    "timezone": "America/Los_Angeles",
    "preferences": {"home_airport": "SFO"},
    "memories": [],
    "tasks": [
        {"title": "Send the report", "due": "2026-11-25T17:00:00-08:00", "status": "open",
         "priority": "high"},
        {"title": "Done already", "due": "2026-11-25T12:00:00-08:00", "status": "done"},
        {"title": "Next week thing", "due": "2026-12-03T12:00:00-08:00", "status": "open"},
    ],
    "calendar": [
        {"id": "e1", "title": "Standup", "start": "2026-11-25T17:30:00Z",
         "end": "2026-11-25T18:00:00Z"},
        {"id": "e2", "title": "Dentist", "start": "2026-11-27T09:00:00-08:00",
         "end": "2026-11-27T10:00:00-08:00", "location": "Main St"},
    ],
}  # fmt: skip


def user(text: str, tools: list[dict[str, Any]] = TOOL_SCHEMAS, **ctx: Any) -> LlmRequest:
    return LlmRequest(
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": text}],
        tools=tools,
        context={**CONTEXT, **ctx},
    )


def after_tool(name: str, result: Any, extra_results: Sequence[tuple[str, Any]] = ()) -> LlmRequest:
    calls = [(name, result), *extra_results]
    return LlmRequest(
        messages=[
            {"role": "user", "content": "do it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": "{}"}}
                    for i, (n, _) in enumerate(calls)
                ],  # fmt: skip
            },
            *[
                {"role": "tool", "tool_call_id": f"c{i}", "content": json.dumps(r)}
                for i, (_, r) in enumerate(calls)
            ],
        ],
        tools=TOOL_SCHEMAS,
        context=CONTEXT,
    )


async def run(request: LlmRequest, delay_ms: float = 0) -> list[Any]:
    return [c async for c in OfflineProvider(token_delay_ms=delay_ms).stream(request)]


def text_of(chunks: list[Any]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TokenChunk))


async def test_skill_becomes_a_single_tool_call_without_text() -> None:
    out = await run(user("Remind me to call John tomorrow at 3pm"))
    assert isinstance(out[0], ToolCallChunk)
    assert out[0].name == "create_task"
    assert out[0].arguments == {
        "title": "Call John", "due": "2026-11-26T15:00:00-08:00", "priority": "normal"
    }  # fmt: skip
    assert not [c for c in out if isinstance(c, TokenChunk)]
    assert isinstance(out[-1], UsageChunk) and out[-1].completion_tokens > 0
    assert len(out) == 2


async def test_tools_not_offered_are_never_called() -> None:
    out = await run(user("Remind me to call John tomorrow at 3pm", tools=[]))
    assert not [c for c in out if isinstance(c, ToolCallChunk)]
    assert text_of(out)


async def test_flight_search_without_origin_uses_home_airport_by_omission() -> None:
    out = await run(user("Find flights to Boston next Friday"))  # Friday of next week
    assert out[0].arguments == {"destination": "Boston", "departure_date": "2026-12-04"}


async def test_flight_search_without_origin_or_home_airport_asks() -> None:
    out = await run(user("Find flights to Boston next Friday", preferences={}))
    assert not [c for c in out if isinstance(c, ToolCallChunk)]
    assert "Where will you fly from" in text_of(out)


async def test_flight_search_without_date_asks_for_one() -> None:
    out = await run(user("Find flights to Boston"))
    assert text_of(out).startswith("When would you like to fly to Boston?")


async def test_past_date_is_explained_not_searched() -> None:
    out = await run(user("flights to Boston on 2025-01-02"))
    assert not [c for c in out if isinstance(c, ToolCallChunk)]
    assert "2025-01-02 is in the past" in text_of(out)


async def test_agenda_answered_from_context_when_tool_not_offered() -> None:
    text = text_of(await run(user("What's on my agenda today?", tools=[])))
    assert text == (
        "Here's your agenda for today:\n"
        "• 9:30 AM — Standup\n"
        "• task: Send the report (due 5:00 PM) ❗"
    )


async def test_unrecognised_text_gets_a_helpful_reply() -> None:
    text = text_of(await run(user("Tell me a joke")))
    assert text.startswith("I'm the offline assistant, so I can't help with that. I can add")
    assert "tasks and reminders" in text and "flights" in text
    assert "You have 2 open tasks." in text


async def test_reply_streams_word_pieces_with_usage_last() -> None:
    out = await run(user("hello"))
    tokens = [c for c in out if isinstance(c, TokenChunk)]
    assert len(tokens) > 20
    assert all(1 <= len(t.text) <= 4 for t in tokens)
    assert out[-1] == UsageChunk(
        prompt_tokens=3, completion_tokens=len(tokens)
    )  # "sys" + "hel","lo"
    assert [type(c) for c in out[:-1]] == [TokenChunk] * len(tokens)


def test_split_pieces_round_trips_and_keeps_spaces() -> None:
    text = "Done — I added “Call John”\n for tomorrow."
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert pieces[:4] == ["Done", " —", " I", " add"]
    assert max(len(p) for p in pieces) <= 4


async def test_token_delay_paces_the_stream() -> None:
    request = user("hello")
    started = time.monotonic()
    out = await run(request, delay_ms=5)
    elapsed = time.monotonic() - started
    gaps = len([c for c in out if isinstance(c, TokenChunk)]) - 1
    assert elapsed >= gaps * 0.005 * 0.9


async def test_zero_delay_still_yields_control() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await run(user("hello"), delay_ms=0)
    finally:
        task.cancel()
    assert ticks > 10


async def test_deterministic() -> None:
    assert await run(user("Summarize my week", tools=[])) == await run(
        user("Summarize my week", tools=[])
    )


async def test_max_tokens_caps_the_reply() -> None:
    request = user("hello")
    request.max_tokens = 5
    out = await run(request)
    assert len([c for c in out if isinstance(c, TokenChunk)]) == 5
    assert out[-1].completion_tokens == 5


# --- answers from tool results ----------------------------------------------------------


async def test_task_created_confirmation() -> None:
    task = {"id": "task_1", "title": "Call John", "due": "2026-11-26T23:00:00Z"}
    result = {"ok": True, "task": task}
    assert text_of(await run(after_tool("create_task", result))) == (
        "Done — I added “Call John” for tomorrow at 3:00 PM."
    )


async def test_task_updated_done() -> None:
    result = {"task": {"title": "Send the report", "status": "done"}}
    assert text_of(await run(after_tool("update_task", result))) == (
        "Nice work — I marked “Send the report” as done."
    )


async def test_agenda_tool_result_lists_items_for_the_week() -> None:
    result = {"range": "week"}  # lists taken from the context
    text = text_of(await run(after_tool("summarize_agenda", result)))
    assert text.splitlines() == [
        "Here's your agenda for the next 7 days:",
        "• Wed 9:30 AM — Standup",
        "• Wed task: Send the report (due 5:00 PM) ❗",
        "• Fri 9:00 AM — Dentist (Main St)",
    ]


async def test_agenda_tool_result_empty() -> None:
    result = {"range": "tomorrow", "tasks": [], "events": []}
    assert text_of(await run(after_tool("summarize_agenda", result))) == (
        "Your agenda for tomorrow is clear — no events or tasks due."
    )


OPTIONS = [
    {"id": f"off_{i}", "airline_name": name, "flight_number": f"{code} {i}0",
     "origin": {"code": "SFO"}, "destination": {"code": "BOS"},
     "departure": {"iso": f"2026-11-27T0{6 + i}:00:00-08:00"}, "stops": stops,
     "duration_minutes": 330 + 30 * stops, "total": price, "currency": "USD"}
    for i, (name, code, stops, price) in enumerate(
        [("United", "UA", 0, "312.40"), ("Delta", "DL", 1, "250.00"),
         ("Alaska", "AS", 0, "330.00"), ("JetBlue", "B6", 2, "199.00")]
    )
]  # fmt: skip


async def test_flight_results_top_three_with_reasons() -> None:
    result = {
        "search_id": "fs_1",
        "options": OPTIONS,
        "ranking": [
            {"flight_id": "off_2", "rank": 2, "reasoning": "non-stop, a bit pricier"},
            {"flight_id": "off_0", "rank": 1, "reasoning": "non-stop, fits your calendar"},
            {"flight_id": "off_1", "rank": 3},
            {"flight_id": "off_3", "rank": 4},
        ],
    }
    lines = text_of(await run(after_tool("search_flights", result))).splitlines()
    assert lines[0] == "Here are the top 3 flights SFO → BOS:"
    assert lines[1] == (
        "1. United UA 00, Fri Nov 27, 6:00 AM, non-stop, 5h 30m, $312.40 — "
        "non-stop, fits your calendar"
    )
    assert lines[2].startswith("2. Alaska AS 20") and lines[2].endswith("non-stop, a bit pricier")
    assert lines[3].startswith("3. Delta DL 10") and "1 stop" in lines[3]
    assert "JetBlue" not in "\n".join(lines)
    assert lines[4].startswith("Say “book the first one”")


async def test_flight_results_empty() -> None:
    text = text_of(await run(after_tool("search_flights", {"options": []})))
    assert text.startswith("I couldn't find any flights")


async def test_flight_selected_lists_follow_up_tasks() -> None:
    result = {
        "flight": OPTIONS[0],
        "follow_up_tasks": [
            {"title": "Book flight UA 00", "due": "2026-11-25T18:00:00-08:00"},
            {"title": "Pack", "due": "2026-11-26T20:00:00-08:00"},
            {"title": "Airport transfer"},
        ],
    }
    text = text_of(await run(after_tool("select_flight", result)))
    assert text.startswith("Great choice — United UA 00")
    assert text.splitlines()[1:] == [
        "• Book flight UA 00 (today at 6:00 PM)",
        "• Pack (tomorrow at 8:00 PM)",
        "• Airport transfer",
    ]


async def test_tool_errors_get_a_friendly_explanation() -> None:
    result = {"error": {"code": "not_found", "message": "No task matches “report”."}}
    assert text_of(await run(after_tool("update_task", result))) == (
        "Sorry — I couldn't update that task: no task matches “report”. Want to try again?"
    )


async def test_preference_and_memory_confirmations_in_one_turn() -> None:
    request = after_tool(
        "set_preference", {"key": "seat", "value": "aisle"},
        [("pin_memory", {"memory": {"key": "wife_name", "value": "Ana"}})],
    )  # fmt: skip
    assert text_of(await run(request)) == (
        "Got it — I'll remember your seat: aisle.\n\nI'll remember that — Wife name: Ana."
    )


def test_make_provider_offline() -> None:
    provider = make_provider(Settings(llm_provider="offline", offline_token_delay_ms=7))
    assert isinstance(provider, OfflineProvider)
    assert provider.token_delay_s == 0.007


def test_make_provider_openai() -> None:
    from mcos.llm.openai_provider import OpenAIProvider

    provider = make_provider(
        Settings(llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1", llm_api_key="k")
    )
    assert isinstance(provider, OpenAIProvider)
