"""Any OpenAI-compatible chat-completions endpoint, streamed (Workers AI, Ollama, vLLM, Groq,
the local llama.cpp server…), made robust against what real servers do.

Streaming and the JSON-in-text fallback: when the request offers tools, text that is or may
become a tool call written as text is held back (:class:`mcos.llm.tools.ToolTextFilter`): a
reply that *starts* like one (``{``, ``[``, a ```/```json fence, ``<|python_tag|>``,
``<tool_call>``/``<tools>``…) is held whole, and in prose everything from such a marker on.
Held text is parsed leniently at the end of the stream: valid calls to offered tools become
:class:`ToolCallChunk`; text that is clearly a (broken) tool call is an error, never shown;
anything else is released as one token. So ordinary prose streams token by token. Native
``tool_calls`` deltas are accumulated per index and yielded complete once the stream ends.

Real servers, and what is done about them:

- Message shapes are normalised before sending (:func:`normalize_messages`): an assistant
  message with ``tool_calls`` gets ``content: ""`` instead of ``null`` (some chat templates
  fail on ``null`` with HTTP 500), arguments are JSON strings, tool results are strings.
- A stream must end with a ``finish_reason``: one that stops without it (a 200 whose stream
  dies, e.g. on over-context) is a retryable :class:`LlmError`, and so is an empty reply.
- Malformed native tool-call arguments are retryable, except when the server stopped at
  ``max_tokens`` (``finish_reason: length``): the same request would be cut the same way,
  so that is not retried (``retryable=False``).
- HTTP 4xx other than 408/409/425/429 is permanent; so is a 5xx whose message says the
  server could not apply its chat template to the request (the same shape fails the same
  way). Other 5xx, timeouts and dropped connections are retryable.
- Usage comes from the server (``stream_options.include_usage``). When a server reports
  none it is estimated: by the server's own tokenizer when it has one (llama.cpp's
  ``/apply-template`` + ``/tokenize``), else by :func:`estimate_tokens` (documented there).
- The final :class:`UsageChunk` carries ``finish_reason`` (``stop``/``length``/
  ``tool_calls``/``content_filter``).

Timeouts: ``llm_timeout_s`` applies to connecting and to every read, so a stream that
stalls longer than that fails (retryable) while a slow but steady stream completes; the
activity heartbeats on its own while it waits. The SDK does not retry (``max_retries=0``):
retries belong to Temporal.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx

from mcos.infra.tls import client_tls
from mcos.llm.base import (
    Chunk,
    FinishReason,
    LlmError,
    LlmRequest,
    TokenChunk,
    ToolCallChunk,
    UsageChunk,
)
from mcos.llm.tools import (
    ToolTextFilter,
    looks_like_tool_call,
    parse_tool_calls_from_text,
    tool_call_id,
)

if TYPE_CHECKING:
    import openai

    from mcos.kernel.settings import Settings

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
FINISH_REASONS: frozenset[str] = frozenset({"stop", "length", "tool_calls", "content_filter"})
# A 5xx with one of these in its message is the server failing on the request's shape (its
# chat template or request parser), which a retry of the same request cannot fix.
_SHAPE_ERROR_RE = re.compile(
    r"jinja|chat template|template|unsupported (param|value|role)|invalid (request|message)|"
    r"failed to (apply|parse) (the )?(chat|request|messages)",
    re.IGNORECASE,
)


def map_error(exc: BaseException) -> LlmError:
    """The :class:`LlmError` for an SDK/transport failure."""
    if isinstance(exc, LlmError):
        return exc
    import openai  # noqa: PLC0415 - see OpenAIProvider.__init__

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        if status >= 500 and _SHAPE_ERROR_RE.search(exc.message or ""):
            retryable = False
        return LlmError(f"LLM endpoint answered {status}: {exc.message}", retryable=retryable,
                        status_code=status)  # fmt: skip
    if isinstance(exc, openai.APITimeoutError):
        return LlmError("LLM request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return LlmError(f"LLM endpoint unreachable: {exc}", retryable=True)
    if isinstance(exc, TimeoutError):
        return LlmError("LLM request timed out", retryable=True)
    if isinstance(exc, openai.APIError):  # an error event inside the SSE stream
        message = str(getattr(exc, "message", "") or exc)
        return LlmError(
            f"LLM stream failed: {message}", retryable=not _SHAPE_ERROR_RE.search(message)
        )
    # Malformed chunks, dropped connections inside the stream.
    return LlmError(f"LLM stream failed: {type(exc).__name__}: {exc}", retryable=True)


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` in the shape every server tried accepts (see the module docstring)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        m = {k: v for k, v in message.items() if v is not None or k == "content"}
        role = m.get("role")
        if m.get("content") is None:
            m["content"] = ""
        elif role == "tool" and not isinstance(m["content"], str):
            m["content"] = json.dumps(m["content"], default=str)
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                call = dict(call)
                fn = dict(call.get("function") or {})
                if not isinstance(fn.get("arguments"), str):
                    fn["arguments"] = json.dumps(fn.get("arguments") or {})
                call["function"] = fn
                call.setdefault("type", "function")
                calls.append(call)
            m["tool_calls"] = calls
        elif "tool_calls" in m and not m["tool_calls"]:
            del m["tool_calls"]  # an empty list is refused by some servers
        out.append(m)
    return out


# --- token counting -------------------------------------------------------------------------

_CHARS_PER_TOKEN_TEXT = 4.0
_CHARS_PER_TOKEN_JSON = 3.0
_TOKENS_PER_MESSAGE = 4


def estimate_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """A tokenizer-free estimate of the prompt's tokens, for servers that report no usage.

    Prose ≈ 4 characters a token, JSON (tool schemas, tool-call arguments, tool results)
    ≈ 3, plus 4 tokens of chat-template framing per message. Measured against llama.cpp's
    tokenizer on this project's prompts it lands within about 20 %; servers with their
    own tokenizer (the local one) are counted exactly instead.
    """
    text_chars = json_chars = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            if m.get("role") == "tool":
                json_chars += len(content)
            else:
                text_chars += len(content)
        elif content is not None:
            json_chars += len(json.dumps(content))
        for call in m.get("tool_calls") or []:
            json_chars += len(json.dumps(call))
    if tools:
        json_chars += len(json.dumps(tools))
    return round(
        text_chars / _CHARS_PER_TOKEN_TEXT
        + json_chars / _CHARS_PER_TOKEN_JSON
        + _TOKENS_PER_MESSAGE * len(messages)
    )


def estimate_text_tokens(text: str) -> int:
    return round(len(text) / _CHARS_PER_TOKEN_TEXT)


class Tokenizer(Protocol):
    """A server-side tokenizer: exact counts for the model that answered."""

    async def count_prompt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> int: ...

    async def count_text(self, text: str) -> int: ...


class LlamaCppTokenizer:
    """llama.cpp's own endpoints: ``/apply-template`` renders the prompt, ``/tokenize``."""

    def __init__(self, root_url: str, timeout_s: float = 10.0) -> None:
        self.root_url = root_url.rstrip("/")
        self.timeout_s = timeout_s

    async def _tokens(self, http: httpx.AsyncClient, content: str) -> int:
        r = await http.post(f"{self.root_url}/tokenize", json={"content": content})
        r.raise_for_status()
        return len(r.json()["tokens"])

    async def count_prompt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> int:
        body: dict[str, Any] = {"messages": messages}
        if tools:
            body["tools"] = tools
        async with httpx.AsyncClient(timeout=self.timeout_s, verify=client_tls()) as http:
            r = await http.post(f"{self.root_url}/apply-template", json=body)
            r.raise_for_status()
            return await self._tokens(http, r.json()["prompt"])

    async def count_text(self, text: str) -> int:
        async with httpx.AsyncClient(timeout=self.timeout_s, verify=client_tls()) as http:
            return await self._tokens(http, text)


