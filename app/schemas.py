"""Request bodies and answers of the REST API, documented in the OpenAPI schema.

Bodies are strict and bounded. Answers are :class:`~mcos.kernel.models.Record` models (every
field present, so required in the schema); the UI's wire types are generated from that
schema (``scripts/openapi-types``), so changing an answer here breaks the UI's ``tsc``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mcos.flights.models import FlightOption
from mcos.flights.rank import RankedFlight
from mcos.kernel.contracts import CalendarSyncStatus
from mcos.kernel.models import (
    KEY_PATTERN,
    MAX_TEXT_BYTES,
    Approval,
    CalendarEvent,
    CalendarWindow,
    Counters,
    Event,
    FlightSearch,
    Memory,
    Message,
    Record,
    Task,
    TravelEvent,
)

CLIENT_ACTION = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _text_bytes(value: str) -> str:
    if len(value.encode()) > MAX_TEXT_BYTES:
        raise ValueError(f"text over {MAX_TEXT_BYTES} bytes")
    return value


class MessageIn(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT_BYTES)
    client_action_id: str | None = CLIENT_ACTION
    channel: Literal["chat", "voice", "command"] = "chat"

    @field_validator("text")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return _text_bytes(value)


class MessageAccepted(Record):
    status: Literal["accepted"] = "accepted"
    message_id: str
    event_id: str
    request_id: str
    duplicate: bool = False


class TaskIn(Body):
    title: str = Field(min_length=1, max_length=500)
    due: datetime | None = None
    remind_at: datetime | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    priority: Literal["low", "normal", "high"] = "normal"
    tags: list[str] = Field(default_factory=list, max_length=20)
    notes: str | None = Field(default=None, max_length=4000)
    client_action_id: str | None = CLIENT_ACTION


class TaskPatch(Body):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    due: datetime | None = None
    clear_due: bool = False
    remind_at: datetime | None = None
    clear_remind_at: bool = False
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    priority: Literal["low", "normal", "high"] | None = None
    status: Literal["open", "done"] | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    notes: str | None = Field(default=None, max_length=4000)
    client_action_id: str | None = CLIENT_ACTION


class MemoryIn(Body):
    key: str = Field(pattern=KEY_PATTERN)
    value: str = Field(min_length=1, max_length=2000)
    type: Literal["fact", "preference", "note"] = "fact"
    client_action_id: str | None = CLIENT_ACTION


PreferenceValue = str | int | float | bool | list[str] | None


class PreferencesPatch(BaseModel):
    """``{"key": value, …}``; a ``null`` value removes the preference."""

    model_config = ConfigDict(extra="allow")

    def items(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DevTokenIn(Body):
    user_id: str = Field(pattern=r"^[A-Za-z0-9_.@:-]{1,128}$")


CALENDAR_ID_PATTERN = r"^[A-Za-z0-9_.@#:+-]+$"
CALENDAR_ID = Field(default="primary", min_length=1, max_length=256, pattern=CALENDAR_ID_PATTERN)


class CalendarSourceIn(Body):
    """``{"kind": "ics", "url": …}`` or ``{"kind": "ics", "path": …}`` (a file under the
    server's calendar directory) or ``{"kind": "google", "calendar_id": "primary"}``."""

    kind: Literal["ics", "google"]
    url: str | None = Field(default=None, max_length=2048)
    path: str | None = Field(default=None, max_length=1024)
    calendar_id: str = CALENDAR_ID


class CalendarEventIn(Body):
    title: str = Field(min_length=1, max_length=500)
    start: datetime
    end: datetime | None = None  # None: same as start (timed) or one day (all-day)
    all_day: bool = False
    location: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    client_action_id: str | None = CLIENT_ACTION


class CalendarSourceView(Record):
    """A connected source as shown: an ICS URL keeps only its scheme and host."""

    kind: Literal["ics", "google"]
    location: str | None = None
    calendar_id: str | None = None


class CalendarSourceConnected(Record):
    source: CalendarSourceView
    schedule_id: str | None
    interval_minutes: int
    first_sync: Literal["started"] = "started"
    replaced: CalendarSourceView | None = None


class CalendarSourceDisconnected(Record):
    disconnected: CalendarSourceView | None
    events_removed: int
    google_forgotten: bool = Field(description="the user's stored Google grant was deleted")
    google_revoked: bool = Field(description="Google confirmed the grant's revocation")


class CalendarSyncView(Record):
    """One sync run's result (``refused``: the URL or a redirect led to an internal
    address)."""

    status: CalendarSyncStatus
    synced_at: datetime
    window: CalendarWindow | None = None
    fetched: int = 0
    upserts: int = 0
    deletes: int = 0
    changed: bool = False
    event_id: str | None = None
    error: str | None = None
    workflow_id: str | None = None


class GoogleConnectionView(Record):
    """Whose Google credentials this user's Google syncs use: their own connected account,
    the operator's (single-user mode, for the one user it names), or none."""

    connected: bool
    mode: Literal["own_account", "single_user"] | None = None
    connected_at: datetime | None = None
    refreshed_at: datetime | None = None
    scope: str | None = None


class CalendarStatus(Record):
    connected: bool
    schedule_id: str | None = None
    source: CalendarSourceView | None = None
    interval_minutes: int | None = None
    paused: bool | None = None
    running: bool | None = None
    next_run: datetime | None = None
    runs: int | None = None
    runs_skipped_overlap: int | None = None
    last_sync: CalendarSyncView | None = None
    events_in_brain: dict[str, int]
    travel_events: int
    window: CalendarWindow | None = None
    google: GoogleConnectionView


class CalendarEventAdded(Record):
    event: CalendarEvent
    seq: int
    duplicate: bool


class GoogleConnectStarted(Record):
    """Send the browser to ``authorization_url`` (Google's consent screen) from the page
    that made this request: the consent finishes only in that browser, within
    ``expires_at``."""

    authorization_url: str
    expires_at: datetime


class FlightSearchIn(Body):
    """A direct flight search; ``origin`` defaults to the user's home airport."""

    origin: str | None = Field(default=None, min_length=2, max_length=100)
    destination: str = Field(min_length=2, max_length=100)
    departure_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    return_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    cabin_class: Literal["economy", "premium_economy", "business", "first"] | None = None
    adults: int = Field(default=1, ge=1, le=9)
    max_connections: int | None = Field(default=None, ge=0, le=3)


class SnoozeIn(Body):
    minutes: int = Field(ge=1, le=60 * 24 * 7)


class ApprovalAnswer(Body):
    decision: Literal["approve", "reject"]
    always: bool = False


class EditIn(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT_BYTES)

    @field_validator("text")
    @classmethod
    def _bounded(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return _text_bytes(value)


class CommandAccepted(Record):
    """A command the brain applied; a chat turn answering it streams over the WebSocket."""

    status: Literal["accepted"] = "accepted"
    event_id: str
    seq: int
    entity_id: str | None = None
    duplicate: bool = False
    request_id: str
    data: dict[str, Any] = Field(default_factory=dict)


# --- answers ---------------------------------------------------------------------------


class Health(Record):
    status: Literal["ok"] = "ok"


class ReadinessChecks(Record):
    temporal: bool
    worker: bool


class Readiness(BaseModel):
    """``ready`` (200) or ``not_ready`` (503, with ``reasons``: why). Not a ``Record``:
    ``reasons`` is left out when ready, so the schema does not require it."""

    status: Literal["ready", "not_ready"]
    checks: ReadinessChecks
    reasons: dict[str, str] | None = None


class AuthConfig(Record):
    """The sign-in the UI should offer."""

    mode: Literal["dev", "production"]
    provider: Literal["clerk", "auth0", "cloudflare"] | None


class DevToken(Record):
    token: str
    user_id: str


class CancelAccepted(Record):
    status: Literal["accepted"] = "accepted"
    request_id: str


class BranchPosition(Record):
    """A message's place among its siblings (regenerated replies, edits), oldest first."""

    index: int
    count: int


class StateMessage(Message):
    """A message of the active branch, as ``/state`` and the message frames show it."""

    branch: BranchPosition


class HistoryMessage(Message):
    """A message of ``/history``; ``archived``: read from the SQL archive."""

    archived: bool = False


class StateSnapshot(Record):
    """The brain's state as clients see it: lists instead of id-keyed maps, the active
    branch only, open tasks first."""

    user_id: str
    seq: int
    messages: list[StateMessage]
    active_leaf: str | None
    tasks: list[Task]
    due_reminders: list[Task]
    approvals: list[Approval] = Field(description="the pending ones")
    preferences: dict[str, Any]
    memories: list[Memory]
    calendar: list[CalendarEvent]
    calendar_window: CalendarWindow | None
    travel: list[TravelEvent]
    flight_searches: list[FlightSearch]
    counters: Counters


class StateDelta(Record):
    """The events after ``since``, or a ``snapshot`` when they left the brain's window."""

    since: int
    seq: int
    events: list[Event]
    snapshot: StateSnapshot | None


class HistoryPage(Record):
    """Newest first; ``next_before``: the ``before`` of the next (older) page, if any."""

    messages: list[HistoryMessage]
    next_before: str | None


class TaskList(Record):
    tasks: list[Task]


class ArchivedTaskView(Task):
    archived: bool = True


class ArchivedTaskList(Record):
    tasks: list[ArchivedTaskView]


class TaskCreated(Record):
    task: Task | None
    task_id: str | None
    seq: int
    duplicate: bool


class TaskChanged(Record):
    task: Task | None
    seq: int
    duplicate: bool


class Deleted(Record):
    deleted: str = Field(description="the id of what was deleted")
    seq: int


class PreferencesView(Record):
    preferences: dict[str, Any]


class MemoryList(Record):
    memories: list[Memory]


class MemoryPinned(Record):
    memory: Memory | None
    memory_id: str | None
    seq: int


class RankedOption(FlightOption):
    """A flight option with its place in the ranking."""

    rank: int | None
    score: float | None
    reasoning: str | None


class RankedSearch(Record):
    search_id: str
    request: dict[str, Any]
    selected_flight_id: str | None
    options: list[RankedOption] = Field(description="best first")


class TripSuggestion(Record):
    travel: TravelEvent
    flights: RankedSearch | None = Field(description="the newest search matching the trip")


class TravelSuggestions(Record):
    trips: list[TripSuggestion]
    latest_search: RankedSearch | None


class FlightChosen(Record):
    search_id: str
    flight_id: str
    seq: int
    follow_up_tasks: list[Task]


class FlightSearchResult(Record):
    """A direct search: the top options (full) with their ranking."""

    ok: bool
    search_id: str
    request: dict[str, Any]
    count: int = Field(description="options found (before the top ones were taken)")
    options: list[FlightOption]
    ranking: list[RankedFlight]
    message: str


class ArchivedMessageRow(Record):
    id: str
    seq: int
    role: str
    text: str
    created_at: datetime
    data: dict[str, Any]


class ProfileBackupView(Record):
    seq: int
    preferences: dict[str, Any]
    memories: list[dict[str, Any]]
    updated_at: datetime


class GoogleGrantView(Record):
    """The user's Google connection; the refresh token itself stays encrypted on the server."""

    connected_at: datetime
    refreshed_at: datetime | None
    scope: str


class ScheduleView(Record):
    id: str
    paused: bool
    note: str | None
    next_action_times: list[datetime]


class UserExport(Record):
    """Everything stored about the user."""

    user_id: str
    exported_at: datetime
    state: StateSnapshot
    events: list[Event] = Field(description="the brain's event window")
    archived_messages: list[ArchivedMessageRow]
    profile_backup: ProfileBackupView | None
    google_connection: GoogleGrantView | None
    calendar_schedule: ScheduleView | None


class AccountErased(Record):
    erased: bool
    runs_deleted: int
    calendar_runs_deleted: int
    schedules_deleted: int
    sql_rows_deleted: int


# --- errors ------------------------------------------------------------------------------


class ErrorInfo(Record):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str = Field(description="safe to show to the user")
    details: dict[str, Any]


class ErrorBody(Record):
    """The one error body of every failed request."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorInfo
    request_id: str | None


class RateLimitDetails(Record):
    model_config = ConfigDict(extra="forbid")

    limit_type: str
    limit: int
    current: int
    reset_at: int = Field(description="epoch seconds")
    retry_after: int = Field(description="seconds")


class RateLimitInfo(Record):
    model_config = ConfigDict(extra="forbid")

    code: Literal["rate_limited"]
    message: str
    details: RateLimitDetails


class RateLimitedBody(Record):
    """429: the error body with the limit's state in ``details``."""

    model_config = ConfigDict(extra="forbid")

    error: RateLimitInfo
    request_id: str | None
