"""Calendar: connect a source (a per-user sync schedule), see its status, add events by hand.

ICS safety rule (see ``calendar_sync.location``): URLs must be http(s) (or webcal); file
paths are only read inside the server's calendar directory (``MCOS_CALENDAR_ICS_DIR``,
default ``data/calendars``), so a remote user cannot make the server read other files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, status

from app.deps import AppSettings, Brain, Calendar, CurrentUser, RequestId
from app.schemas import CalendarEventIn, CalendarSourceIn
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.events import overlaps
from mcos.calendar.location import check_ics_location
from mcos.calendar.window import sync_window
from mcos.kernel.contracts import CalendarSource
from mcos.kernel.errors import NotFoundError, ValidationFailed
from mcos.kernel.ids import new_id
from mcos.kernel.models import CalendarEvent, CalendarSyncedPayload
from mcos.kernel.settings import Settings
from workflows.client import BrainClient, make_event
from workflows.schedules import source_view

router = APIRouter(prefix="/calendar", tags=["calendar"])


@router.post("/source", status_code=status.HTTP_201_CREATED)
async def connect_source(
    body: CalendarSourceIn,
    user: CurrentUser,
    calendar: Calendar,
    brain: Brain,
    settings: AppSettings,
    request_id: RequestId,
) -> dict:
    """Connect an ICS feed or Google Calendar: creates (or replaces) the sync schedule and
    starts a first sync."""
    source = _source_from(body, settings)
    previous = await calendar.connect(user.user_id, source)
    if previous is not None and previous.name != source.name:
        await _forget_source(brain, user.user_id, previous.name, request_id)
    desc = await calendar.describe(user.user_id)
    return {
        "source": source_view(source),
        "schedule_id": desc.id if desc else None,
        "interval_minutes": settings.calendar_sync_interval_minutes,
        "first_sync": "started",
        "replaced": source_view(previous) if previous else None,
    }


@router.delete("/source")
async def disconnect_source(
    user: CurrentUser, calendar: Calendar, brain: Brain, request_id: RequestId
) -> dict:
    """Disconnect the calendar: deletes the sync schedule and that source's events."""
    source = await calendar.disconnect(user.user_id)
    if source is None:
        raise NotFoundError("no calendar source is connected")
    removed = await _forget_source(brain, user.user_id, source.name, request_id)
    return {"disconnected": source_view(source), "events_removed": removed}


@router.get("/status")
async def get_calendar_status(user: CurrentUser, calendar: Calendar, brain: Brain) -> dict:
    """The connected source, its last sync (result, counts, error) and the next run."""
    found = await calendar.status(user.user_id)
    state = await brain.snapshot(user.user_id)
    by_source: dict[str, int] = {}
    for event in state.calendar.values():
        by_source[event.source] = by_source.get(event.source, 0) + 1
    window = state.calendar_window
    return {
        **found,
        "events_in_brain": by_source,
        "travel_events": len(state.travel),
        "window": window.model_dump(mode="json") if window else None,
    }


@router.post("/event", status_code=status.HTTP_201_CREATED)
async def add_calendar_event(
    body: CalendarEventIn,
    user: CurrentUser,
    brain: Brain,
    settings: AppSettings,
    request_id: RequestId,
) -> dict:
    """Add an event to the warm calendar by hand."""
    start = _aware(body.start)
    if body.all_day:
        start = datetime.combine(start.date(), datetime.min.time(), tzinfo=UTC)
    end = _aware(body.end) if body.end else start + timedelta(days=1 if body.all_day else 0)
    if end < start:
        raise ValidationFailed("end is before start")
    event = CalendarEvent(
        id=new_id("cal"),
        source="api",
        title=body.title,
        start=start,
        end=end,
        all_day=body.all_day,
        location=body.location,
        description=body.description,
    )
    window = sync_window(
        datetime.now(UTC), settings.calendar_days_back, settings.calendar_days_ahead
    )
    if not overlaps(event, window):
        raise ValidationFailed(
            "the event is outside the calendar window kept warm",
            {"window": window.model_dump(mode="json")},
        )
    payload = CalendarSyncedPayload(source="api", upserts=[event], window=window)
    result = await brain.command(
        user.user_id,
        "add_calendar_event",
        make_event(
            "calendar.synced", payload.model_dump(mode="json"), request_id, body.client_action_id
        ),
    )
    return {
        "event": event.model_dump(mode="json"),
        "seq": result.seq,
        "duplicate": result.duplicate,
    }


def _source_from(body: CalendarSourceIn, settings: Settings) -> CalendarSource:
    if body.kind == "google":
        if body.url or body.path:
            raise ValidationFailed("a google source takes calendar_id, not url or path")
        return CalendarSource(kind="google", calendar_id=body.calendar_id)
    if (body.url is None) == (body.path is None):
        raise ValidationFailed("an ics source takes exactly one of url or path")
    if body.url is not None and urlsplit(body.url).scheme.lower() not in (
        "http",
        "https",
        "webcal",
    ):
        raise ValidationFailed("url must be http(s) (or webcal); local files go in path")
    try:
        location = check_ics_location(
            body.url or body.path or "", settings.ics_dir, production=settings.production
        )
    except CalendarSourceError as err:
        raise ValidationFailed(err.message) from None
    if body.path is not None and not Path(location).is_file():
        raise ValidationFailed(f"no ICS file {body.path!r} in the calendar directory")
    return CalendarSource(kind="ics", location=location)


async def _forget_source(brain: BrainClient, user_id: str, source: str, request_id: str) -> int:
    """Remove a disconnected source's events from the brain (one event, or none)."""
    state = await brain.snapshot(user_id)
    ids = sorted(k for k, v in state.calendar.items() if v.source == source)
    if not ids:
        return 0
    payload = CalendarSyncedPayload(source=source, deletes=ids)
    await brain.command(
        user_id,
        "add_calendar_event",
        make_event("calendar.synced", payload.model_dump(mode="json"), request_id),
    )
    return len(ids)


def _aware(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
