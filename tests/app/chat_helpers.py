"""Helpers for chat tests over the WebSocket: send one message, collect the turn's frames."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from tests.app.conftest import recv_until

_ids = itertools.count(1)


@dataclass
class TurnFrames:
    frames: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    @property
    def completed(self) -> dict[str, Any]:
        return self.of("message.completed")[-1]["data"]

    @property
    def text(self) -> str:
        return self.completed["text"]

    @property
    def streamed(self) -> str:
        return "".join(f["data"]["text"] for f in self.of("llm.token"))

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [f["data"] for f in self.of("llm.action")]

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        return [f["data"] for f in self.of("tool.result")]


async def say(ws: Any, text: str, timeout: float = 40.0) -> TurnFrames:  # noqa: ASYNC109
    """Send ``text`` and return every frame up to the ``message.completed`` that answers it
    (matched by ``reply_to``: a late frame of an earlier turn does not end this one)."""
    action = f"c-{next(_ids)}"
    await ws.send(json.dumps({"type": "message.send", "text": text, "client_action_id": action}))
    sent: dict[str, str] = {}

    def answers(f: dict[str, Any]) -> bool:
        data = f.get("data") or {}
        if f["type"] == "message.created" and data.get("client_action_id") == action:
            sent["id"] = data["id"]
        return (
            f["type"] in ("message.completed", "llm.interrupted")
            and data.get("role") == "assistant"
            and "id" in sent
            and data.get("reply_to") == sent["id"]
        )

    frames = await recv_until(ws, answers, timeout=timeout)
    return TurnFrames(frames)


async def answer(ws: Any, approval_id: str, decision: str, timeout: float = 40.0) -> TurnFrames:  # noqa: ASYNC109
    """Answer an approval and return the frames up to the reply of the turn that goes on."""
    await ws.send(
        json.dumps({"type": "approval.respond", "approval_id": approval_id, "decision": decision})
    )
    frames = await recv_until(
        ws,
        lambda f: (
            f["type"] in ("message.completed", "llm.interrupted")
            and f["data"].get("role") == "assistant"
        ),
        timeout=timeout,
    )
    return TurnFrames(frames)


def replies(frames: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The assistant replies among ``frames``, by message id, each its latest end frame (a
    reply's frames can come twice: from the LLM call, then corrected by the brain)."""
    out: dict[str, dict[str, Any]] = {}
    for f in frames:
        if (
            f["type"] in ("message.completed", "llm.interrupted")
            and (f.get("data") or {}).get("role") == "assistant"
        ):
            out[f["data"]["id"]] = f
    return out


def until_replies(count: int) -> Any:
    """A ``recv_until`` predicate: true once ``count`` different replies have ended."""
    seen: list[dict[str, Any]] = []

    def done(frame: dict[str, Any]) -> bool:
        seen.append(frame)
        return len(replies(seen)) >= count

    return done
