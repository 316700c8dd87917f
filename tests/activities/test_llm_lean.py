"""The LLM activity's side of a lean call (v6, ``mcos.llm.lean``): references resolved
before the model and the clients see anything, the offline script streamed, a call packed
for another kind of model refused without a trace, the turn's archival riding along."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

import activities.llm_reply as llm_reply
from activities.llm_reply import LlmActivities
from mcos.infra.bus import MemoryBus
from mcos.kernel.contracts import LlmTurnInput, OfflineScript, ToolCall
from mcos.kernel.frames import Frame
from mcos.llm import lean
from mcos.llm.base import Chunk, LlmRequest, TokenChunk, UsageChunk
from mcos.llm.offline import OfflineProvider
from mcos.llm.prompt import SYSTEM_PROMPT

TEXT = "Remind me to call John\x07 tomorrow at 3pm"
MESSAGES = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {"role": "user", "content": "earlier"},
    {"role": "user", "content": "Remind me to call John tomorrow at 3pm"},
]


class Recording:
    """A real model's stand-in: records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[LlmRequest] = []

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        yield TokenChunk(text="Sure.")
        yield UsageChunk(prompt_tokens=10, completion_tokens=1)


def echo_frame() -> Frame:
    data = {"id": "msg_1", "role": "user", "text": TEXT}
    return Frame(type="message.created", key="seq:1", data=lean.ref_frame_text(data, TEXT))


def model_input(**extra: Any) -> LlmTurnInput:
    return LlmTurnInput(
        user_id="u1",
        operation_id="op_1",
        messages=lean.pack_messages(MESSAGES, TEXT),
        frames=[echo_frame()],
        user_text=TEXT,
        audience="model",
        **extra,
    )


async def published(bus: MemoryBus) -> list[Frame]:
    return await bus.replay("u1", None)


async def test_the_model_and_the_clients_get_the_text_the_references_name() -> None:
    bus, provider = MemoryBus(), Recording()
    result = await ActivityEnvironment().run(LlmActivities(provider, bus).llm_reply, model_input())
    assert result.text == "Sure." and result.needs_audience is None
    assert provider.requests[0].messages == MESSAGES
    frames = await published(bus)
    assert frames[0].type == "message.created" and frames[0].data["text"] == TEXT


async def test_a_call_packed_for_the_offline_model_is_refused_by_a_real_one() -> None:
    """The brain's settings said offline, this worker has a real model: it says so at
    once, publishing and billing nothing, and the brain asks again (workflow tests)."""
    bus, provider = MemoryBus(), Recording()
    inp = model_input().model_copy(
        update={"audience": "offline", "messages": [], "script": OfflineScript(text="Hi")}
    )
    result = await ActivityEnvironment().run(LlmActivities(provider, bus).llm_reply, inp)
    assert result.needs_audience == "model"
    assert not result.frames_published and result.billed_tokens == 0 and not result.text
    assert provider.requests == [] and await published(bus) == []
    # ... and the other way round: a prompt for a real model reaches an offline worker
    result = await ActivityEnvironment().run(
        LlmActivities(OfflineProvider(token_delay_ms=0), bus).llm_reply, model_input()
    )
    assert result.needs_audience == "offline" and await published(bus) == []


async def test_the_offline_script_is_streamed_as_is() -> None:
    bus = MemoryBus()
    call = ToolCall(id="call_1", name="create_task", arguments={"title": "Call John"})
    script = OfflineScript(text="On it. ", calls=[call], prompt_tokens=321)
    inp = LlmTurnInput(
        user_id="u1", operation_id="op_1", messages=[], audience="offline", script=script
    )
    acts = LlmActivities(OfflineProvider(token_delay_ms=0), bus)
    result = await ActivityEnvironment().run(acts.llm_reply, inp)
    assert (result.text, result.tool_calls, result.tokens_prompt) == ("On it. ", [call], 321)
    tokens = [f.data["text"] for f in await published(bus) if f.type == "llm.token"]
    assert "".join(tokens) == "On it. "


ROWS = [{"id": f"msg_{i}", "role": "user", "text": f"old {i}"} for i in range(3)]


async def test_the_oldest_messages_are_archived_while_the_model_answers() -> None:
    written: list[tuple[str, list[dict[str, Any]]]] = []

    async def archive(user_id: str, rows: list[dict[str, Any]]) -> int:
        written.append((user_id, rows))
        return len(rows)

    acts = LlmActivities(Recording(), MemoryBus(), archive=archive)
    result = await ActivityEnvironment().run(acts.llm_reply, model_input(archive=ROWS))
    assert written == [("u1", ROWS)]
    assert result.archived_ids == ["msg_0", "msg_1", "msg_2"] and result.text == "Sure."
    # nothing to archive: no write, no ids
    result = await ActivityEnvironment().run(acts.llm_reply, model_input())
    assert len(written) == 1 and result.archived_ids is None


@pytest.mark.parametrize("fault", ["error", "slow"])
async def test_a_failed_or_slow_archive_costs_only_the_archival(
    fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply stands; ``archived_ids`` stays unset, so the brain archives them itself."""
    monkeypatch.setattr(llm_reply, "ARCHIVE_TIMEOUT_S", 0.2)

    async def archive(user_id: str, rows: list[dict[str, Any]]) -> int:
        if fault == "error":
            raise ConnectionError("database is down")
        await asyncio.sleep(5)
        return len(rows)

    acts = LlmActivities(Recording(), MemoryBus(), archive=archive)
    result = await ActivityEnvironment().run(acts.llm_reply, model_input(archive=ROWS))
    assert result.text == "Sure." and result.archived_ids is None
