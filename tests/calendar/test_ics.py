from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.ics import fetch_ics, parse_ics
from mcos.kernel.models import CalendarWindow

from .conftest import MARCH, build_ics, vevent


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


W = "weekly-1@test@"
EXPECTED = {
    # weekly: 10:00 New York is 15:00Z before the 9 March DST switch, 14:00Z after;
    # 17 March is an EXDATE; 24 March moved to 25 March 13:00 EDT, keeping its id.
    W + "2025-03-03T15:00:00Z": (
        "Weekly sync",
        utc(2025, 3, 3, 15),
        utc(2025, 3, 3, 15, 30),
        False,
    ),
    W + "2025-03-10T14:00:00Z": (
        "Weekly sync",
        utc(2025, 3, 10, 14),
        utc(2025, 3, 10, 14, 30),
        False,
    ),
    W + "2025-03-24T14:00:00Z": (
        "Weekly sync (moved)",
        utc(2025, 3, 25, 17),
        utc(2025, 3, 25, 17, 30),
        False,
    ),
    W + "2025-03-31T14:00:00Z": (
        "Weekly sync",
        utc(2025, 3, 31, 14),
        utc(2025, 3, 31, 14, 30),
        False,
    ),
    "paris-trip@test": ("Trip to Paris", utc(2025, 3, 10), utc(2025, 3, 15), True),
    "kubecon@test": ("Cloud Native Conference", utc(2025, 3, 19, 9), utc(2025, 3, 21, 17), False),
    "tokyo-call@test": ("Call with Tokyo team", utc(2025, 3, 5, 0), utc(2025, 3, 5, 1), False),
    "custom-zone@test": ("Vendor review", utc(2025, 3, 7, 6, 30), utc(2025, 3, 7, 7, 30), False),
    "team-sync@test": ("Team sync", utc(2025, 3, 12, 17), utc(2025, 3, 12, 18), False),
    "dentist@test": ("Dentist", utc(2025, 3, 13, 9), utc(2025, 3, 13, 10), False),
}


def test_parse_expands_recurrences_zones_and_all_day(ics_bytes: bytes) -> None:
    events = parse_ics(ics_bytes, MARCH, source="work-ics")

    got = {e.id: (e.title, e.start, e.end, e.all_day) for e in events}
    assert got == EXPECTED
    assert {e.source for e in events} == {"work-ics"}
    assert [e.start for e in events] == sorted(e.start for e in events)
    assert all(e.start.utcoffset() == timedelta(0) for e in events)
    conference = next(e for e in events if e.id == "kubecon@test")
    assert conference.location == "ExCeL London, Royal Victoria Dock, London, UK"
    assert conference.description == "Talks and booth duty"


def test_floating_times_use_default_tz(ics_bytes: bytes) -> None:
    events = parse_ics(ics_bytes, MARCH, default_tz="America/Los_Angeles")
    dentist = next(e for e in events if e.id == "dentist@test")
    assert (dentist.start, dentist.end) == (utc(2025, 3, 13, 16), utc(2025, 3, 13, 17))  # PDT


def test_floating_times_use_x_wr_timezone_when_no_default() -> None:
    data = build_ics().replace(b"VERSION:2.0", b"VERSION:2.0\r\nX-WR-TIMEZONE:Europe/Berlin")
    dentist = next(e for e in parse_ics(data, MARCH) if e.id == "dentist@test")
    assert dentist.start == utc(2025, 3, 13, 8)


def test_window_keeps_only_overlapping_events(ics_bytes: bytes) -> None:
    window = CalendarWindow(start=utc(2025, 3, 11), end=utc(2025, 3, 13))
    ids = [e.id for e in parse_ics(ics_bytes, window)]
    assert ids == ["paris-trip@test", "team-sync@test"]


def test_event_ending_at_window_start_is_outside(ics_bytes: bytes) -> None:
    window = CalendarWindow(start=utc(2025, 3, 15), end=utc(2025, 3, 16))
    assert parse_ics(ics_bytes, window) == []


