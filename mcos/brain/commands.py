"""The brain's commands and signals: which event each may carry, validation, results (pure).

Validation runs before anything is recorded (an update validator's refusal leaves no trace
in history) and raises :class:`BrainRefusal`; the workflow turns it into an
``ApplicationError`` of the same type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from mcos.brain import approvals
from mcos.brain.limits import check_daily_limit
from mcos.kernel.contracts import ActionRecord, BrainConfig, CommandResult
from mcos.kernel.errors import BrainRefusal, ErrorType
from mcos.kernel.models import (
    ApprovalResolvedPayload,
    BrainState,
    BranchActivatedPayload,
    CalendarEvent,
    CalendarSyncedPayload,
    Event,
    EventType,
    FlightSelectedPayload,
    Memory,
    MemoryUnpinnedPayload,
    MessageRegeneratedPayload,
    PreferenceSetPayload,
    Task,
    TaskDeletedPayload,
    TaskUpdatedPayload,
    UserMessagePayload,
)
from mcos.skills.core import follow_up_tasks

CommandName = Literal[
    "create_task",
    "update_task",
    "delete_task",
    "set_preference",
    "pin_memory",
    "unpin_memory",
    "select_flight",
    "add_calendar_event",
    "respond_approval",
    "regenerate_message",
    "edit_message",
    "activate_branch",
]
# Which update may carry which event type.
COMMAND_TYPES: dict[CommandName, EventType] = {
    "create_task": "task.created",
    "update_task": "task.updated",
    "delete_task": "task.deleted",
    "set_preference": "preference.set",
    "pin_memory": "memory.pinned",
    "unpin_memory": "memory.unpinned",
    "select_flight": "flight.selected",
    "add_calendar_event": "calendar.synced",
    "respond_approval": "approval.resolved",
    "regenerate_message": "message.regenerated",
    "edit_message": "user.message",
    "activate_branch": "branch.activated",
}
# Commands after which the brain runs a chat turn.
TURN_COMMANDS: frozenset[CommandName] = frozenset(
    {"respond_approval", "regenerate_message", "edit_message"}
)
SIGNAL_TYPES: frozenset[str] = frozenset({"user.message", "calendar.synced"})
MEMORIES_CAP = 200
CALENDAR_CHANGE_CAP = 5000


def check_writes(state: BrainState, config: BrainConfig, now: datetime) -> None:
    check_daily_limit(state, now, "writes", config.writes_per_day, "writes_per_day", "write")


def check_command_type(name: CommandName, event: Event) -> None:
    if event.type != COMMAND_TYPES[name]:
        raise BrainRefusal(
            ErrorType.INVALID_REQUEST, f"{name} takes {COMMAND_TYPES[name]}, not {event.type}"
        )


def validate_command(
    state: BrainState, config: BrainConfig, now: datetime, name: CommandName, event: Event
) -> None:
    """Refuse a command that must not be applied (a repeat is not refused: it is answered)."""
    check_command_type(name, event)
    check_writes(state, config, now)
    try:
        _validate_payload(state, config, event, now)
    except ValidationError as exc:
        raise BrainRefusal(
            ErrorType.INVALID_REQUEST,
            "invalid payload",
            {"errors": exc.errors(include_url=False, include_context=False)},
        ) from None
    except ValueError as exc:
        raise BrainRefusal(ErrorType.INVALID_REQUEST, str(exc)) from None


def _validate_payload(state: BrainState, config: BrainConfig, event: Event, now: datetime) -> None:
    p = event.payload
    messages = {m.id: m for m in state.messages}
    if event.type == "approval.resolved":
        approvals.check_response(state, ApprovalResolvedPayload.model_validate(p), now)
    elif event.type == "message.regenerated":
        old = messages.get(MessageRegeneratedPayload.model_validate(p).message_id)
        if old is None or old.role != "assistant":
            raise BrainRefusal(ErrorType.NOT_FOUND, "no such assistant message to regenerate")
        if (old.reply_to or old.parent_id) not in messages:
            raise BrainRefusal(ErrorType.CONFLICT, "the message it answered was archived")
    elif event.type == "user.message":
        edit = UserMessagePayload.model_validate(p)
        original = messages.get(edit.edit_of or "")
        if original is None or original.role != "user":
            raise BrainRefusal(ErrorType.NOT_FOUND, "no such user message to edit")
    elif event.type == "branch.activated":
        if BranchActivatedPayload.model_validate(p).message_id not in messages:
            raise BrainRefusal(ErrorType.NOT_FOUND, "no such message")
    elif event.type == "task.created":
        task = Task.model_validate(p)
        if task.id in state.tasks:
            raise BrainRefusal(ErrorType.CONFLICT, f"task {task.id} exists")
        open_tasks = sum(1 for t in state.tasks.values() if t.status == "open")
        if open_tasks >= config.tasks_cap:
            raise BrainRefusal(ErrorType.CONFLICT, f"too many open tasks ({config.tasks_cap})")
    elif event.type == "task.updated":
        up = TaskUpdatedPayload.model_validate(p)
        if up.id not in state.tasks:
            raise BrainRefusal(ErrorType.NOT_FOUND, f"no task {up.id}")
    elif event.type == "task.deleted":
        deleted = TaskDeletedPayload.model_validate(p)
        if deleted.id not in state.tasks:
            raise BrainRefusal(ErrorType.NOT_FOUND, f"no task {deleted.id}")
    elif event.type == "preference.set":
        PreferenceSetPayload.model_validate(p)
    elif event.type == "memory.pinned":
        Memory.model_validate(p)
        if len(state.memories) >= MEMORIES_CAP:
            raise BrainRefusal(ErrorType.CONFLICT, f"too many pinned memories ({MEMORIES_CAP})")
    elif event.type == "memory.unpinned":
        unpinned = MemoryUnpinnedPayload.model_validate(p)
        if unpinned.id not in state.memories:
            raise BrainRefusal(ErrorType.NOT_FOUND, f"no memory {unpinned.id}")
    elif event.type == "flight.selected":
        sel = FlightSelectedPayload.model_validate(p)
        find_option(state, sel.search_id, sel.flight_id)
    elif event.type == "calendar.synced":
        validate_calendar_payload(p)
        for ev in p.get("upserts", []):
            CalendarEvent.model_validate(ev)


def validate_signal(
    state: BrainState, config: BrainConfig, now: datetime, event: Event
) -> UserMessagePayload | CalendarSyncedPayload:
    """A signal's payload, or a refusal (``ValidationError``/``ValueError`` for bad data)."""
    if event.type not in SIGNAL_TYPES:
        raise ValueError(f"event type {event.type} is not accepted as a signal")
    if event.type == "user.message":
        payload = UserMessagePayload.model_validate(event.payload)
        check_writes(state, config, now)
        return payload
    return validate_calendar_payload(event.payload)


