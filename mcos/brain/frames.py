"""The client frames the brain publishes, built from its state (pure).

Every frame carries a ``key``: the bus drops a frame whose key it has already published for
the user, so a retried publish never shows a client the same frame twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mcos.brain import tree
from mcos.brain.limits import day_end
from mcos.kernel.contracts import ReplyDraft
from mcos.kernel.errors import BrainRefusal
from mcos.kernel.frames import Frame, FrameType
from mcos.kernel.models import BrainState, Event, Message


def frames_for(state: BrainState, event: Event) -> list[Frame]:
    """The frames a just-applied ``event`` shows clients (``state`` is after it)."""
    base: dict[str, Any] = {"seq": event.seq, "request_id": event.request_id}
    key = f"seq:{event.seq}"
    if event.type in ("user.message", "assistant.message"):
        msg = state.messages[-1] if state.messages else None
        if msg is None or msg.seq != event.seq:
            return []
        return message_frames(msg, tree.branch_of(state, msg), event.request_id, key)
    if event.type in ("task.created", "task.updated", "task.deleted"):
        task_id = event.payload.get("id")
        task = state.tasks.get(task_id) if isinstance(task_id, str) else None
        task_data = task.model_dump(mode="json") if task else {"id": task_id}
        return [Frame(type=event.type, key=key, data=task_data, **base)]
    if event.type == "messages.archived":
        return []
    if event.type == "reminder.due":
        task = state.tasks.get(str(event.payload.get("task_id")))
        if task is None or task.reminded_at is None:
            return []
        return [Frame(type="reminder.due", key=key, data=task.model_dump(mode="json"), **base)]
    if event.type.startswith("approval."):
        approval = state.approvals.get(
            str(event.payload.get("approval_id") or event.payload.get("id"))
        )
        if approval is None:
            return []
        kind: FrameType = (
            "approval.requested" if event.type == "approval.requested" else "approval.resolved"
        )
        data = {**approval.model_dump(mode="json"), "approval_id": approval.id}
        if kind == "approval.resolved":
            data["decision"] = {"approved": "approve", "rejected": "reject"}.get(
                approval.status, approval.status
            )
        return [Frame(type=kind, key=key, data=data, **base)]
    return [Frame(type="state.updated", key=key, data=state_slice(state, event.type), **base)]


def message_frames(
    msg: Message, branch: dict[str, int], request_id: str | None, key: str
) -> list[Frame]:
    """``message.created`` (and for a reply ``message.completed`` or ``llm.interrupted``).

    The brain builds these when it records a message; the LLM activity builds the same for
    the reply it just generated (from the brain's :class:`ReplyDraft`), so clients see the
    finished answer without waiting for another activity.
    """
    data = {**msg.model_dump(mode="json"), "branch": branch}
    seq = msg.seq or None
    frames = [Frame(type="message.created", key=key, data=data, seq=seq, request_id=request_id)]
    if msg.role == "assistant":
        frames.append(
            Frame(
                type="llm.interrupted" if msg.status == "interrupted" else "message.completed",
                key=f"{key}:done",
                operation_id=msg.operation_id,
                data=data,
                seq=seq,
                request_id=request_id,
            )
        )
    return frames


FILTERED = (
    "I can't answer that: the model's content filter stopped the reply. Try asking another way."
)


def reply_outcome(
    prefix: str, text: str, status: str, finish_reason: str | None
) -> tuple[str, str]:
    """The reply's final text and status, the same in the brain and the LLM activity: a
    reply cut by the length limit is ``truncated``; one stopped by a content filter says so;
    an empty finished reply is "Done."."""
    if status == "interrupted":
        return prefix + text, "interrupted"
    if finish_reason == "content_filter":
        return prefix + FILTERED, "completed"
    full = prefix + text
    if finish_reason == "length":
        return full, "truncated"
    return (full if full.strip() else "Done."), status


def reply_message(
    draft: ReplyDraft,
    text: str,
    status: str,
    created_at: datetime,
    operation_id: str,
    tokens_prompt: int,
    tokens_completion: int,
) -> Message:
    """The assistant message a draft becomes (what the brain's reducer will record)."""
    return Message(
        id=draft.message_id,
        role="assistant",
        text=text,
        created_at=created_at,
        seq=draft.seq,
        parent_id=draft.parent_id,
        reply_to=draft.reply_to,
        status=status,
        operation_id=operation_id,
        tokens_prompt=tokens_prompt,
        tokens_completion=tokens_completion,
        cards=draft.cards,
    )


def state_slice(state: BrainState, event_type: str) -> dict[str, Any]:
    """The part of the state an event changed, as a ``state.updated`` frame shows it."""
    if event_type == "preference.set":
        return {"preferences": state.preferences}
    if event_type.startswith("memory."):
        return {"memories": [m.model_dump(mode="json") for m in state.memories.values()]}
    if event_type == "calendar.synced":
        return {
            "calendar": [c.model_dump(mode="json") for c in state.calendar.values()],
            "travel": [t.model_dump(mode="json") for t in state.travel],
        }
    if event_type == "flights.searched":
        return {"flight_searches": [f.search_id for f in state.flight_searches]}
    if event_type in ("flight.selected", "tasks.archived"):
        return {"tasks": [t.model_dump(mode="json") for t in state.tasks.values()]}
    if event_type in ("branch.activated", "message.regenerated"):
        return {"active_leaf": state.active_leaf}
    return {}


def refusal_frame(event: Event, refusal: BrainRefusal, now: datetime) -> Frame:
    """``rate_limited`` for a chat message the brain refused after the API accepted it."""
    reset = day_end(now)
    details = {
        **refusal.details,
        "current": int(refusal.details.get("current", 0)) + 1,
        "reset_at": reset,
        "retry_after": max(reset - int(now.timestamp()), 1),
        "client_action_id": event.client_action_id,
    }
    return Frame(
        type="rate_limited",
        request_id=event.request_id,
        key=f"refused:{event.event_id}",
        data={
            "error": {"code": "rate_limited", "message": refusal.message, "details": details},
            "request_id": event.request_id,
        },
    )


def limit_warning_frame(
    limit_type: str, limit: int, current: int, day: str, request_id: str | None
) -> Frame:
    return Frame(
        type="limit.warning",
        request_id=request_id,
        key=f"limit.warning:{limit_type}:{day}",
        data={
            "limit_type": limit_type,
            "limit": limit,
            "current": current,
            "ratio": round(current / limit, 3) if limit else 1.0,
            "message": f"You've used {current:,} of today's {limit:,} assistant tokens.",
        },
    )


def action_frame(
    operation_id: str, request_id: str | None, tool_id: str, name: str, arguments: dict[str, Any]
) -> Frame:
    """``llm.action``: the model asked for a tool."""
    return Frame(
        type="llm.action",
        operation_id=operation_id,
        request_id=request_id,
        key=f"{tool_id}:action",
        data={
            "operation_id": operation_id,
            "tool_invocation_id": tool_id,
            "name": name,
            "arguments": arguments,
        },
    )


def tool_result_frame(
    operation_id: str,
    request_id: str | None,
    tool_id: str,
    name: str,
    status: str,
    card: dict[str, Any] | None,
    summary: Any,
) -> Frame:
    """``tool.result``: a tool finished (a card to show, or an error summary)."""
    return Frame(
        type="tool.result",
        operation_id=operation_id,
        request_id=request_id,
        key=f"{tool_id}:result",
        data={
            "operation_id": operation_id,
            "tool_invocation_id": tool_id,
            "tool": name,
            "status": status,
            "card": card,
            "summary": summary,
        },
    )


def busy_frame(event: Event) -> Frame:
    """``busy``: a chat message refused because a turn runs (double texting ``reject``)."""
    return Frame(
        type="busy",
        request_id=event.request_id,
        key=f"busy:{event.event_id}",
        data={
            "client_action_id": event.client_action_id,
            "message": "I'm still answering your previous message; send it again when I'm done.",
        },
    )
