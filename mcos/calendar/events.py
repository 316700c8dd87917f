"""Helpers shared by the calendar sources: building bounded ``CalendarEvent``s and
window overlap."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time

from mcos.kernel.models import CalendarEvent, CalendarWindow

MAX_ID = 300
MAX_TITLE = 500
MAX_LOCATION = 500
MAX_DESCRIPTION = 4000


def midnight_utc(day: date) -> datetime:
    """All-day dates are stored as midnight UTC of that date (a calendar date, not an
    instant: ``start.date()`` gives the date back whatever the user's time zone)."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def bounded_id(event_id: str) -> str:
    """Keep ids within the model's 300 characters, deterministically."""
    if len(event_id) <= MAX_ID:
        return event_id
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return f"{event_id[: MAX_ID - 34]}#{digest}"


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_event(
    *,
    event_id: str,
    source: str,
    title: str | None,
    start: datetime,
    end: datetime,
    all_day: bool,
    location: str | None,
    description: str | None,
) -> CalendarEvent:
    """A ``CalendarEvent`` with text clipped to the model's limits and ``end >= start``."""
    return CalendarEvent(
        id=bounded_id(event_id),
        source=source,
        title=_clip(title, MAX_TITLE) or "",
        start=start,
        end=max(start, end),
        all_day=all_day,
        location=_clip(location, MAX_LOCATION),
        description=_clip(description, MAX_DESCRIPTION),
    )


def overlaps(event: CalendarEvent, window: CalendarWindow) -> bool:
    """Whether the event intersects ``[window.start, window.end)``; an instant event counts
    when it lies inside the window."""
    if event.end > event.start:
        return event.start < window.end and event.end > window.start
    return window.start <= event.start < window.end
