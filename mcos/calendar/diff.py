"""What changed between the brain's copy of a source's events and a fresh fetch."""

from __future__ import annotations

from mcos.calendar.events import overlaps
from mcos.kernel.models import CalendarEvent, CalendarWindow


def diff_calendar(
    current: dict[str, CalendarEvent],
    fetched: list[CalendarEvent],
    window: CalendarWindow,
    source: str,
) -> tuple[list[CalendarEvent], list[str]]:
    """``(upserts, deletes)`` turning ``current`` into the fetched state for ``source``.

    ``upserts``: fetched events that are new or differ in any field (sorted by start, id).
    ``deletes``: ids of ``current`` events of this ``source`` overlapping ``window`` that the
    fetch no longer has (sorted). Events of other sources and events outside the window are
    never deleted. An unchanged calendar gives ``([], [])``.
    """
    latest: dict[str, CalendarEvent] = {}
    for event in fetched:
        latest[event.id] = event  # a repeated id: the last one wins

    upserts = [event for event_id, event in latest.items() if current.get(event_id) != event]
    deletes = [
        event_id
        for event_id, event in current.items()
        if event.source == source and event_id not in latest and overlaps(event, window)
    ]
    upserts.sort(key=lambda e: (e.start, e.id))
    deletes.sort()
    return upserts, deletes
