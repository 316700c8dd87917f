"""Busy time on travel dates, for conflict-aware flight ranking (pure).

The warm calendar stores instants in UTC; a flight's times are local to its airports. So
events are turned into the local time of the airport the flight leaves from (outbound: the
origin, return: the destination) before the ranker compares wall-clock times, and an
event counts on a travel date when any part of it falls on that local date (a three-day
conference covers its middle day too). All-day events (trips, holidays) are not busy
blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcos.kernel.models import CalendarEvent


def _zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local_dates(event: CalendarEvent, zone: tzinfo) -> tuple[date, date]:
    start = event.start.astimezone(zone)
    end = event.end.astimezone(zone)
    if end > start:
        end -= timedelta(microseconds=1)  # an event ending at midnight ends the day before
    return start.date(), end.date()


def busy_on_dates(
    events: Iterable[CalendarEvent], days: Iterable[tuple[str | None, str | None]]
) -> list[list[str]]:
    """``[[start, end], …]`` ISO datetimes (in the given zone) of the timed events touching
    each ``(YYYY-MM-DD date, IANA zone)`` in ``days``; sorted, without repeats."""
    wanted = [(date.fromisoformat(d), _zone(tz)) for d, tz in days if d]
    out: set[tuple[str, str]] = set()
    for event in events:
        if event.all_day:
            continue
        for day, zone in wanted:
            first, last = _local_dates(event, zone)
            if first <= day <= last:
                out.add(
                    (
                        event.start.astimezone(zone).isoformat(),
                        event.end.astimezone(zone).isoformat(),
                    )
                )
    return [list(pair) for pair in sorted(out)]


def airport_zone(code: object) -> str | None:
    """The IANA zone of an airport code, or ``None`` when unknown."""
    if not isinstance(code, str) or not code:
        return None
    from mcos.flights.airports import airport_by_code

    airport = airport_by_code(code)
    return airport.tz if airport is not None else None
