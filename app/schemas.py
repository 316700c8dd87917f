"""Request bodies of the REST API: strict, bounded, documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mcos.kernel.contracts import CalendarSyncStatus
from mcos.kernel.models import KEY_PATTERN, MAX_TEXT_BYTES, CalendarEvent, CalendarWindow

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


class MessageAccepted(BaseModel):
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


class CalendarSourceView(BaseModel):
    """A connected source as shown: an ICS URL keeps only its scheme and host."""

    kind: Literal["ics", "google"]
    location: str | None = None
    calendar_id: str | None = None


class CalendarSourceConnected(BaseModel):
    source: CalendarSourceView
    schedule_id: str | None
    interval_minutes: int
    first_sync: Literal["started"] = "started"
    replaced: CalendarSourceView | None = None


class CalendarSourceDisconnected(BaseModel):
    disconnected: CalendarSourceView | None
    events_removed: int
    google_forgotten: bool = Field(description="the user's stored Google grant was deleted")
    google_revoked: bool = Field(description="Google confirmed the grant's revocation")


class CalendarSyncView(BaseModel):
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


class GoogleConnectionView(BaseModel):
    """Whose Google credentials this user's Google syncs use: their own connected account,
    the operator's (single-user mode, for the one user it names), or none."""

    connected: bool
    mode: Literal["own_account", "single_user"] | None = None
    connected_at: datetime | None = None
    refreshed_at: datetime | None = None
    scope: str | None = None


class CalendarStatus(BaseModel):
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


class CalendarEventAdded(BaseModel):
    event: CalendarEvent
    seq: int
    duplicate: bool


class GoogleConnectStarted(BaseModel):
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


class CommandAccepted(BaseModel):
    """A command the brain applied; a chat turn answering it streams over the WebSocket."""

    status: Literal["accepted"] = "accepted"
    event_id: str
    seq: int
    entity_id: str | None = None
    duplicate: bool = False
    request_id: str
    data: dict[str, Any] = Field(default_factory=dict)
