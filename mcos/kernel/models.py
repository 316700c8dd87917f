"""Shared data: the event envelope, the brain's state and the payloads of each event type.

These models are the contract between ``app/``, ``workflows/`` and ``activities/``; they
travel through Temporal with the pydantic data converter, so only add fields with defaults.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcos.kernel.ids import ID_PATTERN

EventType = Literal[
    "user.message",
    "assistant.message",
    "task.created",
    "task.updated",
    "task.deleted",
    "preference.set",
    "memory.pinned",
    "memory.unpinned",
    "calendar.synced",
    "flights.searched",
    "flight.selected",
    "messages.archived",
    # second tranche
    "reminder.due",
    "approval.requested",
    "approval.resolved",
    "approval.expired",
    "branch.activated",
    "message.regenerated",
    "tasks.archived",
]

# Events a user (or their client) causes; they count against the daily write limit.
USER_WRITE_TYPES: frozenset[str] = frozenset(
    {
        "user.message",
        "task.created",
        "task.updated",
        "task.deleted",
        "preference.set",
        "memory.pinned",
        "memory.unpinned",
        "flight.selected",
        "approval.resolved",
        "branch.activated",
        "message.regenerated",
    }
)

MAX_TEXT_BYTES = 8192
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
ClientActionId = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """A model clients read (API answers, frames). Every field is always serialized, so its
    JSON schema in serialization mode (the OpenAPI answers) lists fields with defaults as
    required; validation, input schemas and histories are unaffected."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Event(Record):
    """The envelope every state change travels in; ``seq`` is assigned by the brain."""

    event_id: str = Field(pattern=r"^evt_[0-9a-f]{32}$")
    type: EventType
    payload: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime
    request_id: str | None = None
    client_action_id: str | None = Field(default=None, max_length=128)
    seq: int = 0


# --- payloads -------------------------------------------------------------------------


class UserMessagePayload(Strict):
    message_id: str = Field(pattern=r"^msg_[0-9a-f]{32}$")
    text: str = Field(min_length=1, max_length=MAX_TEXT_BYTES)
    channel: Literal["chat", "voice", "command"] = "chat"
    context_ids: list[str] = Field(default_factory=list, max_length=20)
    # an edit: the message whose sibling this is (None: a reply to the active branch)
    edit_of: str | None = Field(default=None, pattern=r"^msg_[0-9a-f]{32}$")


MessageStatus = Literal["completed", "interrupted", "failed", "truncated", "awaiting_approval"]


class AssistantMessagePayload(Strict):
    message_id: str
    text: str
    operation_id: str
    status: MessageStatus = "completed"
    tokens_prompt: int = 0
    tokens_completion: int = 0
    tokens_billed: int | None = None  # of the daily budget (None: prompt + completion)
    reply_to: str | None = None
    after: str | None = None  # the message it follows, when not ``reply_to`` (an approval's)
    cards: list[dict[str, Any]] = Field(default_factory=list)


Priority = Literal["low", "normal", "high"]
TaskStatus = Literal["open", "done"]


class Task(Record):
    id: str = Field(pattern=r"^task_[0-9a-f]{32}$")
    title: str = Field(min_length=1, max_length=500)
    due: datetime | None = None
    remind_at: datetime | None = None  # the brain's timer fires `reminder.due` then
    reminded_at: datetime | None = None  # when the reminder fired (until re-armed)
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    priority: Priority = "normal"
    status: TaskStatus = "open"
    tags: list[str] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=4000)
    source: Literal["api", "chat", "flight", "calendar"] = "api"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None


