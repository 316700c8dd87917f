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
    """Send ``text`` and return every frame up to the assistant's ``message.completed``."""
    action = f"c-{next(_ids)}"
    await ws.send(json.dumps({"type": "message.send", "text": text, "client_action_id": action}))
    frames = await recv_until(
        ws,
        lambda f: (
            f["type"] in ("message.completed", "llm.interrupted")
            and f["data"].get("role") == "assistant"
        ),
        timeout=timeout,
    )
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
