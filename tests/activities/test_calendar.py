"""The fetch activity (``ActivityEnvironment``) and the ICS location rule (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar import CalendarActivities
from mcos.calendar.errors import CalendarSourceError
from mcos.calendar.location import check_ics_location
from mcos.calendar.window import sync_window
from mcos.kernel.contracts import CalendarFetchInput, CalendarSource
from mcos.kernel.settings import Settings
from tests.support.calendar_sync import FAKE_GCAL_COMMAND, build_sync_ics


def _settings(tmp_path: Path, **extra: object) -> Settings:
    (tmp_path / "cal").mkdir(exist_ok=True)
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        calendar_ics_dir=tmp_path / "cal",
        google_calendar_mcp_command=FAKE_GCAL_COMMAND,
        **extra,
    )


def _input(source: CalendarSource, timeout_s: float = 15.0) -> CalendarFetchInput:
    window = sync_window(datetime.now(UTC))
    return CalendarFetchInput(
        user_id="u",
        source=source,
        window_start=window.start,
        window_end=window.end,
        timeout_s=timeout_s,
    )


async def test_ics_file_fetch_returns_events(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (settings.ics_dir / "a.ics").write_bytes(build_sync_ics())
    acts = CalendarActivities(settings)
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="ics", location="a.ics"))
    )
    assert out.status == "ok" and out.error is None
    assert "paris-trip@test" in {e["id"] for e in out.events}
    assert {e["source"] for e in out.events} == {"ics"}


@pytest.mark.parametrize(
    ("mode", "status"),
    [("missing_credentials", "auth_error"), ("auth_error", "auth_error"), ("bad_json", "invalid")],
)
async def test_google_permanent_failures_are_a_status(
    tmp_path: Path, mode: str, status: str
) -> None:
    acts = CalendarActivities(_settings(tmp_path, google_calendar_mcp_env={"FAKE_GCAL_MODE": mode}))
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google"))
    )
    assert out.status == status and out.events == []
    assert out.error


@pytest.mark.parametrize(
    ("mode", "error_type"), [("hang", "timeout"), ("crash_on_start", "unavailable")]
)
async def test_google_transient_failures_are_retried(
    tmp_path: Path, mode: str, error_type: str
) -> None:
    acts = CalendarActivities(_settings(tmp_path, google_calendar_mcp_env={"FAKE_GCAL_MODE": mode}))
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            acts.fetch_calendar, _input(CalendarSource(kind="google"), timeout_s=2.0)
        )
    assert info.value.type == error_type and not info.value.non_retryable


async def test_google_events_are_fetched_with_the_calendar_id(tmp_path: Path) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [
                {
                    "id": "g1",
                    "summary": "Flight to Tokyo",
                    "status": "confirmed",
                    "start": {"dateTime": start.isoformat()},
                    "end": {"dateTime": (start + timedelta(hours=11)).isoformat()},
                }
            ]
        )
    )
    args = tmp_path / "args.jsonl"
    acts = CalendarActivities(
        _settings(
            tmp_path,
            google_calendar_mcp_env={"FAKE_GCAL_EVENTS": str(events), "FAKE_GCAL_ARGS": str(args)},
        )
    )
    out = await ActivityEnvironment().run(
        acts.fetch_calendar, _input(CalendarSource(kind="google", calendar_id="work@x.com"))
    )
    assert out.status == "ok" and [e["id"] for e in out.events] == ["g1"]
    assert out.events[0]["source"] == "google"
    assert json.loads(args.read_text().splitlines()[0])["calendarId"] == "work@x.com"


# --- the ICS location rule ---------------------------------------------------------------


def test_urls_must_be_http(tmp_path: Path) -> None:
    assert check_ics_location("https://example.com/c.ics", tmp_path) == "https://example.com/c.ics"
    assert check_ics_location("webcal://example.com/c.ics", tmp_path).startswith("webcal://")
    for bad in (
        "ftp://example.com/c.ics",
        "data:text/calendar,x",
        "https:///nohost",
        "",
        "gopher://x",
    ):
        with pytest.raises(CalendarSourceError):
            check_ics_location(bad, tmp_path)


def test_internal_urls_are_refused_in_production_only(tmp_path: Path) -> None:
    for url in (
        "http://127.0.0.1:8000/x.ics",
        "http://localhost/x.ics",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ):
        assert check_ics_location(url, tmp_path) == url
        with pytest.raises(CalendarSourceError):
            check_ics_location(url, tmp_path, production=True)
    assert check_ics_location("https://calendar.google.com/x.ics", tmp_path, production=True)


def test_files_only_inside_the_calendar_directory(tmp_path: Path) -> None:
    root = tmp_path / "cal"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.ics").write_text("x")
    assert check_ics_location("sub/a.ics", root) == str((root / "sub" / "a.ics").resolve())
    assert check_ics_location(f"file://{root}/sub/a.ics", root).endswith("sub/a.ics")
    (root / "link.ics").symlink_to(tmp_path / "outside.ics")
    for bad in (
        "/etc/passwd",
        "../outside.ics",
        "sub/../../outside.ics",
        "link.ics",
        "file:///etc/passwd",
        "file://remote-host/share/a.ics",
        ".",
        "a\x00.ics",
    ):
        with pytest.raises(CalendarSourceError):
            check_ics_location(bad, root)