def test_series_without_overrides_uses_dtstart_ids() -> None:
    data = build_ics(weekly_exdates=())
    ids = {e.id for e in parse_ics(data, MARCH) if e.id.startswith("weekly-1@test@")}
    assert "weekly-1@test@2025-03-17T14:00:00Z" in ids
    assert len(ids) == 5


def test_all_day_recurring_ids_use_dates() -> None:
    extra = vevent(
        "UID:bins@test", "SUMMARY:Bins", "DTSTART;VALUE=DATE:20250304", "RRULE:FREQ=WEEKLY;COUNT=2"
    )
    events = [e for e in parse_ics(build_ics(extra=(extra,)), MARCH) if e.id.startswith("bins")]
    assert [(e.id, e.start, e.end, e.all_day) for e in events] == [
        ("bins@test@2025-03-04", utc(2025, 3, 4), utc(2025, 3, 5), True),
        ("bins@test@2025-03-11", utc(2025, 3, 11), utc(2025, 3, 12), True),
    ]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"this is not a calendar", "not a valid iCalendar"),
        (b"<html><body>Sign in</body></html>", "not a valid iCalendar"),
        (b"BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20250301T100000Z\r\nEND:VEVENT\r\n", "VCALENDAR"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20250301T100000Z\r\n"
            b"RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "invalid calendar content",
        ),
    ],
)
def test_invalid_ics_raises_typed_error(data: bytes, needle: str) -> None:
    with pytest.raises(CalendarSourceError) as info:
        parse_ics(data, MARCH, source="bad")
    assert info.value.kind == "invalid"
    assert info.value.source == "bad"
    assert needle in str(info.value)
    assert info.value.retryable is False


# --- fetch ----------------------------------------------------------------------------


async def test_fetch_file_path_and_file_url(tmp_path: Path, ics_bytes: bytes) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(ics_bytes)
    assert await fetch_ics(str(path)) == ics_bytes
    assert await fetch_ics(path.as_uri()) == ics_bytes


async def test_fetch_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(CalendarSourceError) as info:
        await fetch_ics(str(tmp_path / "nope.ics"))
    assert info.value.kind == "not_found"


async def test_fetch_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.ics"
    path.write_bytes(b"x" * 100)
    with pytest.raises(CalendarSourceError) as info:
        await fetch_ics(str(path), max_bytes=10)
    assert info.value.kind == "invalid"


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_fetch_url_returns_body_and_maps_webcal(ics_bytes: bytes) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=ics_bytes)

    async with _client(handler) as client:
        assert (
            await fetch_ics("webcal://cal.example.com/secret-token/basic.ics", client=client)
            == ics_bytes
        )
    assert seen == ["https://cal.example.com/secret-token/basic.ics"]


@pytest.mark.parametrize(
    ("status", "kind"), [(401, "auth"), (403, "auth"), (404, "not_found"), (503, "unavailable")]
)
async def test_fetch_url_http_errors_are_typed_and_redacted(status: int, kind: str) -> None:
    async with _client(lambda request: httpx.Response(status)) as client:
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("https://cal.example.com/private-s3cr3t/basic.ics", client=client)
    assert info.value.kind == kind
    assert f"HTTP {status}" in str(info.value)
    assert "s3cr3t" not in str(info.value)


async def test_fetch_url_timeout_and_connect_error() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _client(timeout) as client:
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("https://cal.example.com/a.ics", timeout_s=1, client=client)
    assert info.value.kind == "timeout"
    assert info.value.retryable is True
    async with _client(refused) as client:
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("https://cal.example.com/a.ics", client=client)
    assert info.value.kind == "unavailable"


async def test_fetch_url_too_large() -> None:
    async with _client(lambda request: httpx.Response(200, content=b"x" * 1000)) as client:
        with pytest.raises(CalendarSourceError) as info:
            await fetch_ics("https://cal.example.com/a.ics", max_bytes=100, client=client)
    assert info.value.kind == "invalid"
