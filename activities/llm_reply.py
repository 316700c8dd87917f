"""The LLM activity: streams tokens straight onto the realtime bus, returns the final text.

Tokens never enter Temporal history; only the result does. A retried attempt first
publishes ``llm.restarted`` so clients drop the failed attempt's partial text. A cancelled
generation returns what it has so far as ``interrupted``; one cut by the worker's own
shutdown (past its grace period) fails retryably instead, so the next worker answers again.

It also carries the brain's frames both ways, so a plain turn needs no publish activity:
frames the brain hands in (the user's message) go out before the first token, and when the
answer is final the reply's ``message.created``/``message.completed`` go out at once, built
from the brain's draft exactly as the brain would build them. A bus that cannot be reached
costs only those frames (the brain publishes them later); the reply is still returned.
Nor does it stall the stream: after a failed publish the bus is skipped (a circuit breaker,
shared by the worker's streams) and tried again once a second within 0.5 s, so a reply
streaming through a Redis outage goes on at about its own pace and is recorded.
Tokens billed (failed attempts included, carried in heartbeats) come back for the budget.

Since v6 (``mcos.llm.lean``) the input carries what this call needs: the offline model's
answer, which the brain worked out, or a real model's prompt with references the activity
resolves (the system prompt, the user's text, also in the echo frame); a call packed for
the other kind of model than this worker's is refused at once (``needs_audience``). The
turn's oldest messages may ride along: they are written to the SQL archive while the
model answers (``archived_ids``; a failed or slow write leaves them to the brain).

The activity heartbeats on a timer while the stream is open, not only per chunk: a server
that is still evaluating a long prompt (local llama.cpp, cold cache) sends nothing for a
while, and that is not a dead worker; the provider's own read timeout bounds a stalled
server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from mcos.brain.frames import message_frames, reply_message, reply_outcome
from mcos.infra import tracing
from mcos.infra.bus import RealtimeBus
from mcos.infra.circuit import CircuitBreaker
from mcos.infra.metrics import LLM_FAILURES, LLM_TOKENS, LLM_TTFT, frames_published
from mcos.infra.tokens import TokenPublisher
from mcos.kernel.contracts import LlmTurnInput, LlmTurnResult, ToolCall
from mcos.kernel.errors import ErrorType
from mcos.kernel.frames import Frame
from mcos.llm.base import LlmError, LlmProvider, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.lean import Audience, resolve_frame_text, unpack_messages
from mcos.llm.offline import OfflineProvider
from mcos.llm.openai_provider import estimate_tokens
from mcos.llm.tools import tools_digest
from mcos.skills import core as skills

log = structlog.get_logger(__name__)
CHUNK_HEARTBEAT_S = 0.2  # well under the SDK's 1 s heartbeat throttle (worker.py)
ARCHIVE_TIMEOUT_S = 5.0  # archival riding with the call: then the brain archives them itself
Archiver = Callable[[str, list[dict[str, Any]]], Coroutine[Any, Any, int]]


def audience_of(provider: LlmProvider) -> Audience:
    """What this provider reads (``mcos.llm.lean``): the brain's offline script or a prompt."""
    return "offline" if getattr(provider, "scripted", False) else "model"


BUS_RETRY_S = 1.0  # a failed publish: the bus is skipped this long, then tried once
BUS_TRIAL_S = 0.5  # that trial's bound (a partitioned Redis would take its connect timeouts)


def resolve_tools(names: Sequence[str], digest: str | None) -> list[dict[str, Any]]:
    """The tool schemas the workflow named, from this worker's registry; a digest that does
    not match (the workflow's code offers other tools) fails the call, not retried."""
    if not names:
        return []
    by_name = {t["function"]["name"]: t for t in skills.tool_schemas()}
    missing = [n for n in names if n not in by_name]
    tools = [by_name[n] for n in names if n in by_name]
    if missing or tools_digest(tools) != digest:
        raise ApplicationError(
            f"tool definitions differ from the workflow's (missing: {missing or 'none'})",
            type=ErrorType.LLM_PERMANENT,
            non_retryable=True,
        )
    return tools


