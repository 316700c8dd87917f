"""The realtime frame: one typed model from the brain's outbox to the WebSocket.

The brain queues frames, the publish activity hands them to the bus, the bus gives each a
``cursor`` and ``ts`` and keeps a bounded buffer, and the WebSocket route sends
:meth:`Frame.wire` to the client. ``key`` lets the bus drop a frame published twice (a
retried publish); it never reaches a client.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

FrameType = Literal[
    # domain-derived (carry the domain `seq`)
    "message.created",
    "message.completed",
    "llm.interrupted",
    "task.created",
    "task.updated",
    "task.deleted",
    "state.updated",
    # a chat turn
    "llm.token",
    "llm.restarted",
    "llm.action",
    "tool.result",
    "limit.warning",
    # reminders and approvals
    "reminder.due",
    "approval.requested",
    "approval.resolved",
    # refusals and control
    "busy",
    "rate_limited",
    "error",
    "resync",
    "pong",
]


class Frame(BaseModel):
    """``{"type", "cursor", "seq"?, "ts", "request_id"?, "operation_id"?, "data"}``."""

    model_config = ConfigDict(extra="ignore")

    type: FrameType
    data: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None
    request_id: str | None = None
    operation_id: str | None = None
    cursor: str | None = None  # assigned by the bus
    ts: float | None = None  # assigned by the bus
    # dedup key inside the bus; never sent to clients (so not in the clients' schema)
    key: SkipJsonSchema[str | None] = None

    def wire(self) -> dict[str, Any]:
        """What a client receives: no ``key``, no empty optional fields."""
        return self.model_dump(exclude={"key"}, exclude_none=True)

    def wire_json(self) -> str:
        return json.dumps(self.wire(), default=str, separators=(",", ":"))

    def token_index(self) -> int | None:
        """The token index of an ``llm.token`` frame (``data.index``)."""
        index = self.data.get("index") if self.type == "llm.token" else None
        return index if isinstance(index, int) else None
