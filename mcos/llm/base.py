"""The provider interface: one request model, three stream items, one error type.

A provider turns an :class:`LlmRequest` into an async stream of chunks: text tokens
(:class:`TokenChunk`), complete tool calls (:class:`ToolCallChunk`, only ever yielded
whole, never as partial deltas) and, last, one :class:`UsageChunk` that also carries how
the generation ended (``finish_reason``). Failures surface as :class:`LlmError`;
``retryable`` tells the activity whether Temporal should try again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from mcos.kernel.contracts import OfflineScript


class LlmRequest(BaseModel):
    """One chat-completions call.

    ``messages`` use the OpenAI chat format (system/user/assistant/tool; assistant messages
    may carry ``tool_calls``, tool messages ``tool_call_id`` and JSON ``content``).
    ``temperature``/``top_p``/``max_tokens`` left at ``None`` take the settings' defaults.
    ``context`` is the user's state summary the offline model answers from: ``now`` (ISO),
    ``timezone``, ``tasks``, ``calendar``, ``preferences``, ``memories``, ``travel``,
    ``flight_searches``. Real models get the same data through the prompt instead.
    ``tool_choice`` (``auto``/``none``/``required``) is sent only when set and tools are
    offered; ``none`` keeps the tools in the prompt (and so its cached prefix) while
    asking for text.
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: Literal["auto", "none", "required"] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    context: dict[str, Any] = Field(default_factory=dict)
    # The offline model's answer when the brain already worked it out (mcos.llm.lean):
    # the offline provider streams it; other providers never get one.
    script: OfflineScript | None = None


class TokenChunk(BaseModel):
    kind: Literal["token"] = "token"
    text: str


class ToolCallChunk(BaseModel):
    """A complete tool call with parsed arguments."""

    kind: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def as_message_tool_call(self) -> dict[str, Any]:
        """The OpenAI ``tool_calls[]`` entry to put on the assistant message of the history."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


ToolCall = ToolCallChunk


FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class UsageChunk(BaseModel):
    """The last chunk: token usage (the server's, else an estimate) and how it ended.

    ``finish_reason`` is the server's (``stop``, ``length``, ``tool_calls``,
    ``content_filter``; other values are passed through as ``stop``), ``None`` only for
    providers that have none. ``estimated`` is True when the server reported no usage.
    """

    kind: Literal["usage"] = "usage"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: FinishReason | None = None
    estimated: bool = False


Chunk = TokenChunk | ToolCallChunk | UsageChunk


class LlmError(Exception):
    """A provider failure; ``retryable`` is False for requests that cannot succeed as sent."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.finish_reason = finish_reason

    def __repr__(self) -> str:
        return (
            f"LlmError({str(self)!r}, retryable={self.retryable}, status_code={self.status_code})"
        )


class LlmProvider(Protocol):
    def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        """Stream the reply; ends with exactly one :class:`UsageChunk`."""
        ...