def validate_calendar_payload(payload: dict[str, Any]) -> CalendarSyncedPayload:
    p = CalendarSyncedPayload.model_validate(payload)
    if len(p.upserts) > CALENDAR_CHANGE_CAP or len(p.deletes) > CALENDAR_CHANGE_CAP:
        raise ValueError("calendar change too large")
    return p


def calendar_noop(state: BrainState, payload: CalendarSyncedPayload) -> bool:
    """A sync that changes nothing records nothing (a moved window alone is no change)."""
    if any(d in state.calendar for d in payload.deletes):
        return False
    return all(state.calendar.get(ev.id) == ev for ev in payload.upserts)


def find_option(state: BrainState, search_id: str, flight_id: str) -> dict[str, Any]:
    for search in state.flight_searches:
        if search.search_id == search_id:
            for option in search.options:
                if option.get("id") == flight_id:
                    return option
            raise BrainRefusal(ErrorType.NOT_FOUND, f"no flight {flight_id} in {search_id}")
    raise BrainRefusal(ErrorType.NOT_FOUND, f"no flight search {search_id}")


def with_follow_up_tasks(
    state: BrainState, event: Event, new_id: Callable[[str], str], now: datetime
) -> Event:
    """A selection arrives without tasks; the brain makes them (ids from the workflow RNG)."""
    p = dict(event.payload)
    option = find_option(state, p["search_id"], p["flight_id"])
    p["follow_up_tasks"] = follow_up_tasks(option, new_id, now)
    return event.model_copy(update={"payload": p})


def entity_id(event: Event) -> str | None:
    """The id of what an event created or changed (returned to the caller)."""
    p = event.payload
    if event.type == "user.message" or event.type.startswith(("message.", "branch.")):
        return p.get("message_id")
    if event.type.startswith("approval."):
        return p.get("approval_id")
    if event.type == "flight.selected":
        return p.get("search_id")
    return p.get("id")


def command_result(state: BrainState, applied: Event) -> CommandResult:
    return CommandResult(
        event_id=applied.event_id,
        seq=applied.seq,
        entity_id=entity_id(applied),
        data=_command_data(state, applied),
    )


def duplicate_result(seen: ActionRecord | bool, event: Event) -> CommandResult:
    """A repeated command is answered with what the first one produced."""
    record = seen if isinstance(seen, ActionRecord) else None
    return CommandResult(
        event_id=record.event_id if record else event.event_id,
        seq=record.seq if record else 0,
        duplicate=True,
        entity_id=record.entity_id if record else entity_id(event),
    )


def _command_data(state: BrainState, event: Event) -> dict[str, Any]:
    p = event.payload
    if event.type.startswith("task.") and p.get("id") in state.tasks:
        return state.tasks[p["id"]].model_dump(mode="json")
    if event.type == "memory.pinned":
        return state.memories[p["id"]].model_dump(mode="json")
    if event.type == "preference.set":
        return {"preferences": state.preferences}
    if event.type == "flight.selected":
        return {"follow_up_tasks": p.get("follow_up_tasks", [])}
    if event.type.startswith("approval.") and p.get("approval_id") in state.approvals:
        return state.approvals[p["approval_id"]].model_dump(mode="json")
    return {}
