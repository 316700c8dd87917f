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
    }
)

MAX_TEXT_BYTES = 8192
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
ClientActionId = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Event(BaseModel):
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


class AssistantMessagePayload(Strict):
    message_id: str
    text: str
    operation_id: str
    status: Literal["completed", "interrupted", "failed"] = "completed"
    tokens_prompt: int = 0
    tokens_completion: int = 0
    reply_to: str | None = None
    cards: list[dict[str, Any]] = Field(default_factory=list)


Priority = Literal["low", "normal", "high"]
TaskStatus = Literal["open", "done"]


class Task(BaseModel):
    id: str = Field(pattern=r"^task_[0-9a-f]{32}$")
    title: str = Field(min_length=1, max_length=500)
    due: datetime | None = None
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


class Memory(BaseModel):
    id: str = Field(pattern=r"^mem_[0-9a-f]{32}$")
    type: Literal["fact", "preference", "note"] = "fact"
    key: str = Field(pattern=KEY_PATTERN)
    value: str = Field(min_length=1, max_length=2000)
    created_at: datetime | None = None


class MemoryUnpinnedPayload(Strict):
    id: str = Field(pattern=r"^mem_[0-9a-f]{32}$")


class CalendarEvent(BaseModel):
    id: str = Field(min_length=1, max_length=300)
    source: str = "api"
    title: str = Field(default="", max_length=500)
    start: datetime
    end: datetime
    all_day: bool = False
    location: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=4000)


class CalendarWindow(BaseModel):
    start: datetime
    end: datetime


class CalendarSyncedPayload(BaseModel):
    source: str
    upserts: list[CalendarEvent] = Field(default_factory=list)
    deletes: list[str] = Field(default_factory=list)
    window: CalendarWindow | None = None


class TravelEvent(BaseModel):
    id: str
    calendar_event_id: str
    title: str
    destination: str | None = None  # city name or IATA code
    start_date: date
    end_date: date
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list)


class FlightSearch(BaseModel):
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


class MessagesArchivedPayload(Strict):
    ids: list[str]
    count: int


# --- state ----------------------------------------------------------------------------


class Message(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: datetime
    seq: int = 0
    channel: str = "chat"
    status: str = "completed"
    operation_id: str | None = None
    client_action_id: str | None = None
    tokens_prompt: int = 0
    tokens_completion: int = 0
    cards: list[dict[str, Any]] = Field(default_factory=list)


class Usage(BaseModel):
    """Per-UTC-day usage the brain enforces limits on."""

    day: str = ""
    tokens: int = 0
    flight_searches: int = 0
    writes: int = 0


class Counters(BaseModel):
    events_applied: int = 0
    duplicates_dropped: int = 0
    messages_total: int = 0
    messages_archived: int = 0
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
    counters: Counters = Field(default_factory=Counters)
    last_event_id: str | None = None
    last_activity: datetime | None = None


__all__ = [name for name in dir() if not name.startswith("_")] + ["ID_PATTERN"]
