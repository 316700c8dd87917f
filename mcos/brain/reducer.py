"""The brain's pure reducer: ``reduce(state, event) -> state``.

No I/O and no clock but the event's own timestamp. The input state is never mutated:
each handler returns a shallow copy with only the changed containers replaced, so
replaying the same events over the same starting state always yields the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mcos.brain import tree
from mcos.calendar.travel import detect_travel
from mcos.kernel.models import (
    USER_WRITE_TYPES,
    Approval,
    ApprovalExpiredPayload,
    ApprovalResolvedPayload,
    AssistantMessagePayload,
    BrainState,
    BranchActivatedPayload,
    CalendarSyncedPayload,
    Counters,
    Event,
    FlightSearch,
    FlightSelectedPayload,
    Memory,
    MemoryUnpinnedPayload,
    Message,
    MessageRegeneratedPayload,
    MessagesArchivedPayload,
    PreferenceSetPayload,
    ReminderDuePayload,
    Task,
    TaskDeletedPayload,
    TasksArchivedPayload,
    TaskUpdatedPayload,
    Usage,
    UserMessagePayload,
)

FLIGHT_SEARCHES_KEPT = 20
# A safety bound only: the brain moves tasks to SQL past its (configurable) tasks cap and
# when done for a year (mcos/brain/bounds.py), long before this is reached.
TASKS_HARD_LIMIT = 5000

Handler = Callable[[BrainState, Event], BrainState]


def reduce(state: BrainState, event: Event) -> BrainState:
    """Apply one event. ``event.seq`` (when set) becomes the state's ``seq``."""
    handler = _HANDLERS[event.type]
    new = handler(state, event)
    return new.model_copy(
        update={
            "seq": event.seq or state.seq + 1,
            "counters": _count(new.counters, event),
            "last_event_id": event.event_id,
            "last_activity": event.timestamp,
        }
    )


def fold(state: BrainState, events: Iterable[Event]) -> BrainState:
    for event in events:
        state = reduce(state, event)
    return state


def usage_for_day(usage: Usage, day: str) -> Usage:
    """The usage counters as of ``day``: a new UTC day starts from zero."""
    return usage if usage.day == day else Usage(day=day)


def _day(ts: datetime) -> str:
    return (ts.astimezone(UTC) if ts.tzinfo else ts).date().isoformat()


def billed_tokens(event: Event) -> int:
    """Tokens an event spends of the daily budget: a reply's (and a flight search's
    ranking) as billed by the provider; replies recorded before billing existed count their
    prompt and completion tokens."""
    p = event.payload
    if p.get("tokens_billed") is not None:
        return int(p["tokens_billed"])
    if event.type == "assistant.message":
        return int(p.get("tokens_prompt", 0)) + int(p.get("tokens_completion", 0))
    return 0


def _count(counters: Counters, event: Event) -> Counters:
    usage = usage_for_day(counters.usage, _day(event.timestamp))
    update: dict[str, int] = {}
    if event.type in USER_WRITE_TYPES:
        update["writes"] = usage.writes + 1
    billed = billed_tokens(event)
    if billed:
        update["tokens"] = usage.tokens + billed
    if event.type == "flights.searched":
        update["flight_searches"] = usage.flight_searches + 1
    return counters.model_copy(
        update={
            "events_applied": counters.events_applied + 1,
            "turns": counters.turns + (event.type == "assistant.message"),
            "usage": usage.model_copy(update=update) if update else usage,
        }
    )


# --- handlers ------------------------------------------------------------------------


def _user_message(state: BrainState, event: Event) -> BrainState:
    p = UserMessagePayload.model_validate(event.payload)
    state = tree.linked(state)
    parent = state.active_leaf
    if p.edit_of is not None:  # an edit is a sibling of the message it edits
        edited = tree.by_id(state).get(p.edit_of)
        parent = edited.parent_id if edited else parent
    msg = Message(
        id=p.message_id,
        role="user",
        text=p.text,
        created_at=event.timestamp,
        seq=event.seq,
        parent_id=parent,
        channel=p.channel,
        client_action_id=event.client_action_id,
    )
    return _append_message(state, msg, activate=True)


def _assistant_message(state: BrainState, event: Event) -> BrainState:
    p = AssistantMessagePayload.model_validate(event.payload)
    state = tree.linked(state)
    anchor = p.after or p.reply_to
    if anchor is None:  # recorded before replies named what they answer
        parent, follows = state.active_leaf, True
    else:
        # A reply goes right after what it answers; messages the user sent while it was
        # being written follow it (the user saw it start before they wrote them). If the
        # user moved to another branch meanwhile, it stays on its own, out of sight.
        state, follows = tree.insert_after(state, anchor, p.message_id)
        parent = anchor
    msg = Message(
        id=p.message_id,
        role="assistant",
        text=p.text,
        created_at=event.timestamp,
        seq=event.seq,
        parent_id=parent,
        reply_to=p.reply_to,
        status=p.status,
        operation_id=p.operation_id,
        tokens_prompt=p.tokens_prompt,
        tokens_completion=p.tokens_completion,
        cards=p.cards,
    )
    return _append_message(
        state, msg, activate=follows and (anchor is None or state.active_leaf == anchor)
    )


