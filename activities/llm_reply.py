"""The LLM activity: streams tokens straight onto the realtime bus, returns the final text.

Tokens never enter Temporal history; only the result does. A retried attempt first
publishes ``llm.restarted`` so clients drop the failed attempt's partial text. A cancelled
generation returns what it has so far as ``interrupted``. The activity heartbeats on a
timer while the stream is open, not only per chunk: a server that is still evaluating a long
prompt (local llama.cpp, cold cache) sends nothing for a while, and that is not a dead
worker; the provider's own read timeout bounds a stalled server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from mcos.infra.bus import RealtimeBus
from mcos.infra.metrics import LLM_FAILURES, LLM_TOKENS, LLM_TTFT
from mcos.kernel.contracts import LlmTurnInput, LlmTurnResult, ToolCall
from mcos.kernel.errors import ErrorType
from mcos.kernel.frames import Frame
from mcos.llm.base import LlmError, LlmProvider, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk

log = structlog.get_logger(__name__)


class LlmActivities:
    def __init__(self, provider: LlmProvider, bus: RealtimeBus) -> None:
        self.provider = provider
        self.bus = bus

    @activity.defn(name="llm_reply")
    async def llm_reply(self, inp: LlmTurnInput) -> LlmTurnResult:
        attempt = activity.info().attempt
        structlog.contextvars.bind_contextvars(
            user_id=inp.user_id, operation_id=inp.operation_id, request_id=inp.request_id
        )
        if attempt > 1:
            await self.bus.publish(
                inp.user_id,
                [
                    Frame(
                        type="llm.restarted",
                        operation_id=inp.operation_id,
                        request_id=inp.request_id,
                        data={
                            "operation_id": inp.operation_id,
                            "attempt": attempt,
                            "from_index": inp.index_offset,
                        },
                    )
                ],
            )
        request = LlmRequest(
            messages=inp.messages, tools=inp.tools, context=inp.context, max_tokens=inp.max_tokens
        )
        parts: list[str] = []
        calls: list[ToolCall] = []
        usage = UsageChunk()
        index = inp.index_offset
        started = time.perf_counter()
        beating = asyncio.create_task(_heartbeat_until_cancelled(lambda: index))
        try:
            async for chunk in self.provider.stream(request):
                if isinstance(chunk, TokenChunk):
                    if not parts:
                        LLM_TTFT.observe(time.perf_counter() - started)
                    parts.append(chunk.text)
                    await self.bus.publish(
                        inp.user_id,
                        [
                            Frame(
                                type="llm.token",
                                operation_id=inp.operation_id,
                                request_id=inp.request_id,
                                data={
                                    "operation_id": inp.operation_id,
                                    "attempt": attempt,
                                    "index": index,
                                    "text": chunk.text,
                                },
                            )
                        ],
                    )
                    index += 1
                    activity.heartbeat(index)
                elif isinstance(chunk, ToolCallChunk):
                    calls.append(ToolCall(id=chunk.id, name=chunk.name, arguments=chunk.arguments))
                    activity.heartbeat(index)
                elif isinstance(chunk, UsageChunk):
                    usage = chunk
        except asyncio.CancelledError:
            log.info("generation interrupted", tokens=index - inp.index_offset)
            return self._result(
                parts, calls, usage, index - inp.index_offset, attempt, "interrupted"
            )
        except LlmError as exc:
            LLM_FAILURES.inc()
            log.warning(
                "llm failed", retryable=exc.retryable, status_code=exc.status_code, attempt=attempt
            )
            raise ApplicationError(
                str(exc),
                type=ErrorType.LLM_RETRYABLE if exc.retryable else ErrorType.LLM_PERMANENT,
                non_retryable=not exc.retryable,
            ) from exc
        finally:
            beating.cancel()
        LLM_TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
        LLM_TOKENS.labels(kind="completion").inc(usage.completion_tokens)
        return self._result(parts, calls, usage, index - inp.index_offset, attempt, "completed")

    @staticmethod
    def _result(parts, calls, usage, streamed, attempt, status) -> LlmTurnResult:  # noqa: ANN001
        return LlmTurnResult(
            text="".join(parts),
            tool_calls=calls,
            tokens_prompt=usage.prompt_tokens,
            tokens_completion=usage.completion_tokens or streamed,
            tokens_streamed=streamed,
            status=status,
            attempt=attempt,
            finish_reason=usage.finish_reason,
        )


async def _heartbeat_until_cancelled(progress: Callable[[], int]) -> None:
    """Heartbeat every third of the heartbeat timeout (0.5–10 s) until cancelled."""
    timeout = activity.info().heartbeat_timeout
    interval = min(10.0, max(0.5, timeout.total_seconds() / 3)) if timeout else 5.0
    while True:
        await asyncio.sleep(interval)
        activity.heartbeat(progress())