class TaskChanges(Strict):
    """Fields a ``task.updated`` event may change; ``None`` means unchanged."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    due: datetime | None = None
    clear_due: bool = False
    remind_at: datetime | None = None
    clear_remind_at: bool = False
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    priority: Priority | None = None
    status: TaskStatus | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=4000)


class TaskUpdatedPayload(Strict):
    id: str = Field(pattern=r"^task_[0-9a-f]{32}$")
    changes: TaskChanges


class TaskDeletedPayload(Strict):
    id: str = Field(pattern=r"^task_[0-9a-f]{32}$")


class PreferenceSetPayload(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    value: Any = None  # None removes the preference


class Memory(Record):
    id: str = Field(pattern=r"^mem_[0-9a-f]{32}$")
    type: Literal["fact", "preference", "note"] = "fact"
    key: str = Field(pattern=KEY_PATTERN)
    value: str = Field(min_length=1, max_length=2000)
    created_at: datetime | None = None


class MemoryUnpinnedPayload(Strict):
    id: str = Field(pattern=r"^mem_[0-9a-f]{32}$")


class CalendarEvent(Record):
    id: str = Field(min_length=1, max_length=300)
    source: str = "api"
    title: str = Field(default="", max_length=500)
    start: datetime
    end: datetime
    all_day: bool = False
    location: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=4000)


class CalendarWindow(Record):
    start: datetime
    end: datetime


class CalendarSyncedPayload(BaseModel):
    source: str
    upserts: list[CalendarEvent] = Field(default_factory=list)
    deletes: list[str] = Field(default_factory=list)
    window: CalendarWindow | None = None


class TravelEvent(Record):
    id: str
    calendar_event_id: str
    title: str
    destination: str | None = None  # city name or IATA code
    start_date: date
    end_date: date
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list)


class FlightSearch(Record):
    search_id: str
    request: dict[str, Any] = Field(default_factory=dict)
    options: list[dict[str, Any]] = Field(default_factory=list)
    ranking: list[dict[str, Any]] = Field(default_factory=list)
    tool_invocation_id: str | None = None
    created_at: datetime | None = None
    selected_flight_id: str | None = None


class FlightSelectedPayload(Strict):
    search_id: str
    flight_id: str
    follow_up_tasks: list[Task] = Field(default_factory=list)


class ReminderDuePayload(Strict):
    task_id: str = Field(pattern=r"^task_[0-9a-f]{32}$")
    remind_at: datetime


ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


class Approval(Record):
    """A tool call waiting for the user's yes or no (``apr_…``)."""

    id: str = Field(pattern=r"^apr_[0-9a-f]{32}$")
    operation_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    summary: str = Field(max_length=500)
    reply_to: str  # the user message of the turn that asked
    message_id: str | None = None  # the assistant message that asked (the turn's reply)
    requested_at: datetime | None = None
    expires_at: datetime
    status: ApprovalStatus = "pending"
    resolved_at: datetime | None = None
    decided_by: str | None = None  # which client answered (request id / channel)
    always: bool = False


class ApprovalResolvedPayload(Strict):
    approval_id: str = Field(pattern=r"^apr_[0-9a-f]{32}$")
    decision: Literal["approve", "reject"]
    always: bool = False
    decided_by: str | None = Field(default=None, max_length=128)


class ApprovalExpiredPayload(Strict):
    approval_id: str = Field(pattern=r"^apr_[0-9a-f]{32}$")


class MessageRegeneratedPayload(Strict):
    message_id: str = Field(pattern=r"^msg_[0-9a-f]{32}$")  # the assistant message redone


class BranchActivatedPayload(Strict):
    message_id: str = Field(pattern=r"^msg_[0-9a-f]{32}$")
    descend: bool = True  # show the newest branch under it (False: stop at the message)


class TasksArchivedPayload(Strict):
    ids: list[str]


class MessagesArchivedPayload(Strict):
    ids: list[str]
    count: int


# --- state ----------------------------------------------------------------------------


class Message(Record):
    id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: datetime
    seq: int = 0
    parent_id: str | None = None  # the message before it on its branch (the message tree)
    reply_to: str | None = None  # an assistant message: the user message it answers
    channel: str = "chat"
    status: str = "completed"
    operation_id: str | None = None
    client_action_id: str | None = None
    tokens_prompt: int = 0
    tokens_completion: int = 0
    cards: list[dict[str, Any]] = Field(default_factory=list)


class Usage(Record):
    """Per-UTC-day usage the brain enforces limits on."""

    day: str = ""
    tokens: int = 0
    flight_searches: int = 0
    writes: int = 0


class Counters(Record):
    events_applied: int = 0
    duplicates_dropped: int = 0
    invalid_dropped: int = 0  # signals that were not a valid event (malformed or refused)
    messages_total: int = 0
    messages_archived: int = 0
    turns: int = 0  # assistant replies recorded (a turn's number is this + 1)
    usage: Usage = Field(default_factory=Usage)


class BrainState(BaseModel):
    user_id: str
    seq: int = 0
    messages: list[Message] = Field(default_factory=list)
    tasks: dict[str, Task] = Field(default_factory=dict)
    preferences: dict[str, Any] = Field(default_factory=dict)
    memories: dict[str, Memory] = Field(default_factory=dict)
    calendar: dict[str, CalendarEvent] = Field(default_factory=dict)
    calendar_window: CalendarWindow | None = None
    travel: list[TravelEvent] = Field(default_factory=list)
    flight_searches: list[FlightSearch] = Field(default_factory=list)
    approvals: dict[str, Approval] = Field(default_factory=dict)
    active_leaf: str | None = None  # the newest message of the branch the user sees
    counters: Counters = Field(default_factory=Counters)
    last_event_id: str | None = None
    last_activity: datetime | None = None


__all__ = [name for name in dir() if not name.startswith("_")] + ["ID_PATTERN"]