class LlmActivities:
    def __init__(
        self,
        provider: LlmProvider,
        bus: RealtimeBus,
        offline: LlmProvider | None = None,
        archive: Archiver | None = None,
    ) -> None:
        self.provider = provider
        self.bus = bus
        self.offline = offline or OfflineProvider(token_delay_ms=0)
        self.archive = archive  # writes messages to the SQL archive (idempotent)
        self.bus_circuit = CircuitBreaker(failure_threshold=1, reset_after_s=BUS_RETRY_S)
        self.skipped = 0  # frames not tried while the bus was failing

    async def _publish(self, user_id: str, frames: list[Frame], name: str = "") -> bool:
        """Best effort: False when the frames did not go out (a bus outage must neither
        fail the turn nor stall its stream). ``name``: the span it gets when tracing
        (tokens get none).

        After a failure the bus is skipped for ``BUS_RETRY_S``; then the next frames are
        tried, within ``BUS_TRIAL_S``. Skipped frames are lost to the bus (tokens), or
        published later by the brain (its frames, which it deduplicates)."""
        if not frames:
            return True
        circuit = self.bus_circuit
        if circuit.is_open:
            self.skipped += len(frames)
            return False
        trial = circuit.failures > 0
        try:
            kinds = ",".join(dict.fromkeys(f.type for f in frames))
            attributes = {"mcos.user_id": user_id, "mcos.frames": kinds}
            with tracing.span(name, attributes) if name else contextlib.nullcontext():
                async with asyncio.timeout(BUS_TRIAL_S if trial else None):
                    frames_published(await self.bus.publish(user_id, frames))
        except Exception as exc:  # noqa: BLE001 - a bus outage must not fail the turn
            circuit.record_failure()
            if trial:
                self.skipped += len(frames)
            else:
                error = str(exc)[:200] or type(exc).__name__
                log.warning("frames not published; the bus is skipped for a while",
                            error=error, frames=len(frames))  # fmt: skip
            return False
        if trial:
            log.info("frames published again", skipped=self.skipped)
            self.skipped = 0
        circuit.record_success()
        return True

    @activity.defn(name="llm_reply")
    async def llm_reply(self, inp: LlmTurnInput) -> LlmTurnResult:
        structlog.contextvars.bind_contextvars(
            user_id=inp.user_id, operation_id=inp.operation_id, request_id=inp.request_id
        )
        provider = self.offline if inp.offline else self.provider
        if inp.audience is not None and inp.audience != audience_of(provider):
            # The brain packed the prompt for another kind of model (its settings changed
            # since it started): nothing published or billed, it asks again (v6).
            log.info("prompt packed for another model", audience=inp.audience)
            return LlmTurnResult(needs_audience=audience_of(provider), frames_published=False)
        try:
            messages = unpack_messages(inp.messages, inp.user_text)
        except ValueError as exc:
            raise ApplicationError(
                str(exc), type=ErrorType.LLM_PERMANENT, non_retryable=True
            ) from None
        archiving = self._start_archive(inp)
        try:
            result = await self._reply(inp, provider, messages)
        except BaseException:
            if archiving is not None:
                archiving.cancel()
            raise
        if await _archived(archiving):
            result.archived_ids = [m["id"] for m in inp.archive]
        return result

    def _start_archive(self, inp: LlmTurnInput) -> asyncio.Task[int] | None:
        """The messages the brain sends to the archive with this call (v6), written while
        the model answers."""
        if not inp.archive or self.archive is None:
            return None
        return asyncio.create_task(self.archive(inp.user_id, inp.archive))

    async def _reply(
        self,
        inp: LlmTurnInput,
        provider: LlmProvider,
        messages: list[dict[str, Any]],
    ) -> LlmTurnResult:
        attempt = activity.info().attempt
        frames = inp.frames
        if inp.user_text is not None:
            frames = [
                f.model_copy(update={"data": resolve_frame_text(f.data, inp.user_text)})
                for f in frames
            ]
        frames_published = await self._publish(inp.user_id, frames, "publish frames")
        billable = getattr(provider, "billable", True)
        billed = _billed_before(activity.info().heartbeat_details) if billable else 0
        if attempt > 1:
            await self._publish(
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
        tools = inp.tools or resolve_tools(inp.tool_names, inp.tools_digest)
        request = LlmRequest(
            messages=messages,
            tools=tools,
            context=inp.context,
            max_tokens=inp.max_tokens,
            script=inp.script,
        )
        parts: list[str] = []
        calls: list[ToolCall] = []
        usage = UsageChunk()
        index = inp.index_offset
        started = time.perf_counter()
        prompt_estimate = estimate_tokens(messages, tools) if billable else 0

        def progress() -> dict[str, int]:
            # what this attempt has cost so far, should it fail: the prompt and the tokens
            return {"index": index, "billed": billed + prompt_estimate + (index - inp.index_offset)}

        def token_frame(data: dict[str, object]) -> Frame:
            return Frame(
                type="llm.token",
                operation_id=inp.operation_id,
                request_id=inp.request_id,
                data={"operation_id": inp.operation_id, "attempt": attempt, **data},
            )

        # Tokens go out batched when they come faster than a display frame (mcos.infra.tokens).
        tokens = TokenPublisher(lambda frames: self._publish(inp.user_id, frames), token_frame)
        beat_at = 0.0  # when a chunk last heartbeated (monotonic)
        beating = asyncio.create_task(_heartbeat_until_cancelled(progress))
        try:
            async for chunk in provider.stream(request):
                if isinstance(chunk, TokenChunk):
                    if not parts:
                        LLM_TTFT.observe(time.perf_counter() - started)
                    parts.append(chunk.text)
                    tokens.add(index, chunk.text)
                    index += 1
                    beat_at = _beat_if_due(beat_at, progress)
                elif isinstance(chunk, ToolCallChunk):
                    calls.append(ToolCall(id=chunk.id, name=chunk.name, arguments=chunk.arguments))
                    beat_at = _beat_if_due(beat_at, progress)
                elif isinstance(chunk, UsageChunk):
                    usage = chunk
        except asyncio.CancelledError:
            if _cut_by_shutdown():
                # Cut by this worker's shutdown (a deploy), not by the user: fail retryably
                # so another worker answers in full (clients get `llm.restarted`).
                log.info("generation cut by worker shutdown", tokens=index - inp.index_offset,
                         reason=str(activity.cancellation_details()))  # fmt: skip
                raise ApplicationError(
                    "the worker shut down mid-generation",
                    {"billed_tokens": progress()["billed"], "finish_reason": None},
                    type=ErrorType.WORKER_SHUTDOWN,
                    category=ApplicationErrorCategory.BENIGN,  # expected in a deploy: no traceback
                ) from None
            log.info("generation interrupted", tokens=index - inp.index_offset)
            status: Literal["completed", "interrupted"] = "interrupted"
        except LlmError as exc:
            activity.heartbeat(progress())  # exact for the next attempt (chunks beat ~5/s)
            LLM_FAILURES.inc()
            log.warning(
                "llm failed", retryable=exc.retryable, status_code=exc.status_code, attempt=attempt
            )
            raise ApplicationError(
                str(exc),
                {"billed_tokens": progress()["billed"], "finish_reason": exc.finish_reason},
                type=ErrorType.LLM_RETRYABLE if exc.retryable else ErrorType.LLM_PERMANENT,
                non_retryable=not exc.retryable,
            ) from exc
        else:
            status = "completed"
            LLM_TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
            LLM_TOKENS.labels(kind="completion").inc(usage.completion_tokens)
        finally:
            beating.cancel()
            await tokens.close()  # every token of this attempt is out before its result
        streamed = index - inp.index_offset
        result = LlmTurnResult(
            text="".join(parts),
            tool_calls=calls,
            tokens_prompt=usage.prompt_tokens,
            tokens_completion=usage.completion_tokens or streamed,
            tokens_streamed=streamed,
            status=status,
            attempt=attempt,
            finish_reason=usage.finish_reason,
            frames_published=frames_published,
        )
        if billable:
            spent = result.tokens_prompt + result.tokens_completion
            result.billed_tokens = billed + (spent or prompt_estimate + streamed)
        if inp.reply is not None and not calls:
            await self._publish_reply(inp, result)
        return result

    async def _publish_reply(self, inp: LlmTurnInput, result: LlmTurnResult) -> None:
        """The final answer's frames, as the brain will record it (see ReplyDraft)."""
        draft = inp.reply
        assert draft is not None
        text, status = reply_outcome(
            draft.text_prefix, result.text, result.status, result.finish_reason
        )
        finished_at = datetime.now(UTC)
        message = reply_message(
            draft,
            text,
            status,
            finished_at,
            inp.operation_id,
            draft.tokens_prompt + result.tokens_prompt,
            draft.tokens_completion + result.tokens_completion,
        )
        frames = [
            # no seq: the brain assigns it when it records the reply (clients get it then)
            f.model_copy(
                update={"seq": None, "data": {k: v for k, v in f.data.items() if k != "seq"}}
            )
            for f in message_frames(
                message, draft.branch, inp.request_id, f"msg:{draft.message_id}"
            )
        ]
        if await self._publish(inp.user_id, frames, "publish reply"):
            result.reply_published = True
            result.finished_at = finished_at


async def _archived(archiving: asyncio.Task[int] | None) -> bool:
    """Whether the archive write is done; not if it failed or took too long (the brain then
    archives those messages by its own activity)."""
    if archiving is None:
        return False
    try:
        await asyncio.wait_for(archiving, ARCHIVE_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - the reply stands; archival is retried later
        log.warning("archival with the reply failed", error=str(exc)[:200] or type(exc).__name__)
        return False
    return True


def _beat_if_due(last: float, progress: Callable[[], dict[str, int]]) -> float:
    """Heartbeat for a chunk at most every ``CHUNK_HEARTBEAT_S``. Each heartbeat encodes its
    details and crosses into the SDK core, which sends at most one a second anyway: per
    token it was a fifth of the worker's CPU under load. Returns when it last beat."""
    now = time.monotonic()
    if now - last < CHUNK_HEARTBEAT_S:
        return last
    activity.heartbeat(progress())
    return now


def _cut_by_shutdown() -> bool:
    """This cancellation is not a user's cancel: the worker shutting down, or the server
    no longer knowing this attempt (heartbeat timed out, not found, e.g. after a Temporal
    restart under load). Then the attempt fails retryably instead of ``interrupted``."""
    details = activity.cancellation_details()
    if details is not None and details.cancel_requested:
        return False  # the user (the brain) asked, even if a shutdown is also under way
    if details is not None and (details.worker_shutdown or details.timed_out
                                or details.not_found):  # fmt: skip
        return True
    return activity.is_worker_shutdown()


def _billed_before(details: Sequence[Any]) -> int:
    """Tokens the earlier, failed attempts of this call billed (from their heartbeats)."""
    last = details[0] if details else None
    return int(last.get("billed", 0)) if isinstance(last, dict) else 0


async def _heartbeat_until_cancelled(progress: Callable[[], dict[str, int]]) -> None:
    """Heartbeat every third of the heartbeat timeout (0.5–10 s) until cancelled."""
    timeout = activity.info().heartbeat_timeout
    interval = min(10.0, max(0.5, timeout.total_seconds() / 3)) if timeout else 5.0
    while True:
        await asyncio.sleep(interval)
        activity.heartbeat(progress())
