"""OpenAIProvider against what real servers were seen to do (stand-in: real HTTP + SSE).

Each case here is one failure of issue 14's list, scripted: refused message shapes, streams
that die without a finish_reason, empty replies, tool calls cut at max_tokens, tool calls
written as text in the wrappers small models use, and template errors answered with 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mcos.llm.base import LlmError, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.openai_provider import OpenAIProvider, normalize_messages
from mcos.llm.tools import TOOL_SCHEMAS
from tests.llm.conftest import Script, StandIn
from tests.llm.test_openai_provider import (
    MESSAGES,
    _chunk,
    collect,
    settings,
    stop,
    text,
    tool_delta,
    usage,
)

TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "remind me to call John"},
    {
        "role": "assistant",
        "content": None,  # what the brain records for a reply that is only tool calls
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "create_task", "arguments": {"title": "Call John"}},
            }
        ],
    },  # fmt: skip
    {
        "role": "tool",
        "tool_call_id": "call_1",
        "name": "create_task",
        "content": {"status": "success"},
    },  # fmt: skip
]


def provider(stand_in: StandIn, **overrides: Any) -> OpenAIProvider:
    return OpenAIProvider(settings(stand_in.base_url, **overrides))


def tokens(out: list[Any]) -> list[str]:
    return [c.text for c in out if isinstance(c, TokenChunk)]


def calls(out: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(c.name, c.arguments) for c in out if isinstance(c, ToolCallChunk)]


async def test_messages_are_sent_in_a_shape_every_server_accepts(stand_in: StandIn) -> None:
    stand_in.script = Script(chunks=[text("Done."), stop(), usage(9, 2)])
    await collect(provider(stand_in), LlmRequest(messages=TOOL_TURN, tools=TOOL_SCHEMAS))

    sent = stand_in.requests[0]["messages"]
    assistant, tool = sent[1], sent[2]
    assert assistant["content"] == ""  # never null next to tool_calls (HTTP 500 on one server)
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"title": "Call John"}'
    assert tool["content"] == '{"status": "success"}'
    assert TOOL_TURN[1]["content"] is None  # the caller's messages are not mutated


def test_normalize_drops_empty_tool_call_lists_and_nulls() -> None:
    out = normalize_messages(
        [{"role": "assistant", "content": "hi", "tool_calls": [], "name": None}]
    )
    assert out == [{"role": "assistant", "content": "hi"}]


async def test_tool_choice_is_sent_with_tools_only(stand_in: StandIn) -> None:
    stand_in.script = Script(chunks=[text("a"), stop(), usage(1, 1)])
    await collect(
        provider(stand_in),
        LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS, tool_choice="required"),
    )
    stand_in.script = Script(chunks=[text("a"), stop(), usage(1, 1)])
    await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tool_choice="required"))
    assert stand_in.requests[0]["tool_choice"] == "required"
    assert "tool_choice" not in stand_in.requests[1]


async def test_a_stream_that_ends_without_finish_reason_is_a_retryable_error(
    stand_in: StandIn,
) -> None:
    stand_in.script = Script(chunks=[text("Hel"), text("lo")], done=False)
    received: list[Any] = []
    with pytest.raises(LlmError) as err:
        async for chunk in provider(stand_in).stream(LlmRequest(messages=MESSAGES)):
            received.append(chunk)
    assert err.value.retryable is True
    assert "finish_reason" in str(err.value)
    assert not [c for c in received if isinstance(c, UsageChunk)]  # never a silent success


async def test_an_empty_reply_is_a_retryable_error(stand_in: StandIn) -> None:
    stand_in.script = Script(chunks=[_chunk({"role": "assistant", "content": None}), stop()])
    with pytest.raises(LlmError) as err:
        await collect(provider(stand_in), LlmRequest(messages=MESSAGES))
    assert err.value.retryable is True and err.value.finish_reason == "stop"


async def test_content_filter_and_length_endings_are_reported(stand_in: StandIn) -> None:
    stand_in.script = Script(chunks=[text("Once upon"), stop("length"), usage(5, 2)])
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES))
    assert out[-1] == UsageChunk(prompt_tokens=5, completion_tokens=2, finish_reason="length")

    stand_in.script = Script(chunks=[stop("content_filter"), usage(5, 0)])
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES))
    assert out == [UsageChunk(prompt_tokens=5, completion_tokens=0,
                              finish_reason="content_filter")]  # fmt: skip


async def test_native_arguments_cut_at_max_tokens_are_not_retried(stand_in: StandIn) -> None:
    stand_in.script = Script(
        chunks=[tool_delta(0, id="call_a", name="create_task", arguments='{"title": "Ca'),
                stop("length"), usage(10, 64)]
    )  # fmt: skip
    with pytest.raises(LlmError) as err:
        await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert err.value.retryable is False  # the same request would be cut the same way
    assert err.value.finish_reason == "length"


@pytest.mark.parametrize(("finish", "retryable"), [("length", False), ("stop", True)])
async def test_a_broken_tool_call_in_text_is_never_shown(
    stand_in: StandIn, finish: str, retryable: bool
) -> None:
    pieces = ['{"name": "create_task", ', '"arguments": {"title": "Call Jo']
    stand_in.script = Script(chunks=[*map(text, pieces), stop(finish), usage(10, 64)])
    received: list[Any] = []
    with pytest.raises(LlmError) as err:
        async for chunk in provider(stand_in).stream(
            LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS)
        ):
            received.append(chunk)
    assert received == []  # no raw JSON reached the user
    assert err.value.retryable is retryable


@pytest.mark.parametrize(
    "pieces",
    [
        # Seen from a small model: a <tools> wrapper and "function" as the name key.
        ["<tools>\n", '{"function": "create_task", "arguments": {"title": "Call John"}}',
         "\n</tools>"],
        ["<tool_call>\n{\"name\": \"create_task\", ", '"arguments": {"title": "Call John"}}'],
        # Doubled braces, as in a chat template's escaped example.
        ['{{"name": "create_task", "arguments": {{"title": "Call John"}}}}'],
        ['```json\n{"type": "function", "function": {"name": "create_task", ',
         '"arguments": "{\\"title\\": \\"Call John\\"}"}}\n```'],
    ],
)  # fmt: skip
async def test_tool_calls_written_as_text_are_parsed_leniently(
    stand_in: StandIn, pieces: list[str]
) -> None:
    stand_in.script = Script(chunks=[*map(text, pieces), stop(), usage(30, 15)])
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert tokens(out) == []
    assert calls(out) == [
        ("create_task", {"title": "Call John", "due": None, "priority": "normal"})
    ]


async def test_prose_streams_and_a_tool_call_after_it_is_held(stand_in: StandIn) -> None:
    pieces = ["Sure", ", on it. ", "<tool", "_call>", '{"name": "summarize_agenda", ',
              '"arguments": {"range": "today"}}', "</tool_call>"]  # fmt: skip
    stand_in.script = Script(chunks=[*map(text, pieces), stop(), usage(30, 15)])
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert "".join(tokens(out)) == "Sure, on it. "
    assert not any("<" in t for t in tokens(out))
    assert calls(out) == [("summarize_agenda", {"range": "today"})]


async def test_a_lone_angle_bracket_in_prose_is_released(stand_in: StandIn) -> None:
    pieces = ["3 <", " 4 and <b>bold</b>"]
    stand_in.script = Script(chunks=[*map(text, pieces), stop(), usage(3, 5)])
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert "".join(tokens(out)) == "3 < 4 and <b>bold</b>"


async def test_native_calls_with_their_echo_as_text_drop_the_echo(stand_in: StandIn) -> None:
    echo = '<tool_call>{"name": "create_task", "arguments": {"title": "Call John"}}</tool_call>'
    stand_in.script = Script(
        chunks=[text(echo), tool_delta(0, id="call_a", name="create_task",
                                       arguments='{"title": "Call John"}'),
                stop("tool_calls"), usage(3, 5)]
    )  # fmt: skip
    out = await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert tokens(out) == []
    assert calls(out) == [("create_task", {"title": "Call John"})]


@pytest.mark.parametrize(
    ("message", "retryable"),
    [
        ("Jinja Exception: Conversation roles must alternate user/assistant", False),
        ("failed to apply chat template: null content", False),
        ("CUDA out of memory", True),
    ],
)
async def test_a_500_on_the_request_shape_is_permanent(
    stand_in: StandIn, message: str, retryable: bool
) -> None:
    stand_in.script = Script(status=500, error_body={"error": {"message": message}})
    with pytest.raises(LlmError) as err:
        await collect(provider(stand_in), LlmRequest(messages=MESSAGES))
    assert err.value.retryable is retryable and err.value.status_code == 500


async def test_an_error_event_inside_the_stream_is_an_llm_error(stand_in: StandIn) -> None:
    error = {"error": {"code": 500, "message": "The model produced output that does not match",
                       "type": "server_error"}}  # fmt: skip
    stand_in.script = Script(chunks=[text("```json\n"), error])
    with pytest.raises(LlmError) as err:
        await collect(provider(stand_in), LlmRequest(messages=MESSAGES, tools=TOOL_SCHEMAS))
    assert err.value.retryable is True
    assert "does not match" in str(err.value)


async def test_over_context_is_permanent(stand_in: StandIn) -> None:
    body = {
        "error": {
            "code": 400,
            "type": "exceed_context_size_error",
            "message": "request (810 tokens) exceeds the available context size",
        }
    }
    stand_in.script = Script(status=400, error_body=body)  # fmt: skip
    with pytest.raises(LlmError) as err:
        await collect(provider(stand_in), LlmRequest(messages=MESSAGES))
    assert err.value.retryable is False and "context size" in str(err.value)
    assert json.dumps(stand_in.requests[0]["messages"]) == json.dumps(MESSAGES)