def _append_message(state: BrainState, msg: Message, activate: bool) -> BrainState:
    if any(m.id == msg.id for m in state.messages[-50:]):
        return state
    counters = state.counters.model_copy(
        update={"messages_total": state.counters.messages_total + 1}
    )
    update: dict[str, Any] = {"messages": [*state.messages, msg], "counters": counters}
    if activate:
        update["active_leaf"] = msg.id
    return state.model_copy(update=update)


def _branch_activated(state: BrainState, event: Event) -> BrainState:
    p = BranchActivatedPayload.model_validate(event.payload)
    state = tree.linked(state)
    if p.message_id not in tree.by_id(state):
        return state
    leaf = tree.newest_leaf_under(state, p.message_id) if p.descend else p.message_id
    return state.model_copy(update={"active_leaf": leaf})


def _message_regenerated(state: BrainState, event: Event) -> BrainState:
    """The branch goes back to the user message; the new reply becomes its sibling."""
    p = MessageRegeneratedPayload.model_validate(event.payload)
    state = tree.linked(state)
    old = tree.by_id(state).get(p.message_id)
    if old is None:
        return state
    return state.model_copy(update={"active_leaf": old.reply_to or old.parent_id})


def _reminder_due(state: BrainState, event: Event) -> BrainState:
    p = ReminderDuePayload.model_validate(event.payload)
    task = state.tasks.get(p.task_id)
    if task is None or task.remind_at != p.remind_at:
        return state  # re-armed or gone meanwhile
    fired = task.model_copy(update={"reminded_at": event.timestamp})
    return state.model_copy(update={"tasks": {**state.tasks, task.id: fired}})


APPROVALS_KEPT = 50


def _approval_requested(state: BrainState, event: Event) -> BrainState:
    approval = Approval.model_validate({**event.payload, "requested_at": event.timestamp})
    approvals = {**state.approvals, approval.id: approval}
    done = [a.id for a in approvals.values() if a.status != "pending"]
    for old in done[: max(len(done) - APPROVALS_KEPT, 0)]:
        del approvals[old]
    return state.model_copy(update={"approvals": approvals})


def _approval_resolved(state: BrainState, event: Event) -> BrainState:
    p = ApprovalResolvedPayload.model_validate(event.payload)
    return _resolve(
        state,
        p.approval_id,
        {
            "status": "approved" if p.decision == "approve" else "rejected",
            "resolved_at": event.timestamp,
            "decided_by": p.decided_by,
            "always": p.always,
        },
    )


def _approval_expired(state: BrainState, event: Event) -> BrainState:
    p = ApprovalExpiredPayload.model_validate(event.payload)
    return _resolve(state, p.approval_id, {"status": "expired", "resolved_at": event.timestamp})


def _resolve(state: BrainState, approval_id: str, changes: dict[str, Any]) -> BrainState:
    approval = state.approvals.get(approval_id)
    if approval is None or approval.status != "pending":
        return state
    resolved = approval.model_copy(update=changes)
    return state.model_copy(update={"approvals": {**state.approvals, approval_id: resolved}})


def _task_created(state: BrainState, event: Event) -> BrainState:
    task = Task.model_validate(event.payload)
    if task.id in state.tasks:
        return state
    task = task.model_copy(update={"created_at": event.timestamp, "updated_at": event.timestamp})
    tasks = {**state.tasks, task.id: task}
    return state.model_copy(update={"tasks": _cap_tasks(tasks)})


def _cap_tasks(tasks: dict[str, Task]) -> dict[str, Task]:
    """Past the cap, the oldest completed tasks leave first, then the oldest open ones."""
    excess = len(tasks) - TASKS_HARD_LIMIT
    if excess <= 0:
        return tasks
    order = sorted(
        tasks.values(),
        key=lambda t: (t.status != "done", t.updated_at or datetime.min.replace(tzinfo=UTC)),
    )
    drop = {t.id for t in order[:excess]}
    return {k: v for k, v in tasks.items() if k not in drop}


def _task_updated(state: BrainState, event: Event) -> BrainState:
    p = TaskUpdatedPayload.model_validate(event.payload)
    task = state.tasks.get(p.id)
    if task is None:
        return state
    changes = p.changes.model_dump(exclude_none=True, exclude={"clear_due", "clear_remind_at"})
    if p.changes.clear_due:
        changes["due"] = None
    if p.changes.clear_remind_at:
        changes["remind_at"] = None
    if "remind_at" in changes:
        changes["reminded_at"] = None  # re-armed (a snooze) or cleared
    if changes.get("status") == "done" and task.status != "done":
        changes["completed_at"] = event.timestamp
    elif changes.get("status") == "open":
        changes["completed_at"] = None
    changes["updated_at"] = event.timestamp
    return state.model_copy(
        update={"tasks": {**state.tasks, p.id: task.model_copy(update=changes)}}
    )


