"""Shared steps of the fault scenarios."""

from __future__ import annotations

import time
import uuid
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from mcos.kernel.contracts import brain_workflow_id
from tests.faults.chat import Chatter, Turn
from tests.faults.cluster import Fleet
from tests.support.wait import eventually


def new_user(tag: str) -> str:
    return f"f-{tag}-{uuid.uuid4().hex[:8]}"


def text_for(user: str, i: int) -> str:
    """A chat message the offline model answers at length (150 pieces): a stream a fault can
    land in the middle of."""
    return f"hello there, this is {user} with note number {i}"


def brief_text_for(user: str, i: int) -> str:
    """A chat message the offline model answers in 10 pieces: for turns no fault has to cut
    (the long answer's ~4 s of stream per turn only slowed the scenarios down)."""
    return f"thanks, this is {user} with note number {i}"


def tokens_of(chatter: Chatter, turn: Turn) -> list[dict[str, Any]]:
    """The ``llm.token`` frames of the turn's reply. Once the reply's ``message.completed``
    is in, those of its operation, wherever they arrived: tokens come straight from the LLM
    activity and the brain's frames through its outbox, which after an outage may still be
    catching up, so a short reply's first tokens can reach the socket before its
    ``message.created``. Before that (mid-stream), those seen since the turn's
    ``message.created`` (one turn streams at a time)."""
    reply = chatter.reply_frame(turn)
    operation = reply.get("operation_id") if reply is not None else None
    if operation is not None:
        return chatter.operation_tokens(operation)
    start = next((i for i, f in enumerate(chatter.frames)
                  if f["type"] == "message.created" and f["data"]["id"] == turn.message_id),
                 None)  # fmt: skip
    if start is None:
        return []
    return [f for f in chatter.frames[start:] if f["type"] == "llm.token"]


def token_count(chatter: Chatter, turn: Turn) -> int:
    """Tokens seen of the turn's reply (frames merged over the budget count each token)."""
    return sum(f["data"].get("count", 1) for f in tokens_of(chatter, turn))


async def mid_stream(chatter: Chatter, turn: Turn, tokens: int = 15) -> None:
    """Until the client has seen ``tokens`` tokens of the turn's reply (of 159)."""
    await eventually(lambda: token_count(chatter, turn) >= tokens, 30, 0.01,
                     what=f"{tokens} tokens streamed")  # fmt: skip


async def worker_running_llm(client: Client, fleet: Fleet, user: str) -> str:
    """The fleet worker whose process runs the user's LLM activity now (by its identity)."""

    async def find() -> str | None:
        described = await client.get_workflow_handle(brain_workflow_id(user)).describe()
        for pending in described.raw_description.pending_activities:
            if pending.activity_type.name != "llm_reply" or not pending.last_worker_identity:
                continue
            pid = int(pending.last_worker_identity.split("@")[0])
            for name, proc in fleet.workers.items():
                if proc.popen is not None and proc.popen.pid == pid:
                    return name
        return None

    return await eventually(find, 10, 0.05, what="the worker running the LLM activity",
                            retry_on=(RPCError,))  # fmt: skip


def report(scenario: str, **figures: Any) -> None:
    shown = ", ".join(
        f"{k.replace('_', ' ')} {v:.2f}s" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
        for k, v in figures.items()
    )
    print(f"\n[faults] {scenario}: {shown}", flush=True)


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def since(self) -> float:
        return time.monotonic() - self.t0
