"""What an LLM call carries (v6, ``mcos.llm.lean``): the model sees exactly what it saw
before, from far fewer bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mcos.kernel.contracts import Turn
from mcos.llm import lean
from mcos.llm.base import LlmRequest
from mcos.llm.offline import OfflineProvider
from mcos.llm.prompt import SYSTEM_PROMPT
from mcos.llm.tools import TOOL_SCHEMAS
from mcos.skills import core
from mcos.skills.registry import REGISTRY
from tests.skills.test_prompt_size import NOW, busy_user

NAMES = [t["function"]["name"] for t in TOOL_SCHEMAS]


def prompt(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    state = busy_user()
    turn = Turn(message_id="m", event_id="e", text=text)
    return core.build_prompt(state, turn, "UTC", NOW), core.offline_context(state, NOW, "UTC")


def test_a_real_models_messages_come_back_exactly_from_fewer_bytes() -> None:
    text = "Move the dentist to Friday\x07 afternoon, please — and tell me what's left. " * 8
    messages, _ = prompt(text)
    packed = lean.pack_messages(messages, text)
    assert packed[0]["content"] == {"$ref": "system_prompt", "digest": lean.prompt_digest()}
    assert packed[-1] == {"role": "user", "content": {"$ref": "user_text"}}
    assert packed[1:-1] == messages[1:-1]  # the history and the warm context as they were
    assert lean.unpack_messages(packed, text) == messages
    saved = len(json.dumps(messages)) - len(json.dumps(packed))
    assert saved >= len(SYSTEM_PROMPT) + len(text) - 100, saved


def test_a_worker_whose_system_prompt_differs_refuses() -> None:
    messages, _ = prompt("hi")
    packed = lean.pack_messages(messages, "hi")
    packed[0] = {**packed[0], "content": {"$ref": "system_prompt", "digest": "0" * 16}}
    with pytest.raises(ValueError, match="system prompt differs"):
        lean.unpack_messages(packed, "hi")
    with pytest.raises(ValueError, match="user_text"):
        lean.unpack_messages(lean.pack_messages(messages, "hi"), None)


def test_only_the_turns_own_message_becomes_a_reference() -> None:
    messages, _ = prompt("Hello!")
    earlier = [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi!"}]
    messages = [messages[0], *earlier, *messages[1:]]
    packed = lean.pack_messages(messages, "Hello!")
    assert packed[1:3] == earlier
    assert [m["content"] for m in packed].count({"$ref": "user_text"}) == 1
    # a prompt whose last user message is not the turn's text is left as it is
    assert lean.pack_messages(messages, "something else")[1:] == messages[1:]


def test_the_echo_frame_names_the_users_text_and_gets_it_back() -> None:
    text = "a long message " * 50
    data: dict[str, Any] = {"id": "msg_1", "role": "user", "text": text, "seq": 3}
    packed = lean.ref_frame_text(data, text)
    assert packed["text"] == {"$ref": "user_text"} and list(packed) == list(data)
    assert lean.resolve_frame_text(packed, text) == data
    assert lean.ref_frame_text(data, "other text") is data


UTTERANCES = [
    "Hello!",
    "Remind me to call John tomorrow at 3pm",
    "What's on my agenda today?",
    "Delete the dentist task",
    "Move it to 4pm",
    "Remember that my wife's name is Ana and remind me to buy flowers on Friday",
    "Find flights to Boston next Friday",
    "what is the meaning of life",
]


async def chunks(request: LlmRequest) -> list[Any]:
    return [c async for c in OfflineProvider(token_delay_ms=0).stream(request)]


@pytest.mark.parametrize("text", UTTERANCES)
async def test_the_script_streams_what_the_offline_model_would_have(text: str) -> None:
    """The brain runs the offline model (v6); streaming its script gives the very chunks
    the offline provider gives from the whole prompt and state: text, tool calls, usage."""
    messages, context = prompt(text)
    for tools in (TOOL_SCHEMAS, []):
        names = [t["function"]["name"] for t in tools]
        request = LlmRequest(messages=messages, tools=tools, context=context)
        script = lean.offline_script(messages, names, context, NOW, REGISTRY)
        scripted = LlmRequest(messages=[], tools=tools, script=script)
        assert await chunks(scripted) == await chunks(request)


async def test_the_script_of_a_step_after_tool_results_matches_too() -> None:
    messages, context = prompt("Remind me to call John tomorrow at 3pm")
    first = lean.offline_script(messages, NAMES, context, NOW, REGISTRY)
    assert [c.name for c in first.calls] == ["create_task"]
    call = first.calls[0]
    result = {"ok": True, "task": {"id": "task_" + "a" * 32, "title": "Call John",
                                   "due": "2026-12-02T15:00:00Z"}}  # fmt: skip
    step = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]},
        {"role": "tool", "tool_call_id": call.id, "name": call.name,
         "content": json.dumps(result)},
    ]  # fmt: skip
    script = lean.offline_script(step, [], context, NOW, REGISTRY)
    assert "Call John" in script.text and not script.calls
    request = LlmRequest(messages=step, context=context)
    assert await chunks(LlmRequest(messages=[], script=script)) == await chunks(request)


def test_the_script_needs_no_wall_clock() -> None:
    """The brain gives its own time (a workflow may not read the clock)."""
    messages, context = prompt("Remind me to call John tomorrow at 3pm")
    later = datetime(2030, 1, 1, tzinfo=UTC)
    bare = {k: v for k, v in context.items() if k != "now"}
    script = lean.offline_script(messages, NAMES, bare, later, REGISTRY)
    # 2030-01-01 00:00 UTC is New Year's Eve in Los Angeles (the user's zone)
    assert script.calls[0].arguments["due"] == "2030-01-01T15:00:00-08:00"


def test_the_history_window_is_bounded_by_bytes_too() -> None:
    history = [{"role": "user", "text": "x" * 100}, {"role": "assistant", "text": "y" * 3000},
               {"role": "user", "text": "z" * 900}]  # fmt: skip
    assert core.recent_within(history, 4000) == history
    assert core.recent_within(history, 3999) == history[1:]
    assert core.recent_within(history, 899) == [{"role": "user", "text": "…" + "z" * 896}]
    wide = [{"role": "user", "text": "日本語" * 500}]  # 3 bytes a character
    cut = core.recent_within(wide, 1000)[0]["text"]
    assert len(cut.encode()) <= 1000 and cut.endswith("日本語") and len(cut) == 333
    state = busy_user()  # 40 short messages: the window keeps its 10
    turn = Turn(message_id="m", event_id="e", text="hi")
    budget = core.HISTORY_PROMPT_BYTES
    assert core.build_prompt(state, turn, "UTC", NOW, history_bytes=budget) == core.build_prompt(
        state, turn, "UTC", NOW
    )
    state.messages[-1] = state.messages[-1].model_copy(update={"text": "w" * 5000})
    bounded = core.build_prompt(state, turn, "UTC", NOW, history_bytes=budget)
    chat = [m for m in bounded if m["role"] in ("user", "assistant")][:-1]
    assert len(chat) == 1 and len(chat[0]["content"].encode()) == budget
