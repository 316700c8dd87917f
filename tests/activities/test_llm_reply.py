"""The LLM activity (``ActivityEnvironment``): heartbeats while the server is still silent,
cancellation during that wait, the finish_reason passed through, and heartbeats a few times
a second (not per token) that still carry every token of a failed attempt."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.llm_reply import BUS_RETRY_S, CHUNK_HEARTBEAT_S, LlmActivities
from mcos.infra.bus import MemoryBus
from mcos.infra.buses import make_bus
from mcos.kernel.contracts import LlmTurnInput
from mcos.kernel.frames import Frame
from mcos.llm.base import Chunk, LlmError, LlmRequest, TokenChunk, UsageChunk
from tests.support.tokens import token_indexes
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


class FastTokens:
    """Many tokens at once (the offline model at zero delay), then maybe a failure."""

    def __init__(self, count: int, fail: bool = False) -> None:
        self.count = count
        self.fail = fail

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        for _ in range(self.count):
            await asyncio.sleep(0)
            yield TokenChunk(text="tok ")
        if self.fail:
            raise LlmError("upstream went away", retryable=True)
        yield UsageChunk(prompt_tokens=1, completion_tokens=self.count)


def recording_env() -> tuple[ActivityEnvironment, list[Any]]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=15))
    details: list[Any] = []
    env.on_heartbeat = lambda *d: details.append(d[0] if d else None)
    return env, details


async def test_a_fast_stream_heartbeats_a_few_times_a_second_not_per_token() -> None:
    env, details = recording_env()
    started = time.monotonic()
    result = await env.run(
        LlmActivities(FastTokens(3000), make_bus("memory")).llm_reply, turn_input()
    )
    took = time.monotonic() - started
    assert result.tokens_streamed == 3000
    # at most one per CHUNK_HEARTBEAT_S (plus the first), never one per token
    assert 1 <= len(details) <= took / CHUNK_HEARTBEAT_S + 2
    assert len(details) < 3000


async def test_a_failed_attempt_heartbeats_exactly_what_it_streamed() -> None:
    env, details = recording_env()
    provider = FastTokens(500, fail=True)
    with pytest.raises(ApplicationError):
        await env.run(LlmActivities(provider, make_bus("memory")).llm_reply, turn_input())
    # the next attempt reads the last heartbeat: every streamed token is in it
    assert details[-1]["index"] == 500


class DownBus(MemoryBus):
    """A realtime bus that fails each publish after ``fail_s`` while ``down`` (a Redis
    outage: the client's retries take their time), and records what it took otherwise."""

    def __init__(self, fail_s: float) -> None:
        super().__init__()
        self.fail_s = fail_s
        self.down = True
        self.attempts = 0
        self.published: list[Frame] = []

    async def publish(self, user_id: str, frames: list[Frame]) -> list[Frame]:
        self.attempts += 1
        if self.down:
            await asyncio.sleep(self.fail_s)
            raise ConnectionError("redis is down")
        self.published += frames
        return await super().publish(user_id, frames)


class PacedTokens:
    """``count`` tokens ``every`` seconds apart, numbered."""

    def __init__(self, count: int, every: float) -> None:
        self.count, self.every = count, every

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        for i in range(self.count):
            if i:
                await asyncio.sleep(self.every)
            yield TokenChunk(text=f"t{i} ")
        yield UsageChunk(prompt_tokens=1, completion_tokens=self.count)


async def test_a_bus_outage_neither_fails_nor_stalls_the_stream() -> None:
    """2,000 tokens while every publish takes 0.3 s to fail: without skipping the bus the
    reply would take 10 minutes; it takes about a trial (0.3 s) a second."""
    bus = DownBus(fail_s=0.3)
    env, _ = recording_env()
    started = time.monotonic()
    result = await env.run(LlmActivities(FastTokens(2000), bus).llm_reply, turn_input())
    took = time.monotonic() - started
    assert result.status == "completed" and result.tokens_streamed == 2000
    assert result.text == "tok " * 2000
    assert not bus.published
    assert took < 3.0, took
    assert bus.attempts <= 2 + took / BUS_RETRY_S, bus.attempts  # the first, then a trial a second


async def test_the_stream_goes_back_on_the_bus_when_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("activities.llm_reply.BUS_RETRY_S", 0.1)
    bus = DownBus(fail_s=0.05)
    activities = LlmActivities(PacedTokens(60, every=0.01), bus)
    activities.bus_circuit.reset_after_s = 0.1
    env, _ = recording_env()

    async def recover() -> None:
        await eventually(lambda: bus.attempts >= 2, 10, 0.005)  # the first, then a trial
        bus.down = False

    recovering = asyncio.create_task(recover())
    result = await env.run(activities.llm_reply, turn_input())
    await recovering
    assert result.status == "completed" and result.tokens_streamed == 60
    indexes = token_indexes(f.data for f in bus.published if f.type == "llm.token")
    # a gap while the bus was down, then every token to the last, once, in order
    assert indexes and indexes[0] > 0, indexes
    assert indexes == list(range(indexes[0], 60)), indexes
    assert activities.skipped == 0 and activities.bus_circuit.failures == 0


async def test_a_fast_stream_goes_out_in_runs_of_tokens_a_paced_one_token_by_token() -> None:
    """The offline model at zero delay: 2,000 tokens in a few dozen frames, each token once
    and in order; a model at 30 ms a token (slower than the 16 ms window): a frame each."""
    fast_bus, paced_bus = MemoryBus(), MemoryBus()
    env, _ = recording_env()
    fast = await env.run(LlmActivities(FastTokens(2000), fast_bus).llm_reply, turn_input())
    paced = await env.run(
        LlmActivities(PacedTokens(12, every=0.03), paced_bus).llm_reply, turn_input()
    )
    fast_frames = [f.data for f in await fast_bus.replay("u1", None) if f.type == "llm.token"]
    assert token_indexes(fast_frames) == list(range(2000))
    assert "".join(d["text"] for d in fast_frames) == fast.text == "tok " * 2000
    assert len(fast_frames) < 200, len(fast_frames)
    paced_frames = [f.data for f in await paced_bus.replay("u1", None) if f.type == "llm.token"]
    assert [d["index"] for d in paced_frames] == list(range(12))
    assert all("count" not in d for d in paced_frames)
    assert paced.text == "".join(d["text"] for d in paced_frames)
