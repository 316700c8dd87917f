"""Tool schemas, argument validation and the JSON-in-text fallback parser."""

from __future__ import annotations

import pytest

from mcos.llm.tools import (
    TOOL_NAMES,
    TOOL_SCHEMAS,
    could_be_tool_call_text,
    parse_tool_calls_from_text,
    validate_arguments,
)


def test_schemas_cover_the_skills_and_are_well_formed() -> None:
    assert TOOL_NAMES == {
        "create_task", "update_task", "delete_task", "summarize_agenda", "set_preference",
        "pin_memory", "search_flights", "select_flight",
    }  # fmt: skip
    for tool in TOOL_SCHEMAS:
        assert tool["type"] == "function"
        params = tool["function"]["parameters"]
        assert params["type"] == "object"
        assert set(params["required"]) <= set(params["properties"])
    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in TOOL_SCHEMAS}
    assert by_name["search_flights"]["required"] == ["destination", "departure_date"]
    assert by_name["create_task"]["properties"]["priority"]["enum"] == ["low", "normal", "high"]
    assert by_name["summarize_agenda"]["properties"]["range"]["enum"] == [
        "today", "tomorrow", "week"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "summarize_agenda", "arguments": {"range": "week"}}',
         [("summarize_agenda", {"range": "week"})]),
        ('{"tool": "set_preference", "parameters": {"key": "seat", "value": "aisle"}}',
         [("set_preference", {"key": "seat", "value": "aisle"})]),
        ('```json\n{"name": "select_flight", "arguments": {"option_rank": "2"}}\n```',
         [("select_flight", {"option_rank": 2})]),
        ('Sure!\n```\n{"name": "summarize_agenda", "arguments": "{\\"range\\": \\"today\\"}"}\n```',
         [("summarize_agenda", {"range": "today"})]),
        ('<|python_tag|>{"type": "function", "name": "pin_memory", '
         '"parameters": {"key": "k", "value": "v"}}',
         [("pin_memory", {"key": "k", "value": "v", "type": "fact"})]),
        ('[{"name": "summarize_agenda", "arguments": {"range": "today"}}, '
         '{"type": "function", "function": {"name": "select_flight", '
         '"arguments": "{\\"flight_id\\": \\"off_1\\"}"}}]',
         [("summarize_agenda", {"range": "today"}), ("select_flight", {"flight_id": "off_1"})]),
        ('{"tool_calls": [{"function": {"name": "search_flights", "arguments": '
         '{"destination": "BOS", "departure_date": "2026-12-03", "cabin_class": "Business"}}}]}',
         [("search_flights", {"destination": "BOS", "departure_date": "2026-12-03",
                              "cabin_class": "business"})]),
        ('{"name": "update_task", "arguments": {"title_query": "report", "status": "done"}}\n'
         '{"name": "summarize_agenda", "arguments": {"range": "today"}}',
         [("update_task", {"title_query": "report", "status": "done"}),
          ("summarize_agenda", {"range": "today"})]),
    ],
)  # fmt: skip
def test_parse_tool_calls_from_text(text: str, expected: list[tuple[str, dict]]) -> None:
    calls = parse_tool_calls_from_text(text)
    assert calls is not None
    assert [(c.name, c.arguments) for c in calls] == expected
    assert len({c.id for c in calls}) == len(calls)


@pytest.mark.parametrize(
    "text",
    [
        "Here is your agenda for today.",
        '{"answer": 42}',
        '{"name": "delete_everything", "arguments": {}}',  # unknown tool
        '{"name": "search_flights", "arguments": {"destination": "BOS"}}',  # missing date
        '{"name": "search_flights", "arguments": {"destination": "BOS", '
        '"departure_date": "next friday"}}',  # not YYYY-MM-DD
        '{"name": "create_task", "arguments": {"title": "x", "due": "tomorrow"}}',
        '{"name": "create_task", "arguments": {"title": "x", "priority": "extreme"}}',
        '{"name": "update_task", "arguments": {"status": "done"}}',  # no task to update
        '{"name": "select_flight", "arguments": {"option_rank": 0}}',
        '[{"name": "summarize_agenda", "arguments": {"range": "today"}}, {"name": "nope"}]',
        '{"name": "create_task", "arguments": "{broken"}',
        "```python\nprint('hi')\n```",
        "{not json at all",
        "",
    ],
)
def test_parse_rejects_anything_not_entirely_valid(text: str) -> None:
    assert parse_tool_calls_from_text(text) is None


def test_validate_drops_unknown_keys_and_defaults_priority() -> None:
    assert validate_arguments("create_task", {"title": " Call John ", "colour": "red"}) == {
        "title": "Call John", "due": None, "priority": "normal"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", True), ("  ", True), ("{", True), ('  {"na', True), ("[", True),
        ("`", True), ("``", True), ("```", True), ("```js", True), ("```json\n{", True),
        ("```python", False), ("```python\n", False), ("<|pyth", True), ("<|python_tag|>{", True),
        ("Sure", False), ("<b>", False), (" Hello", False),
    ],
)  # fmt: skip
def test_could_be_tool_call_text(prefix: str, expected: bool) -> None:
    assert could_be_tool_call_text(prefix) is expected
