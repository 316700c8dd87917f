"""What an LLM call carries through Temporal history (v6): what that call needs, once.

Every LLM call's input is written into the brain's history, so the brain sends only what
the model that answers reads, and by reference what the worker already has:

- ``audience="model"`` (a real model): the messages, with the system prompt by reference
  (the worker's own :data:`SYSTEM_PROMPT`, checked by digest: a worker whose prompt
  differs refuses the call, as for tools) and the user's message once (``user_text``: the
  prompt's user message and the echo frame of that message name it). No offline context.
- ``audience="offline"``: the offline model is deterministic and pure, so the brain runs
  it (:func:`offline_script`) on the prompt and state it has and sends its answer; the
  activity streams it as the offline model would have. Neither the prompt nor the state
  travels, so the call costs the same however long the chat or the task list.

:func:`pack_messages` and :func:`offline_script` run in the workflow,
:func:`unpack_messages` in the activity: a model sees exactly what it saw before v6.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from mcos.kernel.contracts import OfflineScript, ToolCall
from mcos.llm.base import LlmRequest
from mcos.llm.offline import prompt_tokens, respond
from mcos.llm.prompt import SYSTEM_PROMPT, strip_control
from mcos.skills.registry import Registry

Audience = Literal["model", "offline"]
REF = "$ref"
SYSTEM_REF = "system_prompt"
USER_REF = "user_text"


def prompt_digest(prompt: str = SYSTEM_PROMPT) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def _turn_message(messages: list[dict[str, Any]], user_text: str) -> int | None:
    """The index of the turn's own user message (the last user message, as it was built)."""
    content = strip_control(user_text)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i if messages[i].get("content") == content else None
    return None


def pack_messages(messages: list[dict[str, Any]], user_text: str) -> list[dict[str, Any]]:
    """``messages`` as a real model's call carries them: the system prompt and the turn's
    user message by reference."""
    turn = _turn_message(messages, user_text)
    packed: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if i == 0 and message.get("role") == "system" and message.get("content") == SYSTEM_PROMPT:
            message = {**message, "content": {REF: SYSTEM_REF, "digest": prompt_digest()}}
        elif i == turn:
            message = {**message, "content": {REF: USER_REF}}
        packed.append(message)
    return packed


def unpack_messages(messages: list[dict[str, Any]], user_text: str | None) -> list[dict[str, Any]]:
    """The messages with their references resolved; ``ValueError`` when one cannot be (a
    worker whose system prompt differs from the workflow's, or no ``user_text``)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, dict) and REF in content:
            message = {**message, "content": _resolve(content, user_text)}
        out.append(message)
    return out


def _resolve(ref: dict[str, Any], user_text: str | None) -> str:
    if ref[REF] == SYSTEM_REF:
        if ref.get("digest") != prompt_digest():
            raise ValueError("the system prompt differs from the workflow's")
        return SYSTEM_PROMPT
    if ref[REF] == USER_REF and user_text is not None:
        return strip_control(user_text)
    raise ValueError(f"unknown prompt reference {ref[REF]!r}")


def ref_frame_text(data: dict[str, Any], user_text: str) -> dict[str, Any]:
    """A frame's data with the user's text replaced by its reference (when it is that text)."""
    if data.get("text") != user_text:
        return data
    return {**data, "text": {REF: USER_REF}}


def resolve_frame_text(data: dict[str, Any], user_text: str | None) -> dict[str, Any]:
    text = data.get("text")
    if isinstance(text, dict) and text.get(REF) == USER_REF and user_text is not None:
        return {**data, "text": user_text}
    return data


def offline_script(
    messages: list[dict[str, Any]],
    tool_names: list[str],
    context: dict[str, Any],
    now: datetime,
    registry: Registry,
) -> OfflineScript:
    """The offline model's answer to this call (what its provider would stream)."""
    tools = [{"type": "function", "function": {"name": n}} for n in tool_names]
    request = LlmRequest(messages=messages, tools=tools, context=context)
    reply = respond(request, registry, now)
    calls = [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in reply.calls]
    return OfflineScript(text=reply.text, calls=calls, prompt_tokens=prompt_tokens(messages))


__all__ = [
    "Audience",
    "offline_script",
    "pack_messages",
    "prompt_digest",
    "ref_frame_text",
    "resolve_frame_text",
    "unpack_messages",
]
