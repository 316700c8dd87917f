"""The Google Calendar MCP source against a stand-in server (``fake_gcal_server.py``) with
the real server's tool name, arguments and result shape; and, when
``MCOS_TEST_GCAL_MCP_JS`` points at an installed ``@cocal/google-calendar-mcp``
``build/index.js``, against the real server without credentials."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.google_mcp import GoogleCalendarMcp, map_google_event, parse_list_events
from mcos.kernel.models import CalendarWindow

from .conftest import MARCH

FAKE_SERVER = str(Path(__file__).parents[1] / "support" / "fake_gcal_server.py")

GOOGLE_EVENTS = [
    {
        "id": "abc123_20250306T170000Z",
        "summary": "Design review",
        "description": "Bring the mocks",
        "location": "Room 4",
        "status": "confirmed",
        "start": {"dateTime": "2025-03-06T09:00:00-08:00", "timeZone": "America/Los_Angeles"},
        "end": {"dateTime": "2025-03-06T10:00:00-08:00", "timeZone": "America/Los_Angeles"},
        "htmlLink": "https://www.google.com/calendar/event?eid=x",
        "accountId": "normal",
    },
    {
        "id": "trip42",
        "summary": "Trip to Paris",
        "status": "confirmed",
        "start": {"date": "2025-03-10"},
        "end": {"date": "2025-03-15"},
    },
    {
        "id": "cancelled1",
        "summary": "Gone",
        "status": "cancelled",
        "start": {"dateTime": "2025-03-07T09:00:00Z"},
        "end": {"dateTime": "2025-03-07T10:00:00Z"},
    },
    {
        "id": "april1",
        "summary": "Outside the window",
        "start": {"dateTime": "2025-04-02T09:00:00Z"},
        "end": {"dateTime": "2025-04-02T10:00:00Z"},
    },
]


def server(
    tmp_path: Path,
    mode: str = "ok",
    timeout_s: float = 15.0,
    google_events: list[dict[str, Any]] = GOOGLE_EVENTS,
) -> GoogleCalendarMcp:
    events = tmp_path / "events.json"
    events.write_text(json.dumps(google_events))
    env = {
        "FAKE_GCAL_MODE": mode,
        "FAKE_GCAL_EVENTS": str(events),
        "FAKE_GCAL_ARGS": str(tmp_path / "args.json"),
    }
    return GoogleCalendarMcp(
        command=(sys.executable, FAKE_SERVER),
        env=env,
        calendar_id="work@example.com",
        timeout_s=timeout_s,
        source="google",
    )


async def test_fetch_maps_events_and_sends_window(tmp_path: Path) -> None:
    events = await server(tmp_path).fetch(MARCH)

    assert [(e.id, e.title, e.start, e.end, e.all_day) for e in events] == [
        (
            "abc123_20250306T170000Z",
            "Design review",
            datetime(2025, 3, 6, 17, tzinfo=UTC),
            datetime(2025, 3, 6, 18, tzinfo=UTC),
            False,
        ),
        (
            "trip42",
            "Trip to Paris",
            datetime(2025, 3, 10, tzinfo=UTC),
            datetime(2025, 3, 15, tzinfo=UTC),
            True,
        ),
    ]
    review = events[0]
    assert (review.source, review.location, review.description) == (
        "google",
        "Room 4",
        "Bring the mocks",
    )
    sent = [json.loads(line) for line in (tmp_path / "args.json").read_text().splitlines()]
    assert sent == [
        {
            "calendarId": "work@example.com",
            "timeMin": "2025-03-01T00:00:00Z",
            "timeMax": "2025-04-01T00:00:00Z",
            "fields": ["description"],
        }
    ]


async def test_full_page_is_split_until_complete(tmp_path: Path) -> None:
    base = datetime(2025, 3, 1, tzinfo=UTC)
    many = [
        {
            "id": f"busy{i:03d}",
            "summary": f"Slot {i}",
            "start": {"dateTime": (base + timedelta(hours=2 * i)).isoformat()},
            "end": {"dateTime": (base + timedelta(hours=2 * i, minutes=30)).isoformat()},
        }
        for i in range(320)  # 320 slots over 27 days: more than one 250-event page
    ]
    events = await server(tmp_path, google_events=many).fetch(MARCH)

    assert [e.id for e in events] == [f"busy{i:03d}" for i in range(320)]
    calls = (tmp_path / "args.json").read_text().splitlines()
    assert len(calls) == 3  # the whole window, then its two halves


async def test_auth_error_result_is_auth(tmp_path: Path) -> None:
    with pytest.raises(CalendarSourceError) as info:
        await server(tmp_path, "auth_error").fetch(MARCH)
    assert info.value.kind == "auth"
    assert "Authentication tokens are no longer valid" in str(info.value)
    assert info.value.retryable is False


async def test_missing_credentials_at_start_is_auth(tmp_path: Path) -> None:
    with pytest.raises(CalendarSourceError) as info:
        await server(tmp_path, "missing_credentials").fetch(MARCH)
    assert info.value.kind == "auth"
    assert "OAuth credentials not found" in str(info.value)


@pytest.mark.parametrize(
    ("mode", "said"),
    [("crash_on_start", "Segmentation fault"), ("crash_on_call", "calendar backend exploded")],
)
async def test_crashing_server_is_unavailable(tmp_path: Path, mode: str, said: str) -> None:
    with pytest.raises(CalendarSourceError) as info:
        await server(tmp_path, mode).fetch(MARCH)
    assert info.value.kind == "unavailable"
    assert said in str(info.value)
    assert info.value.retryable is True


async def test_hanging_server_times_out(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CalendarSourceError) as info:
        await server(tmp_path, "hang", timeout_s=1.5).fetch(MARCH)
    assert info.value.kind == "timeout"
    assert time.monotonic() - started < 8  # 1.5 s plus the SDK's process shutdown grace


async def test_non_json_result_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(CalendarSourceError) as info:
        await server(tmp_path, "bad_json").fetch(MARCH)
    assert info.value.kind == "invalid"


async def test_missing_command_is_unavailable() -> None:
    source = GoogleCalendarMcp(command=("definitely-not-a-command-mcos",), timeout_s=5)
    with pytest.raises(CalendarSourceError) as info:
        await source.fetch(MARCH)
    assert info.value.kind == "unavailable"
    assert "not found" in str(info.value)


# --- pure mapping ---------------------------------------------------------------------


def test_parse_list_events_rejects_wrong_shapes() -> None:
    for text in ("not json", "[]", '{"items": []}'):
        with pytest.raises(CalendarSourceError) as info:
            parse_list_events(text, MARCH)
        assert info.value.kind == "invalid"
    assert parse_list_events('{"events": []}', MARCH) == []


def test_partial_results_are_an_error_not_a_shorter_list() -> None:
    text = json.dumps(
        {
            "events": GOOGLE_EVENTS[:1],
            "warnings": ['Account "work" failed: invalid_grant'],
            "note": "Partial results",
        }
    )
    with pytest.raises(CalendarSourceError) as info:
        parse_list_events(text, MARCH)
    assert info.value.kind == "auth"
    assert "partial" in str(info.value)


def test_map_google_event_edge_cases() -> None:
    assert map_google_event({"id": "x", "start": {}}) is None
    assert map_google_event({"summary": "no id", "start": {"date": "2025-03-01"}}) is None
    assert map_google_event({"id": "x", "start": {"dateTime": "garbage"}}) is None
    floating = map_google_event(
        {
            "id": "f",
            "start": {"dateTime": "2025-03-06T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2025-03-06T09:30:00", "timeZone": "Europe/Berlin"},
        }
    )
    assert floating is not None
    assert floating.start == datetime(2025, 3, 6, 8, tzinfo=UTC)
    one_day = map_google_event({"id": "d", "start": {"date": "2025-03-01"}, "end": {}})
    assert one_day is not None
    assert (one_day.start, one_day.end, one_day.all_day, one_day.title) == (
        datetime(2025, 3, 1, tzinfo=UTC),
        datetime(2025, 3, 2, tzinfo=UTC),
        True,
        "",
    )


def test_window_filter_on_mapped_events() -> None:
    window = CalendarWindow(
        start=datetime(2025, 3, 11, tzinfo=UTC), end=datetime(2025, 3, 12, tzinfo=UTC)
    )
    events = parse_list_events(json.dumps({"events": GOOGLE_EVENTS}), window)
    assert [e.id for e in events] == ["trip42"]


# --- the real server, when installed --------------------------------------------------

REAL_JS = os.environ.get("MCOS_TEST_GCAL_MCP_JS")


@pytest.mark.skipif(
    not REAL_JS or shutil.which("node") is None,
    reason="set MCOS_TEST_GCAL_MCP_JS to @cocal/google-calendar-mcp's build/index.js",
)
@pytest.mark.parametrize("with_credentials_file", [False, True])
async def test_real_server_without_credentials_reports_auth(
    tmp_path: Path, with_credentials_file: bool
) -> None:
    env = {"HOME": str(tmp_path)}  # no saved tokens, no credentials in the package dir
    if with_credentials_file:
        keys = tmp_path / "gcp-oauth.keys.json"
        installed = {
            "client_id": "fake.apps.googleusercontent.com",
            "project_id": "fake",
            "client_secret": "fake",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "redirect_uris": ["http://localhost"],
        }
        keys.write_text(json.dumps({"installed": installed}))
        env["GOOGLE_OAUTH_CREDENTIALS"] = str(keys)
    source = GoogleCalendarMcp(command=("node", str(REAL_JS)), env=env, timeout_s=30)
    with pytest.raises(CalendarSourceError) as info:
        await source.fetch(MARCH)
    assert info.value.kind == "auth"