def _task_deleted(state: BrainState, event: Event) -> BrainState:
    p = TaskDeletedPayload.model_validate(event.payload)
    if p.id not in state.tasks:
        return state
    return state.model_copy(update={"tasks": {k: v for k, v in state.tasks.items() if k != p.id}})


def _preference_set(state: BrainState, event: Event) -> BrainState:
    p = PreferenceSetPayload.model_validate(event.payload)
    prefs = {k: v for k, v in state.preferences.items() if k != p.key}
    if p.value is not None:
        prefs[p.key] = p.value
    return state.model_copy(update={"preferences": prefs})


def _memory_pinned(state: BrainState, event: Event) -> BrainState:
    mem = Memory.model_validate(event.payload)
    mem = mem.model_copy(update={"created_at": mem.created_at or event.timestamp})
    # One memory per key: pinning a key again replaces the earlier value.
    memories = {k: v for k, v in state.memories.items() if v.key != mem.key or k == mem.id}
    memories[mem.id] = mem
    return state.model_copy(update={"memories": memories})


def _memory_unpinned(state: BrainState, event: Event) -> BrainState:
    p = MemoryUnpinnedPayload.model_validate(event.payload)
    return state.model_copy(
        update={"memories": {k: v for k, v in state.memories.items() if k != p.id}}
    )


def _calendar_synced(state: BrainState, event: Event) -> BrainState:
    p = CalendarSyncedPayload.model_validate(event.payload)
    calendar = {k: v for k, v in state.calendar.items() if k not in set(p.deletes)}
    for ev in p.upserts:
        calendar[ev.id] = ev
    window = p.window or state.calendar_window
    if window is not None:
        # Bounded: events that ended before the window or start after it leave the state.
        calendar = {
            k: v for k, v in calendar.items() if v.end >= window.start and v.start <= window.end
        }
    calendar = dict(sorted(calendar.items(), key=lambda kv: (kv[1].start, kv[0])))
    new = state.model_copy(update={"calendar": calendar, "calendar_window": window})
    return new.model_copy(update={"travel": derive_travel(new)})


def derive_travel(state: BrainState) -> list:
    """Travel events are a pure function of the warm calendar and the user's home."""
    home = state.preferences.get("home_airport") or state.preferences.get("home_city")
    return detect_travel(list(state.calendar.values()), home)


def _flights_searched(state: BrainState, event: Event) -> BrainState:
    search = FlightSearch.model_validate({**event.payload, "created_at": event.timestamp})
    kept = [s for s in state.flight_searches if s.search_id != search.search_id]
    kept = [*kept, search][-FLIGHT_SEARCHES_KEPT:]
    return state.model_copy(update={"flight_searches": kept})


def _flight_selected(state: BrainState, event: Event) -> BrainState:
    p = FlightSelectedPayload.model_validate(event.payload)
    searches = [
        s.model_copy(update={"selected_flight_id": p.flight_id})
        if s.search_id == p.search_id
        else s
        for s in state.flight_searches
    ]
    tasks = dict(state.tasks)
    for task in p.follow_up_tasks:
        if task.id not in tasks:
            tasks[task.id] = task.model_copy(
                update={"created_at": event.timestamp, "updated_at": event.timestamp}
            )
    return state.model_copy(update={"flight_searches": searches, "tasks": _cap_tasks(tasks)})


def _tasks_archived(state: BrainState, event: Event) -> BrainState:
    gone = set(TasksArchivedPayload.model_validate(event.payload).ids)
    return state.model_copy(
        update={"tasks": {k: v for k, v in state.tasks.items() if k not in gone}}
    )


def _messages_archived(state: BrainState, event: Event) -> BrainState:
    p = MessagesArchivedPayload.model_validate(event.payload)
    ids = set(p.ids)
    kept = [m for m in state.messages if m.id not in ids]
    removed = len(state.messages) - len(kept)
    counters = state.counters.model_copy(
        update={"messages_archived": state.counters.messages_archived + removed}
    )
    return state.model_copy(update={"messages": kept, "counters": counters})


_HANDLERS: dict[str, Handler] = {
    "user.message": _user_message,
    "assistant.message": _assistant_message,
    "task.created": _task_created,
    "task.updated": _task_updated,
    "task.deleted": _task_deleted,
    "preference.set": _preference_set,
    "memory.pinned": _memory_pinned,
    "memory.unpinned": _memory_unpinned,
    "calendar.synced": _calendar_synced,
    "flights.searched": _flights_searched,
    "flight.selected": _flight_selected,
    "messages.archived": _messages_archived,
    "reminder.due": _reminder_due,
    "approval.requested": _approval_requested,
    "approval.resolved": _approval_resolved,
    "approval.expired": _approval_expired,
    "branch.activated": _branch_activated,
    "message.regenerated": _message_regenerated,
    "tasks.archived": _tasks_archived,
}
