"""The offline model: deterministic, no network, good enough that every skill works.

Everything it understands comes from the skills' registry (:mod:`mcos.skills.registry`):

- Last message from the user → :meth:`Registry.recognise`. Each recognised request whose
  tool is in ``request.tools`` becomes a :class:`ToolCallChunk` (several for a multi-part
  message); tools not offered are never called (like a real model), though a read-only
  one (the agenda) is answered straight from the context. A request that needs more
  (a flight search without a date) or cannot be done (a date in the past) gets the
  skill's question or explanation; a question about a pinned fact is answered from the
  context. Anything else gets a plain statement of what this assistant is and can do.
- Last messages are tool results → each tool's reply text (:meth:`Registry.reply`),
  joined by blank lines. Any result with ``"error"`` or ``"ok": false`` is an error.

``request.context`` is described in :class:`mcos.skills.base.Conversation`.

Replies stream as word pieces (≤ 4 characters, spaces kept) with ``token_delay_ms``
between them, then one :class:`UsageChunk` counting pieces (prompt: pieces of every message
text; completion: pieces of the reply, or of the tool calls' JSON).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mcos.llm.base import Chunk, LlmRequest, TokenChunk, ToolCallChunk, UsageChunk
from mcos.llm.tools import make_tool_call
from mcos.skills.base import Conversation, Intent, Say
from mcos.skills.registry import REGISTRY, Registry

PIECE_CHARS = 4
_WORD_RE = re.compile(r"\s*\S+|\s+")
WHO = "I'm the offline assistant"


def split_pieces(text: str) -> list[str]:
    """Word pieces of at most 4 characters; joined they give back ``text`` exactly."""
    pieces: list[str] = []
    for word in _WORD_RE.findall(text):
        pieces.extend(word[i : i + PIECE_CHARS] for i in range(0, len(word), PIECE_CHARS))
    return pieces


def count_tokens(text: str) -> int:
    return len(split_pieces(text))


@dataclass
class Reply:
    """The offline model's whole answer: text (streamed first) and/or tool calls."""

    text: str = ""
    calls: list[ToolCallChunk] = field(default_factory=list)


class OfflineProvider:
    """Deterministic provider; never does I/O. Free: it never spends the token budget."""

    billable = False
    scripted = True  # it streams the answer the brain worked out (mcos.llm.lean: "offline")

    def __init__(self, token_delay_ms: float = 15.0, registry: Registry = REGISTRY) -> None:
        self.token_delay_s = max(0.0, token_delay_ms) / 1000.0
        self.registry = registry

    async def stream(self, request: LlmRequest) -> AsyncIterator[Chunk]:
        script = request.script
        if script is not None:  # the brain ran this model already (mcos.llm.lean)
            calls = [
                ToolCallChunk(id=c.id, name=c.name, arguments=c.arguments) for c in script.calls
            ]
            reply, prompt = Reply(script.text, calls), script.prompt_tokens
        else:
            reply, prompt = respond(request, self.registry), prompt_tokens(request.messages)
        pieces = split_pieces(reply.text)
        if request.max_tokens is not None:
            pieces = pieces[: request.max_tokens]
        for index, piece in enumerate(pieces):
            if index:
                await asyncio.sleep(self.token_delay_s)
            yield TokenChunk(text=piece)
        completion = len(pieces)
        for call in reply.calls:
            completion += count_tokens(f"{call.name} {json.dumps(call.arguments)}")
            yield call
        await asyncio.sleep(0)
        yield UsageChunk(prompt_tokens=prompt, completion_tokens=completion)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The pieces of every message text (what the offline model counts as its prompt)."""
    return sum(count_tokens(_content_text(m)) for m in messages)


# --- the turn ------------------------------------------------------------------------------


def respond(
    request: LlmRequest, registry: Registry = REGISTRY, now: datetime | None = None
) -> Reply:
    """The whole reply for ``request``; ``now`` only when the context has no ``now``
    (the wall clock if not given: the workflow, which may not read it, always gives it)."""
    messages = request.messages
    conv = Conversation.from_context(request.context, now or datetime.now(UTC))
    if not messages:
        return Reply(f"Hi! {WHO}. {registry.capabilities()}")
    last = messages[-1]
    if last.get("role") == "tool":
        return Reply(_answer_tool_results(messages, conv, registry))
    if last.get("role") != "user":
        return Reply("Is there anything else I can help you with?")
    offered = {t.get("function", {}).get("name") for t in request.tools}
    return _answer_user(_content_text(last), conv, offered, registry)


def _answer_user(text: str, conv: Conversation, offered: set[Any], registry: Registry) -> Reply:
    said: list[str] = []
    calls: list[ToolCallChunk] = []
    for found in registry.recognise(text, conv):
        if isinstance(found, Say):
            said.append(found.text)
        elif isinstance(found, Intent) and found.name in offered:
            calls.append(make_tool_call(found.name, found.arguments, len(calls)))
        elif isinstance(found, Intent):
            tool = registry.tool(found.name)
            if tool is not None and tool.read_only:
                said.append(tool.reply(dict(found.arguments), conv))
    if not said and not calls:
        said.append(_small_talk(text, conv, registry))
    # Text that comes with tool calls is shown before their results' answer.
    body = "\n\n".join(said)
    return Reply(body + ("\n\n" if body and calls else ""), calls)


def _small_talk(text: str, conv: Conversation, registry: Registry) -> str:
    lower = text.lower().strip()
    if re.match(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b", lower):
        return f"Hi! {WHO}. {registry.capabilities()}"
    if re.match(r"^(?:thanks|thank you|thx|cheers|great|perfect|awesome)\b", lower):
        return "You're welcome! Anything else?"
    if re.search(r"\b(?:who|what) are you\b|\bwhat can you do\b|\bhelp\b", lower):
        return f"{WHO}: I work without a language model, on your data here. " + (
            registry.capabilities()
        )
    open_tasks = conv.open_tasks()
    tail = (
        f" You have {len(open_tasks)} open task{'s' * (len(open_tasks) != 1)}."
        if open_tasks
        else ""
    )
    return f"{WHO}, so I can't help with that. {registry.capabilities()}{tail}"


def _answer_tool_results(
    messages: list[dict[str, Any]], conv: Conversation, registry: Registry
) -> str:
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.append(message)
    results.reverse()
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call.get("id", "")] = (call.get("function") or {}).get("name", "")
    parts = []
    for message in results:
        name = names.get(message.get("tool_call_id", ""), message.get("name", ""))
        parts.append(registry.reply(name, _json(message.get("content")), conv))
    return "\n\n".join(p for p in parts if p)


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None and message.get("tool_calls"):
        return json.dumps(message["tool_calls"])
    return "" if content is None else json.dumps(content)


def _json(content: Any) -> Any:
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return {"value": content}
    return content


__all__ = ["OfflineProvider", "Reply", "count_tokens", "prompt_tokens", "respond", "split_pieces"]
