"""Any OpenAI-compatible chat-completions endpoint, streamed (Workers AI, Ollama, vLLM, Groq…).

Streaming and the JSON-in-text fallback: when the request offers tools, text is held back
while it could still be a tool call written as text (it starts, after whitespace, with
``{``, ``[``, a ```/```json fence or ``<|python_tag|>``; see
:func:`llm.tools.could_be_tool_call_text`). As soon as the text can no longer be one, the
held text is released and the rest streams as it comes. Held text is parsed at the end of
the stream: valid calls to offered tools become :class:`ToolCallChunk` and the text is
dropped; otherwise it is released as one token. So ordinary prose streams token by token;
a reply that *starts* like JSON or a fence (e.g. a code answer) arrives all at once at the
end. Native ``tool_calls`` deltas are accumulated per index and yielded complete once the
stream ends; text next to native tool calls is streamed as usual.

Timeouts: ``llm_timeout_s`` applies to connecting and to every read, so a stream that
stalls longer than that fails (retryable) while a slow but steady stream completes; the
activity's heartbeat timeout bounds the whole call. The SDK does not retry
(``max_retries=0``): retries belong to Temporal.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

from mcos.llm.base import Chunk, LlmError, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.tools import could_be_tool_call_text, parse_tool_calls_from_text, tool_call_id

if TYPE_CHECKING:
    from mcos.kernel.settings import Settings

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def map_error(exc: BaseException) -> LlmError:
    """The :class:`LlmError` for an SDK/transport failure."""
    if isinstance(exc, LlmError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        return LlmError(f"LLM endpoint answered {status}: {exc.message}", retryable=retryable,
                        status_code=status)  # fmt: skip
    if isinstance(exc, openai.APITimeoutError):
        return LlmError("LLM request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LlmError(f"LLM endpoint unreachable: {exc}", retryable=True)
    if isinstance(exc, TimeoutError):
        return LlmError("LLM request timed out", retryable=True)
    # Errors inside the stream (SSE error events, malformed chunks, dropped connections).
    return LlmError(f"LLM stream failed: {type(exc).__name__}: {exc}", retryable=True)


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


class OpenAIProvider:
    def __init__(self, settings: Settings, *, client: openai.AsyncOpenAI | None = None) -> None:
        self.settings = settings
        self.client = client or openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",  # Ollama/vLLM accept any key
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    def request_kwargs(self, request: LlmRequest) -> dict[str, Any]:
        """The chat-completions arguments for ``request`` (request values over settings)."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": s.llm_model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": s.llm_temperature
            if request.temperature is None
            else request.temperature,
            "top_p": s.llm_top_p if request.top_p is None else request.top_p,
            "max_tokens": s.llm_max_tokens if request.max_tokens is None else request.max_tokens,
        }
        if request.tools:
            kwargs["tools"] = request.tools
        return kwargs

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        offered = {t.get("function", {}).get("name") for t in request.tools}
        held: str | None = "" if request.tools else None  # None: not holding text back
        text_parts: list[str] = []
        calls: dict[int, _PartialCall] = {}
        usage: UsageChunk | None = None
        try:
            response = await self.client.chat.completions.create(**self.request_kwargs(request))
            try:
                async for chunk in response:
                    if chunk.usage is not None:
                        usage = UsageChunk(
                            prompt_tokens=chunk.usage.prompt_tokens or 0,
                            completion_tokens=chunk.usage.completion_tokens or 0,
                        )
                    for choice in chunk.choices or []:
                        delta = choice.delta
                        if delta is None:
                            continue
                        for tc in delta.tool_calls or []:
                            _accumulate(calls, tc)
                        text = delta.content
                        if not text:
                            continue
                        text_parts.append(text)
                        if held is None:
                            yield TokenChunk(text=text)
                            continue
                        held += text
                        if not could_be_tool_call_text(held):
                            yield TokenChunk(text=held)
                            held = None
            finally:
                await response.close()
        except LlmError:
            raise
        except Exception as exc:  # mapped once, here
            raise map_error(exc) from exc

        if calls:
            for call in _complete_calls(calls):
                yield call
            if held:
                yield TokenChunk(text=held)
        elif held:
            parsed = parse_tool_calls_from_text(held)
            if parsed and all(c.name in offered for c in parsed):
                for call in parsed:
                    yield call
            else:
                yield TokenChunk(text=held)
        yield usage or UsageChunk(
            prompt_tokens=_estimate(json.dumps(request.messages)),
            completion_tokens=_estimate("".join(text_parts)),
        )


def _accumulate(calls: dict[int, _PartialCall], tc: Any) -> None:
    index = tc.index if isinstance(tc.index, int) else None
    if index is None:  # some servers omit the index: a new id starts a new call
        if tc.id and all(c.id != tc.id for c in calls.values()):
            index = len(calls)
        else:
            index = max(calls) if calls else 0
    partial = calls.setdefault(index, _PartialCall())
    if tc.id:
        partial.id = tc.id
    fn = tc.function
    if fn is None:
        return
    if fn.name:
        partial.name += fn.name if partial.name != fn.name else ""
    if fn.arguments:
        if isinstance(fn.arguments, dict):  # non-standard servers send an object
            partial.arguments = json.dumps(fn.arguments)
        else:
            partial.arguments += fn.arguments


def _complete_calls(calls: dict[int, _PartialCall]) -> list[ToolCallChunk]:
    out = []
    for position, index in enumerate(sorted(calls)):
        partial = calls[index]
        if not partial.name:
            raise LlmError("the model sent a tool call without a name", retryable=True)
        try:
            arguments = json.loads(partial.arguments) if partial.arguments.strip() else {}
        except ValueError:
            raise LlmError(
                f"the model sent malformed arguments for {partial.name}", retryable=True
            ) from None
        if not isinstance(arguments, dict):
            raise LlmError(
                f"the model sent non-object arguments for {partial.name}", retryable=True
            )
        out.append(
            ToolCallChunk(
                id=partial.id or tool_call_id(partial.name, arguments, position),
                name=partial.name,
                arguments=arguments,
            )
        )
    return out


def _estimate(text: str) -> int:
    """Rough token count (≈ 4 characters a token) for servers that report no usage."""
    return (len(text) + 3) // 4