# --- the provider -----------------------------------------------------------------------------


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


class OpenAIProvider:
    billable = True  # a hosted endpoint bills every token (the local llama.cpp server: not)

    def __init__(
        self,
        settings: Settings,
        *,
        client: openai.AsyncOpenAI | None = None,
        base_url: str | None = None,
        model: str | None = None,
        tokenizer: Tokenizer | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.model = model or settings.llm_model
        self.tokenizer = tokenizer
        self.extra_body = extra_body or {}
        # Imported here, not at the top: the SDK builds ~650 pydantic models on import (~0.5 s
        # of CPU), which a worker or API on the offline model never needs.
        import openai  # noqa: PLC0415

        self.client = client or openai.AsyncOpenAI(
            base_url=base_url or settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",  # Ollama/vLLM accept any key
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    @classmethod
    def for_local_server(cls, settings: Settings) -> OpenAIProvider:
        """The client for the local llama.cpp server at ``settings.llm_local_url``."""
        root = (settings.llm_local_url or "").rstrip("/")
        return cls(
            settings,
            base_url=f"{root}/v1",
            model=settings.llm_local_model_alias,
            tokenizer=LlamaCppTokenizer(root),
            extra_body={"cache_prompt": True},  # reuse the KV cache of the common prefix
        )

    def request_kwargs(self, request: LlmRequest) -> dict[str, Any]:
        """The chat-completions arguments for ``request`` (request values over settings)."""
        s = self.settings
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": normalize_messages(request.messages),
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
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        offered = frozenset(t.get("function", {}).get("name") for t in request.tools)
        text_filter = ToolTextFilter() if request.tools else None
        text_parts: list[str] = []
        shown = False
        calls: dict[int, _PartialCall] = {}
        usage: tuple[int, int] | None = None
        finish: str | None = None
        try:
            response = await self.client.chat.completions.create(**self.request_kwargs(request))
            try:
                async for chunk in response:
                    if chunk.usage is not None:
                        usage = (chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                    for choice in chunk.choices or []:
                        if choice.finish_reason:
                            finish = choice.finish_reason
                        delta = choice.delta
                        if delta is None:
                            continue
                        for tc in delta.tool_calls or []:
                            _accumulate(calls, tc)
                        text = delta.content
                        if not text:
                            continue
                        text_parts.append(text)
                        visible = text_filter.feed(text) if text_filter else text
                        if visible:
                            shown = True
                            yield TokenChunk(text=visible)
            finally:
                await response.close()
        except LlmError:
            raise
        except Exception as exc:  # mapped once, here
            raise map_error(exc) from exc

        if finish is None:
            raise LlmError("the LLM stream ended without a finish_reason (cut off)", retryable=True)
        finish_reason = cast(FinishReason, finish if finish in FINISH_REASONS else "stop")
        complete = _complete_calls(calls, finish_reason) if calls else []
        text_calls: list[ToolCallChunk] = []
        if text_filter is not None:
            visible, held = text_filter.finish()
            if visible:
                shown = True
                yield TokenChunk(text=visible)
            if held.strip():
                parsed = None if complete else parse_tool_calls_from_text(held)
                if parsed and all(c.name in offered for c in parsed):
                    text_calls = parsed
                elif looks_like_tool_call(held, offered):
                    if not complete:
                        raise LlmError(
                            "the model wrote a tool call that could not be parsed"
                            + (" (cut at max_tokens)" if finish_reason == "length" else ""),
                            retryable=finish_reason != "length",
                            finish_reason=finish_reason,
                        )
                    # Native calls plus their echo as text: the echo is dropped.
                else:
                    shown = True
                    yield TokenChunk(text=held)
        for call in complete or text_calls:
            yield call
        if not shown and not complete and not text_calls and finish_reason != "content_filter":
            raise LlmError(
                f"the LLM sent an empty reply (finish_reason {finish_reason})",
                retryable=True,
                finish_reason=finish_reason,
            )
        if usage is not None:
            yield UsageChunk(
                prompt_tokens=usage[0], completion_tokens=usage[1], finish_reason=finish_reason
            )
        else:
            prompt, completion = await self._estimate(request, "".join(text_parts))
            yield UsageChunk(
                prompt_tokens=prompt,
                completion_tokens=completion,
                finish_reason=finish_reason,
                estimated=True,
            )

    async def _estimate(self, request: LlmRequest, completion: str) -> tuple[int, int]:
        messages = normalize_messages(request.messages)
        if self.tokenizer is not None:
            try:
                return (
                    await self.tokenizer.count_prompt(messages, request.tools),
                    await self.tokenizer.count_text(completion),
                )
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # the estimate below is good enough for the budget
        return estimate_tokens(messages, request.tools), estimate_text_tokens(completion)


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


def _complete_calls(calls: dict[int, _PartialCall], finish_reason: str) -> list[ToolCallChunk]:
    cut = finish_reason == "length"
    out = []
    for position, index in enumerate(sorted(calls)):
        partial = calls[index]
        if not partial.name:
            raise LlmError(
                "the model sent a tool call without a name", retryable=not cut,
                finish_reason=finish_reason,
            )  # fmt: skip
        try:
            arguments = json.loads(partial.arguments) if partial.arguments.strip() else {}
        except ValueError:
            raise LlmError(
                f"the model sent malformed arguments for {partial.name}"
                + (" (cut at max_tokens)" if cut else ""),
                retryable=not cut,
                finish_reason=finish_reason,
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
