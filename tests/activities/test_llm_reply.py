"""The LLM activity (``ActivityEnvironment``): heartbeats while the server is still silent,
cancellation during that wait, and the finish_reason passed through."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.llm_reply import LlmActivities
from mcos.infra.buses import make_bus
from mcos.kernel.contracts import LlmTurnInput
from mcos.llm.base import Chunk, LlmRequest, TokenChunk, UsageChunk
from tests.support.wait import eventually

PREFILL_S = 2.0


class SlowFirstToken:
    """A provider whose first token comes only after a long prompt evaluation."""

    def __init__(self) -> None:
        self.first_token_at: float | None = None
        self.cancelled = False
        self.prefilling = False

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        self.prefilling = True
        try:
            await asyncio.sleep(PREFILL_S)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.first_token_at = time.monotonic()
        yield TokenChunk(text="Hi")
        yield UsageChunk(prompt_tokens=1500, completion_tokens=1, finish_reason="length")


def env_with(heartbeat_timeout_s: float) -> tuple[ActivityEnvironment, list[float]]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, heartbeat_timeout=timedelta(seconds=heartbeat_timeout_s)
    )
    beats: list[float] = []
    env.on_heartbeat = lambda *details: beats.append(time.monotonic())
    return env, beats


def turn_input() -> LlmTurnInput:
    return LlmTurnInput(
        user_id="u1", operation_id="op_1", messages=[{"role": "user", "content": "hi"}]
    )


async def test_heartbeats_keep_coming_while_waiting_for_the_first_token() -> None:
    provider = SlowFirstToken()
    env, beats = env_with(heartbeat_timeout_s=0.9)  # shorter than the prefill
    started = time.monotonic()
    result = await env.run(LlmActivities(provider, make_bus("memory")).llm_reply, turn_input())

    assert provider.first_token_at is not None
    before_first_token = [b for b in beats if b < provider.first_token_at]
    # Every 0.5 s (a third of the timeout, at least 0.5 s): no gap reaches the timeout.
    assert len(before_first_token) >= 3
    gaps = [b - a for a, b in zip([started, *before_first_token], before_first_token, strict=False)]
    assert max(gaps) < 0.9
    assert result.text == "Hi" and result.finish_reason == "length"
    assert result.tokens_prompt == 1500


async def test_cancel_while_waiting_for_the_first_token_interrupts() -> None:
    provider = SlowFirstToken()
    env, beats = env_with(heartbeat_timeout_s=0.9)
    task: asyncio.Task[Any] = asyncio.create_task(
        env.run(LlmActivities(provider, make_bus("memory")).llm_reply, turn_input())
    )
    await eventually(lambda: provider.prefilling and beats, what="a heartbeat in the prefill")
    env.cancel()
    result = await task
    assert provider.cancelled and provider.first_token_at is None
    assert result.status == "interrupted" and result.text == ""
