"""LLM providers for tests: scripted failures on top of the real offline model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from mcos.llm.base import Chunk, LlmError, LlmRequest, TokenChunk
from mcos.llm.offline import OfflineProvider


class FlakyProvider:
    """Streams ``fail_after`` tokens and then fails, for the first ``failures`` calls."""

    scripted = True  # the offline model underneath streams the brain's script (mcos.llm.lean)

    def __init__(self, failures: int, fail_after: int = 3, delay_ms: float = 5) -> None:
        self.failures = failures
        self.fail_after = fail_after
        self.calls = 0
        self.inner = OfflineProvider(token_delay_ms=delay_ms)

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        self.calls += 1
        failing = self.calls <= self.failures
        sent = 0
        async for chunk in self.inner.stream(request):
            if failing and isinstance(chunk, TokenChunk) and sent == self.fail_after:
                raise LlmError("upstream 503", retryable=True, status_code=503)
            sent += isinstance(chunk, TokenChunk)
            yield chunk


class SlowProvider(OfflineProvider):
    """The offline model at a slow pace, with a long answer: time to cancel or drop."""

    def __init__(self, delay_ms: float = 40) -> None:
        super().__init__(token_delay_ms=delay_ms)

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        async for chunk in super().stream(request):
            yield chunk
        await asyncio.sleep(0)
